"""Merging layers and their functional forms: values, broadcasting, masks, gradients,
symbolic shapes, errors."""

import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.keras.layers import merging
from dtf.keras.layers.embedding import Embedding
from dtf.keras.layers.rnn_masking import get_mask
from dtf.testing.gradcheck import check_gradients

RNG = np.random.default_rng(9)
A, B = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))


@pytest.mark.parametrize("fn,ref", [
    (merging.add, lambda a, b: a + b), (merging.subtract, lambda a, b: a - b),
    (merging.multiply, lambda a, b: a * b), (merging.average, lambda a, b: (a + b) / 2),
    (merging.maximum, np.maximum), (merging.minimum, np.minimum),
    (merging.concatenate, lambda a, b: np.concatenate([a, b], -1)),
    (lambda xs, **kw: merging.dot(xs, axes=1, **kw), lambda a, b: (a * b).sum(1, keepdims=True)),
])
def test_functional_forms_values_and_gradients(fn, ref):
    np.testing.assert_allclose(fn([dtf.constant(A), dtf.constant(B)], dtype="float64").numpy(),
                               ref(A, B), rtol=1e-12)
    check_gradients(lambda a, b: fn([a, b], dtype="float64"), [A, B])


def test_broadcasting_and_rank_expansion():
    out = merging.Add()([np.ones((2, 3), "float32"), np.ones((2, 4, 3), "float32")])
    assert out.shape == (2, 4, 3)
    assert merging.Multiply()([np.ones((2, 1, 3), "float32"),
                               np.ones((2, 4, 1), "float32")]).shape == (2, 4, 3)
    with pytest.raises(ValueError, match="incompatible shapes"):
        merging.Add()([np.ones((2, 3), "float32"), np.ones((2, 4), "float32")])


def test_masks_combine():
    emb = Embedding(5, 2, mask_zero=True)
    a, b = emb(np.array([[1, 0, 2]])), emb(np.array([[1, 3, 0]]))
    np.testing.assert_array_equal(get_mask(merging.add([a, b])).numpy(), [[True, True, True]])
    product = merging.Multiply()([a, b]).numpy()
    np.testing.assert_allclose(product[0, 1], b.numpy()[0, 1])  # masked entry counts as 1
    np.testing.assert_array_equal(get_mask(merging.Concatenate(axis=1)([a, b])).numpy(),
                                  [[True, False, True, True, True, False]])


def test_symbolic_shapes_configs_and_errors():
    x, y = keras.Input((3,)), keras.Input((3,))
    assert merging.concatenate([x, y]).shape.as_list() == [None, 6]
    assert merging.Dot(axes=(1, 1), normalize=True)([x, y]).shape.as_list() == [None, 1]
    layer = merging.Concatenate(axis=1)
    assert merging.Concatenate.from_config(layer.get_config()).axis == 1
    assert merging.Dot.from_config(merging.Dot(axes=[1, 2]).get_config()).axes == [1, 2]
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        merging.Subtract()([np.ones((1, 2), "float32")] * 3)
    with pytest.raises(ValueError, match="matching shapes"):
        merging.Concatenate()([np.ones((2, 3), "float32"), np.ones((3, 3), "float32")])
    with pytest.raises(ValueError, match="list of inputs"):
        merging.Add()(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="Incompatible input shapes"):
        merging.Dot(axes=1)([np.ones((2, 3), "float32"), np.ones((2, 4), "float32")])
