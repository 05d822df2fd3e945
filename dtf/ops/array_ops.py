"""Shape and indexing ops: reshape, transpose, concat, split, slicing, gather, scatter, pad, sort.

This module is longer than the ~800 lines DESIGN.md asks for because it is the one file the
array family owns: its sections (reshaping, joining and splitting, indexing, gather/scatter,
padding, sorting, shape queries) are ordered top to bottom so that each only calls what is
above it or in other op modules.

Conventions: every primitive's attributes are hashable and normalised (non-negative axes, tuples),
its impl computes with `xp`, and its VJP is written in dtf ops so that second-order gradients
work. Index-taking primitives check their indices' range in the impl (TensorFlow's CPU kernels
do the same) and raise `InvalidArgumentError` naming the op, the shapes and the dtypes.
"""

from __future__ import annotations

import collections

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops import shape_rules as rules
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.registry import Spec, primitive, run
from dtf.tensor import Tensor

__all__ = [
    "argsort",
    "boolean_mask",
    "broadcast_to",
    "concat",
    "ensure_shape",
    "expand_dims",
    "gather",
    "gather_nd",
    "meshgrid",
    "one_hot",
    "pad",
    "rank",
    "repeat",
    "reshape",
    "reverse",
    "roll",
    "scatter_nd",
    "shape",
    "shape_n",
    "size",
    "slice",
    "sort",
    "split",
    "squeeze",
    "stack",
    "strided_slice",
    "tensor_scatter_nd_add",
    "tensor_scatter_nd_sub",
    "tensor_scatter_nd_update",
    "tile",
    "transpose",
    "unstack",
]

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


def _scatter_add(xp, out, key, values):
    """out[key] += values, accumulating repeated indices (in place)."""
    if xp is np:
        np.add.at(out, key, values)
    else:  # CuPy
        import cupyx
        cupyx.scatter_add(out, key, values)


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
    return _scalar(xp.reshape(x, shape))


@_reshape.def_vjp
def _(g, out, x, shape):
    return (reshape(g, tuple(x.shape)),)


def reshape(tensor, shape, name=None):
    """Reshapes `tensor` to `shape` (one dim may be -1: inferred).

    Example:
        >>> dtf.reshape(dtf.range(6), [2, -1]).shape
        TensorShape([2, 3])
    """
    x = tensor if type(tensor) is Tensor else convert_to_tensor(tensor)
    shape = _shape_list(shape, "reshape")
    if shape.count(-1) > 1:
        raise InvalidArgumentError(f"reshape: only one dimension may be -1, got {list(shape)}.")
    n = x._value.size if type(x) is Tensor else None
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


def broadcast_to(input, shape, name=None):
    """Broadcasts `input` to `shape` with NumPy's rules."""
    x = input if type(input) is Tensor else convert_to_tensor(input)
    shape = _shape_list(shape, "broadcast_to")
    try:
        np.broadcast_shapes(tuple(x.shape), shape)
    except ValueError:
        raise InvalidArgumentError(f"broadcast_to: cannot broadcast shape {x.shape} to "
                                   f"{list(shape)} ({x.dtype.name}): each dim must equal the "
                                   "target's or be 1. [Op:BroadcastTo]") from None
    if tuple(x.shape) == shape:
        return x
    return run(_broadcast_to, (x,), shape=shape)


# -- transpose ----------------------------------------------------------------------------------
def _transpose_rule(x, perm):
    if x.shape is None:
        return Spec((None,) * len(perm), x.dtype)
    return Spec(tuple(x.shape[p] for p in perm), x.dtype)


@primitive("transpose", shape=_transpose_rule)
def _transpose(xp, x, perm):
    return xp.transpose(x, perm)


@_transpose.def_vjp
def _(g, out, x, perm):
    return (run(_transpose, (g,), perm=tuple(int(i) for i in np.argsort(perm))),)


def transpose(a, perm=None, conjugate=False, name="transpose"):
    """Permutes the dimensions of `a` (reverses them when `perm` is None).

    Example:
        >>> dtf.transpose(dtf.zeros([2, 3, 4]), perm=[0, 2, 1]).shape
        TensorShape([2, 4, 3])
    """
    x = _tensor(a)
    r = x.ndim
    if perm is None:
        perm = tuple(range(r - 1, -1, -1))
    else:
        perm = _int_list(perm, "transpose", "perm")
        if len(perm) != r:
            raise InvalidArgumentError(
                f"transpose: perm has {len(perm)} entries but the input ({_describe(x)}) has rank "
                f"{r}; give one entry per dimension. [Op:Transpose]")
        perm = tuple(p % r if -r <= p < r else p for p in perm)
        missing = [i for i in range(r) if i not in perm]
        if missing:
            raise InvalidArgumentError(f"transpose: {missing[0]} is missing from "
                                       f"{{{','.join(map(str, perm))}}}: perm must be a "
                                       f"permutation of 0..{r - 1}. [Op:Transpose]")
    if conjugate and x.dtype.is_complex:
        from dtf.ops.math_ops import conj
        x = conj(x)
    if perm == tuple(range(r)):
        return x
    return run(_transpose, (x,), perm=perm)


# -- expand_dims / squeeze ----------------------------------------------------------------------
def _expand_dims_rule(x, axes):
    if x.shape is None:
        return Spec(None, x.dtype)
    out = list(x.shape)
    for a in axes:
        out.insert(a, 1)
    return Spec(tuple(out), x.dtype)


@primitive("expand_dims", shape=_expand_dims_rule)
def _expand_dims(xp, x, axes):
    return xp.expand_dims(x, axes)


@_expand_dims.def_vjp
def _(g, out, x, axes):
    return (run(_squeeze, (g,), axes=axes),)


def _squeeze_rule(x, axes):
    if x.shape is None:
        return Spec(None, x.dtype)
    return Spec(tuple(d for i, d in enumerate(x.shape) if i not in axes), x.dtype)


@primitive("squeeze", shape=_squeeze_rule)
def _squeeze(xp, x, axes):
    return _scalar(xp.squeeze(x, axis=axes))


@_squeeze.def_vjp
def _(g, out, x, axes):
    return (run(_expand_dims, (g,), axes=axes),)


def expand_dims(input, axis, name=None):
    """Inserts a dimension of size 1 at `axis` (in [-rank-1, rank]).

    Example:
        >>> dtf.expand_dims(dtf.zeros([2, 3]), -1).shape
        TensorShape([2, 3, 1])
    """
    x = _tensor(input)
    r = x.ndim
    a = _int_scalar(axis, "expand_dims", "axis")
    if not -r - 1 <= a <= r:
        raise InvalidArgumentError(f"expand_dims: Tried to expand dim index {a} for tensor with "
                                   f"{r} dimensions ({_describe(x)}); axis must be in "
                                   f"[{-r - 1}, {r}]. [Op:ExpandDims]")
    return run(_expand_dims, (x,), axes=(a % (r + 1),))


def squeeze(input, axis=None, name=None):
    """Removes dimensions of size 1 (all of them, or those in `axis`).

    Example:
        >>> dtf.squeeze(dtf.zeros([1, 2, 1])).shape
        TensorShape([2])
    """
    x = _tensor(input)
    dims = _dims(x)
    if axis is None:
        axes = tuple(i for i, d in enumerate(dims) if d == 1)
    else:
        axes = tuple(sorted({_axis(a, len(dims), "squeeze") for a in
                             _int_list(axis, "squeeze", "axis")}))
        for a in axes:
            if dims[a] is not None and dims[a] != 1:
                raise InvalidArgumentError(
                    f"squeeze: Can not squeeze dim[{a}], expected a dimension of 1, got "
                    f"{dims[a]} ({_describe(x)}). [Op:Squeeze]")
    if not axes:
        return x
    return run(_squeeze, (x,), axes=axes)


