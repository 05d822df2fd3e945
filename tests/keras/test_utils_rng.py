"""keras.utils.set_random_seed seeds Python, NumPy and dtf together."""

import random

import numpy as np
import pytest

import dtf
from dtf import keras


def test_set_random_seed_repeats_every_generator():
    keras.utils.set_random_seed(3)
    first = (random.random(), np.random.rand(), dtf.random.normal([2]).numpy())
    keras.utils.set_random_seed(3)
    again = (random.random(), np.random.rand(), dtf.random.normal([2]).numpy())
    assert first[0] == again[0] and first[1] == again[1]
    np.testing.assert_array_equal(first[2], again[2])
    with pytest.raises(ValueError, match="integer"):
        keras.utils.set_random_seed(1.5)
