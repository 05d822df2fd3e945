"""Cases for the convolution and pooling ops (dtf.ops.conv_ops, dtf.ops.pool_ops).

The references loop over output positions and kernel taps in plain NumPy (slow, obvious, and
independent of the im2col implementation). Shapes stay tiny: the gradient checks perturb every
element. Max-pool inputs are distinct values far apart, so no window has a near tie (where the
derivative jumps and central differences do not hold).
"""

from __future__ import annotations

import numpy as np

import dtf
from dtf.ops import conv_ops as conv
from dtf.ops import pool_ops as pool
from dtf.testing.op_cases import OpCase, rand


# -- references ---------------------------------------------------------------------------------
def _pads(padding, in_sizes, ksizes, strides, dilations):
    if not isinstance(padding, str):
        return [tuple(p) for p in padding]
    pads = []
    for n, k, s, d in zip(in_sizes, ksizes, strides, dilations):
        k_eff = (k - 1) * d + 1
        if padding == "VALID":
            pads.append((0, 0))
        else:
            out = -(-n // s)
            total = max((out - 1) * s + k_eff - n, 0)
            pads.append((total // 2, total - total // 2))
    return pads


def _geometry(x_shape, ksizes, strides, padding, dilations):
    rank = len(ksizes)
    strides = (strides,) * rank if isinstance(strides, int) else tuple(strides)
    dilations = (dilations,) * rank if isinstance(dilations, int) else tuple(dilations)
    pads = _pads(padding, x_shape[1:-1], ksizes, strides, dilations)
    outs = [(n + lo + hi - ((k - 1) * d + 1)) // s + 1
            for n, (lo, hi), k, s, d in zip(x_shape[1:-1], pads, ksizes, strides, dilations)]
    return strides, dilations, pads, outs


def ref_conv(x, w, strides=1, padding="VALID", dilations=1):
    rank = x.ndim - 2
    ks = w.shape[:rank]
    strides, dilations, pads, outs = _geometry(x.shape, ks, strides, padding, dilations)
    xpad = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    cg, o = w.shape[-2], w.shape[-1]
    groups = x.shape[-1] // cg
    og = o // groups
    y = np.zeros((x.shape[0],) + tuple(outs) + (o,), dtype=np.float64)
    for pos in np.ndindex(*outs):
        for tap in np.ndindex(*ks):
            at = tuple(p * s + k * d for p, k, s, d in zip(pos, tap, strides, dilations))
            patch = xpad[(slice(None),) + at]
            for g in range(groups):
                y[(slice(None),) + pos + (slice(g * og, (g + 1) * og),)] += \
                    patch[:, g * cg:(g + 1) * cg] @ w[tap][:, g * og:(g + 1) * og]
    return y.astype(x.dtype)


def ref_conv_transpose(y, w, out_shape, strides=1, padding="VALID", dilations=1):
    """The adjoint of ref_conv: each output position scatters back onto the taps it read."""
    rank = y.ndim - 2
    ks = w.shape[:rank]
    strides, dilations, pads, outs = _geometry(out_shape, ks, strides, padding, dilations)
    padded = [n + lo + hi for n, (lo, hi) in zip(out_shape[1:-1], pads)]
    dx = np.zeros((out_shape[0],) + tuple(padded) + (out_shape[-1],))
    for pos in np.ndindex(*outs):
        for tap in np.ndindex(*ks):
            at = tuple(p * s + k * d for p, k, s, d in zip(pos, tap, strides, dilations))
            dx[(slice(None),) + at] += y[(slice(None),) + pos] @ w[tap].T
    inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(pads, out_shape[1:-1]))
    return dx[(slice(None),) + inner].astype(y.dtype)


def ref_pool(x, ksize, strides, padding, kind, dilations=1):
    rank = x.ndim - 2
    ks = (ksize,) * rank if isinstance(ksize, int) else tuple(ksize)
    strides, dilations, pads, outs = _geometry(x.shape, ks, strides, padding, dilations)
    fill = -np.inf if kind == "max" else np.nan
    xpad = np.pad(x.astype(np.float64), [(0, 0)] + pads + [(0, 0)], constant_values=fill)
    y = np.zeros((x.shape[0],) + tuple(outs) + (x.shape[-1],))
    for pos in np.ndindex(*outs):
        taps = []
        for tap in np.ndindex(*ks):
            at = tuple(p * s + k * d for p, k, s, d in zip(pos, tap, strides, dilations))
            taps.append(xpad[(slice(None),) + at])
        stacked = np.stack(taps)
        y[(slice(None),) + pos] = np.max(stacked, 0) if kind == "max" else \
            np.nanmean(stacked, 0)
    return y.astype(x.dtype)


def _distinct(*shape, seed=0):
    """Distinct values at least 0.1 apart, shuffled: no near ties for max pooling."""
    n = int(np.prod(shape))
    values = np.random.default_rng(seed).permutation(n) * 0.1 - n * 0.05
    return values.reshape(shape).astype(np.float64)


def _nchw(x):
    return np.moveaxis(x, -1, 1)


def _pool_grad_fn(pool_fn):
    """x, u -> the gradient of sum(pool_fn(x) * u) w.r.t. x: a case that runs the pool's
    gradient op forward (and, through its own gradient, the gradient's gradient)."""

    def fn(x, u):
        with dtf.GradientTape() as tape:
            tape.watch(x)
            y = pool_fn(x)
        return tape.gradient(y, x, output_gradients=u)

    return fn


def _ref_max_pool_grad(x, u, ksize, strides, padding):
    """Each window's gradient to the first input position holding its maximum."""
    ks = (ksize,) * (x.ndim - 2) if isinstance(ksize, int) else tuple(ksize)
    strides_, _, pads, outs = _geometry(x.shape, ks, strides, padding, 1)
    xpad = np.pad(x, [(0, 0)] + pads + [(0, 0)], constant_values=-np.inf)
    dx = np.zeros_like(xpad)
    for b in range(x.shape[0]):
        for c in range(x.shape[-1]):
            for pos in np.ndindex(*outs):
                best, where = -np.inf, None
                for tap in np.ndindex(*ks):
                    at = tuple(p * s + k for p, k, s in zip(pos, tap, strides_))
                    if xpad[(b,) + at + (c,)] > best:
                        best, where = xpad[(b,) + at + (c,)], at
                dx[(b,) + where + (c,)] += u[(b,) + pos + (c,)]
    inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(pads, x.shape[1:-1]))
    return dx[(slice(None),) + inner]


# -- inputs -------------------------------------------------------------------------------------
_X2 = rand(2, 5, 4, 3, seed=101)
_W2 = rand(3, 2, 3, 4, seed=102)
_X1 = rand(2, 7, 3, seed=103)
_W1 = rand(3, 3, 2, seed=104)
_X3 = rand(1, 4, 3, 3, 2, seed=105)
_W3 = rand(2, 2, 2, 2, 3, seed=106)
_WG = rand(2, 2, 2, 4, seed=107)      # groups: 4 input channels / filter depth 2 = 2 groups
_XG = rand(1, 4, 4, 4, seed=108)
_DW = rand(3, 3, 3, 2, seed=109)      # depthwise: 3 channels, multiplier 2
_PW = rand(1, 1, 6, 4, seed=110)
_TY = rand(1, 3, 3, 2, seed=111)      # transposed conv input
_TW = rand(3, 3, 4, 2, seed=112)      # (kh, kw, out, in)

def _clear_of_relu_kink(x_shape, w_shape, padding, margin=0.05):
    """(x, w, b) whose pre-activations conv(x, w) + b all lie `margin` away from 0, where the
    relu's derivative jumps (the first seed that gives that)."""
    for seed in range(200, 400):
        x, w, b = rand(*x_shape, seed=seed), rand(*w_shape, seed=seed + 1000), \
            rand(w_shape[-1], seed=seed + 2000)
        if np.abs(ref_conv(x, w, 1, padding) + b).min() > margin:
            return x, w, b
    raise AssertionError("no seed clears the relu kink")


_FX, _FW, _FB = _clear_of_relu_kink((1, 4, 3, 2), (2, 2, 2, 3), "SAME")
_POOL_X = _distinct(2, 5, 6, 3, seed=1)
_POOL_U = rand(2, 3, 3, 3, seed=113)

CASES = [
    # conv: every padding, strides, dilations, rank, grouping, data format
    OpCase("conv2d/valid", lambda x, w: conv.conv2d(x, w, 1, "VALID"), [_X2, _W2],
           lambda x, w: ref_conv(x, w)),
    OpCase("conv2d/same_stride2", lambda x, w: conv.conv2d(x, w, 2, "SAME"), [_X2, _W2],
           lambda x, w: ref_conv(x, w, 2, "SAME")),
    OpCase("conv2d/same_strides_2_1", lambda x, w: conv.conv2d(x, w, [1, 2, 1, 1], "SAME"),
           [_X2, _W2], lambda x, w: ref_conv(x, w, (2, 1), "SAME")),
    OpCase("conv2d/dilated_same", lambda x, w: conv.conv2d(x, w, 1, "SAME", dilations=2),
           [_X2, _W2], lambda x, w: ref_conv(x, w, 1, "SAME", 2)),
    OpCase("conv2d/explicit_padding",
           lambda x, w: conv.conv2d(x, w, 1, [[0, 0], [1, 0], [2, 1], [0, 0]]), [_X2, _W2],
           lambda x, w: ref_conv(x, w, 1, [(1, 0), (2, 1)])),
    OpCase("conv2d/nchw", lambda x, w: conv.conv2d(x, w, 1, "SAME", data_format="NCHW"),
           [_nchw(_X2), _W2], lambda x, w: _nchw(ref_conv(np.moveaxis(x, 1, -1), w, 1, "SAME"))),
    OpCase("conv2d/groups", lambda x, w: conv.conv2d(x, w, 1, "SAME"), [_XG, _WG],
           lambda x, w: ref_conv(x, w, 1, "SAME")),
    OpCase("conv2d/one_channel_strided_dilated",
           lambda x, w: conv.conv2d(x, w, [2, 1], [[1, 0], [0, 2]], dilations=[1, 2]),
           [rand(2, 5, 6, 1, seed=124), rand(2, 3, 1, 3, seed=125)],
           lambda x, w: ref_conv(x, w, (2, 1), [(1, 0), (0, 2)], (1, 2))),
    OpCase("conv2d/1x1", lambda x, w: conv.conv2d(x, w, 1, "VALID"), [_X2, rand(1, 1, 3, 2)],
           lambda x, w: ref_conv(x, w)),
    OpCase("conv2d/float32", lambda x, w: conv.conv2d(x, w, 1, "SAME"),
           [_X2.astype(np.float32), _W2.astype(np.float32)],
           lambda x, w: ref_conv(x.astype(np.float64), w.astype(np.float64), 1,
                                 "SAME").astype(np.float32), grad=False, atol=1e-5, rtol=1e-5),
    OpCase("conv2d/float16", lambda x, w: conv.conv2d(x, w, 1, "VALID"),
           [_X2.astype(np.float16), _W2.astype(np.float16)],
           lambda x, w: ref_conv(x.astype(np.float64), w.astype(np.float64)).astype(np.float16),
           grad=False, atol=1e-2, rtol=1e-2),
    OpCase("conv2d/int32", lambda x, w: conv.conv2d(x, w, 1, "VALID"),
           [np.arange(2 * 4 * 4 * 2, dtype=np.int32).reshape(2, 4, 4, 2) % 7,
            np.arange(2 * 2 * 2 * 3, dtype=np.int32).reshape(2, 2, 2, 3) % 5 - 2],
           lambda x, w: ref_conv(x.astype(np.int64), w.astype(np.int64)).astype(np.int32),
           grad=False),
    OpCase("conv1d/same", lambda x, w: conv.conv1d(x, w, 1, "SAME"), [_X1, _W1],
           lambda x, w: ref_conv(x, w, 1, "SAME")),
    OpCase("conv1d/stride2_dilated_valid", lambda x, w: conv.conv1d(x, w, 2, "VALID",
                                                                    dilations=1),
           [_X1, _W1], lambda x, w: ref_conv(x, w, 2, "VALID")),
    OpCase("conv1d/ncw_dilated", lambda x, w: conv.conv1d(x, w, 1, "VALID", data_format="NCW",
                                                          dilations=2),
           [_nchw(_X1), _W1], lambda x, w: _nchw(ref_conv(np.moveaxis(x, 1, -1), w, 1, "VALID",
                                                          2))),
    OpCase("conv3d/same", lambda x, w: conv.conv3d(x, w, [1, 1, 1, 1, 1], "SAME"), [_X3, _W3],
           lambda x, w: ref_conv(x, w, 1, "SAME")),
    OpCase("conv3d/stride2_valid", lambda x, w: conv.conv3d(x, w, [1, 2, 1, 2, 1], "VALID"),
           [_X3, _W3], lambda x, w: ref_conv(x, w, (2, 1, 2), "VALID")),
    OpCase("convolution/rank_from_filters", lambda x, w: conv.convolution(x, w, padding="SAME"),
           [_X2, _W2], lambda x, w: ref_conv(x, w, 1, "SAME")),
    # conv + bias + activation as one op (the layers' fast path)
    OpCase("fused_conv/linear", lambda x, w, b: conv.fused_convolve(x, w, b, (2, 1), "SAME",
                                                                    (1, 1)),
           [_X2, _W2, rand(4, seed=122)], lambda x, w, b: ref_conv(x, w, (2, 1), "SAME") + b),
    OpCase("fused_conv/relu", lambda x, w, b: conv.fused_convolve(x, w, b, (1, 1), "SAME",
                                                                  (1, 1), "relu"),
           [_FX, _FW, _FB], lambda x, w, b: np.maximum(ref_conv(x, w, 1, "SAME") + b, 0)),
    OpCase("fused_conv/depthwise_relu_float32",
           lambda x, w, b: conv.fused_convolve(x, w, b, (1, 1), "VALID", (1, 1), "relu"),
           [_X2.astype(np.float32), _DW.reshape(3, 3, 1, 6)[:2, :2].astype(np.float32),
            rand(6, seed=123, dtype=np.float32)],
           lambda x, w, b: np.maximum(ref_conv(x, w) + b, 0), grad=False, atol=1e-5,
           rtol=1e-5),
    # depthwise (one input channel per group) and separable
    OpCase("depthwise_conv2d/same", lambda x, w: conv.depthwise_conv2d(x, w, [1, 1, 1, 1],
                                                                       "SAME"),
           [_X2, _DW], lambda x, w: ref_conv(x, w.reshape(3, 3, 1, 6), 1, "SAME")),
    OpCase("depthwise_conv2d/stride2_valid",
           lambda x, w: conv.depthwise_conv2d(x, w, [1, 2, 2, 1], "VALID"),
           [rand(1, 6, 5, 3, seed=114), _DW],
           lambda x, w: ref_conv(x, w.reshape(3, 3, 1, 6), 2, "VALID")),
    OpCase("depthwise_conv2d/multiplier1_dilated",
           lambda x, w: conv.depthwise_conv2d(x, w, [1, 1, 1, 1], "SAME", dilations=[2, 2]),
           [_X2, _DW[..., :1]], lambda x, w: ref_conv(x, w.reshape(3, 3, 1, 3), 1, "SAME", 2)),
    OpCase("separable_conv2d", lambda x, d, p: conv.separable_conv2d(x, d, p, [1, 1, 1, 1],
                                                                     "SAME"),
           [_X2, _DW, _PW],
           lambda x, d, p: ref_conv(ref_conv(x, d.reshape(3, 3, 1, 6), 1, "SAME"), p)),
    # transposed convolutions (conv_backprop_input run forward)
    OpCase("conv2d_transpose/same_stride2",
           lambda y, w: conv.conv2d_transpose(y, w, [1, 6, 6, 4], 2, "SAME"), [_TY, _TW],
           lambda y, w: ref_conv_transpose(y, w, (1, 6, 6, 4), 2, "SAME")),
    OpCase("conv2d_transpose/valid_stride2_odd",
           lambda y, w: conv.conv2d_transpose(y, w, [1, 7, 8, 4], 2, "VALID"), [_TY, _TW],
           lambda y, w: ref_conv_transpose(y, w, (1, 7, 8, 4), 2, "VALID")),
    OpCase("conv2d_transpose/nchw",
           lambda y, w: conv.conv2d_transpose(y, w, [1, 4, 5, 5], 1, "VALID",
                                              data_format="NCHW"),
           [_nchw(_TY), _TW],
           lambda y, w: _nchw(ref_conv_transpose(np.moveaxis(y, 1, -1), w, (1, 5, 5, 4), 1,
                                                 "VALID"))),
    OpCase("conv1d_transpose", lambda y, w: conv.conv1d_transpose(y, w, [2, 8, 2], 2, "SAME"),
           [rand(2, 4, 3, seed=115), rand(3, 2, 3, seed=116)],
           lambda y, w: ref_conv_transpose(y, w, (2, 8, 2), 2, "SAME")),
    OpCase("conv3d_transpose",
           lambda y, w: conv.conv3d_transpose(y, w, [1, 4, 3, 4, 2], [1, 2, 1, 2, 1], "SAME"),
           [rand(1, 2, 3, 2, 3, seed=117), rand(2, 2, 2, 2, 3, seed=118)],
           lambda y, w: ref_conv_transpose(y, w, (1, 4, 3, 4, 2), (2, 1, 2), "SAME")),
    # max pooling, and its gradient ops run forward
    OpCase("max_pool2d/valid", lambda x: pool.max_pool2d(x, 2, 2, "VALID"), [_POOL_X],
           lambda x: ref_pool(x, 2, 2, "VALID", "max")),
    OpCase("max_pool2d/same_3x3_stride2", lambda x: pool.max_pool2d(x, 3, 2, "SAME"), [_POOL_X],
           lambda x: ref_pool(x, 3, 2, "SAME", "max")),
    OpCase("max_pool2d/overlapping_stride1", lambda x: pool.max_pool2d(x, [2, 3], 1, "VALID"),
           [_POOL_X], lambda x: ref_pool(x, (2, 3), 1, "VALID", "max")),
    OpCase("max_pool/explicit_padding",
           lambda x: pool.max_pool(x, 2, 2, [[0, 0], [1, 0], [0, 0], [0, 0]]), [_POOL_X],
           lambda x: ref_pool(x, 2, 2, [(1, 0), (0, 0)], "max")),
    OpCase("max_pool2d/nchw", lambda x: pool.max_pool2d(x, 2, 2, "VALID", data_format="NCHW"),
           [_nchw(_POOL_X)],
           lambda x: _nchw(ref_pool(np.moveaxis(x, 1, -1), 2, 2, "VALID", "max"))),
    OpCase("max_pool1d/same", lambda x: pool.max_pool1d(x, 3, 2, "SAME"),
           [_distinct(2, 7, 2, seed=2)], lambda x: ref_pool(x, 3, 2, "SAME", "max")),
    OpCase("max_pool3d/valid", lambda x: pool.max_pool3d(x, 2, 1, "VALID"),
           [_distinct(1, 3, 3, 4, 2, seed=3)], lambda x: ref_pool(x, 2, 1, "VALID", "max")),
    OpCase("max_pool2d/int32", lambda x: pool.max_pool2d(x, 2, 2, "SAME"),
           [np.arange(2 * 5 * 5, dtype=np.int32).reshape(2, 5, 5, 1) * 7 % 11],
           lambda x: ref_pool(x.astype(np.float64), 2, 2, "SAME", "max").astype(np.int32),
           grad=False),
    OpCase("max_pool2d/float32", lambda x: pool.max_pool2d(x, 3, 2, "SAME"),
           [_POOL_X.astype(np.float32)],
           lambda x: ref_pool(x, 3, 2, "SAME", "max"), grad=False),
    OpCase("max_pool_grad", _pool_grad_fn(lambda x: pool.max_pool2d(x, 3, 2, "SAME")),
           [_POOL_X, _POOL_U],
           lambda x, u: _ref_max_pool_grad(x, u, 3, 2, "SAME"), grad_inputs=(1,)),
    OpCase("max_pool_grad/ties_first_wins",
           _pool_grad_fn(lambda x: pool.max_pool2d(x, 2, 2, "VALID")),
           [np.ones((1, 2, 4, 1)), np.array([[[[1.0], [2.0]]]])],
           lambda x, u: np.array([[[[1.0], [0.0], [2.0], [0.0]], [[0.0], [0.0], [0.0], [0.0]]]]),
           grad=False),
    # average pooling, and its gradient op run forward
    OpCase("avg_pool2d/valid", lambda x: pool.avg_pool2d(x, 2, 2, "VALID"), [_X2],
           lambda x: ref_pool(x, 2, 2, "VALID", "avg")),
    OpCase("avg_pool2d/same_counts_inside_only", lambda x: pool.avg_pool2d(x, 3, 2, "SAME"),
           [_X2], lambda x: ref_pool(x, 3, 2, "SAME", "avg")),
    OpCase("avg_pool/nchw", lambda x: pool.avg_pool(x, 2, 1, "SAME", data_format="NCHW"),
           [_nchw(_X2)], lambda x: _nchw(ref_pool(np.moveaxis(x, 1, -1), 2, 1, "SAME", "avg"))),
    OpCase("avg_pool1d/same", lambda x: pool.avg_pool1d(x, 3, 2, "SAME"), [_X1],
           lambda x: ref_pool(x, 3, 2, "SAME", "avg")),
    OpCase("avg_pool3d/same", lambda x: pool.avg_pool3d(x, 2, 2, "SAME"), [_X3],
           lambda x: ref_pool(x, 2, 2, "SAME", "avg")),
    OpCase("avg_pool2d/float16", lambda x: pool.avg_pool2d(x, 2, 2, "SAME"),
           [_X2.astype(np.float16)],
           lambda x: ref_pool(x.astype(np.float64), 2, 2, "SAME", "avg").astype(np.float16),
           grad=False, atol=1e-3, rtol=1e-3),
    OpCase("avg_pool_grad", _pool_grad_fn(lambda x: pool.avg_pool2d(x, 3, 2, "SAME")),
           [_X2, rand(2, 3, 2, 3, seed=119)], grad_inputs=(1,)),
    # nearest upsampling (and, through its gradient, the block sum)
    OpCase("upsample_nearest/2d", lambda x: pool.upsample_nearest(x, (2, 3)), [_X2],
           lambda x: np.repeat(np.repeat(x, 2, axis=1), 3, axis=2)),
    OpCase("upsample_nearest/1d", lambda x: pool.upsample_nearest(x, (3,)), [_X1],
           lambda x: np.repeat(x, 3, axis=1)),
    OpCase("upsample_nearest/3d_int32", lambda x: pool.upsample_nearest(x, (1, 2, 2)),
           [np.arange(12, dtype=np.int32).reshape(1, 2, 2, 3, 1)],
           lambda x: np.repeat(np.repeat(x, 2, axis=2), 2, axis=3), grad=False),
    OpCase("upsample_nearest_grad",
           _pool_grad_fn(lambda x: pool.upsample_nearest(x, (2, 2))),
           [rand(1, 2, 3, 2, seed=120), rand(1, 4, 6, 2, seed=121)],
           lambda x, u: u.reshape(1, 2, 2, 3, 2, 2).sum(axis=(2, 4)), grad_inputs=(1,)),
    OpCase("pool/max_dilated", lambda x: pool.pool(x, [2, 2], "MAX", padding="VALID",
                                                   dilations=[2, 1]),
           [_POOL_X], lambda x: ref_pool(x, 2, 1, "VALID", "max", (2, 1))),
    OpCase("pool/avg_strided", lambda x: pool.pool(x, [2, 3], "AVG", strides=[2, 3],
                                                   padding="SAME"),
           [_X2], lambda x: ref_pool(x, (2, 3), (2, 3), "SAME", "avg")),
]
