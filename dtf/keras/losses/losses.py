"""The built-in `Loss` classes: each wraps a loss function of `functions.py` with a reduction.

Example:
    >>> loss_fn = SparseCategoricalCrossentropy(from_logits=True)
    >>> float(loss_fn([1, 0], [[0.0, 0.0], [0.0, 0.0]]))
    0.6931471...
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes, nest
from dtf.keras.losses import _fused, _utils
from dtf.keras.losses import functions as F
from dtf.keras.losses.loss import Loss, squeeze_or_expand_to_same_rank
from dtf.ops.creation_ops import cast
from dtf.tensor import Tensor

__all__ = [
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalHinge",
    "CosineSimilarity",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "LossFunctionWrapper",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
]


class LossFunctionWrapper(Loss):
    """A `Loss` computing `fn(y_true, y_pred, **kwargs)` per sample, then reducing.

    Args:
        fn: the loss function.
        reduction: see `Loss`.
        name: the loss's name (default "loss_function_wrapper", made unique).
        dtype: the dtype of the computation (default floatx).
        **kwargs: passed to `fn` on each call.

    Example:
        >>> def mean_fourth_power(y_true, y_pred):
        ...     return dtf.reduce_mean((y_pred - y_true) ** 4, axis=-1)
        >>> loss_fn = LossFunctionWrapper(mean_fourth_power)
        >>> float(loss_fn([[0.0]], [[2.0]]))
        16.0
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        if nest.is_nested(y_true) or nest.is_nested(y_pred):
            # a structure of targets and predictions: match ranks pair by pair (as Keras)
            pairs = [squeeze_or_expand_to_same_rank(t, p)
                     for t, p in zip(nest.flatten(y_true), nest.flatten(y_pred))]
            y_true = nest.pack_sequence_as(y_true, [t for t, _ in pairs])
            y_pred = nest.pack_sequence_as(y_pred, [p for _, p in pairs])
        else:
            y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        try:
            return self.fn(y_true, y_pred, **self._fn_kwargs)
        except F.ShapeMismatchError as e:
            raise _named_error(self, e) from None

    def get_config(self):
        from dtf.keras.saving.serialization import serialize_keras_object

        config = super().get_config()
        config["fn"] = serialize_keras_object(self.fn)
        config.update(serialize_keras_object(self._fn_kwargs))
        return config

    @classmethod
    def from_config(cls, config):
        if "fn" in config:
            from dtf.keras.saving.serialization import deserialize_keras_object

            config = dict(config)
            config["fn"] = deserialize_keras_object(config["fn"])
        return cls(**config)

    def __repr__(self):
        return f"<LossFunctionWrapper({self.fn}, kwargs={self._fn_kwargs})>"


class _BuiltinLoss(LossFunctionWrapper):
    """A built-in loss: its config is its constructor's arguments (the function is implied)."""

    _config_keys: tuple = ()

    def get_config(self):
        config = Loss.get_config(self)
        config.update({key: getattr(self, key) for key in self._config_keys})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MeanSquaredError(_BuiltinLoss):
    """mean(square(y_true - y_pred)) over the last axis, reduced over the batch.

    Example:
        >>> float(MeanSquaredError()([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]]))
        0.5
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(F.mean_squared_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(_BuiltinLoss):
    """mean(abs(y_true - y_pred)) over the last axis, reduced over the batch.

    Example:
        >>> float(MeanAbsoluteError()([[0.0, 1.0]], [[1.0, 1.0]]))
        0.5
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(F.mean_absolute_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsolutePercentageError(_BuiltinLoss):
    """100 * mean(abs((y_true - y_pred) / y_true)), reduced over the batch.

    Example:
        >>> round(float(MeanAbsolutePercentageError()([[100.0, 200.0]], [[90.0, 210.0]])), 4)
        7.5
    """

    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_absolute_percentage_error", dtype=None):
        super().__init__(F.mean_absolute_percentage_error, name=name, reduction=reduction,
                         dtype=dtype)


class MeanSquaredLogarithmicError(_BuiltinLoss):
    """mean(square(log(y_true + 1) - log(y_pred + 1))), reduced over the batch.

    Example:
        >>> float(MeanSquaredLogarithmicError()([[0.0]], [[0.0]]))
        0.0
    """

    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(F.mean_squared_logarithmic_error, name=name, reduction=reduction,
                         dtype=dtype)


class CosineSimilarity(_BuiltinLoss):
    """-cosine similarity of y_true and y_pred along `axis` (-1 is best), reduced.

    Example:
        >>> float(CosineSimilarity()([[0.0, 1.0]], [[0.0, 2.0]]))
        -1.0
    """

    _config_keys = ("axis",)

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):
        super().__init__(F.cosine_similarity, name=name, reduction=reduction, dtype=dtype,
                         axis=axis)
        self.axis = axis


