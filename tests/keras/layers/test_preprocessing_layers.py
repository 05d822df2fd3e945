"""Normalization (adapt from arrays, Datasets, iterables; given statistics; invert) and
Rescaling."""

import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.keras.layers.preprocessing import Normalization, Rescaling

RNG = np.random.default_rng(2)
DATA = RNG.normal(loc=4.0, scale=3.0, size=(40, 3)).astype("float32")


def test_adapt_from_array_dataset_and_iterable_agree():
    by_array = Normalization()
    by_array.adapt(DATA)
    np.testing.assert_allclose(by_array.adapt_mean.numpy(), DATA.mean(0), rtol=1e-5)
    np.testing.assert_allclose(by_array.adapt_variance.numpy(), DATA.var(0), rtol=1e-5)
    by_dataset = Normalization()
    by_dataset.adapt(dtf.data.Dataset.from_tensor_slices(DATA).batch(7))
    by_batches = Normalization()
    by_batches.adapt([DATA[:13], DATA[13:]])
    for other in (by_dataset, by_batches):
        np.testing.assert_allclose(other.adapt_mean.numpy(), DATA.mean(0), rtol=1e-5)
        np.testing.assert_allclose(other.adapt_variance.numpy(), DATA.var(0), rtol=1e-4)
    y = by_array(DATA).numpy()
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(0), 1, atol=1e-4)


def test_axes_invert_and_weights_round_trip():
    images = RNG.normal(size=(8, 4, 4, 2)).astype("float32")
    norm = Normalization(axis=(-1,))
    norm.adapt(images)
    assert norm.adapt_mean.shape == (2,)
    scalar = Normalization(axis=None)
    scalar.adapt(images)
    assert scalar.adapt_mean.shape == ()
    back = Normalization(mean=norm.adapt_mean.numpy(), variance=norm.adapt_variance.numpy(),
                         invert=True)
    np.testing.assert_allclose(back(norm(images)).numpy(), images, atol=1e-5)
    fresh = Normalization()
    fresh.build((None, 4, 4, 2))
    fresh.set_weights(norm.get_weights())
    np.testing.assert_allclose(fresh(images).numpy(), norm(images).numpy())


def test_in_a_model_and_errors():
    norm = Normalization()
    norm.adapt(DATA)
    model = keras.Sequential([keras.Input((3,)), norm, keras.layers.Dense(1)])
    assert model(DATA).shape == (40, 1)
    clone = Normalization.from_config(Normalization(mean=[1.0], variance=[2.0]).get_config())
    assert clone.input_mean == [1.0]
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        Normalization(mean=1.0)
    with pytest.raises(ValueError, match="before using it"):
        Normalization().call(dtf.constant(DATA))
    with pytest.raises(ValueError, match="incompatible shape"):
        norm.adapt(np.ones((4, 5), "float32"))


def test_rescaling():
    out = Rescaling(1 / 255.0)(np.array([[0, 255]], "uint8"))
    np.testing.assert_allclose(out.numpy(), [[0.0, 1.0]])
    per_channel = Rescaling([1.0, 2.0], offset=[0.0, -1.0])(np.ones((1, 2), "float32"))
    np.testing.assert_allclose(per_channel.numpy(), [[1.0, 1.0]])
    assert Rescaling.from_config(Rescaling(0.5, offset=1.0).get_config()).offset == 1.0
