"""Accuracy metrics: the fraction of predictions that match their targets.

Each class is the mean (`MeanMetricWrapper`) of a function giving 1.0 per matching sample and
0.0 otherwise, computed as Keras 3 computes it.

Example:
    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0.0]])
    >>> float(m.result())
    0.5
"""

from __future__ import annotations

from dtf import dtypes
from dtf.keras.losses import _utils
from dtf.keras.losses.loss import squeeze_or_expand_to_same_rank
from dtf.keras.metrics._fused import sparse_categorical_matches
from dtf.keras.metrics.reduction_metrics import _BuiltinMeanMetric
from dtf.ops.array_ops import reshape, shape, squeeze
from dtf.ops.creation_ops import cast
from dtf.ops.indexing_ops import gather
from dtf.ops.math_ops import (
    equal,
    greater,
    greater_equal,
    is_finite,
    less,
    logical_and,
    where,
)
from dtf.ops.reduce_ops import argmax, reduce_any, reduce_sum
from dtf.tensor import Tensor

__all__ = [
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "in_top_k",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]

_INDEX_DTYPES = (dtypes.int32, dtypes.int64)


def _as_floatx(matches):
    return cast(matches, _utils.floatx())


def _pred(y_pred):
    return y_pred if type(y_pred) is Tensor else _utils.to_tensor(y_pred)


