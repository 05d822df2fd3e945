"""The kernels' arithmetic, run on the host (see `host_emulation`: the CUDA source compiled by
g++ and run block by block; no GPU involved, nothing here claims GPU behaviour): the fused
optimizer updates equal NumPy's rules bit for bit in every dtype, the other kernels match the
NumPy implementations of their ops, and a CuPy plan (fused chains + kernels) computes what the
NumPy plan computes. Together with the NVRTC compile test this checks everything about the
kernels but the device itself, which the `gpu`-marked tests check."""

from __future__ import annotations

import host_emulation  # tests/kernels/host_emulation.py (pytest puts this folder on sys.path)
import numpy as np
import numpy.testing as npt
import pytest
from dtf.kernels import _cuda, activations, dropout, normalization, optimizers, xent

import dtf
import dtf.keras.losses._fused as losses_fused
from dtf.compile import context, gpu_fusion
from dtf.compile.codegen import lower
from dtf.compile.graph import Graph
from dtf.compile.symbolic import placeholder
from dtf.keras.optimizers import updates
from dtf.ops import nn_ops

pytestmark = pytest.mark.skipif(not host_emulation.available(),
                                reason="needs g++ to build the kernels for the host")

FLOATS = [np.float16, np.float32, np.float64]
TOL = {np.float16: {"rtol": 3e-3, "atol": 3e-3}, np.float32: {"rtol": 3e-6, "atol": 1e-6},
       np.float64: {"rtol": 1e-13, "atol": 1e-14}}


@pytest.fixture(autouse=True)
def on_host(monkeypatch, tmp_path_factory):
    directory = str(tmp_path_factory.getbasetemp())
    monkeypatch.setattr(_cuda.CudaSource, "function", host_emulation.host_function(directory))


def rand(shape, dtype, seed=0, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def close(got, want, dtype):
    npt.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                        **TOL[np.dtype(dtype).type])


# -- optimizers: bit for bit ---------------------------------------------------------------------
def run_steps(rule, kernel, dtype, slots, args, in_place=None, steps=4):
    ours, ours_slots = rand((5, 13), dtype, 1), [None if s is None else s.copy() for s in slots]
    theirs, theirs_slots = ours.copy(), [None if s is None else s.copy() for s in slots]
    extra = {} if in_place is None else {"in_place": in_place}
    for step in range(steps):
        grad = rand((5, 13), dtype, 10 + step)
        theirs, theirs_slots = rule(np, theirs, grad, tuple(theirs_slots), *args, **extra)
        ours, ours_slots = kernel(np, ours, grad, tuple(ours_slots), *args, **extra)
        npt.assert_array_equal(ours, theirs)
        for a, b in zip(ours_slots, theirs_slots):
            assert (a is None) == (b is None)
            if b is not None:
                npt.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd(dtype, momentum, nesterov):
    slots = [None] if momentum == 0.0 else [np.zeros((5, 13), dtype)]
    run_steps(updates.sgd_update, optimizers.sgd_update, dtype, slots,
              (dtype(0.05), momentum, nesterov))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("in_place", [False, True])
def test_adam(dtype, amsgrad, in_place):
    slots = [np.zeros((5, 13), dtype) for _ in range(3 if amsgrad else 2)]
    alpha = updates.adam_step_size(np.dtype(dtype).type, dtype(0.01), 3, 0.9, 0.999)
    run_steps(updates.adam_update, optimizers.adam_update, dtype, slots,
              (alpha, 0.9, 0.999, 1e-7), in_place=in_place)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("momentum, centered", [(0.0, False), (0.5, False), (0.0, True),
                                                (0.5, True)])
def test_rmsprop(dtype, momentum, centered):
    shape = (5, 13)
    slots = [np.zeros(shape, dtype), np.zeros(shape, dtype) if momentum else None,
             np.zeros(shape, dtype) if centered else None]
    run_steps(updates.rmsprop_update, optimizers.rmsprop_update, dtype, slots,
              (dtype(0.01), 0.9, momentum, 1e-7, centered))


