"""Embedding: lookups, mask_zero, gradients into the table, dtypes, configs, errors."""

import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.keras.layers.embedding import Embedding
from dtf.keras.layers.rnn_masking import get_mask


def test_lookup_mask_and_gradient():
    emb = Embedding(5, 3, mask_zero=True)
    ids = np.array([[1, 4, 0], [2, 2, 0]])
    out = emb(ids)
    table = emb.embeddings.numpy()
    np.testing.assert_array_equal(out.numpy(), table[ids])
    np.testing.assert_array_equal(get_mask(out).numpy(), ids != 0)
    np.testing.assert_array_equal(emb.compute_mask(ids).numpy(), ids != 0)
    with dtf.GradientTape() as tape:
        loss = dtf.reduce_sum(emb(ids))
    grad = tape.gradient(loss, emb.embeddings)
    np.testing.assert_array_equal(dtf.convert_to_tensor(grad).numpy()[:, 0],
                                  [2, 1, 2, 0, 1])
    assert emb(ids.astype("float32")).shape == (2, 3, 3)
    assert emb(dtf.constant(ids, dtype=dtf.int64)).dtype == dtf.float32


def test_keras2_arguments_symbolic_and_config():
    emb = Embedding(10, 4, input_length=6, weights=[np.ones((10, 4))])
    model = keras.Sequential([emb])
    assert model.output_shape == (None, 6, 4)
    np.testing.assert_array_equal(emb.embeddings.numpy(), np.ones((10, 4)))
    inputs = keras.Input((None,), dtype="int32")
    assert Embedding(10, 4)(inputs).shape.as_list() == [None, None, 4]
    clone = Embedding.from_config(Embedding(7, 2, mask_zero=True).get_config())
    assert clone.mask_zero and clone.input_dim == 7
    assert Embedding(7, 2).compute_output_shape((None, 5)) == (None, 5, 2)


def test_errors():
    with pytest.raises(ValueError, match="input_dim"):
        Embedding(0, 3)
    with pytest.raises(dtf.errors.InvalidArgumentError):
        Embedding(3, 2)(np.array([[5]]))
