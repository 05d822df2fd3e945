"""Transformations that only choose and order elements: shuffle, take, skip, shard, repeat.

Each works on a stream of elements, and, when its input is random access (an index plan, see
plan.py), on the stream of indices instead, so that a later `batch` gathers whole batches.
Both paths run the same algorithm, so they give the same elements in the same order.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np

from dtf.data.dataset import INFINITE, UNKNOWN, UnaryDataset, close_iterator, int_arg
from dtf.data.plan import IndexPlan, concat_chunks, rows_of
from dtf.errors import InvalidArgumentError


class _ReorderDataset(UnaryDataset):
    """Base: `_chunks(plan)` transforms a pass of indices, `_stream()` a pass of elements."""

    def _plan(self):
        inner = self._input._plan()
        if inner is None:
            return None
        return IndexPlan(inner.source, lambda: self._chunks(inner))

    def _elements(self):
        plan = self._plan()
        if plan is not None:
            return rows_of(plan)
        return self._stream()


# -- take / skip / shard --------------------------------------------------------------------------
class _TakeDataset(_ReorderDataset):
    def __init__(self, input_dataset, count):
        super().__init__(input_dataset)
        self._count = int_arg(count, "count", "take")

    def _cardinality(self):
        n, count = self._input._cardinality(), self._count
        if n == UNKNOWN:
            return UNKNOWN
        if n == INFINITE:
            return count  # -1: still infinite
        return n if count < 0 else min(n, count)

    def _chunks(self, inner):
        left = self._count
        if left < 0:
            yield from inner.chunks()
            return
        if left == 0:
            return
        for c in inner.chunks():
            if len(c) >= left:
                yield c[:left]
                return
            yield c
            left -= len(c)

    def _stream(self):
        count = self._count
        it = self._input._elements()
        if count < 0:
            yield from it
            return
        try:
            for _ in range(count):
                element = next(it, None)
                if element is None:
                    return
                yield element
        finally:
            close_iterator(it)


class _SkipDataset(_ReorderDataset):
    def __init__(self, input_dataset, count):
        super().__init__(input_dataset)
        self._count = int_arg(count, "count", "skip")

    def _cardinality(self):
        n, count = self._input._cardinality(), self._count
        if n in (INFINITE, UNKNOWN):
            return n
        return 0 if count < 0 else max(0, n - count)

    def _chunks(self, inner):
        left = self._count
        if left < 0:
            return
        for c in inner.chunks():
            if left:
                if len(c) <= left:
                    left -= len(c)
                    continue
                c = c[left:]
                left = 0
            yield c

    def _stream(self):
        count = self._count
        it = self._input._elements()
        if count < 0:
            close_iterator(it)
            return
        for _ in itertools.islice(it, count):
            pass
        yield from it


class _ShardDataset(_ReorderDataset):
    def __init__(self, input_dataset, num_shards, index):
        super().__init__(input_dataset)
        num_shards = int_arg(num_shards, "num_shards", "shard")
        index = int_arg(index, "index", "shard")
        if num_shards <= 0:
            raise InvalidArgumentError(f"Number of shards must be greater than zero (currently "
                                       f"num_shards = {num_shards}).")
        if not 0 <= index < num_shards:
            raise InvalidArgumentError(f"Index must be between 0 and {num_shards - 1} "
                                       f"(currently index = {index}).")
        self._num_shards, self._index = num_shards, index

    def _cardinality(self):
        n = self._input._cardinality()
        if n in (INFINITE, UNKNOWN):
            return n
        k, i = self._num_shards, self._index
        return n // k + (1 if i < n % k else 0)

    def _chunks(self, inner):
        k, i = self._num_shards, self._index
        position = 0  # index in the pass of the chunk's first element
        for c in inner.chunks():
            first = (i - position) % k
            position += len(c)
            if first < len(c):
                yield c[first::k]

    def _stream(self):
        return itertools.islice(self._input._elements(), self._index, None, self._num_shards)


# -- repeat -----------------------------------------------------------------------------------------
class _RepeatDataset(_ReorderDataset):
    def __init__(self, input_dataset, count):
        super().__init__(input_dataset)
        self._count = -1 if count is None else int_arg(count, "count", "repeat")

    def _cardinality(self):
        n, count = self._input._cardinality(), self._count
        if count < 0:
            return 0 if n == 0 else INFINITE
        if count == 0:
            return 0
        if n in (INFINITE, UNKNOWN):
            return n
        return count * n

    def _passes(self):
        return itertools.count() if self._count < 0 else range(self._count)

    def _chunks(self, inner):
        for _ in self._passes():
            empty = True
            for c in inner.chunks():
                if len(c):
                    empty = False
                    yield c
            if empty:
                return  # repeating an empty dataset forever gives nothing, not a hang

    def _stream(self):
        for _ in self._passes():
            empty = True
            for element in self._input._elements():
                empty = False
                yield element
            if empty:
                return


# -- shuffle --------------------------------------------------------------------------------------
_SHUFFLE_STREAM = 0x5348_5546  # keeps dataset shuffles apart from the random ops' streams
_UNBOUNDED = sys.maxsize
_MAX_MATERIALIZED = 1 << 25  # longer passes stream their indices instead of holding them all


class _ShuffleDataset(_ReorderDataset):
    def __init__(self, input_dataset, buffer_size, seed, reshuffle_each_iteration):
        super().__init__(input_dataset)
        size = int_arg(buffer_size, "buffer_size", "shuffle")
        if size == UNKNOWN:
            size = _UNBOUNDED  # TensorFlow's spelling of "the whole dataset"
        elif size <= 0:
            raise InvalidArgumentError(
                f"shuffle: buffer_size must be greater than zero or UNKNOWN_CARDINALITY, got "
                f"{size}. A buffer as large as the dataset gives a uniform shuffle.")
        self._buffer_size = size
        self._entropy = _seed_entropy(seed)
        self._reshuffle = True if reshuffle_each_iteration is None \
            else bool(reshuffle_each_iteration)
        self._pass_counter = itertools.count()

    def _new_rng(self):
        k = next(self._pass_counter) if self._reshuffle else 0
        seq = np.random.SeedSequence(self._entropy + (_SHUFFLE_STREAM, k))
        return np.random.Generator(np.random.PCG64(seq))

    def _chunks(self, inner):
        rng = self._new_rng()
        if 0 <= self._input._cardinality() <= _MAX_MATERIALIZED:
            yield shuffled_indices(concat_chunks(inner.chunks()), self._buffer_size, rng)
            return
        indices = itertools.chain.from_iterable(
            c if type(c) is range else c.tolist() for c in inner.chunks())
        stream = buffer_shuffle(indices, self._buffer_size, rng)
        while True:
            block = list(itertools.islice(stream, 4096))
            if not block:
                return
            yield np.array(block, dtype=np.int64)

    def _stream(self):
        return buffer_shuffle(self._input._elements(), self._buffer_size, self._new_rng())


def _seed_entropy(seed) -> tuple:
    """The entropy of a shuffle's random streams, from the op seed and the global seed with
    TensorFlow's rules: fixed by the seeds when either is set, fresh otherwise. Two datasets
    with the same seeds shuffle alike."""
    from dtf.ops import random_ops

    if seed is None:
        entropy = random_ops._entropy(("ShuffleDataset",), None)  # takes the next global seed
        if entropy is None:
            return (np.random.SeedSequence().entropy,)
        return tuple(entropy)
    op_seed = random_ops._seed_int(seed, "shuffle")
    global_seed = random_ops._state.global_seed
    if global_seed is None:
        global_seed = random_ops.DEFAULT_GRAPH_SEED
    return (random_ops._truncate(global_seed), 1, random_ops._truncate(op_seed))


def buffer_shuffle(items, buffer_size: int, rng):
    """TensorFlow's shuffle buffer over any stream: a ring of `buffer_size` slots, filled from
    the input; each output is the element in a uniformly drawn occupied slot, whose place is
    then taken by the oldest element, and the oldest slot by the next input element."""
    ring = []
    it = iter(items)
    start = end = 0  # pass positions of the oldest buffered element and of the next one
    exhausted = False
    randoms, r = [], 0
    size = buffer_size
    try:
        while True:
            while not exhausted and end - start < size:
                x = next(it, _END)
                if x is _END:
                    exhausted = True
                    break
                if end < size:
                    ring.append(x)
                else:
                    ring[end % size] = x
                end += 1
            count = end - start
            if count == 0:
                return
            if r == len(randoms):
                randoms, r = rng.random(1024).tolist(), 0
            j = (start + int(randoms[r] * count)) % size
            r += 1
            head = start % size
            yield ring[j]
            ring[j] = ring[head]
            start += 1
    finally:
        close_iterator(it)


_END = object()


def shuffled_indices(src: np.ndarray, buffer_size: int, rng) -> np.ndarray:
    """`buffer_shuffle` of a whole finite pass of indices, vectorized where it can be.

    In pass positions, the ring is a window of the pass: step t swaps position t (the oldest
    buffered element, whose slot the next input refills) with position t + k, k drawn
    uniformly below min(buffer, n - t), and emits position t. So the random draws become
    swap targets in one NumPy expression, and only the swaps remain in Python (~50 ns each).
    """
    n = len(src)
    if n == 0:
        return src
    b = min(buffer_size, n)
    t = np.arange(n, dtype=np.int64)
    targets = (t + (rng.random(n) * np.minimum(b, n - t)).astype(np.int64)).tolist()
    a = src.tolist()
    for i, j in enumerate(targets):
        a[i], a[j] = a[j], a[i]
    return np.array(a, dtype=np.int64)
