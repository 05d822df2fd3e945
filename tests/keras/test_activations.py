"""keras.activations: values against Keras 3 (recorded in fixtures/basics_reference.json),
gradients by central differences, get/serialize/deserialize."""

import json
import pathlib

import numpy as np
import pytest

import dtf
from dtf.keras import activations
from dtf.keras.saving import serialize_keras_object
from dtf.testing.gradcheck import check_gradients

DATA = json.loads((pathlib.Path(__file__).parent / "fixtures" /
                   "basics_reference.json").read_text())
REFERENCE = DATA["activations"]
X = np.array(DATA["X"], dtype=np.float32)
W = np.array(DATA["W"], dtype=np.float32)

NAMES = ["relu", "relu6", "sigmoid", "tanh", "softmax", "log_softmax", "elu", "selu", "gelu",
         "softplus", "softsign", "silu", "swish", "hard_sigmoid", "hard_silu", "hard_swish",
         "exponential", "leaky_relu", "mish", "linear", "celu", "hard_tanh", "hard_shrink",
         "soft_shrink", "tanh_shrink", "log_sigmoid", "sparse_plus", "sparse_sigmoid",
         "squareplus", "sparsemax"]


def check(result, key):
    np.testing.assert_allclose(np.asarray(result, dtype=np.float64), REFERENCE[key],
                               rtol=2e-6, atol=2e-6, err_msg=key)


@pytest.mark.parametrize("name", NAMES)
def test_values_as_keras(name):
    fn = activations.get(name)
    result = fn(dtf.constant(X))
    assert result.dtype == dtf.float32 and result.shape == X.shape
    check(result, name)


def test_options_as_keras():
    x = dtf.constant(X)
    check(activations.glu(x), "glu")
    check(activations.gelu(x, approximate=True), "gelu_approximate")
    check(activations.elu(x, alpha=0.5), "elu_alpha_0.5")
    check(activations.leaky_relu(x, negative_slope=0.1), "leaky_relu_0.1")
    check(activations.threshold(x, 1.0, -2.0), "threshold_1_-2")
    for kwargs in [{"negative_slope": 0.5}, {"max_value": 2.0}, {"max_value": 6.0},
                   {"threshold": 0.5}, {"negative_slope": 0.5, "max_value": 2.0, "threshold": 0.5},
                   {"negative_slope": 0.1, "threshold": -1.0}]:
        key = "relu_" + "_".join(f"{k}={v}" for k, v in sorted(kwargs.items()))
        check(activations.relu(x, **kwargs), key)
    check(activations.softmax(dtf.constant(W), axis=0), "softmax_axis0")
    check(activations.softmax(dtf.constant(W), axis=(0, 1)), "softmax_axis01")


def test_hot_activations_are_the_ops():
    """Dense calls these on every step: no extra Python layers."""
    assert activations.sigmoid is dtf.sigmoid
    assert activations.tanh is dtf.tanh


def test_inputs_numpy_variables_float64():
    v = dtf.Variable([[-1.0, 2.0]])
    assert activations.relu(v).numpy().tolist() == [[0.0, 2.0]]
    assert activations.relu(np.array([-1.0, 3.0])).dtype == dtf.float64
    out = activations.softmax(dtf.constant(W.astype(np.float64)))
    assert out.dtype == dtf.float64
    np.testing.assert_allclose(out.numpy().sum(axis=-1), 1.0)
    assert activations.linear(v) is v


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "elu",
                                  "selu", "gelu", "softplus", "softsign", "silu", "mish",
                                  "hard_sigmoid", "hard_silu", "leaky_relu", "exponential",
                                  "celu", "log_sigmoid", "squareplus", "tanh_shrink",
                                  "sparse_plus", "glu"])
def test_gradients(name):
    fn = activations.get(name)
    # points away from the kinks (0, +-1, +-3) so that central differences are exact
    x = np.array([[-2.6, -1.4, -0.6, 0.35, 0.8, 1.7, 2.2, 3.6]])
    check_gradients(fn, [x])


def test_relu_options_gradients():
    x = np.array([[-2.6, -1.4, -0.6, 0.35, 0.8, 1.7, 2.2, 3.6]])
    check_gradients(lambda t: activations.relu(t, negative_slope=0.2, max_value=2.0,
                                               threshold=0.5), [x])


def test_get():
    assert activations.get(None) is activations.linear
    assert activations.get("relu") is activations.relu
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu
    assert activations.get(dtf.nn.relu) is dtf.nn.relu
    assert activations.get({"class_name": "function", "config": "elu",
                            "module": "builtins", "registered_name": "function"}) is \
        activations.elu
    with pytest.raises(ValueError, match="Unknown activation function: 'sigmoidd'"):
        activations.get("sigmoidd")
    with pytest.raises(ValueError, match="Could not interpret activation"):
        activations.get(5)


def test_serialize_and_deserialize():
    assert activations.serialize(activations.relu) == REFERENCE["serialize_relu"]
    assert activations.serialize(activations.swish) == REFERENCE["serialize_swish"]
    for name in NAMES:
        fn = activations.get(name)
        assert activations.deserialize(activations.serialize(fn)) is fn
    assert activations.deserialize(serialize_keras_object(activations.gelu)) is \
        activations.gelu

    def custom(x):
        return x

    config = activations.serialize(custom)
    assert config["config"] == "custom"
    assert activations.deserialize(config, custom_objects={"custom": custom}) is custom
    with pytest.raises(ValueError, match="cannot be serialized"):
        activations.serialize(object())


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="even size"):
        activations.glu(dtf.ones((2, 3)))
    with pytest.raises(dtf.errors.InvalidArgumentError, match="softmax"):
        activations.softmax(dtf.constant([1, 2]))


def test_symbolic_inputs():
    from dtf.compile.symbolic import placeholder

    x = placeholder((None, 5))
    for name in ("relu", "sigmoid", "softmax", "gelu", "mish", "hard_silu"):
        y = activations.get(name)(x)
        assert y.shape.as_list() == [None, 5], name
    assert activations.relu(x, max_value=1.0, negative_slope=0.1).shape.as_list() == [None, 5]
