"""dtf.sparse's ops on SparseTensors.

Index bookkeeping (sorting, merging, masking coordinates) is done on the host on the concrete
int64 indices: it is not differentiable and TensorFlow's kernels do the same on the CPU. The
values always go through dtf ops (gather, gather_nd, scatter_nd, tensor_scatter_nd_*), so
gradients reach them, and the dense operands, where TensorFlow's do.
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops.array_ops import broadcast_to, ensure_shape, reshape
from dtf.ops.array_ops import concat as _dense_concat
from dtf.ops.creation_ops import convert_to_tensor, fill
from dtf.ops.indexing_ops import (
    gather,
    gather_nd,
    scatter_nd,
    tensor_scatter_nd_add,
    tensor_scatter_nd_update,
)
from dtf.ops.nn_ops import stop_gradient
from dtf.ops.reduce_ops import reduce_sum as _dense_reduce_sum
from dtf.sparse.sparse_tensor import SparseTensor

__all__ = [
    "add",
    "concat",
    "eye",
    "from_dense",
    "map_values",
    "reduce_sum",
    "reorder",
    "retain",
    "slice",
    "sparse_dense_cwise_div",
    "sparse_dense_cwise_mul",
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


def _host_indices(sp) -> np.ndarray:
    return np.asarray(sp.indices.numpy(), dtype=np.int64).reshape(-1, sp.ndim)


def _index_tensor(array: np.ndarray):
    return convert_to_tensor(np.ascontiguousarray(array, dtype=np.int64))


def _row_major_order(indices: np.ndarray) -> np.ndarray:
    """The permutation that sorts index rows lexicographically (stable)."""
    if indices.shape[1] == 0:
        return np.arange(indices.shape[0])
    return np.lexsort(indices.T[::-1])


def _gather_values(values, positions: np.ndarray):
    if positions.size == values.shape[0] and np.array_equal(positions,
                                                            np.arange(positions.size)):
        return values  # nothing moves: keep the tensor (and the tape) as it is
    return gather(values, _index_tensor(positions))


def _reordered(indices: np.ndarray, values, shape) -> SparseTensor:
    order = _row_major_order(indices)
    return SparseTensor(_index_tensor(indices[order]), _gather_values(values, order), shape)


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
def _validate_for_to_dense(indices: np.ndarray, shape: tuple, validate_order: bool):
    """TensorFlow's SparseToDense checks: in bounds always, order and repeats on request."""
    if indices.shape[0] == 0:
        return
    bounds = np.asarray(shape, dtype=np.int64)
    out_of_bounds = np.any((indices < 0) | (indices >= bounds), axis=1)
    shape_text = ",".join(str(d) for d in shape)
    if not validate_order:
        if out_of_bounds.any():
            raise InvalidArgumentError(f"Indices are not valid (out of bounds).  Shape: "
                                       f"[{shape_text}] [Op:SparseToDense]")
        return
    for i in range(indices.shape[0]):  # the first bad row, in TensorFlow's order of checks
        row = ",".join(str(v) for v in indices[i])
        if out_of_bounds[i]:
            raise InvalidArgumentError(f"indices[{i}] = [{row}] is out of bounds: need 0 <= "
                                       f"index < [{shape_text}] [Op:SparseToDense]")
        if i == 0:
            continue
        prev, cur = tuple(indices[i - 1]), tuple(indices[i])
        if cur < prev:
            raise InvalidArgumentError(
                f"indices[{i}] = [{row}] is out of order. Many sparse ops require sorted "
                "indices. Use `dtf.sparse.reorder` to create a correctly ordered copy. "
                "[Op:SparseToDense]")
        if cur == prev:
            raise InvalidArgumentError(f"indices[{i}] = [{row}] is repeated [Op:SparseToDense]")


