"""Every kernel of `dtf.kernels` against the NumPy implementation of its op, on a real GPU
(skipped where CuPy has no device; never faked). The fused optimizer updates equal the NumPy
rules bit for bit over several steps; the fusion pass's kernels equal the unfused plan."""

from __future__ import annotations

import numpy as np
import numpy.testing as npt
import pytest

import dtf
import dtf.keras.losses._fused as losses_fused
from dtf import kernels
from dtf.keras.optimizers import updates
from dtf.ops import nn_ops


def _has_gpu():
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001  (no CuPy, no driver or no device: all mean skip)
        return False


pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not _has_gpu(), reason="needs CuPy and a CUDA device")]

FLOATS = [np.float16, np.float32, np.float64]
TOL = {np.float16: {"rtol": 2e-2, "atol": 2e-2}, np.float32: {"rtol": 2e-5, "atol": 1e-6},
       np.float64: {"rtol": 1e-12, "atol": 1e-13}}


@pytest.fixture
def cp():
    import cupy

    return cupy


def host(a):
    import cupy

    return cupy.asnumpy(a) if isinstance(a, cupy.ndarray) else np.asarray(a)


def close(got, want, dtype):
    npt.assert_allclose(host(got).astype(np.float64), np.asarray(want, np.float64),
                        **TOL[np.dtype(dtype).type])


def rand(shape, dtype, seed=0, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


# -- optimizers: bit for bit over several steps -------------------------------------------------
def _run_steps(cp, rule, kernel, dtype, slots, args, steps=5, in_place=None):
    var = rand((7, 33), dtype, 1)
    np_var, np_slots = var, [None if s is None else s.copy() for s in slots]
    cp_var = cp.asarray(var)
    cp_slots = [None if s is None else cp.asarray(s) for s in slots]
    for step in range(steps):
        grad = rand((7, 33), dtype, 10 + step)
        extra = {} if in_place is None else {"in_place": in_place}
        np_var, np_slots = rule(np, np_var, grad, tuple(np_slots), *args, **extra)
        cp_var, cp_slots = kernel(cp, cp_var, cp.asarray(grad), tuple(cp_slots), *args, **extra)
        npt.assert_array_equal(host(cp_var), np_var)
        for a, b in zip(cp_slots, np_slots):
            if b is None:
                assert a is None
            else:
                npt.assert_array_equal(host(a), b)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_matches_numpy_bit_for_bit(cp, dtype, momentum, nesterov):
    slots = [None] if momentum == 0.0 else [np.zeros((7, 33), dtype)]
    _run_steps(cp, updates.sgd_update, kernels.get("sgd_update"), dtype, slots,
               (dtype(0.05), momentum, nesterov))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("in_place", [False, True])
def test_adam_matches_numpy_bit_for_bit(cp, dtype, amsgrad, in_place):
    slots = [np.zeros((7, 33), dtype) for _ in range(3 if amsgrad else 2)]
    alpha = updates.adam_step_size(np.dtype(dtype).type, dtype(0.01), 3, 0.9, 0.999)
    _run_steps(cp, updates.adam_update, kernels.get("adam_update"), dtype, slots,
               (alpha, 0.9, 0.999, 1e-7), in_place=in_place)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("momentum, centered", [(0.0, False), (0.5, False), (0.0, True),
                                                (0.5, True)])
def test_rmsprop_matches_numpy_bit_for_bit(cp, dtype, momentum, centered):
    shape = (7, 33)
    slots = [np.zeros(shape, dtype), np.zeros(shape, dtype) if momentum else None,
             np.zeros(shape, dtype) if centered else None]
    _run_steps(cp, updates.rmsprop_update, kernels.get("rmsprop_update"), dtype, slots,
               (dtype(0.01), 0.9, momentum, 1e-7, centered))


def test_the_update_rules_hand_cupy_arrays_to_the_kernels(cp):
    var, grad = cp.ones(5, cp.float32), cp.full(5, 0.5, cp.float32)
    alpha = np.float32(0.1)
    new_var, _ = updates.adam_update(cp, var, grad, (cp.zeros(5, cp.float32),
                                                          cp.zeros(5, cp.float32)),
                                          alpha, 0.9, 0.999, 1e-7)
    want, _ = updates.adam_update(np, np.ones(5, np.float32), np.full(5, 0.5, np.float32),
                                  (np.zeros(5, np.float32), np.zeros(5, np.float32)), alpha,
                                  0.9, 0.999, 1e-7)
    npt.assert_array_equal(host(new_var), want)
    npt.assert_array_equal(host(var), np.ones(5, np.float32))  # inputs never written


def test_keras_adam_on_gpu_variables_equals_the_cpu_run():
    if not dtf.config.list_physical_devices("GPU"):
        pytest.skip("dtf has no GPU backend registered")
    from dtf import keras

    results = []
    for device in ("/CPU:0", "/GPU:0"):
        with dtf.device(device):
            w = dtf.Variable(rand((4, 6), np.float32, 3))
            opt = keras.optimizers.Adam(learning_rate=0.01, amsgrad=True)
            for step in range(4):
                opt.apply_gradients([(dtf.constant(rand((4, 6), np.float32, 20 + step)), w)])
            results.append(w.numpy())
    npt.assert_array_equal(results[1], results[0])


# -- bias + activation ----------------------------------------------------------------------
def _act_reference(name, z):
    with dtf.device("/CPU:0"):
        t = dtf.constant(z)
        fn = {"none": lambda t: t, "relu": dtf.nn.relu, "sigmoid": dtf.math.sigmoid,
              "tanh": dtf.math.tanh, "gelu": dtf.nn.gelu,
              "gelu_tanh": lambda t: dtf.nn.gelu(t, approximate=True)}[name]
        with dtf.GradientTape() as tape:
            tape.watch(t)
            y = fn(t)
        g = np.linspace(-1, 1, z.size).reshape(z.shape).astype(z.dtype)
        dz = tape.gradient(y, t, output_gradients=dtf.constant(g))
        return y.numpy(), g, dz.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["none", "relu", "sigmoid", "tanh", "gelu", "gelu_tanh"])
