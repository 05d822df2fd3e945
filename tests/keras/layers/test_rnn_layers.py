"""Recurrent layers and wrappers: gradients (float64, inputs and weights, fused and
step-by-step paths), masking, stateful, go_backwards, initial states, symbolic use, configs,
errors, and an LSTM that learns."""

import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.keras import layers as core
from dtf.keras.layers.embedding import Embedding
from dtf.keras.layers.rnn import GRU, LSTM, RNN, SimpleRNN
from dtf.keras.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from dtf.keras.layers.rnn_conv_lstm import ConvLSTM2D
from dtf.keras.layers.rnn_masking import get_mask
from dtf.keras.layers.wrappers import Bidirectional, TimeDistributed
from dtf.testing.gradcheck import check_gradients

RNG = np.random.default_rng(11)
MASK = np.array([[True, True, False, True], [False, True, True, True]])


def check_layer_gradients(layer, x, second_order=True, call_kwargs=None, eps=1e-6, tol=1e-6):
    """d(layer(x))/dx against central differences (first and second order), and d/d(weights)
    (first order)."""
    call_kwargs = call_kwargs or {}

    def first(out):
        return out[0] if isinstance(out, (list, tuple)) else out

    check_gradients(lambda t: layer(t, **call_kwargs), [x], second_order=second_order)
    cotangent = dtf.constant(RNG.normal(size=first(layer(dtf.constant(x), **call_kwargs)).shape))

    def objective():
        return float(dtf.reduce_sum(first(layer(dtf.constant(x), **call_kwargs)) * cotangent))

    with dtf.GradientTape() as tape:
        scalar = dtf.reduce_sum(first(layer(dtf.constant(x), **call_kwargs)) * cotangent)
    weights = layer.trainable_weights
    analytic = tape.gradient(scalar, weights)
    for w, g in zip(weights, analytic):
        base = w.numpy().copy()
        numeric = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            for sign in (1, -1):
                shifted = base.copy()
                shifted[i] += sign * eps
                w.assign(shifted)
                numeric[i] += sign * objective() / (2 * eps)
        w.assign(base)
        np.testing.assert_allclose(g.numpy(), numeric, atol=tol, rtol=1e-5,
                                   err_msg=f"gradient of {w.name}")


def _stepwise(cell):
    """The same cell, forced onto the step-by-step path."""
    object.__setattr__(cell, "_fused_sequence", lambda *args: None)
    return cell


F64 = {"dtype": "float64"}
GRADIENT_LAYERS = {
    "lstm": lambda: LSTM(3, return_sequences=True, **F64),
    "lstm_last": lambda: LSTM(3, **F64),
    "lstm_backwards": lambda: LSTM(2, go_backwards=True, return_sequences=True, **F64),
    "gru": lambda: GRU(3, return_sequences=True, **F64),
    "gru_reset_before": lambda: GRU(2, reset_after=False, return_sequences=True, **F64),
    "simple_rnn": lambda: SimpleRNN(3, return_sequences=True, **F64),
    "lstm_hard_sigmoid_stepwise": lambda: LSTM(2, recurrent_activation="hard_sigmoid",
                                               **F64),
    "rnn_stacked_cells": lambda: RNN([LSTMCell(2, **F64), GRUCell(2, **F64)],
                                     return_sequences=True, **F64),
    "rnn_stepwise_lstm_cell": lambda: RNN(_stepwise(LSTMCell(2, **F64)), **F64),
    "bidirectional": lambda: Bidirectional(GRU(2, return_sequences=True, **F64), **F64),
    "time_distributed": lambda: TimeDistributed(core.Dense(2, activation="tanh", **F64),
                                                **F64),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_LAYERS))
def test_layer_gradients(name):
    # hard_sigmoid has kinks: stay on one side of them with small inputs
    scale = 0.3 if "hard_sigmoid" in name else 1.0
    check_layer_gradients(GRADIENT_LAYERS[name](), RNG.normal(size=(2, 4, 3)) * scale,
                          second_order=name not in ("bidirectional", "rnn_stacked_cells"))


@pytest.mark.parametrize("make", [lambda: LSTM(3, **F64), lambda: GRU(3, **F64),
                                  lambda: SimpleRNN(3, **F64)])
def test_masked_gradients(make):
    check_layer_gradients(make(), RNG.normal(size=(2, 4, 3)),
                          call_kwargs={"mask": dtf.constant(MASK)})


@pytest.mark.parametrize("cls,cell", [(LSTM, LSTMCell), (GRU, GRUCell),
                                      (SimpleRNN, SimpleRNNCell)])
