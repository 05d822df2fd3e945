"""Pooling, global pooling and spatial reshaping layers (UpSampling, ZeroPadding, Cropping):
values by hand, numerical gradients, masks, symbolic shapes, data formats, configs, bad
input."""

import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.keras.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from dtf.keras.layers.reshaping import (
    Cropping1D,
    Cropping2D,
    Cropping3D,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
    bilinear_matrix,
)
from dtf.testing.gradcheck import check_gradients

RNG = np.random.default_rng(5)
IMAGE = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)


def distinct(*shape):
    """Values at least 0.1 apart: no near ties in a max."""
    return (RNG.permutation(int(np.prod(shape))) * 0.1).reshape(shape)


# -- values by hand -----------------------------------------------------------------------------
def test_pooling_values():
    assert MaxPooling2D()(IMAGE).numpy()[0, ..., 0].tolist() == [[5, 7], [13, 15]]
    assert AveragePooling2D()(IMAGE).numpy()[0, ..., 0].tolist() == [[2.5, 4.5], [10.5, 12.5]]
    # SAME: the average is over the window's positions inside the image
    same = AveragePooling2D(3, strides=2, padding="same")(IMAGE).numpy()[0, ..., 0]
    np.testing.assert_allclose(same, [[5.0, 6.5], [11.0, 12.5]])
    assert MaxPooling1D(3, strides=1, padding="same")(
        np.array([[[1.0], [3.0], [2.0], [0.0]]], np.float32)).numpy()[0, :, 0].tolist() == \
        [3, 3, 3, 2]
    assert MaxPooling3D()(np.arange(8.0).reshape(1, 2, 2, 2, 1)).numpy().ravel().tolist() == [7]
    assert AveragePooling3D()(np.arange(8.0).reshape(1, 2, 2, 2, 1)).numpy().ravel().tolist() \
        == [3.5]


def test_global_pooling_values_and_keepdims():
    x = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(GlobalAveragePooling2D()(x).numpy(), x.mean(axis=(1, 2)),
                               rtol=1e-6)
    np.testing.assert_allclose(GlobalMaxPooling2D(keepdims=True)(x).numpy(),
                               x.max(axis=(1, 2), keepdims=True))
    np.testing.assert_allclose(GlobalAveragePooling1D(data_format="channels_first")(x[:, 0])
                               .numpy(), x[:, 0].mean(axis=2), rtol=1e-6)
    np.testing.assert_allclose(GlobalMaxPooling1D()(x[:, 0]).numpy(), x[:, 0].max(axis=1))
    v = x[..., None]
    np.testing.assert_allclose(GlobalAveragePooling3D()(v).numpy(), v.mean(axis=(1, 2, 3)),
                               rtol=1e-6)
    np.testing.assert_allclose(GlobalMaxPooling3D()(v).numpy(), v.max(axis=(1, 2, 3)))


def test_global_average_pooling1d_mask():
    x = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    mask = np.array([[True, True, False], [False, False, True]])
    out = GlobalAveragePooling1D()(x, mask=mask).numpy()
    np.testing.assert_allclose(out, [x[0, :2].mean(0), x[1, 2]])
    # masks propagate from Embedding-like layers in a model; the pooled output has none
    assert GlobalAveragePooling1D().compute_mask(x, mask) is None