# -- stack / unstack ----------------------------------------------------------------------------
def _merge_dims(a, b):
    return tuple(p if p is not None else q for p, q in zip(a, b))


def _stack_rule(*xs, axis=0):
    shape = xs[0].shape
    for x in xs[1:]:
        if shape is None or x.shape is None:
            shape = shape or x.shape
            continue
        if len(x.shape) != len(shape):
            raise InvalidArgumentError(f"stack: shapes of all inputs must match: {shape} vs "
                                       f"{x.shape}.")
        shape = _merge_dims(shape, x.shape)
    if shape is None:
        return Spec(None, xs[0].dtype)
    ax = axis % (len(shape) + 1)
    return Spec(shape[:ax] + (len(xs),) + shape[ax:], xs[0].dtype)


@primitive("stack", shape=_stack_rule)
def _stack(xp, *xs, axis=0):
    return xp.stack(xs, axis=axis)


@_stack.def_vjp
def _(g, out, *xs, axis=0):
    return tuple(run(_unstack, (g,), num=len(xs), axis=axis))


def stack(values, axis=0, name="stack"):
    """Stacks a list of rank-R tensors of one shape into a rank-(R+1) tensor along `axis`.

    Example:
        >>> dtf.stack([dtf.zeros([2]), dtf.ones([2])], axis=1).shape
        TensorShape([2, 2])
    """
    values = list(values)
    if not values:
        raise ValueError("stack: needs at least one tensor.")
    values = _same_dtype("stack", "Pack", values)
    first = _dims(values[0])
    for i, v in enumerate(values[1:], 1):
        if _dims(v) != first:
            raise InvalidArgumentError(
                f"stack: Shapes of all inputs must match: values[0].shape = {list(first)} "
                f"!= values[{i}].shape = {list(_dims(v))} [Op:Pack]")
    rank = len(first)
    if not -(rank + 1) <= axis <= rank:
        raise InvalidArgumentError(f"stack: axis {axis} is out of range for rank {rank + 1} "
                                   f"(valid: [{-rank - 1}, {rank}]). [Op:Pack]")
    return run(_stack, tuple(values), axis=axis % (rank + 1))


def _unstack_rule(x, num, axis=0):
    rest = None if x.shape is None else x.shape[:axis] + x.shape[axis + 1:]
    return tuple(Spec(rest, x.dtype) for _ in range(num))


@primitive("unstack", shape=_unstack_rule, num_outputs=None)
def _unstack(xp, x, num, axis=0):
    return tuple(xp.moveaxis(x, axis, 0))


@_unstack.def_vjp
def _(g, out, x, num, axis=0):
    return (run(_stack, tuple(g), axis=axis),)


def unstack(value, num=None, axis=0, name="unstack"):
    """Splits `value` along `axis` into a list of tensors of rank R-1.

    Example:
        >>> [t.shape for t in dtf.unstack(dtf.zeros([2, 3]), axis=1)]
        [TensorShape([2]), TensorShape([2]), TensorShape([2])]
    """
    x = _tensor(value)
    dims = _dims(x)
    if dims is None or not dims:
        raise ValueError(f"unstack: cannot unstack a tensor of rank 0 or unknown rank "
                         f"({x!r}).")
    axis = _axis(axis, len(dims), "unstack")
    n = dims[axis]
    if n is None:
        if num is None:
            raise ValueError(f"unstack: cannot infer argument `num` from shape {list(dims)}; "
                             "pass num=.")
        n = int(num)
    elif num is not None and num != n:
        raise ValueError(f"unstack: num={num} but dimension {axis} of {list(dims)} is {n}.")
    return list(run(_unstack, (x,), num=n, axis=axis))


# -- concat / split -----------------------------------------------------------------------------
def _concat_rule(*xs, axis):
    known = [x.shape for x in xs if x.shape is not None]
    if not known:
        return Spec(None, xs[0].dtype)
    shape = known[0]
    for s in known[1:]:
        shape = _merge_dims(shape, s)
    total = 0 if len(known) == len(xs) else None
    for x in xs:
        d = None if x.shape is None else x.shape[axis]
        total = None if d is None or total is None else total + d
    return Spec(shape[:axis] + (total,) + shape[axis + 1:], xs[0].dtype)


@primitive("concat", shape=_concat_rule)
def _concat(xp, *xs, axis):
    return xp.concatenate(xs, axis=axis)


@_concat.def_vjp
def _(g, out, *xs, axis):
    return run(_split, (g,), sizes=tuple(x.shape[axis] for x in xs), num_split=None, axis=axis)


def concat(values, axis, name="concat"):
    """Joins tensors of one dtype along `axis`; other dims must match.

    Example:
        >>> dtf.concat([dtf.zeros([2, 3]), dtf.ones([2, 1])], axis=1).shape
        TensorShape([2, 4])
    """
    if isinstance(values, Tensor) or getattr(values, "_is_dtf_variable", False):
        values = [values]
    values = list(values)
    if not values:
        raise ValueError("concat: needs at least one tensor.")
    values = _same_dtype("concat", "ConcatV2", values)
    first = _dims(values[0])
    if not first:
        raise InvalidArgumentError(f"concat: cannot concatenate scalars ({_describe(values[0])});"
                                   " use dtf.stack. [Op:ConcatV2]")
    axis = _axis(axis, len(first), "concat")
    if len(values) == 1:
        return values[0]
    for i, v in enumerate(values[1:], 1):
        d = _dims(v)
        if len(d) != len(first):
            raise InvalidArgumentError(
                f"concat: Ranks of all input tensors should match: shape[0] = {list(first)} vs. "
                f"shape[{i}] = {list(d)} [Op:ConcatV2]")
        for j, (p, q) in enumerate(zip(first, d)):
            if j != axis and p is not None and q is not None and p != q:
                raise InvalidArgumentError(
                    f"concat: Dimension {j} in both shapes must be equal: shape[0] = "
                    f"{list(first)} vs. shape[{i}] = {list(d)} (concatenating along axis "
                    f"{axis}) [Op:ConcatV2]")
    return run(_concat, tuple(values), axis=axis)


