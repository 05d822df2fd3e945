"""The `Loss` base class and the reductions every loss shares.

A loss computes one value per sample in `call(y_true, y_pred)`; `__call__` converts the inputs
to the loss's dtype, calls it, weights the values by `sample_weight` and reduces them as
`reduction` says:

- "sum_over_batch_size" (the default) and "mean": the sum divided by the number of values;
- "mean_with_sample_weight": the sum divided by the sum of the sample weights;
- "sum": the sum;
- "none" or None: the values as they are.

Example:
    >>> class MeanCube(Loss):
    ...     def call(self, y_true, y_pred):
    ...         return dtf.reduce_mean((y_pred - y_true) ** 3, axis=-1)
    >>> float(MeanCube()([[0.0, 0.0]], [[1.0, 2.0]]))
    4.5
"""

from __future__ import annotations

from dtf import dtypes, nest
from dtf.keras.losses import _utils
from dtf.keras.naming import auto_name
from dtf.ops.array_ops import expand_dims, squeeze
from dtf.ops.creation_ops import cast
from dtf.ops.math_ops import divide_no_nan, multiply, truediv, where
from dtf.ops.reduce_ops import reduce_sum
from dtf.tensor import Tensor

__all__ = [
    "Loss",
    "apply_mask",
    "reduce_values",
    "reduce_weighted_values",
    "squeeze_or_expand_to_same_rank",
    "standardize_reduction",
]

_REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")
_MEAN_REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight")