def test_upsampling_padding_cropping_values():
    x = np.arange(4, dtype=np.float32).reshape(1, 2, 2, 1)
    assert UpSampling2D((1, 2))(x).numpy()[0, ..., 0].tolist() == [[0, 0, 1, 1], [2, 2, 3, 3]]
    assert UpSampling1D(3)(x[:, 0]).numpy()[0, :, 0].tolist() == [0, 0, 0, 1, 1, 1]
    assert UpSampling3D(2)(x[..., None, :]).shape == (1, 4, 4, 2, 1)
    padded = ZeroPadding2D(((1, 0), (0, 2)))(x).numpy()[0, ..., 0]
    assert padded.tolist() == [[0, 0, 0, 0], [0, 1, 0, 0], [2, 3, 0, 0]]
    assert ZeroPadding1D((2, 1))(x[:, 0]).numpy()[0, :, 0].tolist() == [0, 0, 0, 1, 0]
    assert ZeroPadding3D(1)(x[..., None, :]).shape == (1, 4, 4, 3, 1)
    image = np.arange(20, dtype=np.float32).reshape(1, 4, 5, 1)
    assert Cropping2D(((1, 2), (0, 3)))(image).numpy()[0, ..., 0].tolist() == [[5, 6]]
    assert Cropping1D((1, 0))(image[:, 0]).numpy()[0, :, 0].tolist() == [1, 2, 3, 4]
    assert Cropping3D(((0, 1), (1, 1), (1, 2)))(np.ones((1, 4, 5, 6, 1))).shape == (1, 3, 3, 3, 1)


def test_bilinear_matrix_rows_are_convex_weights():
    for size, scale in [(1, 2), (3, 2), (4, 3), (5, 1)]:
        m = bilinear_matrix(size, scale)
        assert m.shape == (size * scale, size)
        np.testing.assert_allclose(m.sum(axis=1), 1.0)
        assert (m >= 0).all()
    np.testing.assert_allclose(bilinear_matrix(5, 1), np.eye(5))


# -- gradients ----------------------------------------------------------------------------------
GRADIENT_LAYERS = {
    "max_pooling1d_same": (lambda: MaxPooling1D(3, strides=2, padding="same"), (2, 7, 2)),
    "max_pooling2d": (lambda: MaxPooling2D(), (1, 4, 5, 2)),
    "max_pooling2d_overlapping": (lambda: MaxPooling2D(3, strides=1), (1, 4, 4, 2)),
    "max_pooling3d": (lambda: MaxPooling3D(2, padding="same"), (1, 3, 3, 2, 1)),
    "average_pooling1d": (lambda: AveragePooling1D(2), (2, 6, 2)),
    "average_pooling2d_same": (lambda: AveragePooling2D(3, strides=2, padding="same"),
                               (1, 5, 4, 2)),
    "average_pooling3d": (lambda: AveragePooling3D(2, strides=1), (1, 3, 3, 3, 1)),
    "global_average_pooling2d": (lambda: GlobalAveragePooling2D(), (2, 3, 3, 2)),
    "global_max_pooling1d": (lambda: GlobalMaxPooling1D(), (2, 4, 3)),
    "up_sampling2d_nearest": (lambda: UpSampling2D((2, 3)), (1, 2, 3, 2)),
    "up_sampling2d_bilinear": (lambda: UpSampling2D(2, interpolation="bilinear"), (1, 3, 2, 2)),
    "up_sampling1d_channels_first": (lambda: UpSampling2D(2, data_format="channels_first"),
                                     (1, 2, 2, 3)),
    "zero_padding2d": (lambda: ZeroPadding2D(((1, 0), (2, 1))), (1, 2, 3, 2)),
    "cropping2d": (lambda: Cropping2D(((1, 0), (1, 2))), (1, 4, 5, 2)),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_LAYERS))
def test_gradients(name):
    make, shape = GRADIENT_LAYERS[name]
    layer = make()
    layer_64 = type(layer).from_config({**layer.get_config(), "dtype": "float64"})
    check_gradients(lambda t: layer_64(t), [distinct(*shape)])


