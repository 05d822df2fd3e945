"""dtf.queue semantics, single-threaded: the results TensorFlow 2.21 gives (recorded by hand
from the reference install; see each test)."""

import numpy as np
import pytest

import dtf
from dtf import queue
from dtf.errors import CancelledError, InvalidArgumentError, OutOfRangeError


def test_fifo_tuples_and_batches():
    q = queue.FIFOQueue(3, [dtf.int32, dtf.float32], shapes=[[], [2]])
    q.enqueue((1, [1.0, 2.0]))
    q.enqueue_many(([2, 3], [[3.0, 4.0], [5.0, 6.0]]))
    assert int(q.size()) == 3 and q.size().dtype == dtf.int32
    a, b = q.dequeue()
    assert a.dtype == dtf.int32 and a.shape == [] and int(a) == 1
    assert b.dtype == dtf.float32 and b.numpy().tolist() == [1.0, 2.0]
    a, b = q.dequeue_many(2)
    assert a.numpy().tolist() == [2, 3] and a.dtype == dtf.int32
    assert b.shape == [2, 2] and b.numpy().tolist() == [[3.0, 4.0], [5.0, 6.0]]
    assert q.dtypes == [dtf.int32, dtf.float32] and q.names is None
    assert [s.as_list() for s in q.shapes] == [[], [2]]


def test_single_component_returns_a_tensor_and_dicts_with_names():
    q = queue.FIFOQueue(5, dtf.int32, shapes=[[]])
    assert q.enqueue(7) is None
    assert int(q.dequeue()) == 7
    assert q.dequeue_many(0).shape == [0]
    named = queue.FIFOQueue(5, [dtf.int32, dtf.float32], shapes=[[], []], names=["a", "b"])
    named.enqueue({"a": 1, "b": 2.0})
    out = named.dequeue()
    assert set(out) == {"a", "b"} and int(out["a"]) == 1 and float(out["b"]) == 2.0
    with pytest.raises(ValueError, match="dictionary"):
        named.enqueue((1, 2.0))
    with pytest.raises(ValueError, match="do not match"):
        named.enqueue({"a": 1})
    with pytest.raises(ValueError, match="no names"):
        q.enqueue({"x": 1})


def test_conversion_and_shape_errors():
    q = queue.FIFOQueue(5, dtf.int32, shapes=[[]])
    with pytest.raises(TypeError, match="component 0"):
        q.enqueue(1.5)
    with pytest.raises(ValueError, match="int64"):
        q.enqueue(dtf.constant(1, dtf.int64))
    with pytest.raises(ValueError, match=r"Shapes \(2,\) and \(\) are incompatible"):
        q.enqueue(([1, 2],))
    with pytest.raises(InvalidArgumentError, match="1 components"):
        q.enqueue((1, 2))
    pair = queue.FIFOQueue(5, [dtf.int32, dtf.int32], shapes=[[], []])
    with pytest.raises(ValueError, match="same size in dimension 0"):
        pair.enqueue_many(([1, 2], [1, 2, 3]))
    with pytest.raises(ValueError, match="scalar"):
        pair.enqueue_many((1, 2))
    assert int(q.size()) == 0 and int(pair.size()) == 0  # nothing half-enqueued


def test_constructor_errors():
    with pytest.raises(ValueError, match="fully defined"):
        queue.FIFOQueue(3, dtf.int32, shapes=[[None]])
    with pytest.raises(ValueError, match="same length"):
        queue.FIFOQueue(5, [dtf.int32], shapes=[[], []])
    with pytest.raises(ValueError, match="names"):
        queue.FIFOQueue(5, [dtf.int32], names=["a", "b"])
    with pytest.raises(ValueError, match="needs shapes"):
        queue.PaddingFIFOQueue(5, dtf.int32, shapes=None)
    with pytest.raises(InvalidArgumentError, match="must be < capacity 3"):
        queue.RandomShuffleQueue(3, 3, dtf.int32)
    with pytest.raises(InvalidArgumentError, match=">= 0"):
        queue.RandomShuffleQueue(3, -1, dtf.int32)
    # one shape given as a list of ints (TensorFlow's _as_shape_list)
    assert queue.FIFOQueue(3, dtf.int32, shapes=[2]).shapes[0].as_list() == [2]
    assert queue.FIFOQueue(3, dtf.int32, shapes=[]).shapes[0].as_list() == []


def test_dequeue_many_needs_shapes():
    q = queue.FIFOQueue(5, dtf.int32)
    q.enqueue(1)
    q.enqueue(([1, 2],))
    with pytest.raises(InvalidArgumentError, match="require the components to have specified"):
        q.dequeue_many(1)
    assert int(q.dequeue()) == 1 and q.dequeue().numpy().tolist() == [1, 2]
    q = queue.FIFOQueue(5, dtf.int32, shapes=[[]])
    with pytest.raises(InvalidArgumentError, match="-1 < 0"):
        q.dequeue_many(-1)


