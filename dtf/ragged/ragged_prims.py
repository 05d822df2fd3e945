"""Row-partition primitives of dtf.ragged, for row splits that are tensors (symbolic in a trace).

Two conversions between a row partition's encodings have an output length that depends on the
data, so no composition of dense ops with static shapes gives them:

- `value_rowids(splits)`: the row of each value (`[0, 2, 2, 3]` -> `[0, 0, 2]`);
- `splits_from_rowids(rowids, nrows)`: the row splits of sorted row ids and a row count.

Two more check a partition when the function runs, as TensorFlow's validating constructors
do with assert ops, and pass the row splits through (so the check stays in the graph):

- `check_splits(splits, nvals)`: splits start at 0, never decrease, and end at nvals;
- `check_same_splits(a, b)`: two RaggedTensors of an elementwise op share a partition.

All are integer bookkeeping with no gradient. Everything else a RaggedTensor does inside a
`dtf.function` composes these with dense ops (gather, cumsum, scatter_nd, boolean_mask).

Example:
    >>> value_rowids(dtf.constant([0, 2, 2, 3], dtype=dtf.int64)).numpy()
    array([0, 0, 2])
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops.registry import Spec, primitive

__all__ = ["check_same_splits", "check_splits", "splits_from_rowids", "value_rowids"]


def _rowids_rule(splits):
    return Spec((None,), dtypes.int64)


@primitive("ragged_value_rowids", shape=_rowids_rule, differentiable=False,
           data_dependent_shape=True)
def value_rowids(xp, splits):
    """int64 row splits [nrows + 1] -> the row index of each of the splits[-1] values."""
    splits = splits.astype(xp.int64, copy=False)
    if xp is np:
        lengths = splits[1:] - splits[:-1]
        return np.repeat(np.arange(lengths.shape[0], dtype=np.int64), lengths)
    # Array modules whose repeat takes no array of counts (CuPy): value j is in the row whose
    # end is the first one past j.
    nvals = int(splits[-1]) if splits.shape[0] else 0
    return xp.searchsorted(splits[1:], xp.arange(nvals, dtype=xp.int64), side="right").astype(
        xp.int64)


def _splits_rule(rowids, nrows):
    return Spec((None,), dtypes.int64)


@primitive("ragged_splits_from_rowids", shape=_splits_rule, differentiable=False,
           data_dependent_shape=True)
def splits_from_rowids(xp, rowids, nrows):
    """Sorted int row ids and a scalar row count -> int64 row splits [nrows + 1]: split i is
    the number of values in rows before i."""
    rowids = rowids.astype(xp.int64, copy=False)
    nrows = int(nrows)
    if rowids.shape[0] and (int(rowids[0]) < 0 or bool((rowids[1:] < rowids[:-1]).any())
                            or int(rowids[-1]) >= nrows):
        raise InvalidArgumentError(
            "Arguments to from_value_rowids do not form a valid RowPartition: value_rowids "
            f"must be sorted, non-negative and less than nrows={nrows}, got "
            f"{rowids.tolist()[:20]}.")
    bounds = xp.arange(nrows + 1, dtype=xp.int64)
    return xp.searchsorted(rowids, bounds, side="left").astype(xp.int64)


def _check_rule(splits, other, **attrs):
    return Spec(splits.shape, dtypes.int64)


@primitive("ragged_check_splits", shape=_check_rule, differentiable=False)
def check_splits(xp, splits, nvals, op="RaggedTensor"):
    """Int64 row splits, unchanged, after checking them against `nvals` (a scalar): they
    start at 0, never decrease and end at nvals; else an InvalidArgumentError."""
    n = int(nvals)
    if splits.shape[0] == 0 or int(splits[0]) != 0:
        detail = "row_splits must start with 0"
    elif bool((splits[1:] < splits[:-1]).any()):
        detail = "row_splits must be non-decreasing (row lengths >= 0)"
    elif int(splits[-1]) != n:
        detail = (f"the row partition covers {int(splits[-1])} values but values has {n} "
                  "rows")
    else:
        return splits
    raise InvalidArgumentError(f"Arguments to {op} do not form a valid RaggedTensor: {detail} "
                               f"(row_splits={splits.tolist()[:20]}).")


@primitive("ragged_check_same_splits", shape=_check_rule, differentiable=False)
def check_same_splits(xp, a, b, op="map_flat_values"):
    """Row splits `a`, unchanged, after checking that `b` equals them."""
    if a.shape != b.shape or not bool((a == b).all()):
        raise InvalidArgumentError(
            f"{op}: the RaggedTensor arguments have different row partitions (row_splits "
            f"{a.tolist()[:20]} vs. {b.tolist()[:20]}); elementwise ops need the same row "
            "lengths.")
    return a
