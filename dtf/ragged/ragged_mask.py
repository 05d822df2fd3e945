"""`dtf.ragged.boolean_mask`: the entries of dense or ragged data where a mask is True, as
`tf.ragged.boolean_mask`. The result's row partition comes from the mask's values, so inside a
`dtf.function` it is symbolic (graph ops), and eagerly it is NumPy on the host.
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops import array_ops, indexing_ops, math_ops, reduce_ops
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ragged.ragged_tensor import RaggedTensor, _is_symbolic

__all__ = ["boolean_mask"]


def _as_operand(x):
    if isinstance(x, RaggedTensor) or _is_symbolic(x):
        return x
    return convert_to_tensor(x)


def boolean_mask(data, mask, name=None):
    """The entries of `data` where `mask` is True; `mask`'s shape is a prefix of `data`'s.

    A 1-D mask selects rows. A mask of rank k > 1 (dense or ragged) keeps, in each row, the
    entries it marks, so the result is ragged with ragged_rank max(data's, k - 1).

    Args:
        data: a Tensor or RaggedTensor.
        mask: a bool Tensor or RaggedTensor whose shape is a prefix of data's (a ragged mask
            has data's row lengths).

    Example:
        >>> dtf.ragged.boolean_mask([[1, 2, 3], [4, 5, 6]],
        ...                         [[True, False, True], [False, True, False]]).to_list()
        [[1, 3], [5]]
        >>> rt = dtf.ragged.constant([[1, 2, 3], [4], [5, 6]])
        >>> dtf.ragged.boolean_mask(rt, dtf.constant([True, False, True])).to_list()
        [[1, 2, 3], [5, 6]]
    """
    data, mask = _as_operand(data), _as_operand(mask)
    if mask.dtype != dtypes.bool:
        raise TypeError(f"ragged.boolean_mask: mask must be bool, got dtype {mask.dtype.name}.")
    rank = mask.shape.rank
    if rank is None or rank == 0:
        raise ValueError(f"ragged.boolean_mask: mask must have a known rank >= 1, got shape "
                         f"{mask.shape}.")
    if data.shape.rank is not None and rank > data.shape.rank:
        raise ValueError(f"ragged.boolean_mask: mask of shape {mask.shape} has a higher rank "
                         f"than data of shape {data.shape}.")
    if rank == 1:
        return _select_rows(data, mask)
    if not isinstance(mask, RaggedTensor):
        mask = RaggedTensor.from_tensor(mask, ragged_rank=rank - 1)
    elif mask.ragged_rank != rank - 1:
        raise ValueError(f"ragged.boolean_mask: a ragged mask must be ragged in every dim but "
                         f"the last, got ragged_rank {mask.ragged_rank} for shape {mask.shape}.")
    if not isinstance(data, RaggedTensor):
        data = RaggedTensor.from_tensor(data, ragged_rank=rank - 1)
    elif data.ragged_rank < rank - 1:
        raise ValueError(f"ragged.boolean_mask: data of ragged_rank {data.ragged_rank} cannot "
                         f"take a mask of rank {rank}; give data at least ragged_rank "
                         f"{rank - 1}.")
    return _mask_rows_of(_aligned(data, mask), mask)


def _aligned(data, mask):
    """`data`, checked to have `mask`'s row splits at each of the mask's ragged levels: at once
    for host splits, by a graph node (which passes the splits on) for symbolic ones."""
    if not isinstance(mask, RaggedTensor):
        return data
    inner = _aligned(data.values, mask.values)
    if data._splits is not None and mask._splits is not None:
        if not np.array_equal(data._splits, mask._splits):
            raise InvalidArgumentError(
                "ragged.boolean_mask: mask and data have different row lengths (row_splits "
                f"{mask._splits.tolist()} and {data._splits.tolist()}); the mask needs data's "
                "row partition.")
        splits = data._splits
    elif data.row_splits is mask.row_splits:
        splits = data.row_splits
    else:
        from dtf.ragged import ragged_prims

        splits = ragged_prims.check_same_splits(data.row_splits, mask.row_splits,
                                                op="ragged.boolean_mask")
    if inner is data.values and splits is data._splits_arg():
        return data
    return RaggedTensor(inner, splits, internal=True)


def _select_rows(data, mask):
    """The rows of `data` where the 1-D `mask` is True."""
    if not isinstance(data, RaggedTensor):
        return indexing_ops.boolean_mask(data, mask)
    if data._is_host() and not _is_symbolic(mask):
        rows = np.flatnonzero(mask.numpy()).astype(np.int64)
        from dtf.ragged.ragged_tensor import _take_rows

        return _take_rows(data, rows)
    from dtf.ragged import symbolic_rows

    rows = math_ops.cast(indexing_ops.boolean_mask(
        _row_numbers(mask), mask), dtypes.int64)
    return symbolic_rows.take_rows(data, rows)


def _row_numbers(mask):
    from dtf.ops.creation_ops import range as _range

    n = array_ops.shape(mask, out_type=dtypes.int64)[0]
    return _range(0, n, dtype=dtypes.int64)


def _mask_rows_of(data, mask):
    """Masks within rows: `mask` is ragged with `data`'s outer row partition."""
    if isinstance(mask.values, RaggedTensor):
        # The mask acts deeper: this level keeps its rows.
        inner = _mask_rows_of(data.values, mask.values)
        return RaggedTensor(inner, data._splits_arg(), internal=True)
    flat_mask = mask.values
    kept = _select_rows(data.values, flat_mask)
    if data._splits is not None and not _is_symbolic(flat_mask):
        counts = np.concatenate([[0], np.cumsum(flat_mask.numpy(), dtype=np.int64)])
        return RaggedTensor(kept, counts[data._splits], internal=True)
    # How many kept values precede each row start: the new row splits.
    counts = array_ops.concat([convert_to_tensor([0], dtype=dtypes.int64),
                               reduce_ops.cumsum(math_ops.cast(flat_mask, dtypes.int64))], 0)
    return RaggedTensor(kept, indexing_ops.gather(counts, data.row_splits), internal=True)
