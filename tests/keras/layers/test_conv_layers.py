"""Convolution layers: numerical gradients (inputs, first and second order, and every weight),
symbolic shapes, data formats, configs, saving, bad input, and a small CNN learning MNIST."""

import os

import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.keras import layers
from dtf.keras.layers.convolutional import (
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from dtf.keras.layers.pooling import MaxPooling2D
from dtf.testing.gradcheck import check_gradients

RNG = np.random.default_rng(3)


def check_layer_gradients(layer, x, second_order=True, eps=1e-6):
    """d(layer(x))/dx (first and, optionally, second order) and d(layer(x))/d(weights)
    against central differences, in float64."""
    check_gradients(lambda t: layer(t), [x], second_order=second_order)
    weights = layer.trainable_weights
    cotangent = dtf.constant(RNG.normal(size=tuple(layer(dtf.constant(x)).shape)))

    def objective():
        return float(dtf.reduce_sum(layer(dtf.constant(x)) * cotangent))

    with dtf.GradientTape() as tape:
        scalar = dtf.reduce_sum(layer(dtf.constant(x)) * cotangent)
    for w, g in zip(weights, tape.gradient(scalar, weights)):
        base = w.numpy().copy()
        numeric = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            for sign in (1, -1):
                shifted = base.copy()
                shifted[i] += sign * eps
                w.assign(shifted)
                numeric[i] += sign * objective() / (2 * eps)
        w.assign(base)
        np.testing.assert_allclose(g.numpy(), numeric, atol=1e-6, rtol=1e-5,
                                   err_msg=f"gradient of {w.name}")


F64 = {"dtype": "float64", "bias_initializer": "random_normal"}
GRADIENT_LAYERS = {
    "conv1d_causal": (lambda: Conv1D(2, 3, padding="causal", dilation_rate=2, **F64), (2, 6, 2)),
    "conv1d_strided_same": (lambda: Conv1D(2, 3, strides=2, padding="same", **F64), (1, 7, 2)),
    "conv2d_valid_tanh": (lambda: Conv2D(2, 3, activation="tanh", **F64), (2, 5, 4, 2)),
    "conv2d_same_strided": (lambda: Conv2D(3, (2, 3), strides=2, padding="same", **F64),
                            (1, 5, 5, 2)),
    "conv2d_dilated": (lambda: Conv2D(2, 2, dilation_rate=2, padding="same", **F64),
                       (1, 5, 4, 2)),
    "conv2d_groups": (lambda: Conv2D(4, 2, groups=2, **F64), (1, 4, 4, 4)),
    "conv2d_channels_first": (lambda: Conv2D(2, 2, data_format="channels_first", **F64),
                              (1, 2, 4, 3)),
    "conv3d": (lambda: Conv3D(2, 2, padding="same", **F64), (1, 3, 3, 3, 2)),
    "conv1d_transpose": (lambda: Conv1DTranspose(2, 3, strides=2, **F64), (1, 3, 2)),
    "conv2d_transpose_same": (lambda: Conv2DTranspose(2, 3, strides=2, padding="same", **F64),
                              (1, 3, 3, 2)),
    "conv2d_transpose_output_padding": (
        lambda: Conv2DTranspose(2, 2, strides=2, output_padding=1, **F64), (1, 2, 3, 2)),
    "conv3d_transpose": (lambda: Conv3DTranspose(2, 2, strides=2, **F64), (1, 2, 2, 2, 2)),
    "depthwise_conv1d": (lambda: DepthwiseConv1D(3, depth_multiplier=2, **F64), (2, 6, 2)),
    "depthwise_conv2d": (lambda: DepthwiseConv2D(3, padding="same", depth_multiplier=2, **F64),
                         (1, 4, 4, 2)),
    "separable_conv1d": (lambda: SeparableConv1D(3, 2, **F64), (1, 5, 2)),
    "separable_conv2d": (lambda: SeparableConv2D(3, 2, strides=2, **F64), (1, 5, 5, 2)),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_LAYERS))
def test_gradients(name):
    make, shape = GRADIENT_LAYERS[name]
    check_layer_gradients(make(), RNG.normal(size=shape))


