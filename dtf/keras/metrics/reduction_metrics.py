"""Reducing metrics: `Sum`, `Mean`, and `MeanMetricWrapper` (the mean of any function of
(y_true, y_pred), e.g. a loss function or an accuracy).

Example:
    >>> m = Mean()
    >>> m.update_state([1.0, 3.0, 5.0, 7.0])
    >>> float(m.result())
    4.0
"""

from __future__ import annotations

import numpy as np

from dtf.keras.losses import _utils
from dtf.keras.losses.loss import apply_mask, squeeze_or_expand_to_same_rank
from dtf.keras.metrics.metric import Metric
from dtf.ops.array_ops import broadcast_to, shape
from dtf.ops.creation_ops import cast
from dtf.ops.math_ops import divide_no_nan, multiply, truediv
from dtf.ops.reduce_ops import reduce_mean, reduce_sum
from dtf.tensor import Tensor

__all__ = ["Mean", "MeanMetricWrapper", "Sum", "reduce_to_samplewise_values"]


def reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype):
    """Keras' reduction of `values` (and `sample_weight`) to one value per sample.

    The weights are matched to the values' rank, values beyond the weights' rank are reduced
    with `reduce_fn`, the values weighted, and both reduced to rank 1 (the first axis kept).

    Returns:
        (values, sample_weight): Tensors of `dtype`; sample_weight None when not given.
    """
    if not (type(values) is Tensor and values._value.dtype == dtype._np):
        values = _utils.to_tensor(values, dtype)
    if sample_weight is not None:
        sample_weight = _utils.to_tensor(sample_weight, dtype)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        weight_ndim, values_ndim = _utils.rank(sample_weight), _utils.rank(values)
        if values_ndim > weight_ndim:
            values = reduce_fn(values, axis=list(range(weight_ndim, values_ndim)))
        vs, ws = _utils.static_shape(values), _utils.static_shape(sample_weight)
        if vs is not None and ws is not None and not _utils.broadcastable(vs, ws):
            raise ValueError(f"`sample_weight` of shape {_utils.fmt(ws)} does not fit values of "
                             f"shape {_utils.fmt(vs)}: give a scalar, one weight per sample or "
                             "one per value.")
        sample_weight = broadcast_to(sample_weight, shape(values))
        values = multiply(values, sample_weight)
        if weight_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=list(range(1, weight_ndim)))
    values_ndim = _utils.rank(values)
    if values_ndim > 1:
        values = reduce_fn(values, axis=list(range(1, values_ndim)))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the values seen.

    Example:
        >>> m = Sum()
        >>> m.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1, 1, 0, 0])
        >>> float(m.result())
        4.0
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", dtype=self._dtype,
                                       name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = reduce_to_samplewise_values(values, sample_weight, reduce_sum, self._dtype)
        self.total.assign_add(reduce_sum(values), read_value=False)

    def reset_state(self):
        self.total.assign(np.zeros((), self._dtype.as_numpy_dtype), read_value=False)

    def result(self):
        return self.total.read_value()


class Mean(Metric):
    """The (weighted) mean of the values seen: total / count, both accumulated. Values of rank
    2 or more are first averaged per sample (over all but the first axis).

    Example:
        >>> m = Mean()
        >>> m.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1, 1, 0, 0])
        >>> float(m.result())
        2.0
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", dtype=self._dtype,
                                       name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype=self._dtype,
                                       name="count")
        self._np_dtype = self._dtype.as_numpy_dtype

    def update_state(self, values, sample_weight=None):
        if type(values) is Tensor and values._value.ndim == 0 and \
                (sample_weight is None or type(sample_weight) in (int, float)):
            # a scalar (fit's loss tracker, weighted by the batch size): no reduction to do
            weight = self._np_dtype(1 if sample_weight is None else sample_weight)
            value = values._value.astype(self._np_dtype, copy=False)
            self.total.assign_add(value * weight, read_value=False)
            self.count.assign_add(weight, read_value=False)
            return
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight,
                                                            reduce_mean, self._dtype)
        self.total.assign_add(reduce_sum(values), read_value=False)
        if sample_weight is not None:
            self.count.assign_add(reduce_sum(sample_weight), read_value=False)
            return
        dims = _utils.static_shape(values)
        if dims is None or (dims and dims[0] is None):  # a batch size known only at run time
            self.count.assign_add(cast(shape(values)[0], self._dtype), read_value=False)
        else:
            self.count.assign_add(self._np_dtype(dims[0] if dims else 1), read_value=False)

    def reset_state(self):
        zero = np.zeros((), self._np_dtype)
        self.total.assign(zero, read_value=False)
        self.count.assign(zero, read_value=False)

    def result(self):
        total, count = self.total.read_value(), self.count.read_value()
        if type(count) is Tensor and count._value != 0:  # eager: a plain division will do
            return truediv(total, count)
        return divide_no_nan(total, count)


class MeanMetricWrapper(Mean):
    """The mean of `fn(y_true, y_pred, **kwargs)` over all samples seen.

    Args:
        fn: a function of (y_true, y_pred) giving one value per sample (a loss function, an
            accuracy function, ...).
        name: the metric's name.
        dtype: the dtype of the state.
        **kwargs: passed to `fn`.

    Example:
        >>> from dtf.keras import losses
        >>> m = MeanMetricWrapper(losses.mean_absolute_error, name="mae")
        >>> float(m([[0.0, 1.0]], [[1.0, 1.0]]))
        0.5
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(values, sample_weight=sample_weight)

    def _update_masked(self, values, mask, sample_weight):
        """Mean.update_state of `values` whose `mask` (bool, or None) says which count."""
        if mask is not None:
            if sample_weight is not None:
                sample_weight = _utils.to_tensor(sample_weight, self._dtype)
            sample_weight = apply_mask(sample_weight, mask, self._dtype, "sum")
        Mean.update_state(self, values, sample_weight=sample_weight)

    def get_config(self):
        from dtf.keras.saving.serialization import serialize_keras_object

        config = super().get_config()
        config["fn"] = serialize_keras_object(self._fn)
        config.update(serialize_keras_object(self._fn_kwargs))
        return config

    @classmethod
    def from_config(cls, config):
        if "fn" in config:
            from dtf.keras.saving.serialization import deserialize_keras_object

            config = dict(config)
            config["fn"] = deserialize_keras_object(config["fn"])
        return cls(**config)


class _BuiltinMeanMetric(MeanMetricWrapper):
    """A built-in wrapper metric: its config is its constructor's arguments."""

    _config_keys: tuple = ()

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype}
        config.update({key: getattr(self, key) for key in self._config_keys})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