def test_bias_activation_forward_and_backward(cp, dtype, activation):
    x, b = rand((9, 40), dtype, 2, -3, 3), rand((40,), dtype, 3)
    z = x + b
    y_ref, g, dz_ref = _act_reference(activation, z)
    y, z_kept = kernels.get(f"bias_{activation}")(cp, cp.asarray(x), cp.asarray(b),
                                                  return_preactivation=True)
    close(y, y_ref, dtype)
    close(z_kept, z, dtype)
    saved = z_kept if activation.startswith("gelu") else y
    dz, db = kernels.get(f"bias_{activation}_grad")(cp, cp.asarray(g), saved)
    close(dz, dz_ref, dtype)
    close(db, dz_ref.sum(axis=0), dtype)


def test_bias_activation_in_float16(cp):
    x, b = rand((5, 16), np.float16, 4), rand((16,), np.float16, 5)
    y = kernels.get("bias_tanh")(cp, cp.asarray(x), cp.asarray(b))
    close(y, np.tanh((x + b).astype(np.float32)), np.float16)


@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh"])
def test_fused_dense_matches_its_impl(cp, activation):
    from dtf.ops.fused_ops import _fused_dense

    x, k, b = rand((6, 5), np.float32, 1), rand((5, 3), np.float32, 2), rand((3,), np.float32, 3)
    want = _fused_dense.impl(np, x, k, b, activation)
    got = kernels.get("fused_dense")(cp, cp.asarray(x), cp.asarray(k), cp.asarray(b), activation)
    close(got, want, np.float32)


# -- softmax cross-entropy --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("classes", [1, 10, 1000])
def test_sparse_xent_forward_and_backward(cp, dtype, classes):
    logits = rand((33, classes), dtype, 1, -20, 20)
    labels = np.random.default_rng(2).integers(0, classes, 33).astype(np.int32)
    per_row = nn_ops._sparse_xent.impl(np, logits, labels)
    close(kernels.get("sparse_softmax_cross_entropy_with_logits")(
        cp, cp.asarray(logits), cp.asarray(labels)), per_row, dtype)
    mean = losses_fused._sparse_xent_reduce.impl(np, logits, labels, 33.0)
    close(kernels.get("sparse_xent_reduce")(cp, cp.asarray(logits), cp.asarray(labels), 33.0),
          mean, dtype)
    g = np.asarray(1.5, dtype)
    grad = losses_fused._sparse_xent_reduce_grad.impl(np, g, logits, labels, 33.0)
    close(kernels.get("sparse_xent_reduce_grad")(cp, cp.asarray(g), cp.asarray(logits),
                                                 cp.asarray(labels), 33.0), grad, dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(4, 3000), (2, 3, 5)])