class Loss:
    """Base class of losses: subclasses implement `call(y_true, y_pred)`.

    Args:
        name: the loss's name (default: the class name in snake_case).
        reduction: "sum_over_batch_size" (default), "sum", "mean", "mean_with_sample_weight",
            "none" or None (see the module docstring).
        dtype: the dtype the inputs are converted to and the loss computed in (default
            `keras.backend.floatx()`, "float32").

    Example:
        >>> class MeanSquared(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return dtf.reduce_mean(dtf.square(y_pred - y_true), axis=-1)
        >>> float(MeanSquared()([[0.0, 1.0]], [[1.0, 1.0]]))
        0.5
    """

    # Subclasses whose y_true holds class indices (sparse cross-entropy) keep integer labels
    # as they are instead of converting them to the float dtype (Keras converts them and casts
    # back, which gives the same indices).
    _y_true_is_index = False

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or auto_name(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self._dtype = dtypes.as_dtype(_utils.dtype_name(dtype) or _utils.floatx())
        if not self._dtype.is_floating:
            raise ValueError(f"Loss {type(self).__name__}: `dtype` must be a floating point "
                             f"dtype, got {self._dtype.name}.")

    @property
    def dtype(self) -> str:
        """The name of the dtype the loss computes in ("float32")."""
        return self._dtype.name

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss of `y_pred` against `y_true` (see the module docstring).

        Args:
            y_true: the targets.
            y_pred: the predictions.
            sample_weight: optional weights: a scalar (scales the loss), one per sample, or one
                per value `call` returns.

        Returns:
            A scalar Tensor, or the per-sample losses when the reduction is "none".
        """
        dtype = self._dtype
        # Fast exit for the common case: eager tensors already in the loss's dtype.
        if not (type(y_pred) is Tensor and y_pred._value.dtype == dtype._np):
            y_pred = _convert_structure(y_pred, dtype)
        if self._y_true_is_index:
            if not (type(y_true) is Tensor):
                y_true = _convert_structure(y_true, None)
        elif not (type(y_true) is Tensor and y_true._value.dtype == dtype._np):
            y_true = _convert_structure(y_true, dtype)
        values, mask = self._call_with_mask(y_true, y_pred)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction, dtype)

    def _call_with_mask(self, y_true, y_pred):
        """`call`'s values and their mask (None: every value counts); losses that skip some
        values (sparse cross-entropy's `ignore_class`) override this."""
        return self.call(y_true, y_pred), None

    def call(self, y_true, y_pred):
        """The loss of each sample: override in subclasses.

        Args:
            y_true: the targets, converted to the loss's dtype.
            y_pred: the predictions, converted to the loss's dtype.

        Returns:
            A Tensor of per-sample (or per-value) losses.
        """
        raise NotImplementedError(
            f"Loss {type(self).__name__} must implement `call(self, y_true, y_pred)`, "
            "returning the loss of each sample.")

    def get_config(self):
        """The constructor arguments as a dict."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        """A loss built from `get_config()`'s dict."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _convert_structure(x, dtype):
    """A Tensor of `dtype` (casting tensors and data); dicts and lists/tuples of tensors are
    converted item by item, as Keras maps the conversion over structures."""
    if isinstance(x, dict) or (isinstance(x, (list, tuple)) and x and
                               all(_utils.is_tensor_like(v) for v in x)):
        return nest.map_structure(lambda v: _utils.to_tensor(v, dtype), x)
    return _utils.to_tensor(x, dtype)


def standardize_reduction(reduction):
    """Checks `reduction` and returns it.

    Example:
        >>> standardize_reduction("sum")
        'sum'
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"Invalid value for argument `reduction`. Expected one of "
                         f"{set(_REDUCTIONS)}. Received: reduction={reduction!r}")
    return reduction


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Makes the ranks of `x1` and `x2` agree when they differ by one and the longer one ends
    in a dimension of 1: that dimension is squeezed, or, when the other one is rank 1 and
    `expand_rank_1`, the other one gets a trailing 1.

    Example:
        >>> a, b = squeeze_or_expand_to_same_rank(dtf.zeros([4]), dtf.zeros([4, 1]))
        >>> a.shape, b.shape
        (TensorShape([4, 1]), TensorShape([4, 1]))
    """
    r1, r2 = _utils.rank(x1), _utils.rank(x2)
    if r1 == r2 or r1 is None or r2 is None:
        return x1, x2
    if r1 == r2 + 1 and _utils.last_dim(x1) == 1:
        if r2 == 1 and expand_rank_1:
            x2 = expand_dims(x2, -1)
        else:
            x1 = squeeze(x1, -1)
    elif r2 == r1 + 1 and _utils.last_dim(x2) == 1:
        if r1 == 1 and expand_rank_1:
            x1 = expand_dims(x1, -1)
        else:
            x2 = squeeze(x2, -1)
    return x1, x2


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Reduces (already weighted) `values` as `reduction` says; scalars and empty vectors are
    returned as they are.

    Example:
        >>> float(reduce_values(dtf.constant([1.0, 2.0, 6.0])))
        3.0
    """
    shape = _utils.static_shape(values)
    if reduction is None or reduction == "none" or shape == () or shape == (0,):
        return values
    total = reduce_sum(values)
    if reduction not in _MEAN_REDUCTIONS:
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return divide_no_nan(total, cast(reduce_sum(sample_weight), total.dtype))
    count = _utils.num_elements(shape)
    if count:  # a known, nonzero count: a Python number (no op to compute it)
        return truediv(total, float(count))
    from dtf.ops.array_ops import size

    return divide_no_nan(total, cast(size(values), total.dtype))


def reduce_weighted_values(values, sample_weight=None, mask=None,
                           reduction="sum_over_batch_size", dtype=None):
    """Weights `values` by `sample_weight` and `mask` (both optional) and reduces them.

    Args:
        values: the per-sample (or per-value) losses.
        sample_weight: weights broadcast against `values` after their ranks are matched.
        mask: a bool tensor of the values that count (None: all of them). For the mean
            reductions, the masked-out values leave the count too.
        reduction: see `Loss`.
        dtype: the dtype of the result (default: that of `values`).

    Example:
        >>> float(reduce_weighted_values(dtf.constant([1.0, 3.0]), [1.0, 0.0], reduction="sum"))
        1.0
    """
    reduction = standardize_reduction(reduction)
    if not (type(values) is Tensor and (dtype is None or values._value.dtype == dtype._np)):
        values = _utils.to_tensor(values, dtype)
    if sample_weight is None and mask is None:
        return reduce_values(values, None, reduction)
    if sample_weight is not None:
        sample_weight = _utils.to_tensor(sample_weight, values.dtype)
    sample_weight = apply_mask(sample_weight, mask, values.dtype, reduction)
    values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
    _check_weight_shape(values, sample_weight)
    values = multiply(values, sample_weight)
    return reduce_values(values, sample_weight, reduction)


def apply_mask(sample_weight, mask, dtype, reduction):
    """Folds a bool `mask` into `sample_weight`. For "mean" and "sum_over_batch_size" the kept
    values are weighted by total/valid, so that dividing by the total count averages over the
    valid values only.

    Example:
        >>> apply_mask(None, dtf.constant([True, False]), dtf.float32, "sum").numpy()
        array([1., 0.], dtype=float32)
    """
    if mask is None:
        return sample_weight
    dtype = dtypes.as_dtype(dtype)
    mask = _utils.to_tensor(mask, None)
    if reduction in ("mean", "sum_over_batch_size"):
        from dtf.ops.array_ops import size

        float_mask = cast(mask, dtype)
        total = cast(size(mask), dtype)
        valid = reduce_sum(float_mask)  # may be 0
        float_mask = where(cast(mask, dtypes.bool), divide_no_nan(total, valid), 0.0)
    else:
        float_mask = cast(mask, dtype)
    if sample_weight is None:
        return float_mask
    sample_weight = cast(sample_weight, dtype)
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    return multiply(sample_weight, float_mask)


def _check_weight_shape(values, sample_weight):
    vs, ws = _utils.static_shape(values), _utils.static_shape(sample_weight)
    if vs is None or ws is None or _utils.broadcastable(vs, ws):
        return
    raise ValueError(
        f"`sample_weight` of shape {_utils.fmt(ws)} cannot weight losses of shape "
        f"{_utils.fmt(vs)}: it must be a scalar, have one weight per sample (shape "
        f"{_utils.fmt(vs[:1])}), or broadcast to the losses' shape.")

