"""Reductions: sum, mean, max, min, prod, std, variance, logsumexp, euclidean norm, any, all,
count_nonzero; argmax, argmin; cumsum, cumprod.

`axis` is None (all axes), an int, a list/tuple of ints or an int Tensor; negative axes count
from the end. It is normalised to a sorted tuple of non-negative ints (or None) before it
becomes a primitive's attribute. Gradients follow TensorFlow: reduce_max/min split the gradient
evenly among tied maxima, reduce_prod is exact when inputs contain zeros.
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops import shape_rules as rules
from dtf.ops.array_ops import broadcast_like, broadcast_to, expand_dims, reshape, size
from dtf.ops.creation_ops import cast, convert_to_tensor, ones_like, zeros_like
from dtf.ops.math_ops import abs as abs_
from dtf.ops.math_ops import conj, equal, exp, sqrt, square, where
from dtf.ops.registry import Spec, primitive, run
from dtf.tensor import Tensor

__all__ = [
    "argmax",
    "argmin",
    "count_nonzero",
    "cumprod",
    "cumsum",
    "reduce_all",
    "reduce_any",
    "reduce_euclidean_norm",
    "reduce_logsumexp",
    "reduce_max",
    "reduce_mean",
    "reduce_min",
    "reduce_prod",
    "reduce_std",
    "reduce_sum",
    "reduce_variance",
]

_NUMERIC = "iufc"
_REAL = "iuf"


# -- argument handling ----------------------------------------------------------------------------
def _axes(x, axis, op):
    """Normalises `axis` (int, list, tuple, Tensor or None) to a sorted tuple, or None for all."""
    if axis is None:
        return None
    if isinstance(axis, Tensor) or getattr(axis, "_is_dtf_variable", False):
        if not axis.dtype.is_integer:
            raise TypeError(f"{op}: axis must be an int32/int64 tensor, got {axis.dtype.name}.")
        axis = axis.numpy().tolist()
    elif isinstance(axis, np.integer):
        axis = int(axis)
    elif not isinstance(axis, int):
        try:
            axis = [a.__index__() for a in axis]
        except (AttributeError, TypeError):
            raise TypeError(f"{op}: axis must be None, an int or a list of ints, got "
                            f"{axis!r}.") from None
    rank = x.ndim
    if rank is None:  # a symbolic tensor of unknown rank: only non-negative axes can be kept
        axes = (int(axis),) if isinstance(axis, (int, np.integer)) else tuple(int(a) for a in axis)
        if any(a < 0 for a in axes):
            raise ValueError(f"{op}: negative axis {axes} on a tensor of unknown rank.")
        return tuple(sorted(set(axes)))
    try:
        return rules.normalize_axes(axis, rank, op)
    except InvalidArgumentError as e:
        raise InvalidArgumentError(f"{e} Input shape {x.shape}, dtype {x.dtype.name}. "
                                   f"[Op:{op}]") from None


def _check_dtype(x, kinds, op, what):
    if x.dtype._kind not in kinds:
        raise InvalidArgumentError(
            f"{op}: input has dtype {x.dtype.name} (shape {x.shape}), but this op needs {what}. "
            f"Use dtf.cast first. [Op:{op}]")


def _tensor(x):
    return x if type(x) is Tensor else convert_to_tensor(x)


def _kept_shape(shape, axis):
    """The shape of a keepdims=True reduction of `shape` over `axis` (None: all)."""
    return tuple(1 if (axis is None or i in axis) else d for i, d in enumerate(shape))


def _count(shape, axis):
    """How many elements each output of a reduction over `axis` combines."""
    n = 1
    for i, d in enumerate(shape):
        if axis is None or i in axis:
            n *= d
    return n


def _expand(g, x, axis, keepdims):
    """Reshapes a reduction's gradient `g` to broadcast against the input `x`."""
    if keepdims:
        return g
    shape = tuple(x.shape)
    if None not in shape:
        return reshape(g, _kept_shape(shape, axis))
    for a in (range(len(shape)) if axis is None else sorted(axis)):  # dims known at run time
        g = expand_dims(g, a)
    return g