def test_softmax_and_log_softmax(cp, dtype, shape):
    x = rand(shape, dtype, 8, -30, 30)
    close(kernels.get("softmax")(cp, cp.asarray(x), -1), nn_ops._softmax.impl(np, x, -1), dtype)
    close(kernels.get("log_softmax")(cp, cp.asarray(x), len(shape) - 1),
          nn_ops._log_softmax.impl(np, x, -1), dtype)


def test_sparse_xent_gives_nan_rows_for_labels_out_of_range(cp):
    # as TensorFlow's GPU kernels (no host check: a compiled step stays capturable)
    logits = cp.zeros((3, 4), cp.float32)
    labels = cp.asarray([0, 4, -1])
    per_row = host(kernels.get("sparse_softmax_cross_entropy_with_logits")(cp, logits, labels))
    assert np.isfinite(per_row[0]) and np.isnan(per_row[1:]).all()
    grad = host(kernels.get("sparse_xent_reduce_grad")(cp, cp.asarray(np.float32(1)), logits,
                                                       labels, 3.0))
    assert np.isfinite(grad[0]).all() and np.isnan(grad[1:]).all()


@pytest.mark.parametrize("dtype", FLOATS)
def test_one_hot_xent_forward_and_backward(cp, dtype):
    logits = rand((17, 300), dtype, 4, -10, 10)
    labels = np.eye(300, dtype=dtype)[np.random.default_rng(5).integers(0, 300, 17)]
    w = logits.astype(np.float64)
    log_softmax = w - w.max(-1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(-1, keepdims=True))
    close(kernels.get("xent_forward")(cp, cp.asarray(logits), cp.asarray(labels)),
          -(labels * log_softmax).sum(-1), dtype)
    g = rand((17,), dtype, 6)
    want = g[:, None].astype(np.float64) * (np.exp(log_softmax) - labels)
    close(kernels.get("xent_backward")(cp, cp.asarray(g), cp.asarray(logits),
                                       cp.asarray(labels)), want, dtype)


# -- dropout --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
def test_dropout_equals_the_generic_path_on_the_same_draw(cp, dtype):
    x = cp.asarray(rand((64, 65), dtype, 7))
    dtf.random.set_seed(11)
    want_y, want_mask = nn_ops._dropout.impl(cp, x, 0.3, None, 5)
    dtf.random.set_seed(11)
    y, mask = kernels.get("dropout")(cp, x, 0.3, None, 5)
    npt.assert_array_equal(host(mask), host(want_mask))
    npt.assert_array_equal(host(y), host(want_y))
    assert set(np.unique(host(mask)).tolist()) <= {0.0, float(dtype(1 / 0.7))}


# -- normalization --------------------------------------------------------------------------
def _layer_norm_ref(x, gamma, beta, eps, g):
    x = x.astype(np.float64)
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    rstd = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * rstd
    y = xhat * gamma + beta
    dxhat = g * gamma
    dx = rstd * (dxhat - dxhat.mean(-1, keepdims=True)
                 - xhat * (dxhat * xhat).mean(-1, keepdims=True))
    return y, dx, (g * xhat).reshape(-1, x.shape[-1]).sum(0), g.reshape(-1, x.shape[-1]).sum(0)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(8, 31), (2, 3, 600)])
def test_layer_norm_forward_and_backward(cp, dtype, shape):
    x = rand(shape, dtype, 1, -2, 3)
    gamma, beta = rand(shape[-1:], dtype, 2), rand(shape[-1:], dtype, 3)
    g = rand(shape, dtype, 4)
    y_ref, dx_ref, dgamma_ref, dbeta_ref = _layer_norm_ref(x, gamma.astype(np.float64),
                                                           beta.astype(np.float64), 1e-3,
                                                           g.astype(np.float64))
    y, mean, rstd = kernels.get("layer_norm")(cp, cp.asarray(x), cp.asarray(gamma),
                                              cp.asarray(beta), 1e-3)
    close(y, y_ref, dtype)
    dx, dgamma, dbeta = kernels.get("layer_norm_grad")(cp, cp.asarray(g), cp.asarray(x),
                                                       cp.asarray(gamma), mean, rstd)
    close(dx, dx_ref, dtype)
    close(dgamma, dgamma_ref, dtype)
    close(dbeta, dbeta_ref, dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(64, 3), (4, 5, 6, 70)])
