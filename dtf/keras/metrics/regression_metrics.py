"""Regression metrics (means of the regression losses, RMSE, cosine similarity) and the metric
forms of the probabilistic and hinge losses.

Example:
    >>> m = RootMeanSquaredError()
    >>> float(m([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]]))
    0.7071067...
"""

from __future__ import annotations

from dtf.keras.losses import _utils
from dtf.keras.losses import functions as F
from dtf.keras.losses.loss import squeeze_or_expand_to_same_rank
from dtf.keras.metrics.reduction_metrics import Mean, _BuiltinMeanMetric
from dtf.ops.math_ops import sqrt, squared_difference

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "CosineSimilarity",
    "Hinge",
    "KLDivergence",
    "LogCoshError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "RootMeanSquaredError",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "cosine_similarity",
]


# -- regression -------------------------------------------------------------------------------
class MeanSquaredError(_BuiltinMeanMetric):
    """The mean of (y_true - y_pred) ** 2.

    Example:
        >>> float(MeanSquaredError()([[0.0, 1.0]], [[1.0, 1.0]]))
        0.5
    """

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(fn=F.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(_BuiltinMeanMetric):
    """The mean of abs(y_true - y_pred).

    Example:
        >>> float(MeanAbsoluteError()([[0.0, 1.0]], [[1.0, 1.0]]))
        0.5
    """

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(fn=F.mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_BuiltinMeanMetric):
    """The mean of 100 * abs((y_true - y_pred) / y_true).

    Example:
        >>> float(MeanAbsolutePercentageError()([[100.0]], [[90.0]]))
        10.0
    """

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(fn=F.mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_BuiltinMeanMetric):
    """The mean of (log(y_true + 1) - log(y_pred + 1)) ** 2.

    Example:
        >>> float(MeanSquaredLogarithmicError()([[0.0]], [[0.0]]))
        0.0
    """

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(fn=F.mean_squared_logarithmic_error, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """sqrt of the mean of (y_true - y_pred) ** 2 over every value seen.

    Example:
        >>> float(RootMeanSquaredError()([[0.0, 2.0]], [[0.0, 0.0]]))
        1.4142135...
    """

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = _utils.to_tensor(y_true, self._dtype)
        y_pred = _utils.to_tensor(y_pred, self._dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        super().update_state(squared_difference(y_pred, y_true), sample_weight=sample_weight)

    def result(self):
        return sqrt(super().result())


def cosine_similarity(y_true, y_pred, axis=-1):
    """sum(l2_normalize(y_true) * l2_normalize(y_pred), axis): 1 for vectors pointing the same
    way (the metric's sign; the loss is its negative).

    Example:
        >>> cosine_similarity([[0.0, 1.0]], [[0.0, 3.0]]).numpy()
        array([1.], dtype=float32)
    """
    return -F.cosine_similarity(y_true, y_pred, axis=axis)


class CosineSimilarity(_BuiltinMeanMetric):
    """The mean cosine similarity of y_true and y_pred along `axis`.

    Example:
        >>> round(float(CosineSimilarity()([[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]])),
        ...       4)
        0.5
    """

    # Keras 3 leaves `axis` out of the config (so a reloaded metric forgets it); kept here.
    _config_keys = ("axis",)

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(fn=cosine_similarity, name=name, dtype=dtype, axis=axis)
        self.axis = axis


class LogCoshError(_BuiltinMeanMetric):
    """The mean of log(cosh(y_pred - y_true)).

    Example:
        >>> float(LogCoshError()([[0.0]], [[0.0]]))
        0.0
    """

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(fn=F.log_cosh, name=name, dtype=dtype)


# -- probabilistic ----------------------------------------------------------------------------
class KLDivergence(_BuiltinMeanMetric):
    """The mean Kullback-Leibler divergence of y_pred from y_true.

    Example:
        >>> float(KLDivergence()([[0.5, 0.5]], [[0.5, 0.5]]))
        0.0
    """

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(fn=F.kl_divergence, name=name, dtype=dtype)


class Poisson(_BuiltinMeanMetric):
    """The mean Poisson loss y_pred - y_true * log(y_pred).

    Example:
        >>> round(float(Poisson()([[1.0]], [[1.0]])), 4)
        1.0
    """

    def __init__(self, name="poisson", dtype=None):
        super().__init__(fn=F.poisson, name=name, dtype=dtype)


class BinaryCrossentropy(_BuiltinMeanMetric):
    """The mean binary cross-entropy (see `keras.losses.binary_crossentropy`).

    Example:
        >>> round(float(BinaryCrossentropy()([[1.0]], [[0.5]])), 4)
        0.6931
    """

    _config_keys = ("from_logits", "label_smoothing")

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0):
        super().__init__(fn=F.binary_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing


class CategoricalCrossentropy(_BuiltinMeanMetric):
    """The mean categorical cross-entropy (see `keras.losses.categorical_crossentropy`).

    Example:
        >>> round(float(CategoricalCrossentropy()([[0.0, 1.0]], [[0.5, 0.5]])), 4)
        0.6931
    """

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0, axis=-1):
        super().__init__(fn=F.categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(_BuiltinMeanMetric):
    """The mean sparse categorical cross-entropy; with `ignore_class`, entries of that class
    are left out of the mean.

    Example:
        >>> m = SparseCategoricalCrossentropy(from_logits=True)
        >>> round(float(m([1], [[0.0, 0.0]])), 4)
        0.6931
    """

    _config_keys = ("from_logits", "ignore_class", "axis")

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 ignore_class=None, axis=-1):
        super().__init__(fn=F.sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis

    def update_state(self, y_true, y_pred, sample_weight=None):
        values, mask = F.sparse_categorical_crossentropy_with_mask(
            y_true, y_pred, self.from_logits, self.ignore_class, self.axis)
        self._update_masked(values, mask, sample_weight)


# -- hinge --------------------------------------------------------------------------------------
class Hinge(_BuiltinMeanMetric):
    """The mean hinge loss (labels -1/1; 0/1 are converted).

    Example:
        >>> float(Hinge()([[1.0, 0.0]], [[0.5, -2.0]]))
        0.25
    """

    def __init__(self, name="hinge", dtype=None):
        super().__init__(fn=F.hinge, name=name, dtype=dtype)


class SquaredHinge(_BuiltinMeanMetric):
    """The mean squared hinge loss (labels -1/1; 0/1 are converted).

    Example:
        >>> float(SquaredHinge()([[1.0]], [[0.5]]))
        0.25
    """

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(fn=F.squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(_BuiltinMeanMetric):
    """The mean categorical hinge loss.

    Example:
        >>> round(float(CategoricalHinge()([[0.0, 1.0]], [[0.3, 0.6]])), 4)
        0.7
    """

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(fn=F.categorical_hinge, name=name, dtype=dtype)