def _split_rule(x, sizes, num_split, axis):
    n = len(sizes) if sizes is not None else num_split
    if x.shape is None:
        return tuple(Spec(None, x.dtype) for _ in range(n))
    d = x.shape[axis]
    if sizes is None:
        parts = [None if d is None else d // num_split] * n
    else:
        parts = list(sizes)
        if -1 in parts:
            rest = sum(s for s in parts if s != -1)
            parts[parts.index(-1)] = None if d is None else d - rest
    return tuple(Spec(x.shape[:axis] + (p,) + x.shape[axis + 1:], x.dtype) for p in parts)


@primitive("split", shape=_split_rule, num_outputs=None)
def _split(xp, x, sizes, num_split, axis):
    if sizes is None:
        return tuple(xp.split(x, num_split, axis=axis))
    sizes = list(sizes)
    if -1 in sizes:
        sizes[sizes.index(-1)] = x.shape[axis] - (sum(sizes) + 1)
    return tuple(xp.split(x, np.cumsum(sizes[:-1]).tolist(), axis=axis))


@_split.def_vjp
def _(g, out, x, sizes, num_split, axis):
    return (run(_concat, tuple(g), axis=axis),)


def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    """Splits `value` along `axis` into `num_or_size_splits` equal parts, or parts of the given
    sizes (one size may be -1: the rest).

    Example:
        >>> [t.shape[1] for t in dtf.split(dtf.zeros([2, 5]), [1, -1, 2], axis=1)]
        [1, 2, 2]
    """
    x = _tensor(value)
    dims = _dims(x)
    if not dims:
        raise ValueError(f"split: cannot split a scalar ({_describe(x)}).")
    axis = _axis(axis, len(dims), "split")
    d = dims[axis]
    if isinstance(num_or_size_splits, (int, np.integer)) or (
            isinstance(num_or_size_splits, Tensor) and num_or_size_splits.ndim == 0):
        n = _int_scalar(num_or_size_splits, "split", "num_or_size_splits")
        if n <= 0:
            raise ValueError(f"split: num_or_size_splits must be positive, got {n}.")
        if d is None:
            return list(run(_split, (x,), sizes=None, num_split=n, axis=axis))
        if d % n:
            raise InvalidArgumentError(
                f"split: Number of ways to split should evenly divide the split dimension, but "
                f"got split_dim {axis} (size = {d}) and num_split {n} ({_describe(x)}) "
                "[Op:Split]")
        sizes = (d // n,) * n
    else:
        sizes = _int_list(num_or_size_splits, "split", "num_or_size_splits")
        if not sizes:
            raise ValueError("split: num_or_size_splits must not be empty.")
        if num is not None and num != len(sizes):
            raise ValueError(f"split: num={num} but num_or_size_splits has {len(sizes)} entries.")
        if sizes.count(-1) > 1 or any(s < -1 for s in sizes):
            raise InvalidArgumentError(
                f"split: sizes {list(sizes)} may have at most one -1 and no other negative size."
                " [Op:SplitV]")
        known = sum(s for s in sizes if s != -1)
        if d is not None:
            if (-1 in sizes and known > d) or (-1 not in sizes and known != d):
                raise InvalidArgumentError(
                    f"split: Determined shape must either match input shape along split_dim "
                    f"exactly if fully specified, or be less than the size of the input along "
                    f"split_dim if not fully specified. Got: {known} (sizes {list(sizes)}, "
                    f"dimension {axis} of {_describe(x)}) [Op:SplitV]")
            if -1 in sizes:
                sizes = tuple(d - known if s == -1 else s for s in sizes)
    return list(run(_split, (x,), sizes=sizes, num_split=None, axis=axis))


# -- tile ---------------------------------------------------------------------------------------
def _tile_rule(x, multiples):
    if x.shape is None:
        return Spec((None,) * len(multiples), x.dtype)
    return Spec(tuple(None if d is None else d * m for d, m in zip(x.shape, multiples)), x.dtype)


@primitive("tile", shape=_tile_rule)
def _tile(xp, x, multiples):
    return xp.tile(x, multiples)


@_tile.def_vjp
def _(g, out, x, multiples):
    from dtf.ops.reduce_ops import reduce_sum

    dims = tuple(x.shape)
    split_dims = tuple(v for m, d in zip(multiples, dims) for v in (m, d))
    summed = reduce_sum(reshape(g, split_dims), axis=tuple(range(0, 2 * len(dims), 2)))
    return (summed,)


def tile(input, multiples, name=None):
    """Repeats `input` `multiples[i]` times along dimension i.

    Example:
        >>> dtf.tile(dtf.constant([[1, 2]]), [2, 3]).shape
        TensorShape([2, 6])
    """
    x = _tensor(input)
    multiples = _int_list(multiples, "tile", "multiples")
    if len(multiples) != x.ndim:
        raise InvalidArgumentError(
            f"tile: Expected multiples argument to be a vector of length {x.ndim} but got length "
            f"{len(multiples)} ({_describe(x)}) [Op:Tile]")
    if any(m < 0 for m in multiples):
        raise InvalidArgumentError(f"tile: Expected multiples to be non-negative, got "
                                   f"{list(multiples)}. [Op:Tile]")
    return run(_tile, (x,), multiples=multiples)


# -- pad ----------------------------------------------------------------------------------------
def _pad_rule(x, paddings, mode, constant_values):
    if x.shape is None:
        return Spec((None,) * len(paddings), x.dtype)
    return Spec(tuple(None if d is None else d + lo + hi
                      for d, (lo, hi) in zip(x.shape, paddings)), x.dtype)


_NP_PAD_MODES = {"CONSTANT": "constant", "REFLECT": "reflect", "SYMMETRIC": "symmetric"}


@primitive("pad", shape=_pad_rule)
def _pad(xp, x, paddings, mode, constant_values):
    if mode == "CONSTANT":
        return xp.pad(x, paddings, mode="constant", constant_values=constant_values)
    return xp.pad(x, paddings, mode=_NP_PAD_MODES[mode])


@_pad.def_vjp
def _(g, out, x, paddings, mode, constant_values):
    if mode == "CONSTANT":
        key = tuple(("s", lo, lo + d, None) for (lo, _), d in zip(paddings, x.shape))
        return (run(_strided_slice, (g,), key=key),)
    return (run(_mirror_pad_grad, (g,), paddings=paddings, mode=mode),)


def _mirror_pad_grad_rule(g, paddings, mode):
    if g.shape is None:
        return Spec((None,) * len(paddings), g.dtype)
    return Spec(tuple(None if d is None else d - lo - hi
                      for d, (lo, hi) in zip(g.shape, paddings)), g.dtype)


@primitive("mirror_pad_grad", shape=_mirror_pad_grad_rule)
def _mirror_pad_grad(xp, g, paddings, mode):
    # Folds the mirrored borders back onto the elements they copy: the adjoint of mirror-pad.
    off = 1 if mode == "REFLECT" else 0
    for axis, (lo, hi) in enumerate(paddings):
        if lo == 0 and hi == 0:
            continue
        g = xp.moveaxis(g, axis, 0)
        d = g.shape[0] - lo - hi
        r = g[lo:lo + d].copy()
        if lo:  # padded position j < lo copies element lo - j (REFLECT) or lo - 1 - j
            r[xp.arange(lo, 0, -1) - 1 + off] += g[:lo]
        if hi:  # padded position lo + d + k copies element d - 2 - k (REFLECT) or d - 1 - k
            r[d - 1 - off - xp.arange(hi)] += g[lo + d:]
        g = xp.moveaxis(r, 0, axis)
    return g


@_mirror_pad_grad.def_vjp
def _(gg, out, g, paddings, mode):
    return (run(_pad, (gg,), paddings=paddings, mode=mode, constant_values=0),)


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """Pads `tensor`: `paddings[i] = [before, after]` for dimension i.

    `mode` is "CONSTANT" (with `constant_values`), "REFLECT" (mirror without the edge; padding
    less than the dim) or "SYMMETRIC" (mirror with the edge; padding at most the dim).

    Example:
        >>> dtf.pad(dtf.constant([[1, 2]]), [[1, 1], [0, 2]]).numpy()
        array([[0, 0, 0, 0],
               [1, 2, 0, 0],
               [0, 0, 0, 0]], dtype=int32)
    """
    x = _tensor(tensor)
    dims = _dims(x)
    if isinstance(paddings, Tensor) or getattr(paddings, "_is_dtf_variable", False):
        paddings = np.asarray(paddings.numpy())
    try:
        pads = np.asarray(paddings)
        if pads.size == 0 and len(dims) == 0:
            pads = pads.reshape(0, 2)
        if pads.dtype.kind not in "iu" or pads.shape != (len(dims), 2):
            raise ValueError
    except (ValueError, TypeError):
        raise InvalidArgumentError(
            f"pad: paddings must be an int matrix of shape [{len(dims)}, 2] (one [before, after] "
            f"pair per dimension of the {_describe(x)}), got {paddings!r}. [Op:Pad]") from None
    pads = tuple((int(lo), int(hi)) for lo, hi in pads.tolist())
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        raise InvalidArgumentError(f"pad: paddings must be non-negative, got {list(pads)} "
                                   f"({_describe(x)}). [Op:Pad]")
    mode_name = str(mode).upper()
    if mode_name not in _NP_PAD_MODES:
        raise ValueError(f"pad: Value of argument `mode` expected to be one of \"CONSTANT\", "
                         f"\"REFLECT\", or \"SYMMETRIC\". Received `mode` = {mode}")
    if mode_name == "CONSTANT":
        cv = convert_to_tensor(constant_values, dtype=x.dtype)
        if cv.ndim != 0:
            raise InvalidArgumentError(f"pad: constant_values must be a scalar, got shape "
                                       f"{cv.shape}. [Op:PadV2]")
        cv = cv.numpy().item()
    else:
        cv = 0
        for i, ((lo, hi), d) in enumerate(zip(pads, dims)):
            if d is None:
                continue
            limit = d if mode_name == "SYMMETRIC" else d - 1
            if lo > limit or hi > limit:
                rel = "no greater than" if mode_name == "SYMMETRIC" else "less than"
                raise InvalidArgumentError(
                    f"pad: paddings must be {rel} the dimension size in {mode_name} mode: "
                    f"{lo}, {hi} for dimension {i} of size {d} ({_describe(x)}) [Op:MirrorPad]")
    return run(_pad, (x,), paddings=pads, mode=mode_name, constant_values=cv)


# -- gather and its adjoint ---------------------------------------------------------------------
def _gather_rule(params, indices, axis, batch_dims):
    if params.shape is None or indices.shape is None:
        return Spec(None, params.dtype)
    return Spec(params.shape[:axis] + indices.shape[batch_dims:] + params.shape[axis + 1:],
                params.dtype)


def _gather_layout(shape, axis, batch_dims):
    b = _prod(shape[:batch_dims])
    pre = _prod(shape[batch_dims:axis])
    return b, pre


@primitive("gather", shape=_gather_rule)
def _gather(xp, params, indices, axis, batch_dims):
    n = params.shape[axis]
    _check_range(xp, indices, n, "gather", "GatherV2", params)
    if batch_dims == 0:
        return _scalar(xp.take(params, indices, axis=axis))
    b, pre = _gather_layout(params.shape, axis, batch_dims)
    post = params.shape[axis + 1:]
    ishape = indices.shape[batch_dims:]
    p = params.reshape((b, pre, n, _prod(post)))
    i = indices.reshape((b, 1, _prod(ishape)))
    out = p[xp.arange(b)[:, None, None], xp.arange(pre)[None, :, None], i]
    return out.reshape(params.shape[:axis] + ishape + post)


@_gather.def_vjp
def _(g, out, params, indices, axis, batch_dims):
    dim = params.shape[axis]
    return run(_gather_grad, (g, indices), axis=axis, batch_dims=batch_dims, dim=dim), None


def _gather_grad_rule(g, indices, axis, batch_dims, dim):
    if g.shape is None or indices.shape is None:
        return Spec(None, g.dtype)
    ni = len(indices.shape) - batch_dims
    return Spec(g.shape[:axis] + (dim,) + g.shape[axis + ni:], g.dtype)


@primitive("gather_grad", shape=_gather_grad_rule)
def _gather_grad(xp, g, indices, axis, batch_dims, dim):
    # The adjoint of gather: sums the slices of `g` into the rows `indices` picked (an
    # unsorted-segment-sum); repeated indices accumulate.
    ni = indices.ndim - batch_dims
    out_shape = g.shape[:axis] + (dim,) + g.shape[axis + ni:]
    b, pre = _gather_layout(out_shape, axis, batch_dims)
    post = _prod(out_shape[axis + 1:])
    k = _prod(indices.shape[batch_dims:])
    out = xp.zeros((b, pre, dim, post), dtype=g.dtype)
    gv = g.reshape((b, pre, k, post))
    if b == 1 and pre == 1:
        _scatter_add(xp, out[0, 0], indices.reshape(-1), gv[0, 0])
    else:
        key = (xp.arange(b)[:, None, None], xp.arange(pre)[None, :, None],
               indices.reshape((b, 1, k)))
        _scatter_add(xp, out, key, gv)
    return out.reshape(out_shape)


@_gather_grad.def_vjp
def _(gg, out, g, indices, axis, batch_dims, dim):
    return run(_gather, (gg, indices), axis=axis, batch_dims=batch_dims), None


def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    """Gathers slices of `params` along `axis` at `indices`.

    The result has shape `params.shape[:axis] + indices.shape[batch_dims:] +
    params.shape[axis + 1:]`; the first `batch_dims` dims of params and indices are batch dims,
    gathered element by element. Indices must be in [0, params.shape[axis]).

    Example:
        >>> dtf.gather(dtf.constant([10, 20, 30]), [2, 0]).numpy()
        array([30, 10], dtype=int32)
    """
    p = _tensor(params)
    idx = _index_tensor(indices, "gather")
    pd, idims = _dims(p), _dims(idx)
    ir = len(idims)
    bd = _int_scalar(batch_dims, "gather", "batch_dims")
    if bd < 0:
        bd += ir
    if not 0 <= bd <= ir:
        raise ValueError(f"gather: batch_dims={batch_dims} must be in [{-ir}, {ir}] for indices "
                         f"of rank {ir}.")
    if not pd:
        raise InvalidArgumentError(f"gather: params must be at least 1 dimensional, got a "
                                   f"{_describe(p)}. [Op:GatherV2]")
    axis = bd if axis is None else _axis(axis, len(pd), "gather")
    if bd > axis:
        raise ValueError(f"gather: batch_dims ({bd}) must be less than or equal to axis "
                         f"({axis}).")
    for i in range(bd):
        if pd[i] is not None and idims[i] is not None and pd[i] != idims[i]:
            raise InvalidArgumentError(
                f"gather: params.shape[{i}] = {pd[i]} should equal indices.shape[{i}] = "
                f"{idims[i]} (batch_dims={bd}; params {_describe(p)}, indices {_describe(idx)})."
                " [Op:GatherV2]")
    return run(_gather, (p, idx), axis=axis, batch_dims=bd)


# -- gather_nd / scatter_nd ---------------------------------------------------------------------
def _nd_key(xp, indices, batch_dims, b):
    """The advanced-index tuple that picks, in params reshaped to (b,) + params.shape[b_dims:],
    the element or slice each index vector names."""
    k = indices.shape[-1]
    m = _prod(indices.shape[batch_dims:-1])
    idx = indices.reshape((b, m, k))
    lead = xp.broadcast_to(xp.arange(b)[:, None], (b, m))
    return (lead,) + tuple(idx[..., j] for j in range(k))


def _gather_nd_rule(params, indices, batch_dims):
    if params.shape is None or indices.shape is None or indices.shape[-1] is None:
        return Spec(None, params.dtype)
    k = indices.shape[-1]
    return Spec(indices.shape[:-1] + params.shape[batch_dims + k:], params.dtype)


@primitive("gather_nd", shape=_gather_nd_rule)
def _gather_nd(xp, params, indices, batch_dims):
    k = indices.shape[-1]
    _check_nd_range(xp, indices, params.shape[batch_dims:batch_dims + k], "gather_nd",
                    "GatherNd", "param", ("params", params), ("indices", indices))
    rest = params.shape[batch_dims + k:]
    if batch_dims == 0 and k:
        return _scalar(params[tuple(xp.moveaxis(indices, -1, 0))])
    b = _prod(params.shape[:batch_dims])
    p = params.reshape((b,) + params.shape[batch_dims:])
    out = p[_nd_key(xp, indices, batch_dims, b)]
    return _scalar(out.reshape(indices.shape[:-1] + rest))


@_gather_nd.def_vjp
def _(g, out, params, indices, batch_dims):
    return run(_scatter_nd, (indices, g), shape=tuple(params.shape), batch_dims=batch_dims), None


def _scatter_nd_rule(indices, updates, shape, batch_dims):
    return Spec(tuple(shape), updates.dtype)


@primitive("scatter_nd", shape=_scatter_nd_rule)
def _scatter_nd(xp, indices, updates, shape, batch_dims):
    k = indices.shape[-1]
    _check_nd_range(xp, indices, shape[batch_dims:batch_dims + k], "scatter_nd", "ScatterNd",
                    "output", ("indices", indices), ("updates", updates))
    b = _prod(shape[:batch_dims])
    out = xp.zeros((b,) + tuple(shape[batch_dims:]), dtype=updates.dtype)
    m = _prod(indices.shape[batch_dims:-1])
    upd = updates.reshape((b, m) + tuple(shape[batch_dims + k:]))
    _scatter_add(xp, out, _nd_key(xp, indices, batch_dims, b), upd)
    return _scalar(out.reshape(shape))


@_scatter_nd.def_vjp
def _(g, out, indices, updates, shape, batch_dims):
    return None, run(_gather_nd, (g, indices), batch_dims=batch_dims)


def gather_nd(params, indices, batch_dims=0, name=None, bad_indices_policy=""):
    """Gathers slices of `params` named by the index vectors in the last axis of `indices`.

    The result has shape `indices.shape[:-1] + params.shape[batch_dims + indices.shape[-1]:]`.

    Example:
        >>> dtf.gather_nd(dtf.constant([[1, 2], [3, 4]]), [[0, 1], [1, 0]]).numpy()
        array([2, 3], dtype=int32)
    """
    p = _tensor(params)
    idx = _index_tensor(indices, "gather_nd")
    pd, idims = _dims(p), _dims(idx)
    bd = _int_scalar(batch_dims, "gather_nd", "batch_dims")
    if not idims:
        raise InvalidArgumentError(f"gather_nd: indices must be at least rank 1 (index vectors "
                                   f"in the last axis), got {_describe(idx)}. [Op:GatherNd]")
    if bd < 0 or bd >= len(idims):
        raise ValueError(f"gather_nd: batch_dims={bd} must be in [0, {len(idims) - 1}) for "
                         f"indices of rank {len(idims)}.")
    k = idims[-1]
    if k is not None and bd + k > len(pd):
        raise InvalidArgumentError(
            f"gather_nd: index innermost dimension length must be <= params rank; saw: {k} vs. "
            f"{len(pd) - bd} (params {_describe(p)}, indices {_describe(idx)}, batch_dims={bd})"
            " [Op:GatherNd]")
    _check_batch("gather_nd", pd, idims, bd, "params", "indices")
    return run(_gather_nd, (p, idx), batch_dims=bd)


def _check_batch(op, a, b, bd, an, bn):
    for i in range(bd):
        if a[i] is not None and b[i] is not None and a[i] != b[i]:
            raise InvalidArgumentError(f"{op}: batch dimension {i} differs: {an}.shape = "
                                       f"{list(a)}, {bn}.shape = {list(b)} (batch_dims={bd}).")


def _check_updates(op, tf_op, idims, shape, udims):
    """TensorFlow's rule: updates.shape == indices.shape[:-1] + shape[indices.shape[-1]:]."""
    if not idims:
        raise InvalidArgumentError(f"{op}: indices must be at least rank 1 (index vectors in the "
                                   f"last axis), got shape {list(idims)}. [Op:{tf_op}]")
    k = idims[-1]
    if k is not None and k > len(shape):
        raise InvalidArgumentError(
            f"{op}: the index depth indices.shape[-1] = {k} is larger than the rank of the "
            f"output shape {list(shape)} (indices shape {list(idims)}). [Op:{tf_op}]")
    if k is None:
        return
    expected = tuple(idims[:-1]) + tuple(shape[k:])
    if len(expected) != len(udims) or any(
            e is not None and u is not None and e != u for e, u in zip(expected, udims)):
        raise InvalidArgumentError(
            f"{op}: updates must have shape indices.shape[:-1] + shape[indices.shape[-1]:] = "
            f"{list(expected)}, got updates shape {list(udims)} (indices shape {list(idims)}, "
            f"output shape {list(shape)}). [Op:{tf_op}]")


def scatter_nd(indices, updates, shape, bad_indices_policy="", name=None):
    """A zero tensor of `shape` with `updates` added at `indices` (repeats are summed).

    Example:
        >>> dtf.scatter_nd([[1], [3]], [9., 10.], [5]).numpy()
        array([ 0.,  9.,  0., 10.,  0.], dtype=float32)
    """
    idx = _index_tensor(indices, "scatter_nd")
    upd = _tensor(updates)
    shape = _shape_list(shape, "scatter_nd")
    if any(d < 0 for d in shape):
        raise InvalidArgumentError(f"scatter_nd: shape {list(shape)} must be non-negative.")
    _check_updates("scatter_nd", "ScatterNd", _dims(idx), shape, _dims(upd))
    return run(_scatter_nd, (idx, upd), shape=shape, batch_dims=0)


def _tensor_scatter_rule(tensor, indices, updates):
    return Spec(tensor.shape, tensor.dtype)


def _check_tensor_scatter(xp, tensor, indices, updates, op, tf_op):
    _check_nd_range(xp, indices, tensor.shape[:indices.shape[-1]], op, tf_op, "tensor",
                    ("tensor", tensor), ("indices", indices), ("updates", updates))
    return tuple(xp.moveaxis(indices, -1, 0))


@primitive("tensor_scatter_nd_update", shape=_tensor_scatter_rule)
def _tensor_scatter_nd_update(xp, tensor, indices, updates):
    key = _check_tensor_scatter(xp, tensor, indices, updates, "tensor_scatter_nd_update",
                                "TensorScatterUpdate")
    out = xp.array(tensor, copy=True)
    out[key] = updates
    return out


@_tensor_scatter_nd_update.def_vjp
def _(g, out, tensor, indices, updates):
    from dtf.ops.creation_ops import zeros_like

    gt = run(_tensor_scatter_nd_update, (g, indices, zeros_like(updates)))
    return gt, None, run(_gather_nd, (g, indices), batch_dims=0)


@primitive("tensor_scatter_nd_add", shape=_tensor_scatter_rule)
def _tensor_scatter_nd_add(xp, tensor, indices, updates):
    key = _check_tensor_scatter(xp, tensor, indices, updates, "tensor_scatter_nd_add",
                                "TensorScatterAdd")
    out = xp.array(tensor, copy=True)
    _scatter_add(xp, out, key, updates)
    return out


@_tensor_scatter_nd_add.def_vjp
def _(g, out, tensor, indices, updates):
    return g, None, run(_gather_nd, (g, indices), batch_dims=0)


def _tensor_scatter_args(op, tf_op, tensor, indices, updates):
    t = _tensor(tensor)
    idx = _index_tensor(indices, op)
    upd = convert_to_tensor(updates, dtype_hint=t.dtype) if not isinstance(updates, Tensor) \
        else updates
    if upd.dtype != t.dtype:
        raise InvalidArgumentError(f"{op}: updates have dtype {upd.dtype.name} but the tensor "
                                   f"has {t.dtype.name}; cast one of them. [Op:{tf_op}]")
    dims = _dims(t)
    _check_updates(op, tf_op, _dims(idx), dims, _dims(upd))
    return t, idx, upd


def tensor_scatter_nd_update(tensor, indices, updates, name=None):
    """A copy of `tensor` with `updates` written at `indices` (index vectors, last axis).

    Example:
        >>> dtf.tensor_scatter_nd_update([1, 2, 3], [[0], [2]], [9, 8]).numpy()
        array([9, 2, 8], dtype=int32)
    """
    args = _tensor_scatter_args("tensor_scatter_nd_update", "TensorScatterUpdate", tensor,
                                indices, updates)
    return run(_tensor_scatter_nd_update, args)


def tensor_scatter_nd_add(tensor, indices, updates, bad_indices_policy="", name=None):
    """A copy of `tensor` with `updates` added at `indices` (repeats accumulate)."""
    args = _tensor_scatter_args("tensor_scatter_nd_add", "TensorScatterAdd", tensor, indices,
                                updates)
    return run(_tensor_scatter_nd_add, args)


def tensor_scatter_nd_sub(tensor, indices, updates, bad_indices_policy="", name=None):
    """A copy of `tensor` with `updates` subtracted at `indices` (repeats accumulate)."""
    from dtf.ops.math_ops import negative

    t, idx, upd = _tensor_scatter_args("tensor_scatter_nd_sub", "TensorScatterSub", tensor,
                                       indices, updates)
    return run(_tensor_scatter_nd_add, (t, idx, negative(upd)))


def scatter_nd_key(indices: np.ndarray, shape: tuple, updates_shape: tuple, op: str) -> tuple:
    """The NumPy advanced index for `new[key] = updates` of a Variable's scatter_nd_* methods.

    Checks that `updates_shape == indices.shape[:-1] + shape[indices.shape[-1]:]` and that every
    index vector lies inside `shape`; raises InvalidArgumentError naming `op` otherwise.
    """
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise InvalidArgumentError(f"{op}: indices must be integers, got {indices.dtype.name} "
                                   f"{list(indices.shape)}.")
    shape = tuple(int(d) for d in shape)
    _check_updates(op, op, indices.shape, shape, tuple(updates_shape))
    _check_nd_range(np, indices, shape[:indices.shape[-1]], op, op, "variable",
                    ("indices", indices))
    return tuple(np.moveaxis(indices, -1, 0))


# -- boolean_mask -------------------------------------------------------------------------------
def boolean_mask(tensor, mask, axis=None, name="boolean_mask"):
    """The slices of `tensor` where `mask` is true: `tensor.shape[axis:axis + mask.ndim]` must
    equal `mask.shape`; those dims become one, of length `count_nonzero(mask)`.

    Example:
        >>> dtf.boolean_mask(dtf.constant([1, 2, 3]), [True, False, True]).numpy()
        array([1, 3], dtype=int32)
    """
    from dtf.ops.math_ops import where

    t = _tensor(tensor)
    m = convert_to_tensor(mask)
    if m.dtype != dtypes.bool:
        raise TypeError(f"boolean_mask: mask must be a bool tensor, got {m.dtype.name}.")
    td, md = _dims(t), _dims(m)
    k = len(md)
    if k == 0:
        raise ValueError("boolean_mask: mask cannot be scalar.")
    axis = 0 if axis is None else _int_scalar(axis, "boolean_mask", "axis")
    if axis < 0:
        axis += len(td)
    if not 0 <= axis <= len(td) - k:
        raise ValueError(f"boolean_mask: mask of rank {k} at axis {axis} does not fit a tensor "
                         f"of shape {list(td)}.")
    part = td[axis:axis + k]
    if any(a is not None and b is not None and a != b for a, b in zip(part, md)):
        raise ValueError(f"boolean_mask: Shapes {tuple(part)} and {tuple(md)} are incompatible: "
                         f"the mask's shape must equal dims {axis}..{axis + k - 1} of the "
                         f"tensor's shape {list(td)}.")
    if k > 1:
        n = None if None in part else _prod(part)
        t = reshape(t, td[:axis] + (n,) + td[axis + k:])
        m = reshape(m, (-1,))
    idx = reshape(where(m), (-1,))
    return gather(t, idx, axis=axis)


# -- one_hot ------------------------------------------------------------------------------------
def _one_hot_rule(indices, depth, on_value, off_value, axis, dtype):
    if indices.shape is None:
        return Spec(None, dtype)
    out = list(indices.shape)
    out.insert(axis, depth)
    return Spec(tuple(out), dtype)


@primitive("one_hot", shape=_one_hot_rule, differentiable=False)
def _one_hot(xp, indices, depth, on_value, off_value, axis, dtype):
    shape = [1] * (indices.ndim + 1)
    shape[axis] = depth
    hot = xp.expand_dims(indices, axis) == xp.arange(depth).reshape(shape)
    np_type = dtype._np.type
    return xp.where(hot, np_type(on_value), np_type(off_value)).astype(dtype._np, copy=False)


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """One-hot vectors: `on_value` at each index, `off_value` elsewhere (an index outside
    [0, depth) gives a row of `off_value`). The new axis of size `depth` goes at `axis`.

    Example:
        >>> dtf.one_hot([0, 2], 3).numpy()
        array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    idx = _index_tensor(indices, "one_hot")
    depth = _int_scalar(depth, "one_hot", "depth")
    if depth < 0:
        raise InvalidArgumentError(f"one_hot: depth must be non-negative, got {depth}. "
                                   "[Op:OneHot]")
    given = [convert_to_tensor(v) for v in (on_value, off_value)
             if v is not None and (isinstance(v, Tensor) or getattr(v, "_is_dtf_variable", False)
                                   or isinstance(v, (np.ndarray, np.generic)))]
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
    elif given:
        dtype = given[0].dtype
    elif on_value is not None:
        dtype = convert_to_tensor(on_value).dtype
    elif off_value is not None:
        dtype = convert_to_tensor(off_value).dtype
    else:
        dtype = dtypes.float32
    values = []
    for what, v, default in (("on_value", on_value, 1), ("off_value", off_value, 0)):
        if v is None:
            values.append(default)
            continue
        if (isinstance(v, Tensor) or getattr(v, "_is_dtf_variable", False)) and v.dtype != dtype:
            raise TypeError(f"one_hot: dtype of {what} ({v.dtype.name}) must match dtype "
                            f"parameter ({dtype.name}).")
        t = convert_to_tensor(v, dtype=dtype)
        if t.ndim != 0:
            raise InvalidArgumentError(f"one_hot: {what} must be a scalar, got shape {t.shape}.")
        values.append(t.numpy().item())
    r = idx.ndim
    if axis is None or axis == -1:
        axis = r
    elif not 0 <= axis <= r:
        raise InvalidArgumentError(f"one_hot: Expected axis to be -1 or between [0, {r}). But "
                                   f"received: {axis} (indices {_describe(idx)}). [Op:OneHot]")
    return run(_one_hot, (idx,), depth=depth, on_value=values[0], off_value=values[1],
               axis=int(axis), dtype=dtype)


# -- shape queries ------------------------------------------------------------------------------
def _shape_rule(x, out_type):
    return Spec((None if x.shape is None else len(x.shape),), out_type)


@primitive("shape", shape=_shape_rule, differentiable=False)
def _shape(xp, x, out_type):
    return xp.asarray(x.shape, dtype=out_type._np)


def _size_rule(x, out_type):
    return Spec((), out_type)


@primitive("size", shape=_size_rule, differentiable=False)
def _size(xp, x, out_type):
    return _scalar(xp.asarray(x.size, dtype=out_type._np))


@primitive("rank", shape=lambda x: Spec((), dtypes.int32), differentiable=False)
def _rank(xp, x):
    return _scalar(xp.asarray(x.ndim, dtype=np.int32))


def _out_type(out_type, op):
    t = dtypes.int32 if out_type is None else dtypes.as_dtype(out_type)
    if t not in (dtypes.int32, dtypes.int64):
        raise TypeError(f"{op}: out_type must be int32 or int64, got {t.name}.")
    return t


def shape(input, out_type=None, name=None):
    """The shape of `input` as a 1-D int32 (or `out_type`) Tensor (dynamic: works on symbolic
    tensors whose static shape has unknown dims).

    Example:
        >>> dtf.shape(dtf.zeros([2, 3])).numpy()
        array([2, 3], dtype=int32)
    """
    return run(_shape, (_tensor(input),), out_type=_out_type(out_type, "shape"))


def size(input, out_type=None, name=None):
    """The number of elements of `input`, as a scalar int32 (or `out_type`) Tensor."""
    return run(_size, (_tensor(input),), out_type=_out_type(out_type, "size"))


def rank(input, name=None):
    """The rank (number of dimensions) of `input`, as a scalar int32 Tensor."""
    return run(_rank, (_tensor(input),))


def shape_n(input, out_type=dtypes.int32, name=None):
    """The shapes of a list of tensors, as a list of 1-D Tensors."""
    t = _out_type(out_type, "shape_n")
    return [run(_shape, (_tensor(x),), out_type=t) for x in input]


def _ensure_shape_rule(x, shape):
    if shape is None:
        return Spec(x.shape, x.dtype)
    if x.shape is None:
        return Spec(shape, x.dtype)
    return Spec(tuple(a if a is not None else b for a, b in zip(shape, x.shape)), x.dtype)


@primitive("ensure_shape", shape=_ensure_shape_rule)
def _ensure_shape(xp, x, shape):
    # Checked here too (not only in the wrapper) so that traced graphs check at run time.
    if shape is not None and (len(shape) != x.ndim or any(
            e is not None and e != d for e, d in zip(shape, x.shape))):
        raise InvalidArgumentError(
            f"ensure_shape: Shape of tensor x {list(x.shape)} is not compatible with expected "
            f"shape {list(shape)} (dtype {x.dtype}). [Op:EnsureShape]")
    return x


@_ensure_shape.def_vjp
def _(g, out, x, shape):
    return (g,)


def ensure_shape(x, shape, name=None):
    """Returns `x` (with its static shape refined) after checking that its shape is compatible
    with `shape` (None dims match anything); raises InvalidArgumentError otherwise.

    Example:
        >>> dtf.ensure_shape(dtf.zeros([2, 3]), [None, 3]).shape
        TensorShape([2, 3])
    """
    from dtf.tensor_shape import TensorShape

    t = _tensor(x)
    if shape is not None and not isinstance(shape, TensorShape):
        shape = TensorShape([None if d is None or d == -1 else d
                             for d in _shape_list(shape, "ensure_shape")])
    expected = None if shape is None or shape.rank is None else tuple(shape.as_list())
    dims = _dims(t)
    if expected is not None and dims is not None and (len(expected) != len(dims) or any(
            e is not None and d is not None and e != d for e, d in zip(expected, dims))):
        raise InvalidArgumentError(
            f"ensure_shape: Shape of tensor x {list(dims)} is not compatible with expected "
            f"shape {list(expected)} (dtype {t.dtype.name}). [Op:EnsureShape]")
    return run(_ensure_shape, (t,), shape=expected)


# -- reverse ------------------------------------------------------------------------------------
@primitive("reverse", shape=rules.same_shape)
def _reverse(xp, x, axes):
    return xp.flip(x, axis=axes)


@_reverse.def_vjp
def _(g, out, x, axes):
    return (run(_reverse, (g,), axes=axes),)


def reverse(tensor, axis, name=None):
    """Reverses `tensor` along each dimension in `axis` (a list of ints).

    Example:
        >>> dtf.reverse(dtf.constant([[1, 2], [3, 4]]), [1]).numpy()
        array([[2, 1],
               [4, 3]], dtype=int32)
    """
    x = _tensor(tensor)
    r = x.ndim
    axes = _int_list(axis, "reverse", "axis")
    for a in axes:
        if not -r <= a < r:
            raise InvalidArgumentError(f"reverse: 'axis' = {a} is out of valid range "
                                       f"[{-r}, {r}) for a {_describe(x)}. [Op:ReverseV2]")
    norm = tuple(a % r for a in axes)
    if len(set(norm)) != len(norm):
        raise InvalidArgumentError(f"reverse: axis {list(axes)} names a dimension more than "
                                   "once. [Op:ReverseV2]")
    if not norm:
        return x
    return run(_reverse, (x,), axes=tuple(sorted(norm)))


# -- sort, argsort, top_k -----------------------------------------------------------------------
def _argsort_array(xp, x, axis, descending):
    """Stable argsort; descending keeps equal elements in their original order (ties: lower
    index first, as TensorFlow's top_k)."""
    if not descending:
        return xp.argsort(x, axis=axis, kind="stable")
    n = x.shape[axis]
    flipped = xp.argsort(xp.flip(x, axis=axis), axis=axis, kind="stable")
    return (n - 1) - xp.flip(flipped, axis=axis)


def _argsort_rule(x, axis, descending):
    return Spec(x.shape, dtypes.int32)


@primitive("argsort", shape=_argsort_rule, differentiable=False)
def _argsort(xp, x, axis, descending):
    return _argsort_array(xp, x, axis, descending).astype(np.int32)


@primitive("sort", shape=lambda x, axis, descending: Spec(x.shape, x.dtype))
def _sort(xp, x, axis, descending):
    out = xp.sort(x, axis=axis)
    return xp.flip(out, axis=axis) if descending else out


@_sort.def_vjp
def _(g, out, x, axis, descending):
    # The gradient goes back to where each sorted element came from: scatter g by the sorting
    # permutation (gather's adjoint), recomputed here since the forward pass keeps no indices.
    idx = run(_argsort, (x,), axis=axis, descending=descending)
    last = x.ndim - 1
    if axis != last:
        perm = _move_last_perm(x.ndim, axis)
        g = run(_transpose, (g,), perm=perm)
        idx = run(_transpose, (idx,), perm=perm)
    gx = run(_gather_grad, (g, idx), axis=last, batch_dims=last, dim=x.shape[axis])
    if axis != last:
        gx = run(_transpose, (gx,), perm=tuple(int(i) for i in np.argsort(perm)))
    return (gx,)


def _move_last_perm(rank, axis):
    return tuple(i for i in range(rank) if i != axis) + (axis,)


def _direction(direction, op):
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"{op}: Argument `direction` should be one of ASCENDING, DESCENDING. "
                         f"Received: direction={direction}")
    return direction == "DESCENDING"


def _sortable(values, axis, op):
    x = _tensor(values)
    if x.dtype.is_complex:
        raise TypeError(f"{op}: complex values ({x.dtype.name}) have no order.")
    if x.ndim == 0:
        raise InvalidArgumentError(f"{op}: input must be at least rank 1, got a scalar "
                                   f"({_describe(x)}).")
    return x, _axis(axis, x.ndim, op)


def sort(values, axis=-1, direction="ASCENDING", name=None):
    """`values` sorted along `axis`.

    Example:
        >>> dtf.sort(dtf.constant([3, 1, 2]), direction="DESCENDING").numpy()
        array([3, 2, 1], dtype=int32)
    """
    descending = _direction(direction, "sort")
    x, axis = _sortable(values, axis, "sort")
    return run(_sort, (x,), axis=axis, descending=descending)


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """The int32 indices that sort `values` along `axis` (always stable in dtf).

    Example:
        >>> dtf.argsort(dtf.constant([3., 1., 2.])).numpy()
        array([1, 2, 0], dtype=int32)
    """
    descending = _direction(direction, "argsort")
    x, axis = _sortable(values, axis, "argsort")
    return run(_argsort, (x,), axis=axis, descending=descending)


def _top_k_rule(x, k, index_type):
    if x.shape is None:
        return Spec(None, index_type)
    return Spec(x.shape[:-1] + (k,), index_type)


@primitive("top_k_indices", shape=_top_k_rule, differentiable=False)
def _top_k_indices(xp, x, k, index_type):
    return _argsort_array(xp, x, -1, True)[..., :k].astype(index_type._np)


def top_k(input, k=1, sorted=True, index_type=dtypes.int32, name=None):
    """The `k` largest entries of the last dimension and their indices, as
    `TopKV2(values, indices)`; equal values come in index order.

    Example:
        >>> dtf.math.top_k(dtf.constant([1., 3., 2.]), k=2).indices.numpy()
        array([1, 2], dtype=int32)
    """
    x, _ = _sortable(input, -1, "top_k")
    k = _int_scalar(k, "top_k", "k")
    n = _dims(x)[-1]
    if k < 0:
        raise InvalidArgumentError(f"top_k: Need k >= 0, got {k}. [Op:TopKV2]")
    if n is not None and n < k:
        raise InvalidArgumentError(f"top_k: input must have at least k columns. Had {n}, needed "
                                   f"{k} ({_describe(x)}) [Op:TopKV2]")
    index_type = dtypes.as_dtype(index_type)
    indices = run(_top_k_indices, (x,), k=k, index_type=index_type)
    last = x.ndim - 1
    values = run(_gather, (x, indices), axis=last, batch_dims=last)
    return TopKV2(values=values, indices=indices)


# -- meshgrid, slice, strided_slice, repeat, roll (composites) ----------------------------------
def meshgrid(*args, **kwargs):
    """Coordinate grids from 1-D tensors; `indexing="xy"` (default, Cartesian: the first two
    output dims swapped) or `"ij"` (matrix).

    Example:
        >>> [g.shape for g in dtf.meshgrid([1, 2, 3], [4, 5])]
        [TensorShape([2, 3]), TensorShape([2, 3])]
    """
    indexing = kwargs.pop("indexing", "xy")
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"meshgrid: unexpected keyword arguments {sorted(kwargs)}.")
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}.")
    vecs = [reshape(_tensor(a), (-1,)) for a in args]
    n = len(vecs)
    if n == 0:
        return []
    sizes = [int(v.shape[0]) for v in vecs]
    positions = list(range(n))
    if indexing == "xy" and n > 1:
        positions[0], positions[1] = 1, 0
    full = [0] * n
    for p, s in zip(positions, sizes):
        full[p] = s
    out = []
    for v, p, s in zip(vecs, positions, sizes):
        dims = [1] * n
        dims[p] = s
        out.append(broadcast_to(reshape(v, dims), full))
    return out


