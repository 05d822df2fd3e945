"""The four queues of `dtf.queue`: FIFO, padding FIFO, priority and random shuffle.

Each is `QueueBase` (the blocking, closing and conversion protocol) with its storage policy.
"""

from __future__ import annotations

import collections
import heapq
import itertools

import numpy as np

from dtf import dtypes as _dtypes
from dtf.errors import InvalidArgumentError
from dtf.queue.queue_base import QueueBase, _as_shape_list, _int_arg, _xp_of
from dtf.tensor_shape import TensorShape

__all__ = ["FIFOQueue", "PaddingFIFOQueue", "PriorityQueue", "RandomShuffleQueue"]


class FIFOQueue(QueueBase):
    """A queue that dequeues elements in first-in first-out order.

    Args:
        capacity: the most elements the queue holds (negative: no limit); enqueues wait while
            it is full.
        dtypes: the dtype of each component of an element (one dtype for one component).
        shapes: the shape of each component (fully defined), or None for any shape; needed by
            `dequeue_many` and `dequeue_up_to`.
        names: component names: elements are then dicts with these keys.
        shared_name: accepted for TensorFlow compatibility; dtf queues live in one process, so
            sharing is by passing the object.
        name: the name of the queue, used in error messages.

    Example:
        >>> q = dtf.queue.FIFOQueue(10, dtf.float32, shapes=[[]])
        >>> q.enqueue_many([[1.0, 2.0, 3.0]])
        >>> float(q.dequeue()), int(q.size())
        (1.0, 2)
    """

    _kind = "FIFOQueue"

    def __init__(self, capacity, dtypes, shapes=None, names=None, shared_name=None,
                 name="fifo_queue"):
        super().__init__(dtypes, shapes, names, name, capacity)
        self._elements = collections.deque()

    def _count(self):
        return len(self._elements)

    def _put(self, element):
        self._elements.append(element)

    def _take(self):
        return self._elements.popleft()

    def _restore(self, elements):
        self._elements.extendleft(reversed(elements))  # back to the front, in their order


class PaddingFIFOQueue(FIFOQueue):
    """A FIFOQueue whose components may vary in size; `dequeue_many` pads them with zeros.

    `shapes` is required; a dimension given as None may differ between elements, and a batch
    pads each such dimension to its largest size in the batch (with zeros, False for bools).

    Example:
        >>> q = dtf.queue.PaddingFIFOQueue(5, dtf.int32, shapes=[[None]])
        >>> q.enqueue(([1],)); q.enqueue(([1, 2, 3],))
        >>> q.dequeue_many(2).numpy().tolist()
        [[1, 0, 0], [1, 2, 3]]
    """

    _kind = "PaddingFIFOQueue"
    _allow_unknown_dims = True

    def __init__(self, capacity, dtypes, shapes, names=None, shared_name=None,
                 name="padding_fifo_queue"):
        super().__init__(capacity, dtypes, shapes, names, shared_name, name)

    def _check_batchable(self, op):
        pass  # every batch can be padded

    def _batch(self, elements, n):
        out = []
        for i, (dtype, shape) in enumerate(zip(self._dtypes, self._shapes)):
            column = [e[i] for e in elements]
            # Known dims are the same in every element; unknown ones take the largest (0 when
            # the batch is empty, as TensorFlow does).
            dims = [max((int(np.shape(a)[d]) for a in column), default=0) if size is None
                    else size for d, size in enumerate(shape.as_list())]
            xp = _xp_of(column[0]) if column else np
            batch = xp.zeros([n] + dims, dtype=dtype._np)
            for k, a in enumerate(column):
                batch[(k,) + tuple(slice(0, s) for s in np.shape(a))] = a
            out.append(batch)
        return out