def _broadcast_back(g, x, axis, keepdims):
    shape = tuple(x.shape)
    expanded = _expand(g, x, axis, keepdims)
    if None not in shape:
        return broadcast_to(expanded, shape)
    return broadcast_like(expanded, x)


def _mean_count(x, out, axis):
    """How many elements each mean output averages: static when the dims are known, else
    size(x) / size(out) when the graph runs."""
    shape = tuple(x.shape)
    if None not in shape:
        return _count(shape, axis)
    return cast(size(x), x.dtype) / cast(size(out), x.dtype)


def _fix_dtype(out, dtype):
    # NumPy sums small ints in the platform int; TensorFlow keeps the input dtype (wrapping).
    return out.astype(dtype, copy=False) if out.dtype != dtype else out


def _empty_reduction(xp, x, axis, keepdims, value):
    """The result of reducing an empty slice: TensorFlow returns the reduction's identity."""
    shape = _kept_shape(x.shape, axis) if keepdims else tuple(
        d for i, d in enumerate(x.shape) if not (axis is None or i in axis))
    return xp.full(shape, value, dtype=x.dtype)


def _bool_rule(x, axis=None, keepdims=False):
    return Spec(rules.reduce_shape(x.shape, axis, keepdims), dtypes.bool)


# -- reduce_sum -----------------------------------------------------------------------------------
@primitive("reduce_sum", shape=rules.reduce_rule)
def _reduce_sum(xp, x, axis=None, keepdims=False):
    out = x.sum(axis=axis, keepdims=keepdims)  # the method: half the cost of xp.sum's dispatch
    return out.astype(x.dtype, copy=False) if out.dtype != x.dtype else out


@_reduce_sum.def_vjp
def _(g, out, x, axis=None, keepdims=False):
    return (_broadcast_back(g, x, axis, keepdims),)


def _ragged_reduce(name, x, axis, keepdims):
    """A reduction of a `dtf.RaggedTensor` (along its ragged axis too): dtf.ragged's."""
    from dtf.ragged import ragged_ops

    return getattr(ragged_ops, name)(x, axis, keepdims)


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    """Sum of elements across `axis` (all axes when None).

    Example:
        >>> dtf.reduce_sum(dtf.constant([[1, 2], [3, 4]]), axis=0)
        <dtf.Tensor: shape=(2,), dtype=int32, numpy=array([4, 6], dtype=int32)>
    """
    x = input_tensor
    if type(x) is not Tensor:
        if getattr(x, "_is_ragged_tensor", False):
            return _ragged_reduce("reduce_sum", x, axis, keepdims)
        x = convert_to_tensor(x)
        if x.dtype._kind == "b":
            _check_dtype(x, _NUMERIC, "reduce_sum", "a numeric dtype")
    elif x._value.dtype.kind == "b":
        _check_dtype(x, _NUMERIC, "reduce_sum", "a numeric dtype")
    return run(_reduce_sum, (x,), axis=None if axis is None else _axes(x, axis, "reduce_sum"),
               keepdims=keepdims is True or bool(keepdims))


