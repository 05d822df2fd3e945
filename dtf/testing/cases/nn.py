"""Cases for dtf.nn (activations, softmax, losses, bias_add, l2_normalize, moments, dropout)
and the random primitives that take tensors (shuffle, categorical).

Gradient inputs stay away from kinks (relu at 0 and 6, leaky_relu at 0, elu/selu at 0), where
central differences do not hold. Random cases reset the seed inside `fn` so that every call of
a gradient check sees the same mask.
"""

from __future__ import annotations

import math

import numpy as np

import dtf
from dtf.ops.fused_ops import fused_dense
from dtf.ops.registry import get
from dtf.testing.op_cases import OpCase, positive, rand

_erf = np.vectorize(math.erf)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _away_from(x, points, margin=0.05):
    """Moves entries within `margin` of a kink to `margin` past it."""
    x = x.copy()
    for p in points:
        near = np.abs(x - p) < margin
        x[near] = p + np.where(x[near] >= p, margin, -margin)
    return x


def _softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis=-1):
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


_ACTS = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0),
         "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh}


def _seeded(fn, seed=7):
    """fn with the global seed reset first: the same random numbers on every call."""

    def call(*args):
        dtf.random.set_seed(seed)
        return fn(*args)

    return call


_X = _away_from(rand(3, 4, low=-3, high=3), [0.0])
_X6 = _away_from(rand(3, 4, low=-2, high=8, seed=11), [0.0, 6.0])
_LOGITS = rand(3, 5, low=-4, high=4, seed=12)
_LABELS_SOFT = _softmax(rand(3, 5, seed=13) * 3)

