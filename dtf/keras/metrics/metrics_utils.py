"""Confusion-matrix bookkeeping shared by the threshold metrics (TruePositives, Precision,
Recall, AUC, ...) and the IoU metrics, following Keras 3's `metrics_utils`.

For every threshold t, a prediction counts as positive when y_pred > t. Evenly spaced
thresholds (AUC's, and the *AtSensitivity-style metrics') are counted in O(n + thresholds) by
bucketing each prediction and summing the buckets from the top, as Keras does; other threshold
lists compare every prediction with every threshold.
"""

from __future__ import annotations

from enum import Enum

import numpy as np

from dtf import dtypes
from dtf.keras.losses import _utils
from dtf.keras.losses.loss import squeeze_or_expand_to_same_rank
from dtf.ops.array_ops import broadcast_to, expand_dims, reshape, shape, stack
from dtf.ops.creation_ops import cast, convert_to_tensor, ones_like
from dtf.ops.indexing_ops import one_hot, scatter_nd
from dtf.ops.math_ops import (
    ceil,
    clip_by_value,
    greater,
    logical_and,
    logical_not,
    maximum,
    multiply,
    where,
)
from dtf.ops.reduce_ops import cumsum, reduce_sum
from dtf.ops.sort_ops import top_k as _top_k

__all__ = [
    "NEG_INF",
    "AUCCurve",
    "AUCSummationMethod",
    "ConfusionMatrix",
    "confusion_matrix",
    "is_evenly_distributed_thresholds",
    "parse_init_thresholds",
    "update_confusion_matrix_variables",
]

NEG_INF = -1e10


class ConfusionMatrix(Enum):
    TRUE_POSITIVES = "tp"
    FALSE_POSITIVES = "fp"
    TRUE_NEGATIVES = "tn"
    FALSE_NEGATIVES = "fn"


class AUCCurve(Enum):
    """The curve an AUC integrates: ROC, PR (precision-recall) or PRGAIN."""

    ROC = "ROC"
    PR = "PR"
    PRGAIN = "PRGAIN"

    @staticmethod
    def from_str(key):
        for curve in AUCCurve:
            if key in (curve.value, curve.value.lower()):
                return curve
        raise ValueError(f'Invalid AUC curve value: "{key}". Expected values are ["PR", "ROC", '
                         '"PRGAIN"]')


class AUCSummationMethod(Enum):
    """How an AUC sums the areas between thresholds."""

    INTERPOLATION = "interpolation"
    MAJORING = "majoring"
    MINORING = "minoring"

    @staticmethod
    def from_str(key):
        for method in AUCSummationMethod:
            if key in (method.value, method.value.capitalize()):
                return method
        raise ValueError(f'Invalid AUC summation method value: "{key}". Expected values are '
                         '["interpolation", "majoring", "minoring"]')


def _to_list(x):
    if isinstance(x, (list, tuple)):
        return list(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return [x]


def parse_init_thresholds(thresholds, default_threshold=0.5):
    """The thresholds as a list (the default when None); each must lie in [0, 1]."""
    if thresholds is not None:
        invalid = [t for t in _to_list(thresholds) if t is None or t < 0 or t > 1]
        if invalid:
            raise ValueError(f"Threshold values must be in [0, 1]. Received: {invalid}")
    return _to_list(default_threshold if thresholds is None else thresholds)


def is_evenly_distributed_thresholds(thresholds):
    """Whether the thresholds are i / (n - 1) for i = 0..n-1 (n >= 3), within epsilon."""
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=_utils.epsilon()))


def _filter_top_k(x, k):
    """x with all but the top `k` entries of its last axis set to NEG_INF."""
    _, indices = _top_k(x, k)
    mask = reduce_sum(one_hot(indices, _utils.last_dim(x), axis=-1, dtype=x.dtype), axis=-2)
    return x * mask + NEG_INF * (1.0 - mask)


