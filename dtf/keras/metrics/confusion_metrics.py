"""Metrics from the confusion matrix at one or more thresholds: TruePositives and friends,
Precision, Recall, the *At* metrics (PrecisionAtRecall, ...) and AUC (ROC and PR).

A prediction is positive at threshold t when y_pred > t; y_true is 0/1 (cast to bool).

Example:
    >>> m = Precision()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> round(float(m.result()), 4)
    0.6667
"""

from __future__ import annotations

import numpy as np

from dtf.keras.losses import _utils
from dtf.keras.metrics import metrics_utils
from dtf.keras.metrics.metric import Metric
from dtf.keras.metrics.metrics_utils import AUCCurve, AUCSummationMethod, ConfusionMatrix
from dtf.ops import nn_ops
from dtf.ops.math_ops import (
    divide_no_nan,
    equal,
    greater,
    greater_equal,
    log,
    logical_and,
    maximum,
    minimum,
    where,
)
from dtf.ops.reduce_ops import reduce_max, reduce_mean, reduce_sum

__all__ = [
    "AUC",
    "FalseNegatives",
    "FalsePositives",
    "Precision",
    "PrecisionAtRecall",
    "Recall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
    "TrueNegatives",
    "TruePositives",
]

_TP, _FP = ConfusionMatrix.TRUE_POSITIVES, ConfusionMatrix.FALSE_POSITIVES
_TN, _FN = ConfusionMatrix.TRUE_NEGATIVES, ConfusionMatrix.FALSE_NEGATIVES


def _zero_all(*variables):
    for v in variables:
        v.assign(np.zeros(v.shape.as_list(), dtype=v.dtype.as_numpy_dtype), read_value=False)


def _first_or_all(values, thresholds):
    """The value at the only threshold, or the vector of all of them."""
    return values[0] if len(thresholds) == 1 else values


