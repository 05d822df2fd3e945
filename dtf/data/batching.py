"""batch, padded_batch and unbatch."""

from __future__ import annotations

import itertools

import numpy as np

from dtf.data import structure
from dtf.data.dataset import INFINITE, UNKNOWN, UnaryDataset, close_iterator, int_arg
from dtf.data.plan import rechunk
from dtf.errors import DataLossError, InvalidArgumentError
from dtf.tensor_shape import TensorShape
from dtf.tensor_spec import TensorSpec


def _batch_size_arg(batch_size, op):
    size = int_arg(batch_size, "batch_size", op)
    if size <= 0:
        raise InvalidArgumentError(f"{op}: batch_size must be greater than zero, got {size}.")
    return size


def _batched_cardinality(n, size, drop_remainder):
    if n in (INFINITE, UNKNOWN):
        return n
    return n // size if drop_remainder else -(-n // size)


class _BatchDataset(UnaryDataset):
    def __init__(self, input_dataset, batch_size, drop_remainder):
        super().__init__(input_dataset)
        self._size = _batch_size_arg(batch_size, "batch")
        self._drop = bool(drop_remainder)

    def _compute_element_spec(self):
        lead = self._size if self._drop else None
        if structure.has_ragged(self._input.element_spec):
            from dtf.data.ragged_batching import batched_spec

            return batched_spec(self._input.element_spec, lead)
        return structure.map_structure(
            lambda s: TensorSpec(TensorShape([lead]).concatenate(s.shape), s.dtype),
            self._input.element_spec)

    def _cardinality(self):
        return _batched_cardinality(self._input._cardinality(), self._size, self._drop)

    def _elements(self):
        size, drop = self._size, self._drop
        plan = self._input._plan()
        if plan is not None:
            # Random access input: each batch is one gather per component.
            gather = plan.source.gather
            for indices in rechunk(plan.chunks(), size):
                if drop and len(indices) < size:
                    return
                yield gather(indices)
            return
        batch_rows = stack_rows
        if structure.has_ragged(self._input.element_spec):
            from dtf.data.ragged_batching import column_batcher

            batch_rows = column_batcher(self._input.element_spec)
        it = self._input._elements()
        try:
            while True:
                rows = list(itertools.islice(it, size))
                if not rows or (drop and len(rows) < size):
                    return
                yield batch_rows(rows)
        finally:
            close_iterator(it)


def stack_rows(rows) -> tuple:
    """Stacks a list of flat elements into one flat element of batched arrays."""
    out = []
    for i, column in enumerate(zip(*rows)):
        try:
            # NumPy scalars (rank-0 components) build an array directly, faster than stack
            out.append(np.array(column) if isinstance(column[0], np.generic)
                       else np.stack(column))
        except ValueError:
            shapes = [np.shape(c) for c in column]
            j = next(k for k, s in enumerate(shapes) if s != shapes[0])
            raise InvalidArgumentError(
                f"Cannot batch tensors with different shapes in component {i}. First element "
                f"had shape {list(shapes[0])} and element {j} had shape {list(shapes[j])}. Use "
                "padded_batch to pad them to a common shape, or map them to one shape "
                "first.") from None
    return tuple(out)