@pytest.mark.parametrize("masked", [False, True])
def test_fused_path_equals_step_by_step(cls, cell, masked):
    layer = cls(4, return_sequences=True, return_state=True, dtype="float64")
    x = RNG.normal(size=(3, 5, 2))
    kwargs = {"mask": MASK[[0, 1, 0], :].repeat(2, axis=1)[:, :5]} if masked else {}
    fused = layer(x, **kwargs)
    stepwise = RNN(_stepwise(layer.cell), return_sequences=True, return_state=True,
                   dtype="float64")(x, **kwargs)
    for a, b in zip(fused, stepwise):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)


def test_conv_lstm2d_gradients_and_symbolic_shapes():
    layer = ConvLSTM2D(2, (3, 3), padding="same", return_sequences=True, dtype="float64")
    check_layer_gradients(layer, RNG.normal(size=(1, 2, 4, 4, 1)), second_order=False)
    inputs = keras.Input((None, 8, 8, 3))
    out, _, c = ConvLSTM2D(4, 3, strides=2, return_state=True)(inputs)
    assert out.shape.as_list() == [None, 3, 3, 4] and c.shape.as_list() == [None, 3, 3, 4]
    model = keras.Model(inputs, out)
    assert model(np.ones((2, 5, 8, 8, 3), "float32")).shape == (2, 3, 3, 4)
    with pytest.raises(ValueError, match="larger than the input"):
        ConvLSTM2D(2, 5)(np.ones((1, 2, 4, 4, 1), "float32"))
    with pytest.raises(ValueError, match="expected ndim=5|rows, cols"):
        ConvLSTM2D(2, 3)(np.ones((1, 2, 4, 4), "float32"))


def test_masked_steps_keep_state_and_repeat_output():
    layer = LSTM(3, return_sequences=True, return_state=True)
    x = RNG.normal(size=(2, 4, 2)).astype("float32")
    seq, h, _ = layer(x, mask=MASK)
    seq = seq.numpy()
    # sample 0, step 2 masked: output repeats step 1
    np.testing.assert_array_equal(seq[0, 2], seq[0, 1])
    # sample 1, step 0 masked: output zeros
    np.testing.assert_array_equal(seq[1, 0], np.zeros(3))
    # the result equals running the unmasked steps only
    only = LSTM(3)
    only(x)
    only.set_weights(layer.get_weights())
    np.testing.assert_allclose(only(x[:1, [0, 1, 3]]).numpy()[0], h.numpy()[0], atol=1e-6)


def test_zero_output_for_mask():
    layer = RNN(LSTMCell(3), return_sequences=True, zero_output_for_mask=True)
    seq = layer(RNG.normal(size=(2, 4, 2)).astype("float32"), mask=MASK).numpy()
    np.testing.assert_array_equal(seq[0, 2], np.zeros(3))


def test_mask_propagates_from_embedding_through_sequential_and_functional():
    ids = np.array([[3, 1, 4, 0, 0], [2, 7, 0, 0, 0]])
    emb = Embedding(8, 4, mask_zero=True)
    lstm = LSTM(3)
    model = keras.Sequential([emb, lstm])
    out = model(ids).numpy()
    manual = lstm(emb(ids[:, :3]), mask=ids[:, :3] != 0).numpy()
    np.testing.assert_allclose(out[0], manual[0], atol=1e-6)
    np.testing.assert_allclose(out[1], lstm(emb(ids[1:, :2])).numpy()[0], atol=1e-6)
    inputs = keras.Input((None,), dtype="int32")
    seq = LSTM(3, return_sequences=True)(Embedding(8, 4, mask_zero=True)(inputs))
    functional = keras.Model(inputs, seq)
    result = functional(ids)
    assert result.shape == (2, 5, 3)
    np.testing.assert_array_equal(result.numpy()[1, 2], result.numpy()[1, 1])
    assert get_mask(Embedding(8, 4, mask_zero=True)(dtf.constant(ids))) is not None
    ret_seq = LSTM(3, return_sequences=True)
    y = ret_seq(emb(ids))
    np.testing.assert_array_equal(get_mask(y).numpy(), ids != 0)
    assert get_mask(LSTM(3)(emb(ids))) is None


def test_go_backwards_returns_the_reversed_sequence():
    layer = GRU(3, return_sequences=True, go_backwards=True)
    x = RNG.normal(size=(2, 4, 2)).astype("float32")
    forward = GRU(3, return_sequences=True)
    forward(x)
    layer(x)
    forward.set_weights(layer.get_weights())
    np.testing.assert_allclose(layer(x).numpy(), forward(x[:, ::-1]).numpy(), atol=1e-6)


