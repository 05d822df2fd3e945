"""Intersection-over-union metrics for segmentation: IoU, MeanIoU, BinaryIoU, OneHotIoU,
OneHotMeanIoU. The state is a confusion matrix (rows: true class, columns: predicted class);
IoU of a class = true_positives / (true_positives + false_positives + false_negatives).

Example:
    >>> m = MeanIoU(num_classes=2)
    >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
    >>> round(float(m.result()), 4)
    0.3333
"""

from __future__ import annotations

import warnings

import numpy as np

from dtf import dtypes
from dtf.keras.losses import _utils
from dtf.keras.metrics.metric import Metric
from dtf.keras.metrics.metrics_utils import confusion_matrix
from dtf.ops.array_ops import broadcast_to, reshape, shape
from dtf.ops.creation_ops import cast, convert_to_tensor
from dtf.ops.indexing_ops import gather
from dtf.ops.math_ops import greater, greater_equal, less, logical_and, not_equal, where
from dtf.ops.matrix_ops import diag_part
from dtf.ops.reduce_ops import argmax, reduce_sum

__all__ = ["BinaryIoU", "IoU", "MeanIoU", "OneHotIoU", "OneHotMeanIoU"]


class _IoUBase(Metric):
    """The confusion-matrix state of the IoU metrics (dtype int64 by default, as Keras')."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name=name, dtype=dtype or "int64")
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self.total_cm = self.add_variable(shape=(num_classes, num_classes),
                                          initializer="zeros", dtype=self._dtype,
                                          name="total_confusion_matrix")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds the batch's (weighted) confusion matrix; labels outside [0, num_classes)
        and `ignore_class` entries are left out."""
        dtype = self._dtype
        if not self.sparse_y_true:
            y_true = argmax(_utils.to_tensor(y_true), axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = argmax(_utils.to_tensor(y_pred), axis=self.axis)
        y_true = reshape(_utils.to_tensor(y_true, dtype), [-1])
        y_pred = reshape(_utils.to_tensor(y_pred, dtype), [-1])
        ts, ps = _utils.static_shape(y_true), _utils.static_shape(y_pred)
        if ts is not None and ps is not None and not _utils.same_shape(ts, ps):
            raise ValueError(f"{type(self).__name__}: y_true and y_pred must hold one class "
                             f"per element each; got {ts[0]} labels and {ps[0]} predictions.")
        if sample_weight is None:
            sample_weight = convert_to_tensor(np.ones((), dtype.as_numpy_dtype))
        else:
            if getattr(sample_weight, "dtype", None) is not None and dtype.is_integer and \
                    dtypes.as_dtype(sample_weight.dtype).is_floating:
                warnings.warn("You are passing weight as `float`, but dtype is `int`. This may "
                              "result in an incorrect weight due to type casting Consider "
                              "using integer weights.", stacklevel=2)
            sample_weight = _utils.to_tensor(sample_weight, dtype)
            if _utils.rank(sample_weight) > 1:
                sample_weight = reshape(sample_weight, [-1])
        sample_weight = broadcast_to(sample_weight, shape(y_true))
        in_bounds = logical_and(
            logical_and(greater_equal(y_true, 0), less(y_true, self.num_classes)),
            logical_and(greater_equal(y_pred, 0), less(y_pred, self.num_classes)))
        if self.ignore_class is not None:
            in_bounds = logical_and(in_bounds, not_equal(y_true, self.ignore_class))
        y_true = where(in_bounds, y_true, 0)
        y_pred = where(in_bounds, y_pred, 0)
        sample_weight = where(in_bounds, sample_weight, 0)
        current = confusion_matrix(y_true, y_pred, self.num_classes, weights=sample_weight,
                                   dtype=dtype)
        self.total_cm.assign_add(current, read_value=False)

    def reset_state(self):
        self.total_cm.assign(np.zeros((self.num_classes, self.num_classes),
                                      self._dtype.as_numpy_dtype), read_value=False)


class IoU(_IoUBase):
    """The mean IoU over the classes `target_class_ids` (classes absent from both y_true and
    y_pred are left out of the mean).

    Args:
        num_classes: the number of classes.
        target_class_ids: the classes whose IoUs are averaged.
        ignore_class: a class to leave out of the counts (e.g. void/background).
        sparse_y_true / sparse_y_pred: whether y_true / y_pred hold class indices (True) or
            scores along `axis` (argmax taken).

    Example:
        >>> m = IoU(num_classes=2, target_class_ids=[0])
        >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
        >>> round(float(m.result()), 4)
        0.3333
    """

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name=name, num_classes=num_classes, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis,
                         dtype=dtype)
        if max(target_class_ids) >= num_classes:
            raise ValueError(f"Target class id {max(target_class_ids)} is out of range, which "
                             f"is [0, {num_classes}).")
        self.target_class_ids = list(target_class_ids)

    def result(self):
        cm = cast(self.total_cm.read_value(), dtypes.float32)
        sum_over_row = reduce_sum(cm, axis=0)
        sum_over_col = reduce_sum(cm, axis=1)
        true_positives = diag_part(cm)
        denominator = sum_over_row + sum_over_col - true_positives
        ids = convert_to_tensor(np.asarray(self.target_class_ids, np.int32))
        true_positives = gather(true_positives, ids)
        denominator = gather(denominator, ids)
        valid = greater(denominator, 1e-9)
        num_valid = reduce_sum(cast(valid, dtypes.float32))
        eps = _utils.epsilon()
        iou = where(valid, true_positives / (denominator + eps), 0.0)
        return reduce_sum(iou, axis=self.axis) / (num_valid + eps)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "target_class_ids": self.target_class_ids, "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


class BinaryIoU(IoU):
    """IoU of a binary task: y_pred >= threshold is class 1.

    Example:
        >>> m = BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
        >>> round(float(m([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7])), 4)
        0.3333
    """

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name,
                         dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _utils.to_tensor(y_pred, dtypes.float32)
        y_pred = cast(greater_equal(y_pred, self.threshold), self._dtype)
        super().update_state(y_true, y_pred, sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold,
                "name": self.name, "dtype": self.dtype}


class MeanIoU(IoU):
    """The mean IoU over all `num_classes` classes.

    Example:
        >>> m = MeanIoU(num_classes=2)
        >>> round(float(m([0, 0, 1, 1], [0, 1, 0, 1])), 4)
        0.3333
    """

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name=name, num_classes=num_classes,
                         target_class_ids=list(range(num_classes)), axis=axis, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotIoU(IoU):
    """`IoU` with one-hot y_true (and scores in y_pred unless `sparse_y_pred`).

    Example:
        >>> m = OneHotIoU(num_classes=2, target_class_ids=[1])
        >>> round(float(m([[0, 1], [1, 0]], [[0.2, 0.8], [0.6, 0.4]])), 4)
        1.0
    """

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes=num_classes, target_class_ids=target_class_ids, name=name,
                         dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "name": self.name, "dtype": self.dtype, "ignore_class": self.ignore_class,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotMeanIoU(MeanIoU):
    """`MeanIoU` with one-hot y_true (and scores in y_pred unless `sparse_y_pred`).

    Example:
        >>> m = OneHotMeanIoU(num_classes=2)
        >>> round(float(m([[0, 1], [1, 0]], [[0.2, 0.8], [0.6, 0.4]])), 4)
        1.0
    """

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes=num_classes, axis=axis, name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}