def slice(input_, begin, size, name=None):
    """The slice of `input_` starting at `begin` with `size` elements per dim (-1: the rest).

    Example:
        >>> dtf.slice(dtf.constant([[1, 2, 3], [4, 5, 6]]), [0, 1], [2, -1]).numpy()
        array([[2, 3],
               [5, 6]], dtype=int32)
    """
    x = _tensor(input_)
    dims = _dims(x)
    begin = _int_list(begin, "slice", "begin")
    sizes = _int_list(size, "slice", "size")
    if len(begin) != len(dims) or len(sizes) != len(dims):
        raise InvalidArgumentError(
            f"slice: Expected begin and size arguments to be 1-D tensors of size {len(dims)}, "
            f"but got shapes [{len(begin)}] and [{len(sizes)}] instead ({_describe(x)}). "
            "[Op:Slice]")
    key = []
    for i, (b, s, d) in enumerate(zip(begin, sizes, dims)):
        e = d if s == -1 else b + s
        if b < 0 or s < -1 or (d is not None and (b > d or e > d)):
            raise InvalidArgumentError(
                f"slice: Expected size[{i}] in [0, {None if d is None else d - b}], but got {s} "
                f"(begin[{i}] = {b}, dimension {i} of {_describe(x)}). [Op:Slice]")
        key.append(("s", b, e, None))
    return run(_strided_slice, (x,), key=tuple(key))


