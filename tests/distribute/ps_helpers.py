"""Models and data shared by the strategy tests."""

import numpy as np

import dtf
from dtf import keras

RNG = np.random.default_rng(11)
X = RNG.normal(size=(100, 6)).astype("float32")
Y = np.argmax(X @ RNG.normal(size=(6, 3)), axis=1)  # learnable labels


def make_model(seed=5, optimizer=None, metrics=("accuracy",), extra=(), steps_per_execution=1):
    """A small classifier, compiled; the same weights for the same seed."""
    dtf.random.set_seed(seed)
    layers = [keras.Input((6,)), keras.layers.Dense(12, activation="relu"), *extra,
              keras.layers.Dense(3)]
    model = keras.Sequential(layers)
    model.compile(optimizer or keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=list(metrics), steps_per_execution=steps_per_execution)
    return model


def reference_fit(epochs=2, batch_size=32, **kwargs):
    """The single-process run the distributed ones must equal: (model, history)."""
    model = make_model(**kwargs)
    history = model.fit(X, Y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    return model, history


def max_weight_difference(a, b):
    return max(float(np.abs(x - y).max()) for x, y in zip(a.get_weights(), b.get_weights()))