# -- reduce_mean ----------------------------------------------------------------------------------
@primitive("reduce_mean", shape=rules.reduce_rule)
def _reduce_mean(xp, x, axis=None, keepdims=False):
    kind = x.dtype.kind
    if kind in "fc":
        if x.size:
            return _fix_dtype(x.mean(axis=axis, keepdims=keepdims), x.dtype)
        return _empty_reduction(xp, x, axis, keepdims, np.nan)
    # Integers: TensorFlow sums in 64 bits (so only int64 sums wrap) and divides, truncating
    # toward zero.
    n = _count(x.shape, axis)
    if n == 0:
        raise ValueError("the integer mean of an empty slice is a division by zero")
    if kind == "u":
        total = x.sum(axis=axis, keepdims=keepdims, dtype=np.uint64)
        return _fix_dtype(total // np.uint64(n), x.dtype)
    total = x.sum(axis=axis, keepdims=keepdims, dtype=np.int64)
    quotient = xp.abs(total) // n
    return _fix_dtype(xp.where(total < 0, -quotient, quotient), x.dtype)


@_reduce_mean.def_vjp
def _(g, out, x, axis=None, keepdims=False):
    n = _mean_count(x, out, axis)
    return (_broadcast_back(g, x, axis, keepdims) / n,)


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    """Mean of elements across `axis` (all axes when None); integer inputs give the integer
    mean, truncated toward zero, as TensorFlow.

    Example:
        >>> dtf.reduce_mean(dtf.constant([1., 2., 3., 4.]))
        <dtf.Tensor: shape=(), dtype=float32, numpy=2.5>
    """
    if type(input_tensor) is not Tensor and getattr(input_tensor, "_is_ragged_tensor", False):
        return _ragged_reduce("reduce_mean", input_tensor, axis, keepdims)
    x = _tensor(input_tensor)
    _check_dtype(x, _NUMERIC, "reduce_mean", "a numeric dtype")
    return run(_reduce_mean, (x,), axis=_axes(x, axis, "reduce_mean"), keepdims=bool(keepdims))


# -- reduce_max / reduce_min ----------------------------------------------------------------------
def _extreme_identity(dtype, largest):
    """What TensorFlow returns for the max (min) of an empty slice: the lowest (highest) value."""
    if dtype.kind == "f":
        return -np.inf if largest else np.inf
    info = np.iinfo(dtype)
    return info.min if largest else info.max


@primitive("reduce_max", shape=rules.reduce_rule)
def _reduce_max(xp, x, axis=None, keepdims=False):
    if x.size == 0:
        return _empty_reduction(xp, x, axis, keepdims, _extreme_identity(x.dtype, True))
    return x.max(axis=axis, keepdims=keepdims)


@primitive("reduce_min", shape=rules.reduce_rule)
def _reduce_min(xp, x, axis=None, keepdims=False):
    if x.size == 0:
        return _empty_reduction(xp, x, axis, keepdims, _extreme_identity(x.dtype, False))
    return x.min(axis=axis, keepdims=keepdims)


def _extreme_vjp(g, out, x, axis=None, keepdims=False):
    """TensorFlow's rule: the gradient is split evenly among the elements equal to the result."""
    selected = cast(equal(x, _expand(out, x, axis, keepdims)), x.dtype)
    count = reduce_sum(selected, axis=axis, keepdims=True)
    return (selected / count * _expand(g, x, axis, keepdims),)


_reduce_max.def_vjp(_extreme_vjp)
_reduce_min.def_vjp(_extreme_vjp)


def reduce_max(input_tensor, axis=None, keepdims=False, name=None):
    """Maximum of elements across `axis`; the gradient is shared evenly among ties.

    Example:
        >>> dtf.reduce_max(dtf.constant([[1, 5], [7, 2]]), axis=1)
        <dtf.Tensor: shape=(2,), dtype=int32, numpy=array([5, 7], dtype=int32)>
    """
    if type(input_tensor) is not Tensor and getattr(input_tensor, "_is_ragged_tensor", False):
        return _ragged_reduce("reduce_max", input_tensor, axis, keepdims)
    x = _tensor(input_tensor)
    _check_dtype(x, _REAL, "reduce_max", "a real numeric dtype")
    return run(_reduce_max, (x,), axis=_axes(x, axis, "reduce_max"), keepdims=bool(keepdims))


def reduce_min(input_tensor, axis=None, keepdims=False, name=None):
    """Minimum of elements across `axis`; the gradient is shared evenly among ties.

    Example:
        >>> dtf.reduce_min(dtf.constant([[1, 5], [7, 2]]), axis=1)
        <dtf.Tensor: shape=(2,), dtype=int32, numpy=array([1, 2], dtype=int32)>
    """
    if type(input_tensor) is not Tensor and getattr(input_tensor, "_is_ragged_tensor", False):
        return _ragged_reduce("reduce_min", input_tensor, axis, keepdims)
    x = _tensor(input_tensor)
    _check_dtype(x, _REAL, "reduce_min", "a real numeric dtype")
    return run(_reduce_min, (x,), axis=_axes(x, axis, "reduce_min"), keepdims=bool(keepdims))


# -- reduce_prod ----------------------------------------------------------------------------------
@primitive("reduce_prod", shape=rules.reduce_rule)
def _reduce_prod(xp, x, axis=None, keepdims=False):
    return _fix_dtype(xp.prod(x, axis=axis, keepdims=keepdims), x.dtype)


@_reduce_prod.def_vjp
def _(g, out, x, axis=None, keepdims=False):
    # d prod / d x_i is the product of the other elements. Computed without dividing by x_i so
    # that it is exact with zeros: with no zero in the slice it is prod / x_i; with exactly one,
    # the zero's entry is the product of the non-zero elements and the others' are 0; with
    # more, every entry is 0 (TensorFlow's values).

    is_zero = equal(x, 0)
    safe = where(is_zero, ones_like(x), x)
    nonzero_prod = reduce_prod(safe, axis=axis, keepdims=True)
    zeros = reduce_sum(cast(is_zero, dtypes.int32), axis=axis, keepdims=True)
    zero = zeros_like(x)
    others = where(is_zero, where(equal(zeros, 1), nonzero_prod * ones_like(x), zero),
                   where(equal(zeros, 0), nonzero_prod / safe, zero))
    return (conj(others) * _expand(g, x, axis, keepdims),)


def reduce_prod(input_tensor, axis=None, keepdims=False, name=None):
    """Product of elements across `axis`; its gradient is exact where inputs are zero.

    Example:
        >>> dtf.reduce_prod(dtf.constant([[1., 2.], [3., 4.]]), axis=0)
        <dtf.Tensor: shape=(2,), dtype=float32, numpy=array([3., 8.], dtype=float32)>
    """
    x = _tensor(input_tensor)
    _check_dtype(x, _NUMERIC, "reduce_prod", "a numeric dtype")
    return run(_reduce_prod, (x,), axis=_axes(x, axis, "reduce_prod"), keepdims=bool(keepdims))


# -- variance / std -------------------------------------------------------------------------------
def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    """Population variance of elements across `axis` (real result for complex inputs).

    Example:
        >>> dtf.math.reduce_variance(dtf.constant([1., 2., 3., 4.]))
        <dtf.Tensor: shape=(), dtype=float32, numpy=1.25>
    """

    x = _tensor(input_tensor)
    if x.dtype._kind not in "fc":
        raise TypeError(f"reduce_variance: Input must be either real or complex. Received "
                        f"integer type {x.dtype.name} (shape {x.shape}); dtf.cast it to a "
                        "float dtype first.")
    axes = _axes(x, axis, "reduce_variance")
    means = run(_reduce_mean, (x,), axis=axes, keepdims=True)
    deviations = x - means
    if x.dtype.is_complex:
        deviations = abs_(deviations)
    return run(_reduce_mean, (square(deviations),), axis=axes, keepdims=bool(keepdims))


def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    """Population standard deviation of elements across `axis`.

    Example:
        >>> dtf.math.reduce_std(dtf.constant([1., 2., 3., 4.]))
        <dtf.Tensor: shape=(), dtype=float32, numpy=1.118034>
    """

    if isinstance(input_tensor, Tensor) and input_tensor.dtype._kind not in "fc":
        raise TypeError(f"reduce_std: Input must be either real or complex. Received integer "
                        f"type {input_tensor.dtype.name} (shape {input_tensor.shape}); "
                        "dtf.cast it to a float dtype first.")
    return sqrt(reduce_variance(input_tensor, axis=axis, keepdims=keepdims))


# -- reduce_logsumexp -----------------------------------------------------------------------------
# A primitive rather than a composite for numerical stability in one pass (the maximum is taken
# out before exponentiating) and because its gradient, softmax, is one expression.
@primitive("reduce_logsumexp", shape=rules.reduce_rule)
def _reduce_logsumexp(xp, x, axis=None, keepdims=False):
    if x.size == 0:
        return _empty_reduction(xp, x, axis, keepdims, -np.inf)
    peak = xp.max(x, axis=axis, keepdims=True)
    peak = xp.where(xp.isfinite(peak), peak, 0).astype(x.dtype, copy=False)
    with np.errstate(divide="ignore"):  # log(0) = -inf when every element is -inf
        out = xp.log(xp.sum(xp.exp(x - peak), axis=axis, keepdims=True)) + peak
    if not keepdims:
        out = out.reshape(tuple(d for i, d in enumerate(x.shape)
                                if not (axis is None or i in axis)))
    return _fix_dtype(out, x.dtype)


@_reduce_logsumexp.def_vjp
def _(g, out, x, axis=None, keepdims=False):
    return (exp(x - _expand(out, x, axis, keepdims)) * _expand(g, x, axis, keepdims),)


def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None):
    """log(sum(exp(x))) across `axis`, computed stably (the maximum is subtracted first).

    Example:
        >>> dtf.reduce_logsumexp(dtf.constant([0., 0.]))
        <dtf.Tensor: shape=(), dtype=float32, numpy=0.6931472>
    """
    x = _tensor(input_tensor)
    _check_dtype(x, "f", "reduce_logsumexp", "a floating-point dtype")
    return run(_reduce_logsumexp, (x,), axis=_axes(x, axis, "reduce_logsumexp"),
               keepdims=bool(keepdims))


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):
    """sqrt(sum(x ** 2)) across `axis`.

    Example:
        >>> dtf.math.reduce_euclidean_norm(dtf.constant([3., 4.]))
        <dtf.Tensor: shape=(), dtype=float32, numpy=5.0>
    """

    x = _tensor(input_tensor)
    _check_dtype(x, _NUMERIC, "reduce_euclidean_norm", "a numeric dtype")
    if x.dtype.is_integer:  # TensorFlow computes in the integer type: floor of the root
        wide = cast(x, dtypes.float64)
        return cast(sqrt(reduce_sum(wide * wide, axis=axis, keepdims=keepdims)), x.dtype)
    return sqrt(reduce_sum(x * conj(x), axis=axis, keepdims=keepdims))


