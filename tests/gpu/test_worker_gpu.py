"""A parameter-server worker on a GPU: replica and shard on the device, gradients leave it in
one buffer per parameter server, and synchronous training equals one CPU process."""

import numpy as np
import pytest
from gpu_helpers import GPU, require_gpu

require_gpu()

import cupy
from dtf.cluster import device_transfer
from dtf.cluster.sharding import plan_placement

import dtf
from dtf import keras

pytestmark = pytest.mark.gpu


def test_gradients_leave_in_one_buffer_per_server(monkeypatch):
    placement = plan_placement({"a": ((6, 2), np.float32), "b": ((3,), np.float32),
                                "c": ((), np.int64)}, num_ps=2,
                               partitioner=lambda shape, dtype, axis=0: [2] + [1] * (
                                   len(shape) - 1) if shape and shape[0] == 6 else [1] * len(
                                   shape))
    assert placement.is_partitioned("a")
    values = {"a": np.arange(12, dtype=np.float32).reshape(6, 2),
              "b": np.array([1.0, 2.0, 3.0], np.float32), "c": np.array(7)}
    on_device = {k: cupy.asarray(v) for k, v in values.items()}
    copies = []
    original_get = cupy.ndarray.get

    def counting_get(self, *args, **kwargs):
        copies.append(self.nbytes)
        return original_get(self, *args, **kwargs)

    monkeypatch.setattr(cupy.ndarray, "get", counting_get)
    (host,) = device_transfer.to_host_per_server(placement, on_device)
    assert len(copies) == 2  # one device-to-host copy per parameter server
    for k, v in values.items():
        assert type(host[k]) is np.ndarray
        np.testing.assert_array_equal(host[k], v)


def test_pulled_parameters_go_to_the_device_in_one_copy():
    variables = {"a": dtf.Variable(np.zeros((2, 3), np.float32)),
                 "b": dtf.Variable(np.zeros(5, np.float64))}
    with dtf.device("/CPU:0"):
        variables["h"] = dtf.Variable(np.zeros(2, np.float32))
    pulled = {"a": np.ones((2, 3), np.float32), "b": np.arange(5.0), "h": np.ones(2, np.float32)}
    moved = device_transfer.to_variables_devices(pulled, variables)
    assert isinstance(moved["a"], cupy.ndarray) and isinstance(moved["b"], cupy.ndarray)
    assert moved["a"].data.mem is moved["b"].data.mem  # views of one device buffer
    assert type(moved["h"]) is np.ndarray
    np.testing.assert_array_equal(moved["b"].get(), np.arange(5.0))


def _model():
    dtf.random.set_seed(5)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(12, activation="relu"),
                              keras.layers.Dense(3)])
    model.compile(keras.optimizers.SGD(0.1),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_gpu_worker_step_trains_as_one_cpu_process():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(96, 6)).astype("float32")
    y = np.argmax(x @ rng.normal(size=(6, 3)), axis=1)
    with dtf.device("/CPU:0"):
        reference = _model()
        start = reference.get_weights()
        reference.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    strategy = dtf.distribute.ParameterServerStrategy(num_workers=2, num_ps=2, cluster="local")
    try:
        with strategy.scope():
            model = _model()
            model.set_weights(start)
        model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
        workers = [w.instance for w in strategy._job.workers]
        assert all(w.device == "/GPU:0" for w in workers)
        replica = workers[0]._model.trainable_weights[0]
        assert replica.device == GPU
        for got, want in zip(model.get_weights(), reference.get_weights()):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    finally:
        strategy.shutdown()