# -- shapes: eager, symbolic, compute_output_shape ----------------------------------------------
SHAPE_CASES = [
    (lambda: Conv2D(4, 3), (2, 8, 7, 3), (2, 6, 5, 4)),
    (lambda: Conv2D(4, 3, strides=2, padding="same"), (2, 8, 7, 3), (2, 4, 4, 4)),
    (lambda: Conv2D(4, 3, data_format="channels_first"), (2, 3, 8, 7), (2, 4, 6, 5)),
    (lambda: Conv1D(5, 4, padding="causal"), (2, 9, 3), (2, 9, 5)),
    (lambda: Conv3D(2, (1, 2, 3)), (1, 4, 4, 4, 2), (1, 4, 3, 2, 2)),
    (lambda: Conv2DTranspose(3, 3, strides=2), (2, 4, 5, 2), (2, 9, 11, 3)),
    (lambda: Conv2DTranspose(3, 2, strides=3), (2, 4, 5, 2), (2, 12, 15, 3)),
    (lambda: Conv2DTranspose(3, 3, strides=2, padding="same"), (2, 4, 5, 2), (2, 8, 10, 3)),
    (lambda: Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=0),
     (2, 4, 5, 2), (2, 7, 9, 3)),
    (lambda: Conv2DTranspose(3, 3, data_format="channels_first"), (2, 2, 4, 5), (2, 3, 6, 7)),
    (lambda: Conv3DTranspose(2, 2, strides=2, padding="same"), (1, 2, 3, 4, 2),
     (1, 4, 6, 8, 2)),
    (lambda: DepthwiseConv2D(3, depth_multiplier=3), (2, 6, 6, 2), (2, 4, 4, 6)),
    (lambda: SeparableConv2D(7, 3, padding="same"), (2, 6, 6, 2), (2, 6, 6, 7)),
    (lambda: SeparableConv1D(7, 3, strides=2), (2, 9, 2), (2, 4, 7)),
]


@pytest.mark.parametrize("index", range(len(SHAPE_CASES)))
def test_shapes_eager_symbolic_and_computed(index):
    make, in_shape, out_shape = SHAPE_CASES[index]
    layer = make()
    y = layer(np.ones(in_shape, np.float32))
    assert tuple(y.shape) == out_shape
    assert tuple(layer.compute_output_shape(in_shape)) == out_shape
    symbolic = make()(keras.Input(in_shape[1:]))
    assert tuple(symbolic.shape) == (None,) + out_shape[1:]


def test_symbolic_unknown_spatial_dims():
    inputs = keras.Input((None, None, 3))
    x = Conv2D(4, 3, strides=2, padding="same")(inputs)
    assert x.shape.as_list() == [None, None, None, 4]
    x = Conv2DTranspose(2, 3, strides=2)(x)
    assert x.shape.as_list() == [None, None, None, 2]
    model = keras.Model(inputs, x)
    out = model(np.ones((2, 9, 6, 3), np.float32))
    assert out.shape == (2, 11, 7, 2)  # 9 -> 5 -> 11, 6 -> 3 -> 7


def test_functional_cnn_matches_eager_layers():
    conv, pool, dense = Conv2D(3, 3, activation="relu"), MaxPooling2D(), layers.Dense(2)
    inputs = keras.Input((8, 8, 1))
    outputs = dense(layers.Flatten()(pool(conv(inputs))))
    model = keras.Model(inputs, outputs)
    assert model.output_shape == (None, 2)
    x = RNG.normal(size=(4, 8, 8, 1)).astype(np.float32)
    expected = dense(layers.Flatten()(pool(conv(x))))
    np.testing.assert_allclose(model(x).numpy(), expected.numpy(), rtol=1e-6)
    assert len(model.trainable_weights) == 4


