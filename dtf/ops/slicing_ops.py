"""Strided slicing: `tensor[key]`, `dtf.slice`, `dtf.strided_slice`, and their gradient.

A key is encoded as a tuple of hashable items so that it can be a primitive's attribute:
("i", n) an index, ("s", start, stop, step) a slice, ("e",) an Ellipsis, ("n",) a new axis. A
bound known only when a traced graph runs (a symbolic scalar: `x[i]` in a loop,
`x[:dtf.shape(x)[0] - 1]`) is encoded as ("t", j): the j-th extra input of the op, read when it
runs. The gradient's shape is the input's: static when known, else the runtime shape vector
(see dtf.ops.dynamic_shapes).

`dtf.indexing_ops` re-exports these names; a non-scalar int key gathers and a bool key masks
(those ops live there).
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops.array_utils import (
    _builtin_slice,
    _describe,
    _dims,
    _index_error,
    _int_list,
    _tensor,
)
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.dynamic_shapes import fully_known, is_symbolic, shape_of, static_dims
from dtf.ops.registry import Spec, primitive, run
from dtf.tensor import Tensor

__all__ = ["decode_key", "encode_key", "getitem", "slice", "strided_slice"]


# -- keys ---------------------------------------------------------------------------------------
def _scalar_int(v, what, bounds):
    if is_symbolic(v):
        if bounds is None or v.shape.rank != 0 or not v.dtype.is_integer:
            raise TypeError(f"Only integers, slices (`:`), ellipsis (`...`), dtf.newaxis "
                            f"(`None`) and scalar int32/int64 tensors are valid {what}, got "
                            f"{v!r}.")
        bounds.append(v)
        return ("t", len(bounds) - 1)
    if isinstance(v, Tensor) or getattr(v, "_is_dtf_variable", False):
        if v.ndim != 0 or not v.dtype.is_integer:
            raise TypeError(f"Only integer scalar tensors are valid {what}, got {v!r}.")
        return int(v.numpy())
    if v is None:
        return None
    try:
        return v.__index__()
    except AttributeError:
        raise TypeError(f"Only integers, slices (`:`), ellipsis (`...`), dtf.newaxis (`None`) "
                        f"and scalar int32/int64 tensors are valid indices, got {v!r}") from None


def encode_key(key, bounds=None) -> tuple:
    """`key` (ints, slices, `...`, None) as a hashable tuple. Symbolic scalars in it are
    appended to `bounds` (a list) and encoded as references to them; without `bounds` they
    raise TypeError."""
    items = key if isinstance(key, tuple) else (key,)
    out = []
    for k in items:
        if k is Ellipsis:
            out.append(("e",))
        elif k is None:
            out.append(("n",))
        elif isinstance(k, _builtin_slice):
            out.append(("s", _scalar_int(k.start, "slice bounds", bounds),
                        _scalar_int(k.stop, "slice bounds", bounds),
                        _scalar_int(k.step, "slice steps", bounds)))
        else:
            out.append(("i", _scalar_int(k, "indices", bounds)))
    if sum(1 for k in out if k[0] == "e") > 1:
        raise ValueError("An index can only have a single ellipsis ('...').")
    return tuple(out)


def _bound_value(v, bounds):
    return int(bounds[v[1]]) if isinstance(v, tuple) else v


def decode_key(key, bounds=()) -> tuple:
    """The Python key of an encoded one; `bounds` are the values of its ("t", j) bounds."""
    out = []
    for k in key:
        tag = k[0]
        if tag == "i":
            out.append(_bound_value(k[1], bounds))
        elif tag == "s":
            out.append(_builtin_slice(*(_bound_value(v, bounds) for v in k[1:])))
        else:
            out.append(Ellipsis if tag == "e" else None)
    return tuple(out)


def _is_runtime(v):
    return isinstance(v, tuple)


def _key_dims(key, rank):
    """For each item of an encoded key, the input dimension it consumes (None: none)."""
    n_consumed = sum(1 for k in key if k[0] in "is")
    out, i = [], 0
    for k in key:
        if k[0] == "e":
            i += rank - n_consumed
            out.append(None)
        elif k[0] == "n":
            out.append(None)
        else:
            out.append(i)
            i += 1
    return out


# -- the primitives -----------------------------------------------------------------------------
def _slice_rule(x, *bounds, key):
    if x.shape is None:
        return Spec(None, x.dtype)
    dims = list(x.shape)
    out, i = [], 0
    n_consumed = sum(1 for k in key if k[0] in "is")
    for k in key:
        if k[0] == "e":
            take = len(dims) - n_consumed
            out.extend(dims[i:i + take])
            i += take
        elif k[0] == "n":
            out.append(1)
        elif k[0] == "i":
            i += 1
        else:
            d = dims[i]
            out.append(None if d is None or any(_is_runtime(v) for v in k[1:]) else
                       len(range(*_builtin_slice(k[1], k[2], k[3]).indices(d))))
            i += 1
    out.extend(dims[i:])
    return Spec(tuple(out), x.dtype)


@primitive("strided_slice", shape=_slice_rule)
def _strided_slice(xp, x, *bounds, key):
    index = decode_key(key, bounds)
    try:
        return x[index]  # a view: tensors never change, so sharing memory is safe
    except IndexError:
        for k, dim in zip(index, _key_dims(key, x.ndim)):
            if isinstance(k, int) and not -x.shape[dim] <= k < x.shape[dim]:
                raise _index_error("strided_slice", "StridedSlice",
                                   f"slice index {k} of dimension {dim} out of bounds",
                                   ("input", x)) from None
        raise


@_strided_slice.def_vjp
def _(g, out, x, *bounds, key):
    dims = static_dims(x)
    if fully_known(dims):
        gx = run(_strided_slice_grad, (g,) + bounds, shape=tuple(dims), key=key)
    else:  # the input's shape is read when the graph runs
        gx = run(_strided_slice_grad, (g, shape_of(x)) + bounds, shape=dims, key=key)
    return (gx,) + (None,) * len(bounds)


def _needs_shape(shape):
    return shape is None or None in shape


def _slice_grad_rule(g, *runtime, shape, key):
    if shape is None:
        n = runtime[0].shape[0] if runtime[0].shape is not None else None
        return Spec(None if n is None else (None,) * n, g.dtype)
    return Spec(tuple(shape), g.dtype)


@primitive("strided_slice_grad", shape=_slice_grad_rule)
def _strided_slice_grad(xp, g, *runtime, shape, key):
    # The adjoint of strided_slice: g written into zeros of the input's shape. A `shape` with
    # unknown dims comes with the runtime shape vector as the first extra input.
    if _needs_shape(shape):
        shape, runtime = tuple(int(d) for d in runtime[0].tolist()), runtime[1:]
    out = xp.zeros(shape, dtype=g.dtype)
    out[decode_key(key, runtime)] = g
    return out


@_strided_slice_grad.def_vjp
def _(gg, out, g, *runtime, shape, key):
    bounds = runtime[1:] if _needs_shape(shape) else runtime
    return (run(_strided_slice, (gg,) + tuple(bounds), key=key),) + (None,) * len(runtime)


# -- tensor[key] --------------------------------------------------------------------------------
def getitem(tensor, key, _slice_of=None):
    """`tensor[key]` with NumPy's basic indexing: ints, slices, `...`, `None`, scalar int
    tensors (symbolic ones too: their values are read when a traced graph runs). A non-scalar
    int tensor or list gathers along axis 0; a bool tensor masks."""
    if _is_advanced(key):
        from dtf.ops.indexing_ops import boolean_mask, gather

        k = convert_to_tensor(key)
        if k.dtype == dtypes.bool:
            return boolean_mask(tensor, k)
        return gather(tensor, k, axis=0)
    x = tensor if isinstance(tensor, Tensor) else convert_to_tensor(tensor)
    bounds = []
    ekey = encode_key(key, bounds)
    n_index = sum(1 for k in ekey if k[0] in "is")
    rank = x.ndim
    if rank is not None and n_index > rank:
        raise IndexError(f"Too many indices for a tensor of rank {rank}: {key!r} "
                         f"(shape {x.shape}).")
    if _slice_of is not None and not bounds and type(x) is Tensor:
        from dtf.ops import registry
        from dtf.variables import VariableSlice

        idx = decode_key(ekey)

        def make(array):
            t = VariableSlice(array)
            t._variable, t._key = _slice_of, idx
            return t

        return registry.execute(_strided_slice, (x,), {"key": ekey}, make)
    out = run(_strided_slice, (x,) + tuple(bounds), key=ekey)
    if _slice_of is not None and not bounds and getattr(out, "_is_symbolic", False):
        out._slice_of = (_slice_of, key)  # `v[key].assign(...)` inside a traced function
    return out


def _is_advanced(key):
    if isinstance(key, (list, np.ndarray)):
        return True
    if isinstance(key, Tensor) or getattr(key, "_is_dtf_variable", False) or \
            getattr(key, "_is_symbolic", False):
        return key.ndim != 0 or key.dtype == dtypes.bool
    return False


# -- slice, strided_slice (composites) ----------------------------------------------------------
def _index_list(value, op, what):
    """begin/end/size/strides: ints, or (in a traced function) symbolic scalars or a symbolic
    vector of known length."""
    if is_symbolic(value):
        n = value.shape[0] if value.shape.rank == 1 else None
        if n is None or not value.dtype.is_integer:
            raise TypeError(f"{op}: {what} must be a 1-D int tensor of known length, got "
                            f"{value!r}.")
        from dtf.ops.dynamic_shapes import static_value

        known = static_value(value)
        return tuple(k if k is not None else value[i] for i, k in enumerate(known))
    if isinstance(value, (list, tuple)):
        return tuple(v if is_symbolic(v) else _int_list(v, op, what)[0] for v in value)
    return _int_list(value, op, what)


def slice(input_, begin, size, name=None):
    """The slice of `input_` starting at `begin` with `size` elements per dim (-1: the rest).

    Example:
        >>> dtf.slice(dtf.constant([[1, 2, 3], [4, 5, 6]]), [0, 1], [2, -1]).numpy()
        array([[2, 3],
               [5, 6]], dtype=int32)
    """
    x = _tensor(input_)
    dims = _dims(x)
    begin = _index_list(begin, "slice", "begin")
    sizes = _index_list(size, "slice", "size")
    if dims is None:
        dims = (None,) * len(begin)
    if len(begin) != len(dims) or len(sizes) != len(dims):
        raise InvalidArgumentError(
            f"slice: Expected begin and size arguments to be 1-D tensors of size {len(dims)}, "
            f"but got shapes [{len(begin)}] and [{len(sizes)}] instead ({_describe(x)}). "
            "[Op:Slice]")
    key = []
    for i, (b, s, d) in enumerate(zip(begin, sizes, dims)):
        if is_symbolic(b) or is_symbolic(s):
            key.append(_builtin_slice(b, _runtime_end(b, s), None))
            continue
        e = d if s == -1 else b + s
        if b < 0 or s < -1 or (d is not None and (b > d or e > d)):
            raise InvalidArgumentError(
                f"slice: Expected size[{i}] in [0, {None if d is None else d - b}], but got {s} "
                f"(begin[{i}] = {b}, dimension {i} of {_describe(x)}). [Op:Slice]")
        key.append(_builtin_slice(b, e, None))
    return getitem(x, tuple(key))


def _runtime_end(b, s):
    """The end of a slice of size `s` from `b`, one of them symbolic; size -1 means the rest."""
    if not is_symbolic(s):
        return None if s == -1 else b + s
    from dtf.ops.math_ops import cast, less, where

    end = s + b if not is_symbolic(b) else s + cast(b, s.dtype)
    rest = convert_to_tensor(np.iinfo(s.dtype.as_numpy_dtype).max, dtype=s.dtype)
    return where(less(s, 0), rest, end)


def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0, ellipsis_mask=0,
                  new_axis_mask=0, shrink_axis_mask=0, var=None, name=None):
    """TensorFlow's mask-driven slicing, `input_[begin:end:strides]` per dim (what `t[...]`
    compiles to); begin, end and strides may hold symbolic scalars in a traced function.

    Example:
        >>> dtf.strided_slice(dtf.constant([1, 2, 3, 4]), [1], [3]).numpy()
        array([2, 3], dtype=int32)
    """
    begin = _index_list(begin, "strided_slice", "begin")
    end = _index_list(end, "strided_slice", "end")
    strides = (1,) * len(begin) if strides is None else \
        _index_list(strides, "strided_slice", "strides")
    if not len(begin) == len(end) == len(strides):
        raise InvalidArgumentError("strided_slice: begin, end and strides must have one length, "
                                   f"got {len(begin)}, {len(end)} and {len(strides)}.")
    key = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        bit = 1 << i
        if ellipsis_mask & bit:
            key.append(Ellipsis)
        elif new_axis_mask & bit:
            key.append(None)
        elif shrink_axis_mask & bit:
            key.append(b)
        else:
            if not is_symbolic(s) and s == 0:
                raise InvalidArgumentError("strided_slice: strides must be non-zero.")
            key.append(_builtin_slice(None if begin_mask & bit else b,
                                      None if end_mask & bit else e, s))
    return getitem(input_ if var is None else var, tuple(key))
