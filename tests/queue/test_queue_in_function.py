"""Queues inside dtf.function: every operation is a graph op that runs on each call of the
compiled function (TensorFlow's queue ops in a tf.function), with the eager semantics."""

import threading

import numpy as np
import pytest

import dtf


def test_enqueue_and_dequeue_run_on_every_call_in_program_order():
    q = dtf.queue.FIFOQueue(4, dtf.float32, shapes=[[]])

    @dtf.function
    def step(x):
        q.enqueue(x * 2.0)
        q.enqueue(x * 3.0)
        return q.dequeue() + 1.0, q.size()

    assert [float(v) for v in step(dtf.constant(1.0))] == [3.0, 1.0]
    assert [float(v) for v in step(dtf.constant(5.0))] == [4.0, 2.0]  # 3.0 from the last call
    assert step.experimental_get_tracing_count() == 1
    assert [float(q.dequeue()) for _ in range(2)] == [10.0, 15.0]


def test_many_up_to_close_and_is_closed_in_a_trace():
    q = dtf.queue.FIFOQueue(10, [dtf.int32, dtf.float32], shapes=[[], [2]])

    @dtf.function
    def fill(a, b):
        q.enqueue_many([a, b])
        return q.size()

    assert int(fill(dtf.constant([1, 2, 3]), dtf.ones([3, 2]))) == 3

    @dtf.function
    def take():
        ints, floats = q.dequeue_many(2)
        return ints, floats, q.is_closed()

    ints, floats, closed = take()
    assert ints.numpy().tolist() == [1, 2] and floats.shape == (2, 2) and not bool(closed)

    @dtf.function
    def drain():
        q.close()
        return q.dequeue_up_to(5), q.is_closed()

    (ints, floats), closed = drain()
    assert ints.numpy().tolist() == [3] and floats.shape == (1, 2) and bool(closed)
    # TensorFlow's errors, raised when the graph runs: a second close, a dequeue from an empty
    # closed queue, an enqueue into a closed one
    with pytest.raises(dtf.errors.CancelledError, match="already closed"):
        drain()
    with pytest.raises(dtf.errors.OutOfRangeError):
        dtf.function(lambda: q.dequeue())()
    with pytest.raises(dtf.errors.CancelledError):
        fill(dtf.constant([4]), dtf.ones([1, 2]))


def test_traced_shapes_follow_the_queue():
    q = dtf.queue.PaddingFIFOQueue(8, [dtf.int64], shapes=[[None]])
    seen = {}

    @dtf.function
    def step():
        seen["one"] = q.dequeue().shape
        seen["many"] = q.dequeue_many(2).shape
        seen["up_to"] = q.dequeue_up_to(2).shape
        return q.size()

    for row in ([1], [2, 3], [4, 5, 6], [7], [8, 9]):
        q.enqueue([np.array(row, dtype=np.int64)])
    assert int(step()) == 0
    assert seen["one"].as_list() == [None]
    assert seen["many"].as_list() == [2, None] and seen["up_to"].as_list() == [None, None]


def test_a_compiled_producer_and_consumers_in_threads_deliver_each_element_once():
    q = dtf.queue.FIFOQueue(3, dtf.int64, shapes=[[]])
    produce = dtf.function(lambda x: q.enqueue(x))
    consume = dtf.function(lambda: q.dequeue())
    got, lock = [], threading.Lock()

    def producer(start):
        for i in range(start, start + 50):
            produce(dtf.constant(i, dtype=dtf.int64))

    def consumer():
        while True:
            try:
                value = int(consume())
            except dtf.errors.OutOfRangeError:
                return
            with lock:
                got.append(value)

    producers = [threading.Thread(target=producer, args=(k * 1000,)) for k in range(3)]
    consumers = [threading.Thread(target=consumer) for _ in range(3)]
    for t in producers + consumers:
        t.start()
    for t in producers:
        t.join()
    q.close()
    for t in consumers:
        t.join()
    assert sorted(got) == sorted(k * 1000 + i for k in range(3) for i in range(50))


def test_a_timeout_inside_a_compiled_function():
    q = dtf.queue.FIFOQueue(1, dtf.float32, shapes=[[]])
    wait = dtf.function(lambda: q.dequeue(timeout=0.05))
    with pytest.raises(dtf.errors.DeadlineExceededError, match="timed out"):
        wait()


def test_functions_with_queue_ops_do_not_export(tmp_path):
    q = dtf.queue.FIFOQueue(2, dtf.float32, shapes=[[]])
    module = dtf.Module()
    def f(x):
        q.enqueue(x)
        return x + 1.0

    module.f = dtf.function(f, input_signature=[dtf.TensorSpec([], dtf.float32)])
    with pytest.raises(ValueError, match="queue_enqueue.*dtf.queue"):
        dtf.saved_model.save(module, str(tmp_path / "m"))
