"""Numerical gradient checks through every built-in layer of this package (float64), with
respect to the inputs and to the weights."""

import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.keras import layers
from dtf.testing.gradcheck import check_gradients

RNG = np.random.default_rng(7)


def _check_layer(layer, x, eps=1e-6, tol=1e-6):
    """Checks d(layer(x))/dx (first and second order) and d(layer(x))/d(weights) against
    central differences."""
    check_gradients(lambda t: layer(t), [x])
    weights = layer.trainable_weights
    cotangent = dtf.constant(RNG.normal(size=layer(dtf.constant(x)).shape))

    def objective():
        return float(dtf.reduce_sum(layer(dtf.constant(x)) * cotangent))

    with dtf.GradientTape() as tape:
        scalar = dtf.reduce_sum(layer(dtf.constant(x)) * cotangent)
    analytic = tape.gradient(scalar, weights)
    for w, g in zip(weights, analytic):
        base = w.numpy().copy()
        numeric = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            for sign in (1, -1):
                shifted = base.copy()
                shifted[i] += sign * eps
                w.assign(shifted)
                numeric[i] += sign * objective() / (2 * eps)
        w.assign(base)
        np.testing.assert_allclose(g.numpy(), numeric, atol=tol, rtol=1e-5,
                                   err_msg=f"gradient of {w.name}")


LAYERS = {
    "dense_relu": (lambda: layers.Dense(3, activation="tanh", dtype="float64"), (4, 5)),
    "dense_rank3": (lambda: layers.Dense(2, dtype="float64"), (2, 3, 4)),
    "dense_no_bias_sigmoid": (lambda: layers.Dense(2, use_bias=False, activation="sigmoid",
                                                   dtype="float64"), (3, 2)),
    "activation_softmax": (lambda: layers.Activation("softmax", dtype="float64"), (2, 4)),
    "dropout_inference": (lambda: layers.Dropout(0.5, dtype="float64"), (3, 3)),
    "flatten": (lambda: layers.Flatten(dtype="float64"), (2, 3, 2)),
    "reshape": (lambda: layers.Reshape((3, -1), dtype="float64"), (2, 6)),
    "permute": (lambda: layers.Permute((2, 1), dtype="float64"), (2, 3, 4)),
    "repeat_vector": (lambda: layers.RepeatVector(3, dtype="float64"), (2, 4)),
    "lambda": (lambda: layers.Lambda(lambda x: dtf.sin(x) * x, dtype="float64"), (2, 3)),
    "identity": (lambda: layers.Identity(dtype="float64"), (2, 3)),
    "sequential": (lambda: keras.Sequential([layers.Dense(4, activation="tanh", dtype="float64"),
                                             layers.Dense(2, dtype="float64")]), (3, 5)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_gradients(name):
    make, shape = LAYERS[name]
    _check_layer(make(), RNG.normal(size=shape))


def test_functional_model_gradients():
    inputs = keras.Input(shape=(3,), dtype="float64")
    h = layers.Dense(4, activation="tanh", dtype="float64")(inputs)
    out = layers.Dense(2, dtype="float64")(h) + dtf.reduce_mean(h, axis=-1, keepdims=True)
    _check_layer(keras.Model(inputs, out), RNG.normal(size=(2, 3)))


def test_dropout_training_gradient_is_the_mask_scaled():
    layer = layers.Dropout(0.5, dtype="float64")
    x = dtf.constant(RNG.normal(size=(50, 4)))
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    g = tape.gradient(y, x).numpy()
    kept = y.numpy() != 0
    np.testing.assert_allclose(g, np.where(kept, 2.0, 0.0))
