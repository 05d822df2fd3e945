"""`updates.sgd_update` without momentum on NumPy: `var - grad * lr` bit for bit, written into
one new array (a parameter server updates large variables this way every step)."""

import tracemalloc

import numpy as np
import pytest

from dtf.keras.optimizers import updates

RNG = np.random.default_rng(5)


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (7,), (5, 3), (130, 130)])  # the last written over
def test_bit_for_bit(dtype, shape):
    var = RNG.standard_normal(shape).astype(dtype)
    lr = np.dtype(dtype).type(0.0137)
    for _ in range(5):
        grad = (RNG.standard_normal(shape) * 10.0 ** RNG.integers(-4, 2)).astype(dtype)
        want = var - grad * lr
        var, (slot,) = updates.sgd_update(np, var, grad, (None,), lr, 0.0, False)
        assert slot is None
        assert type(var) is type(want) and same_bits(var, want)


def test_a_gradient_that_broadcasts_still_updates_every_element():
    var = np.ones(3, np.float32)
    new, _ = updates.sgd_update(np, var, np.asarray(np.float32(2.0)), (None,), np.float32(0.5),
                                0.0, False)
    assert same_bits(new, np.zeros(3, np.float32))


def test_one_new_array_and_the_inputs_intact():
    var = np.ones((256, 256), np.float32)
    grad = np.full((256, 256), 0.5, np.float32)
    grad.flags.writeable = False  # as a gradient decoded from a message is
    inputs = [a.copy() for a in (var, grad)]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        new, _ = updates.sgd_update(np, var, grad, (None,), np.float32(0.1), 0.0, False)
        _current, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_bytes <= var.nbytes + 4096
    assert new is not var and same_bits(new, np.full((256, 256), 0.95, np.float32))
    assert all(same_bits(a, b) for a, b in zip((var, grad), inputs))
