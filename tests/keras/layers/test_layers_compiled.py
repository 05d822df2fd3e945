"""Every built-in layer inside a dtf.function: the compiled forward pass and the gradients of
its weights equal eager execution (float32 round-off), and state updates (BatchNormalization's
statistics, stateful RNNs) happen on every call."""

import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.keras import layers

RNG = np.random.default_rng(11)

# name -> (layer factory, input shape(s), call kwargs)
LAYERS = {
    "dense": (lambda: layers.Dense(4, activation="relu"), (3, 5), {}),
    "dense_rank3": (lambda: layers.Dense(2, activation="tanh"), (2, 3, 4), {}),
    "activation": (lambda: layers.Activation("softmax"), (2, 4), {}),
    "dropout_inference": (lambda: layers.Dropout(0.5), (3, 3), {"training": False}),
    "flatten": (lambda: layers.Flatten(), (2, 3, 2), {}),
    "reshape": (lambda: layers.Reshape((3, -1)), (2, 6), {}),
    "permute": (lambda: layers.Permute((2, 1)), (2, 3, 4), {}),
    "repeat_vector": (lambda: layers.RepeatVector(3), (2, 4), {}),
    "conv1d": (lambda: layers.Conv1D(3, 2, padding="same"), (2, 5, 3), {}),
    "conv2d": (lambda: layers.Conv2D(3, 3, strides=2, activation="relu"), (2, 7, 7, 2), {}),
    "conv3d": (lambda: layers.Conv3D(2, 2), (1, 4, 4, 4, 2), {}),
    "conv2d_transpose": (lambda: layers.Conv2DTranspose(2, 3, strides=2), (1, 4, 4, 3), {}),
    "separable_conv2d": (lambda: layers.SeparableConv2D(4, 3), (2, 6, 6, 2), {}),
    "depthwise_conv2d": (lambda: layers.DepthwiseConv2D(3, depth_multiplier=2),
                         (2, 6, 6, 2), {}),
    "max_pool2d": (lambda: layers.MaxPooling2D(2), (2, 6, 6, 3), {}),
    "avg_pool1d": (lambda: layers.AveragePooling1D(2, padding="same"), (2, 5, 3), {}),
    "global_avg_pool2d": (lambda: layers.GlobalAveragePooling2D(), (2, 4, 4, 3), {}),
    "global_max_pool1d": (lambda: layers.GlobalMaxPooling1D(), (2, 5, 3), {}),
    "up_sampling2d": (lambda: layers.UpSampling2D(2), (1, 3, 3, 2), {}),
    "zero_padding2d": (lambda: layers.ZeroPadding2D(1), (1, 3, 3, 2), {}),
    "cropping1d": (lambda: layers.Cropping1D((1, 1)), (2, 5, 3), {}),
    "batch_norm_inference": (lambda: layers.BatchNormalization(), (4, 3), {"training": False}),
    "batch_norm_training": (lambda: layers.BatchNormalization(), (4, 3), {"training": True}),
    "layer_norm": (lambda: layers.LayerNormalization(), (3, 4), {}),
    "group_norm": (lambda: layers.GroupNormalization(groups=2), (2, 3, 4), {}),
    "embedding": (lambda: layers.Embedding(10, 4), "ids", {}),
    "simple_rnn": (lambda: layers.SimpleRNN(4, return_sequences=True), (2, 5, 3), {}),
    "lstm": (lambda: layers.LSTM(4), (2, 5, 3), {}),
    "gru": (lambda: layers.GRU(4, return_state=True), (2, 5, 3), {}),
    "bidirectional": (lambda: layers.Bidirectional(layers.LSTM(3)), (2, 4, 3), {}),
    "conv_lstm2d": (lambda: layers.ConvLSTM2D(2, 3, padding="same"), (1, 3, 5, 5, 2), {}),
    "time_distributed": (lambda: layers.TimeDistributed(layers.Dense(2)), (2, 3, 4), {}),
    "multi_head_attention": (lambda: layers.MultiHeadAttention(2, 3), "qv", {}),
    "attention": (lambda: layers.Attention(), "qv_list", {}),
    "add": (lambda: layers.Add(), "pair", {}),
    "concatenate": (lambda: layers.Concatenate(), "pair", {}),
    "dot": (lambda: layers.Dot(axes=1), "pair", {}),
    "rescaling": (lambda: layers.Rescaling(0.5, offset=1.0), (2, 3), {}),
    "normalization": (lambda: layers.Normalization(mean=1.0, variance=4.0), (2, 3), {}),
}


