"""Shape ops: reshape, broadcast_to, transpose, expand_dims/squeeze, stack/unstack,
concat/split, shape queries (and, from repeat_ops, tile, pad, reverse, meshgrid, repeat, roll).

Conventions (shared by indexing_ops, slicing_ops, repeat_ops and sort_ops): every primitive's
attributes are hashable and normalised (non-negative axes, tuples), its impl computes with `xp`,
and its VJP is written in dtf ops so that second-order gradients work. Errors name the op, the
shapes and the dtypes. Dims known only when a traced graph runs are read then: a shape attribute
holds None for them and the op takes the runtime shape vector as an extra input (see
dtf.ops.dynamic_shapes); eager calls never need it.
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops.array_utils import (
    _axis,
    _describe,
    _dims,
    _int_list,
    _int_scalar,
    _same_dtype,
    _scalar,
    _shape_list,
    _tensor,
)
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.dynamic_shapes import (
    dim_of,
    fully_known,
    infer_reshape_dims,
    runtime_shape,
    shape_arg,
    shape_of,
    static_dims,
)
from dtf.ops.math_ops import conj, unbroadcast
from dtf.ops.registry import Spec, primitive, run
from dtf.tensor import Tensor

__all__ = [
    "broadcast_to",
    "concat",
    "ensure_shape",
    "expand_dims",
    "meshgrid",
    "pad",
    "rank",
    "repeat",
    "reshape",
    "reverse",
    "roll",
    "shape",
    "shape_n",
    "size",
    "split",
    "squeeze",
    "stack",
    "tile",
    "transpose",
    "unstack",
]

# -- reshape ------------------------------------------------------------------------------------
# `shape` holds ints, -1 for the one dim to infer, and None for dims known only at run time: then
# the runtime shape vector is an extra input (see dtf.ops.dynamic_shapes).
def _reshape_rule(x, *runtime, shape):
    if shape is None:
        n = runtime[0].shape[0] if runtime and runtime[0].shape is not None else None
        return Spec(None if n is None else (None,) * n, x.dtype)
    free = [i for i, d in enumerate(shape) if d is None or d == -1]
    if len(free) == 1 and x.shape is not None and None not in x.shape:
        total = int(np.prod(x.shape, dtype=np.int64))
        known = [d for d in shape if d is not None and d != -1]
        rest = int(np.prod(known, dtype=np.int64)) if known else 1
        i = free[0]
        return Spec(shape[:i] + (total // rest if rest else 0,) + shape[i + 1:], x.dtype)
    return Spec(tuple(None if d is None or d == -1 else d for d in shape), x.dtype)


@primitive("reshape", shape=_reshape_rule)
def _reshape(xp, x, *runtime, shape):
    return _scalar(xp.reshape(x, runtime_shape(shape, runtime)))


@_reshape.def_vjp
def _(g, out, x, *runtime, shape):
    return (reshape_like(g, x),) + (None,) * len(runtime)


def reshape_like(g, x):
    """`g` reshaped to `x`'s shape (read at run time when some of its dims are unknown)."""
    dims = static_dims(x)
    if fully_known(dims):
        return run(_reshape, (g,), shape=tuple(dims))
    return run(_reshape, (g, shape_of(x)), shape=dims)


def reshape(tensor, shape, name=None):
    """Reshapes `tensor` to `shape` (one dim may be -1: inferred). `shape` may be a 1-D int
    tensor, or hold scalar int tensors: in a traced function, `dtf.shape(y)` and its parts.

    Example:
        >>> dtf.reshape(dtf.range(6), [2, -1]).shape
        TensorShape([2, 3])
    """
    x = tensor if type(tensor) is Tensor else convert_to_tensor(tensor)
    dims = runtime = None
    if not getattr(shape, "_is_symbolic", False):
        try:
            dims = _shape_list(shape, "reshape")
        except TypeError:
            pass
    if dims is None:
        dims, runtime = shape_arg(shape, "reshape")
    if dims is not None and dims.count(-1) > 1:
        raise InvalidArgumentError(f"reshape: only one dimension may be -1, got {list(dims)}.")
    if runtime is not None:
        return run(_reshape, (x, runtime), shape=infer_reshape_dims(x, dims, shape))
    n = x._value.size if type(x) is Tensor else None
    if n is not None:
        known = int(np.prod([d for d in dims if d != -1], dtype=np.int64))
        if (-1 not in dims and known != n) or (-1 in dims and (known == 0 or n % known)):
            raise InvalidArgumentError(
                f"reshape: Input to reshape is a tensor with {n} values, but the requested "
                f"shape {list(dims)} has {known}{' (times the -1 dim)' if -1 in dims else ''}. "
                f"[Op:Reshape] (input shape {x.shape}, dtype {x.dtype.name})")
    return run(_reshape, (x,), shape=dims)


