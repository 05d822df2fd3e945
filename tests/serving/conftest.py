"""Exported models and real model servers on loopback, shared by the serving tests."""

import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.serving import ModelServer

TOKEN = "serving-token-for-tests"


def mnist_mlp(seed: int = 0):
    """The MNIST MLP of the benchmark (784-32-32-10), random weights."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((784,), name="images")
    hidden = keras.layers.Dense(32, activation="relu")(inputs)
    hidden = keras.layers.Dense(32, activation="relu")(hidden)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden))


def two_input_model():
    """Two named inputs of different dtypes (float32 features, int32 token ids)."""
    keras.utils.set_random_seed(1)
    features = keras.Input((4,), name="features")
    tokens = keras.Input((3,), name="tokens", dtype="int32")
    embedded = keras.layers.Flatten()(keras.layers.Embedding(10, 2)(tokens))
    joined = keras.layers.Concatenate()([features, embedded])
    return keras.Model([features, tokens], keras.layers.Dense(2)(joined))


@pytest.fixture(scope="module")
def mlp_path(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("serving") / "mnist_mlp")
    mnist_mlp().export(path, verbose=False)
    return path


@pytest.fixture(scope="module")
def mlp_signature(mlp_path):
    """The in-process reference: the loaded signature called directly."""
    return dtf.saved_model.load(mlp_path).signatures["serving_default"]


@pytest.fixture(scope="module")
def server(mlp_path):
    with ModelServer(mlp_path, token=TOKEN, max_batch=256) as running:
        yield running


@pytest.fixture(scope="module")
def two_input_server(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("serving") / "two_inputs")
    two_input_model().export(path, verbose=False)
    with ModelServer(path) as running:
        yield running, dtf.saved_model.load(path).signatures["serving_default"]


def images(batch: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((batch, 784), dtype=np.float32)