class Huber(_BuiltinLoss):
    """The Huber loss: quadratic for errors up to `delta`, linear beyond, reduced.

    Example:
        >>> float(Huber(delta=1.0)([[0.0, 0.0]], [[0.5, 3.0]]))
        1.3125
    """

    _config_keys = ("delta",)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss",
                 dtype=None):
        super().__init__(F.huber, name=name, reduction=reduction, dtype=dtype, delta=delta)
        self.delta = delta


class LogCosh(_BuiltinLoss):
    """mean(log(cosh(y_pred - y_true))) over the last axis, reduced.

    Example:
        >>> float(LogCosh()([[0.0]], [[0.0]]))
        0.0
    """

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(F.log_cosh, name=name, reduction=reduction, dtype=dtype)


class Hinge(_BuiltinLoss):
    """mean(max(1 - y_true * y_pred, 0)) with labels -1/1 (0/1 converted), reduced.

    Example:
        >>> float(Hinge()([[1.0, 0.0]], [[0.5, -2.0]]))
        0.25
    """

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(F.hinge, name=name, reduction=reduction, dtype=dtype)


class SquaredHinge(_BuiltinLoss):
    """mean(max(1 - y_true * y_pred, 0) ** 2) with labels -1/1 (0/1 converted), reduced.

    Example:
        >>> float(SquaredHinge()([[1.0]], [[0.5]]))
        0.25
    """

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(F.squared_hinge, name=name, reduction=reduction, dtype=dtype)


class CategoricalHinge(_BuiltinLoss):
    """max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0), reduced.

    Example:
        >>> round(float(CategoricalHinge()([[0.0, 1.0]], [[0.3, 0.6]])), 4)
        0.7
    """

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(F.categorical_hinge, name=name, reduction=reduction, dtype=dtype)


class KLDivergence(_BuiltinLoss):
    """Kullback-Leibler divergence sum(y_true * log(y_true / y_pred)), reduced.

    Example:
        >>> float(KLDivergence()([[0.5, 0.5]], [[0.5, 0.5]]))
        0.0
    """

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(F.kl_divergence, name=name, reduction=reduction, dtype=dtype)


class Poisson(_BuiltinLoss):
    """mean(y_pred - y_true * log(y_pred)), reduced.

    Example:
        >>> round(float(Poisson()([[1.0]], [[1.0]])), 4)
        1.0
    """

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(F.poisson, name=name, reduction=reduction, dtype=dtype)