def update_confusion_matrix_variables(variables_to_update, y_true, y_pred, thresholds,
                                      top_k=None, class_id=None, sample_weight=None,
                                      multi_label=False, label_weights=None,
                                      thresholds_distributed_evenly=False):
    """Adds this batch's true/false positive/negative counts (one per threshold) to the
    Variables of `variables_to_update` ({ConfusionMatrix: Variable}).

    Args:
        y_true: labels (0/1, or anything cast to bool).
        y_pred: scores, compared with each threshold (`y_pred > threshold` is positive).
        thresholds: a list of floats.
        top_k: only the top k scores of each row count (the others are -inf).
        class_id: only this column of y_true/y_pred counts.
        sample_weight: weights, broadcast to y_pred.
        multi_label: count each label (column) separately: the Variables have shape
            [thresholds, labels].
        label_weights: per-label weights (not with `multi_label`).
        thresholds_distributed_evenly: use the bucket algorithm.
    """
    if multi_label and label_weights is not None:
        raise ValueError("`label_weights` for multilabel data should be handled outside of "
                         "`update_confusion_matrix_variables` when `multi_label` is True.")
    if not variables_to_update:
        return
    invalid = [key for key in variables_to_update if not isinstance(key, ConfusionMatrix)]
    if invalid:
        raise ValueError(f'Invalid keys: "{invalid}". Valid variable key options are: '
                         f'"{list(ConfusionMatrix)}"')
    dtype = next(iter(variables_to_update.values())).dtype
    y_true = _utils.to_tensor(y_true, dtype)
    y_pred = _utils.to_tensor(y_pred, dtype)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    ts, ps = _utils.static_shape(y_true), _utils.static_shape(y_pred)
    if ts is not None and ps is not None and not _utils.same_shape(ts, ps):
        raise ValueError(f"Confusion-matrix metrics need y_true and y_pred of the same shape; "
                         f"got y_true.shape={_utils.fmt(ts)} and y_pred.shape={_utils.fmt(ps)}.")
    if sample_weight is not None:
        sample_weight = expand_dims(_utils.to_tensor(sample_weight, dtype), -1)
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight,
                                                          expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if _utils.rank(y_pred) == 1:
            raise ValueError(f"When class_id is provided, y_pred must be a 2D array with shape "
                             f"(num_samples, num_classes), found shape: {_utils.fmt(ps)}")
        y_true = y_true[..., class_id:class_id + 1]
        y_pred = y_pred[..., class_id:class_id + 1]
        if sample_weight is not None and _utils.rank(sample_weight) == _utils.rank(y_pred) \
                and _utils.last_dim(sample_weight) != 1:
            sample_weight = sample_weight[..., class_id:class_id + 1]
    if sample_weight is not None:
        sample_weight = broadcast_to(sample_weight, shape(y_pred))
    if label_weights is not None:
        label_weights = broadcast_to(expand_dims(_utils.to_tensor(label_weights, dtype), 0),
                                     shape(y_pred))
    if thresholds_distributed_evenly:
        with_epsilon = thresholds[0] < 0.0 or thresholds[-1] > 1.0
        _update_by_buckets(variables_to_update, y_true, y_pred, len(thresholds), multi_label,
                           sample_weight, label_weights, with_epsilon)
    else:
        _update_by_comparison(variables_to_update, y_true, y_pred, thresholds, multi_label,
                              sample_weight, label_weights)


def _flat_or_columns(x, multi_label):
    """[n] for one label per prediction, [rows, labels] for multi-label."""
    if multi_label:
        return x
    return reshape(x, [-1])


def _update_by_buckets(variables, y_true, y_pred, num_thresholds, multi_label, sample_weight,
                       label_weights, with_epsilon):
    dtype = y_pred.dtype
    weights = None
    if sample_weight is not None:
        weights = sample_weight
    if label_weights is not None:
        weights = label_weights if weights is None else multiply(weights, label_weights)
    y_pred = _flat_or_columns(clip_by_value(y_pred, 0.0, 1.0), multi_label)
    y_true = _flat_or_columns(cast(cast(y_true, dtypes.bool), dtype), multi_label)
    if weights is not None:
        weights = _flat_or_columns(weights, multi_label)
        true_labels = multiply(y_true, weights)
        false_labels = multiply(1.0 - y_true, weights)
    else:
        true_labels = y_true
        false_labels = 1.0 - y_true
    # bucket b holds the predictions above thresholds 0..b (and no higher one); -1: none
    buckets = ceil(y_pred * float(num_thresholds - 1)) - 1.0
    if with_epsilon:
        buckets = maximum(buckets, 0.0)
    # shifted by one so that "above no threshold" (-1) lands in a bucket that is dropped
    buckets = cast(buckets, dtypes.int32) + 1
    if multi_label:
        labels = _utils.last_dim(y_pred)
        columns = broadcast_to(convert_to_tensor(np.arange(labels, dtype=np.int32)),
                               shape(buckets))
        index = reshape(stack([buckets, columns], axis=-1), [-1, 2])
        out_shape = [num_thresholds + 1, labels]
        tp_buckets = scatter_nd(index, reshape(true_labels, [-1]), out_shape)[1:]
        fp_buckets = scatter_nd(index, reshape(false_labels, [-1]), out_shape)[1:]
    else:
        index = reshape(buckets, [-1, 1])
        tp_buckets = scatter_nd(index, true_labels, [num_thresholds + 1])[1:]
        fp_buckets = scatter_nd(index, false_labels, [num_thresholds + 1])[1:]
    tp = cumsum(tp_buckets, axis=0, reverse=True)
    fp = cumsum(fp_buckets, axis=0, reverse=True)
    axis = 0 if multi_label else None
    _assign_counts(variables, tp, fp,
                   lambda: reduce_sum(true_labels, axis=axis),
                   lambda: reduce_sum(false_labels, axis=axis))


