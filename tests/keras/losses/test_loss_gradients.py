"""Gradient checks (first and second order, float64, central differences) of every loss."""

import numpy as np
import pytest

import dtf
from dtf.keras import losses
from dtf.testing.gradcheck import check_gradients

rng = np.random.default_rng(7)
N, C = 4, 3


def _away(x, points, margin=0.1):
    x = x.copy()
    for p in points:
        near = np.abs(x - p) < margin
        x[near] = p + np.where(x[near] >= p, margin, -margin)
    return x


REG_TRUE = rng.normal(size=(N, C))
REG_PRED = REG_TRUE + _away(rng.normal(size=(N, C)), [0.0, 1.0, -1.0])  # kinks of mae/huber
POS_TRUE = rng.uniform(0.2, 2.0, size=(N, C))
POS_PRED = rng.uniform(0.2, 2.0, size=(N, C))
PROBS = rng.uniform(0.1, 0.9, size=(N, C))
DIST = PROBS / PROBS.sum(axis=-1, keepdims=True)
LOGITS = rng.normal(scale=2.0, size=(N, C))
ONE_HOT = np.eye(C)[rng.integers(0, C, size=N)]
BINARY = rng.integers(0, 2, size=(N, C)).astype(np.float64)
LABELS = rng.integers(0, C, size=N).astype(np.int32)
HINGE_PRED = _away(rng.normal(scale=2.0, size=(N, C)), [-1.0, 1.0])
WEIGHTS = rng.uniform(0.5, 1.5, size=N)

F64 = {"dtype": "float64"}
CASES = [
    ("mse", losses.MeanSquaredError(**F64), REG_TRUE, REG_PRED),
    ("mae", losses.MeanAbsoluteError(**F64), REG_TRUE, REG_PRED),
    ("mape", losses.MeanAbsolutePercentageError(**F64), POS_TRUE, POS_PRED),
    ("msle", losses.MeanSquaredLogarithmicError(**F64), POS_TRUE, POS_PRED),
    ("huber", losses.Huber(delta=1.0, **F64), REG_TRUE, REG_PRED),
    ("log_cosh", losses.LogCosh(**F64), REG_TRUE, REG_PRED),
    ("cosine", losses.CosineSimilarity(**F64), REG_TRUE, REG_PRED),
    ("kld", losses.KLDivergence(**F64), DIST, DIST[::-1].copy()),
    ("poisson", losses.Poisson(**F64), POS_TRUE, POS_PRED),
    ("hinge", losses.Hinge(**F64), BINARY, HINGE_PRED),
    ("squared_hinge", losses.SquaredHinge(**F64), BINARY, HINGE_PRED),
    ("categorical_hinge", losses.CategoricalHinge(**F64), ONE_HOT, LOGITS),
    ("bce_probs", losses.BinaryCrossentropy(**F64), BINARY, PROBS),
    ("bce_logits", losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1, **F64),
     BINARY, LOGITS),
    ("focal_bce", losses.BinaryFocalCrossentropy(apply_class_balancing=True, **F64), BINARY,
     PROBS),
    ("focal_bce_logits", losses.BinaryFocalCrossentropy(from_logits=True, **F64), BINARY,
     LOGITS),
    ("cce_probs", losses.CategoricalCrossentropy(**F64), ONE_HOT, DIST),
    ("cce_logits", losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2, **F64),
     ONE_HOT, LOGITS),
    ("focal_cce", losses.CategoricalFocalCrossentropy(**F64), ONE_HOT, DIST),
    ("scce_probs", losses.SparseCategoricalCrossentropy(**F64), LABELS, DIST),
    ("scce_logits", losses.SparseCategoricalCrossentropy(from_logits=True, **F64), LABELS,
     LOGITS),
    ("scce_logits_sum", losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum",
                                                             **F64), LABELS, LOGITS),
    ("scce_ignore_class", losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=int(LABELS[0]), **F64), LABELS, LOGITS),
]


@pytest.mark.parametrize("name, loss, y_true, y_pred", CASES, ids=[c[0] for c in CASES])
def test_gradient_wrt_predictions(name, loss, y_true, y_pred):
    target = dtf.constant(y_true)
    check_gradients(lambda p: loss(target, p), [y_pred.copy()], name=name)


@pytest.mark.parametrize("name, loss, y_true, y_pred", CASES[:9], ids=[c[0] for c in CASES[:9]])
def test_gradient_wrt_targets_and_predictions(name, loss, y_true, y_pred):
    check_gradients(lambda t, p: loss(t, p), [y_true.copy(), y_pred.copy()], name=name)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight",
                                       "none"])
def test_gradient_with_sample_weights(reduction):
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction, **F64)
    labels = dtf.constant(LABELS)
    check_gradients(lambda p, w: loss(labels, p, sample_weight=w),
                    [LOGITS.copy(), WEIGHTS.copy()], name=f"weighted/{reduction}")


def test_fused_gradient_second_order_through_tape():
    """The fused loss inside nested tapes: the Hessian-vector product is that of the general
    formula (softmax Jacobian), checked numerically."""
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, **F64)
    labels = dtf.constant(LABELS)
    assert loss._fusable
    check_gradients(lambda p: loss(labels, p), [LOGITS.copy()], name="fused", eps=1e-5)