CASES = [
    # activations
    OpCase("relu", dtf.nn.relu, [_X], lambda x: np.maximum(x, 0)),
    OpCase("relu/int32", dtf.nn.relu, [np.array([-3, 0, 5], np.int32)],
           lambda x: np.maximum(x, 0), grad=False),
    OpCase("relu/float32", dtf.nn.relu, [rand(2, 3, dtype=np.float32)],
           lambda x: np.maximum(x, 0), grad=False),
    OpCase("relu6", dtf.nn.relu6, [_X6], lambda x: np.minimum(np.maximum(x, 0), 6)),
    OpCase("relu6/int32", dtf.nn.relu6, [np.array([-3, 2, 9], np.int32)],
           lambda x: np.minimum(np.maximum(x, 0), 6), grad=False),
    OpCase("elu", dtf.nn.elu, [_X], lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
    OpCase("elu/large_no_overflow", dtf.nn.elu, [np.array([-800.0, -1.0, 1.0, 800.0])],
           lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
    OpCase("selu", dtf.nn.selu, [_X],
           lambda x: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0))),
           rtol=1e-6),
    OpCase("gelu/exact", dtf.nn.gelu, [_X], lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
           rtol=1e-6),
    OpCase("gelu/approximate", lambda x: dtf.nn.gelu(x, approximate=True), [_X],
           lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
           rtol=1e-6),
    OpCase("gelu/float32", dtf.nn.gelu, [rand(2, 3, dtype=np.float32)],
           lambda x: (0.5 * x * (1 + _erf(x / math.sqrt(2)))).astype(np.float32), grad=False),
    OpCase("softplus", dtf.nn.softplus, [rand(3, 4, low=-5, high=5)],
           lambda x: np.logaddexp(0, x)),
    OpCase("softplus/extremes", dtf.nn.softplus, [np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])],
           lambda x: np.logaddexp(0, x)),
    OpCase("softplus/float32", dtf.nn.softplus, [rand(2, 3, dtype=np.float32, low=-50, high=50)],
           lambda x: np.logaddexp(0, x.astype(np.float64)).astype(np.float32), grad=False),
    OpCase("softsign", dtf.nn.softsign, [_X], lambda x: x / (1 + np.abs(x))),
    OpCase("silu", dtf.nn.silu, [_X], lambda x: x * _sigmoid(x)),
    OpCase("silu/beta", lambda x: dtf.nn.silu(x, beta=2.0), [_X], lambda x: x * _sigmoid(2 * x)),
    OpCase("swish", dtf.nn.swish, [_X], lambda x: x * _sigmoid(x)),
    OpCase("leaky_relu", dtf.nn.leaky_relu, [_X], lambda x: np.where(x > 0, x, 0.2 * x)),
    OpCase("leaky_relu/alpha", lambda x: dtf.nn.leaky_relu(x, alpha=0.01), [_X],
           lambda x: np.where(x > 0, x, 0.01 * x)),
    OpCase("leaky_relu/int_gives_float32", dtf.nn.leaky_relu, [np.array([-10, 0, 3], np.int32)],
           lambda x: np.where(x > 0, x, 0.2 * x).astype(np.float32), grad=False),
    OpCase("sigmoid/nn", dtf.nn.sigmoid, [_X], _sigmoid),
    OpCase("tanh/nn", dtf.nn.tanh, [_X], np.tanh),
    # softmax
    OpCase("softmax/last_axis", dtf.nn.softmax, [_LOGITS], _softmax),
    OpCase("softmax/axis0", lambda x: dtf.nn.softmax(x, axis=0), [_LOGITS],
           lambda x: _softmax(x, axis=0)),
    OpCase("softmax/rank3_axis1", lambda x: dtf.nn.softmax(x, axis=-2),
           [rand(2, 3, 4, low=-3, high=3)], lambda x: _softmax(x, axis=1)),
    OpCase("softmax/large_logits", dtf.nn.softmax, [np.array([[1000.0, 1001.0, -1000.0]])],
           _softmax),
    OpCase("softmax/float16", dtf.nn.softmax, [rand(2, 3, dtype=np.float16)],
           lambda x: _softmax(x.astype(np.float32)).astype(np.float16), grad=False, atol=1e-3,
           rtol=1e-3),
    OpCase("softmax/empty", dtf.nn.softmax, [np.zeros((0, 3))], _softmax, grad=False),
    OpCase("log_softmax/last_axis", dtf.nn.log_softmax, [_LOGITS], _log_softmax),
    OpCase("log_softmax/axis0", lambda x: dtf.nn.log_softmax(x, axis=0), [_LOGITS],
           lambda x: _log_softmax(x, axis=0)),
    OpCase("log_softmax/large_logits", dtf.nn.log_softmax,
           [np.array([[1000.0, 1001.0, -1000.0]])], _log_softmax),
    OpCase("log_softmax/float32", dtf.nn.log_softmax, [rand(2, 5, dtype=np.float32)],
           lambda x: _log_softmax(x.astype(np.float64)).astype(np.float32), grad=False),
    # losses
    OpCase("sigmoid_cross_entropy_with_logits",
           lambda z, x: dtf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x),
           [rand(3, 4, low=0, high=1, seed=14), rand(3, 4, low=-5, high=5, seed=15)],
           lambda z, x: np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))),
    OpCase("sigmoid_cross_entropy_with_logits/extremes",
           lambda z, x: dtf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x),
           [np.array([0.0, 1.0, 0.0, 1.0]), np.array([-800.0, -800.0, 800.0, 800.0])],
           lambda z, x: np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))),
    OpCase("softmax_cross_entropy_with_logits",
           lambda z, x: dtf.nn.softmax_cross_entropy_with_logits(labels=z, logits=x),
           [_LABELS_SOFT, _LOGITS], lambda z, x: -np.sum(z * _log_softmax(x), axis=-1)),
    OpCase("softmax_cross_entropy_with_logits/axis0",
           lambda z, x: dtf.nn.softmax_cross_entropy_with_logits(labels=z, logits=x, axis=0),
           [_LABELS_SOFT, _LOGITS], lambda z, x: -np.sum(z * _log_softmax(x, 0), axis=0)),
    OpCase("softmax_cross_entropy_with_logits/broadcast_labels",
           lambda z, x: dtf.nn.softmax_cross_entropy_with_logits(labels=z, logits=x),
           [_LABELS_SOFT[:1], _LOGITS], lambda z, x: -np.sum(z * _log_softmax(x), axis=-1)),
    OpCase("sparse_softmax_cross_entropy_with_logits",
           lambda z, x: dtf.nn.sparse_softmax_cross_entropy_with_logits(labels=z, logits=x),
           [np.array([0, 4, 2], np.int32), _LOGITS],
           lambda z, x: -np.take_along_axis(_log_softmax(x), z[:, None].astype(int), -1)[:, 0]),
    OpCase("sparse_softmax_cross_entropy_with_logits/int64_rank3",
           lambda z, x: dtf.nn.sparse_softmax_cross_entropy_with_logits(labels=z, logits=x),
           [np.array([[0, 3], [1, 2]], np.int64), rand(2, 2, 4, low=-3, high=3, seed=16)],
           lambda z, x: -np.take_along_axis(_log_softmax(x), z[..., None], -1)[..., 0]),
    OpCase("sparse_softmax_cross_entropy_with_logits/large_logits",
           lambda z, x: dtf.nn.sparse_softmax_cross_entropy_with_logits(labels=z, logits=x),
           [np.array([1, 2], np.int32), np.array([[1000.0, -1000.0, 0.0], [5.0, 5.0, 5.0]])],
           lambda z, x: -np.take_along_axis(_log_softmax(x), z[:, None].astype(int), -1)[:, 0]),
    # bias_add, l2_normalize, moments
    OpCase("bias_add/NHWC", dtf.nn.bias_add, [rand(2, 3, 4), rand(4, seed=17)],
           lambda v, b: v + b),
    OpCase("bias_add/NCHW", lambda v, b: dtf.nn.bias_add(v, b, data_format="NCHW"),
           [rand(2, 3, 2, 2), rand(3, seed=18)], lambda v, b: v + b[:, None, None]),
    OpCase("bias_add/NC_2d", lambda v, b: dtf.nn.bias_add(v, b, data_format="NC"),
           [rand(2, 3), rand(3, seed=19)], lambda v, b: v + b),
    OpCase("l2_normalize/all_axes", dtf.nn.l2_normalize, [rand(3, 4)],
           lambda x: x / np.sqrt(np.sum(x * x))),
    OpCase("l2_normalize/axis1", lambda x: dtf.nn.l2_normalize(x, axis=1), [rand(3, 4)],
           lambda x: x / np.sqrt(np.sum(x * x, axis=1, keepdims=True))),
    OpCase("l2_normalize/epsilon_floor", lambda x: dtf.nn.l2_normalize(x, axis=-1, epsilon=1.0),
           [rand(2, 3) * 0.1], lambda x: x, grad_inputs=(0,)),
    OpCase("moments/axis0", lambda x: dtf.nn.moments(x, axes=[0]), [rand(4, 3)],
           lambda x: (np.mean(x, 0), np.var(x, 0))),
    OpCase("moments/keepdims", lambda x: dtf.nn.moments(x, axes=[0, 2], keepdims=True),
           [rand(2, 3, 4)], lambda x: (np.mean(x, (0, 2), keepdims=True),
                                       np.var(x, (0, 2), keepdims=True))),
    OpCase("moments/negative_axis", lambda x: dtf.nn.moments(x, axes=-1), [rand(3, 5)],
           lambda x: (np.mean(x, -1), np.var(x, -1))),
    OpCase("moments/float16", lambda x: dtf.nn.moments(x, axes=[0]),
           [rand(8, 2, dtype=np.float16)],
           lambda x: (np.mean(x.astype(np.float32), 0).astype(np.float16),
                      np.var(x.astype(np.float32), 0).astype(np.float16)),
           grad=False, atol=1e-3, rtol=1e-3),
    OpCase("l2_loss", dtf.nn.l2_loss, [rand(3, 4)], lambda x: np.sum(x * x) / 2),
    OpCase("embedding_lookup", dtf.nn.embedding_lookup,
           [rand(5, 3), np.array([[4, 0], [2, 4]], np.int32)], lambda p, i: p[i]),
    OpCase("embedding_lookup/max_norm", lambda p, i: dtf.nn.embedding_lookup(p, i, max_norm=1.0),
           [rand(5, 3) * 2, np.array([1, 3, 1], np.int64)],
           lambda p, i: p[i] / np.maximum(np.linalg.norm(p[i], axis=-1, keepdims=True), 1.0)),
    # dropout: the gradient flows to the kept elements only, scaled like them
    OpCase("dropout", _seeded(lambda x: dtf.nn.dropout(x, rate=0.5, seed=3)), [rand(4, 5)]),
    OpCase("dropout/noise_shape", _seeded(lambda x: dtf.nn.dropout(x, 0.3, noise_shape=[4, 1])),
           [rand(4, 5)]),
    OpCase("dropout/noise_shape_none", _seeded(
        lambda x: dtf.nn.dropout(x, 0.3, noise_shape=[None, 1, 3])), [rand(2, 4, 3)]),
    OpCase("dropout/float32", _seeded(lambda x: dtf.nn.dropout(x, 0.2)),
           [positive(3, 4, dtype=np.float32)], grad=False),
    # random primitives that take tensors (values checked in tests/ops/test_random.py)
    OpCase("random_shuffle", lambda x: dtf.random.shuffle(x, seed=1),
           [np.arange(12.0).reshape(6, 2)], grad=False),
    OpCase("random_shuffle/int_rank1", dtf.random.shuffle, [np.arange(5, dtype=np.int32)],
           grad=False),
    # fused_dense: activation(x @ kernel + bias), one primitive
    *[OpCase(f"fused_dense/{act}", lambda x, w, b, act=act: fused_dense(x, w, b, act),
             [rand(3, 4), rand(4, 2), rand(2)],
             lambda x, w, b, act=act: _ACTS[act](x @ w + b)) for act in _ACTS],
    OpCase("random_draw", lambda s: get("random_draw")(s, kind="normal", dtype="float32",
                                                        seed=1), [np.array([3, 2], np.int32)],
           grad=False),
    OpCase("random_draw/uniform64", lambda s: get("random_draw")(s, kind="uniform",
                                                                dtype="float64", seed=None),
           [np.array([4], np.int64)], grad=False),
    OpCase("categorical", lambda x: dtf.random.categorical(x, 7), [_LOGITS], grad=False),
    OpCase("categorical/int32", lambda x: dtf.random.categorical(x, 3, dtype=dtf.int32, seed=2),
           [rand(2, 4, dtype=np.float32)], grad=False),
]
