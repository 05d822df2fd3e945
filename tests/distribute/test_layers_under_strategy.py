"""The layer library under ParameterServerStrategy: convolution, pooling, normalization,
embedding with masking, recurrent and attention layers train in sync mode across workers exactly
as in one process; BatchNormalization's moving statistics come back from the workers (averaged
by shard size, so the moving mean is exact)."""

import numpy as np
import pytest

import dtf
from dtf import keras

RNG = np.random.default_rng(3)


def _images():
    x = RNG.normal(size=(24, 8, 8, 1)).astype("float32")
    return x, RNG.integers(0, 3, size=24)


def _tokens():
    x = RNG.integers(1, 20, size=(24, 7))
    x[:, 5:] = 0  # padding, masked by mask_zero
    return x, RNG.integers(0, 3, size=24)


MODELS = {
    "cnn": (lambda: [keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                     keras.layers.MaxPooling2D(), keras.layers.SeparableConv2D(4, 2),
                     keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)], _images),
    "lstm": (lambda: [keras.Input((7,)), keras.layers.Embedding(20, 5, mask_zero=True),
                      keras.layers.LSTM(6), keras.layers.Dense(3)], _tokens),
    "gru_attention": (lambda: [keras.Input((7,)), keras.layers.Embedding(20, 8),
                               keras.layers.Bidirectional(keras.layers.GRU(4,
                                                                           return_sequences=True)),
                               keras.layers.LayerNormalization(),
                               keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(3)],
                      _tokens),
}


def _fit(layers, data, strategy=None, epochs=2):
    x, y = data

    def build():
        dtf.random.set_seed(2)
        model = keras.Sequential(layers())
        model.compile(keras.optimizers.Adam(0.01),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    if strategy is None:
        model = build()
    else:
        with strategy.scope():
            model = build()
    model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)
    return model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_layers_train_across_workers_as_in_one_process(name):
    layers, make_data = MODELS[name]
    data = make_data()
    reference = _fit(layers, data)
    strategy = dtf.distribute.ParameterServerStrategy(num_workers=2, cluster="local")
    model = _fit(layers, data, strategy)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_batch_normalization_statistics_come_back_from_the_workers():
    x, y = _images()
    layers = lambda: [keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3),
                      keras.layers.BatchNormalization(), keras.layers.Flatten(),
                      keras.layers.Dense(3)]
    one = _fit(layers, (x, y), dtf.distribute.ParameterServerStrategy(1, cluster="local"),
               epochs=1)
    reference = _fit(layers, (x, y), epochs=1)
    for a, b in zip(one.get_weights(), reference.get_weights()):  # one worker: exact
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    two = _fit(layers, (x, y), dtf.distribute.ParameterServerStrategy(2, cluster="local"),
               epochs=1)
    bn = next(layer for layer in two.layers if isinstance(layer, keras.layers.BatchNormalization))
    ref_bn = next(layer for layer in reference.layers
                  if isinstance(layer, keras.layers.BatchNormalization))
    # each worker normalizes its own shard (as TensorFlow's replicas do), so training differs a
    # little; the statistics moved from their initial values, to near the one-process ones
    assert not np.allclose(bn.moving_mean.numpy(), 0.0)
    np.testing.assert_allclose(bn.moving_mean.numpy(), ref_bn.moving_mean.numpy(), atol=0.05)
    np.testing.assert_allclose(bn.moving_variance.numpy(), ref_bn.moving_variance.numpy(),
                               atol=0.1)