def test_channels_first_equals_channels_last():
    x = RNG.normal(size=(2, 7, 6, 3)).astype(np.float32)
    for make in (lambda f: Conv2D(4, 3, strides=2, padding="same", data_format=f),
                 lambda f: Conv2DTranspose(4, 3, strides=2, data_format=f),
                 lambda f: DepthwiseConv2D(2, depth_multiplier=2, data_format=f),
                 lambda f: SeparableConv2D(4, 2, data_format=f)):
        last, first = make("channels_last"), make("channels_first")
        y_last = last(x)
        first(np.moveaxis(x, -1, 1))
        first.set_weights(last.get_weights())
        y_first = first(np.moveaxis(x, -1, 1))
        np.testing.assert_allclose(np.moveaxis(y_first.numpy(), 1, -1), y_last.numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_image_data_format_default_is_followed():
    keras.backend.set_image_data_format("channels_first")
    try:
        layer = Conv2D(2, 3)
    finally:
        keras.backend.set_image_data_format("channels_last")
    assert layer.data_format == "channels_first"
    assert layer(np.ones((1, 3, 5, 5), np.float32)).shape == (1, 2, 3, 3)


def test_weights_names_shapes_and_regularizers():
    conv = Conv2D(8, (3, 2), groups=2, kernel_regularizer=keras.regularizers.L2(0.5))
    conv(np.ones((1, 6, 6, 4), np.float32))
    assert [w.path for w in conv.weights] == [f"{conv.name}/kernel", f"{conv.name}/bias"]
    assert conv.kernel.shape == (3, 2, 2, 8) and conv.bias.shape == (8,)
    penalty = float(conv.losses[0])
    np.testing.assert_allclose(penalty, 0.5 * np.sum(conv.kernel.numpy() ** 2), rtol=1e-5)
    sep = SeparableConv2D(5, 3, depth_multiplier=2, use_bias=False)
    sep(np.ones((1, 6, 6, 3), np.float32))
    assert [w.path.split("/")[-1] for w in sep.weights] == ["depthwise_kernel",
                                                            "pointwise_kernel"]
    assert sep.depthwise_kernel.shape == (3, 3, 3, 2)
    assert sep.pointwise_kernel.shape == (1, 1, 6, 5)
    depthwise = DepthwiseConv2D(3, depth_multiplier=2)
    depthwise(np.ones((1, 6, 6, 3), np.float32))
    assert [tuple(w.shape) for w in depthwise.weights] == [(3, 3, 3, 2), (6,)]
    transpose = Conv2DTranspose(5, 3)
    transpose(np.ones((1, 4, 4, 2), np.float32))
    assert transpose.kernel.shape == (3, 3, 5, 2)


def test_float64_layer_computes_in_float64():
    conv = Conv2D(2, 3, dtype="float64")
    y = conv(np.ones((1, 5, 5, 1), np.float32))
    assert y.dtype == dtf.float64 and conv.kernel.dtype == dtf.float64


# -- configs and saving ---------------------------------------------------------------------------
KERAS_CONV2D_KEYS = {"name", "trainable", "dtype", "filters", "kernel_size", "strides",
                     "padding", "data_format", "dilation_rate", "groups", "activation",
                     "use_bias", "kernel_initializer", "bias_initializer", "kernel_regularizer",
                     "bias_regularizer", "activity_regularizer", "kernel_constraint",
                     "bias_constraint"}


def test_config_keys_match_keras():
    assert set(Conv2D(4, 3).get_config()) == KERAS_CONV2D_KEYS
    assert set(Conv2DTranspose(4, 3).get_config()) == \
        KERAS_CONV2D_KEYS - {"groups"} | {"output_padding"}
    assert "depth_multiplier" in DepthwiseConv2D(3).get_config()
    assert {"depthwise_initializer", "pointwise_initializer"} <= \
        set(SeparableConv2D(3, 3).get_config())


@pytest.mark.parametrize("make", [
    lambda: Conv2D(4, (3, 2), strides=2, padding="same", dilation_rate=1, groups=2,
                   activation="relu", kernel_regularizer="l2", use_bias=False),
    lambda: Conv1D(3, 5, padding="causal", dilation_rate=3, kernel_initializer="he_normal"),
    lambda: Conv3D(2, 2, data_format="channels_first"),
    lambda: Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=1),
    lambda: Conv3DTranspose(3, 2, activation="sigmoid"),
    lambda: DepthwiseConv2D(3, depth_multiplier=2, depthwise_constraint="non_neg"),
    lambda: SeparableConv2D(4, 3, depth_multiplier=3, pointwise_initializer="zeros"),
])
def test_config_round_trip(make):
    layer = make()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def test_saved_model_round_trip(tmp_path):
    """A Functional model with every kind of layer of this package saves to a .keras archive
    and loads back computing the same outputs."""
    from dtf.keras.layers import pooling, reshaping
    from dtf.keras.saving import saving_api

    inputs = keras.Input((12, 12, 2))
    x = reshaping.ZeroPadding2D(1)(inputs)
    x = Conv2D(4, 3, activation="relu", groups=2)(x)
    x = DepthwiseConv2D(3, depth_multiplier=2, padding="same")(x)
    x = pooling.AveragePooling2D(2)(x)
    x = SeparableConv2D(4, 2, padding="same")(x)
    x = Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=1)(x)
    x = reshaping.UpSampling2D(2, interpolation="bilinear")(x)
    x = reshaping.Cropping2D(((1, 2), (0, 3)))(x)
    x = MaxPooling2D(3, strides=2, padding="same")(x)
    outputs = layers.Dense(2)(pooling.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    x = RNG.normal(size=(2, 12, 12, 2)).astype(np.float32)
    path = str(tmp_path / "cnn.keras")
    saving_api.save_model(model, path)
    classes = {cls.__name__: cls for cls in (
        Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose, MaxPooling2D,
        pooling.AveragePooling2D, pooling.GlobalAveragePooling2D, reshaping.ZeroPadding2D,
        reshaping.UpSampling2D, reshaping.Cropping2D)}
    restored = saving_api.load_model(path, custom_objects=classes)
    np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_keras2_style_input_shape_on_the_first_layer():
    model = keras.Sequential([Conv2D(4, 3, input_shape=(8, 8, 1)), MaxPooling2D(),
                              layers.Flatten(), layers.Dense(3)])
    assert model.output_shape == (None, 3)
    assert model(np.ones((2, 8, 8, 1), np.float32)).shape == (2, 3)


# -- bad input ----------------------------------------------------------------------------------
def test_kernel_larger_than_input_names_layer_and_shapes():
    with pytest.raises(ValueError, match=r'Layer "big".*\(1, 5, 5, 2\).*\(7, 7, 2, 4\)'):
        Conv2D(4, 7, name="big")(np.zeros((1, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r'Layer "big_sym".*\(None, 5, 5, 2\)'):
        Conv2D(4, 7, name="big_sym")(keras.Input((5, 5, 2)))
    with pytest.raises(ValueError, match="dilation included"):
        Conv1D(1, 3, dilation_rate=3, name="dil")(np.zeros((1, 6, 1), np.float32))
    conv = Conv2D(1, 3, name="later")  # built on a big input, then called on a small one
    conv(np.zeros((1, 8, 8, 1), np.float32))
    with pytest.raises(ValueError, match='Layer "later"'):
        conv(np.zeros((1, 2, 8, 1), np.float32))


def test_wrong_channel_count_and_rank():
    conv = Conv2D(4, 3, name="c")
    conv(np.zeros((1, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r'layer "c".*axis -1.*value 2.*\(1, 5, 5, 3\)'):
        conv(np.zeros((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r'"r" expects inputs of rank 4.*\(5, 5, 2\)'):
        Conv2D(4, 3, name="r")(np.zeros((5, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r'layer "r1".*expected ndim=3, found ndim=4'):
        layer = Conv1D(2, 2, name="r1")
        layer(np.zeros((1, 5, 2), np.float32))
        layer(np.zeros((1, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match="channel dimension of the inputs should be defined"):
        Conv2D(2, 2)(keras.Input((4, 4, None)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="filters"):
        Conv2D(0, 3)
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2D(2, 0)
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match="strides"):
        Conv2D(2, 3, strides=0)
    with pytest.raises(ValueError, match="not supported in conjunction"):
        Conv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="evenly divisible.*groups=3, filters=4"):
        Conv2D(4, 3, groups=3)
    with pytest.raises(ValueError, match=r"input channels.*groups=2.*3 channels"):
        Conv2D(4, 3, groups=2)(np.zeros((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match="padding"):
        Conv2D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="padding"):
        Conv1D(2, 3, padding="full")
    with pytest.raises(ValueError, match="data_format"):
        Conv2D(2, 3, data_format="NHWC")
    with pytest.raises(ValueError, match="output_padding.*strictly less than.*strides"):
        Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="depth_multiplier"):
        DepthwiseConv2D(3, depth_multiplier=0)


# -- learning -----------------------------------------------------------------------------------
HAS_MNIST = os.path.isfile(os.path.join(os.environ.get("DTF_DATASETS_DIR", "-"), "mnist.npz"))


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MNIST, reason="needs DTF_DATASETS_DIR with mnist.npz")
def test_small_cnn_learns_mnist_with_fit():
    """A two-conv CNN reaches 0.95 test accuracy after a 2-epoch fit (MNIST mirror: 8k train,
    2k test images)."""
    (x, y), (x_test, y_test) = keras.datasets.mnist.load_data()
    x = x[..., None].astype("float32") / 255
    x_test = x_test[..., None].astype("float32") / 255
    dtf.random.set_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        Conv2D(8, 3, activation="relu"), MaxPooling2D(),
        Conv2D(16, 3, activation="relu"), MaxPooling2D(),
        layers.Flatten(), layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.95