# -- reduce_any / reduce_all / count_nonzero ------------------------------------------------------
@primitive("reduce_any", shape=_bool_rule, differentiable=False)
def _reduce_any(xp, x, axis=None, keepdims=False):
    return xp.any(x, axis=axis, keepdims=keepdims)


@primitive("reduce_all", shape=_bool_rule, differentiable=False)
def _reduce_all(xp, x, axis=None, keepdims=False):
    return xp.all(x, axis=axis, keepdims=keepdims)


def reduce_any(input_tensor, axis=None, keepdims=False, name=None):
    """Logical OR across `axis` of a bool tensor.

    Example:
        >>> dtf.reduce_any(dtf.constant([[True, False], [False, False]]), axis=1)
        <dtf.Tensor: shape=(2,), dtype=bool, numpy=array([ True, False])>
    """
    x = _tensor(input_tensor)
    _check_dtype(x, "b", "reduce_any", "a bool tensor (compare first, e.g. x > 0)")
    return run(_reduce_any, (x,), axis=_axes(x, axis, "reduce_any"), keepdims=bool(keepdims))


def reduce_all(input_tensor, axis=None, keepdims=False, name=None):
    """Logical AND across `axis` of a bool tensor.

    Example:
        >>> dtf.reduce_all(dtf.constant([[True, False], [True, True]]), axis=1)
        <dtf.Tensor: shape=(2,), dtype=bool, numpy=array([False,  True])>
    """
    x = _tensor(input_tensor)
    _check_dtype(x, "b", "reduce_all", "a bool tensor (compare first, e.g. x > 0)")
    return run(_reduce_all, (x,), axis=_axes(x, axis, "reduce_all"), keepdims=bool(keepdims))


