"""Convolution, pooling and spatial reshaping layers and the dtf.nn convolution and pooling ops
against TensorFlow 2 / Keras 3: outputs and gradients (with respect to the inputs and every
weight) on the inputs, weights and cotangents recorded by
tests/keras/fixtures/conv_make_reference.py (conv_reference.json)."""

import json
import pathlib

import numpy as np
import pytest

import dtf
from dtf.keras.layers import convolutional, pooling, reshaping
from dtf.ops import conv_ops, pool_ops

FIXTURE = pathlib.Path(__file__).parents[1] / "fixtures" / "conv_reference.json"
REFERENCE = json.loads(FIXTURE.read_text())
LAYER_CASES = REFERENCE["layers"]
OP_CASES = REFERENCE["ops"]
TOL = {"atol": 3e-5, "rtol": 1e-4}


def _layer_class(name):
    for module in (convolutional, pooling, reshaping):
        if hasattr(module, name):
            return getattr(module, name)
    raise AssertionError(f"no layer {name}")


def _f32(value):
    return np.asarray(value, dtype=np.float32)


@pytest.mark.parametrize("name", sorted(LAYER_CASES))
def test_layer_matches_keras(name):
    case = LAYER_CASES[name]
    layer = _layer_class(case["class_name"])(**case["kwargs"])
    x = dtf.constant(_f32(case["inputs"]))
    layer(x)  # builds
    layer.set_weights([_f32(w) for w in case["weights"]])
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        scalar = dtf.reduce_sum(y * dtf.constant(_f32(case["cotangent"])))
    np.testing.assert_allclose(y.numpy(), case["outputs"], **TOL, err_msg=f"{name}: outputs")
    grads = tape.gradient(scalar, [x] + layer.trainable_weights)
    np.testing.assert_allclose(grads[0].numpy(), case["input_grad"], **TOL,
                               err_msg=f"{name}: input gradient")
    assert len(grads) - 1 == len(case["weight_grads"])
    for w, g, want in zip(layer.trainable_weights, grads[1:], case["weight_grads"]):
        np.testing.assert_allclose(g.numpy(), want, **TOL, err_msg=f"{name}: grad of {w.name}")


@pytest.mark.parametrize("name", sorted(OP_CASES))
def test_op_matches_tensorflow(name):
    case = OP_CASES[name]
    fn = getattr(conv_ops, case["function"], None) or getattr(pool_ops, case["function"])
    inputs = [dtf.constant(_f32(a)) for a in case["inputs"]]
    with dtf.GradientTape() as tape:
        for t in inputs:
            tape.watch(t)
        y = fn(*inputs, **case["kwargs"])
        scalar = dtf.reduce_sum(y * dtf.constant(_f32(case["cotangent"])))
    np.testing.assert_allclose(y.numpy(), case["outputs"], **TOL, err_msg=f"{name}: outputs")
    for i, (g, want) in enumerate(zip(tape.gradient(scalar, inputs), case["grads"])):
        np.testing.assert_allclose(g.numpy(), want, **TOL, err_msg=f"{name}: gradient {i}")
