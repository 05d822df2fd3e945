"""`updates.adam_update` on NumPy: bit for bit Keras' order of operations whatever form the
hyperparameters take, and the arrays it holds at its peak (parameter servers rely on it)."""

import tracemalloc

import numpy as np
import pytest

from dtf.keras.optimizers import updates

RNG = np.random.default_rng(3)


def keras_adam(var, grad, m, v, alpha, beta_1, beta_2, epsilon):
    """Keras 3's Adam step as written there (its operations in its order)."""
    m = m + (grad - m) * (1 - beta_1)
    v = v + (np.square(grad) - v) * (1 - beta_2)
    return var - (m * alpha) / (np.sqrt(v) + epsilon), m, v


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (7,), (5, 3)])
@pytest.mark.parametrize("in_place", [False, True])
def test_bit_for_bit_over_steps(dtype, shape, in_place):
    var = RNG.standard_normal(shape).astype(dtype)
    m, v = np.zeros(shape, dtype), np.zeros(shape, dtype)
    want = (var, m.copy(), v.copy())
    for step in range(1, 8):
        grad = (RNG.standard_normal(shape) * 10.0 ** RNG.integers(-4, 1)).astype(dtype)
        alpha = updates.adam_step_size(np.dtype(dtype).type, np.dtype(dtype).type(1e-3), step,
                                       0.9, 0.999)
        want = keras_adam(want[0], grad, want[1], want[2], alpha, 0.9, 0.999, 1e-7)
        var, (m, v) = updates.adam_update(np, var, grad, (m, v), alpha, 0.9, 0.999, 1e-7,
                                          in_place=in_place)
        for got, expected, name in zip((var, m, v), want, ("var", "m", "v")):
            assert same_bits(got, expected), f"{name} at step {step}"


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 0, 2)])
def test_hyperparameter_forms_share_no_cached_scalars(order):
    # NumPy scalars are not "weak": with `1 - np.float64(0.9)` a float32 update computes in
    # float64. Equal values in other forms must not reuse the Python floats' float32 scalars
    # (nor the reverse), whichever form comes first.
    forms = [(0.9, 0.999, 1e-7), (np.float64(0.9), np.float64(0.999), np.float64(1e-7)),
             (np.float32(0.9), 0.999, 1e-7)]
    var, grad, m = (RNG.standard_normal(1000).astype(np.float32) for _ in range(3))
    v = np.square(RNG.standard_normal(1000)).astype(np.float32)
    alpha = np.float32(1e-3)

    def update(betas):
        new_var, (new_m, new_v) = updates.adam_update(np, var, grad, (m, v), alpha, *betas)
        return new_var, new_m, new_v

    alone = []
    for betas in forms:
        updates._ADAM_SCALARS.clear()
        alone.append(update(betas))
    assert all(same_bits(a, b) for a, b in zip(alone[0], keras_adam(var, grad, m, v, alpha,
                                                                     *forms[0])))
    assert not same_bits(alone[0][0], alone[1][0])  # the forms do differ somewhere
    updates._ADAM_SCALARS.clear()
    for index in order:
        assert all(same_bits(a, b) for a, b in zip(update(forms[index]), alone[index]))


@pytest.mark.parametrize("in_place, peak, kept", [(False, 4, 3), (True, 2, 1)])
def test_arrays_at_the_peak(in_place, peak, kept):
    shape = (256, 256)
    var = np.ones(shape, np.float32)
    grad = np.full(shape, 0.5, np.float32)
    m, v = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    inputs = [a.copy() for a in (var, grad)]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        _new_var, (new_m, new_v) = updates.adam_update(np, var, grad, (m, v), np.float32(1e-3),
                                                       0.9, 0.999, 1e-7, in_place=in_place)
        current, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_bytes <= peak * var.nbytes + 4096
    assert current <= kept * var.nbytes + 4096
    assert (new_m is m and new_v is v) == in_place
    assert all(same_bits(a, b) for a, b in zip((var, grad), inputs))  # inputs intact



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_a_large_variable_in_place_is_chunked_bit_for_bit_with_one_array_at_the_peak(
        dtype, amsgrad, monkeypatch):
    monkeypatch.setattr(updates, "_CHUNKED_MIN_SIZE", 1 << 12)
    monkeypatch.setattr(updates, "_CHUNK", 1000)  # the last chunk is a partial one
    shape = (70, 101)
    var, grad, m = (RNG.standard_normal(shape).astype(dtype) for _ in range(3))
    v = np.square(RNG.standard_normal(shape)).astype(dtype)
    slots = (m, v, np.maximum(v, 0.5).astype(dtype)) if amsgrad else (m, v)
    alpha = updates.adam_step_size(np.dtype(dtype).type, np.dtype(dtype).type(1e-3), 4, 0.9,
                                   0.999)
    want = updates.adam_update(np, var, grad, tuple(s.copy() for s in slots), alpha, 0.9, 0.999,
                               1e-7)
    in_place = tuple(s.copy() for s in slots)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        got = updates.adam_update(np, var, grad, in_place, alpha, 0.9, 0.999, 1e-7,
                                  in_place=True)
        _current, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert same_bits(got[0], want[0])
    assert all(same_bits(a, b) for a, b in zip(got[1], want[1]))
    # the new value, plus AMSGrad's new running maximum (a slot), plus one chunk
    assert peak_bytes <= (2 if amsgrad else 1) * var.nbytes + 1000 * var.itemsize + 4096
