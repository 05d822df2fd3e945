"""Attention layers: float64 gradients, masks, causal masks, shapes, configs, errors."""

import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.keras.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from dtf.keras.layers.embedding import Embedding
from dtf.keras.layers.rnn_masking import get_mask
from dtf.testing.gradcheck import check_gradients

RNG = np.random.default_rng(3)
F64 = {"dtype": "float64"}


@pytest.mark.parametrize("make", [lambda: Attention(**F64),
                                  lambda: Attention(use_scale=True, score_mode="concat", **F64),
                                  lambda: AdditiveAttention(**F64)])
def test_attention_gradients(make):
    layer = make()
    q, v = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 5, 4))
    mask = [dtf.constant(np.array([[True, True, False], [True] * 3])),
            dtf.constant(np.array([[True, True, True, False, False], [True] * 5]))]
    check_gradients(lambda a, b: layer([a, b], mask=mask), [q, v])


def test_multi_head_attention_gradients_through_inputs_and_weights():
    layer = MultiHeadAttention(2, 2, **F64)
    q, v = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 4, 4))
    layer(q, v)
    check_gradients(lambda a, b: layer(a, b, use_causal_mask=False), [q, v])
    weights = layer.trainable_weights
    with dtf.GradientTape() as tape:
        loss = dtf.reduce_sum(layer(q, v) ** 2)
    grads = tape.gradient(loss, weights)
    w = weights[0]
    base = w.numpy().copy()
    eps = 1e-6
    shifted = base.copy()
    shifted[0, 0, 0] += eps
    w.assign(shifted)
    plus = float(dtf.reduce_sum(layer(q, v) ** 2))
    shifted[0, 0, 0] -= 2 * eps
    w.assign(shifted)
    minus = float(dtf.reduce_sum(layer(q, v) ** 2))
    w.assign(base)
    np.testing.assert_allclose(grads[0].numpy()[0, 0, 0], (plus - minus) / (2 * eps),
                               rtol=1e-5)


def test_causal_mask_hides_the_future():
    q = RNG.normal(size=(1, 4, 3)).astype("float32")
    _, scores = Attention()([q, q], use_causal_mask=True, return_attention_scores=True)
    assert np.all(np.triu(scores.numpy()[0], k=1) < 1e-6)
    mha = MultiHeadAttention(2, 3)
    _, scores = mha(q, q, use_causal_mask=True, return_attention_scores=True)
    assert np.all(np.triu(scores.numpy()[0, 0], k=1) < 1e-6)


def test_masks_from_embedding_reach_multi_head_attention():
    ids = np.array([[4, 2, 0, 0]])
    x = Embedding(6, 4, mask_zero=True)(ids)
    mha = MultiHeadAttention(1, 2)
    out, scores = mha(x, x, return_attention_scores=True)
    np.testing.assert_allclose(scores.numpy()[0, 0, :2, 2:], 0, atol=1e-7)
    np.testing.assert_array_equal(get_mask(out).numpy(), ids != 0)


def test_shapes_configs_and_errors():
    q, v = keras.Input((None, 8)), keras.Input((6, 8))
    assert Attention()([q, v]).shape.as_list() == [None, None, 8]
    mha = MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3, output_shape=(5,),
                             attention_axes=(1,))
    assert mha(q, v).shape.as_list() == [None, None, 5]
    assert [w.shape for w in mha.weights][:2] == [(8, 2, 4), (2, 4)]
    clone = MultiHeadAttention.from_config(mha.get_config())
    assert clone.get_config()["value_dim"] == 3
    x = RNG.normal(size=(2, 3, 4, 8)).astype("float32")
    assert MultiHeadAttention(2, 4, attention_axes=(1, 2))(x, x).shape == (2, 3, 4, 8)
    gated = MultiHeadAttention(2, 4, use_gate=True, sliding_window=1)
    assert gated(x[:, 0], x[:, 0]).shape == (2, 4, 8)
    assert Attention.from_config(Attention(use_scale=True).get_config()).use_scale
    with pytest.raises(ValueError, match="list of inputs"):
        Attention()(np.ones((2, 3, 4), "float32"))
    with pytest.raises(ValueError, match="positive integer"):
        MultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match="score_mode"):
        Attention(score_mode="cosine")
    with pytest.raises(ValueError, match="both a query and a value"):
        MultiHeadAttention(2, 2)(np.ones((1, 2, 2), "float32"))


def test_dropout_only_in_training():
    layer = MultiHeadAttention(2, 4, dropout=0.5, seed=1)
    x = RNG.normal(size=(2, 5, 8)).astype("float32")
    np.testing.assert_array_equal(layer(x, x).numpy(), layer(x, x).numpy())
    assert not np.allclose(layer(x, x, training=True).numpy(), layer(x, x).numpy())