def _check_to_dense_fast(indices: np.ndarray, shape: tuple, validate_order: bool):
    if indices.shape[0] == 0:
        return
    bad = np.any((indices < 0) | (indices >= np.asarray(shape, dtype=np.int64)))
    if validate_order and not bad and indices.shape[0] > 1:
        # Row-major order with no repeats: each row compares greater than the one before.
        diff = indices[1:] - indices[:-1]
        first_nonzero = np.argmax(diff != 0, axis=1)
        lead = diff[np.arange(diff.shape[0]), first_nonzero]
        bad = np.any(lead <= 0)
    if bad:
        _validate_for_to_dense(indices, shape, validate_order)


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
    indices = _host_indices(sp)
    shape = sp._shape_tuple
    _check_to_dense_fast(indices, shape, bool(validate_indices))
    default = 0 if default_value is None else default_value
    base = stop_gradient(fill(list(shape), convert_to_tensor(default, dtype=sp.dtype)))
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
    nonzero = np.argwhere(np.asarray(t.numpy()) != np.zeros((), t.dtype.as_numpy_dtype))
    indices = _index_tensor(nonzero.reshape(-1, t.shape.rank))
    values = gather_nd(t, indices) if t.shape.rank else reshape(t, [-1])[:nonzero.shape[0]]
    return SparseTensor(indices, values, list(t.shape.as_list()))


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
    return _reordered(_host_indices(sp), sp.values, sp.dense_shape)


def retain(sp_input, to_retain) -> SparseTensor:
    """Keeps the entries where the bool vector `to_retain` is True (in their order).

    Example:
        >>> sp = dtf.SparseTensor([[0, 1], [1, 0]], [1, 2], [2, 3])
        >>> dtf.sparse.retain(sp, [False, True]).values.numpy()
        array([2], dtype=int32)
    """
    sp = _require_sparse(sp_input, "dtf.sparse.retain")
    keep = np.asarray(to_retain.numpy() if hasattr(to_retain, "numpy") else to_retain)
    n = sp.values.shape[0]
    if keep.dtype != np.bool_ or keep.shape != (n,):
        raise InvalidArgumentError(f"dtf.sparse.retain: to_retain must be a bool vector of "
                                   f"length {n} (one flag per stored value), got {keep.dtype} "
                                   f"of shape {list(keep.shape)}. [Op:SparseRetain]")
    positions = np.flatnonzero(keep)
    return SparseTensor(_index_tensor(_host_indices(sp)[positions]),
                        _gather_values(sp.values, positions), sp.dense_shape)


def slice(sp_input, start, size, name=None) -> SparseTensor:
    """The entries inside the box [start, start + size), re-indexed from `start`.

    The result's shape is `size` clipped to what lies inside the input.

    Example:
        >>> sp = dtf.SparseTensor([[0, 1], [1, 0], [2, 1]], [1., 2., 3.], [3, 2])
        >>> dtf.sparse.slice(sp, [1, 0], [5, 5]).indices.numpy().tolist()
        [[0, 0], [1, 1]]
    """
    sp = _require_sparse(sp_input, "dtf.sparse.slice")
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
    indices = _host_indices(sp)[:, perm]
    return _reordered(indices, sp.values, [sp._shape_tuple[p] for p in perm])


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
    shapes = np.asarray([s._shape_tuple for s in sps], np.int64).reshape(len(sps), rank)
    out_shape = shapes.max(axis=0)
    if not expand_nonconcat_dims:
        for i, shp in enumerate(shapes):
            for d in range(rank):
                if d != axis and shp[d] != shapes[0][d]:
                    raise InvalidArgumentError(
                        f"Input shapes must match: expected {shapes[0][d]} for dimension {d} "
                        f"but got {shp[d]} at position {i} [Op:SparseConcat]")
    offsets = np.concatenate(([0], np.cumsum(shapes[:, axis])))
    out_shape[axis] = offsets[-1]
    parts = []
    for s, off in zip(sps, offsets):
        idx = _host_indices(s).copy()
        idx[:, axis] += off
        parts.append(idx)
    values = sps[0].values if len(sps) == 1 else _dense_concat([s.values for s in sps], axis=0)
    return _reordered(np.concatenate(parts, axis=0), values, out_shape.tolist())


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
    ref = _host_indices(sparse[0])
    for s in sparse[1:]:
        if s._shape_tuple != sparse[0]._shape_tuple or not np.array_equal(_host_indices(s), ref):
            raise ValueError("dtf.sparse.map_values: the SparseTensors must have the same "
                             "indices and dense_shape.")

    def unwrap(a):
        return a.values if _is_sparse(a) else a

    out = op(*[unwrap(a) for a in args], **{k: unwrap(v) for k, v in kwargs.items()})
    return SparseTensor(sparse[0].indices, out, sparse[0].dense_shape)