def test_stateful_carries_states_and_resets():
    layer = LSTM(3, stateful=True, return_state=True)
    x = RNG.normal(size=(2, 6, 2)).astype("float32")
    _, h_full, _ = layer(x)
    layer.reset_states()
    layer(x[:, :3])
    _, h_split, _ = layer(x[:, 3:])
    np.testing.assert_allclose(h_split.numpy(), h_full.numpy(), atol=1e-6)
    assert len(layer.weights) == 3  # states are not weights
    layer.reset_states()
    assert not np.any(layer.states[0].numpy())
    layer.reset_states([np.ones((2, 3)), np.zeros((2, 3))])
    np.testing.assert_array_equal(layer.states[0].numpy(), np.ones((2, 3)))
    with pytest.raises(ValueError, match="batch size"):
        layer(RNG.normal(size=(3, 2, 2)).astype("float32"))


def test_stateful_needs_a_static_batch_size():
    with pytest.raises(ValueError, match="batch size must be static"):
        LSTM(3, stateful=True)(keras.Input((4, 2)))
    model = keras.Sequential([keras.Input((4, 2), batch_size=5), GRU(3, stateful=True)])
    assert model(np.zeros((5, 4, 2), "float32")).shape == (5, 3)


def test_initial_state_and_wrong_count():
    layer = LSTM(3, return_state=True)
    x = RNG.normal(size=(2, 4, 2)).astype("float32")
    _, h, _ = layer(x)
    _, h2, _ = layer(x[:, 2:], initial_state=[layer(x[:, :2])[1], layer(x[:, :2])[2]])
    np.testing.assert_allclose(h2.numpy(), h.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="expects 2 initial state"):
        layer(x, initial_state=[np.zeros((2, 3), "float32")])


def test_symbolic_inputs_and_unknown_time():
    inputs = keras.Input((None, 3))
    seq, _, c = LSTM(4, return_sequences=True, return_state=True)(inputs)
    assert seq.shape.as_list() == [None, None, 4] and c.shape.as_list() == [None, 4]
    stepwise = RNN(_stepwise(SimpleRNNCell(2)), return_sequences=True)(inputs)
    assert stepwise.shape.as_list() == [None, None, 2]
    model = keras.Model(inputs, [seq, stepwise])
    out = model(np.ones((2, 5, 3), "float32"))
    assert out[0].shape == (2, 5, 4) and out[1].shape == (2, 5, 2)
    assert LSTM(4).compute_output_shape((None, 7, 3)) == (None, 4)
    assert GRU(4, return_state=True, return_sequences=True).compute_output_shape(
        (2, 7, 3)) == [(2, 7, 4), (2, 4)]


