"""dtf.sparse's arithmetic and reductions: add, elementwise multiply/divide by a dense tensor,
reduce_sum.

As in `dtf.sparse.sparse_ops`, eager SparseTensors do their index bookkeeping on the host and
symbolic ones (inside a `dtf.function`) in graph ops; the values and the dense operands always
go through differentiable dtf ops.
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops import math_ops
from dtf.ops.array_ops import broadcast_to, ensure_shape, expand_dims, reshape, shape
from dtf.ops.array_ops import concat as _dense_concat
from dtf.ops.array_ops import transpose as _dense_transpose
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.indexing_ops import (
    boolean_mask,
    gather,
    gather_nd,
    scatter_nd,
    tensor_scatter_nd_add,
)
from dtf.ops.reduce_ops import reduce_sum as _dense_reduce_sum
from dtf.sparse import sparse_prims
from dtf.sparse.sparse_ops import (
    _axes,
    _gather_values,
    _host_indices,
    _index_tensor,
    _is_concrete,
    _is_sparse,
    _require_sparse,
    _shape_arg,
)
from dtf.sparse.sparse_tensor import SparseTensor

__all__ = ["add", "reduce_sum", "sparse_dense_cwise_div", "sparse_dense_cwise_mul"]


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
        if not dense.shape.is_compatible_with(list(sp._shape_tuple)):
            raise InvalidArgumentError(
                f"dtf.sparse.add: the dense operand's shape {dense.shape.as_list()} must equal "
                f"the SparseTensor's dense_shape {list(sp._shape_tuple)}. "
                "[Op:SparseTensorDenseAdd]")
        if None in dense.shape.as_list():  # symbolic with unknown dims: pin them (checked at run)
            dense = ensure_shape(dense, list(sp._shape_tuple))
        if sp.values.shape[0] == 0:
            return dense
        return tensor_scatter_nd_add(dense, sp.indices, sp.values)
    if a.ndim != b.ndim or any(None not in (x, y) and x != y
                               for x, y in zip(a._shape_tuple, b._shape_tuple)):
        raise InvalidArgumentError(f"dtf.sparse.add: operands' shapes do not match: "
                                   f"{list(a._shape_tuple)} vs. {list(b._shape_tuple)} "
                                   "[Op:SparseAdd]")
    if a.dtype != b.dtype:
        raise InvalidArgumentError(f"dtf.sparse.add: a has dtype {a.dtype.name} but b has "
                                   f"{b.dtype.name}; cast one of them. [Op:SparseAdd]")
    if not (a._is_eager and b._is_eager and _is_concrete(threshold)):
        return _add_sparse_symbolic(a, b, threshold)
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


def _add_sparse_symbolic(a, b, threshold) -> SparseTensor:
    unique, inverse, counts = sparse_prims.unique_rows(_dense_concat([a.indices, b.indices], 0))
    values = _dense_concat([a.values, b.values], axis=0)
    sums = scatter_nd(expand_dims(inverse, 1), values, shape(unique, out_type=dtypes.int64)[:1])
    thresh = convert_to_tensor(threshold, dtype=sums.dtype.real_dtype)
    # TensorFlow thresholds only the entries the two inputs share; the others are copied.
    keep = math_ops.logical_or(math_ops.less_equal(counts, 1),
                               math_ops.greater_equal(math_ops.abs(sums), thresh))
    static = [x if x is not None else y for x, y in zip(a._shape_tuple, b._shape_tuple)]
    return SparseTensor._with_static_shape(boolean_mask(unique, keep), boolean_mask(sums, keep),
                                           a.dense_shape, static)


def _dense_at_indices(sp, dense, op):
    """The dense operand's entries at the sparse indices, broadcasting it to the sparse shape
    without materialising the broadcast (dims of size 1 are indexed at 0)."""
    dense = convert_to_tensor(dense, dtype=sp.dtype)
    s_shape = sp._shape_tuple
    if dense.shape.rank is None or None in dense.shape.as_list():
        # unknown dims: broadcast to the full dense shape at run time (checked there)
        dense = broadcast_to(dense, _shape_arg(sp))
        if None in dense.shape.as_list():
            dense = ensure_shape(dense, list(s_shape))
        return gather_nd(dense, sp.indices)
    d_shape = tuple(dense.shape.as_list())
    if len(d_shape) > len(s_shape) or any(
            d not in (1, s) and s is not None for d, s in zip(d_shape[::-1], s_shape[::-1])):
        raise InvalidArgumentError(f"{op}: the dense operand's shape {list(d_shape)} does not "
                                   f"broadcast to the SparseTensor's shape {list(s_shape)}.")
    if not d_shape:
        return dense
    lead = len(s_shape) - len(d_shape)
    if not sp._is_eager:
        # The trailing index columns, with those of the dense operand's size-1 dims zeroed.
        keep = np.array([d != 1 for d in d_shape], np.int64)
        return gather_nd(dense, sp.indices[:, lead:] * keep)
    indices = _host_indices(sp)[:, lead:].copy()
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
    if not sp._is_eager:
        return _reduce_sum_symbolic(sp, axes, kept, keepdims, output_is_sparse)
    dims = sp._shape_tuple
    kept_shape = [dims[d] for d in kept]
    keep_shape = [1 if d in axes else dims[d] for d in range(rank)]
    indices = _host_indices(sp)[:, kept]
    if output_is_sparse:
        unique, inverse, _ = sparse_prims.unique_rows_host(indices)
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


def _reduce_sum_symbolic(sp, axes, kept, keepdims, output_is_sparse):
    rank = sp.ndim
    columns = np.array(kept, np.int64)  # (an empty list would convert to float32)
    static_kept = [sp._shape_tuple[d] for d in kept]
    static_keep = [1 if d in axes else sp._shape_tuple[d] for d in range(rank)]
    one = np.ones(1, np.int64)
    keep_shape = _dense_concat([one if d in axes else sp.dense_shape[d:d + 1]
                                for d in range(rank)], axis=0)
    if output_is_sparse:
        if not kept:  # everything reduced: one entry at the empty index
            unique = convert_to_tensor(np.zeros((1, 0), np.int64))
            sums = reshape(_dense_reduce_sum(sp.values), [1])
        else:
            unique, inverse, _ = sparse_prims.unique_rows(gather(sp.indices, columns, axis=1))
            sums = scatter_nd(expand_dims(inverse, 1), sp.values,
                              shape(unique, out_type=dtypes.int64)[:1])
        if not keepdims:
            return SparseTensor._with_static_shape(unique, sums, gather(sp.dense_shape, columns),
                                                   static_kept)
        # The reduced dims come back as columns of zeros: scatter the kept columns into the
        # rows of a [rank, M] zero matrix, then transpose.
        rows = convert_to_tensor(columns.reshape(-1, 1))
        m = shape(unique, out_type=dtypes.int64)[:1]
        full = scatter_nd(rows, _dense_transpose(unique),
                          _dense_concat([np.array([rank], np.int64), m], axis=0))
        return SparseTensor._with_static_shape(_dense_transpose(full), sums, keep_shape,
                                               static_keep)
    if not kept:
        total = _dense_reduce_sum(sp.values)
        return reshape(total, [1] * rank) if keepdims else total
    kept_shape = static_kept if None not in static_kept else gather(sp.dense_shape, columns)
    out = scatter_nd(gather(sp.indices, columns, axis=1), sp.values, kept_shape)
    if not keepdims:
        return out
    for d in axes:  # the reduced dims as dims of size 1, in place
        out = expand_dims(out, d)
    return out