def _inputs(shape):
    if shape == "ids":
        return [dtf.constant(RNG.integers(0, 10, (2, 5)))]
    if shape == "qv":
        return [dtf.constant(RNG.normal(size=(2, 4, 3)).astype("float32")),
                dtf.constant(RNG.normal(size=(2, 5, 3)).astype("float32"))]
    if shape in ("pair", "qv_list"):
        return [[dtf.constant(RNG.normal(size=(2, 3)).astype("float32")),
                 dtf.constant(RNG.normal(size=(2, 3)).astype("float32"))]]
    return [dtf.constant(RNG.normal(size=shape).astype("float32"))]


def _forward_and_gradients(layer, inputs, kwargs):
    with dtf.GradientTape() as tape:
        out = layer(*inputs, **kwargs)
        flat = dtf.nest.flatten(out)
        scalar = dtf.add_n([dtf.reduce_sum(o * o) for o in flat])
    grads = tape.gradient(scalar, layer.trainable_weights)
    return flat, grads


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_in_a_compiled_function_equals_eager(name):
    make, shape, kwargs = LAYERS[name]
    inputs = _inputs(shape)
    layer = make()
    layer(*inputs, **kwargs)  # build eagerly, then compare from the same weights
    if name == "batch_norm_training":
        layer.moving_mean.assign([0.5, 0.5, 0.5])
    state = [w.numpy().copy() for w in layer.non_trainable_weights]
    eager_out, eager_grads = _forward_and_gradients(layer, inputs, kwargs)
    eager_state = [w.numpy().copy() for w in layer.non_trainable_weights]
    for w, value in zip(layer.non_trainable_weights, state):
        w.assign(value)
    compiled = dtf.function(lambda *xs: _forward_and_gradients(layer, xs, kwargs))
    out, grads = compiled(*inputs)
    assert len(out) == len(eager_out)
    for a, b in zip(out, eager_out):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-5, atol=1e-6)
    for a, b in zip(grads, eager_grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-4, atol=1e-5)
    for w, value in zip(layer.non_trainable_weights, eager_state):
        np.testing.assert_allclose(w.numpy(), value, rtol=1e-6, atol=1e-7)


def test_dropout_in_training_draws_a_new_mask_each_call():
    layer = layers.Dropout(0.5)
    f = dtf.function(lambda x: layer(x, training=True))
    x = dtf.ones([64, 8])
    a, b = f(x).numpy(), f(x).numpy()
    assert set(np.unique(a)) <= {0.0, 2.0} and not np.array_equal(a, b)
    assert f.experimental_get_tracing_count() == 1


def test_stateful_rnn_carries_its_state_across_compiled_calls():
    layer = layers.SimpleRNN(3, stateful=True)
    x = dtf.constant(RNG.normal(size=(2, 4, 3)).astype("float32"))
    eager = keras.layers.SimpleRNN(3, stateful=True)
    eager(x)
    layer(x)
    layer.set_weights(eager.get_weights())
    for s in layer.states:
        s.assign(dtf.zeros_like(s))
    for s in eager.states:
        s.assign(dtf.zeros_like(s))
    f = dtf.function(lambda x: layer(x))
    for _ in range(3):
        np.testing.assert_allclose(f(x).numpy(), eager(x).numpy(), rtol=1e-5, atol=1e-6)
