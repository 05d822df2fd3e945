"""Cases for the graph ops of `dtf.queue.queue_ops`, run eagerly on a fresh queue (their use
inside `dtf.function`, with threads, is tested in tests/queue)."""

from __future__ import annotations

import numpy as np

import dtf
from dtf.queue import queue_ops
from dtf.testing.op_cases import OpCase


def _queue(capacity=8):
    return dtf.queue.FIFOQueue(capacity, [dtf.float64], shapes=[[2]])


def _enqueue_then_dequeue(x):
    q = _queue()
    queue_ops.queue_enqueue(x, queue=q, many=False, timeout=None)
    return q.dequeue()


def _enqueue_many_then_dequeue_many(x):
    q = _queue()
    queue_ops.queue_enqueue(x, queue=q, many=True, timeout=None)
    (out,) = queue_ops.queue_dequeue(queue=q, n=3, allow_small_batch=False, timeout=None)
    return out


def _dequeue_up_to(x):
    q = _queue()
    q.enqueue_many([x])
    queue_ops.queue_close(queue=q, cancel_pending_enqueues=False, timeout=None)
    (out,) = queue_ops.queue_dequeue(queue=q, n=5, allow_small_batch=True, timeout=None)
    return out


def _size(x):
    q = _queue()
    q.enqueue_many([x])
    return queue_ops.queue_size(queue=q)


def _is_closed(x):
    q = _queue()
    q.enqueue(x[0])
    q.close()
    return queue_ops.queue_is_closed(queue=q)


ROWS = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])

CASES = [
    OpCase("queue_enqueue", _enqueue_then_dequeue, [np.array([1.5, -2.0])], lambda x: x,
           grad=False),
    OpCase("queue_dequeue", _enqueue_many_then_dequeue_many, [ROWS], lambda x: x, grad=False),
    OpCase("queue_close", _dequeue_up_to, [ROWS], lambda x: x, grad=False),
    OpCase("queue_size", _size, [ROWS], lambda x: np.int32(len(x)), grad=False),
    OpCase("queue_is_closed", _is_closed, [ROWS], lambda x: np.bool_(True), grad=False),
]
