"""`Dataset.ragged_batch`: batches whose components of varying shape become RaggedTensors.

As TensorFlow: a component whose element_spec shape is fully known is stacked into a dense
batch; one with unknown dims becomes a RaggedTensor whose ragged rank is one more than the
index of its last unknown dim (the dims before it become ragged too, as uniform rows); a
ragged component gains one ragged level. Scalars and components of unknown rank stay dense.
"""

from __future__ import annotations

import itertools

import numpy as np

from dtf import dtypes
from dtf.data import structure
from dtf.data.batching import _batch_size_arg, _batched_cardinality, stack_rows
from dtf.data.dataset import UnaryDataset, close_iterator
from dtf.data.structure import HostRagged, RaggedTensorSpec
from dtf.errors import InvalidArgumentError
from dtf.tensor_shape import TensorShape
from dtf.tensor_spec import TensorSpec


def _ragged_rank_of(spec) -> int:
    """The ragged rank a dense component's elements take (None: it stays dense)."""
    shape = spec.shape
    if shape.rank is None or shape.rank == 0 or shape.is_fully_defined():
        return None
    return max(axis for axis, size in enumerate(shape.dims) if size is None)


def _batched_spec(spec, lead, row_splits_dtype, dense_to_ragged=True):
    shape = TensorShape([lead]).concatenate(spec.shape)
    if isinstance(spec, RaggedTensorSpec):
        return RaggedTensorSpec(shape, spec.dtype, spec.ragged_rank + 1, row_splits_dtype)
    rank = _ragged_rank_of(spec) if dense_to_ragged else None
    if rank is None:
        return TensorSpec(shape, spec.dtype)
    return RaggedTensorSpec(shape, spec.dtype, rank + 1, row_splits_dtype)


def batched_spec(spec, lead, dense_to_ragged=False):
    """The spec of a batch of `lead` elements of structure `spec`: ragged components gain a
    level (keeping their row_splits_dtype); dense ones stay dense unless `dense_to_ragged` (as
    ragged_batch). What `Dataset.batch` gives for elements with ragged components."""
    return structure.map_structure(
        lambda s: _batched_spec(s, lead, getattr(s, "row_splits_dtype", dtypes.int64),
                                dense_to_ragged), spec)


def column_batcher(spec, dense_to_ragged=False, row_splits_dtype=dtypes.int64):
    """A function from a list of flat elements (tuples of host arrays and HostRagged) to the
    flat batch: ragged components (and, with `dense_to_ragged`, dense ones with unknown dims)
    batched into HostRagged, the others stacked."""
    specs = structure.flatten(spec)
    ranks = [s.ragged_rank if isinstance(s, RaggedTensorSpec) else
             _ragged_rank_of(s) if dense_to_ragged else None for s in specs]
    splits = [getattr(s, "row_splits_dtype", row_splits_dtype) if not dense_to_ragged
              else row_splits_dtype for s in specs]
    if all(r is None for r in ranks):
        return stack_rows

    def batch_columns(rows):
        return tuple(_batch_column(i, [row[i] for row in rows], rank, splits[i])
                     for i, rank in enumerate(ranks))

    return batch_columns


class _RaggedBatchDataset(UnaryDataset):
    def __init__(self, input_dataset, batch_size, drop_remainder, row_splits_dtype):
        super().__init__(input_dataset)
        self._size = _batch_size_arg(batch_size, "ragged_batch")
        self._drop = bool(drop_remainder)
        self._splits_dtype = dtypes.as_dtype(row_splits_dtype)
        if self._splits_dtype not in (dtypes.int32, dtypes.int64):
            raise ValueError(f"ragged_batch: row_splits_dtype must be int32 or int64, got "
                             f"{self._splits_dtype.name}.")

    def _compute_element_spec(self):
        lead = self._size if self._drop else None
        return structure.map_structure(
            lambda s: _batched_spec(s, lead, self._splits_dtype), self._input.element_spec)

    def _cardinality(self):
        return _batched_cardinality(self._input._cardinality(), self._size, self._drop)

    def _elements(self):
        batch_columns = column_batcher(self._input.element_spec, True, self._splits_dtype)
        it = self._input._elements()
        try:
            while True:
                rows = list(itertools.islice(it, self._size))
                if not rows or (self._drop and len(rows) < self._size):
                    return
                yield batch_columns(rows)
        finally:
            close_iterator(it)


def _as_levels(value, ragged_rank):
    """(flat values, row lengths per ragged level with the element's row count first) of one
    element: a HostRagged, or a dense array whose first `ragged_rank` dims become uniform
    ragged levels."""
    if type(value) is HostRagged:
        return value.flat_values, [np.asarray([value.nrows], np.int64)] + list(value.row_lengths)
    dims = np.shape(value)
    levels = [np.asarray([dims[0]], np.int64)]
    for level in range(1, ragged_rank + 1):
        levels.append(np.full(int(np.prod(dims[:level])), dims[level], np.int64))
    return np.reshape(value, (-1,) + tuple(dims[ragged_rank + 1:])), levels


def _batch_column(index, values, ragged_rank, splits_dtype):
    if ragged_rank is None:
        first = np.shape(values[0])
        for v in values[1:]:
            if np.shape(v) != first:
                raise InvalidArgumentError(
                    f"ragged_batch: component {index} has shapes {list(first)} and "
                    f"{list(np.shape(v))} in one batch, but its element_spec says its shape is "
                    "fixed. Give it an element_spec with None for the dims that vary.")
        return np.stack(values)
    parts = [_as_levels(v, ragged_rank) for v in values]
    inner = np.shape(parts[0][0])[1:]
    for v, (flat, _) in zip(values, parts):
        if np.shape(flat)[1:] != inner:
            raise InvalidArgumentError(
                f"ragged_batch: component {index} has elements of shapes "
                f"{list(np.shape(values[0]))} and {list(np.shape(v))}; only dims up to the "
                f"last unknown one (dim {ragged_rank}) may vary.")
    flat = np.concatenate([p[0] for p in parts])
    lengths = [np.concatenate([p[1][level] for p in parts])
               for level in range(ragged_rank + 1)]
    return HostRagged(flat, lengths, splits_dtype)


def ragged_batch(dataset, batch_size, drop_remainder=False, row_splits_dtype=dtypes.int64):
    """`dataset.ragged_batch(...)`: see `Dataset.ragged_batch`."""
    return _RaggedBatchDataset(dataset, batch_size, drop_remainder, row_splits_dtype)
