"""Pooling (`dtf.nn.max_pool`, `avg_pool`, their 1d/2d/3d forms, and `pool`).

Five primitives, on channels-last arrays of any spatial rank (1, 2 or 3), with the window
geometry of `conv_ops` (`ksize`, `strides`, `dilations` tuples; `padding` "SAME", "VALID" or
explicit pairs):

- `max_pool(x)`; `max_pool_grad(x, out, g)` sends each output's gradient to the first input
  that attains its window's maximum (TensorFlow's rule for ties); `max_pool_grad_grad(x, out,
  u)` reads `u` at those same positions. The last two are transposes of each other, so their
  VJPs are each other (and zero with respect to x and out, on which they depend only piecewise
  constantly): every order of derivative works.
- `avg_pool(x)` and `avg_pool_grad(g)`, each other's transpose. With SAME padding the average is
  over the window's positions inside the input, as TensorFlow's.

Every loop is over the window's taps (4 for a 2x2 pool), each step a strided view of the whole
input: no Python loop over pixels.

Example:
    >>> x = dtf.reshape(dtf.range(16.0), (1, 4, 4, 1))
    >>> dtf.nn.max_pool2d(x, 2, 2, "VALID").numpy()[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops.array_utils import _dims, _tensor
from dtf.ops.conv_ops import (
    channels_first,
    crop_spatial,
    output_size,
    pad_spatial,
    padding_arg,
    resolve,
    shape_operands,
    spatial_arg,
    tap_slices,
    to_channels_first,
    to_channels_last,
)
from dtf.ops.dynamic_shapes import host_ints
from dtf.ops.registry import Spec, primitive, run

__all__ = [
    "avg_pool",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "max_pool",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "pool",
]


def _pool_rule(x, ksize, strides, padding, dilations):
    rank = len(ksize)
    if x.shape is None:
        return Spec(None, x.dtype)
    if len(x.shape) != rank + 2:
        raise InvalidArgumentError(f"pool: input must have rank {rank + 2}, got shape "
                                   f"{list(x.shape)}.")
    outs = []
    for i in range(rank):
        k_eff = (ksize[i] - 1) * dilations[i] + 1
        pad = padding if isinstance(padding, str) else padding[i]
        outs.append(output_size(x.shape[1 + i], k_eff, strides[i], pad)[0])
    if any(d is not None and d < 0 for d in outs):
        resolve("pool", x.shape[1:-1], ksize, strides, dilations, padding)
    return Spec((x.shape[0],) + tuple(outs) + (x.shape[-1],), x.dtype)


def _lowest(dtype):
    return -np.inf if np.dtype(dtype).kind == "f" else np.iinfo(dtype).min


def _geometry(op, x_shape, ksize, strides, padding, dilations):
    outs, pads = resolve(op, x_shape[1:-1], ksize, strides, dilations, padding)
    taps = list(itertools.product(*map(range, ksize)))
    return outs, pads, taps


# -- max pooling --------------------------------------------------------------------------------
@primitive("max_pool", shape=_pool_rule)
def _max_pool(xp, x, ksize, strides, padding, dilations):
    outs, pads, taps = _geometry("max_pool", x.shape, ksize, strides, padding, dilations)
    xpad = pad_spatial(xp, x, pads, _lowest(x.dtype))
    out = None
    for tap in taps:
        win = xpad[tap_slices(tap, outs, strides, dilations)]
        if out is None:
            out = win.copy()
        else:
            xp.maximum(out, win, out=out)
    return out


@_max_pool.def_vjp
def _(g, out, x, ksize, strides, padding, dilations):
    return (run(_max_pool_grad, (x, out, g), ksize=ksize, strides=strides, padding=padding,
                dilations=dilations),)


def _grad_rule(x, out, g, ksize, strides, padding, dilations):
    return Spec(x.shape, g.dtype)


def _winners(xp, xpad, out, taps, outs, strides, dilations):
    """For each tap, a mask of the output positions whose (first) maximum it holds."""
    taken = xp.zeros(out.shape, dtype=bool)
    for tap in taps:
        win = xpad[tap_slices(tap, outs, strides, dilations)]
        mask = (win == out) & ~taken
        taken |= mask
        yield tap, mask


@primitive("max_pool_grad", shape=_grad_rule)
def _max_pool_grad(xp, x, out, g, ksize, strides, padding, dilations):
    outs, pads, taps = _geometry("max_pool_grad", x.shape, ksize, strides, padding, dilations)
    xpad = pad_spatial(xp, x, pads, _lowest(x.dtype))
    dx = xp.zeros(xpad.shape, dtype=g.dtype)
    zero = g.dtype.type(0)
    for tap, mask in _winners(xp, xpad, out, taps, outs, strides, dilations):
        dx[tap_slices(tap, outs, strides, dilations)] += xp.where(mask, g, zero)
    return crop_spatial(dx, pads)


@_max_pool_grad.def_vjp
def _(u, result, x, out, g, ksize, strides, padding, dilations):
    return None, None, run(_max_pool_grad_grad, (x, out, u), ksize=ksize, strides=strides,
                           padding=padding, dilations=dilations)


def _grad_grad_rule(x, out, u, ksize, strides, padding, dilations):
    return Spec(out.shape, u.dtype)


@primitive("max_pool_grad_grad", shape=_grad_grad_rule)
def _max_pool_grad_grad(xp, x, out, u, ksize, strides, padding, dilations):
    outs, pads, taps = _geometry("max_pool_grad_grad", x.shape, ksize, strides, padding,
                                 dilations)
    xpad = pad_spatial(xp, x, pads, _lowest(x.dtype))
    upad = pad_spatial(xp, u, pads)
    result = xp.zeros(out.shape, dtype=u.dtype)
    for tap, mask in _winners(xp, xpad, out, taps, outs, strides, dilations):
        xp.copyto(result, upad[tap_slices(tap, outs, strides, dilations)], where=mask)
    return result


@_max_pool_grad_grad.def_vjp
def _(v, result, x, out, u, ksize, strides, padding, dilations):
    return None, None, run(_max_pool_grad, (x, out, v), ksize=ksize, strides=strides,
                           padding=padding, dilations=dilations)


# -- average pooling ----------------------------------------------------------------------------
def _window_counts(xp, in_sizes, outs, pads, ksize, strides, dilations, dtype):
    """How many of each window's taps fall inside the input: (1, *out, 1), a product of one
    count vector per spatial dim (SAME padding excludes the padded taps from the average)."""
    counts = np.ones((1,) * (len(outs) + 2))
    for i, (n, o, (lo, _), k, s, d) in enumerate(zip(in_sizes, outs, pads, ksize, strides,
                                                     dilations)):
        pos = np.arange(o)[:, None] * s - lo + np.arange(k)[None, :] * d
        per_dim = ((pos >= 0) & (pos < n)).sum(axis=1)
        shape = [1] * (len(outs) + 2)
        shape[1 + i] = o
        counts = counts * per_dim.reshape(shape)
    return xp.asarray(counts.astype(dtype))


@primitive("avg_pool", shape=_pool_rule)
def _avg_pool(xp, x, ksize, strides, padding, dilations):
    outs, pads, taps = _geometry("avg_pool", x.shape, ksize, strides, padding, dilations)
    work = np.dtype(np.float32) if x.dtype == np.float16 else x.dtype
    xpad = pad_spatial(xp, x.astype(work, copy=False), pads)
    total = xp.zeros((x.shape[0],) + outs + (x.shape[-1],), dtype=work)
    for tap in taps:
        total += xpad[tap_slices(tap, outs, strides, dilations)]
    if any(lo or hi for lo, hi in pads):
        total /= _window_counts(xp, x.shape[1:-1], outs, pads, ksize, strides, dilations, work)
    else:
        total /= work.type(math.prod(ksize))
    return total.astype(x.dtype, copy=False)


@_avg_pool.def_vjp
def _(g, out, x, ksize, strides, padding, dilations):
    dims, extra = shape_operands(x)
    return (run(_avg_pool_grad, (g,) + extra, input_shape=dims[1:], ksize=ksize,
                strides=strides, padding=padding, dilations=dilations),)


def _avg_grad_rule(g, *runtime, input_shape, ksize, strides, padding, dilations):
    n = None if g.shape is None else g.shape[0]
    return Spec((n,) + tuple(input_shape), g.dtype)


@primitive("avg_pool_grad", shape=_avg_grad_rule)
def _avg_pool_grad(xp, g, *runtime, input_shape, ksize, strides, padding, dilations):
    if runtime:  # dims known only at run time: the input's shape vector
        input_shape = host_ints(runtime[0])[1:]
    shape = (g.shape[0],) + tuple(input_shape)
    outs, pads, taps = _geometry("avg_pool_grad", shape, ksize, strides, padding, dilations)
    work = np.dtype(np.float32) if g.dtype == np.float16 else g.dtype
    if any(lo or hi for lo, hi in pads):
        share = g.astype(work) / _window_counts(xp, input_shape[:-1], outs, pads, ksize,
                                                strides, dilations, work)
    else:
        share = g.astype(work) / work.type(math.prod(ksize))
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(input_shape[:-1], pads))
    dx = xp.zeros((g.shape[0],) + padded + (input_shape[-1],), dtype=work)
    for tap in taps:
        dx[tap_slices(tap, outs, strides, dilations)] += share
    return crop_spatial(dx, pads).astype(g.dtype, copy=False)


@_avg_pool_grad.def_vjp
def _(u, out, g, *runtime, input_shape, ksize, strides, padding, dilations):
    return (run(_avg_pool, (u,), ksize=ksize, strides=strides, padding=padding,
                dilations=dilations),) + (None,) * len(runtime)


# -- nearest-neighbour upsampling --------------------------------------------------------------
# Repeating each position `size` times along each spatial axis is the adjoint of summing each
# non-overlapping size-block: each primitive is the other's VJP. Both are primitives (not a
# gather) so that they work on inputs whose spatial dims are unknown when a graph is built.
def _upsample_rule(x, size):
    if x.shape is None:
        return Spec(None, x.dtype)
    spatial = tuple(None if n is None else n * s for n, s in zip(x.shape[1:-1], size))
    return Spec((x.shape[0],) + spatial + (x.shape[-1],), x.dtype)


@primitive("upsample_nearest", shape=_upsample_rule)
def _upsample_nearest(xp, x, size):
    n, c = x.shape[0], x.shape[-1]
    spatial = x.shape[1:-1]
    expanded = x.reshape((n,) + tuple(d for dim in spatial for d in (dim, 1)) + (c,))
    blocks = (n,) + tuple(d for dim, s in zip(spatial, size) for d in (dim, s)) + (c,)
    return xp.broadcast_to(expanded, blocks).reshape(
        (n,) + tuple(dim * s for dim, s in zip(spatial, size)) + (c,))


@_upsample_nearest.def_vjp
def _(g, out, x, size):
    return (run(_block_sum, (g,), size=size),)


def _block_sum_rule(g, size):
    if g.shape is None:
        return Spec(None, g.dtype)
    spatial = tuple(None if n is None else n // s for n, s in zip(g.shape[1:-1], size))
    return Spec((g.shape[0],) + spatial + (g.shape[-1],), g.dtype)


@primitive("upsample_nearest_grad", shape=_block_sum_rule)
def _block_sum(xp, g, size):
    n, c = g.shape[0], g.shape[-1]
    spatial = tuple(dim // s for dim, s in zip(g.shape[1:-1], size))
    blocks = g.reshape((n,) + tuple(d for dim, s in zip(spatial, size) for d in (dim, s)) +
                       (c,))
    return blocks.sum(axis=tuple(range(2, 2 * len(size) + 1, 2)))


@_block_sum.def_vjp
def _(u, out, g, size):
    return (run(_upsample_nearest, (u,), size=size),)


def upsample_nearest(x, size):
    """Repeats each spatial position of channels-last `x` (batch, *spatial, channels) `size[i]`
    times along spatial axis i (Keras' UpSampling "nearest").

    Example:
        >>> upsample_nearest(dtf.reshape(dtf.range(4.0), (1, 2, 2, 1)), (2, 1)).numpy()[..., 0]
        array([[[0., 1.],
                [0., 1.],
                [2., 3.],
                [2., 3.]]], dtype=float32)
    """
    return run(_upsample_nearest, (x,), size=tuple(int(s) for s in size))


def window_pool(x, kind, ksize, strides, padding, dilations=None):
    """Max (`kind="max"`) or average (`"avg"`) pooling of channels-last `x` with normalised
    arguments (tuples; "SAME", "VALID" or explicit pairs) and no argument parsing: the layers'
    fast path.

    Example:
        >>> window_pool(dtf.ones((1, 4, 4, 1)), "max", (2, 2), (2, 2), "VALID").shape
        TensorShape([1, 2, 2, 1])
    """
    prim = _max_pool if kind == "max" else _avg_pool
    return run(prim, (x,), ksize=ksize, strides=strides, padding=padding,
               dilations=dilations or (1,) * len(ksize))


# -- public API ---------------------------------------------------------------------------------
_MAX_DTYPES = (dtypes.float16, dtypes.float32, dtypes.float64, dtypes.int8, dtypes.int16,
               dtypes.int32, dtypes.int64, dtypes.uint8, dtypes.uint16)
_AVG_DTYPES = (dtypes.float16, dtypes.float32, dtypes.float64)


def _pool_nd(op, kind, input, ksize, strides, padding, data_format, rank=None, dilations=None):
    x = _tensor(input)
    allowed = _MAX_DTYPES if kind == "max" else _AVG_DTYPES
    if x.dtype not in allowed:
        names = ", ".join(d.name for d in allowed)
        raise InvalidArgumentError(f"{op}: Value for attr 'T' of {x.dtype.name} is not in the "
                                   f"list of allowed values: {names} (input shape {x.shape}). "
                                   "Use dtf.cast.")
    dims = _dims(x)
    if rank is None:
        if dims is None:
            raise ValueError(f"{op}: the input's rank must be known.")
        rank = len(dims) - 2
        if rank not in (1, 2, 3):
            raise ValueError(f"{op}: Input tensor must be of rank 3, 4 or 5 but was "
                             f"{len(dims)} (shape {list(dims)}).")
    if dims is not None and len(dims) != rank + 2:
        raise InvalidArgumentError(f"{op}: input must be a rank-{rank + 2} tensor (batch, {rank}"
                                   f" spatial dims, channels), got shape {list(dims)}.")
    first = channels_first(data_format, rank, op)
    ksize = spatial_arg(ksize, rank, op, "ksize", first)
    strides = ksize if strides is None else spatial_arg(strides, rank, op, "strides", first)
    dilations = spatial_arg(dilations, rank, op, "dilations", first)
    padding = padding_arg(padding, rank, op, first, explicit=kind == "max")
    if first:
        x = to_channels_last(x, rank)
    if dims is not None:
        spatial = _dims(x)[1:-1]
        outs, _ = resolve(op, spatial, ksize, strides, dilations, padding)
        if any(o == 0 for o in outs if o is not None):
            raise InvalidArgumentError(
                f"{op}: the pooling window {list(ksize)} (dilations {list(dilations)}) is "
                f"larger than the input's spatial shape {list(spatial)} with padding "
                f"{padding}: no output. Use a smaller window or padding='SAME'.")
    prim = _max_pool if kind == "max" else _avg_pool
    y = run(prim, (x,), ksize=ksize, strides=strides, padding=padding, dilations=dilations)
    return to_channels_first(y, rank) if first else y


def max_pool(input, ksize, strides, padding, data_format=None, name=None):
    """The maximum over each window of `input` (batch, *spatial, channels; 1 to 3 spatial dims
    from its rank).

    Args:
        ksize: the window size: an int, or a list of 1, N or N + 2 ints.
        strides: the window's step, likewise.
        padding: "SAME", "VALID", or explicit [[0, 0], [lo, hi], ..., [0, 0]].
        data_format: None/"N...C" (channels last) or "NC...".

    Example:
        >>> dtf.nn.max_pool(dtf.ones((1, 4, 4, 3)), ksize=2, strides=2, padding="SAME").shape
        TensorShape([1, 2, 2, 3])
    """
    return _pool_nd("max_pool", "max", input, ksize, strides, padding, data_format)


def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    """`max_pool` over (batch, width, channels)."""
    return _pool_nd("max_pool1d", "max", input, ksize, strides, padding, data_format, 1)


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """`max_pool` over (batch, height, width, channels).

    Example:
        >>> x = dtf.constant([[[[1.0], [2.0]], [[3.0], [4.0]]]])
        >>> float(dtf.nn.max_pool2d(x, 2, 2, "VALID")[0, 0, 0, 0])
        4.0
    """
    return _pool_nd("max_pool2d", "max", input, ksize, strides, padding, data_format, 2)


def max_pool3d(input, ksize, strides, padding, data_format="NDHWC", name=None):
    """`max_pool` over (batch, depth, height, width, channels)."""
    return _pool_nd("max_pool3d", "max", input, ksize, strides, padding, data_format, 3)


def avg_pool(input, ksize, strides, padding, data_format=None, name=None):
    """The mean over each window of `input` (batch, *spatial, channels); with SAME padding,
    over the window's positions inside the input. Arguments as `max_pool` (padding "SAME" or
    "VALID" only).

    Example:
        >>> x = dtf.reshape(dtf.range(4.0), (1, 2, 2, 1))
        >>> float(dtf.nn.avg_pool(x, 2, 2, "VALID")[0, 0, 0, 0])
        1.5
    """
    return _pool_nd("avg_pool", "avg", input, ksize, strides, padding, data_format)


def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    """`avg_pool` over (batch, width, channels)."""
    return _pool_nd("avg_pool1d", "avg", input, ksize, strides, padding, data_format, 1)


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """`avg_pool` over (batch, height, width, channels)."""
    return _pool_nd("avg_pool2d", "avg", input, ksize, strides, padding, data_format, 2)


def avg_pool3d(input, ksize, strides, padding, data_format="NDHWC", name=None):
    """`avg_pool` over (batch, depth, height, width, channels)."""
    return _pool_nd("avg_pool3d", "avg", input, ksize, strides, padding, data_format, 3)


def pool(input, window_shape, pooling_type, strides=None, padding="VALID", data_format=None,
         dilations=None, name=None):
    """N-D pooling: `pooling_type` "MAX" or "AVG" over windows of `window_shape` (N ints),
    with optional `strides` (default 1) and `dilations` (window taps this far apart; with
    dilations > 1 padding must be "VALID", as TensorFlow).

    Example:
        >>> dtf.nn.pool(dtf.ones((1, 6, 6, 2)), [2, 2], "AVG", strides=[2, 2]).shape
        TensorShape([1, 3, 3, 2])
    """
    op = "pool"
    kind = str(pooling_type).upper()
    if kind not in ("MAX", "AVG"):
        raise ValueError(f"{op}: pooling_type must be 'MAX' or 'AVG', got {pooling_type!r}.")
    try:
        window = tuple(int(v) for v in window_shape)
    except TypeError:
        window = (int(window_shape),)
    rank = len(window)
    if rank not in (1, 2, 3):
        raise ValueError(f"{op}: window_shape must have 1 to 3 entries, got {list(window)}.")
    first = channels_first(data_format, rank, op)
    dil = spatial_arg(dilations, rank, op, "dilations", first)
    st = spatial_arg(strides, rank, op, "strides", first)
    if any(d > 1 for d in dil):
        if isinstance(padding, str) and padding.upper() == "SAME":
            raise ValueError(f"{op}: pooling with 'SAME' padding is not implemented for "
                             f"`dilation_rate` > 1. Received: padding=SAME and "
                             f"dilation_rate={list(dil)}")
        if any(s > 1 for s in st):
            raise ValueError(f"{op}: strides > 1 not supported in conjunction with "
                             f"dilation_rate > 1 (strides {list(st)}, dilations {list(dil)}).")
    return _pool_nd(op, "max" if kind == "MAX" else "avg", input, window, st, padding,
                    data_format, rank, dilations=dil)