# -- shapes -------------------------------------------------------------------------------------
SHAPE_CASES = [
    (lambda: MaxPooling2D(), (2, 7, 6, 3), (2, 3, 3, 3)),
    (lambda: MaxPooling2D(3, strides=2, padding="same"), (2, 7, 6, 3), (2, 4, 3, 3)),
    (lambda: AveragePooling2D(2, data_format="channels_first"), (2, 3, 7, 6), (2, 3, 3, 3)),
    (lambda: MaxPooling1D(), (2, 7, 3), (2, 3, 3)),
    (lambda: AveragePooling1D(3, strides=1, padding="same"), (2, 7, 3), (2, 7, 3)),
    (lambda: MaxPooling3D((1, 2, 3)), (1, 4, 4, 6, 2), (1, 4, 2, 2, 2)),
    (lambda: GlobalAveragePooling2D(), (2, 7, 6, 3), (2, 3)),
    (lambda: GlobalMaxPooling2D(data_format="channels_first", keepdims=True), (2, 3, 7, 6),
     (2, 3, 1, 1)),
    (lambda: UpSampling2D((2, 3)), (2, 4, 5, 3), (2, 8, 15, 3)),
    (lambda: UpSampling2D(2, interpolation="bilinear"), (2, 4, 5, 3), (2, 8, 10, 3)),
    (lambda: UpSampling2D(2, data_format="channels_first"), (2, 3, 4, 5), (2, 3, 8, 10)),
    (lambda: ZeroPadding2D(((1, 2), (3, 4))), (2, 4, 5, 3), (2, 7, 12, 3)),
    (lambda: ZeroPadding2D(1, data_format="channels_first"), (2, 3, 4, 5), (2, 3, 6, 7)),
    (lambda: Cropping2D(((1, 2), (0, 1))), (2, 4, 5, 3), (2, 1, 4, 3)),
    (lambda: Cropping2D(1, data_format="channels_first"), (2, 3, 4, 5), (2, 3, 2, 3)),
]


@pytest.mark.parametrize("index", range(len(SHAPE_CASES)))
def test_shapes_eager_symbolic_and_computed(index):
    make, in_shape, out_shape = SHAPE_CASES[index]
    layer = make()
    assert tuple(layer(np.ones(in_shape, np.float32)).shape) == out_shape
    assert tuple(layer.compute_output_shape(in_shape)) == out_shape
    assert tuple(make()(keras.Input(in_shape[1:])).shape) == (None,) + out_shape[1:]


def test_unknown_spatial_dims_in_a_functional_model():
    inputs = keras.Input((None, None, 2))
    x = MaxPooling2D()(inputs)
    x = UpSampling2D(3)(x)
    x = ZeroPadding2D(1)(x)
    x = Cropping2D(((0, 1), (2, 0)))(x)
    assert x.shape.as_list() == [None, None, None, 2]
    model = keras.Model(inputs, GlobalMaxPooling2D()(x))
    assert model(np.ones((3, 6, 4, 2), np.float32)).shape == (3, 2)
    with pytest.raises(ValueError, match="bilinear upsampling needs the height and width"):
        UpSampling2D(2, interpolation="bilinear")(inputs)


def test_channels_first_equals_channels_last():
    x = RNG.normal(size=(2, 5, 6, 3)).astype(np.float32)
    for make in (lambda f: MaxPooling2D(3, strides=2, padding="same", data_format=f),
                 lambda f: AveragePooling2D(2, data_format=f),
                 lambda f: UpSampling2D(2, data_format=f, interpolation="bilinear"),
                 lambda f: ZeroPadding2D(((1, 0), (2, 3)), data_format=f),
                 lambda f: Cropping2D(((1, 0), (2, 3)), data_format=f)):
        last = make("channels_last")(x).numpy()
        first = make("channels_first")(np.moveaxis(x, -1, 1)).numpy()
        np.testing.assert_allclose(np.moveaxis(first, 1, -1), last, rtol=1e-6)


# -- configs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, keys", [
    (lambda: MaxPooling2D(3, strides=1, padding="same"),
     {"pool_size", "strides", "padding", "data_format"}),
    (lambda: AveragePooling1D(), {"pool_size", "strides", "padding", "data_format"}),
    (lambda: GlobalAveragePooling2D(keepdims=True), {"data_format", "keepdims"}),
    (lambda: GlobalMaxPooling1D(), {"data_format", "keepdims"}),
    (lambda: UpSampling2D((2, 3), interpolation="bilinear"),
     {"size", "data_format", "interpolation"}),
    (lambda: UpSampling1D(4), {"size"}),
    (lambda: UpSampling3D(), {"size", "data_format"}),
    (lambda: ZeroPadding2D(((1, 2), (3, 4))), {"padding", "data_format"}),
    (lambda: Cropping1D(2), {"cropping"}),
    (lambda: Cropping2D(1, data_format="channels_first"), {"cropping", "data_format"}),
])
def test_configs_match_keras_and_round_trip(make, keys):
    layer = make()
    config = layer.get_config()
    assert set(config) == keys | {"name", "trainable", "dtype"}
    assert type(layer).from_config(config).get_config() == config