class PriorityQueue(QueueBase):
    """A queue that dequeues elements by priority, smallest first.

    Its first component is the priority, an int64 scalar (a vector in `enqueue_many`), added in
    front of `types`; elements of equal priority leave in the order they came.

    Args:
        capacity: the most elements the queue holds (negative: no limit).
        types: the dtypes of the components after the priority.
        shapes: their shapes (fully defined), or None for any shape.
        names: names for all components, the priority's first (as TensorFlow).

    Example:
        >>> q = dtf.queue.PriorityQueue(5, [dtf.float32], shapes=[[]])
        >>> q.enqueue_many(([3, 1, 2], [30.0, 10.0, 20.0]))
        >>> priorities, values = q.dequeue_many(3)
        >>> priorities.numpy().tolist(), values.numpy().tolist()
        ([1, 2, 3], [10.0, 20.0, 30.0])
    """

    _kind = "PriorityQueue"

    def __init__(self, capacity, types, shapes=None, names=None, shared_name=None,
                 name="priority_queue"):
        types = list(types) if isinstance(types, (list, tuple)) else [types]
        shapes = _as_shape_list(shapes, self._kind, False)
        if shapes is not None:
            shapes = [TensorShape([])] + shapes
        super().__init__([_dtypes.int64] + types, shapes, names, name, capacity)
        self._heap = []
        self._order = itertools.count()
        self._restored = itertools.count(-1, -1)  # restored elements go before their equals

    def _count(self):
        return len(self._heap)

    def _put(self, element):
        heapq.heappush(self._heap, (int(element[0]), next(self._order), element))

    def _take(self):
        return heapq.heappop(self._heap)[2]

    def _restore(self, elements):
        for element in reversed(elements):
            heapq.heappush(self._heap, (int(element[0]), next(self._restored), element))


class RandomShuffleQueue(QueueBase):
    """A queue that dequeues elements in a random order.

    A dequeue waits until more than `min_after_dequeue` elements are in the queue, so that many
    are left to mix with later ones; once the queue is closed, that minimum no longer holds and
    the rest drains. The order follows dtf's seed rules (`dtf.random.set_seed` and `seed`):
    with either seed set, two queues fed the same way give the same order.

    Args:
        capacity: the most elements the queue holds (negative: no limit).
        min_after_dequeue: how many elements a dequeue leaves in an open queue (0 <= it <
            capacity).
        dtypes, shapes, names, shared_name, name: as `FIFOQueue`.
        seed: the op seed.

    Example:
        >>> q = dtf.queue.RandomShuffleQueue(10, 2, dtf.int32, shapes=[[]], seed=7)
        >>> q.enqueue_many([[0, 1, 2, 3, 4]])
        >>> first = q.dequeue_many(3)  # leaves min_after_dequeue=2 elements
        >>> int(q.size())
        2
        >>> q.close()  # closed: the minimum no longer holds
        >>> sorted(first.numpy().tolist() + q.dequeue_up_to(5).numpy().tolist())
        [0, 1, 2, 3, 4]
    """

    _kind = "RandomShuffleQueue"

    def __init__(self, capacity, min_after_dequeue, dtypes, shapes=None, names=None, seed=None,
                 shared_name=None, name="random_shuffle_queue"):
        super().__init__(dtypes, shapes, names, name, capacity)
        self._min_after_dequeue = _int_arg(min_after_dequeue, "min_after_dequeue", self._kind)
        if self._min_after_dequeue < 0:
            raise InvalidArgumentError(
                f"{self._kind} '{name}': min_after_dequeue {self._min_after_dequeue} must be "
                f">= 0.")
        if 0 <= self._capacity <= self._min_after_dequeue:
            raise InvalidArgumentError(
                f"{self._kind} '{name}': min_after_dequeue {self._min_after_dequeue} must be < "
                f"capacity {self._capacity}, or no dequeue could ever run.")
        self._elements = []
        self._rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
            _shuffle_entropy(seed))))

    def _count(self):
        return len(self._elements)

    def _available(self):
        if self._closed:
            return len(self._elements)
        return len(self._elements) - self._min_after_dequeue

    def _put(self, element):
        self._elements.append(element)

    def _take(self):
        # TensorFlow's choice: a uniform index, swapped with the last element and popped.
        elements = self._elements
        k = int(self._rng.integers(len(elements)))
        elements[k], elements[-1] = elements[-1], elements[k]
        return elements.pop()

    def _restore(self, elements):
        self._elements.extend(elements)


def _shuffle_entropy(seed) -> tuple:
    """The entropy of a shuffle queue's order, with TensorFlow's seed rules: fixed by the op
    seed and the global seed when either is set (the op seed of the global sequence when only
    the global one is), fresh otherwise."""
    from dtf.ops import random_ops

    if seed is None:
        entropy = random_ops._entropy((RandomShuffleQueue._kind,), None)
        if entropy is None:
            return (np.random.SeedSequence().entropy,)
        return tuple(entropy)
    op_seed = random_ops._seed_int(seed, RandomShuffleQueue._kind)
    global_seed = random_ops._state.global_seed
    if global_seed is None:
        global_seed = random_ops.DEFAULT_GRAPH_SEED
    return (random_ops._truncate(global_seed), 1, random_ops._truncate(op_seed))