class _ConfusionMatrixConditionCount(Metric):
    """The (weighted) count of one confusion-matrix cell, per threshold."""

    _condition: ConfusionMatrix

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = metrics_utils.parse_init_thresholds(thresholds, default_threshold=0.5)
        self._thresholds_distributed_evenly = \
            metrics_utils.is_evenly_distributed_thresholds(self.thresholds)
        self.accumulator = self.add_variable(shape=(len(self.thresholds),),
                                             initializer="zeros", name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        metrics_utils.update_confusion_matrix_variables(
            {self._condition: self.accumulator}, y_true, y_pred, thresholds=self.thresholds,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            sample_weight=sample_weight)

    def result(self):
        return _first_or_all(self.accumulator.read_value(), self.thresholds)

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class FalsePositives(_ConfusionMatrixConditionCount):
    """The number of negatives predicted positive (per threshold when several are given).

    Example:
        >>> float(FalsePositives()([0, 1, 0, 0], [0, 0, 1, 1]))
        2.0
    """

    _condition = _FP


class FalseNegatives(_ConfusionMatrixConditionCount):
    """The number of positives predicted negative.

    Example:
        >>> float(FalseNegatives()([0, 1, 1, 1], [0, 1, 0, 0]))
        2.0
    """

    _condition = _FN


class TrueNegatives(_ConfusionMatrixConditionCount):
    """The number of negatives predicted negative.

    Example:
        >>> float(TrueNegatives()([0, 1, 0, 0], [1, 1, 0, 0]))
        2.0
    """

    _condition = _TN


class TruePositives(_ConfusionMatrixConditionCount):
    """The number of positives predicted positive.

    Example:
        >>> float(TruePositives()([0, 1, 1, 1], [1, 0, 1, 1]))
        2.0
    """

    _condition = _TP


class _PrecisionRecall(Metric):
    _second: ConfusionMatrix
    _second_name: str

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        default = 0.5 if top_k is None else metrics_utils.NEG_INF
        self.thresholds = metrics_utils.parse_init_thresholds(thresholds,
                                                              default_threshold=default)
        self._thresholds_distributed_evenly = \
            metrics_utils.is_evenly_distributed_thresholds(self.thresholds)
        n = len(self.thresholds)
        self.true_positives = self.add_variable(shape=(n,), initializer="zeros",
                                                name="true_positives")
        setattr(self, self._second_name, self.add_variable(shape=(n,), initializer="zeros",
                                                           name=self._second_name))

    def update_state(self, y_true, y_pred, sample_weight=None):
        metrics_utils.update_confusion_matrix_variables(
            {_TP: self.true_positives, self._second: getattr(self, self._second_name)},
            y_true, y_pred, thresholds=self.thresholds,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            top_k=self.top_k, class_id=self.class_id, sample_weight=sample_weight)

    def result(self):
        tp = self.true_positives.read_value()
        other = getattr(self, self._second_name).read_value()
        return _first_or_all(divide_no_nan(tp, tp + other), self.thresholds)

    def reset_state(self):
        _zero_all(self.true_positives, getattr(self, self._second_name))

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """true_positives / (true_positives + false_positives).

    Args:
        thresholds: a threshold or list of them in [0, 1] (default 0.5); with several, the
            result has one precision per threshold.
        top_k: only the k highest scores of each row are predictions (threshold default
            -inf then).
        class_id: the column of a multi-class y_true/y_pred to score.

    Example:
        >>> round(float(Precision()([0, 1, 1, 1], [1, 0, 1, 1])), 4)
        0.6667
    """

    _second, _second_name = _FP, "false_positives"


class Recall(_PrecisionRecall):
    """true_positives / (true_positives + false_negatives); arguments as `Precision`.

    Example:
        >>> round(float(Recall()([0, 1, 1, 1], [1, 0, 1, 1])), 4)
        0.6667
    """

    _second, _second_name = _FN, "false_negatives"


class SensitivitySpecificityBase(Metric):
    """Shared state of the *At* metrics: all four confusion counts at `num_thresholds`
    evenly spaced thresholds in [0, 1]."""

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if num_thresholds <= 0:
            raise ValueError(f"Argument `num_thresholds` must be an integer > 0. Received: "
                             f"num_thresholds={num_thresholds}")
        self.value = value
        self.class_id = class_id
        if num_thresholds == 1:
            self.thresholds = [0.5]
            self._thresholds_distributed_evenly = False
        else:
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds = [0.0] + inner + [1.0]
            self._thresholds_distributed_evenly = True
        n = len(self.thresholds)
        self.true_positives = self.add_variable((n,), "zeros", name="true_positives")
        self.false_positives = self.add_variable((n,), "zeros", name="false_positives")
        self.true_negatives = self.add_variable((n,), "zeros", name="true_negatives")
        self.false_negatives = self.add_variable((n,), "zeros", name="false_negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        metrics_utils.update_confusion_matrix_variables(
            {_TP: self.true_positives, _TN: self.true_negatives, _FP: self.false_positives,
             _FN: self.false_negatives}, y_true, y_pred, thresholds=self.thresholds,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            class_id=self.class_id, sample_weight=sample_weight)

    def reset_state(self):
        _zero_all(self.true_positives, self.false_positives, self.true_negatives,
                  self.false_negatives)

    def get_config(self):
        return {**super().get_config(), "class_id": self.class_id}

    def _counts(self):
        return (self.true_positives.read_value(), self.false_positives.read_value(),
                self.true_negatives.read_value(), self.false_negatives.read_value())

    def _find_max_under_constraint(self, constrained, dependent):
        """The largest `dependent` over the thresholds where `constrained` >= value (0 when
        there is none)."""
        feasible = greater_equal(constrained, self.value)
        return maximum(reduce_max(where(feasible, dependent, 0.0)), 0.0)


def _check_unit(name, value):
    if value < 0 or value > 1:
        raise ValueError(f"Argument `{name}` must be in the range [0, 1]. Received: "
                         f"{name}={value}")


class SensitivityAtSpecificity(SensitivitySpecificityBase):
    """The best sensitivity (recall) at a specificity of at least `specificity`.

    Example:
        >>> float(SensitivityAtSpecificity(0.5)([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8]))
        0.5
    """

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit("specificity", specificity)
        self.specificity = specificity
        self.num_thresholds = num_thresholds
        super().__init__(specificity, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        tp, fp, tn, fn = self._counts()
        return self._find_max_under_constraint(divide_no_nan(tn, tn + fp),
                                               divide_no_nan(tp, tp + fn))

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "specificity": self.specificity}


class SpecificityAtSensitivity(SensitivitySpecificityBase):
    """The best specificity at a sensitivity (recall) of at least `sensitivity`.

    Example:
        >>> round(float(SpecificityAtSensitivity(0.5)([0, 0, 0, 1, 1],
        ...                                           [0, 0.3, 0.8, 0.3, 0.8])), 4)
        0.6667
    """

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit("sensitivity", sensitivity)
        self.sensitivity = sensitivity
        self.num_thresholds = num_thresholds
        super().__init__(sensitivity, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        tp, fp, tn, fn = self._counts()
        return self._find_max_under_constraint(divide_no_nan(tp, tp + fn),
                                               divide_no_nan(tn, tn + fp))

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "sensitivity": self.sensitivity}


class PrecisionAtRecall(SensitivitySpecificityBase):
    """The best precision at a recall of at least `recall`.

    Example:
        >>> float(PrecisionAtRecall(0.5)([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8]))
        0.5
    """

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit("recall", recall)
        self.recall = recall
        self.num_thresholds = num_thresholds
        super().__init__(recall, num_thresholds=num_thresholds, class_id=class_id, name=name,
                         dtype=dtype)

    def result(self):
        tp, fp, _tn, fn = self._counts()
        return self._find_max_under_constraint(divide_no_nan(tp, tp + fn),
                                               divide_no_nan(tp, tp + fp))

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "recall": self.recall}


