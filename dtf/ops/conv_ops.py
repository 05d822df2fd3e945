"""Convolutions (`dtf.nn.conv1d/2d/3d`, `convolution`, `conv*_transpose`, `depthwise_conv2d`,
`separable_conv2d`).

Three primitives do all the work, on channels-last arrays of any spatial rank (1, 2 or 3):

- `conv(x, w)`: x (N, *spatial, C), w (*kernel, C // groups, O) -> (N, *out, O); `groups` is
  C // w.shape[-2], as TensorFlow infers it;
- `conv_backprop_input(g, w)`: the gradient with respect to x (also `conv*_transpose`);
- `conv_backprop_filter(x, g)`: the gradient with respect to w.

Their attributes are `strides` and `dilations` (tuples, one per spatial dim) and `padding`:
"SAME", "VALID" or explicit ((lo, hi), ...) pairs, resolved against the input's size when the op
runs, so the same op serves inputs whose spatial size is unknown when a graph is built. Each of
the three is bilinear and its VJP is written with the other two, so every order of derivative
works.

The forward computes with im2col: a strided view of the padded input holds every window
(`as_strided`, no Python loop over pixels), one copy lays them out as rows, and one matmul
against the reshaped filter lands on BLAS. The input gradient multiplies the output gradient by
each kernel tap's filter slice and adds it back onto the input positions that tap read (a
loop over the kernel's taps, not over pixels). Depthwise convolutions (one input channel per
group) multiply-accumulate tap by tap instead: their matmuls would have only `prod(kernel)`
terms. float16 is computed in float32 and rounded back, as TensorFlow's CPU kernels do.

The transposed, depthwise and separable convolutions are in conv_variant_ops (re-exported
here). Dims known only when a traced graph runs (a batch of unknown size) reach the gradient
ops as runtime shape vectors (see dtf.ops.dynamic_shapes).

Example:
    >>> x = dtf.ones((1, 5, 5, 1))
    >>> dtf.nn.conv2d(x, dtf.ones((3, 3, 1, 2)), strides=1, padding="VALID").shape
    TensorShape([1, 3, 3, 2])
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops.array_ops import reshape, transpose
from dtf.ops.array_utils import _dims, _tensor
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.dynamic_shapes import fully_known, host_ints, shape_of
from dtf.ops.registry import Spec, primitive, run
from dtf.tensor import Tensor

__all__ = [
    "conv1d",
    "conv1d_transpose",
    "conv2d",
    "conv2d_transpose",
    "conv3d",
    "conv3d_transpose",
    "conv_transpose",
    "convolution",
    "depthwise_conv2d",
    "separable_conv2d",
]


# -- window geometry (shared with pool_ops) ----------------------------------------------------
def output_size(in_size, k_eff, stride, padding):
    """One spatial dim's output size (None if unknown) and its (lo, hi) padding (None when
    the input size is unknown and the padding is SAME)."""
    if isinstance(padding, str):
        if in_size is None:
            return None, None
        if padding == "SAME":
            out = -(-in_size // stride)
            total = max((out - 1) * stride + k_eff - in_size, 0)
            return out, (total // 2, total - total // 2)
        return (in_size - k_eff + stride) // stride, (0, 0)
    lo, hi = padding
    if in_size is None:
        return None, padding
    return (in_size + lo + hi - k_eff + stride) // stride, padding


def resolve(op, in_sizes, ksizes, strides, dilations, padding):
    """(out sizes, pads) for known input sizes; raises when an output size would be negative
    (TensorFlow's message, with the sizes involved)."""
    outs, pads = [], []
    for i, (n, k, s, d) in enumerate(zip(in_sizes, ksizes, strides, dilations)):
        if k is None:  # a kernel size known only when the graph runs
            outs.append(None)
            pads.append(None)
            continue
        k_eff = (k - 1) * d + 1
        out, pad = output_size(n, k_eff, s, padding if isinstance(padding, str) else padding[i])
        if out is not None and out < 0:
            raise InvalidArgumentError(
                f"{op}: Computed output size would be negative: {out} [input_size: {n}, "
                f"effective_filter_size: {k_eff}, stride: {s}] (spatial dim {i}; padding "
                f"{padding if isinstance(padding, str) else padding[i]}). Use a smaller kernel "
                "or dilation, or padding='SAME'.")
        outs.append(out)
        pads.append(pad)
    return tuple(outs), tuple(pads)


def pad_spatial(xp, x, pads, value=0):
    """x (N, *spatial, C) padded by `pads` ((lo, hi) per spatial dim) with `value`."""
    if not any(lo or hi for lo, hi in pads):
        return x
    shape = (x.shape[0],) + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[1:-1], pads)) + \
        (x.shape[-1],)
    out = xp.full(shape, value, dtype=x.dtype)
    out[(slice(None),) + tuple(slice(lo, lo + n) for n, (lo, _) in
                               zip(x.shape[1:-1], pads))] = x
    return out


