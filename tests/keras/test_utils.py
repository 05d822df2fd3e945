"""keras.utils: to_categorical (Keras semantics), normalize, serialization re-exports."""

import numpy as np
import pytest

import dtf
from dtf.keras import saving, utils
from dtf.testing.gradcheck import check_gradients


def test_to_categorical_basic():
    out = utils.to_categorical([0, 2, 1])
    assert out.dtype == np.float32 and isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, np.eye(3)[[0, 2, 1]])
    assert utils.to_categorical([1], num_classes=4).tolist() == [[0, 1, 0, 0]]


def test_to_categorical_squeezes_trailing_one():
    y = np.array([[1], [0], [2]])
    assert utils.to_categorical(y, 3).shape == (3, 3)
    assert utils.to_categorical(np.zeros((2, 5, 1), dtype=int), 2).shape == (2, 5, 2)
    assert utils.to_categorical(np.zeros((2, 5), dtype=int), 2).shape == (2, 5, 2)
    assert utils.to_categorical(np.array([1]), 2).shape == (1, 2)  # (1,) is not squeezed


def test_to_categorical_dtypes_and_inputs():
    assert utils.to_categorical([0, 1], dtype="int32").dtype == np.int32
    assert utils.to_categorical([0, 1], dtype=dtf.float64).dtype == np.float64
    np.testing.assert_array_equal(utils.to_categorical(dtf.constant([1, 0])),
                                  [[0, 1], [1, 0]])
    np.testing.assert_array_equal(utils.to_categorical(np.array([1.0, 0.0])),
                                  [[0, 1], [1, 0]])
    assert utils.to_categorical(np.array([], dtype=int), 3).shape == (0, 3)


def test_to_categorical_errors():
    with pytest.raises(ValueError, match=r"label 3 is outside \[0, 3\)"):
        utils.to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError, match="label -1"):
        utils.to_categorical([-1, 0])
    with pytest.raises(ValueError, match="integers"):
        utils.to_categorical([0.5, 1.0])


def test_to_categorical_symbolic():
    from dtf.compile.symbolic import placeholder

    y = placeholder((None, 1), dtf.int32)
    out = utils.to_categorical(y, 5)
    assert out.shape.as_list() == [None, 5] and out.dtype == dtf.float32
    with pytest.raises(ValueError, match="num_classes"):
        utils.to_categorical(y)


def test_normalize_numpy():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(utils.normalize(x), [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(utils.normalize(x, axis=0), [[1.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(utils.normalize(np.array([[1.0, -3.0]]), order=1),
                               [[0.25, -0.75]])
    np.testing.assert_allclose(utils.normalize([3.0, 4.0]), [[0.6, 0.8]])  # as Keras


def test_normalize_tensors():
    out = utils.normalize(dtf.constant([[3.0, 4.0], [0.0, 0.0]]))
    assert isinstance(out, dtf.Tensor)
    np.testing.assert_allclose(out.numpy(), [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    check_gradients(utils.normalize, [np.array([[0.3, -1.2], [2.0, 0.5]])])
    zero_row = dtf.constant([[0.0, 0.0]])
    with dtf.GradientTape() as tape:
        tape.watch(zero_row)
        out = utils.normalize(zero_row)
    assert np.all(np.isfinite(tape.gradient(out, zero_row).numpy()))
    out = utils.normalize(dtf.constant([[1.0, -3.0]]), order=1)
    np.testing.assert_allclose(out.numpy(), [[0.25, -0.75]], rtol=1e-6)
    with pytest.raises(ValueError, match="order"):
        utils.normalize(np.ones(2), order=0)


def test_serialization_helpers_are_reexported():
    for name in ("register_keras_serializable", "get_registered_object", "get_registered_name",
                 "custom_object_scope", "CustomObjectScope", "serialize_keras_object",
                 "deserialize_keras_object", "get_custom_objects"):
        assert getattr(utils, name) is getattr(saving, name)