# -- broadcast_like: broadcast_to a shape known only when the graph runs ----------------------------
def _broadcast_like_rule(x, like):
    if like.shape is None:
        return Spec(None, x.dtype)
    return Spec(tuple(like.shape), x.dtype)


@primitive("broadcast_like", shape=_broadcast_like_rule)
def _broadcast_like(xp, x, like):
    """`broadcast_to(x, like.shape)`: reductions' VJPs on inputs of unknown dims use it."""
    return xp.broadcast_to(x, like.shape)


@_broadcast_like.def_vjp
def _(g, out, x, like):
    return unbroadcast(g, x), None


def broadcast_like(x, like):
    """`x` broadcast to the shape of `like` (read when the op runs, so unknown dims work)."""
    return run(_broadcast_like, (x, like))


# -- broadcast_to -------------------------------------------------------------------------------
def _broadcast_to_rule(x, *runtime, shape):
    if shape is None:
        n = runtime[0].shape[0] if runtime and runtime[0].shape is not None else None
        return Spec(None if n is None else (None,) * n, x.dtype)
    if None in shape and x.shape is not None:  # a known dim of x other than 1 is the result's
        lead = len(shape) - len(x.shape)
        shape = tuple(d if d is not None or i < lead or x.shape[i - lead] in (None, 1)
                      else x.shape[i - lead] for i, d in enumerate(shape))
    return Spec(tuple(shape), x.dtype)


@primitive("broadcast_to", shape=_broadcast_to_rule)
def _broadcast_to(xp, x, *runtime, shape):
    return xp.broadcast_to(x, runtime_shape(shape, runtime))


@_broadcast_to.def_vjp
def _(g, out, x, *runtime, shape):
    return (unbroadcast(g, x),) + (None,) * len(runtime)


def broadcast_to(input, shape, name=None):
    """Broadcasts `input` to `shape` with NumPy's rules (`shape` may be a 1-D int tensor, or
    hold scalar int tensors, known only when a traced graph runs).

    Example:
        >>> dtf.broadcast_to(dtf.constant([1, 2]), [2, 2]).shape
        TensorShape([2, 2])
    """
    x = input if type(input) is Tensor else convert_to_tensor(input)
    dims = runtime = None
    if not getattr(shape, "_is_symbolic", False):
        try:
            dims = _shape_list(shape, "broadcast_to")
        except TypeError:
            pass
    if dims is None:
        dims, runtime = shape_arg(shape, "broadcast_to")
    x_dims = _dims(x)
    if dims is not None and x_dims is not None:
        _check_broadcast(x, x_dims, dims)
    if runtime is not None:
        return run(_broadcast_to, (x, runtime), shape=dims)
    if x_dims is not None and tuple(x_dims) == dims and None not in x_dims:
        return x
    return run(_broadcast_to, (x,), shape=dims)


def _check_broadcast(x, x_dims, target):
    """Raises unless `x_dims` broadcasts to `target` (unknown dims, None, match anything)."""
    try:
        np.broadcast_shapes(tuple(1 if d is None else d for d in x_dims),
                            tuple(1 if d is None else d for d in target))
        if len(x_dims) > len(target):
            raise ValueError
    except ValueError:
        raise InvalidArgumentError(f"broadcast_to: cannot broadcast shape {x.shape} to "
                                   f"{list(target)} ({x.dtype.name}): each dim must equal the "
                                   "target's or be 1. [Op:BroadcastTo]") from None


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
    if x.shape is None or axes is None:  # axes None: the dims found to be 1 at run time
        return Spec(None, x.dtype)
    return Spec(tuple(d for i, d in enumerate(x.shape) if i not in axes), x.dtype)


@primitive("squeeze", shape=_squeeze_rule)
def _squeeze(xp, x, axes):
    return _scalar(xp.squeeze(x, axis=axes))


