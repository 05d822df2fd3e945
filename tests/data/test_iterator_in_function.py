"""`next(iterator)` inside dtf.function reads a new element on every call (TensorFlow's
IteratorGetNext), with the dataset's structure, and raises OutOfRangeError at the end."""

import numpy as np
import pytest

import dtf


def test_next_in_a_compiled_function_reads_on_every_call():
    it = iter(dtf.data.Dataset.range(3))
    step = dtf.function(lambda it: next(it) * 2)
    assert [int(step(it)) for _ in range(3)] == [0, 2, 4]
    assert step.experimental_get_tracing_count() == 1
    with pytest.raises(dtf.errors.OutOfRangeError):
        step(it)


def test_structured_batches_and_get_next():
    x = np.arange(8.0, dtype="float32").reshape(4, 2)
    ds = dtf.data.Dataset.from_tensor_slices(({"a": x}, np.arange(4))).batch(2)
    it = iter(ds)

    @dtf.function
    def total(it):
        features, labels = it.get_next()
        return dtf.reduce_sum(features["a"]) + dtf.cast(dtf.reduce_sum(labels), dtf.float32)

    assert float(total(it)) == 0 + 1 + 2 + 3 + 0 + 1
    assert float(total(it)) == 4 + 5 + 6 + 7 + 2 + 3