def test_config_values_are_keras_tuples():
    assert MaxPooling2D().get_config()["pool_size"] == (2, 2)
    assert MaxPooling2D().get_config()["strides"] == (2, 2)
    assert ZeroPadding2D().get_config()["padding"] == ((1, 1), (1, 1))
    assert ZeroPadding2D((1, 2)).get_config()["padding"] == ((1, 1), (2, 2))
    assert Cropping2D().get_config()["cropping"] == ((0, 0), (0, 0))
    assert Cropping1D().get_config()["cropping"] == ((1, 1),)


# -- bad input ----------------------------------------------------------------------------------
def test_window_larger_than_input():
    with pytest.raises(ValueError, match=r'Layer "pool".*\(1, 5, 5, 2\).*pool_size=\(7, 7\)'):
        MaxPooling2D(7, name="pool")(np.zeros((1, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r'Layer "pool_sym".*\(None, 5, 5, 2\)'):
        AveragePooling2D(7, name="pool_sym")(keras.Input((5, 5, 2)))
    assert MaxPooling2D(7, padding="same")(np.zeros((1, 5, 5, 2), np.float32)).shape == \
        (1, 1, 1, 2)


def test_wrong_rank_and_arguments():
    with pytest.raises(ValueError, match=r'layer "p2".*expected ndim=4, found ndim=3'):
        MaxPooling2D(name="p2")(np.zeros((5, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r'layer "g1".*expected ndim=3'):
        GlobalAveragePooling1D(name="g1")(np.zeros((2, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match="pool_size"):
        MaxPooling2D(0)
    with pytest.raises(ValueError, match="padding"):
        MaxPooling1D(padding="causal")
    with pytest.raises(ValueError, match="interpolation"):
        UpSampling2D(interpolation="lanczos5")
    with pytest.raises(ValueError, match="size"):
        UpSampling2D((2, 2, 2))
    with pytest.raises(ValueError, match="padding"):
        ZeroPadding2D(((1, 2, 3), (1, 1)))


def test_cropping_too_much_names_layer_and_shapes():
    with pytest.raises(ValueError, match=r'Layer "crop".*\(1, 5, 5, 2\).*has 5, cropping '
                                         r"removes 6"):
        Cropping2D(3, name="crop")(np.zeros((1, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match='Layer "crop_sym"'):
        Cropping2D(((0, 0), (3, 3)), name="crop_sym")(keras.Input((None, 6, 2)))


def test_pooling_in_a_trained_model():
    """Max pooling routes gradients to the maxima only: a tape through a model sees it."""
    model = keras.Sequential([keras.Input((4, 4, 1)), MaxPooling2D(),
                              keras.layers.Flatten()])
    x = dtf.constant(IMAGE)
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = dtf.reduce_sum(model(x))
    grad = tape.gradient(y, x).numpy()[0, ..., 0]
    expected = np.zeros((4, 4))
    expected[1::2, 1::2] = 1
    np.testing.assert_array_equal(grad, expected)


def test_docstring_examples_of_the_layer_modules():
    import doctest

    from dtf.keras.layers import convolutional, pooling, reshaping

    for module in (convolutional, pooling, reshaping):
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        for test in doctest.DocTestFinder().find(module, globs={"dtf": dtf, "keras": keras}):
            runner.run(test)
        assert runner.failures == 0, f"{module.__name__}: a docstring example failed"
        assert runner.tries >= 8
