"""Cases for the primitives of `dtf.keras.metrics` (the fused sparse categorical accuracy,
see `dtf/keras/metrics/_fused.py`)."""

from __future__ import annotations

import numpy as np

import dtf
from dtf.keras.metrics._fused import sparse_categorical_matches
from dtf.testing.op_cases import OpCase, rand

_SCORES = rand(5, 4, seed=201)
_LABELS = np.array([0, 1, 2, 3, 1], np.int32)


def _matches(scores, labels, dtype=np.float32):
    return (np.argmax(scores, axis=-1) == labels).astype(dtype)


CASES = [
    OpCase("sparse_categorical_matches/int32",
           lambda x, z: sparse_categorical_matches(x, z),
           [_SCORES, _LABELS], _matches, grad=False),
    OpCase("sparse_categorical_matches/uint8_float64_result",
           lambda x, z: sparse_categorical_matches(x, z, dtype=dtf.float64),
           [_SCORES, _LABELS.astype(np.uint8)], lambda x, z: _matches(x, z, np.float64),
           grad=False),
    OpCase("sparse_categorical_matches/float_labels_sequence",
           lambda x, z: sparse_categorical_matches(x, z),
           [rand(2, 3, 4, seed=202), np.array([[0.0, 1.0, 3.0], [2.0, 2.0, 0.5]])],
           _matches, grad=False),
    OpCase("sparse_categorical_matches/ties_take_the_first",
           lambda x, z: sparse_categorical_matches(x, z),
           [np.array([[1.0, 1.0, 0.0], [0.0, 2.0, 2.0]]), np.array([1, 1], np.int64)],
           lambda x, z: np.array([0.0, 1.0], np.float32), grad=False),
    OpCase("sparse_categorical_matches/reduced",
           lambda x, z: sparse_categorical_matches(x, z, reduce=True),
           [_SCORES, _LABELS], lambda x, z: np.float32(_matches(x, z).sum()), grad=False),
]
