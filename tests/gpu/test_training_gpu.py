"""A short MNIST-shaped MLP training run on the GPU matches the same run on the CPU."""

import numpy as np
import pytest
from gpu_helpers import GPU, require_gpu

require_gpu()

import dtf
from dtf import keras

pytestmark = pytest.mark.gpu


def _data():
    rng = np.random.default_rng(0)  # MNIST's shapes: 28x28 grey images, 10 classes
    x = rng.uniform(0, 1, size=(512, 28, 28)).astype(np.float32)
    teacher = rng.normal(size=(784, 10)).astype(np.float32)
    y = np.argmax(x.reshape(512, -1) @ teacher, axis=1)
    return x, y


def _train(device, weights):
    x, y = _data()
    with dtf.device(device):
        model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                                  keras.layers.Dense(128, activation="relu"),
                                  keras.layers.Dense(10)])
        if weights is not None:
            model.set_weights(weights)
        start = model.get_weights()
        model.compile(keras.optimizers.Adam(1e-3),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        history = model.fit(x, y, batch_size=64, epochs=3, shuffle=False, verbose=0)
        loss, accuracy = model.evaluate(x, y, verbose=0)
    return start, history.history, model, (loss, accuracy)


def test_mlp_trains_on_gpu_as_on_cpu():
    start, cpu_history, cpu_model, cpu_eval = _train("/CPU:0", None)
    _, gpu_history, gpu_model, gpu_eval = _train("/GPU:0", start)
    assert all(w.device == GPU for w in gpu_model.trainable_weights)
    np.testing.assert_allclose(gpu_history["loss"], cpu_history["loss"], rtol=2e-3)
    assert gpu_history["loss"][-1] < gpu_history["loss"][0]
    for g, c in zip(gpu_model.get_weights(), cpu_model.get_weights()):
        np.testing.assert_allclose(g, c, rtol=1e-2, atol=2e-3)
    np.testing.assert_allclose(gpu_eval, cpu_eval, rtol=2e-3, atol=2e-3)