def crop_spatial(x, pads):
    """The inverse of `pad_spatial`: the interior of a padded (N, *spatial, C) array."""
    if not any(lo or hi for lo, hi in pads):
        return x
    return x[(slice(None),) + tuple(slice(lo, n - hi) for n, (lo, hi) in
                                    zip(x.shape[1:-1], pads))]


def tap_slices(tap, out_sizes, strides, dilations):
    """The index of the padded input that kernel tap `tap` (one offset per spatial dim) reads
    for every output position: a strided slice per spatial dim."""
    return (slice(None),) + tuple(
        slice(k * d, k * d + s * (o - 1) + 1, s)
        for k, o, s, d in zip(tap, out_sizes, strides, dilations)) + (slice(None),)


def windows(xp, xpad, out_sizes, ksizes, strides, dilations, split=None):
    """A strided view (N, *out, *kernel, C) of every window of the padded input, or
    (N, *out, *kernel, G, C // G) with `split=G`. No copy."""
    n, c = xpad.shape[0], xpad.shape[-1]
    st = xpad.strides
    spatial_st = st[1:-1]
    shape = (n,) + tuple(out_sizes) + tuple(ksizes)
    strides_ = (st[0],) + tuple(a * s for a, s in zip(spatial_st, strides)) + \
        tuple(a * d for a, d in zip(spatial_st, dilations))
    if split is None:
        shape += (c,)
        strides_ += (st[-1],)
    else:
        shape += (split, c // split)
        strides_ += (st[-1] * (c // split), st[-1])
    return xp.lib.stride_tricks.as_strided(xpad, shape=shape, strides=strides_)


def _compute_dtype(a):
    # float16 matmuls have no BLAS path: compute in float32 and round once at the end.
    return np.float32 if a.dtype == np.float16 else a.dtype


# -- the primitives -----------------------------------------------------------------------------
def _conv_rule(x, w, strides, padding, dilations):
    rank = len(strides)
    _check_specs("conv", x.shape, w.shape, x.dtype, w.dtype, rank)
    n = None if x.shape is None else x.shape[0]
    o = None if w.shape is None else w.shape[-1]
    if x.shape is None:
        return Spec(None if w.shape is None else (None,) * (rank + 1) + (o,), x.dtype)
    ks = (None,) * rank if w.shape is None else w.shape[:rank]
    outs = []
    for i in range(rank):
        if ks[i] is None:
            outs.append(None)
            continue
        k_eff = (ks[i] - 1) * dilations[i] + 1
        pad = padding if isinstance(padding, str) else padding[i]
        outs.append(output_size(x.shape[1 + i], k_eff, strides[i], pad)[0])
    if any(d is not None and d < 0 for d in outs):
        resolve("conv", x.shape[1:-1], ks, strides, dilations, padding)
    return Spec((n,) + tuple(outs) + (o,), x.dtype)


def _check_specs(op, x_shape, w_shape, x_dtype, w_dtype, rank):
    if x_dtype != w_dtype:
        raise InvalidArgumentError(
            f"{op}: input and filters must have the same dtype, got {x_dtype.name} and "
            f"{w_dtype.name} (shapes {x_shape} and {w_shape}). Use dtf.cast.")
    if x_shape is not None and len(x_shape) != rank + 2:
        raise InvalidArgumentError(
            f"{op}: input must be a rank-{rank + 2} tensor (batch, {rank} spatial dims, "
            f"channels), got shape {list(x_shape)}.")
    if w_shape is not None and len(w_shape) != rank + 2:
        raise InvalidArgumentError(
            f"{op}: filters must be a rank-{rank + 2} tensor ({rank} kernel dims, in channels, "
            f"out channels), got shape {list(w_shape)}.")
    if x_shape is None or w_shape is None:
        return
    c, cg, o = x_shape[-1], w_shape[-2], w_shape[-1]
    if c is None or cg is None:
        return
    if cg == 0 or c % cg:
        raise InvalidArgumentError(
            f"{op}: input depth must be evenly divisible by filter depth: {c} vs {cg} (input "
            f"shape {list(x_shape)}, filters shape {list(w_shape)}). The filters' second-to-last "
            "dim must be the input's channel count (or a divisor of it, for grouped "
            "convolutions).")
    if o is not None and o % (c // cg):
        raise InvalidArgumentError(
            f"{op}: the number of output channels ({o}) must be divisible by the number of "
            f"groups ({c // cg} = input depth {c} / filter depth {cg}).")


def _conv_forward(xp, x, w, strides, padding, dilations):
    """The convolution as a fresh array of the compute dtype (callers may modify it)."""
    rank = x.ndim - 2
    ks = w.shape[:rank]
    cg, o = w.shape[-2], w.shape[-1]
    groups = x.shape[-1] // cg
    outs, pads = resolve("conv", x.shape[1:-1], ks, strides, dilations, padding)
    work = _compute_dtype(x)
    xpad = pad_spatial(xp, x.astype(work, copy=False), pads)
    w = w.astype(work, copy=False)
    n = x.shape[0]
    if groups > 1 and cg == 1:  # depthwise: tap-by-tap multiply-accumulate
        og = o // groups
        wk = w.reshape((-1, groups, og))
        y = xp.zeros((n,) + outs + (groups, og), dtype=work)
        for t, tap in enumerate(itertools.product(*map(range, ks))):
            win = xpad[tap_slices(tap, outs, strides, dilations)]
            y += win[..., None] * wk[t]
        return y.reshape((n,) + outs + (o,))
    cols = _im2col(xp, xpad, outs, ks, strides, dilations, groups)
    if groups == 1:
        y = cols @ w.reshape(-1, o)
    else:  # (G, M, K*Cg) @ (G, K*Cg, Og) -> (M, G, Og)
        wg = w.reshape(-1, cg, groups, o // groups).transpose(2, 0, 1, 3)
        y = xp.matmul(cols, wg.reshape(groups, -1, o // groups)).transpose(1, 0, 2)
    return y.reshape((n,) + outs + (o,))


@primitive("conv", shape=_conv_rule)
def _conv(xp, x, w, strides, padding, dilations):
    return _conv_forward(xp, x, w, strides, padding, dilations).astype(x.dtype, copy=False)


def _im2col(xp, xpad, outs, ks, strides, dilations, groups):
    """Every window as a row: (M, prod(kernel) * C), or (G, M, prod(kernel) * C // G) for
    grouped convolutions; M = N * prod(out)."""
    m = xpad.shape[0] * math.prod(outs)
    if all(k == 1 for k in ks) and all(s == 1 for s in strides) and groups == 1:
        return xpad.reshape(m, xpad.shape[-1])  # 1x1: the input is its own column matrix
    if groups == 1 and xpad.shape[-1] == 1:
        # One channel (a grayscale first layer): the row-major copy would move one float at a
        # time; tap by tap, into a tap-major matrix, it moves whole rows. BLAS takes the
        # transposed view as it is.
        taps = list(itertools.product(*map(range, ks)))
        cols = xp.empty((len(taps), xpad.shape[0]) + tuple(outs), dtype=xpad.dtype)
        for t, tap in enumerate(taps):
            cols[t] = xpad[tap_slices(tap, outs, strides, dilations)][..., 0]
        return cols.reshape(len(taps), m).T
    if groups == 1:
        view = windows(xp, xpad, outs, ks, strides, dilations)
        return xp.ascontiguousarray(view).reshape(m, -1)
    view = windows(xp, xpad, outs, ks, strides, dilations, split=groups)
    rank = len(ks)
    g_axis = 1 + 2 * rank
    perm = (g_axis,) + tuple(range(g_axis)) + (g_axis + 1,)
    return xp.ascontiguousarray(view.transpose(perm)).reshape(groups, m, -1)


@_conv.def_vjp(takes_needed=True)
def _(g, out, x, w, strides, padding, dilations, needed=(True, True)):
    attrs = {"strides": strides, "padding": padding, "dilations": dilations}
    gx = backprop_input(g, w, x, attrs) if needed[0] else None
    gw = backprop_filter(x, g, w, attrs) if needed[1] else None
    return gx, gw


def static_shape(t):
    dims = t._value.shape if type(t) is Tensor else _dims(t)
    if dims is None:
        raise InvalidArgumentError("conv gradient: the input's rank must be known.")
    return tuple(dims)


def shape_operands(t):
    """(the shape attribute, extra inputs) for an op that needs `t`'s shape: the static shape
    alone when it is fully known, else with Nones and `t`'s runtime shape vector."""
    dims = static_shape(t)
    return (dims, ()) if fully_known(dims) else (dims, (shape_of(t),))


def backprop_input(g, w, x, attrs):
    """The gradient of conv(x, w) with respect to x, for the output gradient g."""
    dims, extra = shape_operands(x)
    return run(_conv_backprop_input, (g, w) + extra, input_shape=dims[1:], **attrs)


def backprop_filter(x, g, w, attrs):
    """The gradient of conv(x, w) with respect to w, for the output gradient g."""
    dims, extra = shape_operands(w)
    return run(_conv_backprop_filter, (x, g) + extra, filter_shape=dims, **attrs)


def _backprop_input_rule(g, w, *runtime, input_shape, strides, padding, dilations):
    n = None if g.shape is None else g.shape[0]
    return Spec((n,) + tuple(input_shape), g.dtype)


@primitive("conv_backprop_input", shape=_backprop_input_rule)
def _conv_backprop_input(xp, g, w, *runtime, input_shape, strides, padding, dilations):
    # Dims of `input_shape` known only at run time come from the input's full shape vector.
    if runtime:
        input_shape = host_ints(runtime[0])[1:]
    rank = g.ndim - 2
    ks = w.shape[:rank]
    c = input_shape[-1]
    cg, o = w.shape[-2], w.shape[-1]
    if None in input_shape:
        raise InvalidArgumentError(f"conv_backprop_input: the input shape {input_shape} must "
                                   "be fully known when the op runs.")
    if c % cg or o != g.shape[-1]:
        raise InvalidArgumentError(
            f"conv_backprop_input: filters of shape {list(w.shape)} do not map an input of "
            f"{c} channels to the gradient's {g.shape[-1]} channels.")
    groups = c // cg
    outs, pads = resolve("conv_backprop_input", input_shape[:-1], ks, strides, dilations,
                         padding)
    if tuple(g.shape[1:-1]) != outs:
        raise InvalidArgumentError(
            f"conv_backprop_input: the gradient's spatial shape {list(g.shape[1:-1])} does not "
            f"match the {list(outs)} a convolution of an input of shape {list(input_shape)} "
            f"gives (filters {list(w.shape)}, strides {list(strides)}, padding {padding}, "
            f"dilations {list(dilations)}). For conv*_transpose, check output_shape.")
    dtype = g.dtype
    work = _compute_dtype(g)
    g = g.astype(work, copy=False)
    w = w.astype(work, copy=False)
    n = g.shape[0]
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(input_shape[:-1], pads))
    dx = xp.zeros((n,) + padded + (c,), dtype=work)
    taps = list(itertools.product(*map(range, ks)))
    if groups > 1 and cg == 1:  # depthwise
        og = o // groups
        g5 = g.reshape((n,) + outs + (groups, og))
        wk = w.reshape((-1, groups, og))
        for t, tap in enumerate(taps):
            contrib = g5 * wk[t]
            dx[tap_slices(tap, outs, strides, dilations)] += \
                contrib[..., 0] if og == 1 else contrib.sum(axis=-1)
        return crop_spatial(dx, pads).astype(dtype, copy=False)
    m = n * math.prod(outs)
    if groups == 1:
        g2 = g.reshape(m, o)
        wt = w.reshape(len(taps), c, o)
        for t, tap in enumerate(taps):
            dx[tap_slices(tap, outs, strides, dilations)] += \
                (g2 @ wt[t].T).reshape((n,) + outs + (c,))
    else:
        og = o // groups
        g3 = g.reshape(m, groups, og).transpose(1, 0, 2)  # (G, M, Og)
        wt = w.reshape(len(taps), cg, groups, og).transpose(0, 2, 3, 1)  # (T, G, Og, Cg)
        for t, tap in enumerate(taps):
            contrib = xp.matmul(g3, wt[t]).transpose(1, 0, 2)  # (M, G, Cg)
            dx[tap_slices(tap, outs, strides, dilations)] += contrib.reshape((n,) + outs + (c,))
    return crop_spatial(dx, pads).astype(dtype, copy=False)


@_conv_backprop_input.def_vjp(takes_needed=True)
def _(u, out, g, w, *runtime, input_shape, strides, padding, dilations, needed=None):
    attrs = {"strides": strides, "padding": padding, "dilations": dilations}
    needed = needed or (True, True)
    gg = run(_conv, (u, w), **attrs) if needed[0] else None
    gw = backprop_filter(u, g, w, attrs) if needed[1] else None
    return (gg, gw) + (None,) * len(runtime)


def _backprop_filter_rule(x, g, *runtime, filter_shape, strides, padding, dilations):
    return Spec(tuple(filter_shape), x.dtype)


@primitive("conv_backprop_filter", shape=_backprop_filter_rule)
def _conv_backprop_filter(xp, x, g, *runtime, filter_shape, strides, padding, dilations):
    if runtime:  # the filters' shape known only at run time: their shape vector
        filter_shape = host_ints(runtime[0])
    rank = x.ndim - 2
    ks = tuple(filter_shape[:rank])
    cg, o = filter_shape[-2], filter_shape[-1]
    groups = x.shape[-1] // cg
    outs, pads = resolve("conv_backprop_filter", x.shape[1:-1], ks, strides, dilations,
                         padding)
    work = _compute_dtype(x)
    xpad = pad_spatial(xp, x.astype(work, copy=False), pads)
    g = g.astype(work, copy=False)
    n = x.shape[0]
    m = n * math.prod(outs)
    if groups > 1 and cg == 1:  # depthwise
        og = o // groups
        g5 = g.reshape((n,) + outs + (groups, og))
        taps = list(itertools.product(*map(range, ks)))
        dw = xp.empty((len(taps), groups, og), dtype=work)
        batch_axes = tuple(range(rank + 1))
        for t, tap in enumerate(taps):
            win = xpad[tap_slices(tap, outs, strides, dilations)]
            dw[t] = (win[..., None] * g5).sum(axis=batch_axes)
        return dw.reshape(filter_shape).astype(x.dtype, copy=False)
    cols = _im2col(xp, xpad, outs, ks, strides, dilations, groups)
    if groups == 1:
        dw = cols.T @ g.reshape(m, o)
        return dw.reshape(filter_shape).astype(x.dtype, copy=False)
    og = o // groups
    g3 = g.reshape(m, groups, og).transpose(1, 0, 2)  # (G, M, Og)
    dw = xp.matmul(cols.transpose(0, 2, 1), g3)  # (G, K*Cg, Og)
    dw = dw.reshape((groups, -1, cg, og)).transpose(1, 2, 0, 3)
    return dw.reshape(filter_shape).astype(x.dtype, copy=False)


@_conv_backprop_filter.def_vjp(takes_needed=True)
def _(v, out, x, g, *runtime, filter_shape, strides, padding, dilations, needed=None):
    attrs = {"strides": strides, "padding": padding, "dilations": dilations}
    needed = needed or (True, True)
    gx = backprop_input(g, v, x, attrs) if needed[0] else None
    gg = run(_conv, (x, v), **attrs) if needed[1] else None
    return (gx, gg) + (None,) * len(runtime)


# -- conv + bias + activation, fused ------------------------------------------------------------
# Promoted to one primitive for speed, as `fused_dense`: a Conv layer's bias add and relu would
# each cost a pass over the output forward and another backward, and two more tape records.
FUSED_ACTIVATIONS = ("linear", "relu")


def _fused_conv_rule(x, w, b, strides, padding, dilations, activation):
    if activation not in FUSED_ACTIVATIONS:
        raise ValueError(f"fused_conv: activation must be one of {FUSED_ACTIVATIONS}, got "
                         f"{activation!r}")
    out = _conv_rule(x, w, strides, padding, dilations)
    if b.dtype != x.dtype:
        raise InvalidArgumentError(f"fused_conv: bias dtype {b.dtype.name} differs from the "
                                   f"input's {x.dtype.name}.")
    o = None if out.shape is None else out.shape[-1]
    if b.shape is not None and (len(b.shape) != 1 or None not in (o, b.shape[0]) and
                                b.shape[0] != o):
        raise InvalidArgumentError(f"fused_conv: bias must have shape ({o},), got {b.shape}.")
    return out


@primitive("fused_conv", shape=_fused_conv_rule)
def _fused_conv(xp, x, w, b, strides, padding, dilations, activation):
    y = _conv_forward(xp, x, w, strides, padding, dilations)
    y += b.astype(y.dtype, copy=False)
    if activation == "relu":
        xp.maximum(y, y.dtype.type(0), out=y)
    return y.astype(x.dtype, copy=False)


@_fused_conv.def_vjp(takes_needed=True)
def _(g, out, x, w, b, strides, padding, dilations, activation, needed=(True, True, True)):
    from dtf.ops import nn_ops

    if activation == "relu":
        g = run(nn_ops._relu_grad, (g, out))
    gx, gw = _conv.vjp_fn(g, None, x, w, strides, padding, dilations, needed=needed[:2])
    gb = run(_bias_grad, (g,)) if needed[2] else None
    return gx, gw, gb


def _bias_grad_rule(g):
    return Spec(None if g.shape is None else g.shape[-1:], g.dtype)


@primitive("conv_bias_grad", shape=_bias_grad_rule)
def _bias_grad(xp, g):
    # The sum over every axis but the channels, as a matrix-vector product: BLAS does it about
    # seven times faster than NumPy's axis-0 sum of a (positions, channels) matrix.
    g2 = g.reshape(-1, g.shape[-1])
    work = _compute_dtype(g)
    if g.dtype.kind != "f":
        return g2.sum(axis=0)
    return (xp.ones(g2.shape[0], dtype=work) @ g2.astype(work, copy=False)).astype(g.dtype)


@_bias_grad.def_vjp
def _(u, out, g):
    from dtf.ops.array_ops import broadcast_like, broadcast_to

    shape = static_shape(g)
    row = reshape(u, (1,) * (len(shape) - 1) + (-1,))
    return (broadcast_to(row, shape) if fully_known(shape) else broadcast_like(row, g),)


# -- the layers' entry points ------------------------------------------------------------------
def convolve(x, filters, strides, padding, dilations):
    """The `conv` primitive on channels-last `x` with normalised arguments (tuples of ints;
    "SAME", "VALID" or explicit pairs) and no argument parsing: the layers' fast path.

    Example:
        >>> convolve(dtf.ones((1, 4, 4, 1)), dtf.ones((2, 2, 1, 1)), (1, 1), "VALID",
        ...          (1, 1)).shape
        TensorShape([1, 3, 3, 1])
    """
    return run(_conv, (x, filters), strides=strides, padding=padding, dilations=dilations)


def fused_convolve(x, filters, bias, strides, padding, dilations, activation="linear"):
    """`activation(convolve(x, filters, ...) + bias)` as one op (`activation`: "linear" or
    "relu"); arguments as `convolve`.

    Example:
        >>> y = fused_convolve(dtf.ones((1, 4, 4, 1)), dtf.ones((2, 2, 1, 1)),
        ...                    dtf.constant([-3.0]), (1, 1), "VALID", (1, 1), "relu")
        >>> y.numpy()[0, :, :, 0].tolist()
        [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    return run(_fused_conv, (x, filters, bias), strides=strides, padding=padding,
               dilations=dilations, activation=activation)


def convolve_transpose(x, filters, output_shape, strides, padding, dilations):
    """The transpose of `convolve` (filters (*kernel, out_channels, in_channels)) producing
    `output_shape` (spatial dims and channels, without the batch); no argument parsing.

    Example:
        >>> convolve_transpose(dtf.ones((1, 3, 3, 2)), dtf.ones((2, 2, 1, 2)), (6, 6, 1),
        ...                    (2, 2), "VALID", (1, 1)).shape
        TensorShape([1, 6, 6, 1])
    """
    return run(_conv_backprop_input, (x, filters), input_shape=tuple(output_shape),
               strides=strides, padding=padding, dilations=dilations)


# -- argument handling --------------------------------------------------------------------------
_FORMATS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}


def channels_first(data_format, rank, op):
    """Whether `data_format` (None, "N...C" or "NC...") puts channels first."""
    if data_format is None:
        return False
    fmt = str(data_format).upper()
    if fmt in ("CHANNELS_LAST", "CHANNELS_FIRST"):
        return fmt == "CHANNELS_FIRST"
    if rank in _FORMATS and fmt in _FORMATS[rank]:
        return fmt == _FORMATS[rank][1]
    allowed = " or ".join(_FORMATS.get(rank, ("N...C", "NC...")))
    raise ValueError(f"{op}: data_format must be {allowed} for {rank} spatial dim(s), got "
                     f"{data_format!r}.")


def spatial_arg(value, rank, op, what, first, default=1):
    """strides/dilations/ksize: an int, or a list of 1, `rank` or `rank + 2` ints (the last
    form in data_format order, with 1 for the batch and channel dims) -> a tuple of `rank`."""
    if value is None:
        return (default,) * rank
    if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False):
        value = np.asarray(value.numpy()).tolist()
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        vals = (int(value),) * rank
    else:
        try:
            vals = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise TypeError(f"{op}: {what} must be an int or a list of ints, got "
                            f"{value!r}.") from None
        if len(vals) == 1:
            vals = vals * rank
        elif len(vals) == rank + 2:
            outer = (vals[0], vals[1]) if first else (vals[0], vals[-1])
            if outer != (1, 1):
                raise InvalidArgumentError(
                    f"{op}: {what} in the batch and depth dimensions must be 1, got "
                    f"{list(vals)}. Give the {rank} spatial values only.")
            vals = vals[2:] if first else vals[1:-1]
        elif len(vals) != rank:
            raise ValueError(f"{op}: {what} should be of length 1, {rank} or {rank + 2} but "
                             f"was {len(vals)} ({list(vals)}).")
    if any(v < 1 for v in vals):
        raise ValueError(f"{op}: {what} must be positive integers, got {list(vals)}.")
    return vals


def padding_arg(padding, rank, op, first, explicit=True):
    """"SAME"/"VALID" (any case), or explicit [[lo, hi], ...] for every dim in data_format
    order (zero for batch and channels) or for the spatial dims only."""
    if isinstance(padding, str):
        p = padding.upper()
        if p in ("SAME", "VALID"):
            return p
        raise ValueError(f"{op}: padding must be 'SAME', 'VALID'"
                         f"{' or a list of [lo, hi] pairs' if explicit else ''}, got "
                         f"{padding!r}.")
    if not explicit:
        raise ValueError(f"{op}: padding must be 'SAME' or 'VALID', got {padding!r} (explicit "
                         "padding is not supported by this op; use dtf.pad first).")
    try:
        pairs = [tuple(int(v) for v in pair) for pair in padding]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"{op}: explicit padding must be a list of [lo, hi] pairs, got "
                         f"{padding!r}.") from None
    if len(pairs) == rank + 2:
        outer = pairs[:2] if first else (pairs[0], pairs[-1])
        if any(outer_pair != (0, 0) for outer_pair in outer):
            raise InvalidArgumentError(
                f"{op}: Nonzero explicit padding in the batch or depth dimensions is not "
                f"supported (padding {pairs}).")
        pairs = pairs[2:] if first else pairs[1:-1]
    elif len(pairs) != rank:
        raise ValueError(f"{op}: explicit padding needs {rank + 2} [lo, hi] pairs (one per "
                         f"dim of the input), got {len(pairs)}: {pairs}.")
    if any(v < 0 for pair in pairs for v in pair):
        raise ValueError(f"{op}: explicit padding must be non-negative, got {pairs}.")
    return tuple(pairs)


def to_channels_last(x, rank):
    return transpose(x, (0,) + tuple(range(2, rank + 2)) + (1,))


def to_channels_first(x, rank):
    return transpose(x, (0, rank + 1) + tuple(range(1, rank + 1)))


def _operands(op, input, filters):
    x = _tensor(input)
    if isinstance(filters, Tensor) or getattr(filters, "_is_dtf_variable", False) or \
            getattr(filters, "_is_symbolic", False):
        w = convert_to_tensor(filters)
    else:  # Python / NumPy data takes the input's dtype, as TensorFlow converts it
        w = convert_to_tensor(filters, dtype=x.dtype)
    if x.dtype not in _CONV_DTYPES:
        raise InvalidArgumentError(
            f"{op}: Value for attr 'T' of {x.dtype.name} is not in the list of allowed values: "
            f"half, float, double, int32 (input shape {x.shape}). Use dtf.cast(x, dtf.float32).")
    return x, w


_CONV_DTYPES = (dtypes.float16, dtypes.float32, dtypes.float64, dtypes.int32)


def _check_call(op, x, w, rank):
    xs, ws = _dims(x), _dims(w)
    _check_specs(op, xs, ws, x.dtype, w.dtype, rank)
    return xs, ws


def _conv_nd(op, input, filters, rank, strides, padding, data_format, dilations):
    x, w = _operands(op, input, filters)
    first = channels_first(data_format, rank, op)
    strides = spatial_arg(strides, rank, op, "strides", first)
    dilations = spatial_arg(dilations, rank, op, "dilations", first)
    padding = padding_arg(padding, rank, op, first)
    if first:
        x = to_channels_last(x, rank)
    xs, ws = _check_call(op, x, w, rank)
    if xs is not None and ws is not None:
        resolve(op, xs[1:-1], ws[:rank], strides, dilations, padding)
    y = run(_conv, (x, w), strides=strides, padding=padding, dilations=dilations)
    return to_channels_first(y, rank) if first else y


def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None, name=None):
    """1-D convolution of `input` (batch, width, in_channels) with `filters` (width,
    in_channels, out_channels).

    Args:
        stride: an int or a list of 1 or 3 ints.
        padding: "SAME", "VALID", or explicit [[0, 0], [left, right], [0, 0]].
        data_format: "NWC" (default) or "NCW".
        dilations: an int or list: the filter's taps are this far apart.

    Example:
        >>> y = dtf.nn.conv1d(dtf.ones((2, 8, 3)), dtf.ones((3, 3, 4)), 1, "SAME")
        >>> y.shape
        TensorShape([2, 8, 4])
    """
    return _conv_nd("conv1d", input, filters, 1, stride, padding, data_format, dilations)


def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):
    """2-D convolution (strictly, cross-correlation) of `input` (batch, height, width,
    in_channels) with `filters` (height, width, in_channels // groups, out_channels).

    When the filters' in-channel dim divides the input's channels, the convolution is grouped
    (each group of input channels gets its own block of output channels), as TensorFlow.

    Args:
        strides: an int or a list of 1, 2 or 4 ints.
        padding: "SAME" (output size ceil(in / stride)), "VALID" (no padding), or explicit
            [[0, 0], [top, bottom], [left, right], [0, 0]].
        data_format: "NHWC" (default) or "NCHW".
        dilations: an int or list of 1, 2 or 4 ints (atrous convolution).

    Example:
        >>> x = dtf.reshape(dtf.range(16.0), (1, 4, 4, 1))
        >>> dtf.nn.conv2d(x, dtf.ones((2, 2, 1, 1)), 2, "VALID").numpy()[0, :, :, 0]
        array([[10., 18.],
               [42., 50.]], dtype=float32)
    """
    return _conv_nd("conv2d", input, filters, 2, strides, padding, data_format, dilations)


def conv3d(input, filters, strides, padding, data_format="NDHWC", dilations=None, name=None):
    """3-D convolution of `input` (batch, depth, height, width, in_channels) with `filters`
    (depth, height, width, in_channels, out_channels); arguments as `conv2d` (lists of 1, 3 or
    5 ints; data_format "NDHWC" or "NCDHW").

    Example:
        >>> dtf.nn.conv3d(dtf.ones((1, 4, 4, 4, 2)), dtf.ones((2, 2, 2, 2, 3)),
        ...               strides=[1, 1, 1, 1, 1], padding="VALID").shape
        TensorShape([1, 3, 3, 3, 3])
    """
    return _conv_nd("conv3d", input, filters, 3, strides, padding, data_format, dilations)


def convolution(input, filters, strides=None, padding="VALID", data_format=None, dilations=None,
                name=None):
    """N-D convolution (N = 1, 2 or 3, from the filters' rank); arguments as `conv2d`.

    Example:
        >>> dtf.nn.convolution(dtf.ones((1, 5, 5, 1)), dtf.ones((3, 3, 1, 2))).shape
        TensorShape([1, 3, 3, 2])
    """
    w_dims = _dims(_tensor(filters)) if not isinstance(filters, np.ndarray) else filters.shape
    x_dims = _dims(_tensor(input)) if not isinstance(input, np.ndarray) else input.shape
    rank_src = w_dims if w_dims is not None else x_dims
    if rank_src is None:
        raise ValueError("convolution: the rank of the input or of the filters must be known.")
    rank = len(rank_src) - 2
    if rank not in (1, 2, 3):
        raise ValueError(f"convolution: filters must have rank 3, 4 or 5 (1 to 3 spatial dims), "
                         f"got shape {list(rank_src)}.")
    return _conv_nd("convolution", input, filters, rank, strides, padding, data_format,
                    dilations)


# The transposed, depthwise and separable convolutions live in conv_variant_ops (built on the
# primitives and argument handling above); they are dtf.ops.conv_ops names too.
from dtf.ops.conv_variant_ops import (
    conv1d_transpose,
    conv2d_transpose,
    conv3d_transpose,
    conv_transpose,
    depthwise_conv2d,
    separable_conv2d,
)
