"""Shape and indexing ops: reshape, transpose, concat, stack, slicing, gather, scatter, ..."""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops import shape_rules as rules
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.registry import Spec, primitive, run
from dtf.tensor import Tensor

__all__ = ["reshape", "broadcast_to", "unstack", "stack"]


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


# -- reshape ------------------------------------------------------------------------------------
def _reshape_rule(x, shape):
    known = [d for d in shape if d != -1]
    if -1 in shape and x.shape is not None and None not in x.shape:
        total = int(np.prod(x.shape, dtype=np.int64))
        rest = int(np.prod(known, dtype=np.int64)) if known else 1
        return Spec(tuple(total // rest if d == -1 else d for d in shape) if rest else
                    tuple(0 if d == -1 else d for d in shape), x.dtype)
    return Spec(tuple(None if d == -1 else d for d in shape), x.dtype)


@primitive("reshape", shape=_reshape_rule)
def _reshape(xp, x, shape):
    return xp.reshape(x, shape)


@_reshape.def_vjp
def _(g, out, x, shape):
    return (reshape(g, tuple(x.shape)),)


def reshape(tensor, shape, name=None):
    """Reshapes `tensor` to `shape` (one dim may be -1: inferred)."""
    x = tensor if type(tensor) is Tensor else convert_to_tensor(tensor)
    shape = _shape_list(shape, "reshape")
    if shape.count(-1) > 1:
        raise InvalidArgumentError(f"reshape: only one dimension may be -1, got {list(shape)}.")
    n = x._value.size if hasattr(x, "_value") and x._value is not None else None
    if n is not None:
        known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
        if (-1 not in shape and known != n) or (-1 in shape and (known == 0 or n % known)):
            raise InvalidArgumentError(
                f"reshape: Input to reshape is a tensor with {n} values, but the requested "
                f"shape {list(shape)} has {known}{' (times the -1 dim)' if -1 in shape else ''}. "
                f"[Op:Reshape] (input shape {x.shape}, dtype {x.dtype.name})")
    return run(_reshape, (x,), shape=shape)


# -- broadcast_to -------------------------------------------------------------------------------
def _broadcast_to_rule(x, shape):
    return Spec(tuple(shape), x.dtype)


@primitive("broadcast_to", shape=_broadcast_to_rule)
def _broadcast_to(xp, x, shape):
    return xp.broadcast_to(x, shape)


@_broadcast_to.def_vjp
def _(g, out, x, shape):
    from dtf.ops.math_ops import unbroadcast
    return (unbroadcast(g, x),)


def broadcast_to(input, shape, name=None):  # noqa: A002
    """Broadcasts `input` to `shape` with NumPy's rules."""
    x = input if type(input) is Tensor else convert_to_tensor(input)
    shape = _shape_list(shape, "broadcast_to")
    try:
        np.broadcast_shapes(tuple(x.shape), shape)
    except ValueError:
        raise InvalidArgumentError(f"broadcast_to: cannot broadcast shape {x.shape} to "
                                   f"{list(shape)}.") from None
    if tuple(x.shape) == shape:
        return x
    return run(_broadcast_to, (x,), shape=shape)


# -- stack / unstack ----------------------------------------------------------------------------
def _stack_rule(*xs, axis=0):
    shape = xs[0].shape
    for x in xs[1:]:
        if shape is None or x.shape is None:
            shape = shape or x.shape
            continue
        if len(x.shape) != len(shape):
            raise InvalidArgumentError(f"stack: shapes of all inputs must match: {shape} vs "
                                       f"{x.shape}.")
        shape = tuple(a if a is not None else b for a, b in zip(shape, x.shape))
    if shape is None:
        return Spec(None, xs[0].dtype)
    ax = axis % (len(shape) + 1)
    return Spec(shape[:ax] + (len(xs),) + shape[ax:], xs[0].dtype)


@primitive("stack", shape=_stack_rule)
def _stack(xp, *xs, axis=0):
    return xp.stack(xs, axis=axis)


@_stack.def_vjp
def _(g, out, *xs, axis=0):
    return tuple(unstack(g, axis=axis))


def stack(values, axis=0, name="stack"):
    """Stacks a list of rank-R tensors of one shape into a rank-(R+1) tensor along `axis`."""
    from dtf.ops.math_ops import binary_args

    values = [convert_to_tensor(v) for v in values]
    if not values:
        raise ValueError("stack needs at least one tensor.")
    for v in values[1:]:
        binary_args("stack", values[0], v)
        if tuple(v.shape) != tuple(values[0].shape):
            raise InvalidArgumentError(
                f"stack: Shapes of all inputs must match: values[0].shape = {values[0].shape} "
                f"!= values[{values.index(v)}].shape = {v.shape} [Op:Pack]")
    rank = values[0].ndim
    if not -(rank + 1) <= axis <= rank:
        raise InvalidArgumentError(f"stack: axis {axis} is out of range for rank {rank + 1}.")
    return run(_stack, tuple(values), axis=axis % (rank + 1))


def _unstack_rule(x, axis=0):
    if x.shape is None:
        raise ValueError("unstack needs a tensor of known rank.")
    n = x.shape[axis]
    rest = x.shape[:axis] + x.shape[axis + 1:] if axis != -1 else x.shape[:-1]
    return tuple(Spec(rest, x.dtype) for _ in range(n))


@primitive("unstack", shape=_unstack_rule, num_outputs=None)
def _unstack(xp, x, axis=0):
    return tuple(xp.moveaxis(x, axis, 0))


@_unstack.def_vjp
def _(g, out, x, axis=0):
    return (stack(list(g), axis=axis),)


def unstack(value, num=None, axis=0, name="unstack"):
    """Splits `value` along `axis` into a list of tensors of rank R-1."""
    x = convert_to_tensor(value)
    if x.ndim == 0:
        raise ValueError("unstack: cannot unstack a scalar (rank-0) tensor.")
    axis = rules.normalize_axes(axis, x.ndim, "unstack")[0]
    n = x.shape[axis]
    if num is not None and num != n:
        raise ValueError(f"unstack: num={num} but dimension {axis} of {x.shape} is {n}.")
    return list(run(_unstack, (x,), axis=axis))


# -- indexing (strided slice) -------------------------------------------------------------------
# A key is encoded as a tuple of hashable items so that it can be a primitive's attribute:
# ("i", n) an index, ("s", start, stop, step) a slice, ("e",) an Ellipsis, ("n",) a new axis.
def _scalar_int(v, what):
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


def encode_key(key) -> tuple:
    items = key if isinstance(key, tuple) else (key,)
    out = []
    for k in items:
        if k is Ellipsis:
            out.append(("e",))
        elif k is None:
            out.append(("n",))
        elif isinstance(k, slice):
            out.append(("s", _scalar_int(k.start, "slice bounds"),
                        _scalar_int(k.stop, "slice bounds"), _scalar_int(k.step, "slice steps")))
        else:
            out.append(("i", _scalar_int(k, "indices")))
    if sum(1 for k in out if k[0] == "e") > 1:
        raise ValueError("An index can only have a single ellipsis ('...').")
    return tuple(out)


def decode_key(key) -> tuple:
    out = []
    for k in key:
        tag = k[0]
        out.append(k[1] if tag == "i" else slice(k[1], k[2], k[3]) if tag == "s"
                   else Ellipsis if tag == "e" else None)
    return tuple(out)


def _slice_rule(x, key):
    if x.shape is None:
        return Spec(None, x.dtype)
    dims = list(x.shape)
    n_consumed = sum(1 for k in key if k[0] in "is")
    out, i = [], 0
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
            out.append(None if d is None else len(range(*slice(k[1], k[2], k[3]).indices(d))))
            i += 1
    out.extend(dims[i:])
    return Spec(tuple(out), x.dtype)


@primitive("strided_slice", shape=_slice_rule)
def _strided_slice(xp, x, key):
    return x[decode_key(key)]  # a view: tensors never change, so sharing memory is safe


@_strided_slice.def_vjp
def _(g, out, x, key):
    return (run(_strided_slice_grad, (g,), shape=tuple(x.shape), key=key),)


def _slice_grad_rule(g, shape, key):
    return Spec(tuple(shape), g.dtype)


@primitive("strided_slice_grad", shape=_slice_grad_rule)
def _strided_slice_grad(xp, g, shape, key):
    out = xp.zeros(shape, dtype=g.dtype)
    out[decode_key(key)] = g
    return out


@_strided_slice_grad.def_vjp
def _(gg, out, g, shape, key):
    return (run(_strided_slice, (gg,), key=key),)


def getitem(tensor, key, _slice_of=None):
    """`tensor[key]` with NumPy's basic indexing: ints, slices, `...`, `None`, scalar int
    tensors. A non-scalar int tensor or list gathers along axis 0; a bool tensor masks."""
    if _is_advanced(key):
        k = convert_to_tensor(key)
        if k.dtype == dtypes.bool:
            return boolean_mask(tensor, k)
        return gather(tensor, k, axis=0)
    x = tensor if isinstance(tensor, Tensor) else convert_to_tensor(tensor)
    ekey = encode_key(key)
    n_index = sum(1 for k in ekey if k[0] in "is")
    if n_index > x.ndim:
        raise IndexError(f"Too many indices for a tensor of rank {x.ndim}: {key!r} "
                         f"(shape {x.shape}).")
    if _slice_of is not None:
        from dtf.ops import registry
        from dtf.variables import VariableSlice

        def make(array, var=_slice_of, idx=decode_key(ekey)):
            t = VariableSlice(array)
            t._variable, t._key = var, idx
            return t

        return registry.execute(_strided_slice, (x,), {"key": ekey}, make)
    return run(_strided_slice, (x,), key=ekey)


def _is_advanced(key):
    if isinstance(key, (list, np.ndarray)):
        return True
    if isinstance(key, Tensor) or getattr(key, "_is_dtf_variable", False):
        return key.ndim > 0 or key.dtype == dtypes.bool
    return False
