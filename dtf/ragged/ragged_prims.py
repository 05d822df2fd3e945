"""Row-partition primitives of dtf.ragged, for row splits that are tensors (symbolic in a trace).

Two conversions between a row partition's encodings have an output length that depends on the
data, so no composition of dense ops with static shapes gives them:

- `value_rowids(splits)`: the row of each value (`[0, 2, 2, 3]` -> `[0, 0, 2]`);
- `splits_from_rowids(rowids, nrows)`: the row splits of sorted row ids and a row count.

Both are integer bookkeeping with no gradient. Everything else a RaggedTensor does inside a
`dtf.function` composes these with dense ops (gather, cumsum, scatter_nd, boolean_mask).

Example:
    >>> value_rowids(dtf.constant([0, 2, 2, 3], dtype=dtf.int64)).numpy()
    array([0, 0, 2])
"""

from __future__ import annotations

from dtf import dtypes
from dtf.ops.registry import Spec, primitive

__all__ = ["splits_from_rowids", "value_rowids"]


def _rowids_rule(splits):
    return Spec((None,), dtypes.int64)


@primitive("ragged_value_rowids", shape=_rowids_rule, differentiable=False,
           data_dependent_shape=True)
def value_rowids(xp, splits):
    """int64 row splits [nrows + 1] -> the row index of each of the splits[-1] values."""
    splits = splits.astype(xp.int64, copy=False)
    lengths = splits[1:] - splits[:-1]
    return xp.repeat(xp.arange(lengths.shape[0], dtype=xp.int64), lengths)


def _splits_rule(rowids, nrows):
    return Spec((None,), dtypes.int64)


@primitive("ragged_splits_from_rowids", shape=_splits_rule, differentiable=False,
           data_dependent_shape=True)
def splits_from_rowids(xp, rowids, nrows):
    """Sorted int row ids and a scalar row count -> int64 row splits [nrows + 1]: split i is
    the number of values in rows before i."""
    bounds = xp.arange(int(nrows) + 1, dtype=xp.int64)
    return xp.searchsorted(rowids.astype(xp.int64, copy=False), bounds, side="left").astype(
        xp.int64)