class MinimalRNNCell(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        output = dtf.matmul(inputs, self.kernel) + dtf.matmul(states[0], self.recurrent_kernel)
        return output, [output]


def test_custom_cell_in_rnn():
    layer = RNN(MinimalRNNCell(4), return_sequences=True)
    x = RNG.normal(size=(2, 5, 3)).astype("float32")
    out = layer(x).numpy()
    k, rk = (w.numpy() for w in layer.weights)
    h = np.zeros((2, 4), "float32")
    for t in range(5):
        h = x[:, t] @ k + h @ rk
        np.testing.assert_allclose(out[:, t], h, atol=1e-5)
    stacked = RNN([MinimalRNNCell(4), MinimalRNNCell(2)])
    assert stacked(x).shape == (2, 2)
    assert isinstance(stacked.cell, StackedRNNCells)


def test_dropout_in_training_only():
    layer = LSTM(4, dropout=0.5, recurrent_dropout=0.5, seed=1)
    x = RNG.normal(size=(8, 5, 3)).astype("float32")
    a, b = layer(x).numpy(), layer(x).numpy()
    np.testing.assert_array_equal(a, b)
    trained = layer(x, training=True).numpy()
    assert not np.allclose(trained, a)
    gru = GRU(4, dropout=0.3)
    assert not np.allclose(gru(x, training=True).numpy(), gru(x).numpy())


def test_weights_layout_and_initialization():
    layer = LSTM(5)
    layer(np.zeros((1, 2, 3), "float32"))
    k, rk, b = layer.weights
    assert k.shape == (3, 20) and rk.shape == (5, 20) and b.shape == (20,)
    np.testing.assert_array_equal(b.numpy(), np.r_[np.zeros(5), np.ones(5), np.zeros(10)])
    q = rk.numpy()
    np.testing.assert_allclose(q @ q.T, np.eye(5), atol=1e-5)  # orthogonal rows
    gru = GRU(5)
    gru(np.zeros((1, 2, 3), "float32"))
    assert gru.weights[2].shape == (2, 15)
    assert GRU(5, reset_after=False).cell.reset_after is False


@pytest.mark.parametrize("make", [
    lambda: LSTM(3, return_sequences=True, go_backwards=True, dropout=0.1, unroll=False),
    lambda: GRU(2, reset_after=False, return_state=True, stateful=False),
    lambda: SimpleRNN(4, activation="relu", use_bias=False),
    lambda: RNN(LSTMCell(3), return_sequences=True, zero_output_for_mask=True),
    lambda: RNN([LSTMCell(3), SimpleRNNCell(2)]),
    lambda: Bidirectional(LSTM(3, return_sequences=True), merge_mode="sum"),
    lambda: TimeDistributed(core.Dense(3)),
])
def test_config_round_trip(make):
    layer = make()
    x = RNG.normal(size=(2, 4, 3)).astype("float32")
    out = layer(x)
    clone = type(layer).from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    again = clone(x)
    for a, b in zip(out if isinstance(out, list) else [out],
                    again if isinstance(again, list) else [again]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    config, clone_config = layer.get_config(), clone.get_config()
    config.pop("name"), clone_config.pop("name")
    assert _without_names(clone_config) == _without_names(config)


def _without_names(config):
    """A config with the (unique, so different) names of nested layers removed."""
    if isinstance(config, dict):
        return {k: _without_names(v) for k, v in config.items() if k != "name"}
    if isinstance(config, list):
        return [_without_names(v) for v in config]
    return config


def test_keras_properties_and_config_keys():
    layer = LSTM(3, recurrent_activation="tanh", unit_forget_bias=False)
    assert layer.units == 3 and layer.unit_forget_bias is False
    config = layer.get_config()
    assert config["recurrent_activation"] == "tanh" and "cell" not in config
    assert config["recurrent_initializer"]["class_name"] == "Orthogonal"


def test_bad_inputs_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r'"lstm" expects inputs of shape \(batch, time, '
                                         r'features\), got shape \(2, 3\)'):
        LSTM(3, name="lstm")(np.zeros((2, 3), "float32"))
    layer = GRU(3, name="gru")
    layer(np.zeros((2, 4, 3), "float32"))
    with pytest.raises(ValueError, match=r'"gru".*axis -1.*value 3'):
        layer(np.zeros((2, 4, 5), "float32"))
    with pytest.raises(ValueError, match="positive integer"):
        LSTMCell(0)
    with pytest.raises(ValueError, match="mask"):
        LSTM(3)(np.zeros((2, 4, 3), "float32"), mask=np.ones((2, 5), bool))
    with pytest.raises(ValueError, match="state_size"):
        RNN(core.Dense(3))


def test_bidirectional_states_and_weights():
    bi = Bidirectional(LSTM(3, return_state=True), merge_mode=None)
    x = RNG.normal(size=(2, 4, 2)).astype("float32")
    out = bi(x)
    assert len(out) == 6 and out[0].shape == (2, 3)
    assert bi.forward_layer.name.startswith("forward_") and bi.backward_layer.go_backwards
    assert len(bi.weights) == 6
    np.testing.assert_allclose(out[1].numpy(), bi.backward_layer(x)[0].numpy(), atol=1e-6)
    assert bi.compute_output_shape((2, 4, 2))[0] == (2, 3)


def test_time_distributed_shapes_and_masks():
    td = TimeDistributed(core.Dense(5))
    assert td(np.ones((2, 3, 4), "float32")).shape == (2, 3, 5)
    assert td.compute_output_shape((None, 3, 4)) == (None, 3, 5)
    inputs = keras.Input((None, 4))
    assert td(inputs).shape.as_list() == [None, None, 5]
    emb = Embedding(9, 4, mask_zero=True)
    y = TimeDistributed(core.Dense(2))(emb(np.array([[1, 0, 2]])))
    np.testing.assert_array_equal(get_mask(y).numpy(), [[True, False, True]])
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        TimeDistributed(core.Dense(2))(np.ones((2, 3), "float32"))


def test_lstm_learns_to_sum_a_sequence():
    """Regression: predict the sum of a sequence of numbers; an LSTM gets the error well below
    the variance of the target within a short fit."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(512, 8, 1)).astype("float32")
    y = x.sum(axis=1)
    dtf.random.set_seed(0)
    model = keras.Sequential([keras.Input((8, 1)), LSTM(16), core.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    history = model.fit(x, y, epochs=12, batch_size=32, verbose=0)
    loss = history.history["loss"]
    assert loss[-1] < 0.05 * float(np.var(y)), loss
    test_x = rng.uniform(-1, 1, size=(64, 8, 1)).astype("float32")
    mse = float(np.mean((model.predict(test_x, verbose=0) - test_x.sum(axis=1)) ** 2))
    assert mse < 0.1 * float(np.var(y))