# -- functions ----------------------------------------------------------------------------------
def accuracy(y_true, y_pred):
    """1.0 where y_true equals y_pred (elementwise), else 0.0.

    Example:
        >>> accuracy([1, 2, 3], [1, 2, 4]).numpy()
        array([1., 1., 0.], dtype=float32)
    """
    y_pred = _pred(y_pred)
    y_true = _utils.to_tensor(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return _as_floatx(equal(y_true, y_pred))


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where (y_pred > threshold) equals y_true (0/1), else 0.0.

    Example:
        >>> binary_accuracy([[1.0], [0.0]], [[0.7], [0.6]]).numpy()
        array([[1.],
               [0.]], dtype=float32)
    """
    y_pred = _pred(y_pred)
    y_true = _utils.to_tensor(y_true)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    predicted = cast(greater(y_pred, _utils.to_tensor(threshold, y_pred.dtype)), y_true.dtype)
    return _as_floatx(equal(y_true, predicted))


def _argmax_like(y_pred, y_true):
    """argmax of y_pred over the last axis, in a dtype comparable with y_true."""
    if y_true.dtype in _INDEX_DTYPES:
        return argmax(y_pred, axis=-1, output_type=y_true.dtype), y_true
    if y_true.dtype.is_integer or y_true.dtype == dtypes.bool:
        return argmax(y_pred, axis=-1), cast(y_true, dtypes.int64)
    return cast(argmax(y_pred, axis=-1), y_true.dtype), y_true


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_true) equals argmax(y_pred) (one-hot targets), else 0.0.

    Example:
        >>> categorical_accuracy([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]
        ...                      ).numpy()
        array([0., 1.], dtype=float32)
    """
    y_pred = _pred(y_pred)
    y_true = argmax(_utils.to_tensor(y_true), axis=-1)
    true_shape = _utils.static_shape(y_true)
    squeezed = False
    if _utils.rank(y_true) == _utils.rank(y_pred) and _utils.rank(y_true):
        y_true = squeeze(y_true, -1)
        squeezed = True
    matches = _as_floatx(equal(y_true, argmax(y_pred, axis=-1)))
    if squeezed and true_shape is not None and None not in true_shape:
        matches = reshape(matches, true_shape)
    return matches


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label y_true equals argmax(y_pred), else 0.0.

    Example:
        >>> sparse_categorical_accuracy([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]).numpy()
        array([0., 1.], dtype=float32)
    """
    y_pred = _pred(y_pred)
    if type(y_true) is not Tensor:
        y_true = _utils.to_tensor(y_true)
    true_rank, pred_rank = _utils.rank(y_true), _utils.rank(y_pred)
    if true_rank is not None and true_rank == pred_rank and true_rank and \
            _utils.last_dim(y_true) == 1:
        y_true = squeeze(y_true, -1)
    ts, ps = _utils.static_shape(y_true), _utils.static_shape(y_pred)
    if ts is not None and ps is not None and ps and ts == ps[:-1] and None not in ts:
        # one label per row of scores: the fused op (`_fused.py`)
        matches = sparse_categorical_matches(y_pred, y_true, _utils.floatx())
    else:
        if not y_true.dtype.is_integer:
            y_true = _utils.to_tensor(y_true, y_pred.dtype)  # Keras compares in y_pred's dtype
        predicted, y_true = _argmax_like(y_pred, y_true)
        matches = _as_floatx(equal(y_true, predicted))
    rank = _utils.rank(matches)
    if rank is not None and rank > 1 and _utils.last_dim(matches) == 1:
        matches = squeeze(matches, -1)
    return matches


def in_top_k(targets, predictions, k):
    """Whether the prediction of each target class is among the `k` largest of its row (ties
    at the boundary count as in, as TensorFlow's `in_top_k`); False for a target outside
    [0, num_classes) or a non-finite prediction.

    Example:
        >>> in_top_k([2, 0], [[0.1, 0.6, 0.3], [0.1, 0.6, 0.3]], k=2).numpy()
        array([ True, False])
    """
    targets = _utils.to_tensor(targets)
    if targets.dtype not in _INDEX_DTYPES:
        targets = cast(targets, dtypes.int32)
    predictions = _pred(predictions)
    classes = _utils.last_dim(predictions)
    valid = logical_and(greater_equal(targets, 0), less(targets, classes))
    safe = where(valid, targets, 0)
    target_pred = gather(predictions, reshape(safe, [-1, 1]), batch_dims=1)
    above = reduce_sum(cast(greater(predictions, target_pred), dtypes.int32), axis=-1)
    return logical_and(logical_and(valid, is_finite(reshape(target_pred, [-1]))),
                       less(above, k))


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where argmax(y_true) is among the top `k` of y_pred, else 0.0.

    Example:
        >>> top_k_categorical_accuracy([[0, 0, 1], [0, 1, 0]], [[0.1, 0.6, 0.3],
        ...                            [0.05, 0.95, 0]], k=1).numpy()
        array([0., 1.], dtype=float32)
    """
    y_pred = _pred(y_pred)
    y_true = argmax(_utils.to_tensor(y_true, y_pred.dtype), axis=-1, output_type=dtypes.int32)
    return _top_k_matches(y_true, y_pred, k)


def _top_k_matches(y_true, y_pred, k):
    true_shape = _utils.static_shape(y_true)
    if _utils.rank(y_pred) > 2:
        y_pred = reshape(y_pred, [-1, _utils.last_dim(y_pred)])
    reshaped = _utils.rank(y_true) > 1
    if reshaped:
        original = shape(y_true) if true_shape is None or None in true_shape else true_shape
        y_true = reshape(y_true, [-1])
    matches = _as_floatx(in_top_k(y_true, y_pred, k))
    if reshaped:
        matches = reshape(matches, original)
    return matches


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label y_true is among the top `k` classes of y_pred, else 0.0.

    Args:
        from_sorted_ids: y_pred already holds class ids sorted by score (e.g. from
            `dtf.math.top_k`): a match is y_true among its first `k` columns.

    Example:
        >>> sparse_top_k_categorical_accuracy([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]],
        ...                                   k=2).numpy()
        array([1., 1.], dtype=float32)
    """
    y_pred = _pred(y_pred)
    y_true = _utils.to_tensor(y_true, y_pred.dtype if from_sorted_ids else dtypes.int32)
    if not from_sorted_ids:
        return _top_k_matches(y_true, y_pred, k)
    true_shape = _utils.static_shape(y_true)
    if _utils.rank(y_pred) > 2:
        y_pred = reshape(y_pred, [-1, _utils.last_dim(y_pred)])
    flat_true = reshape(y_true, [-1, 1])
    matches = _as_floatx(reduce_any(equal(flat_true, y_pred[:, :k]), axis=1))
    if _utils.rank(y_true) > 1:
        matches = reshape(matches, true_shape if true_shape and None not in true_shape
                          else shape(y_true))
    return matches


# -- classes --------------------------------------------------------------------------------
class Accuracy(_BuiltinMeanMetric):
    """How often y_pred equals y_true.

    Example:
        >>> float(Accuracy()([[1], [2], [3], [4]], [[0], [2], [3], [4]]))
        0.75
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(fn=accuracy, name=name, dtype=dtype)


class BinaryAccuracy(_BuiltinMeanMetric):
    """How often (y_pred > threshold) equals the 0/1 target.

    Example:
        >>> float(BinaryAccuracy()([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]))
        0.75
    """

    _config_keys = ("threshold",)

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(fn=binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(_BuiltinMeanMetric):
    """How often argmax(y_pred) equals argmax(y_true) (one-hot targets).

    Example:
        >>> float(CategoricalAccuracy()([[0, 0, 1], [0, 1, 0]],
        ...                             [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]))
        0.5
    """

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(fn=categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(_BuiltinMeanMetric):
    """How often argmax(y_pred) equals the integer label y_true.

    Example:
        >>> float(SparseCategoricalAccuracy()([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]))
        0.5
    """

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(fn=sparse_categorical_accuracy, name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        # The training-loop case in one op plus the two accumulations: eager tensors, one
        # label per row, no weights.
        if sample_weight is None and type(y_pred) is Tensor and type(y_true) is Tensor:
            labels_shape, scores_shape = y_true._value.shape, y_pred._value.shape
            if len(labels_shape) == 1 and labels_shape == scores_shape[:-1] and \
                    y_true._value.dtype.kind in "iuf":
                hits = sparse_categorical_matches(y_pred, y_true, self._dtype, reduce=True)
                self.total.assign_add(hits, read_value=False)
                self.count.assign_add(self._np_dtype(labels_shape[0]), read_value=False)
                return
        super().update_state(y_true, y_pred, sample_weight)


class TopKCategoricalAccuracy(_BuiltinMeanMetric):
    """How often argmax(y_true) is among the `k` highest predictions.

    Example:
        >>> float(TopKCategoricalAccuracy(k=1)([[0, 0, 1], [0, 1, 0]],
        ...                                    [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]))
        0.5
    """

    _config_keys = ("k",)

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(fn=top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(_BuiltinMeanMetric):
    """How often the integer label y_true is among the `k` highest predictions.

    Example:
        >>> float(SparseTopKCategoricalAccuracy(k=1)([2, 1], [[0.1, 0.9, 0.8],
        ...                                                  [0.05, 0.95, 0]]))
        0.5
    """

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids=False):
        super().__init__(fn=sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config