def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0, ellipsis_mask=0,
                  new_axis_mask=0, shrink_axis_mask=0, var=None, name=None):
    """TensorFlow's mask-driven slicing, `input_[begin:end:strides]` per dim (what `t[...]`
    compiles to)."""
    begin = _int_list(begin, "strided_slice", "begin")
    end = _int_list(end, "strided_slice", "end")
    strides = (1,) * len(begin) if strides is None else \
        _int_list(strides, "strided_slice", "strides")
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
            if s == 0:
                raise InvalidArgumentError("strided_slice: strides must be non-zero.")
            key.append(_builtin_slice(None if begin_mask & bit else b,
                                      None if end_mask & bit else e, s))
    return getitem(input_ if var is None else var, tuple(key))


def repeat(input, repeats, axis=None, name=None):
    """Repeats each element (or slice along `axis`) `repeats` times; without `axis` the input is
    flattened first.

    Example:
        >>> dtf.repeat(dtf.constant([1, 2]), [2, 3], axis=0).numpy()
        array([1, 1, 2, 2, 2], dtype=int32)
    """
    x = _tensor(input)
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    dims = _dims(x)
    axis = _axis(axis, len(dims), "repeat")
    reps = _int_list(repeats, "repeat", "repeats")
    n = dims[axis]
    if len(reps) not in (1, n) or any(r < 0 for r in reps):
        raise InvalidArgumentError(f"repeat: repeats must be a non-negative int or a list of "
                                   f"{n} of them (dimension {axis} of {_describe(x)}), got "
                                   f"{list(reps)}.")
    idx = np.repeat(np.arange(n, dtype=np.int64), reps if len(reps) == n else reps[0])
    return gather(x, idx, axis=axis)