class _PaddedBatchDataset(UnaryDataset):
    def __init__(self, input_dataset, batch_size, padded_shapes, padding_values,
                 drop_remainder):
        super().__init__(input_dataset)
        self._size = _batch_size_arg(batch_size, "padded_batch")
        self._drop = bool(drop_remainder)
        spec = input_dataset.element_spec
        flat_specs = structure.flatten(spec)
        self._flat_specs = flat_specs
        for i, s in enumerate(flat_specs):
            if padded_shapes is None and s.shape.rank is None:
                raise ValueError(f"You must provide `padded_shapes` argument because component "
                                 f"{i} has unknown rank.")
        self._default_shapes = padded_shapes is None
        self._targets = self._padded_shapes(padded_shapes, spec, flat_specs)
        self._pads = self._padding_values(padding_values, spec, flat_specs)

    @staticmethod
    def _padded_shapes(padded_shapes, spec, flat_specs):
        """Per component, the target dims: ints, or None for "the longest in the batch"."""
        if padded_shapes is None:
            # Every dim pads to the batch's longest: for dims the spec knows, that is the
            # spec's size anyway, and it stays right when the spec came from a sample.
            return [None if s.shape.rank is None else [None] * s.shape.rank
                    for s in flat_specs]
        if structure.is_structure(spec):
            try:
                from dtf.data.sources import _flatten_up_to

                flat = _flatten_up_to(spec, padded_shapes)
            except (KeyError, IndexError, TypeError):
                raise ValueError(f"padded_batch: `padded_shapes` {padded_shapes!r} does not have "
                                 f"the structure of the elements {spec!r}.") from None
        else:
            flat = [padded_shapes]
        targets = []
        for s, shape in zip(flat_specs, flat):
            if hasattr(shape, "numpy"):
                shape = shape.numpy().tolist()
            dims = TensorShape([None if d is not None and int(d) == -1 else d
                                for d in (shape if isinstance(shape, (list, tuple, TensorShape))
                                          else [shape])])
            if s.shape.rank is not None and (
                    dims.rank != s.shape.rank or any(
                        p is not None and d is not None and p < d
                        for p, d in zip(dims, s.shape))):
                raise ValueError(f"The padded shape {dims} is not compatible with the shape "
                                 f"{s.shape} of the corresponding input component.")
            targets.append(dims.dims)
        return targets

    @staticmethod
    def _padding_values(padding_values, spec, flat_specs):
        if padding_values is None:
            return [s.dtype._np.type(0) for s in flat_specs]
        if structure.is_structure(spec) and structure.is_structure(padding_values):
            from dtf.data.sources import _flatten_up_to

            flat = _flatten_up_to(spec, padding_values)
        else:
            flat = [padding_values] * len(flat_specs)
        out = []
        for s, value in zip(flat_specs, flat):
            if value is None:
                out.append(s.dtype._np.type(0))
                continue
            if hasattr(value, "dtype") and hasattr(value, "numpy"):
                if value.dtype != s.dtype:
                    raise TypeError(f"Invalid `padding_values`. `padding_values` values type "
                                    f"{value.dtype!r} does not match type {s.dtype!r} of the "
                                    "corresponding input component.")
                value = value.numpy()
            arr = structure.to_array(value, dtype=s.dtype, what="padding value")
            if np.ndim(arr) != 0:
                raise ValueError(f"Invalid `padding_values`. `padding_values` values should be "
                                 f"scalars, but got {TensorShape(np.shape(arr))}.")
            out.append(arr)
        return out

    def _compute_element_spec(self):
        lead = self._size if self._drop else None
        specs = []
        for s, dims in zip(self._flat_specs, self._targets):
            # Default padding keeps the input's static dims; given shapes are the output's.
            shape = s.shape if self._default_shapes else TensorShape(dims)
            specs.append(TensorSpec(TensorShape([lead]).concatenate(shape), s.dtype))
        spec = self._input.element_spec
        return structure.pack(spec, specs) if structure.is_structure(spec) else specs[0]

    def _cardinality(self):
        return _batched_cardinality(self._input._cardinality(), self._size, self._drop)

    def _elements(self):
        size, drop = self._size, self._drop
        it = self._input._elements()
        try:
            while True:
                rows = list(itertools.islice(it, size))
                if not rows or (drop and len(rows) < size):
                    return
                yield tuple(_pad_stack(i, column, target, pad) for i, (column, target, pad) in
                            enumerate(zip(zip(*rows), self._targets, self._pads)))
        finally:
            close_iterator(it)


def _pad_stack(i, column, target, pad):
    shapes = [np.shape(c) for c in column]
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        raise InvalidArgumentError(f"padded_batch: the elements of component {i} have different "
                                   f"ranks: {sorted(set(map(len, shapes)))}.")
    longest = [max(s[d] for s in shapes) for d in range(rank)]
    dims = longest if target is None else [
        m if t is None else t for m, t in zip(longest, target)]
    if any(m > d for m, d in zip(longest, dims)):
        raise DataLossError(f"Attempted to pad to a smaller size than the input element: "
                            f"component {i} has an element of shape {longest} and the padded "
                            f"shape is {dims}.")
    first = np.asarray(column[0])
    out = np.full([len(column)] + dims, pad, dtype=first.dtype)
    for k, c in enumerate(column):
        out[(k,) + tuple(slice(0, n) for n in np.shape(c))] = c
    return out


class _UnbatchDataset(UnaryDataset):
    def __init__(self, input_dataset):
        super().__init__(input_dataset)
        for s in structure.flatten(input_dataset.element_spec):
            if s.shape.rank == 0:
                raise ValueError("Unbatching a tensor is only supported for rank >= 1 (the "
                                 f"elements have a scalar component: {s!r}).")

    def _compute_element_spec(self):
        return structure.map_structure(structure.unbatched_spec, self._input.element_spec)

    def _cardinality(self):
        lead = {s.shape[0] if s.shape.rank else None
                for s in structure.flatten(self._input.element_spec)}
        if len(lead) != 1 or None in lead or not self._input._exact_shapes():
            return UNKNOWN
        n = self._input._cardinality()
        return n if n in (INFINITE, UNKNOWN) else n * lead.pop()

    def _elements(self):
        for flat in self._input._elements():
            sizes = [len(c) if type(c) is structure.HostRagged else
                     np.shape(c)[0] if np.ndim(c) else None for c in flat]
            if any(s != sizes[0] for s in sizes) or sizes[0] is None:
                raise InvalidArgumentError(
                    "unbatch: the components of an element must all have the same size in "
                    f"their first dimension, got sizes {sizes}.")
            if len(flat) == 1:
                (c,) = flat
                for j in range(sizes[0]):
                    yield (c[j],)
            else:
                for j in range(sizes[0]):
                    yield tuple(c[j] for c in flat)