@_squeeze.def_vjp
def _(g, out, x, axes):
    if axes is None:
        return (reshape_like(g, x),)
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
    if axis is None and (dims is None or None in dims):
        # Which dims are 1 is known only when the graph runs (the result's rank too).
        return run(_squeeze, (x,), axes=None)
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
    sizes = tuple(None if static_dims(x) is None else static_dims(x)[axis] for x in xs)
    if None not in sizes:
        return run(_split, (g,), sizes=sizes, num_split=None, axis=axis)
    runtime = run(_stack, tuple(dim_of(x, axis) for x in xs), axis=0)
    return run(_split, (g, runtime), sizes=sizes, num_split=None, axis=axis)


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
    if any(getattr(v, "_is_ragged_tensor", False) for v in values):
        from dtf.ragged import ragged_ops

        return ragged_ops.concat(values, axis)
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


def _split_rule(x, *runtime, sizes, num_split, axis):
    n = len(sizes) if sizes is not None else num_split
    if x.shape is None:
        return tuple(Spec(None, x.dtype) for _ in range(n))
    d = x.shape[axis]
    if sizes is None:
        parts = [None if d is None else d // num_split] * n
    else:
        parts = list(sizes)
        if -1 in parts:
            rest = None if None in parts else sum(s for s in parts if s != -1)
            parts[parts.index(-1)] = None if d is None or rest is None else d - rest
    return tuple(Spec(x.shape[:axis] + (p,) + x.shape[axis + 1:], x.dtype) for p in parts)


@primitive("split", shape=_split_rule, num_outputs=None)
def _split(xp, x, *runtime, sizes, num_split, axis):
    if sizes is None:
        return tuple(xp.split(x, num_split, axis=axis))
    sizes = list(runtime_shape(sizes, runtime))
    if -1 in sizes:
        sizes[sizes.index(-1)] = x.shape[axis] - (sum(sizes) + 1)
    return tuple(xp.split(x, np.cumsum(sizes[:-1]).tolist(), axis=axis))


@_split.def_vjp
def _(g, out, x, *runtime, sizes, num_split, axis):
    return (run(_concat, tuple(g), axis=axis),) + (None,) * len(runtime)


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
        try:
            if getattr(num_or_size_splits, "_is_symbolic", False):
                raise TypeError  # (iterating it would add nodes)
            sizes = _int_list(num_or_size_splits, "split", "num_or_size_splits")
        except TypeError:  # scalar tensors among the sizes: symbolic ones are read at run time
            sizes, runtime = shape_arg(num_or_size_splits, "split")
            if sizes is None:
                raise ValueError("split: num_or_size_splits must have a known length: it is "
                                 "the number of outputs.") from None
            if runtime is not None:
                return list(run(_split, (x, runtime), sizes=sizes, num_split=None, axis=axis))
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
    x = _tensor(input)
    t = _out_type(out_type, "shape")
    # a symbolic tensor's fully known static shape is a constant of the graph (so what is
    # computed from it folds away and later ops keep static shapes)
    return shape_of(x, t) if getattr(x, "_is_symbolic", False) else run(_shape, (x,), out_type=t)


def size(input, out_type=None, name=None):
    """The number of elements of `input`, as a scalar int32 (or `out_type`) Tensor."""
    x = _tensor(input)
    t = _out_type(out_type, "size")
    dims = _dims(x)
    if getattr(x, "_is_symbolic", False) and fully_known(dims):
        return convert_to_tensor(np.asarray(int(np.prod(dims, dtype=np.int64)), t._np))
    return run(_size, (x,), out_type=t)


def rank(input, name=None):
    """The rank (number of dimensions) of `input`, as a scalar int32 Tensor."""
    x = _tensor(input)
    if getattr(x, "_is_symbolic", False) and _dims(x) is not None:
        return convert_to_tensor(np.int32(len(_dims(x))))
    return run(_rank, (x,))


def shape_n(input, out_type=dtypes.int32, name=None):
    """The shapes of a list of tensors, as a list of 1-D Tensors."""
    return [shape(x, out_type) for x in input]


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


# tile, pad, reverse, meshgrid, repeat and roll live in repeat_ops (built on the ops above);
# they are dtf.ops.array_ops names too.
from dtf.ops.repeat_ops import (  # noqa: F401
    _mirror_pad_grad,
    _pad,
    _reverse,
    _tile,
    meshgrid,
    pad,
    repeat,
    reverse,
    roll,
    tile,
)
