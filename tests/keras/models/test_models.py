"""Models: Sequential, the Functional API (DAGs, shared layers, nested models, dtf ops on
symbolic tensors, symbolic losses, configs), subclassed models, summary."""

import json

import numpy as np
import numpy.testing as npt
import pytest

import dtf
from dtf import keras
from dtf.keras import layers


def _x(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# -- Sequential ---------------------------------------------------------------------------------
def test_sequential_builds_lazily_or_eagerly():
    lazy = keras.Sequential([layers.Dense(4), layers.Dense(2)])
    assert lazy.weights == [] and not lazy.built
    assert lazy(_x(3, 5)).shape == (3, 2)
    assert len(lazy.weights) == 4 and lazy.output_shape == (None, 2)

    eager = keras.Sequential([keras.Input(shape=(5,)), layers.Dense(4), layers.Dense(2)])
    assert len(eager.weights) == 4 and [type(x) for x in eager.layers] == [layers.Dense] * 2
    keras2 = keras.Sequential([layers.Dense(4, input_shape=(5,)), layers.Dense(2)])
    assert len(keras2.weights) == 4

    added = keras.Sequential()
    added.add(keras.Input(shape=(5,)))
    added.add(layers.Dense(4))
    assert len(added.weights) == 2
    added.add(layers.Dense(1))
    assert added.output_shape == (None, 1)
    popped = added.pop()
    assert isinstance(popped, layers.Dense) and added.output_shape == (None, 4)


def test_sequential_rejects_non_layers_and_duplicate_names():
    model = keras.Sequential([layers.Dense(1, name="a")])
    with pytest.raises(TypeError, match="Only instances of `keras.Layer`"):
        model.add("dense")
    with pytest.raises(ValueError, match="unique names.*'a'"):
        model.add(layers.Dense(1, name="a"))


def test_sequential_equals_applying_its_layers_in_order():
    model = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3)])
    x = _x(4, 6)
    y = model(x)
    h = np.maximum(x @ model.layers[0].kernel.numpy() + model.layers[0].bias.numpy(), 0)
    npt.assert_allclose(y.numpy(), h @ model.layers[1].kernel.numpy()
                        + model.layers[1].bias.numpy(), rtol=1e-5, atol=1e-6)


def test_sequential_passes_training_to_dropout():
    model = keras.Sequential([layers.Dropout(0.5)])
    x = np.ones((100, 10), "float32")
    npt.assert_array_equal(model(x).numpy(), x)
    dropped = model(x, training=True).numpy()
    assert set(np.unique(dropped)) <= {0.0, 2.0} and 0.3 < (dropped == 0).mean() < 0.7


# -- Functional -------------------------------------------------------------------------------
def test_functional_dag_with_several_inputs_outputs_and_a_shared_layer():
    a = keras.Input(shape=(4,), name="a")
    b = keras.Input(shape=(4,), name="b")
    shared = layers.Dense(3, name="shared")
    ha, hb = shared(a), shared(b)
    merged = dtf.concat([ha, hb], axis=-1)
    out1 = layers.Dense(1, name="score")(merged)
    out2 = dtf.reduce_sum(ha * hb, axis=-1, keepdims=True)
    model = keras.Model([a, b], [out1, out2], name="siamese")
    assert len(model.weights) == 4  # the shared layer counts once
    assert [layer.name for layer in model.layers] == ["a", "b", "shared", "score"]
    xa, xb = _x(2, 4), _x(2, 4, seed=1)
    y1, y2 = model([xa, xb])
    k, c = shared.kernel.numpy(), shared.bias.numpy()
    pa, pb = xa @ k + c, xb @ k + c
    npt.assert_allclose(y2.numpy(), (pa * pb).sum(-1, keepdims=True), rtol=1e-5)
    expected1 = np.concatenate([pa, pb], -1) @ model.get_layer("score").kernel.numpy()
    npt.assert_allclose(y1.numpy(), expected1 + model.get_layer("score").bias.numpy(),
                        rtol=1e-5, atol=1e-6)


def test_functional_dict_inputs_and_outputs():
    x = keras.Input(shape=(2,), name="x")
    y = keras.Input(shape=(2,), name="y")
    model = keras.Model({"x": x, "y": y}, {"sum": x + y, "diff": x - y})
    out = model({"y": np.ones((1, 2), "float32"), "x": np.full((1, 2), 3.0, "float32")})
    npt.assert_array_equal(out["sum"].numpy(), [[4.0, 4.0]])
    npt.assert_array_equal(out["diff"].numpy(), [[2.0, 2.0]])
    with pytest.raises(ValueError, match=r"missing inputs \['y'\]"):
        model({"x": np.ones((1, 2), "float32")})


def test_nested_models_and_weights_before_data():
    inner_in = keras.Input(shape=(3,))
    inner = keras.Model(inner_in, layers.Dense(2)(inner_in), name="inner")
    outer_in = keras.Input(shape=(3,))
    outer = keras.Model(outer_in, layers.Dense(1)(inner(outer_in)))
    assert len(outer.weights) == 4
    assert outer.get_layer("inner") is inner
    assert outer(_x(5, 3)).shape == (5, 1)


def test_graph_disconnected_error_names_the_missing_input():
    a = keras.Input(shape=(2,))
    b = keras.Input(shape=(2,))
    out = layers.Dense(1)(a + b)
    with pytest.raises(ValueError, match="Graph disconnected"):
        keras.Model(a, out)


