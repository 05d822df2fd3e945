"""Helpers shared by the saving tests: small models, a custom training step, comparisons."""

import numpy as np

import dtf
from dtf import keras


def tape_step(model, x, y):
    """One custom-loop step with the model's own optimizer: MSE plus the model's losses."""
    with dtf.GradientTape() as tape:
        prediction = model(x, training=True)
        loss = dtf.reduce_mean(dtf.square(prediction - y))
        if model.losses:
            loss = loss + dtf.add_n(model.losses)
    variables = model.trainable_variables
    model.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return float(loss.numpy())


def snapshot(model):
    """Copies of every model and optimizer value, to check that nothing changed."""
    values = [np.array(w) for w in model.get_weights()]
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        values += [np.array(v.numpy()) for v in optimizer.variables]
    return values


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def mlp(units=3, outputs=2, optimizer="adam"):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dropout(0.0), keras.layers.Dense(outputs)])
    if optimizer is not None:
        model.compile(optimizer=optimizer, loss="mse")
    return model


def make_data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
