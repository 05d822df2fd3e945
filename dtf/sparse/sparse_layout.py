"""dtf.sparse's ops that change a SparseTensor's layout or read its entries as ids: reshape,
expand_dims, fill_empty_rows, to_indicator, and the sparse segment reductions.

They are written once, in dtf ops and the index primitives of `dtf.sparse.sparse_prims`, so the
same code runs eagerly and inside a `dtf.function` on symbolic indices; the values go through
differentiable ops (gather, where, scatter_nd), so gradients reach them and the dense data.
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops import math_ops
from dtf.ops.array_ops import concat as _dense_concat
from dtf.ops.array_ops import expand_dims as _dense_expand_dims
from dtf.ops.array_ops import reshape as _dense_reshape
from dtf.ops.array_ops import shape as _dense_shape_of
from dtf.ops.creation_ops import cast, convert_to_tensor, ones_like
from dtf.ops.indexing_ops import gather, scatter_nd
from dtf.ops.reduce_ops import reduce_max
from dtf.sparse import sparse_prims
from dtf.sparse.sparse_ops import _int64_vector, _is_concrete, _require_sparse, to_dense
from dtf.sparse.sparse_tensor import SparseTensor

__all__ = ["expand_dims", "fill_empty_rows", "reshape", "segment_mean", "segment_sqrt_n",
           "segment_sum", "to_indicator"]


def _static_reshape(old_dims, new_shape):
    """The output shape known before running: `new_shape` with its -1 inferred when the
    input's shape is fully known (None where unknown)."""
    if not _is_concrete(new_shape):
        return None
    dims = [int(d) for d in np.asarray(
        new_shape.numpy() if hasattr(new_shape, "numpy") else new_shape).reshape(-1)]
    if -1 in dims and None not in old_dims and dims.count(-1) == 1:
        known = int(np.prod([d for d in dims if d != -1]))
        total = int(np.prod(old_dims))
        if known > 0 and total % known == 0:
            dims[dims.index(-1)] = total // known
    return [None if d == -1 else d for d in dims]


def reshape(sp_input, shape, name=None) -> SparseTensor:
    """The same entries in a SparseTensor of another dense shape (row-major, like
    `dtf.reshape`); one dim of `shape` may be -1, inferred from the others.

    Example:
        >>> sp = dtf.SparseTensor([[0, 1], [2, 3]], [1.0, 2.0], [3, 4])
        >>> r = dtf.sparse.reshape(sp, [2, -1])
        >>> r.indices.numpy().tolist(), r.shape
        ([[0, 1], [1, 5]], TensorShape([2, 6]))
    """
    sp = _require_sparse(sp_input, "dtf.sparse.reshape")
    new_shape = _int64_vector(shape, "shape", "dtf.sparse.reshape")
    if new_shape.shape.rank != 1 or new_shape.shape[0] is None:
        raise ValueError(f"dtf.sparse.reshape: shape must be a vector of known length (the new "
                         f"rank), got shape {new_shape.shape}.")
    indices, out_shape = sparse_prims.reshape(sp.indices, sp.dense_shape, new_shape)
    return SparseTensor._with_static_shape(indices, sp.values, out_shape,
                                           _static_reshape(sp._shape_tuple, shape))


def expand_dims(sp_input, axis=None, name=None) -> SparseTensor:
    """Inserts a dimension of size 1 at `axis` (negative counts from the end of the result).

    Example:
        >>> sp = dtf.SparseTensor([[0, 1], [2, 3]], [1.0, 2.0], [3, 4])
        >>> dtf.sparse.expand_dims(sp, 1).indices.numpy().tolist()
        [[0, 0, 1], [2, 0, 3]]
    """
    sp = _require_sparse(sp_input, "dtf.sparse.expand_dims")
    rank = sp.ndim
    axis = -1 if axis is None else int(axis)
    if not -rank - 1 <= axis <= rank:
        raise InvalidArgumentError(f"dtf.sparse.expand_dims: axis {axis} is out of range for "
                                   f"a SparseTensor of rank {rank} (valid: [{-rank - 1}, "
                                   f"{rank}]).")
    axis %= rank + 1
    zeros = _dense_expand_dims(sp.indices[:, 0] * 0, 1)
    indices = _dense_concat([sp.indices[:, :axis], zeros, sp.indices[:, axis:]], axis=1)
    one = np.ones(1, np.int64)
    dense_shape = _dense_concat([sp.dense_shape[:axis], one, sp.dense_shape[axis:]], axis=0)
    static = list(sp._shape_tuple[:axis]) + [1] + list(sp._shape_tuple[axis:])
    return SparseTensor._with_static_shape(indices, sp.values, dense_shape, static)


def fill_empty_rows(sp_input, default_value, name=None):
    """Adds an entry `default_value` at [row, 0, ...] for every row with no stored entry.

    Returns:
        (the filled SparseTensor, a bool vector saying which rows were empty). Entries are
        ordered by row; a row's entries keep their order. Gradients reach the values and
        `default_value`.

    Example:
        >>> sp = dtf.SparseTensor([[1, 2], [3, 0]], [1.0, 2.0], [4, 3])
        >>> filled, empty = dtf.sparse.fill_empty_rows(sp, -1.0)
        >>> filled.indices.numpy().tolist(), filled.values.numpy().tolist()
        ([[0, 0], [1, 2], [2, 0], [3, 0]], [-1.0, 1.0, -1.0, 2.0])
        >>> empty.numpy().tolist()
        [True, False, True, False]
    """
    sp = _require_sparse(sp_input, "dtf.sparse.fill_empty_rows")
    default = convert_to_tensor(default_value, dtype=sp.dtype)
    if default.shape.rank not in (None, 0):
        raise ValueError(f"dtf.sparse.fill_empty_rows: default_value must be a scalar, got "
                         f"shape {default.shape}.")
    if sp.ndim < 1:
        raise ValueError("dtf.sparse.fill_empty_rows: the SparseTensor needs rank >= 1.")
    indices, positions, empty = sparse_prims.fill_empty_rows(sp.indices, sp.dense_shape)
    # The added entries read the default, stored after the values (positions N).
    values = gather(_dense_concat([sp.values, _dense_reshape(default, [1])], axis=0), positions)
    filled = SparseTensor._with_static_shape(indices, values, sp.dense_shape, sp._shape_tuple)
    return filled, empty


