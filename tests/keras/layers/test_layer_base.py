"""The Layer base class: weight creation and tracking, build, names, losses, metrics,
training propagation, input checks, config."""

import numpy as np
import numpy.testing as npt
import pytest

import dtf
from dtf import keras


class Linear(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="random_normal", trainable=True, name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, inputs):
        return dtf.matmul(inputs, self.w) + self.b


def test_build_runs_once_on_first_call_with_the_input_shape():
    seen = []

    class Probe(Linear):
        def build(self, input_shape):
            seen.append(tuple(input_shape))
            super().build(input_shape)

    layer = Probe(4)
    assert not layer.built and layer.weights == []
    layer(dtf.ones((2, 3)))
    layer(dtf.ones((5, 3)))
    assert seen == [(2, 3)]
    assert layer.built
    assert [tuple(w.shape) for w in layer.weights] == [(3, 4), (4,)]


def test_variables_layers_and_containers_are_tracked_in_creation_order():
    class Block(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.scale = dtf.Variable(1.0)
            self.frozen = dtf.Variable(2.0, trainable=False)
            self.stack = [Linear(2), Linear(3)]
            self.table = {"a": Linear(4)}
            self.pair = (dtf.Variable(3.0), Linear(5))

        def call(self, x):
            for layer in self.stack:
                x = layer(x)
            return self.pair[1](self.table["a"](x)) * self.scale

    block = Block()
    block(dtf.ones((1, 2)))
    assert block.layers == [block.stack[0], block.stack[1], block.table["a"], block.pair[1]]
    assert len(block.weights) == 3 + 4 * 2
    assert block.weights[0] is block.scale and block.weights[1] is block.pair[0]
    assert block.weights[2] is block.frozen  # own trainable first, then own non-trainable
    assert block.non_trainable_weights == [block.frozen]
    assert len(block.trainable_weights) == 10
    # items appended later are tracked too
    block.stack.append(Linear(1))
    assert block.layers[-1] is block.stack[-1]
    removed = block.stack.pop()
    assert all(layer is not removed for layer in block.layers)


def test_unique_names_per_class_in_snake_case():
    keras.backend.clear_session()

    class MLPWithDropout(keras.layers.Layer):
        pass

    assert keras.layers.Dense(1).name == "dense"
    assert keras.layers.Dense(1).name == "dense_1"
    assert MLPWithDropout().name == "mlp_with_dropout"
    assert keras.layers.Dense(1, name="head").name == "head"
    assert keras.layers.Dense(1).weights == []


def test_weights_of_sublayers_named_after_layer():
    layer = keras.layers.Dense(3, name="proj")
    layer(dtf.ones((1, 2)))
    assert [w.name for w in layer.weights] == ["proj/kernel:0", "proj/bias:0"]
    assert layer.kernel.path == "proj/kernel"


def test_freezing_a_layer_freezes_its_sublayers():
    outer = keras.Sequential([keras.layers.Dense(2), keras.layers.Dense(1)])
    outer(dtf.ones((1, 3)))
    outer.trainable = False
    assert outer.trainable_weights == []
    assert len(outer.non_trainable_weights) == 4
    assert not outer.layers[0].trainable
    outer.layers[1].trainable = True
    assert outer.trainable_weights == []  # the frozen parent still hides them
    assert len(outer.layers[1].trainable_weights) == 2


def test_add_loss_cleared_each_outermost_call_and_collected_recursively():
    class Reg(keras.layers.Layer):
        def call(self, x):
            self.add_loss(dtf.reduce_sum(x))
            return x

    class Outer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.a = Reg()
            self.b = Reg()

        def call(self, x):
            return self.b(self.a(x))

    outer = Outer()
    outer(dtf.ones((2, 2)))
    assert len(outer.losses) == 2
    outer(dtf.ones((2, 2)))
    assert len(outer.losses) == 2  # no accumulation
    npt.assert_allclose([float(v) for v in outer.losses], [4.0, 4.0])
    assert len(outer.a.losses) == 1


def test_callable_losses_and_weight_regularizers_are_evaluated_when_read():
    layer = keras.layers.Dense(2, kernel_regularizer=keras.regularizers.l2(0.5),
                               kernel_initializer="ones")
    layer(dtf.ones((1, 3)))
    losses = layer.losses
    assert len(losses) == 1
    npt.assert_allclose(float(losses[0]), 0.5 * 6.0)
    v = dtf.Variable(3.0)
    layer.add_loss(lambda: v * 2.0)
    layer(dtf.ones((1, 3)))
    assert len(layer.losses) == 2 and float(layer.losses[1]) == 6.0
    v.assign(1.0)
    assert float(layer.losses[1]) == 2.0


def test_activity_regularizer_adds_a_loss_per_call():
    layer = keras.layers.Dense(2, activity_regularizer="l2", kernel_initializer="ones",
                               bias_initializer="zeros")
    layer(dtf.ones((1, 3)))
    npt.assert_allclose(float(layer.losses[0]), 0.01 * 18.0, rtol=1e-6)


def test_add_metric_and_reset_metrics():
    class Probe(keras.layers.Layer):
        def call(self, x):
            self.add_metric(dtf.reduce_mean(x), name="mean_x")
            return x

    layer = Probe()
    layer(dtf.constant([1.0, 3.0]))
    layer(dtf.constant([5.0, 7.0]))
    (metric,) = layer.metrics
    assert metric.name == "mean_x"
    assert float(metric.result()) == 4.0
    layer.reset_metrics()
    assert float(metric.result()) == 0.0


def test_training_is_passed_down_implicitly():
    seen = []

    class Probe(keras.layers.Layer):
        def call(self, x, training=None):
            seen.append(training)
            return x

    class Outer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.probe = Probe()

        def call(self, x):  # takes no `training` itself
            return self.probe(x)

    outer = Outer()
    outer(dtf.ones(1), training=True)
    outer(dtf.ones(1), training=False)
    outer(dtf.ones(1))
    assert seen == [True, False, None]
    # an explicit value on the inner call wins
    class Explicit(Outer):
        def call(self, x):
            return self.probe(x, training=False)

    Explicit()(dtf.ones(1), training=True)
    assert seen[-1] is False


def test_numpy_inputs_are_converted_and_floats_cast_to_the_layer_dtype():
    layer = keras.layers.Dense(2)
    y = layer(np.ones((1, 3)))  # float64 data, float32 layer
    assert y.dtype == dtf.float32
    layer64 = keras.layers.Dense(2, dtype="float64")
    assert layer64(np.ones((1, 3))).dtype == dtf.float64
    assert layer64.kernel.dtype == dtf.float64


def test_wrong_input_rank_or_last_dim_raises_naming_the_layer_and_keeps_weights():
    layer = keras.layers.Dense(4, name="dense_probe")
    layer(dtf.ones((2, 3)))
    before = [w.numpy().copy() for w in layer.weights]
    with pytest.raises(ValueError, match=r'layer "dense_probe".*axis -1.*value 3.*\(2, 5\)'):
        layer(dtf.ones((2, 5)))
    with pytest.raises(ValueError, match=r'layer "dense_probe".*min_ndim=2.*ndim=1'):
        layer(dtf.ones((3,)))
    for b, w in zip(before, layer.weights):
        npt.assert_array_equal(b, w.numpy())


def test_hypernetwork_pattern_assigning_a_tensor_over_a_weight():
    layer = keras.layers.Dense(2, use_bias=False)
    layer(dtf.ones((1, 3)))
    assert len(layer.weights) == 1
    layer.kernel = dtf.ones((3, 2)) * 2.0
    assert layer.weights == []  # the Variable is no longer the layer's
    npt.assert_allclose(layer(dtf.ones((1, 3))).numpy(), [[6.0, 6.0]])
    # marked built without weights: the layer uses what it is given
    fresh = keras.layers.Dense(2)
    fresh.built = True
    fresh.kernel, fresh.bias = dtf.ones((3, 2)), dtf.zeros(2)
    npt.assert_allclose(fresh(dtf.ones((1, 3))).numpy(), [[3.0, 3.0]])


def test_add_weight_keras2_positional_name_and_keras3_keywords():
    layer = keras.layers.Layer()
    a = layer.add_weight("count", (), "int64", "zeros", None, False)
    b = layer.add_weight(shape=(2,), initializer="ones", name="scale")
    assert a.dtype == dtf.int64 and not a.trainable
    npt.assert_array_equal(b.numpy(), [1.0, 1.0])
    assert layer.weights == [b, a]
    with pytest.raises(ValueError, match="fully defined"):
        layer.add_weight(shape=(None, 2))


def test_get_config_and_from_config_round_trip_for_plain_argument_layers():
    class Scale(keras.layers.Layer):
        def __init__(self, factor=2.0, axes=(1,), **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

    layer = Scale(3.0, name="s")
    config = layer.get_config()
    assert config["factor"] == 3.0 and config["axes"] == (1,) and config["name"] == "s"
    clone = Scale.from_config(config)
    assert clone.factor == 3.0 and clone.name == "s"

    class Opaque(keras.layers.Layer):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

    with pytest.raises(NotImplementedError, match="override get_config"):
        Opaque(lambda x: x).get_config()


def test_set_weights_checks_every_shape_before_assigning():
    layer = keras.layers.Dense(2)
    layer(dtf.ones((1, 3)))
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"weight shape \(2,\).*\(3,\)"):
        layer.set_weights([np.zeros((3, 2)), np.zeros(3)])
    npt.assert_array_equal(layer.get_weights()[0], before[0])
    layer.set_weights([np.zeros((3, 2)), np.ones(2)])
    npt.assert_array_equal(layer.bias.numpy(), [1.0, 1.0])


def test_unknown_constructor_arguments_raise():
    with pytest.raises(TypeError, match="Unrecognized keyword arguments passed to Dense"):
        keras.layers.Dense(2, unitz=3)


def test_gradients_through_a_custom_layer_reach_its_weights():
    layer = Linear(3)
    x = dtf.constant(np.random.default_rng(0).normal(size=(4, 2)).astype("float32"))
    with dtf.GradientTape() as tape:
        loss = dtf.reduce_sum(layer(x) ** 2)
    gw, gb = tape.gradient(loss, layer.trainable_weights)
    y = x.numpy() @ layer.w.numpy() + layer.b.numpy()
    npt.assert_allclose(gw.numpy(), x.numpy().T @ (2 * y), rtol=1e-5)
    npt.assert_allclose(gb.numpy(), (2 * y).sum(0), rtol=1e-5)


def test_clear_session_restarts_layer_names():
    keras.layers.Dense(1)
    keras.backend.clear_session()
    assert keras.layers.Dense(1).name == "dense"
    assert keras.layers.Dense(1).name == "dense_1"


def _double(x):
    return x * 2.0


def test_lambda_layer_config_round_trip():
    named = keras.layers.Lambda(_double)
    clone = keras.layers.Lambda.from_config(named.get_config(),
                                            custom_objects={"_double": _double})
    npt.assert_array_equal(clone(dtf.ones(2)).numpy(), [2.0, 2.0])
    anonymous = keras.layers.Lambda(lambda x: dtf.square(x) + 1.0)
    config = anonymous.get_config()
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.layers.Lambda.from_config(config)
    loaded = keras.layers.Lambda.from_config(config, safe_mode=False)
    npt.assert_array_equal(loaded(dtf.constant([2.0])).numpy(), [5.0])