def test_close_semantics():
    q = queue.FIFOQueue(5, dtf.int32, shapes=[[]])
    q.enqueue_many([[1, 2, 3]])
    assert not bool(q.is_closed())
    q.close()
    assert bool(q.is_closed())
    with pytest.raises(CancelledError, match="closed"):
        q.enqueue(4)
    with pytest.raises(CancelledError, match="already closed"):
        q.close()
    with pytest.raises(OutOfRangeError, match=r"requested 4, current size 3"):
        q.dequeue_many(4)
    assert int(q.size()) == 3  # the failed dequeue_many took nothing
    assert q.dequeue_up_to(4).numpy().tolist() == [1, 2, 3]
    with pytest.raises(OutOfRangeError, match=r"requested 4, current size 0"):
        q.dequeue_up_to(4)
    with pytest.raises(OutOfRangeError):
        q.dequeue()
    q.close(cancel_pending_enqueues=True)  # closing again with cancel is quiet, as in TF


def test_dequeue_up_to_on_open_queue_is_dequeue_many():
    q = queue.FIFOQueue(5, dtf.int32, shapes=[[]])
    q.enqueue_many([[1, 2, 3]])
    assert q.dequeue_up_to(2).numpy().tolist() == [1, 2]


def test_variables_and_numpy_inputs_are_copied_values():
    v = dtf.Variable([1.0, 2.0])
    q = queue.FIFOQueue(5, dtf.float32, shapes=[[2]])
    q.enqueue(v)
    arr = np.array([[5.0, 6.0]], np.float32)
    q.enqueue_many([arr])
    v.assign([9.0, 9.0])
    arr[:] = 0
    assert q.dequeue_many(2).numpy().tolist() == [[1.0, 2.0], [5.0, 6.0]]


def test_padding_fifo_queue_pads_batches():
    # TF 2.21: [[1 0 0] [1 2 3]] and float [[[1 2] [0 0] [0 0]] [[1 2] [3 4] [5 6]]]
    q = queue.PaddingFIFOQueue(5, [dtf.int32, dtf.float32], shapes=[[None], [None, 2]])
    q.enqueue(([1], [[1.0, 2.0]]))
    q.enqueue(([1, 2], [[1.0, 2.0], [3, 4], [5, 6]]))
    a, b = q.dequeue_many(2)
    assert a.numpy().tolist() == [[1, 0], [1, 2]]
    assert b.numpy().tolist() == [[[1, 2], [0, 0], [0, 0]], [[1, 2], [3, 4], [5, 6]]]
    assert b.dtype == dtf.float32
    q.enqueue(([1], [[1.0, 2.0]]))
    a, b = q.dequeue()
    assert a.shape == [1] and b.shape == [1, 2]
    a, b = q.dequeue_many(0)
    assert a.shape == [0, 0] and b.shape == [0, 0, 2]
    with pytest.raises(ValueError, match=r"Shapes \(1, 3\) and \(None, 2\) are incompatible"):
        q.enqueue(([1], [[1.0, 2.0, 3.0]]))
    one = queue.PaddingFIFOQueue(5, dtf.int32, shapes=[[None]])
    one.enqueue(([1],))
    one.enqueue(([1, 2, 3],))
    one.close()
    assert one.dequeue_up_to(5).numpy().tolist() == [[1, 0, 0], [1, 2, 3]]


def test_priority_queue_orders_by_int64_priority():
    # TF 2.21: dequeue -> (1, 'one'); dequeue_many(3) -> priorities [2 3 5]
    q = queue.PriorityQueue(5, [dtf.float32], shapes=[[]])
    assert q.dtypes == [dtf.int64, dtf.float32]
    assert [s.as_list() for s in q.shapes] == [[], []]
    q.enqueue((dtf.constant(5, dtf.int64), 5.0))
    q.enqueue((1, 1.0))  # a Python int becomes the int64 priority
    q.enqueue_many(([3, 2], [3.0, 2.0]))
    p, v = q.dequeue()
    assert p.dtype == dtf.int64 and int(p) == 1 and float(v) == 1.0
    p, v = q.dequeue_many(3)
    assert p.numpy().tolist() == [2, 3, 5] and v.numpy().tolist() == [2.0, 3.0, 5.0]
    with pytest.raises(ValueError, match="int32"):
        q.enqueue((dtf.constant(1, dtf.int32), 1.0))


def test_priority_queue_ties_leave_in_arrival_order():
    q = queue.PriorityQueue(10, [dtf.int32], shapes=[[]])
    q.enqueue_many(([1, 0, 1, 0, 1], [10, 20, 30, 40, 50]))
    assert q.dequeue_many(5)[1].numpy().tolist() == [20, 40, 10, 30, 50]
    q.enqueue_many(([2, 2], [1, 2]))
    q.close()
    with pytest.raises(OutOfRangeError):
        q.dequeue_many(3)
    assert q.dequeue_up_to(3)[1].numpy().tolist() == [1, 2]


def test_repr_and_name():
    q = queue.FIFOQueue(2, dtf.int32)
    assert q.name == "fifo_queue"
    assert "FIFOQueue" in repr(q) and "capacity=2" in repr(q)
    assert queue.RandomShuffleQueue(3, 1, dtf.int32).name == "random_shuffle_queue"
