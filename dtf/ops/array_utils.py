"""Helpers shared by the array op modules: argument normalisation, index checks,
scatter-add over any `xp`."""

from __future__ import annotations

import collections

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops.creation_ops import convert_to_tensor
from dtf.tensor import Tensor

_builtin_slice = slice
TopKV2 = collections.namedtuple("TopKV2", ["values", "indices"])


# -- helpers ------------------------------------------------------------------------------------
def _tensor(x):
    return x if type(x) is Tensor else convert_to_tensor(x)


def _dims(x):
    """The static shape of a Tensor, Variable or symbolic tensor: a tuple (None for unknown
    dims), or None for unknown rank."""
    if type(x) is Tensor:
        return x._value.shape
    d = x.shape.dims
    return None if d is None else tuple(d)


def _prod(dims) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def _scalar(a):
    """A rank-0 array as the backend's scalar (what NumPy's own ops return for rank 0)."""
    return a[()] if a.ndim == 0 else a


def _shape_list(shape, op):
    if isinstance(shape, Tensor) or getattr(shape, "_is_dtf_variable", False):
        shape = shape.numpy().tolist()
    if hasattr(shape, "as_list"):
        shape = shape.as_list()
    if isinstance(shape, (int, np.integer)):
        shape = [shape]
    try:
        return tuple(-1 if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: shape must be a list of ints, got {shape!r}.") from None


def _int_list(value, op, what):
    """An int, list of ints, or int Tensor -> a tuple of Python ints."""
    if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False):
        if not value.dtype.is_integer:
            raise TypeError(f"{op}: {what} must be integers, got a {value.dtype.name} tensor.")
        value = np.asarray(value.numpy()).tolist()
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (int, np.integer)):
        return (int(value),)
    try:
        out = []
        for v in value:
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                raise TypeError
            out.append(int(v))
        return tuple(out)
    except TypeError:
        raise TypeError(f"{op}: {what} must be an int or a list of ints, got {value!r}.") \
            from None


def _int_scalar(value, op, what):
    if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False):
        if value.ndim != 0 or not value.dtype.is_integer:
            raise TypeError(f"{op}: {what} must be a scalar int, got {value!r}.")
        return int(value.numpy())
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {what} must be an int, got {value!r}.")
    return int(value)


def _axis(axis, rank, op, extra=0):
    """One axis in [-(rank+extra), rank+extra) -> non-negative."""
    a = _int_scalar(axis, op, "axis")
    n = rank + extra
    if not -n <= a < n:
        raise InvalidArgumentError(f"{op}: axis {a} is out of range for a tensor of rank {rank} "
                                   f"(valid: [{-n}, {n})).")
    return a % n


def _describe(x) -> str:
    return f"{x.dtype.name} tensor of shape {list(_dims(x) or [])}"


def _index_tensor(indices, op):
    t = convert_to_tensor(indices)
    if t.dtype not in (dtypes.int32, dtypes.int64, dtypes.int16, dtypes.int8, dtypes.uint8):
        raise TypeError(f"{op}: indices must be int32 or int64, got {t.dtype.name} "
                        f"(shape {t.shape}). Use dtf.cast(indices, dtf.int32).")
    return t


def _is_tensorlike(v):
    return isinstance(v, Tensor) or getattr(v, "_is_dtf_variable", False) \
        or getattr(v, "_is_symbolic", False)


def _same_dtype(op, tf_op, values):
    """Converts a list of values to Tensors of one dtype: Python data takes the dtype of the
    first tensor among them; tensors of different dtypes raise (no implicit promotion)."""
    first = next((v for v in values if _is_tensorlike(v)), None)
    dtype = None if first is None else first.dtype
    out = []
    for i, v in enumerate(values):
        if _is_tensorlike(v):
            t = convert_to_tensor(v)
        elif dtype is not None:
            try:
                t = convert_to_tensor(v, dtype=dtype)
            except (TypeError, ValueError) as e:
                raise TypeError(f"{op}: values[{i}] cannot be converted to {dtype.name}: {e}") \
                    from None
        else:
            t = convert_to_tensor(v)
        if dtype is None:
            dtype = t.dtype
        elif t.dtype != dtype:
            raise InvalidArgumentError(
                f"{op}: cannot compute {tf_op} as input #{i}(zero-based) was expected to be a "
                f"{dtype.name} tensor but is a {t.dtype.name} tensor [Op:{tf_op}]. dtf does not "
                f"convert dtypes implicitly: use dtf.cast (shapes {[list(_dims(u)) for u in out]}"
                f" and {list(_dims(t))}).")
        out.append(t)
    return out