def count_nonzero(input, axis=None, keepdims=None, dtype=dtypes.int64, name=None):
    """How many elements across `axis` are not zero (not False), as `dtype` (int64).

    Example:
        >>> dtf.math.count_nonzero(dtf.constant([0., 1., 2.]))
        <dtf.Tensor: shape=(), dtype=int64, numpy=2>
    """
    x = _tensor(input)
    dtype = dtypes.as_dtype(dtype)
    nonzero = x if x.dtype.is_bool else cast(x, dtypes.bool)
    return reduce_sum(cast(nonzero, dtype), axis=axis, keepdims=bool(keepdims))


# -- argmax / argmin ------------------------------------------------------------------------------
def _arg_rule(x, axis=0, output_type=dtypes.int64):
    if x.shape is None:
        return Spec(None, output_type)
    return Spec(tuple(d for i, d in enumerate(x.shape) if i != axis), output_type)


@primitive("argmax", shape=_arg_rule, differentiable=False)
def _argmax(xp, x, axis=0, output_type=dtypes.int64):
    return xp.argmax(x, axis=axis).astype(output_type._np, copy=False)


@primitive("argmin", shape=_arg_rule, differentiable=False)
def _argmin(xp, x, axis=0, output_type=dtypes.int64):
    return xp.argmin(x, axis=axis).astype(output_type._np, copy=False)


