"""The parameter server and the workers as Ray actors on a real local Ray cluster started by the
test: named actors, workers running concurrently (each waits on the server for the previous step),
synchronous training equal to one process, a dead server reported by name."""

import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from dtf.cluster.remote import (
    RemoteServer,
    actor_name,
    start_parameter_server,
    start_worker,
)
from dtf.cluster.worker import parameters_of, trainable_of

import dtf
from dtf import keras

RNG = np.random.default_rng(9)


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False, namespace="dtf-tests")
    yield
    ray.shutdown()


def _model():
    dtf.random.set_seed(4)
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(6, activation="tanh"),
                             keras.layers.Dense(1)])


def test_sync_training_on_ray_actors_equals_one_process(ray_cluster):
    x = RNG.normal(size=(3 * 16, 5)).astype("float32")
    y = RNG.normal(size=(3 * 16, 1)).astype("float32")
    batches = [(x[i * 16:(i + 1) * 16], y[i * 16:(i + 1) * 16]) for i in range(3)]

    single = _model()
    optimizer = keras.optimizers.Adam(0.05)
    for bx, by in batches:
        with dtf.GradientTape() as tape:
            loss = dtf.reduce_mean((single(dtf.constant(bx)) - dtf.constant(by)) ** 2)
        grads = tape.gradient(loss, single.trainable_weights)
        optimizer.apply_gradients(zip(grads, single.trainable_weights))

    driver = _model()
    ps = start_parameter_server("sync-test", 0, parameters_of(driver),
                                keras.optimizers.Adam(0.05), num_workers=2,
                                trainable=trainable_of(driver), namespace="dtf-tests")
    server = RemoteServer(ps, actor_name("sync-test", "ps", 0), timeout_s=60)
    config = keras.saving.serialize_keras_object(driver)
    workers = [start_worker("sync-test", i, config, "mse", namespace="dtf-tests")
               for i in range(2)]
    assert ray.get_actor("dtf:sync-test:worker:1", namespace="dtf-tests") is not None
    pending = []
    for step, (bx, by) in enumerate(batches):  # every step submitted at once: workers wait
        for i, w in enumerate(workers):
            half = slice(i * 8, (i + 1) * 8)
            pending.append(w.run_step.remote(server, step, dtf.constant(bx[half]),
                                             dtf.constant(by[half])))
    results = ray.get(pending, timeout=120)
    assert sum(r[1].value == "applied" for r in results) == len(batches)
    values, _ = server.pull()
    for got, want in zip(values.values(), single.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    ray.kill(ps, no_restart=True)  # the kill lands asynchronously: calls fail once it has
    deadline = time.monotonic() + 30
    with pytest.raises(RuntimeError, match="dtf:sync-test:ps:0.*died"):
        while time.monotonic() < deadline:
            server.pull()
            time.sleep(0.05)
    for w in workers:
        ray.kill(w)
