"""Forward values of the recurrent, wrapper, normalization, embedding, merging, attention and
preprocessing layers against Keras 3, on the weights and inputs recorded by
tests/keras/fixtures/rnn_make_reference.py (rnn_reference.json)."""

import json
import pathlib

import numpy as np
import pytest

from dtf import keras
from dtf.keras import layers as core
from dtf.keras.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from dtf.keras.layers.embedding import Embedding
from dtf.keras.layers.merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
)
from dtf.keras.layers.normalization import (
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
)
from dtf.keras.layers.preprocessing import Normalization, Rescaling
from dtf.keras.layers.rnn import GRU, LSTM, SimpleRNN
from dtf.keras.layers.rnn_conv_lstm import ConvLSTM2D
from dtf.keras.layers.wrappers import Bidirectional, TimeDistributed

FIXTURE = pathlib.Path(__file__).parents[1] / "fixtures" / "rnn_reference.json"
CASES = json.loads(FIXTURE.read_text())["cases"]
ATOL = 2e-5


def arr(value, dtype=np.float32):
    return np.asarray(value, dtype=dtype)


def assert_outputs(got, want, atol=ATOL):
    got = list(got) if isinstance(got, (list, tuple)) else [got]
    want = want if isinstance(want[0], list) and len(got) > 1 else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), np.asarray(w), atol=atol, rtol=1e-4)


_RECURRENT = {
    "lstm": lambda **k: LSTM(3, **k),
    "gru": lambda **k: GRU(3, **k),
    "gru_reset_before": lambda **k: GRU(3, reset_after=False, **k),
    "simple_rnn": lambda **k: SimpleRNN(3, **k),
    "simple_rnn_relu": lambda **k: SimpleRNN(3, activation="relu", **k),
    "lstm_hard_sigmoid": lambda **k: LSTM(3, recurrent_activation="hard_sigmoid", **k),
}
RECURRENT_CASES = sorted(k for k in CASES if k.split("/")[0] in _RECURRENT and
                         "initial_state" not in k)


def _run_layer(layer, case, inputs=None, **call_kwargs):
    x = arr(case["inputs"]) if inputs is None else inputs
    layer(x, **call_kwargs)
    if case.get("weights"):
        layer.set_weights([arr(w) for w in case["weights"]])
    return layer(x, **call_kwargs)


@pytest.mark.parametrize("name", RECURRENT_CASES)
def test_recurrent_layers_match_keras(name):
    case = CASES[name]
    layer = _RECURRENT[name.split("/")[0]](**case["config"])
    kwargs = {}
    if "call" in case:
        kwargs["mask"] = np.asarray(case["call"]["mask"])
    assert_outputs(_run_layer(layer, case, **kwargs), case["outputs"])


def test_lstm_initial_state_with_leading_masked_steps():
    case = CASES["lstm/initial_state/masked"]
    layer = LSTM(3, **case["config"])
    kwargs = {"mask": np.asarray(case["call"]["mask"]),
              "initial_state": [arr(s) for s in case["call"]["initial_state"]]}
    assert_outputs(_run_layer(layer, case, **kwargs), case["outputs"])


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul"])
def test_bidirectional_masked(merge_mode):
    case = CASES[f"bidirectional/{merge_mode}/masked"]
    layer = Bidirectional(LSTM(3, return_sequences=True), merge_mode=merge_mode)
    out = _run_layer(layer, case, mask=np.asarray(case["call"]["mask"]))
    assert_outputs(out, case["outputs"])


def test_bidirectional_gru_states():
    case = CASES["bidirectional/gru_state"]
    assert_outputs(_run_layer(Bidirectional(GRU(3, return_state=True)), case), case["outputs"])


def test_time_distributed_dense():
    case = CASES["time_distributed/dense"]
    layer = TimeDistributed(core.Dense(2, activation="tanh"))
    assert_outputs(_run_layer(layer, case), case["outputs"])


def test_embedding():
    case = CASES["embedding"]
    out = _run_layer(Embedding(8, 3), case, inputs=np.asarray(case["inputs"], np.int32))
    assert_outputs(out, case["outputs"])


@pytest.mark.parametrize("name,make", [
    ("embedding_mask_zero/lstm", lambda: LSTM(2)),
    ("embedding_mask_zero/gru_sequences", lambda: GRU(2, return_sequences=True)),
])
def test_embedding_mask_zero_feeds_the_recurrent_layer(name, make):
    case = CASES[name]
    ids = np.asarray(case["inputs"], np.int32)
    model = keras.Sequential([Embedding(8, 3, mask_zero=True), make()])
    model(ids)
    model.set_weights([arr(w) for w in case["weights"]])
    assert_outputs(model(ids), case["outputs"])


def test_batch_normalization_training_then_inference():
    case = CASES["batch_norm"]
    x = arr(case["inputs"])
    bn = BatchNormalization()
    bn(x)
    bn.set_weights([arr(w) for w in case["weights"]])
    y_train = bn(x, training=True)
    after = [v.numpy() for v in bn.weights]
    y_infer = bn(x, training=False)
    assert_outputs([y_train, y_infer], case["outputs"])
    for got, want in zip(after, case["after"]):
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=1e-5)


