"""`dtf.queue`: TensorFlow's queues, thread-safe, for feeding producers to consumers.

`FIFOQueue`, `PaddingFIFOQueue`, `PriorityQueue` and `RandomShuffleQueue` hold tuples of tensors
(or dicts with `names`); enqueues wait while a queue is full, dequeues while it is empty, and
`close` makes waiting dequeues drain what is left and then raise
`dtf.errors.OutOfRangeError`. Every blocking call takes a `timeout` (seconds). Inside
`dtf.function` their operations are graph ops that run on every call (`dtf.queue.queue_ops`).

Example:
    >>> import threading
    >>> q = dtf.queue.FIFOQueue(2, dtf.int32, shapes=[[]])
    >>> def produce():
    ...     for i in range(5):
    ...         q.enqueue(i)  # waits while 2 elements are queued
    ...     q.close()
    >>> t = threading.Thread(target=produce); t.start()
    >>> got = []
    >>> while True:
    ...     try:
    ...         got.append(int(q.dequeue()))
    ...     except dtf.errors.OutOfRangeError:
    ...         break
    >>> t.join(); got
    [0, 1, 2, 3, 4]
"""

from dtf.queue.queue_base import QueueBase
from dtf.queue.queues import FIFOQueue, PaddingFIFOQueue, PriorityQueue, RandomShuffleQueue

__all__ = ["FIFOQueue", "PaddingFIFOQueue", "PriorityQueue", "QueueBase", "RandomShuffleQueue"]