# -- arithmetic --------------------------------------------------------------------------------
def add(a, b, threshold=0) -> SparseTensor:
    """Adds two tensors, at least one of them sparse.

    Sparse + sparse gives a SparseTensor over the union of their indices (row-major order);
    an entry stored in both is kept only if its sum's magnitude is at least `threshold`.
    Sparse + dense (either order) gives a dense tensor.

    Example:
        >>> a = dtf.SparseTensor([[0, 0], [1, 1]], [1., -1.], [2, 2])
        >>> b = dtf.SparseTensor([[0, 0], [0, 1]], [-1., 0.5], [2, 2])
        >>> c = dtf.sparse.add(a, b, threshold=0.1)
        >>> c.indices.numpy().tolist(), c.values.numpy().tolist()
        ([[0, 1], [1, 1]], [0.5, -1.0])
    """
    if not _is_sparse(a) and not _is_sparse(b):
        raise TypeError("dtf.sparse.add: at least one of a and b must be a SparseTensor; add "
                        "dense tensors with dtf.add.")
    if not (_is_sparse(a) and _is_sparse(b)):
        sp, dense = (a, b) if _is_sparse(a) else (b, a)
        dense = convert_to_tensor(dense, dtype=sp.dtype)
        if None in dense.shape.as_list():  # symbolic with unknown dims: pin them (checked at run)
            dense = ensure_shape(dense, list(sp._shape_tuple))
        if tuple(dense.shape.as_list()) != sp._shape_tuple:
            raise InvalidArgumentError(
                f"dtf.sparse.add: the dense operand's shape {dense.shape.as_list()} must equal "
                f"the SparseTensor's dense_shape {list(sp._shape_tuple)}. "
                "[Op:SparseTensorDenseAdd]")
        if sp.values.shape[0] == 0:
            return dense
        return tensor_scatter_nd_add(dense, sp.indices, sp.values)
    if a._shape_tuple != b._shape_tuple:
        raise InvalidArgumentError(f"dtf.sparse.add: operands' shapes do not match: "
                                   f"{list(a._shape_tuple)} vs. {list(b._shape_tuple)} "
                                   "[Op:SparseAdd]")
    if a.dtype != b.dtype:
        raise InvalidArgumentError(f"dtf.sparse.add: a has dtype {a.dtype.name} but b has "
                                   f"{b.dtype.name}; cast one of them. [Op:SparseAdd]")
    ia, ib = _host_indices(a), _host_indices(b)
    both = np.concatenate([ia, ib], axis=0)
    unique, inverse, counts = np.unique(both, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    n = unique.shape[0]
    sums = scatter_nd(_index_tensor(inverse[:ia.shape[0], None]), a.values, [n]) + \
        scatter_nd(_index_tensor(inverse[ia.shape[0]:, None]), b.values, [n])
    thresh = float(threshold.numpy() if hasattr(threshold, "numpy") else threshold)
    # TensorFlow thresholds only the entries the two inputs share; the others are copied.
    shared = counts > 1
    keep = ~shared | (np.abs(np.asarray(sums.numpy())) >= thresh) if thresh > 0 else \
        np.ones(n, dtype=bool)
    positions = np.flatnonzero(keep)
    return SparseTensor(_index_tensor(unique[positions]), _gather_values(sums, positions),
                        list(a._shape_tuple))


def _dense_at_indices(sp, dense, op):
    """The dense operand's entries at the sparse indices, broadcasting it to the sparse shape
    without materialising the broadcast (dims of size 1 are indexed at 0)."""
    dense = convert_to_tensor(dense, dtype=sp.dtype)
    s_shape = sp._shape_tuple
    if None in dense.shape.as_list():  # unknown dims: broadcast symbolically, checked at run
        dense = broadcast_to(dense, s_shape)
    d_shape = tuple(dense.shape.as_list())
    if len(d_shape) > len(s_shape) or any(
            d not in (1, s) for d, s in zip(d_shape[::-1], s_shape[::-1])):
        raise InvalidArgumentError(f"{op}: the dense operand's shape {list(d_shape)} does not "
                                   f"broadcast to the SparseTensor's shape {list(s_shape)}.")
    if not d_shape:
        return dense
    indices = _host_indices(sp)[:, len(s_shape) - len(d_shape):].copy()
    indices[:, [i for i, d in enumerate(d_shape) if d == 1]] = 0
    return gather_nd(dense, _index_tensor(indices))


def sparse_dense_cwise_mul(sp_t, dense_t) -> SparseTensor:
    """`sp_t * dense_t` at the stored entries (the dense side broadcasts to the sparse shape);
    what `SparseTensor.__mul__` gives.

    Example:
        >>> sp = dtf.SparseTensor([[0, 1], [1, 0]], [1., 2.], [2, 2])
        >>> (sp * dtf.constant([10., 100.])).values.numpy()
        array([100.,  20.], dtype=float32)
    """
    sp = _require_sparse(sp_t, "dtf.sparse.sparse_dense_cwise_mul", "sp_t")
    other = _dense_at_indices(sp, dense_t, "SparseTensor * Tensor")
    return sp.with_values(sp.values * other)


def sparse_dense_cwise_div(sp_t, dense_t) -> SparseTensor:
    """`sp_t / dense_t` at the stored entries; what `SparseTensor.__truediv__` gives.

    Example:
        >>> sp = dtf.SparseTensor([[0, 1]], [3.], [2, 2])
        >>> (sp / 2.0).values.numpy()
        array([1.5], dtype=float32)
    """
    sp = _require_sparse(sp_t, "dtf.sparse.sparse_dense_cwise_div", "sp_t")
    other = _dense_at_indices(sp, dense_t, "SparseTensor / Tensor")
    return sp.with_values(sp.values / other)


def reduce_sum(sp_input, axis=None, keepdims=None, output_is_sparse=False, name=None):
    """Sums a SparseTensor's entries over `axis` (all by default).

    Args:
        sp_input: a SparseTensor.
        axis: an int or list of ints; None sums everything.
        keepdims: keep the reduced dimensions with length 1.
        output_is_sparse: return a SparseTensor of the non-empty sums instead of a dense tensor.

    Example:
        >>> sp = dtf.SparseTensor([[0, 1], [1, 0], [1, 2]], [1, 2, 3], [2, 3])
        >>> dtf.sparse.reduce_sum(sp, axis=1).numpy()
        array([1, 5], dtype=int32)
    """
    sp = _require_sparse(sp_input, "dtf.sparse.reduce_sum")
    rank = sp.ndim
    axes = list(range(rank)) if axis is None else _axes(axis, rank, "dtf.sparse.reduce_sum")
    kept = [d for d in range(rank) if d not in axes]
    shape = sp._shape_tuple
    kept_shape = [shape[d] for d in kept]
    keep_shape = [1 if d in axes else shape[d] for d in range(rank)]
    indices = _host_indices(sp)[:, kept]
    if output_is_sparse:
        unique, inverse = np.unique(indices, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        if not kept:  # everything reduced: one entry at the empty index
            unique = np.zeros((1, 0), np.int64)
            sums = reshape(_dense_reduce_sum(sp.values), [1])
        else:
            sums = scatter_nd(_index_tensor(inverse[:, None]), sp.values, [unique.shape[0]])
        out_shape = kept_shape
        if keepdims:
            full = np.zeros((unique.shape[0], rank), np.int64)
            full[:, kept] = unique
            unique, out_shape = full, keep_shape
        return SparseTensor(_index_tensor(unique), sums, out_shape)
    if not kept:
        total = _dense_reduce_sum(sp.values)
        return reshape(total, keep_shape) if keepdims else total
    out = scatter_nd(_index_tensor(indices), sp.values, kept_shape)
    return reshape(out, keep_shape) if keepdims else out
