"""dtf.function on the GPU: compiled = eager; CUDA-graph replay = plain execution; fallbacks."""

import numpy as np
import pytest
from gpu_helpers import GPU, assert_close, require_gpu

require_gpu()

import dtf
from dtf import keras
from dtf.compile import cuda_graph

pytestmark = pytest.mark.gpu


def _plan(function, *args):
    return function.get_concrete_function(*args)._plan


def test_compiled_equals_eager_on_gpu():
    w = dtf.Variable(np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32))
    b = dtf.Variable(np.zeros(4, np.float32))

    def f(x):
        return dtf.nn.softmax(dtf.nn.relu(x @ w + b) * 2.0 - 1.0)

    x = dtf.constant(np.random.default_rng(1).normal(size=(16, 8)).astype(np.float32))
    compiled = dtf.function(f)
    for _ in range(4):  # plain, capture, replays
        assert_close(compiled(x), f(x), rtol=1e-5, atol=1e-6, what="softmax")
    assert compiled(x).device == GPU


def _sgd_step(w, lr):
    @dtf.function
    def step(x, y):
        with dtf.GradientTape() as tape:
            loss = dtf.reduce_mean(dtf.square(x @ w - y))
        w.assign_sub(lr * tape.gradient(loss, w))
        return loss

    return step


def test_cuda_graph_replay_equals_plain_execution():
    rng = np.random.default_rng(2)
    x = dtf.constant(rng.normal(size=(32, 5)).astype(np.float32))
    y = dtf.constant(rng.normal(size=(32, 1)).astype(np.float32))
    start = rng.normal(size=(5, 1)).astype(np.float32)
    results = {}
    for graphs in (False, True):
        dtf.config.set_cuda_graphs(graphs)
        try:
            w = dtf.Variable(start)
            step = _sgd_step(w, 0.1)
            losses = [float(step(x, y)) for _ in range(6)]
            results[graphs] = (losses, w.numpy())
            plan = _plan(step, x, y)
            assert isinstance(plan, cuda_graph.GraphPlan)
            if graphs:
                assert plan.stats["captured"] == 1 and plan.stats["replayed"] == 4, plan.stats
            assert w.device == GPU
        finally:
            dtf.config.set_cuda_graphs(True)
    np.testing.assert_allclose(results[True][0], results[False][0], rtol=1e-6)
    np.testing.assert_allclose(results[True][1], results[False][1], rtol=1e-6)


def test_replay_sees_new_inputs_and_outside_assignments_and_keeps_results_immutable():
    v = dtf.Variable([1.0, 2.0])

    @dtf.function
    def f(x):
        v.assign_add(x)
        return v.read_value() * 1.0

    outs = [f(dtf.constant([1.0, 1.0])) for _ in range(3)]  # plain, capture, replay
    np.testing.assert_allclose([o.numpy() for o in outs], [[2, 3], [3, 4], [4, 5]])
    v.assign([0.0, 0.0])  # outside the graph: copied in before the next replay
    np.testing.assert_allclose(f(dtf.constant([2.0, 3.0])).numpy(), [2.0, 3.0])
    np.testing.assert_allclose(outs[2].numpy(), [4.0, 5.0])  # earlier results unchanged
    held = v.read_value()
    f(dtf.constant([1.0, 1.0]))
    np.testing.assert_allclose(held.numpy(), [2.0, 3.0])
    assert _plan(f, dtf.constant([1.0, 1.0])).stats["replayed"] >= 2


def test_random_nodes_and_host_syncs_fall_back_to_plain_execution():
    @dtf.function
    def noisy(x):
        return dtf.nn.dropout(x, 0.5, seed=3)

    x = dtf.ones((1000,))
    masks = [noisy(x).numpy() for _ in range(3)]
    assert not np.array_equal(masks[1], masks[2])  # fresh randomness on every call
    assert _plan(noisy, x).stats["captured"] == 0

    @dtf.function
    def data_dependent(x):
        return dtf.boolean_mask(x, x > 0.5)

    y = dtf.constant([0.1, 0.9, 0.7])
    for _ in range(3):
        np.testing.assert_allclose(data_dependent(y).numpy(), [0.9, 0.7])
    stats = _plan(data_dependent, y).stats
    assert stats["captured"] == 0 and stats["fallbacks"] == 1


def test_keras_training_step_compiled_on_gpu_matches_cpu():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 10)).astype(np.float32)
    y = rng.integers(0, 3, size=64)
    weights = None
    results = {}
    for device in ("/CPU:0", "/GPU:0"):
        with dtf.device(device):
            model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(16, "relu"),
                                      keras.layers.Dense(3)])
            if weights is None:
                weights = model.get_weights()
            model.set_weights(weights)
            model.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                          keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
            results[device] = (history.history["loss"], model.get_weights())
    np.testing.assert_allclose(results["/GPU:0"][0], results["/CPU:0"][0], rtol=1e-4)
    for g, c in zip(results["/GPU:0"][1], results["/CPU:0"][1]):
        np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-5)
