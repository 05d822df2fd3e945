"""Cases for reductions (sum, mean, max, min, prod, std, variance, logsumexp, any, all,
count_nonzero, euclidean norm), argmax/argmin and cumsum/cumprod."""

from __future__ import annotations

import numpy as np

import dtf
from dtf.testing.op_cases import OpCase, positive, rand


def _int_mean(x, axis=None, keepdims=False):
    """TensorFlow's integer mean: the 64-bit integer sum divided by the count, toward zero."""
    total = np.sum(x, axis=axis, keepdims=keepdims, dtype=np.int64)
    count = x.size // max(total.size, 1) if x.size else 0
    return (np.sign(total) * (np.abs(total) // count)).astype(x.dtype)


def _int_mean_axis0(x):
    return _int_mean(x, axis=0)


def _logsumexp(x, axis=None, keepdims=False):
    peak = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    return out if keepdims else np.squeeze(out, axis=axis)


def _exclusive_cumsum(x, axis, reverse):
    if reverse:
        x = np.flip(x, axis)
    out = np.cumsum(x, axis=axis)
    out = np.concatenate([np.zeros_like(np.take(out, [0], axis=axis)),
                          np.take(out, range(out.shape[axis] - 1), axis=axis)], axis=axis)
    return np.flip(out, axis) if reverse else out


# Two-way ties only: central differences see 1/2 for a pair, as the even split gives (a
# three-way tie has one-sided derivatives 1 and 0). Ties make the gradient piecewise
# constant, so their cases check first order only.
_TIES = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 1.0], [0.5, -1.0, 0.25]])
_INTS = np.array([[3, -7, 2], [-4, 5, 9]], np.int32)
_BOOLS = np.array([[True, False, True], [True, True, True]])
_WITH_ZERO = np.array([[1.5, 0.0, 2.0], [0.5, -1.5, 0.75], [0.0, 0.0, 1.25]])