def roll(input, shift, axis, name=None):
    """Rolls elements along `axis` by `shift` (elements leaving one end enter at the other).

    Example:
        >>> dtf.roll(dtf.constant([1, 2, 3, 4]), 1, 0).numpy()
        array([4, 1, 2, 3], dtype=int32)
    """
    x = _tensor(input)
    shifts = _int_list(shift, "roll", "shift")
    axes = _int_list(axis, "roll", "axis")
    if len(shifts) != len(axes):
        raise InvalidArgumentError(f"roll: shift and axis must have the same size, got "
                                   f"{len(shifts)} and {len(axes)}. [Op:Roll]")
    dims = _dims(x)
    total = {}
    for s, a in zip(shifts, axes):
        a = _axis(a, len(dims), "roll")
        total[a] = total.get(a, 0) + s
    for a, s in sorted(total.items()):
        n = dims[a]
        if n and s % n:
            x = gather(x, (np.arange(n, dtype=np.int64) - s) % n, axis=a)
    return x


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
        elif isinstance(k, _builtin_slice):
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
        out.append(k[1] if tag == "i" else _builtin_slice(k[1], k[2], k[3]) if tag == "s"
                   else Ellipsis if tag == "e" else None)
    return tuple(out)


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


def _slice_rule(x, key):
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
            out.append(None if d is None else len(range(*_builtin_slice(k[1], k[2], k[3])
                                                          .indices(d))))
            i += 1
    out.extend(dims[i:])
    return Spec(tuple(out), x.dtype)


@primitive("strided_slice", shape=_slice_rule)
def _strided_slice(xp, x, key):
    try:
        return x[decode_key(key)]  # a view: tensors never change, so sharing memory is safe
    except IndexError:
        for k, dim in zip(key, _key_dims(key, x.ndim)):
            if k[0] == "i" and not -x.shape[dim] <= k[1] < x.shape[dim]:
                raise _index_error("strided_slice", "StridedSlice",
                                   f"slice index {k[1]} of dimension {dim} out of bounds",
                                   ("input", x)) from None
        raise


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

        idx = decode_key(ekey)

        def make(array):
            t = VariableSlice(array)
            t._variable, t._key = _slice_of, idx
            return t

        return registry.execute(_strided_slice, (x,), {"key": ekey}, make)
    return run(_strided_slice, (x,), key=ekey)


def _is_advanced(key):
    if isinstance(key, (list, np.ndarray)):
        return True
    if isinstance(key, Tensor) or getattr(key, "_is_dtf_variable", False):
        return key.ndim > 0 or key.dtype == dtypes.bool
    return False