def test_adam_keeps_0d_variables_0d():
    var, grad = np.asarray(1.0, np.float32), np.asarray(0.5, np.float32)
    new, (m, v) = optimizers.adam_update(np, var, grad, (np.asarray(0.0, np.float32),
                                                         np.asarray(0.0, np.float32)),
                                         np.float32(0.1), 0.9, 0.999, 1e-7)
    want, _ = updates.adam_update(np, var, grad, (np.float32(0), np.float32(0)), np.float32(0.1),
                                  0.9, 0.999, 1e-7)
    assert new.shape == () and m.shape == () and v.shape == ()
    npt.assert_array_equal(new, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rates_held_in_device_memory(dtype):
    var, grad = rand((20,), dtype, 1), rand((20,), dtype, 2)
    slots = (np.zeros(20, dtype), np.zeros(20, dtype))
    alpha = dtype(0.003)
    by_value = optimizers.adam_update(np, var, grad, slots, alpha, 0.9, 0.999, 1e-7)[0]
    by_pointer = optimizers.adam_update(np, var, grad, slots, np.asarray(alpha), 0.9, 0.999,
                                        1e-7)[0]
    npt.assert_array_equal(by_pointer, by_value)


# -- bias + activation ------------------------------------------------------------------------
def act_reference(name, z, g):
    t = dtf.constant(z)
    fn = {"none": lambda t: t * 1.0, "relu": dtf.nn.relu, "sigmoid": dtf.math.sigmoid,
          "tanh": dtf.math.tanh, "gelu": dtf.nn.gelu,
          "gelu_tanh": lambda t: dtf.nn.gelu(t, approximate=True)}[name]
    with dtf.GradientTape() as tape:
        tape.watch(t)
        y = fn(t)
    return y.numpy(), tape.gradient(y, t, output_gradients=dtf.constant(g)).numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", list(activations.ACTIVATIONS))
def test_bias_activation(dtype, activation):
    x, b = rand((6, 11), dtype, 2, -4, 4), rand((11,), dtype, 3)
    g = rand((6, 11), dtype, 4)
    y_ref, dz_ref = act_reference(activation, x + b, g)
    y, z = activations.bias_activation(np, x, b, activation, return_preactivation=True)
    close(y, y_ref, dtype)
    npt.assert_array_equal(z, x + b)
    dz, db = activations.bias_activation_grad(np, g, z if activation.startswith("gelu") else y,
                                              activation)
    close(dz, dz_ref, dtype)
    close(db, dz_ref.sum(axis=0), dtype)


def test_bias_activation_in_float16_rounds_x_plus_bias_first():
    x, b = rand((4, 9), np.float16, 5, -3, 3), rand((9,), np.float16, 6)
    y = activations.bias_activation(np, x, b, "tanh")
    close(y, np.tanh((x + b).astype(np.float32)), np.float16)


@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh"])
def test_fused_dense(activation):
    from dtf.ops.fused_ops import _fused_dense

    x, k, b = rand((6, 5), np.float32, 1), rand((5, 3), np.float32, 2), rand((3,), np.float32, 3)
    close(activations.fused_dense(np, x, k, b, activation),
          _fused_dense.impl(np, x, k, b, activation), np.float32)


# -- cross-entropy ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("classes", [1, 7, 300])
def test_sparse_xent(dtype, classes):
    logits = rand((9, classes), dtype, 1, -20, 20)
    labels = np.random.default_rng(2).integers(0, classes, 9).astype(np.int32)
    close(xent.sparse_xent(np, logits, labels), nn_ops._sparse_xent.impl(np, logits, labels),
          dtype)
    close(xent.sparse_xent_reduce(np, logits, labels, 9.0),
          losses_fused._sparse_xent_reduce.impl(np, logits, labels, 9.0), dtype)
    g = np.asarray(1.5, dtype)
    close(xent.sparse_xent_reduce_grad(np, g, logits, labels, 9.0),
          losses_fused._sparse_xent_reduce_grad.impl(np, g, logits, labels, 9.0), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape, axis", [((4, 300), -1), ((2, 3, 5), 2), ((3, 4), 0)])
def test_softmax_and_log_softmax(dtype, shape, axis):
    x = rand(shape, dtype, 8, -30, 30)
    close(xent.softmax(np, x, axis), nn_ops._softmax.impl(np, x, axis), dtype)
    close(xent.log_softmax(np, x, axis), nn_ops._log_softmax.impl(np, x, axis), dtype)


def test_sparse_xent_rows_with_labels_out_of_range_are_nan():
    logits = np.zeros((3, 4), np.float32)
    labels = np.asarray([0, 4, -1])
    loss = xent.sparse_xent(np, logits, labels)
    assert np.isfinite(loss[0]) and np.isnan(loss[1:]).all()
    grad = xent.sparse_xent_reduce_grad(np, np.asarray(np.float32(1)), logits, labels, 3.0)
    assert np.isfinite(grad[0]).all() and np.isnan(grad[1:]).all()


@pytest.mark.parametrize("dtype", FLOATS)
def test_one_hot_xent(dtype):
    logits = rand((5, 40), dtype, 4, -10, 10)
    labels = np.eye(40, dtype=dtype)[np.random.default_rng(5).integers(0, 40, 5)]
    w = logits.astype(np.float64)
    log_softmax = w - w.max(-1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(-1, keepdims=True))
    close(xent.softmax_xent(np, logits, labels), -(labels * log_softmax).sum(-1), dtype)
    g = rand((5,), dtype, 6)
    close(xent.softmax_xent_grad(np, g, logits, labels),
          g[:, None].astype(np.float64) * (np.exp(log_softmax) - labels), dtype)


# -- dropout ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
def test_dropout_equals_the_generic_path_on_the_same_draw(dtype):
    x = rand((16, 9), dtype, 7)
    dtf.random.set_seed(3)
    want = nn_ops._dropout.impl(np, x, 0.25, None, 5)
    dtf.random.set_seed(3)
    got = dropout.dropout(np, x, 0.25, None, 5)
    npt.assert_array_equal(got[1], want[1])
    npt.assert_array_equal(got[0], want[0])


# -- normalization ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(dtype, affine):
    x = rand((3, 4, 10), dtype, 1, -2, 3)
    gamma = rand((10,), dtype, 2) if affine else None
    beta = rand((10,), dtype, 3) if affine else None
    g = rand(x.shape, dtype, 4)
    w, gw = x.astype(np.float64), g.astype(np.float64)
    gm = 1.0 if gamma is None else gamma.astype(np.float64)
    mean = w.mean(-1, keepdims=True)
    rstd = 1 / np.sqrt(((w - mean) ** 2).mean(-1, keepdims=True) + 1e-3)
    xhat = (w - mean) * rstd
    y_ref = xhat * gm + (0.0 if beta is None else beta.astype(np.float64))
    dxhat = gw * gm
    dx_ref = rstd * (dxhat - dxhat.mean(-1, keepdims=True)
                     - xhat * (dxhat * xhat).mean(-1, keepdims=True))
    y, got_mean, got_rstd = normalization.layer_norm(np, x, gamma, beta, 1e-3)
    close(y, y_ref, dtype)
    dx, dgamma, dbeta = normalization.layer_norm_grad(np, g, x, gamma, got_mean, got_rstd)
    close(dx, dx_ref, dtype)
    close(dgamma, (gw * xhat).reshape(-1, 10).sum(0), dtype)
    close(dbeta, gw.reshape(-1, 10).sum(0), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(12, 3), (2, 3, 4, 35)])
def test_batch_norm(dtype, shape):
    x = rand(shape, dtype, 1, -2, 3)
    gamma, beta = rand(shape[-1:], dtype, 2), rand(shape[-1:], dtype, 3)
    g = rand(shape, dtype, 4)
    w = x.reshape(-1, shape[-1]).astype(np.float64)
    gw = g.reshape(-1, shape[-1]).astype(np.float64)
    mean, var = w.mean(0), w.var(0)
    rstd = 1 / np.sqrt(var + 1e-3)
    xhat = (w - mean) * rstd
    n = w.shape[0]
    y, got_mean, got_var = normalization.batch_norm(np, x, gamma, beta, 1e-3)
    close(y, (xhat * gamma + beta).reshape(shape), dtype)
    close(got_mean, mean, dtype)
    close(got_var, var, dtype)
    dx, dgamma, dbeta = normalization.batch_norm_grad(np, g, x, gamma, got_mean, got_var, 1e-3)
    close(dx, (gamma * rstd * (gw - gw.sum(0) / n - xhat * (gw * xhat).sum(0) / n))
          .reshape(shape), dtype)
    close(dgamma, (gw * xhat).sum(0), dtype)
    close(dbeta, gw.sum(0), dtype)


# -- the CuPy plan: fused chains and kernels --------------------------------------------------
def run_device_plan(plan, *arrays):
    """The CuPy plan's code (fused chains, kernels), run with NumPy arrays on the host."""
    return gpu_fusion.device_plan(plan)._compile(arrays)(*arrays)


@pytest.mark.parametrize("dtype", [dtf.float16, dtf.float32, dtf.float64])
def test_adams_math_fused_equals_the_numpy_plan_bit_for_bit(dtype):
    np_dtype = dtype.as_numpy_dtype
    var, grad, m, v = (placeholder((None, 5), dtype) for _ in range(4))
    alpha = placeholder((), dtype)
    m_new = m + (grad - m) * (1 - 0.9)
    v_new = v + (dtf.square(grad) - v) * (1 - 0.999)
    var_new = var - alpha * m_new / (dtf.sqrt(v_new) + 1e-7)
    plan = lower(Graph([var, grad, m, v, alpha], [var_new, m_new, v_new]), copy=True)
    arrays = [rand((3, 5), np_dtype, k) for k in range(3)] + [rand((3, 5), np_dtype, 3, 0, 1),
                                                             np.asarray(0.01, np_dtype)]
    for got, want in zip(run_device_plan(plan, *arrays), plan(*arrays)):
        npt.assert_array_equal(got, want)


def test_a_dense_gelu_layer_with_its_gradient_and_a_loss():
    x, labels = placeholder((None, 6)), placeholder((None,), dtf.int64)
    w = dtf.constant(rand((6, 4), np.float32, 1))
    b = dtf.constant(rand((4,), np.float32, 2))
    builder = context.GraphBuilder("step")
    with context.building(builder):
        with dtf.GradientTape() as tape:
            tape.watch(x)
            logits = dtf.nn.gelu(dtf.matmul(x, w) + b) * 2.0 - 0.5
            loss = losses_fused.sparse_xent_reduce(logits, labels, 5.0)
        grad = tape.gradient(loss, x)
    plan = lower(Graph([x, labels], [logits, loss, grad], nodes=builder.nodes), copy=True)
    xs, ys = rand((5, 6), np.float32, 3, -2, 2), np.asarray([0, 3, 1, 2, 3])
    assert "fused_chain" in gpu_fusion.device_plan(plan).source
    for got, want in zip(run_device_plan(plan, xs, ys), plan(xs, ys)):
        close(got, want, np.float32)


def test_a_column_broadcast_runs_the_nodes_unfused():
    x, s = placeholder((None, 8)), placeholder((None, 1))
    plan = lower(Graph([x, s], [dtf.exp(x - s) * 2.0 + 1.0]), copy=True)
    xs, ss = rand((5, 8), np.float32, 1), rand((5, 1), np.float32, 2)
    npt.assert_array_equal(run_device_plan(plan, xs, ss)[0], plan(xs, ss)[0])


def test_select_comparisons_and_casts_in_one_chain():
    x = placeholder((7,), dtf.float16)
    y = dtf.cast(x, dtf.float32)
    z = dtf.where(dtf.logical_not(dtf.greater(y, 0.0)), dtf.abs(y) * 0.5, dtf.exp(y))
    out = dtf.cast(dtf.math.sigmoid(z) + dtf.math.rsqrt(y * y + 1.0), dtf.float64)
    plan = lower(Graph([x], [out]), copy=True)
    xs = rand((7,), np.float16, 4, -3, 3)
    close(run_device_plan(plan, xs)[0], plan(xs)[0], np.float32)


def test_the_seeds_training_step_through_the_cupy_plans_code():
    """`dtf.function` of the seeds' MLP step (fused_dense, the xent pair, the flat Adam step):
    the CuPy plan's generated code, its kernels emulated, trains as the NumPy plan does."""
    from dtf import keras
    from dtf.compile import tracing

    def make():
        model = keras.Sequential([keras.Input(shape=(20,)), keras.layers.Dense(8, "relu"),
                                  keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(4)])
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        optimizer = keras.optimizers.Adam(learning_rate=1e-2)

        def step(x, y):
            with dtf.GradientTape() as tape:
                loss = loss_fn(y, model(x))
            grads = tape.gradient(loss, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
            return loss

        return model, dtf.function(step)

    (model_a, step_a), (model_b, step_b) = make(), make()
    model_b.set_weights(model_a.get_weights())
    rng = np.random.default_rng(0)
    batches = [(dtf.constant(rng.random((16, 20), dtype=np.float32)),
                dtf.constant(rng.integers(0, 4, 16))) for _ in range(3)]
    concrete = step_b.get_concrete_function(*batches[0])
    device = gpu_fusion.device_plan(tracing.lower(concrete.graph))
    assert "f_fused_dense" in device.source and "f_sparse_xent_reduce_grad" in device.source
    concrete._plan = device  # B's step runs the CuPy plan's code (on NumPy arrays, here)
    for x, y in batches:
        close(step_b(x, y).numpy(), step_a(x, y).numpy(), np.float32)
    for a, b in zip(model_a.get_weights(), model_b.get_weights()):
        close(b, a, np.float32)
