"""Cases for the primitives of `dtf.keras.losses` (the fused sparse cross-entropy and its
gradient, see `dtf/keras/losses/_fused.py`)."""

from __future__ import annotations

import numpy as np

from dtf.keras.losses._fused import sparse_xent_reduce
from dtf.testing.op_cases import OpCase, rand


def _picked_log_probs(x, z):
    s = x - np.max(x, axis=-1, keepdims=True)
    log_probs = s - np.log(np.sum(np.exp(s), axis=-1, keepdims=True))
    labels = z.reshape(x.shape[:-1]).astype(np.int64)
    return np.take_along_axis(log_probs, labels[..., None], -1)[..., 0]


def _reference(divisor):
    return lambda x, z: np.asarray(-np.sum(_picked_log_probs(x, z)) / divisor, dtype=x.dtype)


CASES = [
    OpCase("sparse_xent_reduce/mean",
           lambda x, z: sparse_xent_reduce(x, z, 4.0),
           [rand(4, 5, low=-3, high=3, seed=101), np.array([0, 4, 2, 1], np.int32)],
           _reference(4.0)),
    OpCase("sparse_xent_reduce/sum_uint8_labels_with_trailing_1",
           lambda x, z: sparse_xent_reduce(x, z, 1.0),
           [rand(3, 4, low=-2, high=2, seed=102), np.array([[3], [0], [1]], np.uint8)],
           _reference(1.0)),
    OpCase("sparse_xent_reduce/sequence_int64",
           lambda x, z: sparse_xent_reduce(x, z, 6.0),
           [rand(2, 3, 4, low=-2, high=2, seed=103), np.array([[0, 3, 1], [2, 2, 0]], np.int64)],
           _reference(6.0)),
    OpCase("sparse_xent_reduce/large_logits",
           lambda x, z: sparse_xent_reduce(x, z, 2.0),
           [np.array([[1000.0, -1000.0, 0.0], [5.0, 5.0, 5.0]]), np.array([1, 2], np.int32)],
           _reference(2.0), grad=False),
    OpCase("sparse_xent_reduce/float32",
           lambda x, z: sparse_xent_reduce(x, z, 3.0),
           [rand(3, 5, dtype=np.float32, seed=104), np.array([4, 0, 2], np.int32)],
           _reference(3.0), grad=False, atol=1e-6, rtol=1e-5),
]