class RecallAtPrecision(SensitivitySpecificityBase):
    """The best recall at a precision of at least `precision`.

    Example:
        >>> float(RecallAtPrecision(0.8)([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]))
        0.5
    """

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit("precision", precision)
        self.precision = precision
        self.num_thresholds = num_thresholds
        super().__init__(precision, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        tp, fp, _tn, fn = self._counts()
        return self._find_max_under_constraint(divide_no_nan(tp, tp + fp),
                                               divide_no_nan(tp, tp + fn))

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "precision": self.precision}


class AUC(Metric):
    """Area under the ROC or precision-recall curve, approximated with a Riemann sum over
    `num_thresholds` thresholds.

    Args:
        num_thresholds: the number of evenly spaced thresholds (> 1).
        curve: "ROC" (default), "PR" or "PRGAIN".
        summation_method: "interpolation" (default; for PR, Davis & Goadrich's interpolation),
            "minoring" or "majoring".
        thresholds: explicit thresholds in [0, 1] instead of evenly spaced ones.
        multi_label: y_true/y_pred are [batch, labels] and each label gets its own curve;
            the result averages them (weighted by `label_weights` when given).
        num_labels: the number of labels with `multi_label` (else read from the first batch).
        label_weights: per-label weights of the average (or, without `multi_label`, of the
            counts).
        from_logits: y_pred holds logits (a sigmoid is applied first).

    Example:
        >>> m = AUC(num_thresholds=3)
        >>> float(m([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]))
        0.75
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            thresholds = sorted(thresholds)
            self._thresholds_distributed_evenly = \
                metrics_utils.is_evenly_distributed_thresholds(
                    np.array([0.0] + thresholds + [1.0]))
        else:
            if num_thresholds <= 1:
                raise ValueError(f"Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = num_thresholds
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1)
                          for i in range(num_thresholds - 2)]
            self._thresholds_distributed_evenly = True
        eps = _utils.epsilon()
        self._thresholds = np.array([0.0 - eps] + thresholds + [1.0 + eps])
        self.curve = curve if isinstance(curve, AUCCurve) else AUCCurve.from_str(curve)
        self.summation_method = summation_method if isinstance(
            summation_method, AUCSummationMethod) else \
            AUCSummationMethod.from_str(summation_method)
        super().__init__(name=name, dtype=dtype)
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else \
            _utils.to_tensor(np.asarray(label_weights), self._dtype)
        self._from_logits = from_logits
        self._built = False
        if multi_label:
            if num_labels:
                self._build([None, num_labels])
        else:
            if num_labels:
                raise ValueError("`num_labels` is needed only when `multi_label` is True.")
            self._build(None)

    @property
    def thresholds(self):
        """The thresholds, including the two just outside [0, 1] at the ends."""
        return list(self._thresholds)

    def _build(self, shape):
        if self.multi_label:
            if shape is None or len(shape) != 2:
                raise ValueError(f"`y_pred` must have rank 2 when `multi_label=True`. Found "
                                 f"shape {shape}.")
            self._num_labels = shape[1]
            variable_shape = (self.num_thresholds, self._num_labels)
        else:
            variable_shape = (self.num_thresholds,)
        self._build_input_shape = shape
        self.true_positives = self.add_variable(variable_shape, "zeros", name="true_positives")
        self.false_positives = self.add_variable(variable_shape, "zeros",
                                                 name="false_positives")
        self.true_negatives = self.add_variable(variable_shape, "zeros", name="true_negatives")
        self.false_negatives = self.add_variable(variable_shape, "zeros",
                                                 name="false_negatives")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _utils.to_tensor(y_pred)
        if not self._built:
            self._build(_utils.static_shape(y_pred))
        if self._from_logits:
            y_pred = nn_ops.sigmoid(y_pred)
        metrics_utils.update_confusion_matrix_variables(
            {_TP: self.true_positives, _TN: self.true_negatives, _FP: self.false_positives,
             _FN: self.false_negatives}, y_true, y_pred, self._thresholds,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            sample_weight=sample_weight, multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights)

    def _by_label(self, by_label_auc):
        if self.label_weights is None:
            return reduce_mean(by_label_auc)
        return divide_no_nan(reduce_sum(by_label_auc * self.label_weights),
                             reduce_sum(self.label_weights))

    def interpolate_pr_auc(self):
        """The PR AUC with Davis & Goadrich's (2006) interpolation between thresholds."""
        n = self.num_thresholds
        tp = self.true_positives.read_value()
        fp = self.false_positives.read_value()
        fn = self.false_negatives.read_value()
        dtp = tp[:n - 1] - tp[1:]
        p = tp + fp
        dp = p[:n - 1] - p[1:]
        prec_slope = divide_no_nan(dtp, maximum(dp, 0.0))
        intercept = tp[1:] - prec_slope * p[1:]
        safe_p_ratio = where(logical_and(greater(p[:n - 1], 0.0), greater(p[1:], 0.0)),
                             divide_no_nan(p[:n - 1], maximum(p[1:], 0.0)), 1.0)
        pr_auc_increment = divide_no_nan(prec_slope * (dtp + intercept * log(safe_p_ratio)),
                                         maximum(tp[1:] + fn[1:], 0.0))
        if self.multi_label:
            return self._by_label(reduce_sum(pr_auc_increment, axis=0))
        return reduce_sum(pr_auc_increment)

    def result(self):
        if self.curve == AUCCurve.PR and \
                self.summation_method == AUCSummationMethod.INTERPOLATION:
            return self.interpolate_pr_auc()
        n = self.num_thresholds
        tp = self.true_positives.read_value()
        fp = self.false_positives.read_value()
        tn = self.true_negatives.read_value()
        fn = self.false_negatives.read_value()
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == AUCCurve.ROC:
            x, y = divide_no_nan(fp, fp + tn), recall
        elif self.curve == AUCCurve.PR:
            x, y = recall, divide_no_nan(tp, tp + fp)
        else:  # PRGAIN (Flach & Kull, 2015)
            scaling = divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scaling * divide_no_nan(fn, tp)
            precision_gain = 1.0 - scaling * divide_no_nan(fp, tp)
            no_tp = equal(tp, 0.0)
            x = maximum(where(no_tp, 0.0, recall_gain), 0.0)
            y = where(no_tp, 1.0, precision_gain)
        if self.summation_method == AUCSummationMethod.INTERPOLATION:
            heights = (y[:n - 1] + y[1:]) / 2.0
        elif self.summation_method == AUCSummationMethod.MINORING:
            heights = minimum(y[:n - 1], y[1:])
        else:
            heights = maximum(y[:n - 1], y[1:])
        riemann_terms = (x[:n - 1] - x[1:]) * heights
        if self.multi_label:
            return self._by_label(reduce_sum(riemann_terms, axis=0))
        return reduce_sum(riemann_terms)

    def reset_state(self):
        if self._built:
            _zero_all(self.true_positives, self.false_positives, self.true_negatives,
                      self.false_negatives)

    def get_config(self):
        label_weights = None if self.label_weights is None else \
            np.asarray(self.label_weights.numpy()).tolist()
        config = {**super().get_config(), "num_thresholds": self.num_thresholds,
                  "curve": self.curve.value, "summation_method": self.summation_method.value,
                  "multi_label": self.multi_label, "num_labels": self.num_labels,
                  "label_weights": label_weights, "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config
