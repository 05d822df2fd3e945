"""Workers and a parameter server in one process: synchronous training with N workers gives the
weights of single-process training on the same global batches (N = 1, 2, 3, shards of unequal
size), and a worker pulls only what changed."""

import numpy as np
import pytest
from dtf.cluster.parameter_server import ParameterServer, Push
from dtf.cluster.worker import Worker, parameters_of, trainable_of

import dtf
from dtf import keras

RNG = np.random.default_rng(5)


def _model():
    dtf.random.set_seed(3)
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(3)])


def _batches(n_steps, batch=30):
    x = RNG.normal(size=(n_steps * batch, 6)).astype("float32")
    y = RNG.integers(0, 3, n_steps * batch)
    return [(x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch])
            for i in range(n_steps)]


def _single_process(batches):
    model = _model()
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam(0.05)
    for x, y in batches:
        with dtf.GradientTape() as tape:
            loss = loss_fn(dtf.constant(y), model(dtf.constant(x), training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
    return model.get_weights()


@pytest.mark.parametrize("num_workers", [1, 2, 3])
def test_sync_workers_train_as_one_process(num_workers):
    batches = _batches(4)
    expected = _single_process(batches)
    driver = _model()
    config = keras.saving.serialize_keras_object(driver)
    ps = ParameterServer(parameters_of(driver), keras.optimizers.Adam(0.05), num_workers,
                         mode="sync", trainable=trainable_of(driver))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    workers = [Worker(i, config, loss) for i in range(num_workers)]
    for step, (x, y) in enumerate(batches):
        cuts = np.linspace(0, len(x), num_workers + 1).astype(int) if num_workers < 3 else \
            [0, 7, 19, 30]  # unequal shards: the server weighs them by size
        results = [w.run_step(ps, step, dtf.constant(x[a:b]), dtf.constant(y[a:b]))[1]
                   for w, a, b in zip(workers, cuts[:-1], cuts[1:])]
        assert results[-1] is Push.APPLIED
    values, _ = ps.pull()
    for got, want in zip(values.values(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert ps.applied_steps == len(batches) and ps.duplicates == 0
    assert all(w._step.experimental_get_tracing_count() <= 2 for w in workers)


def test_a_worker_pulls_only_changed_parameters():
    driver = _model()
    ps = ParameterServer(parameters_of(driver), keras.optimizers.SGD(0.1), 1)
    worker = Worker(0, keras.saving.serialize_keras_object(driver), "mse")
    assert worker.pull(ps) == 4
    assert worker.pull(ps) == 0  # nothing changed since
    x = dtf.constant(RNG.normal(size=(5, 6)).astype("float32"))
    worker.run_step(ps, 0, x, dtf.zeros([5, 3]))
    assert worker.pull(ps) == 4