# Dtypes CUDA's atomicAdd (with CuPy's additions) accumulates directly: int32/64, uint32/64,
# float16/32/64. Others are accumulated in a wider type (`_scatter_add`).
_ATOMIC_ADD = frozenset("iIlLqQefd")


def scatter_add_dtype(dtype) -> np.dtype:
    """The dtype a device scatter-add of `dtype` values accumulates in: itself where CUDA has an
    atomicAdd for it, else int64 (bool, 8/16-bit ints: the sum cast back wraps as NumPy's),
    complex: its real parts' dtype (real and imaginary parts are added separately).

    Example:
        >>> scatter_add_dtype(np.int8), scatter_add_dtype(np.float32)
        (dtype('int64'), dtype('float32'))
    """
    dtype = np.dtype(dtype)
    if dtype.char in _ATOMIC_ADD:
        return dtype
    if dtype.kind == "c":
        return np.dtype(dtype.char.lower())
    return np.dtype(np.int64)


def _scatter_add(xp, out, key, values):
    """out[key] += values, accumulating repeated indices (in place)."""
    if xp is np:
        np.add.at(out, key, values)
        return
    import cupyx  # CuPy: atomicAdd exists for some dtypes only (a compile error for others)

    wide = scatter_add_dtype(out.dtype)
    values = xp.asarray(values)
    if wide == out.dtype:
        cupyx.scatter_add(out, key, values.astype(wide, copy=False))
    elif out.dtype.kind == "c":
        for part in (xp.real, xp.imag):
            total = xp.zeros(out.shape, wide)
            cupyx.scatter_add(total, key, part(values).astype(wide, copy=False))
            if part is xp.real:
                out += total
            else:
                out += total * out.dtype.type(1j)
    else:
        total = out.astype(wide)
        cupyx.scatter_add(total, key, values.astype(wide))
        out[...] = total.astype(out.dtype)


def _index_error(op, tf_op, message, *inputs):
    described = ", ".join(f"{name}: {a.dtype.name}{list(a.shape)}" for name, a in inputs)
    return InvalidArgumentError(f"{op}: {message} ({described}) [Op:{tf_op}]")


def _check_range(xp, indices, n, op, tf_op, params):
    """Raises unless every index is in [0, n) (TensorFlow's CPU rule: no negative indices)."""
    if indices.size == 0 or (int(indices.min()) >= 0 and int(indices.max()) < n):
        return
    bad = xp.argwhere((indices < 0) | (indices >= n))[0].tolist()
    where = ",".join(str(i) for i in bad) if indices.ndim else ""
    value = int(indices[tuple(bad)])
    raise _index_error(op, tf_op, f"indices[{where}] = {value} is not in [0, {n})",
                       ("params", params), ("indices", indices))


def _check_nd_range(xp, indices, shape, op, tf_op, what, *inputs):
    """Raises unless each index vector (last axis of `indices`) lies inside `shape`."""
    if indices.size == 0:
        return
    limits = xp.asarray(shape, dtype=np.int64)
    bad = xp.any((indices < 0) | (indices >= limits), axis=-1)
    if not bool(xp.any(bad)):
        return
    pos = xp.argwhere(bad)[0].tolist() if bad.ndim else []
    vec = indices[tuple(pos)].tolist()
    raise _index_error(op, tf_op, f"indices[{','.join(map(str, pos))}] = {vec} does not index "
                       f"into {what} shape {list(shape)}", *inputs)
