"""Normalization layers: float64 gradients, BatchNormalization statistics in training and
inference (and when frozen), configs, errors."""

import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.keras.layers.normalization import (
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
)
from tests.keras.layers.test_rnn_layers import check_layer_gradients

RNG = np.random.default_rng(5)
F64 = {"dtype": "float64"}


@pytest.mark.parametrize("make,shape,kwargs", [
    (lambda: BatchNormalization(**F64), (5, 3), {"training": True}),
    (lambda: BatchNormalization(**F64), (5, 3), {"training": False}),
    (lambda: BatchNormalization(axis=1, **F64), (3, 2, 4), {"training": True}),
    (lambda: LayerNormalization(**F64), (3, 4), {}),
    (lambda: LayerNormalization(axis=[1, 2], **F64), (2, 3, 2), {}),
    (lambda: LayerNormalization(rms_scaling=True, **F64), (2, 4), {}),
    (lambda: GroupNormalization(groups=2, **F64), (2, 3, 4), {}),
])
def test_gradients(make, shape, kwargs):
    layer = make()
    x = RNG.normal(size=shape)
    layer(x)  # build; the moving statistics change in training, not what is differentiated
    check_layer_gradients(layer, x, call_kwargs=kwargs)


def test_masked_batch_norm_gradients():
    layer = BatchNormalization(**F64)
    mask = dtf.constant(np.array([[True, False, True], [True, True, False]]))
    check_layer_gradients(layer, RNG.normal(size=(2, 3, 2)),
                          call_kwargs={"training": True, "mask": mask})


def test_batch_norm_statistics_training_and_inference():
    bn = BatchNormalization(momentum=0.9, epsilon=1e-3)
    x = RNG.normal(loc=3.0, scale=2.0, size=(64, 4)).astype("float32")
    y = bn(x, training=True).numpy()
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=0), x.var(axis=0) / (x.var(axis=0) + 1e-3),
                               rtol=1e-4)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * x.var(axis=0),
                               rtol=1e-5)
    # inference uses the moving statistics and does not change them
    before = [w.numpy().copy() for w in bn.weights]
    y = bn(x, training=False).numpy()
    expected = (x - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + 1e-3)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    for b, w in zip(before, bn.weights):
        np.testing.assert_array_equal(b, w.numpy())
    # after many training steps the moving statistics converge to the data's
    for _ in range(200):
        bn(x, training=True)
    np.testing.assert_allclose(bn.moving_mean.numpy(), x.mean(axis=0), rtol=1e-3)
    assert [w.name.split("/")[-1] for w in bn.non_trainable_weights] == \
        ["moving_mean:0", "moving_variance:0"]


def test_frozen_batch_norm_runs_in_inference_mode():
    bn = BatchNormalization()
    x = RNG.normal(loc=1.0, size=(16, 3)).astype("float32")
    bn(x)
    bn.trainable = False
    y = bn(x, training=True).numpy()
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0)
    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-3), rtol=1e-5)


def test_batch_norm_in_fit_uses_training_mode():
    model = keras.Sequential([keras.Input((3,)), BatchNormalization(), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = RNG.normal(loc=5.0, size=(64, 3)).astype("float32")
    model.fit(x, np.zeros((64, 1), "float32"), epochs=1, batch_size=16, verbose=0)
    assert np.all(model.layers[0].moving_mean.numpy() > 0.1)


def test_symbolic_configs_and_errors():
    inputs = keras.Input((5, 4))
    for layer in (BatchNormalization(), LayerNormalization(), GroupNormalization(groups=2)):
        assert layer(inputs).shape.as_list() == [None, 5, 4]
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config()["epsilon"] == layer.get_config()["epsilon"]
    with pytest.raises(ValueError, match="multiple of the number of channels"):
        GroupNormalization(groups=3)(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match="cannot be more than"):
        GroupNormalization(groups=8)(np.ones((2, 4), "float32"))
    bn = BatchNormalization(name="bn")
    bn(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match=r'"bn".*axis -1.*value 4'):
        bn(np.ones((2, 5), "float32"))
    with pytest.raises(ValueError, match="one dimension less"):
        BatchNormalization()(np.ones((2, 3, 4), "float32"), training=True,
                             mask=np.ones((2, 3, 4), bool))
    with pytest.raises(ValueError, match="renorm_clipping"):
        BatchNormalization(renorm=True, renorm_clipping={"bad": 1})