CASES = [
    # reduce_sum
    OpCase("reduce_sum/all", dtf.reduce_sum, [rand(2, 3)], np.sum),
    OpCase("reduce_sum/axis0", lambda x: dtf.reduce_sum(x, axis=0), [rand(2, 3)],
           lambda x: np.sum(x, axis=0)),
    OpCase("reduce_sum/negative_axis_keepdims", lambda x: dtf.reduce_sum(x, -1, keepdims=True),
           [rand(2, 3, 4)], lambda x: np.sum(x, axis=-1, keepdims=True)),
    OpCase("reduce_sum/axis_tuple", lambda x: dtf.reduce_sum(x, axis=(0, 2)), [rand(2, 3, 4)],
           lambda x: np.sum(x, axis=(0, 2))),
    OpCase("reduce_sum/axis_list_unsorted", lambda x: dtf.reduce_sum(x, axis=[2, -3]),
           [rand(2, 3, 4)], lambda x: np.sum(x, axis=(0, 2))),
    OpCase("reduce_sum/empty_axes_is_identity", lambda x: dtf.reduce_sum(x, axis=[]),
           [rand(2, 3)], lambda x: x),
    OpCase("reduce_sum/int32", lambda x: dtf.reduce_sum(x, axis=1), [_INTS],
           lambda x: np.sum(x, axis=1).astype(np.int32), grad=False),
    OpCase("reduce_sum/int8_wraps", dtf.reduce_sum, [np.array([100, 100], np.int8)],
           lambda x: np.array(-56, np.int8), grad=False),
    OpCase("reduce_sum/empty", lambda x: dtf.reduce_sum(x, axis=0), [rand(0, 3)],
           lambda x: np.zeros(3)),
    OpCase("reduce_sum/scalar", dtf.reduce_sum, [np.array(1.5)], lambda x: x),
    # reduce_mean
    OpCase("reduce_mean/all", dtf.reduce_mean, [rand(2, 3)], np.mean),
    OpCase("reduce_mean/axis_keepdims", lambda x: dtf.reduce_mean(x, axis=1, keepdims=True),
           [rand(2, 3)], lambda x: np.mean(x, axis=1, keepdims=True)),
    OpCase("reduce_mean/axis_tuple", lambda x: dtf.reduce_mean(x, axis=(0, -1)),
           [rand(2, 3, 4)], lambda x: np.mean(x, axis=(0, 2))),
    OpCase("reduce_mean/float32", lambda x: dtf.reduce_mean(x, axis=0),
           [rand(4, 3, dtype=np.float32)], lambda x: np.mean(x, axis=0), grad=False),
    OpCase("reduce_mean/int_truncates_toward_zero", lambda x: dtf.reduce_mean(x, axis=1),
           [np.array([[-1, -2, 0], [1, 2, 2]], np.int32)],
           lambda x: np.array([-1, 1], np.int32), grad=False),
    OpCase("reduce_mean/int_all", dtf.reduce_mean, [_INTS], _int_mean, grad=False),
    OpCase("reduce_mean/int8_accumulates_wide", lambda x: dtf.reduce_mean(x, axis=0),
           [np.array([[100, -100], [100, -101]], np.int8)], _int_mean_axis0, grad=False),
    OpCase("reduce_mean/uint8", dtf.reduce_mean, [np.array([1, 2], np.uint8)],
           lambda x: np.array(1, np.uint8), grad=False),
    OpCase("reduce_mean/empty_is_nan", dtf.reduce_mean, [rand(0)],
           lambda x: np.array(np.nan), grad=False),
    # reduce_max / reduce_min (ties share the gradient)
    OpCase("reduce_max/all", dtf.reduce_max, [rand(3, 4)], np.max),
    OpCase("reduce_max/axis1", lambda x: dtf.reduce_max(x, axis=1), [rand(3, 4)],
           lambda x: np.max(x, axis=1)),
    OpCase("reduce_max/ties", lambda x: dtf.reduce_max(x, axis=1), [_TIES],
           lambda x: np.max(x, axis=1), second_order=False),
    OpCase("reduce_max/ties_all_keepdims", lambda x: dtf.reduce_max(x, keepdims=True),
           [np.array([[1.0, 3.0], [3.0, 0.5]])], lambda x: np.max(x, keepdims=True),
           second_order=False),
    OpCase("reduce_max/int", lambda x: dtf.reduce_max(x, axis=0), [_INTS],
           lambda x: np.max(x, axis=0), grad=False),
    OpCase("reduce_max/empty_is_lowest", lambda x: dtf.reduce_max(x, axis=0), [rand(0, 2)],
           lambda x: np.full(2, -np.inf), grad=False),
    OpCase("reduce_min/axis_neg", lambda x: dtf.reduce_min(x, axis=-2), [rand(3, 4)],
           lambda x: np.min(x, axis=0)),
    OpCase("reduce_min/ties_tuple", lambda x: dtf.reduce_min(x, axis=(0, 1)),
           [np.array([[2.0, 1.0], [1.0, 1.5]])], lambda x: np.min(x), second_order=False),
    OpCase("reduce_min/int_empty_is_highest", lambda x: dtf.reduce_min(x, axis=0),
           [np.zeros((0, 2), np.int32)],
           lambda x: np.full(2, np.iinfo(np.int32).max, np.int32), grad=False),
    # reduce_prod (exact gradient with zeros: away from zero for second order)
    OpCase("reduce_prod/all", dtf.reduce_prod, [positive(2, 3)], np.prod),
    OpCase("reduce_prod/axis_keepdims", lambda x: dtf.reduce_prod(x, axis=0, keepdims=True),
           [rand(3, 2)], lambda x: np.prod(x, axis=0, keepdims=True)),
    OpCase("reduce_prod/zeros", lambda x: dtf.reduce_prod(x, axis=1), [_WITH_ZERO],
           lambda x: np.prod(x, axis=1), second_order=False),
    OpCase("reduce_prod/int", lambda x: dtf.reduce_prod(x, axis=1), [_INTS],
           lambda x: np.prod(x, axis=1).astype(np.int32), grad=False),
    # variance / std
    OpCase("reduce_variance/all", dtf.math.reduce_variance, [rand(3, 4)], np.var),
    OpCase("reduce_variance/axis_keepdims",
           lambda x: dtf.math.reduce_variance(x, axis=0, keepdims=True), [rand(3, 4)],
           lambda x: np.var(x, axis=0, keepdims=True)),
    OpCase("reduce_std/axis", lambda x: dtf.math.reduce_std(x, axis=-1), [rand(3, 4)],
           lambda x: np.std(x, axis=-1)),
    OpCase("reduce_std/float32", dtf.math.reduce_std,
           [np.array([1.0, 2.0, 3.0, 4.0], np.float32)],
           lambda x: np.array(1.118034, np.float32), grad=False),
    # logsumexp
    OpCase("reduce_logsumexp/all", dtf.reduce_logsumexp, [rand(2, 3)], _logsumexp),
    OpCase("reduce_logsumexp/axis_keepdims",
           lambda x: dtf.reduce_logsumexp(x, axis=1, keepdims=True), [rand(2, 3)],
           lambda x: _logsumexp(x, axis=1, keepdims=True)),
    OpCase("reduce_logsumexp/large_values_stable",
           lambda x: dtf.reduce_logsumexp(x, axis=-1),
           [np.array([[1000.0, 1000.0], [-1000.0, -1001.0]])],
           lambda x: np.array([1000.0 + np.log(2.0), -1000.0 + np.log1p(np.exp(-1.0))])),
    OpCase("reduce_logsumexp/all_neg_inf", dtf.reduce_logsumexp,
           [np.array([-np.inf, -np.inf], np.float32)], lambda x: np.array(-np.inf, np.float32),
           grad=False),
    OpCase("reduce_euclidean_norm/axis", lambda x: dtf.math.reduce_euclidean_norm(x, axis=1),
           [rand(2, 3)], lambda x: np.sqrt(np.sum(x * x, axis=1))),
    OpCase("reduce_euclidean_norm/int", dtf.math.reduce_euclidean_norm,
           [np.array([3, 4, 1], np.int32)], lambda x: np.array(5, np.int32), grad=False),
    # any / all / count_nonzero
    OpCase("reduce_any/axis1", lambda x: dtf.reduce_any(x, axis=1),
           [np.array([[True, False], [False, False]])], lambda x: np.any(x, axis=1),
           grad=False),
    OpCase("reduce_any/all", dtf.reduce_any, [_BOOLS], np.any, grad=False),
    OpCase("reduce_all/axis_keepdims", lambda x: dtf.reduce_all(x, axis=-1, keepdims=True),
           [_BOOLS], lambda x: np.all(x, axis=-1, keepdims=True), grad=False),
    OpCase("reduce_all/all", dtf.reduce_all, [_BOOLS], np.all, grad=False),
    OpCase("count_nonzero/float", dtf.math.count_nonzero, [_WITH_ZERO],
           lambda x: np.array(np.count_nonzero(x), np.int64), grad=False),
    OpCase("count_nonzero/axis_int32", lambda x: dtf.math.count_nonzero(
        x, axis=1, keepdims=True, dtype=dtf.int32), [_INTS * np.array([1, 0, 1], np.int32)],
        lambda x: np.count_nonzero(x, axis=1, keepdims=True).astype(np.int32), grad=False),
    OpCase("count_nonzero/bool", dtf.math.count_nonzero, [_BOOLS],
           lambda x: np.array(5, np.int64), grad=False),
    # argmax / argmin
    OpCase("argmax/default_axis0", dtf.argmax, [rand(3, 4)],
           lambda x: np.argmax(x, axis=0).astype(np.int64), grad=False),
    OpCase("argmax/axis_neg_int32", lambda x: dtf.argmax(x, axis=-1, output_type=dtf.int32),
           [_INTS], lambda x: np.argmax(x, axis=-1).astype(np.int32), grad=False),
    OpCase("argmax/first_of_ties", lambda x: dtf.argmax(x, axis=1), [_TIES],
           lambda x: np.array([1, 0, 0], np.int64), grad=False),
    OpCase("argmax/bool", dtf.argmax, [np.array([False, True, True])],
           lambda x: np.array(1, np.int64), grad=False),
    OpCase("argmin/axis1", lambda x: dtf.argmin(x, 1), [rand(3, 4)],
           lambda x: np.argmin(x, axis=1).astype(np.int64), grad=False),
    OpCase("argmin/math_namespace", lambda x: dtf.math.argmin(x, axis=0), [_INTS],
           lambda x: np.argmin(x, axis=0).astype(np.int64), grad=False),
    # cumsum / cumprod
    OpCase("cumsum/axis0", dtf.cumsum, [rand(3, 2)], lambda x: np.cumsum(x, axis=0)),
    OpCase("cumsum/axis_neg", lambda x: dtf.cumsum(x, axis=-1), [rand(2, 4)],
           lambda x: np.cumsum(x, axis=-1)),
    OpCase("cumsum/reverse", lambda x: dtf.cumsum(x, axis=1, reverse=True), [rand(2, 4)],
           lambda x: np.flip(np.cumsum(np.flip(x, 1), axis=1), 1)),
    OpCase("cumsum/exclusive", lambda x: dtf.cumsum(x, axis=1, exclusive=True), [rand(2, 4)],
           lambda x: _exclusive_cumsum(x, 1, False)),
    OpCase("cumsum/exclusive_reverse",
           lambda x: dtf.cumsum(x, axis=0, exclusive=True, reverse=True), [rand(4, 2)],
           lambda x: _exclusive_cumsum(x, 0, True)),
    OpCase("cumsum/int", lambda x: dtf.cumsum(x, exclusive=True, reverse=True),
           [np.array([1, 2, 3], np.int32)], lambda x: np.array([5, 3, 0], np.int32),
           grad=False),
    OpCase("cumprod/axis1", lambda x: dtf.math.cumprod(x, axis=1), [positive(2, 4)],
           lambda x: np.cumprod(x, axis=1)),
    OpCase("cumprod/exclusive_reverse",
           lambda x: dtf.math.cumprod(x, axis=0, exclusive=True, reverse=True),
           [positive(3, 2)],
           lambda x: np.flip(np.concatenate([np.ones((1, 2)), np.cumprod(np.flip(x, 0),
                                                                          axis=0)[:-1]]), 0)),
]
