"""A queue's operations as graph ops: inside `dtf.function` they run each time the compiled
function runs, as TensorFlow's `QueueEnqueueV2`, `QueueDequeueV2`, `QueueSizeV2`... do.

Without them a queue call in a traced function would run once, at trace time (or refuse its
symbolic arguments). The queue (a Python object) is an attribute of each node, as a dataset
iterator is of `iterator_get_next`. The ops are stateful, so graph passes neither merge, fold
nor drop them and they run in program order, and host-only: their arrays live in the queue.
A dequeue's outputs have the queue's dtypes and shapes (with the batch dimension of
`dequeue_many`, unknown for `dequeue_up_to`).

Example:
    >>> q = dtf.queue.FIFOQueue(4, dtf.float32, shapes=[[]])
    >>> @dtf.function
    ... def step(x):
    ...     q.enqueue(x * 2.0)
    ...     return q.dequeue() + 1.0
    >>> float(step(dtf.constant(1.0))), float(step(dtf.constant(5.0)))
    (3.0, 11.0)
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.ops.registry import Spec, primitive

__all__ = ["queue_close", "queue_dequeue", "queue_enqueue", "queue_is_closed", "queue_size"]


def _done_rule(*components, **attrs):
    return Spec((), dtypes.bool)


@primitive("queue_enqueue", shape=_done_rule, differentiable=False, stateful=True,
           host_only=True)
def queue_enqueue(xp, *components, queue, many, timeout):
    """Enqueues one element (its components), or with `many` the slices along dimension 0."""
    queue._enqueue_arrays(list(components), many, timeout)
    return np.asarray(True)


def _dequeue_rule(*inputs, queue, n, allow_small_batch, timeout):
    specs = []
    for dtype, shape in zip(queue._dtypes, queue._shapes):
        dims = None if shape.rank is None else tuple(shape.as_list())
        if n is not None and dims is not None:
            dims = (None if allow_small_batch else n,) + dims
        specs.append(Spec(dims, dtype))
    return specs


@primitive("queue_dequeue", shape=_dequeue_rule, num_outputs=None, differentiable=False,
           stateful=True, host_only=True, data_dependent_shape=True)  # dequeue_up_to's batch
def queue_dequeue(xp, *inputs, queue, n, allow_small_batch, timeout):
    """One element (`n` None), or `n` elements stacked (fewer, on a closed queue, with
    `allow_small_batch`): one array per component."""
    return tuple(queue._dequeue_arrays(n, allow_small_batch, timeout))


@primitive("queue_size", shape=lambda *inputs, queue: Spec((), dtypes.int32),
           differentiable=False, stateful=True, host_only=True)
def queue_size(xp, *inputs, queue):
    """The number of elements in the queue when the op runs."""
    with queue._cond:
        return np.asarray(queue._count(), dtype=np.int32)


@primitive("queue_is_closed", shape=lambda *inputs, queue: Spec((), dtypes.bool),
           differentiable=False, stateful=True, host_only=True)
def queue_is_closed(xp, *inputs, queue):
    """Whether the queue is closed when the op runs."""
    return np.asarray(queue._closed)


@primitive("queue_close", shape=_done_rule, differentiable=False, stateful=True, host_only=True)
def queue_close(xp, *inputs, queue, cancel_pending_enqueues, timeout):
    """Closes the queue (see `QueueBase.close`)."""
    queue._close(cancel_pending_enqueues, timeout)
    return np.asarray(True)