class BinaryCrossentropy(_BuiltinLoss):
    """Binary cross-entropy of 0/1 targets against probabilities (or logits), reduced.

    Args:
        from_logits: y_pred holds logits (any real number) rather than probabilities; the
            loss is then computed stably from the logits.
        label_smoothing: in [0, 1]: targets move towards 0.5 by this fraction.
        axis: the axis the per-sample mean is taken over.

    Example:
        >>> float(BinaryCrossentropy(from_logits=True)([[1.0], [0.0]], [[0.0], [0.0]]))
        0.6931471...
    """

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(F.binary_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class BinaryFocalCrossentropy(_BuiltinLoss):
    """Binary cross-entropy down-weighting easy examples by (1 - p_t) ** gamma, reduced.

    Example:
        >>> round(float(BinaryFocalCrossentropy(gamma=0.0)([[1.0]], [[0.5]])), 4)
        0.6931
    """

    _config_keys = ("from_logits", "label_smoothing", "axis", "apply_class_balancing", "alpha",
                    "gamma")

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_focal_crossentropy", dtype=None):
        super().__init__(F.binary_focal_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, apply_class_balancing=apply_class_balancing, alpha=alpha,
                         gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing,
                         axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis
        self.apply_class_balancing = apply_class_balancing
        self.alpha = alpha
        self.gamma = gamma


class CategoricalCrossentropy(_BuiltinLoss):
    """Cross-entropy of one-hot (or soft) targets against class probabilities (or logits).

    Args:
        from_logits: y_pred holds logits; the loss is then computed stably from them.
        label_smoothing: in [0, 1]: targets move towards 1 / num_classes by this fraction.
        axis: the class axis.

    Example:
        >>> float(CategoricalCrossentropy()([[0.0, 1.0]], [[0.5, 0.5]]))
        0.6931471...
    """

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(F.categorical_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing,
                         axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalFocalCrossentropy(_BuiltinLoss):
    """Categorical cross-entropy down-weighting easy examples by alpha * (1 - p) ** gamma.

    Example:
        >>> round(float(CategoricalFocalCrossentropy(alpha=1.0, gamma=0.0)(
        ...     [[0.0, 1.0]], [[0.5, 0.5]])), 4)
        0.6931
    """

    _config_keys = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy",
                 dtype=None):
        super().__init__(F.categorical_focal_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, alpha=alpha, gamma=gamma, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis
        self.alpha = alpha
        self.gamma = gamma


class SparseCategoricalCrossentropy(_BuiltinLoss):
    """Cross-entropy of integer class indices against class probabilities (or logits).

    Args:
        from_logits: y_pred holds logits; the loss is then computed stably from them (one
            fused op).
        ignore_class: a class index (e.g. for padding) whose entries are left out: their loss
            is 0 and the mean is over the other entries.
        axis: the class axis (only -1, the last one).

    Example:
        >>> loss_fn = SparseCategoricalCrossentropy(from_logits=True)
        >>> float(loss_fn([1, 0], [[0.0, 0.0], [0.0, 0.0]]))
        0.6931471...
    """

    _config_keys = ("from_logits", "ignore_class")
    _y_true_is_index = True

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 axis=-1, name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(F.sparse_categorical_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class,
                         axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis

    def __call__(self, y_true, y_pred, sample_weight=None):
        # The training-loop case, as one fused op (`_fused.py`): logits in the loss's dtype,
        # class-index labels, no weights, a mean or sum reduction.
        if sample_weight is None and self._fusable and (
                type(y_pred) is Tensor or getattr(y_pred, "_is_symbolic", False)) and \
                y_pred.dtype == self._dtype:
            labels = _fusable_labels(y_true)
            if labels is not None:
                divisor = _fused_divisor(labels, y_pred, self.reduction)
                if divisor:
                    return _fused.sparse_xent_reduce(y_pred, labels, divisor)
        return super().__call__(y_true, y_pred, sample_weight)

    @property
    def _fusable(self):
        return self.from_logits and self.ignore_class is None and self.axis == -1 and \
            type(self).call is LossFunctionWrapper.call and \
            type(self)._call_with_mask is SparseCategoricalCrossentropy._call_with_mask and \
            self.reduction not in (None, "none")

    def _call_with_mask(self, y_true, y_pred):
        if type(self).call is not LossFunctionWrapper.call:  # a subclass computes its own
            return self.call(y_true, y_pred), None
        try:
            return F.sparse_categorical_crossentropy_with_mask(
                y_true, y_pred, self.from_logits, self.ignore_class, self.axis)
        except F.ShapeMismatchError as e:
            raise _named_error(self, e) from None


def _fusable_labels(y_true):
    """y_true as an integer tensor for the fused op (float labels cast to int64, as Keras
    casts them), or None when it is not a tensor or array of numbers."""
    if not (type(y_true) is Tensor or getattr(y_true, "_is_symbolic", False)):
        if not isinstance(y_true, (np.ndarray, np.generic)) or y_true.dtype.kind not in "iuf":
            return None
        y_true = _utils.to_tensor(y_true)
    kind = y_true.dtype._kind
    if kind in "iu":
        return y_true
    return cast(y_true, dtypes.int64) if kind == "f" else None


def _fused_divisor(labels, logits, reduction):
    """The divisor of the fused op for these shapes (None: take the general path)."""
    ls, ps = _utils.static_shape(labels), _utils.static_shape(logits)
    if ls is None or ps is None or not ps or None in ls or None in ps:
        return None
    if len(ls) == len(ps) and ls[-1:] == (1,):
        ls = ls[:-1]
    if ls != ps[:-1]:
        return None  # the general path raises the error that names the shapes
    count = _utils.num_elements(ls)
    if not count:
        return None
    return 1.0 if reduction == "sum" else float(count)


def _named_error(loss, error):
    return ValueError(f"Loss {type(loss).__name__} (name={loss.name!r}) cannot pair its "
                      f"inputs. {error}")