def _arg_op(prim, input, axis, output_type):
    op = prim.name
    x = _tensor(input)
    if x.dtype._kind not in "iufb":
        _check_dtype(x, "iufb", op, "a real numeric or bool dtype")
    if axis is None:
        axis = 0
    if isinstance(axis, Tensor) or getattr(axis, "_is_dtf_variable", False):
        if axis.ndim != 0 or not axis.dtype.is_integer:
            raise TypeError(f"{op}: axis must be an int or a scalar int Tensor, got {axis!r}.")
        axis = int(axis.numpy())
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be int or Tensor with integer datatype, got {axis!r}.")
    output_type = dtypes.as_dtype(output_type)
    if output_type not in (dtypes.int16, dtypes.uint16, dtypes.int32, dtypes.int64):
        raise InvalidArgumentError(f"{op}: output_type must be int16, uint16, int32 or int64, "
                                   f"got {output_type.name}. [Op:{op}]")
    rank = x.ndim
    if not -rank <= axis < rank:
        raise InvalidArgumentError(
            f"{op}: Expected dimension in the range [{-rank}, {rank}), but got {axis} (input "
            f"shape {x.shape}, dtype {x.dtype.name}). [Op:{op}]")
    axis = int(axis) % rank
    if x.shape[axis] == 0:
        raise InvalidArgumentError(f"{op}: Reduction axis {axis} is empty in shape {x.shape}. "
                                   f"[Op:{op}]")
    return run(prim, (x,), axis=axis, output_type=output_type)


def argmax(input, axis=None, output_type=dtypes.int64, name=None):
    """The index of the largest value along `axis` (0 when None); the first one among ties.

    Example:
        >>> dtf.argmax(dtf.constant([[1, 5], [7, 2]]), axis=1)
        <dtf.Tensor: shape=(2,), dtype=int64, numpy=array([1, 0])>
    """
    return _arg_op(_argmax, input, axis, output_type)