@pytest.mark.parametrize("name,make,kwargs", [
    ("batch_norm/axis1", lambda: BatchNormalization(axis=1, momentum=0.9, epsilon=1e-2), {}),
    ("batch_norm/masked", lambda: BatchNormalization(), {"mask": "mask"}),
])
def test_batch_normalization_statistics(name, make, kwargs):
    case = CASES[name]
    x = arr(case["inputs"])
    bn = make()
    bn(x)
    call = {"mask": np.asarray(case["mask"])} if kwargs else {}
    assert_outputs(bn(x, training=True, **call), case["outputs"][0])
    for got, want in zip(bn.weights, case["after"]):
        np.testing.assert_allclose(got.numpy(), want, atol=ATOL, rtol=1e-5)


@pytest.mark.parametrize("name,make", [
    ("layer_norm", lambda: LayerNormalization()),
    ("layer_norm/axes12", lambda: LayerNormalization(axis=[1, 2])),
    ("layer_norm/rms", lambda: LayerNormalization(rms_scaling=True)),
    ("group_norm", lambda: GroupNormalization(groups=2)),
    ("group_norm/instance", lambda: GroupNormalization(groups=-1)),
])
def test_normalization_layers(name, make):
    case = CASES[name]
    assert_outputs(_run_layer(make(), case), case["outputs"])


def test_normalization_adapt():
    case = CASES["normalization/adapt"]
    norm = Normalization()
    norm.adapt(arr(case["adapt"]))
    for got, want in zip(norm.weights, case["after"]):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5, rtol=1e-5)
    assert_outputs(norm(arr(case["inputs"])), case["outputs"])


def test_normalization_invert_and_rescaling():
    case = CASES["normalization/invert"]
    norm = Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25], invert=True)
    assert_outputs(norm(arr(case["inputs"])), case["outputs"])
    case = CASES["rescaling"]
    assert_outputs(Rescaling(1 / 127.5, offset=-1)(arr(case["inputs"])), case["outputs"])


@pytest.mark.parametrize("name,make", [
    ("merge/add", Add), ("merge/subtract", Subtract), ("merge/multiply", Multiply),
    ("merge/average", Average), ("merge/maximum", Maximum), ("merge/minimum", Minimum),
    ("merge/concatenate", Concatenate), ("merge/dot_axes2", lambda: Dot(axes=2)),
    ("merge/dot_normalize", lambda: Dot(axes=1, normalize=True)),
    ("merge/concatenate_axis1", lambda: Concatenate(axis=1)),
])
def test_merging_layers(name, make):
    case = CASES[name]
    inputs = [arr(x) for x in case["inputs"]]
    assert_outputs(make()(inputs), case["outputs"])


@pytest.mark.parametrize("name,make", [
    ("attention/masked", lambda: Attention()),
    ("attention/scale/masked", lambda: Attention(use_scale=True)),
    ("attention/concat/masked", lambda: Attention(score_mode="concat", use_scale=True)),
    ("additive_attention/masked", lambda: AdditiveAttention()),
])
def test_attention_layers_with_masks(name, make):
    case = CASES[name]
    q, v = (arr(x) for x in case["inputs"])
    layer = make()
    layer([q, v])
    if case["weights"]:
        layer.set_weights([arr(w) for w in case["weights"]])
    masks = [np.asarray(m) for m in case["masks"]]
    assert_outputs(layer([q, v], mask=masks, return_attention_scores=True), case["outputs"])


def test_attention_causal():
    case = CASES["attention/causal"]
    q, v = (arr(x) for x in case["inputs"])
    assert_outputs(Attention()([q, v], use_causal_mask=True), case["outputs"])


def _mha(case, layer, **kwargs):
    q, v = (arr(x) for x in case["inputs"])
    layer(q, v)
    layer.set_weights([arr(w) for w in case["weights"]])
    return layer(q, v, **kwargs)


def test_multi_head_attention():
    assert_outputs(_mha(CASES["mha"], MultiHeadAttention(2, 3), return_attention_scores=True),
                   CASES["mha"]["outputs"])
    assert_outputs(_mha(CASES["mha/fused_path"], MultiHeadAttention(2, 3)),
                   CASES["mha/fused_path"]["outputs"])
    case = CASES["mha/attention_mask"]
    out = _mha(case, MultiHeadAttention(2, 3), return_attention_scores=True,
               attention_mask=np.asarray(case["attention_mask"]))
    assert_outputs(out, case["outputs"])


def test_multi_head_attention_causal_value_dim_output_shape():
    case = CASES["mha/causal_self"]
    layer = MultiHeadAttention(num_heads=2, key_dim=2, value_dim=3, output_shape=5)
    out = _mha(case, layer, use_causal_mask=True, return_attention_scores=True)
    assert_outputs(out, case["outputs"])


@pytest.mark.parametrize("name", sorted(k for k in CASES if k.startswith("conv_lstm2d/")))
def test_conv_lstm2d(name):
    case = CASES[name]
    layer = ConvLSTM2D(3, (3, 3), **case["config"])
    kwargs = {"mask": np.asarray(case["call"]["mask"])} if "call" in case else {}
    assert_outputs(_run_layer(layer, case, **kwargs), case["outputs"])