def _assign_counts(variables, tp, fp, total_true, total_false):
    if ConfusionMatrix.TRUE_POSITIVES in variables:
        variables[ConfusionMatrix.TRUE_POSITIVES].assign_add(tp, read_value=False)
    if ConfusionMatrix.FALSE_POSITIVES in variables:
        variables[ConfusionMatrix.FALSE_POSITIVES].assign_add(fp, read_value=False)
    if ConfusionMatrix.TRUE_NEGATIVES in variables:
        variables[ConfusionMatrix.TRUE_NEGATIVES].assign_add(total_false() - fp,
                                                             read_value=False)
    if ConfusionMatrix.FALSE_NEGATIVES in variables:
        variables[ConfusionMatrix.FALSE_NEGATIVES].assign_add(total_true() - tp,
                                                              read_value=False)


def _update_by_comparison(variables, y_true, y_pred, thresholds, multi_label, sample_weight,
                          label_weights):
    dtype = y_pred.dtype
    threshold_values = convert_to_tensor(np.asarray(thresholds, dtype=dtype.as_numpy_dtype))
    num_thresholds = len(thresholds)
    if multi_label:
        # [thresholds, rows, labels]
        preds = expand_dims(y_pred, 0)
        labels = expand_dims(cast(y_true, dtypes.bool), 0)
        limits = reshape(threshold_values, [num_thresholds, 1, 1])
        sum_axis = 1
    else:
        # [thresholds, predictions]
        preds = reshape(y_pred, [1, -1])
        labels = reshape(cast(y_true, dtypes.bool), [1, -1])
        limits = reshape(threshold_values, [num_thresholds, 1])
        sum_axis = 1
    pred_is_pos = greater(preds, limits)
    weights = None
    if sample_weight is not None:
        weights = _flat_or_columns(sample_weight, multi_label)
    if label_weights is not None and not multi_label:
        lw = reshape(label_weights, [-1])
        weights = lw if weights is None else multiply(weights, lw)
    if weights is not None:
        weights = expand_dims(weights, 0)
    pred_is_neg = logical_not(pred_is_pos)
    label_is_neg = logical_not(labels)
    conditions = {
        ConfusionMatrix.TRUE_POSITIVES: (labels, pred_is_pos),
        ConfusionMatrix.FALSE_NEGATIVES: (labels, pred_is_neg),
        ConfusionMatrix.FALSE_POSITIVES: (label_is_neg, pred_is_pos),
        ConfusionMatrix.TRUE_NEGATIVES: (label_is_neg, pred_is_neg),
    }
    for key, variable in variables.items():
        label, pred = conditions[key]
        hit = logical_and(label, pred)
        if weights is not None:
            counts = where(hit, broadcast_to(weights, shape(hit)), 0.0)
        else:
            counts = cast(hit, variable.dtype)
        variable.assign_add(cast(reduce_sum(counts, axis=sum_axis), variable.dtype),
                            read_value=False)


def confusion_matrix(labels, predictions, num_classes, weights=None, dtype="int32"):
    """The [num_classes, num_classes] matrix whose (i, j) entry sums the weights (1 each by
    default) of the samples with label i predicted as j.

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 1, 0], 2).numpy()
        array([[1, 0],
               [1, 1]], dtype=int32)
    """
    dtype = dtypes.as_dtype(dtype)
    labels = _utils.to_tensor(labels, dtype)
    predictions = _utils.to_tensor(predictions, dtype)
    labels, predictions = squeeze_or_expand_to_same_rank(labels, predictions)
    indices = cast(stack([reshape(labels, [-1]), reshape(predictions, [-1])], axis=1),
                   dtypes.int64)
    values = ones_like(reshape(predictions, [-1])) if weights is None else \
        reshape(_utils.to_tensor(weights, dtype), [-1])
    num_classes = int(num_classes)
    return scatter_nd(indices, values, [num_classes, num_classes])