def test_batch_norm_forward_and_backward(cp, dtype, shape):
    x = rand(shape, dtype, 1, -2, 3)
    gamma, beta = rand(shape[-1:], dtype, 2), rand(shape[-1:], dtype, 3)
    g = rand(shape, dtype, 4)
    x2 = x.reshape(-1, shape[-1]).astype(np.float64)
    g2 = g.reshape(-1, shape[-1]).astype(np.float64)
    mean, var = x2.mean(0), x2.var(0)
    rstd = 1 / np.sqrt(var + 1e-3)
    xhat = (x2 - mean) * rstd
    y_ref = xhat * gamma + beta
    n = x2.shape[0]
    dx_ref = gamma * rstd * (g2 - g2.sum(0) / n - xhat * (g2 * xhat).sum(0) / n)
    y, got_mean, got_var = kernels.get("batch_norm")(cp, cp.asarray(x), cp.asarray(gamma),
                                                     cp.asarray(beta), 1e-3)
    close(y, y_ref.reshape(shape), dtype)
    close(got_mean, mean, dtype)
    close(got_var, var, dtype)
    dx, dgamma, dbeta = kernels.get("batch_norm_grad")(cp, cp.asarray(g), cp.asarray(x),
                                                       cp.asarray(gamma), got_mean, got_var,
                                                       1e-3)
    close(dx, dx_ref.reshape(shape), dtype)
    close(dgamma, (g2 * xhat).sum(0), dtype)
    close(dbeta, g2.sum(0), dtype)


# -- the fusion pass's kernels ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", [dtf.float32, dtf.float64])
def test_fused_plans_equal_unfused_plans(cp, dtype):
    from dtf.compile.codegen import lower
    from dtf.compile.graph import Graph
    from dtf.compile.symbolic import placeholder

    x = placeholder((None, 40), dtype)
    b = dtf.constant(rand((40,), dtype.as_numpy_dtype, 1))
    z = x + b
    out = dtf.where(z > 0.0, dtf.nn.gelu(z), dtf.math.sigmoid(z) * 0.5) - dtf.square(z) * 1e-3
    plan = lower(Graph([x], [out]), copy=True)
    xs = rand((30, 40), dtype.as_numpy_dtype, 2, -3, 3)
    want = plan(xs)[0]
    got = plan(cp.asarray(xs))[0]
    close(got, want, dtype.as_numpy_dtype)
    from dtf.compile import gpu_fusion

    assert "fused_chain" in gpu_fusion.device_plan(plan).source


def test_a_column_broadcast_takes_the_unfused_path(cp):
    from dtf.compile.codegen import lower
    from dtf.compile.graph import Graph
    from dtf.compile.symbolic import placeholder

    x, s = placeholder((None, 8)), placeholder((None, 1))
    plan = lower(Graph([x, s], [dtf.exp(x - s) * 2.0 + 1.0]), copy=True)
    xs, ss = rand((5, 8), np.float32, 1), rand((5, 1), np.float32, 2)
    close(plan(cp.asarray(xs), cp.asarray(ss))[0], plan(xs, ss)[0], np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rates_held_on_the_device_give_the_host_rates_results(cp, dtype):
    # a learning rate in a GPU Variable reaches the kernels as a device scalar (no host sync)
    var, grad = cp.asarray(rand((40,), dtype, 1)), cp.asarray(rand((40,), dtype, 2))
    slots = (cp.zeros(40, dtype), cp.zeros(40, dtype))
    alpha = dtype(0.003)
    host_rate = kernels.get("adam_update")(cp, var, grad, slots, alpha, 0.9, 0.999, 1e-7)
    device_rate = kernels.get("adam_update")(cp, var, grad, slots, cp.asarray(alpha), 0.9,
                                             0.999, 1e-7)
    npt.assert_array_equal(host(device_rate[0]), host(host_rate[0]))
    sgd = kernels.get("sgd_update")
    npt.assert_array_equal(host(sgd(cp, var, grad, (None,), cp.asarray(alpha), 0.0, False)[0]),
                           host(sgd(cp, var, grad, (None,), alpha, 0.0, False)[0]))
    rms = kernels.get("rmsprop_update")
    args = ((cp.ones(40, dtype), None, None), 0.9, 0.0, 1e-7, False)
    npt.assert_array_equal(host(rms(cp, var, grad, args[0], cp.asarray(alpha), *args[1:])[0]),
                           host(rms(cp, var, grad, args[0], alpha, *args[1:])[0]))
