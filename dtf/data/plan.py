"""Index plans: the fast path of pipelines over in-memory data.

A dataset made by `from_tensor_slices`, `from_tensors`, `range` or `counter` is random access:
element `i` is row `i` of its arrays (or a number computed from `i`). Transformations that only
choose and order elements (`shuffle`, `take`, `skip`, `shard`, `repeat`, a memory `cache`)
keep that property: they can be computed on the integers `0..n-1` instead of on the elements.
`batch` on such a dataset then gathers each batch with one NumPy fancy-indexing call per
component, instead of stacking `batch_size` elements in Python; for `shuffle(1024).batch(64)`
over MNIST that is what makes the pipeline cost about what a hand-written NumPy loop costs.

An `IndexPlan` is a source (`gather(indices)` -> a flat tuple of batched arrays, `row(i)` ->
one element) and `chunks()`, which starts one pass and yields the indices of its elements in
order, as `range` objects (contiguous or strided runs, which gather as slices) or int64 arrays.
"""

from __future__ import annotations

import numpy as np


class IndexPlan:
    __slots__ = ("chunks", "source")

    def __init__(self, source, chunks):
        self.source = source
        self.chunks = chunks  # () -> iterator of range | int64 ndarray


class ArraySource:
    """Rows of equal-length host arrays (the components of one element, flattened)."""

    __slots__ = ("components", "row")

    def __init__(self, components: tuple):
        self.components = components
        # One closure per arity: the elementwise path calls row() once per element.
        if len(components) == 1:
            (a,) = components
            self.row = lambda i: (a[i],)
        elif len(components) == 2:
            a, b = components
            self.row = lambda i: (a[i], b[i])
        else:
            self.row = lambda i: tuple(c[i] for c in components)

    def gather(self, indices) -> tuple:
        if type(indices) is range:
            s = slice(indices.start, indices.stop, indices.step)
            if indices.step == 1:
                # A contiguous run is a view, no copy: the arrays are the dataset's own copy,
                # which nothing writes to, so the view is as good as a copy.
                return tuple(c[s] for c in self.components)
            return tuple(np.ascontiguousarray(c[s]) for c in self.components)
        return tuple(c[indices] for c in self.components)


class RangeSource:
    """The numbers `start + i * step` of one dtype (`Dataset.range`, `Dataset.counter`)."""

    __slots__ = ("_dtype", "_start", "_step", "_type")

    def __init__(self, start, step, np_dtype):
        self._start = start
        self._step = step
        self._dtype = np.dtype(np_dtype)
        self._type = self._dtype.type

    def row(self, i):
        return (self._type(self._start + i * self._step),)

    def gather(self, indices) -> tuple:
        if type(indices) is range:
            indices = np.arange(indices.start, indices.stop, indices.step, dtype=np.int64)
        values = self._start + indices * self._step
        return (values.astype(self._dtype, copy=False),)


def as_index_array(chunk) -> np.ndarray:
    if type(chunk) is range:
        return np.arange(chunk.start, chunk.stop, chunk.step, dtype=np.int64)
    return chunk


def concat_chunks(chunks) -> np.ndarray:
    """All the indices of a finite pass as one int64 array."""
    parts = [as_index_array(c) for c in chunks]
    if not parts:
        return np.zeros(0, np.int64)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts)


def rechunk(chunks, size: int):
    """The indices of `chunks` regrouped into runs of exactly `size` (the last may be
    shorter): the index arrays of successive batches."""
    pending = None
    for c in chunks:
        if pending is not None:
            c = np.concatenate([pending, as_index_array(c)])
            pending = None
        n = len(c)
        full = n - n % size
        for s in range(0, full, size):
            yield c[s:s + size]
        if full < n:
            pending = as_index_array(c[full:])
    if pending is not None:
        yield pending


def rows_of(plan: IndexPlan):
    """The elements of one pass of `plan`, one flat tuple each."""
    row = plan.source.row
    for chunk in plan.chunks():
        if type(chunk) is not range:
            chunk = chunk.tolist()
        for i in chunk:
            yield row(i)
