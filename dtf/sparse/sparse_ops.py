"""dtf.sparse's ops on SparseTensors: conversion, reordering and selection.

Each op has two paths. Eagerly (concrete indices and dense shape) the index bookkeeping
(sorting, merging, masking coordinates) is done on the host with NumPy, as TensorFlow's kernels
do it on the CPU. Inside a `dtf.function` the indices are symbolic and the same work is graph
ops: dtf's own (gather, boolean_mask, where, ...) and the non-differentiable index primitives of
`dtf.sparse.sparse_prims` (row-major order, distinct rows, SparseToDense's checks). Either way
the values go through differentiable dtf ops (gather, gather_nd, scatter_nd,
tensor_scatter_nd_*, boolean_mask), so gradients reach them, and the dense operands, where
TensorFlow's do. The arithmetic and reductions are in `dtf.sparse.sparse_math`.
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops import math_ops
from dtf.ops.array_ops import concat as _dense_concat
from dtf.ops.array_ops import reshape, shape, stack
from dtf.ops.creation_ops import cast, convert_to_tensor, fill
from dtf.ops.indexing_ops import boolean_mask, gather, gather_nd, tensor_scatter_nd_update
from dtf.ops.nn_ops import stop_gradient
from dtf.ops.reduce_ops import cumsum, reduce_all, reduce_max
from dtf.ops.reduce_ops import reduce_sum as _dense_reduce_sum
from dtf.sparse import sparse_prims
from dtf.sparse.sparse_prims import check_indices, lexsort_rows
from dtf.sparse.sparse_tensor import SparseTensor

__all__ = [
    "concat",
    "eye",
    "from_dense",
    "map_values",
    "reorder",
    "retain",
    "slice",
    "to_dense",
    "transpose",
]


# -- helpers -----------------------------------------------------------------------------------
def _is_sparse(x) -> bool:
    return getattr(x, "_is_sparse_tensor", False)


def _require_sparse(x, op, what="sp_input"):
    if not _is_sparse(x):
        raise TypeError(f"{op}: {what} must be a SparseTensor, got {type(x).__name__}. "
                        "Use dtf.sparse.from_dense to make one from a dense tensor.")
    return x


def _is_concrete(x) -> bool:
    """An eager value (Python data, arrays, eager Tensors): not symbolic."""
    return not getattr(x, "_is_symbolic", False)


def _host_indices(sp) -> np.ndarray:
    return np.asarray(sp.indices.numpy(), dtype=np.int64).reshape(-1, sp.ndim)


def _index_tensor(array: np.ndarray):
    return convert_to_tensor(np.ascontiguousarray(array, dtype=np.int64))


def _gather_values(values, positions: np.ndarray):
    if positions.size == values.shape[0] and np.array_equal(positions,
                                                            np.arange(positions.size)):
        return values  # nothing moves: keep the tensor (and the tape) as it is
    return gather(values, _index_tensor(positions))


def _reordered(indices: np.ndarray, values, shape) -> SparseTensor:
    order = lexsort_rows(indices)
    return SparseTensor(_index_tensor(indices[order]), _gather_values(values, order), shape)


def _reordered_symbolic(indices, values, dense_shape, static_shape) -> SparseTensor:
    """`_reordered` for indices known at run time: the sort is a graph node."""
    order = sparse_prims.row_major_order(indices)
    return SparseTensor._with_static_shape(gather(indices, order), gather(values, order),
                                           dense_shape, static_shape)


def _int64_vector(x, what, op):
    """`x` (Python ints, an array or a tensor) as an int64 tensor, symbolic or not."""
    t = convert_to_tensor(x, dtype_hint=dtypes.int64)
    if t.dtype != dtypes.int64:
        if not t.dtype.is_integer:
            raise TypeError(f"{op}: {what} must be integers, got a {t.dtype.name} tensor.")
        t = cast(t, dtypes.int64)
    return t


def _shape_arg(sp):
    """The dense shape as ops take it: a list when fully known, else the int64 tensor."""
    return list(sp._shape_tuple) if None not in sp._shape_tuple else sp.dense_shape


def _axes(axis, rank, op):
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(
        np.asarray(axis.numpy() if hasattr(axis, "numpy") else axis).reshape(-1))
    out = []
    for a in axes:
        a = int(a)
        if not -rank <= a < rank:
            raise InvalidArgumentError(f"{op}: axis {a} is out of range for a SparseTensor of "
                                       f"rank {rank} (valid: [{-rank}, {rank})).")
        out.append(a % rank)
    return sorted(set(out))


# -- conversion --------------------------------------------------------------------------------
def to_dense(sp_input, default_value=None, validate_indices=True, name=None):
    """The dense tensor a SparseTensor stands for, `default_value` where nothing is stored.

    Args:
        sp_input: a SparseTensor.
        default_value: the value of unstored entries (0 of the values' dtype by default).
        validate_indices: check that the indices are in row-major order without repeats.

    The gradient flows to `sp_input.values`.

    Example:
        >>> sp = dtf.SparseTensor([[0, 1], [1, 0]], [5, 7], [2, 3])
        >>> dtf.sparse.to_dense(sp, default_value=-1).numpy()
        array([[-1,  5, -1],
               [ 7, -1, -1]], dtype=int32)
    """
    sp = _require_sparse(sp_input, "dtf.sparse.to_dense")
    default = 0 if default_value is None else default_value
    base = stop_gradient(fill(_shape_arg(sp), convert_to_tensor(default, dtype=sp.dtype)))
    if not sp._is_eager:  # the checks are a graph node: they run on every call's indices
        indices = sparse_prims.validate_indices(sp.indices, sp.dense_shape,
                                                bool(validate_indices))
        return tensor_scatter_nd_update(base, indices, sp.values)
    indices = _host_indices(sp)
    check_indices(indices, sp._shape_tuple, bool(validate_indices))
    if indices.shape[0] == 0:
        return base
    return tensor_scatter_nd_update(base, sp.indices, sp.values)


def from_dense(tensor, name=None) -> SparseTensor:
    """A SparseTensor of the non-zero entries of a dense tensor, in row-major order.

    The gradient of the values flows to `tensor`.

    Example:
        >>> sp = dtf.sparse.from_dense(dtf.constant([[0, 1], [2, 0]]))
        >>> sp.indices.numpy().tolist(), sp.values.numpy().tolist()
        ([[0, 1], [1, 0]], [1, 2])
    """
    t = convert_to_tensor(tensor)
    if not _is_concrete(t):
        return _from_dense_symbolic(t)
    nonzero = np.argwhere(np.asarray(t.numpy()) != np.zeros((), t.dtype.as_numpy_dtype))
    indices = _index_tensor(nonzero.reshape(-1, t.shape.rank))
    values = gather_nd(t, indices) if t.shape.rank else reshape(t, [-1])[:nonzero.shape[0]]
    return SparseTensor(indices, values, list(t.shape.as_list()))


def _from_dense_symbolic(t) -> SparseTensor:
    if t.shape.rank is None:
        raise ValueError(f"dtf.sparse.from_dense: the rank of {t.name} is unknown (shape "
                         f"{t.shape}); a SparseTensor needs a known rank. Give the tensor a "
                         "static rank (dtf.ensure_shape) first.")
    nonzero = math_ops.not_equal(t, convert_to_tensor(0, dtype=t.dtype))
    indices = math_ops.where(nonzero)
    values = gather_nd(t, indices) if t.shape.rank else boolean_mask(reshape(t, [-1]),
                                                                     reshape(nonzero, [-1]))
    return SparseTensor._with_static_shape(indices, values, shape(t, out_type=dtypes.int64),
                                           t.shape.as_list())


def eye(num_rows, num_columns=None, dtype=dtypes.float32, name=None) -> SparseTensor:
    """A sparse [num_rows, num_columns] matrix with ones on its diagonal.

    Example:
        >>> dtf.sparse.eye(2, 3, dtype=dtf.int32).indices.numpy().tolist()
        [[0, 0], [1, 1]]
    """
    num_rows = int(num_rows)
    num_columns = num_rows if num_columns is None else int(num_columns)
    diag = np.arange(min(num_rows, num_columns), dtype=np.int64)
    dtype = dtypes.as_dtype(dtype)
    values = convert_to_tensor(np.ones(diag.size, dtype=dtype.as_numpy_dtype))
    return SparseTensor(_index_tensor(np.stack([diag, diag], axis=1)), values,
                        [num_rows, num_columns])


# -- reordering and selection -------------------------------------------------------------------
def reorder(sp_input, name=None) -> SparseTensor:
    """The same SparseTensor with its entries in canonical row-major order.

    Example:
        >>> sp = dtf.SparseTensor([[1, 0], [0, 2]], [1, 2], [2, 3])
        >>> dtf.sparse.reorder(sp).indices.numpy().tolist()
        [[0, 2], [1, 0]]
    """
    sp = _require_sparse(sp_input, "dtf.sparse.reorder")
    if not sp._is_eager:
        return _reordered_symbolic(sp.indices, sp.values, sp.dense_shape, sp._shape_tuple)
    return _reordered(_host_indices(sp), sp.values, sp.dense_shape)


def retain(sp_input, to_retain) -> SparseTensor:
    """Keeps the entries where the bool vector `to_retain` is True (in their order).

    Example:
        >>> sp = dtf.SparseTensor([[0, 1], [1, 0]], [1, 2], [2, 3])
        >>> dtf.sparse.retain(sp, [False, True]).values.numpy()
        array([2], dtype=int32)
    """
    sp = _require_sparse(sp_input, "dtf.sparse.retain")
    if not (sp._is_eager and _is_concrete(to_retain)):
        return _retain_symbolic(sp, to_retain)
    keep = np.asarray(to_retain.numpy() if hasattr(to_retain, "numpy") else to_retain)
    n = sp.values.shape[0]
    if keep.dtype != np.bool_ or keep.shape != (n,):
        raise InvalidArgumentError(f"dtf.sparse.retain: to_retain must be a bool vector of "
                                   f"length {n} (one flag per stored value), got {keep.dtype} "
                                   f"of shape {list(keep.shape)}. [Op:SparseRetain]")
    positions = np.flatnonzero(keep)
    return SparseTensor(_index_tensor(_host_indices(sp)[positions]),
                        _gather_values(sp.values, positions), sp.dense_shape)


def _retain_symbolic(sp, to_retain) -> SparseTensor:
    keep = convert_to_tensor(to_retain)
    n = sp.values.shape[0]
    if keep.dtype != dtypes.bool or keep.shape.rank not in (None, 1) or not \
            keep.shape.is_compatible_with([n]):
        raise InvalidArgumentError(f"dtf.sparse.retain: to_retain must be a bool vector with "
                                   f"one flag per stored value (shape [{n}]), got "
                                   f"{keep.dtype.name} of shape {keep.shape}. [Op:SparseRetain]")
    return SparseTensor._with_static_shape(boolean_mask(sp.indices, keep),
                                           boolean_mask(sp.values, keep), sp.dense_shape,
                                           sp._shape_tuple)


def slice(sp_input, start, size, name=None) -> SparseTensor:
    """The entries inside the box [start, start + size), re-indexed from `start`.

    The result's shape is `size` clipped to what lies inside the input.

    Example:
        >>> sp = dtf.SparseTensor([[0, 1], [1, 0], [2, 1]], [1., 2., 3.], [3, 2])
        >>> dtf.sparse.slice(sp, [1, 0], [5, 5]).indices.numpy().tolist()
        [[0, 0], [1, 1]]
    """
    sp = _require_sparse(sp_input, "dtf.sparse.slice")
    if not (sp._is_eager and _is_concrete(start) and _is_concrete(size)):
        return _slice_symbolic(sp, start, size)
    start = np.asarray(start.numpy() if hasattr(start, "numpy") else start, np.int64)
    size = np.asarray(size.numpy() if hasattr(size, "numpy") else size, np.int64)
    shape = np.asarray(sp._shape_tuple, np.int64)
    if start.shape != shape.shape or size.shape != shape.shape:
        raise InvalidArgumentError(f"dtf.sparse.slice: start {start.tolist()} and size "
                                   f"{size.tolist()} must each have one entry per dimension of "
                                   f"the input's shape {shape.tolist()}. [Op:SparseSlice]")
    if np.any(start < 0) or np.any(size < 0):
        raise InvalidArgumentError(f"dtf.sparse.slice: start {start.tolist()} and size "
                                   f"{size.tolist()} must be non-negative. [Op:SparseSlice]")
    out_shape = np.maximum(np.minimum(start + size, shape) - start, 0)
    indices = _host_indices(sp)
    inside = np.all((indices >= start) & (indices < start + out_shape), axis=1)
    positions = np.flatnonzero(inside)
    return SparseTensor(_index_tensor(indices[positions] - start),
                        _gather_values(sp.values, positions), out_shape.tolist())


def _slice_symbolic(sp, start, size) -> SparseTensor:
    rank = sp.ndim
    start_t = _int64_vector(start, "start", "dtf.sparse.slice")
    size_t = _int64_vector(size, "size", "dtf.sparse.slice")
    for what, t in (("start", start_t), ("size", size_t)):
        if not t.shape.is_compatible_with([rank]):
            raise InvalidArgumentError(f"dtf.sparse.slice: {what} must have one entry per "
                                       f"dimension of the input's shape {list(sp._shape_tuple)}"
                                       f", got shape {t.shape}. [Op:SparseSlice]")
    zero = convert_to_tensor(0, dtype=dtypes.int64)
    end = math_ops.minimum(start_t + size_t, sp.dense_shape)
    out_shape = math_ops.maximum(end - start_t, zero)
    inside = reduce_all(math_ops.logical_and(math_ops.greater_equal(sp.indices, start_t),
                                             math_ops.less(sp.indices, start_t + out_shape)),
                        axis=1)
    indices = boolean_mask(sp.indices, inside) - start_t
    static = None
    if _is_concrete(start) and _is_concrete(size):  # what is known of the shape statically
        lo = np.asarray(start.numpy() if hasattr(start, "numpy") else start, np.int64).ravel()
        n = np.asarray(size.numpy() if hasattr(size, "numpy") else size, np.int64).ravel()
        static = [None if d is None else int(max(min(a + b, d) - a, 0))
                  for a, b, d in zip(lo, n, sp._shape_tuple)]
    return SparseTensor._with_static_shape(indices, boolean_mask(sp.values, inside), out_shape,
                                           static)


def transpose(sp_input, perm=None, name=None) -> SparseTensor:
    """Permutes the dimensions (reversed by default); the result is in row-major order.

    Example:
        >>> sp = dtf.SparseTensor([[0, 1], [1, 0]], [1, 2], [2, 3])
        >>> t = dtf.sparse.transpose(sp)
        >>> t.shape, t.values.numpy().tolist()
        (TensorShape([3, 2]), [2, 1])
    """
    sp = _require_sparse(sp_input, "dtf.sparse.transpose")
    rank = sp.ndim
    perm = list(range(rank))[::-1] if perm is None else [
        int(p) for p in np.asarray(perm.numpy() if hasattr(perm, "numpy") else perm).ravel()]
    if sorted(perm) != list(range(rank)):
        raise InvalidArgumentError(f"dtf.sparse.transpose: perm {perm} is not a permutation of "
                                   f"the {rank} dimensions of a SparseTensor of shape "
                                   f"{list(sp._shape_tuple)}.")
    static = [sp._shape_tuple[p] for p in perm]
    if not sp._is_eager:
        order = np.asarray(perm, np.int64)
        return _reordered_symbolic(gather(sp.indices, order, axis=1), sp.values,
                                   gather(sp.dense_shape, order), static)
    indices = _host_indices(sp)[:, perm]
    return _reordered(indices, sp.values, static)


def concat(axis, sp_inputs, expand_nonconcat_dims=False, name=None) -> SparseTensor:
    """Concatenates SparseTensors along `axis`; the result is in row-major order.

    Args:
        axis: the dimension to concatenate along.
        sp_inputs: a list of SparseTensors of one rank and dtype.
        expand_nonconcat_dims: let the other dimensions differ; the result takes their maximum.

    Example:
        >>> a = dtf.SparseTensor([[0, 1], [1, 0]], [1, 2], [2, 3])
        >>> b = dtf.SparseTensor([[0, 0], [1, 2]], [3, 4], [2, 2])
        >>> dtf.sparse.concat(1, [a, b]).indices.numpy().tolist()
        [[0, 1], [0, 3], [1, 0], [1, 5]]
    """
    sps = [_require_sparse(s, "dtf.sparse.concat", f"sp_inputs[{i}]")
           for i, s in enumerate(sp_inputs)]
    if not sps:
        raise ValueError("dtf.sparse.concat: sp_inputs is empty; give at least one SparseTensor.")
    rank = sps[0].ndim
    for i, s in enumerate(sps):
        if s.ndim != rank:
            raise InvalidArgumentError(f"dtf.sparse.concat: all inputs must have rank {rank}, "
                                       f"sp_inputs[{i}] has shape {list(s._shape_tuple)}. "
                                       "[Op:SparseConcat]")
        if s.dtype != sps[0].dtype:
            raise InvalidArgumentError(f"dtf.sparse.concat: sp_inputs[{i}] has dtype "
                                       f"{s.dtype.name}, expected {sps[0].dtype.name}; cast the "
                                       "values first. [Op:SparseConcat]")
    (axis,) = _axes(axis, rank, "dtf.sparse.concat")
    if not expand_nonconcat_dims:  # the other dims must match where they are known
        first = sps[0]._shape_tuple
        for i, s in enumerate(sps):
            for d in range(rank):
                a, b = first[d], s._shape_tuple[d]
                if d != axis and None not in (a, b) and a != b:
                    raise InvalidArgumentError(
                        f"Input shapes must match: expected {a} for dimension {d} "
                        f"but got {b} at position {i} [Op:SparseConcat]")
    values = sps[0].values if len(sps) == 1 else _dense_concat([s.values for s in sps], axis=0)
    if not all(s._is_eager for s in sps):
        return _concat_symbolic(axis, sps, values)
    shapes = np.asarray([s._shape_tuple for s in sps], np.int64).reshape(len(sps), rank)
    out_shape = shapes.max(axis=0)
    offsets = np.concatenate(([0], np.cumsum(shapes[:, axis])))
    out_shape[axis] = offsets[-1]
    parts = []
    for s, off in zip(sps, offsets):
        idx = _host_indices(s).copy()
        idx[:, axis] += off
        parts.append(idx)
    return _reordered(np.concatenate(parts, axis=0), values, out_shape.tolist())


def _concat_symbolic(axis, sps, values) -> SparseTensor:
    rank = sps[0].ndim
    shapes = stack([s.dense_shape for s in sps])  # [k, rank]
    sizes = shapes[:, axis]
    offsets = cumsum(sizes, exclusive=True)
    unit = np.zeros(rank, np.int64)
    unit[axis] = 1  # shifts a coordinate along the concatenation axis only
    parts = [s.indices + offsets[i] * unit for i, s in enumerate(sps)]
    largest = reduce_max(shapes, axis=0)
    out_shape = _dense_concat([largest[:axis], reshape(_dense_reduce_sum(sizes), [1]),
                               largest[axis + 1:]], axis=0)
    static = []
    for d in range(rank):
        dims = [s._shape_tuple[d] for s in sps]
        known = None if None in dims else (sum(dims) if d == axis else max(dims))
        static.append(known)
    return _reordered_symbolic(_dense_concat(parts, axis=0), values, out_shape, static)


def map_values(op, *args, **kwargs):
    """Applies `op` to the values of the SparseTensors among `args`/`kwargs` (same indices).

    Example:
        >>> sp = dtf.SparseTensor([[0, 1]], [4.0], [2, 2])
        >>> dtf.sparse.map_values(dtf.sqrt, sp).values.numpy()
        array([2.], dtype=float32)
    """
    sparse = [a for a in list(args) + list(kwargs.values()) if _is_sparse(a)]
    if not sparse:
        raise ValueError("dtf.sparse.map_values: no SparseTensor among the arguments.")
    first = sparse[0]
    for s in sparse[1:]:
        if s.indices is first.indices and s.dense_shape is first.dense_shape:
            continue
        if s._is_eager and first._is_eager:
            same = s._shape_tuple == first._shape_tuple and np.array_equal(
                _host_indices(s), _host_indices(first))
        else:  # symbolic indices: only what is known statically can be compared
            same = s.ndim == first.ndim and all(
                None in (a, b) or a == b for a, b in zip(s._shape_tuple, first._shape_tuple))
        if not same:
            raise ValueError("dtf.sparse.map_values: the SparseTensors must have the same "
                             "indices and dense_shape.")

    def unwrap(a):
        return a.values if _is_sparse(a) else a

    out = op(*[unwrap(a) for a in args], **{k: unwrap(v) for k, v in kwargs.items()})
    return SparseTensor._with_static_shape(first.indices, out, first.dense_shape,
                                           first._shape_tuple)