def argmin(input, axis=None, output_type=dtypes.int64, name=None):
    """The index of the smallest value along `axis` (0 when None); the first one among ties.

    Example:
        >>> dtf.argmin(dtf.constant([[1, 5], [7, 2]]), axis=1)
        <dtf.Tensor: shape=(2,), dtype=int64, numpy=array([0, 1])>
    """
    return _arg_op(_argmin, input, axis, output_type)


# -- cumsum / cumprod -----------------------------------------------------------------------------
def _scan(xp, fn, x, axis, exclusive, reverse, identity):
    if reverse:
        x = xp.flip(x, axis=axis)
    out = _fix_dtype(fn(x, axis=axis), x.dtype)
    if exclusive:
        shifted = xp.full_like(out, identity)
        src = [slice(None)] * x.ndim
        dst = [slice(None)] * x.ndim
        src[axis], dst[axis] = slice(None, -1), slice(1, None)
        shifted[tuple(dst)] = out[tuple(src)]
        out = shifted
    if reverse:
        out = xp.flip(out, axis=axis)
    return out


def _scan_rule(x, axis=0, exclusive=False, reverse=False):
    return Spec(x.shape, x.dtype)


@primitive("cumsum", shape=_scan_rule)
def _cumsum(xp, x, axis=0, exclusive=False, reverse=False):
    return _scan(xp, xp.cumsum, x, axis, exclusive, reverse, 0)


@_cumsum.def_vjp
def _(g, out, x, axis=0, exclusive=False, reverse=False):
    return (run(_cumsum, (g,), axis=axis, exclusive=exclusive, reverse=not reverse),)


@primitive("cumprod", shape=_scan_rule)
def _cumprod(xp, x, axis=0, exclusive=False, reverse=False):
    return _scan(xp, xp.cumprod, x, axis, exclusive, reverse, 1)


@_cumprod.def_vjp
def _(g, out, x, axis=0, exclusive=False, reverse=False):
    # TensorFlow's formula: exact for non-zero inputs (it divides by x).

    summed = run(_cumsum, (out * g,), axis=axis, exclusive=exclusive, reverse=not reverse)
    return (summed / conj(x),)


def _scan_args(op, x, axis):
    x = _tensor(x)
    _check_dtype(x, _NUMERIC, op, "a numeric dtype")
    if isinstance(axis, Tensor) or getattr(axis, "_is_dtf_variable", False):
        axis = int(axis.numpy())
    rank = x.ndim
    if not isinstance(axis, (int, np.integer)) or not -rank <= axis < rank:
        raise InvalidArgumentError(
            f"{op}: ScanOp: Expected scan axis in the range [{-rank}, {rank}), but got {axis!r} "
            f"(input shape {x.shape}, dtype {x.dtype.name}). [Op:{op}]")
    return x, int(axis) % rank


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """Cumulative sum along `axis`; `exclusive` leaves each element out of its own sum,
    `reverse` sums from the end.

    Example:
        >>> dtf.cumsum(dtf.constant([1, 2, 3]), exclusive=True, reverse=True)
        <dtf.Tensor: shape=(3,), dtype=int32, numpy=array([5, 3, 0], dtype=int32)>
    """
    x, axis = _scan_args("cumsum", x, axis)
    return run(_cumsum, (x,), axis=axis, exclusive=bool(exclusive), reverse=bool(reverse))


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    """Cumulative product along `axis` (see `cumsum` for `exclusive` and `reverse`).

    Example:
        >>> dtf.math.cumprod(dtf.constant([1, 2, 3]))
        <dtf.Tensor: shape=(3,), dtype=int32, numpy=array([1, 2, 6], dtype=int32)>
    """
    x, axis = _scan_args("cumprod", x, axis)
    return run(_cumprod, (x,), axis=axis, exclusive=bool(exclusive), reverse=bool(reverse))