def to_indicator(sp_input, vocab_size, name=None):
    """A dense bool tensor [..., vocab_size]: True at [..., id] for every id stored in that
    position's last-dimension group of the int SparseTensor `sp_input`.

    Example:
        >>> ids = dtf.SparseTensor([[0, 0], [0, 1], [2, 0]], [3, 1, 2], [3, 2])
        >>> dtf.sparse.to_indicator(ids, 4).numpy().astype(int).tolist()
        [[0, 1, 0, 1], [0, 0, 0, 0], [0, 0, 1, 0]]
    """
    sp = _require_sparse(sp_input, "dtf.sparse.to_indicator")
    if not sp.dtype.is_integer:
        raise TypeError(f"dtf.sparse.to_indicator: the SparseTensor must hold integer ids, got "
                        f"{sp.dtype.name} values; cast them with dtf.sparse.map_values.")
    ids = sp.values if sp.dtype == dtypes.int64 else cast(sp.values, dtypes.int64)
    indices = _dense_concat([sp.indices[:, :-1], _dense_expand_dims(ids, 1)], axis=1)
    vocab = _int64_vector(vocab_size, "vocab_size", "dtf.sparse.to_indicator")
    dense_shape = _dense_concat([sp.dense_shape[:-1], _dense_reshape(vocab, [1])], axis=0)
    static_vocab = int(np.asarray(vocab.numpy())) if _is_concrete(vocab) else None
    flags = SparseTensor._with_static_shape(indices, ones_like(ids, dtype=dtypes.bool),
                                            dense_shape, list(sp._shape_tuple[:-1]) +
                                            [static_vocab])
    # Repeated ids set the same flag; order does not matter for an indicator.
    return to_dense(flags, default_value=False, validate_indices=False)


# -- sparse segment reductions -------------------------------------------------------------------
def _segment_sums(data, indices, segment_ids, num_segments, op):
    data = convert_to_tensor(data)
    rows = _int64_vector(indices, "indices", op)
    ids = _int64_vector(segment_ids, "segment_ids", op)
    if _is_concrete(ids) and num_segments is None:
        host = np.asarray(ids.numpy())
        if host.size > 1 and np.any(host[1:] < host[:-1]):
            raise InvalidArgumentError(f"segment ids are not increasing [Op:{op}]")
    if num_segments is None:  # the largest id + 1 (0 segments for no ids)
        bounds = _dense_concat([ids + 1, np.zeros(1, np.int64)], axis=0)
        count = _dense_reshape(reduce_max(bounds), [1])
    else:
        count = _dense_reshape(_int64_vector(num_segments, "num_segments", op), [1])
    out_shape = _dense_concat([count, _dense_shape_of(data, out_type=dtypes.int64)[1:]], axis=0)
    picked = gather(data, rows)
    targets = _dense_expand_dims(ids, 1)
    sums = scatter_nd(targets, picked, out_shape)
    sizes = scatter_nd(targets, ones_like(ids), count)
    return sums, sizes


def _per_segment(sizes, like):
    """Segment sizes (at least 1, so that empty segments give 0) shaped to divide `like`."""
    sizes = math_ops.maximum(sizes, convert_to_tensor(1, dtype=dtypes.int64))
    sizes = cast(sizes, like.dtype)
    for _ in range(like.shape.rank - 1):
        sizes = _dense_expand_dims(sizes, -1)
    return sizes


def segment_sum(data, indices, segment_ids, num_segments=None, name=None):
    """out[s] = sum of data[indices[i]] over the i with segment_ids[i] == s (ids sorted).

    Example:
        >>> data = dtf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        >>> dtf.sparse.segment_sum(data, [0, 2, 1], [0, 0, 2]).numpy().tolist()
        [[6.0, 8.0], [0.0, 0.0], [3.0, 4.0]]
    """
    sums, _ = _segment_sums(data, indices, segment_ids, num_segments, "SparseSegmentSum")
    return sums


def segment_mean(data, indices, segment_ids, num_segments=None, name=None):
    """The mean of data[indices[i]] over each segment (0 for empty segments).

    Example:
        >>> data = dtf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        >>> dtf.sparse.segment_mean(data, [0, 2, 1], [0, 0, 2]).numpy().tolist()
        [[3.0, 4.0], [0.0, 0.0], [3.0, 4.0]]
    """
    sums, sizes = _segment_sums(data, indices, segment_ids, num_segments, "SparseSegmentMean")
    return sums / _per_segment(sizes, sums)


def segment_sqrt_n(data, indices, segment_ids, num_segments=None, name=None):
    """The sum over each segment divided by the square root of its size.

    Example:
        >>> data = dtf.constant([[3.0], [4.0]])
        >>> dtf.sparse.segment_sqrt_n(data, [0, 1], [0, 0]).numpy().tolist()
        [[4.949747...]]
    """
    sums, sizes = _segment_sums(data, indices, segment_ids, num_segments,
                                "SparseSegmentSqrtN")
    return sums / math_ops.sqrt(_per_segment(sizes, sums))