def test_functional_input_shape_checked():
    inputs = keras.Input(shape=(16,))
    model = keras.Model(inputs, layers.Dense(2)(inputs), name="checked")
    with pytest.raises(ValueError, match=r'layer "checked".*expected shape=\(None, 16\)'):
        model(np.ones((2, 8), "float32"))


def test_symbolic_add_loss_is_recomputed_on_every_call():
    inputs = keras.Input(shape=(3,))
    hidden = layers.Dense(2, kernel_initializer="ones", bias_initializer="zeros")(inputs)
    model = keras.Model(inputs, hidden)
    model.add_loss(dtf.reduce_mean(hidden))
    model(np.ones((1, 3), "float32"))
    assert len(model.losses) == 1 and float(model.losses[0]) == 3.0
    model(np.full((1, 3), 2.0, "float32"))
    assert len(model.losses) == 1 and float(model.losses[0]) == 6.0


def test_symbolic_tensors_refuse_values():
    x = keras.Input(shape=(2,))
    with pytest.raises(TypeError, match="symbolic"):
        x.numpy()
    with pytest.raises(TypeError, match="dtf.cond"):
        bool(x)


def test_functional_config_round_trip_gives_the_same_graph():
    inputs = keras.Input(shape=(4,), name="in")
    h = layers.Dense(3, activation="relu")(inputs)
    out = layers.Dense(2)(h) * 2.0 + dtf.reduce_mean(h, axis=-1, keepdims=True)
    model = keras.Model(inputs, out, name="cfg")
    model.add_loss(dtf.reduce_sum(h))
    config = json.loads(json.dumps(model.get_config()))
    clone = keras.Model.from_config(config)
    clone.set_weights(model.get_weights())
    x = _x(3, 4)
    npt.assert_allclose(clone(x).numpy(), model(x).numpy(), rtol=1e-6)
    npt.assert_allclose(float(clone.losses[0]), float(model.losses[0]), rtol=1e-6)

    seq = keras.Sequential([keras.Input((4,)), layers.Dense(2, activation="tanh")])
    seq_clone = keras.Sequential.from_config(json.loads(json.dumps(seq.get_config())))
    seq_clone.set_weights(seq.get_weights())
    npt.assert_allclose(seq_clone(x).numpy(), seq(x).numpy(), rtol=1e-6)


def test_subclassing_model_with_inputs_outputs_makes_it_functional():
    class Wrapped(keras.Model):
        def __init__(self):
            inputs = keras.Input(shape=(2,))
            super().__init__(inputs, layers.Dense(1)(inputs))

    model = Wrapped()
    assert len(model.weights) == 2 and model(_x(3, 2)).shape == (3, 1)


# -- subclassed models ------------------------------------------------------------------------
class MLP(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(8, activation="relu")
        self.dropout = layers.Dropout(0.5)
        self.head = layers.Dense(2)

    def call(self, x, training=None):
        return self.head(self.dropout(self.hidden(x), training=training))


def test_subclassed_model_tracks_layers_and_builds_with_build():
    model = MLP()
    model.build((None, 5))
    assert len(model.weights) == 4
    assert model.layers == [model.hidden, model.dropout, model.head]
    assert model(_x(2, 5)).shape == (2, 2)
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")


# -- summary ----------------------------------------------------------------------------------
def test_summary_of_the_seed_mlp_matches_keras_layout():
    model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(32, name="d1"),
                              layers.Dense(32, name="d2"), layers.Dense(10, name="d3")],
                             name="mlp")
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[0] == 'Model: "mlp"'
    assert lines[2].rstrip() == " Layer (type)                Output Shape              Param #"
    assert lines[4].rstrip() == " d1 (Dense)                  (None, 32)                25120"
    assert lines[-4:] == ["Total params: 26,506", "Trainable params: 26,506",
                          "Non-trainable params: 0", "_" * 65]


def test_summary_of_a_branching_model_shows_connections_and_unbuilt_model_raises():
    a = keras.Input(shape=(2,), name="a")
    b = keras.Input(shape=(2,), name="b")
    out = layers.Dense(1, name="join")(layers.Concatenate()([a, b])) if hasattr(
        layers, "Concatenate") else layers.Dense(1, name="join")(dtf.concat([a, b], -1))
    model = keras.Model([a, b], out)
    text = []
    model.summary(print_fn=text.append)
    assert any("Connected to" in line for line in text)
    with pytest.raises(ValueError, match="has not yet been built"):
        keras.Sequential([layers.Dense(1)]).summary()


def test_symbolic_build_skips_state_updates_and_casts_symbolic_inputs():
    class WithMetric(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)
            self.activity = keras.metrics.Mean(name="activity")

        def call(self, x):
            y = self.dense(x)
            self.activity.update_state(dtf.reduce_mean(y))
            return y

    model = WithMetric()
    model.build((None, 3))  # the metric sees no symbolic update
    assert len(model.weights) == 2 and float(model.activity.result()) == 0.0
    model(np.ones((2, 3), "float32"))
    assert float(model.activity.count.numpy()) == 1.0
    seq = keras.Sequential([keras.Input((4,)), layers.Dense(2, dtype="float64")])
    assert seq.layers[0].kernel.dtype == dtf.float64
    assert seq(np.ones((1, 4))).dtype == dtf.float64
    from dtf.compile.symbolic import placeholder

    with pytest.raises(TypeError, match="Cannot assign a symbolic tensor"):
        dtf.Variable(1.0).assign(placeholder(()))
