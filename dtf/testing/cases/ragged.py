"""Cases for the row-partition primitives of dtf.ragged (dtf/ragged/ragged_prims.py), and for
the graph-op path of ragged ops (dtf/ragged/symbolic_rows.py, what a traced function runs),
called directly on eager tensors so the op table harness checks values and gradients."""

from __future__ import annotations

import itertools

import numpy as np

from dtf.ragged import ragged_ops, ragged_prims, symbolic_rows
from dtf.ragged.ragged_tensor import RaggedTensor
from dtf.testing.op_cases import OpCase, rand

_SPLITS = np.array([0, 2, 2, 5, 6], np.int64)
_NESTED = (np.array([0, 2, 2, 3], np.int64), np.array([0, 1, 4, 6], np.int64))


def _rowids_reference(splits):
    return np.repeat(np.arange(len(splits) - 1), np.diff(splits)).astype(np.int64)


def _ragged(values, *nested):
    result = values
    for splits in reversed(nested):
        result = RaggedTensor(result, splits, internal=True)
    return result


def _padded_reference(values, splits, fill=0.0):
    lengths = np.diff(splits)
    out = np.full((len(lengths), max(lengths.max(initial=0), 0)) + values.shape[1:], fill,
                  values.dtype)
    for i, (a, b) in enumerate(itertools.pairwise(splits)):
        out[i, :b - a] = values[a:b]
    return out


CASES = [
    OpCase("ragged_value_rowids/with_empty_rows",
           lambda s: ragged_prims.value_rowids(s), [_SPLITS], _rowids_reference, grad=False),
    OpCase("ragged_value_rowids/no_rows",
           lambda s: ragged_prims.value_rowids(s), [np.array([0], np.int64)],
           _rowids_reference, grad=False),
    OpCase("ragged_splits_from_rowids/trailing_empty_rows",
           lambda ids, n: ragged_prims.splits_from_rowids(ids, n),
           [np.array([0, 0, 2, 2, 2, 3], np.int64), np.array(6, np.int64)],
           lambda ids, n: np.array([0, 2, 2, 5, 6, 6, 6], np.int64), grad=False),
    OpCase("ragged_splits_from_rowids/no_values",
           lambda ids, n: ragged_prims.splits_from_rowids(ids, n),
           [np.zeros(0, np.int64), np.array(2, np.int64)],
           lambda ids, n: np.zeros(3, np.int64), grad=False),
    OpCase("ragged/to_dense_tensor_splits",
           lambda v, s: symbolic_rows.to_dense(_ragged(v, s), -1.0),
           [rand(6), _SPLITS], lambda v, s: _padded_reference(v, s, -1.0), grad_inputs=(0,)),
    OpCase("ragged/to_dense_inner_dims",
           lambda v, s: symbolic_rows.to_dense(_ragged(v, s)),
           [rand(6, 2), _SPLITS], lambda v, s: _padded_reference(v, s), grad_inputs=(0,)),
    OpCase("ragged/reduce_sum_tensor_splits",
           lambda v, s: ragged_ops._reduce_symbolic(_ragged(v, s), 1, "sum"), [rand(6), _SPLITS],
           lambda v, s: np.add.reduceat(np.append(v, 0), s[:-1]) * (np.diff(s) > 0),
           grad_inputs=(0,)),
    OpCase("ragged/reduce_sum_nested_tensor_splits",
           lambda v, a, b: ragged_ops._reduce_symbolic(_ragged(v, a, b), 2, "sum").flat_values,
           [rand(6), *_NESTED],
           lambda v, a, b: np.array([v[0:1].sum(), v[1:4].sum(), v[4:6].sum()]),
           grad_inputs=(0,)),
]
CASES += [
    OpCase("ragged_check_splits/valid", lambda s, n: ragged_prims.check_splits(s, n),
           [_SPLITS, np.array(6, np.int64)], lambda s, n: s, grad=False),
    OpCase("ragged_check_same_splits/equal",
           lambda a, b: ragged_prims.check_same_splits(a, b), [_SPLITS, _SPLITS.copy()],
           lambda a, b: a, grad=False),
]
