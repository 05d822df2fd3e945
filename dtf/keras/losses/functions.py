"""Loss functions: `fn(y_true, y_pred, ...)` -> the loss of each sample (no reduction).

They follow Keras 3's formulas: y_pred is converted to a Tensor (integers to floatx), y_true
to y_pred's dtype; ranks that differ by a trailing dimension of 1 are matched first. Losses of
probabilities clip them to [epsilon, 1 - epsilon] (`keras.backend.epsilon()`, 1e-7) before
taking logs; with `from_logits=True` the cross-entropies use the fused, overflow-free
`dtf.nn.*_cross_entropy_with_logits` ops, so extreme logits give finite losses and gradients.

Shapes that do not fit raise `ShapeMismatchError` (a ValueError) naming the function and both
shapes; the `Loss` classes repeat the error with the loss's name.

Example:
    >>> mean_squared_error([[0.0, 1.0]], [[1.0, 1.0]]).numpy()
    array([0.5], dtype=float32)
"""

from __future__ import annotations

import warnings

import numpy as np

from dtf import dtypes
from dtf.keras.losses import _utils
from dtf.keras.losses.loss import squeeze_or_expand_to_same_rank
from dtf.ops import nn_ops
from dtf.ops.array_ops import expand_dims, squeeze
from dtf.ops.creation_ops import cast, convert_to_tensor
from dtf.ops.math_ops import (
    abs,
    clip_by_value,
    equal,
    less_equal,
    log,
    logical_or,
    maximum,
    not_equal,
    pow,
    rsqrt,
    square,
    squared_difference,
    where,
)
from dtf.ops.reduce_ops import reduce_all, reduce_max, reduce_mean, reduce_sum
from dtf.tensor import Tensor

__all__ = [
    "ShapeMismatchError",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "cosine_similarity",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
]


class ShapeMismatchError(ValueError):
    """y_true and y_pred have shapes a loss cannot pair up."""


# -- argument handling ------------------------------------------------------------------------
def _pair(y_true, y_pred):
    """(y_true, y_pred) as Tensors of y_pred's (floating) dtype."""
    if not (type(y_pred) is Tensor and y_pred._value.dtype.kind == "f"):
        y_pred = _utils.to_float(y_pred)
    if not (type(y_true) is Tensor and y_true._value.dtype == y_pred._value.dtype):
        y_true = _utils.to_tensor(y_true, y_pred.dtype)
    return y_true, y_pred


def _matched(y_true, y_pred):
    """`_pair` and then ranks matched (a trailing dimension of 1 squeezed or added)."""
    y_true, y_pred = _pair(y_true, y_pred)
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


def _mismatch(fn, y_true, y_pred, requirement):
    return ShapeMismatchError(
        f"{fn}: `y_true` and `y_pred` have incompatible shapes: "
        f"y_true.shape={_utils.fmt(_utils.static_shape(y_true))}, "
        f"y_pred.shape={_utils.fmt(_utils.static_shape(y_pred))}. {requirement}")


def _check_broadcastable(fn, y_true, y_pred):
    ts, ps = _utils.static_shape(y_true), _utils.static_shape(y_pred)
    if ts is not None and ps is not None and not _utils.broadcastable(ts, ps):
        raise _mismatch(fn, y_true, y_pred, "They must be equal (or broadcast together); give "
                        "one target per prediction.")


def _check_same_shape(fn, y_true, y_pred):
    ts, ps = _utils.static_shape(y_true), _utils.static_shape(y_pred)
    if ts is None or ps is None:
        return
    if len(ts) != len(ps):
        raise _mismatch(fn, y_true, y_pred, "They must have the same rank (ndim).")
    if not _utils.same_shape(ts, ps):
        raise _mismatch(fn, y_true, y_pred, "They must have the same shape.")


def _const(value, like):
    """A scalar constant in `like`'s dtype."""
    return convert_to_tensor(np.asarray(value, dtype=like.dtype.as_numpy_dtype))


def _check_axis(fn, axis):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(  # noqa: TRY004  (Keras raises ValueError here)
            f"{fn}: `axis` must be of type `int`. Received: axis={axis!r} of type {type(axis)}")


# -- regression -------------------------------------------------------------------------------
def mean_squared_error(y_true, y_pred):
    """mean(square(y_true - y_pred), axis=-1).

    Example:
        >>> mean_squared_error([[0.0, 2.0]], [[1.0, 1.0]]).numpy()
        array([1.], dtype=float32)
    """
    y_true, y_pred = _matched(y_true, y_pred)
    _check_broadcastable("mean_squared_error", y_true, y_pred)
    return reduce_mean(squared_difference(y_true, y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(abs(y_true - y_pred), axis=-1).

    Example:
        >>> mean_absolute_error([[0.0, 2.0]], [[1.0, 1.0]]).numpy()
        array([1.], dtype=float32)
    """
    y_true, y_pred = _matched(y_true, y_pred)
    _check_broadcastable("mean_absolute_error", y_true, y_pred)
    return reduce_mean(abs(y_true - y_pred), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(abs((y_true - y_pred) / max(abs(y_true), epsilon)), axis=-1).

    Example:
        >>> mean_absolute_percentage_error([[100.0]], [[90.0]]).numpy()
        array([10.], dtype=float32)
    """
    y_true, y_pred = _matched(y_true, y_pred)
    _check_broadcastable("mean_absolute_percentage_error", y_true, y_pred)
    eps = _const(_utils.epsilon(), y_pred)
    diff = abs((y_true - y_pred) / maximum(abs(y_true), eps))
    return 100.0 * reduce_mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean(square(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)), axis=-1).

    Example:
        >>> mean_squared_logarithmic_error([[0.0]], [[0.0]]).numpy()
        array([0.], dtype=float32)
    """
    y_true, y_pred = _matched(y_true, y_pred)
    _check_broadcastable("mean_squared_logarithmic_error", y_true, y_pred)
    eps = _const(_utils.epsilon(), y_pred)
    first_log = log(maximum(y_pred, eps) + 1.0)
    second_log = log(maximum(y_true, eps) + 1.0)
    return reduce_mean(squared_difference(first_log, second_log), axis=-1)


def _l2_normalize(x, axis):
    """Keras' `normalize(x, axis, order=2)`: x * min(rsqrt(sum(x ** 2)), 1 / epsilon),
    computed as x * rsqrt(max(sum(x ** 2), epsilon ** 2)) (the same, since rsqrt decreases)
    so that a zero vector divides nothing by zero."""
    square_sum = reduce_sum(square(x), axis=axis, keepdims=True)
    return x * rsqrt(maximum(square_sum, _const(_utils.epsilon() ** 2, x)))


def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis): -1 for vectors pointing the
    same way, 0 for orthogonal ones (or a zero vector).

    Example:
        >>> cosine_similarity([[0.0, 1.0]], [[0.0, 3.0]]).numpy()
        array([-1.], dtype=float32)
    """
    y_true, y_pred = _matched(y_true, y_pred)
    _check_broadcastable("cosine_similarity", y_true, y_pred)
    return -reduce_sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


def huber(y_true, y_pred, delta=1.0):
    """mean(0.5 * e ** 2 if |e| <= delta else delta * |e| - 0.5 * delta ** 2, axis=-1), where
    e = y_pred - y_true.

    Example:
        >>> huber([[0.0, 0.0]], [[0.5, 3.0]]).numpy()
        array([1.3125], dtype=float32)
    """
    y_true, y_pred = _matched(y_true, y_pred)
    _check_broadcastable("huber", y_true, y_pred)
    delta = _utils.to_tensor(delta, y_pred.dtype)
    error = y_pred - y_true
    abs_error = abs(error)
    half = _const(0.5, y_pred)
    return reduce_mean(where(less_equal(abs_error, delta), half * square(error),
                             delta * abs_error - half * square(delta)), axis=-1)


def log_cosh(y_true, y_pred):
    """mean(log(cosh(y_pred - y_true)), axis=-1), computed as x + softplus(-2x) - log(2) so
    that large errors do not overflow.

    Example:
        >>> log_cosh([[0.0]], [[0.0]]).numpy()
        array([0.], dtype=float32)
    """
    y_true, y_pred = _matched(y_true, y_pred)
    _check_broadcastable("log_cosh", y_true, y_pred)
    x = y_pred - y_true
    return reduce_mean(x + nn_ops.softplus(x * -2.0) - _const(np.log(2.0), x), axis=-1)


# -- probabilistic ----------------------------------------------------------------------------
def kl_divergence(y_true, y_pred):
    """sum(y_true * log(y_true / y_pred), axis=-1), both clipped to [epsilon, 1].

    Example:
        >>> kl_divergence([[0.5, 0.5]], [[0.5, 0.5]]).numpy()
        array([0.], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcastable("kl_divergence", y_true, y_pred)
    eps = _utils.epsilon()
    y_true = clip_by_value(y_true, eps, 1.0)
    y_pred = clip_by_value(y_pred, eps, 1.0)
    return reduce_sum(y_true * log(y_true / y_pred), axis=-1)


def poisson(y_true, y_pred):
    """mean(y_pred - y_true * log(y_pred + epsilon), axis=-1).

    Example:
        >>> poisson([[1.0]], [[1.0]]).numpy().round(4)
        array([1.], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcastable("poisson", y_true, y_pred)
    eps = _const(_utils.epsilon(), y_pred)
    return reduce_mean(y_pred - y_true * log(y_pred + eps), axis=-1)


def _bce_values(fn, target, output, from_logits):
    """Keras' backend binary cross-entropy: elementwise, no reduction."""
    _check_same_shape(fn, target, output)
    if from_logits:
        return nn_ops.sigmoid_cross_entropy_with_logits(labels=target, logits=output)
    eps = _utils.epsilon()
    output = clip_by_value(output, eps, 1.0 - eps)
    bce = target * log(output)
    bce = bce + (1.0 - target) * log(1.0 - output)
    return -bce


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """mean(-(y * log(p) + (1 - y) * log(1 - p)), axis) with p = y_pred (clipped to
    [epsilon, 1 - epsilon]) or sigmoid(y_pred) when `from_logits`.

    Args:
        label_smoothing: in [0, 1]: targets move towards 0.5 by this fraction.

    Example:
        >>> binary_crossentropy([[1.0]], [[0.0]], from_logits=True).numpy()
        array([0.6931472], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    values = _bce_values("binary_crossentropy", y_true, y_pred, from_logits)
    return reduce_mean(values, axis=axis)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy scaled by (1 - p_t) ** gamma (Lin et al., 2017), which weights
    down the well-classified examples; with `apply_class_balancing`, positives are weighted
    by `alpha` and negatives by 1 - alpha.

    Example:
        >>> binary_focal_crossentropy([[1.0]], [[0.5]], gamma=0.0).numpy().round(4)
        array([0.6931], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = nn_ops.sigmoid(y_pred)
    bce = _bce_values("binary_focal_crossentropy", y_true, y_pred, False)
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal_bce = pow(1.0 - p_t, _const(gamma, p_t)) * bce
    if apply_class_balancing:
        focal_bce = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal_bce
    return reduce_mean(focal_bce, axis=axis)


def _smooth_categorical(y_true, label_smoothing):
    classes = _utils.last_dim(y_true)
    if classes is None:
        from dtf.ops.array_ops import shape

        classes = cast(shape(y_true)[-1], y_true.dtype)
    else:
        classes = float(classes)
    return y_true * (1.0 - label_smoothing) + label_smoothing / classes


def _warn_one_class(fn, y_pred):
    if _utils.rank(y_pred) and _utils.last_dim(y_pred) == 1:
        warnings.warn(f"In loss {fn}, expected y_pred.shape to be (batch_size, num_classes) "
                      f"with num_classes > 1. Received: y_pred.shape="
                      f"{_utils.fmt(_utils.static_shape(y_pred))}. Consider using "
                      "'binary_crossentropy' if you only have 2 classes.", SyntaxWarning,
                      stacklevel=3)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-sum(y_true * log(p), axis) with p = y_pred normalised to sum 1 along `axis` and
    clipped to [epsilon, 1 - epsilon], or softmax(y_pred) when `from_logits`.

    Args:
        label_smoothing: in [0, 1]: targets move towards 1 / num_classes by this fraction.

    Example:
        >>> categorical_crossentropy([[0.0, 1.0]], [[0.5, 0.5]]).numpy()
        array([0.6931472], dtype=float32)
    """
    fn = "categorical_crossentropy"
    _check_axis(fn, axis)
    y_true, y_pred = _pair(y_true, y_pred)
    _warn_one_class(fn, y_pred)
    if label_smoothing:
        y_true = _smooth_categorical(y_true, label_smoothing)
    if _utils.rank(y_true) == 0:
        raise _mismatch(fn, y_true, y_pred, "They must be at least rank 1.")
    _check_same_shape(fn, y_true, y_pred)
    if from_logits:
        return nn_ops.softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred, axis=axis)
    eps = _utils.epsilon()
    output = y_pred / reduce_sum(y_pred, axis=axis, keepdims=True)
    output = clip_by_value(output, eps, 1.0 - eps)
    return -reduce_sum(y_true * log(output), axis=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """Categorical cross-entropy with each class's term scaled by alpha * (1 - p) ** gamma
    (Lin et al., 2017).

    Example:
        >>> categorical_focal_crossentropy([[0.0, 1.0]], [[0.5, 0.5]], alpha=1.0,
        ...                                gamma=0.0).numpy()
        array([0.6931472], dtype=float32)
    """
    fn = "categorical_focal_crossentropy"
    _check_axis(fn, axis)
    y_true, y_pred = _pair(y_true, y_pred)
    _warn_one_class(fn, y_pred)
    if label_smoothing:
        y_true = _smooth_categorical(y_true, label_smoothing)
    _check_same_shape(fn, y_true, y_pred)
    if from_logits:
        y_pred = nn_ops.softmax(y_pred, axis=axis)
    eps = _utils.epsilon()
    output = y_pred / reduce_sum(y_pred, axis=axis, keepdims=True)
    output = clip_by_value(output, eps, 1.0 - eps)
    cce = -y_true * log(output)
    focal = pow(1.0 - output, _const(gamma, output)) * alpha * cce
    return reduce_sum(focal, axis=axis)


def _sparse_labels(fn, y_true, y_pred, axis):
    """Integer class indices of shape y_pred.shape[:-1] (a trailing 1 squeezed)."""
    y_pred_rank = _utils.rank(y_pred)
    if y_pred_rank == 0:
        raise ValueError(f"{fn}: `y_pred` must be at least rank 1 (one score per class). "
                         f"Received: y_pred.shape={_utils.fmt(_utils.static_shape(y_pred))}")
    if y_pred_rank is not None and axis != -1 and axis != y_pred_rank - 1:
        raise ValueError(f"{fn}: only axis=-1 (the last axis) is supported. Received: "
                         f"axis={axis}")
    labels = y_true
    label_rank = _utils.rank(labels)
    if label_rank is not None and label_rank == y_pred_rank and label_rank and \
            _utils.last_dim(labels) == 1:
        labels = squeeze(labels, -1)
    if labels.dtype not in (dtypes.int32, dtypes.int64):
        labels = cast(labels, dtypes.int64)
    ls, ps = _utils.static_shape(labels), _utils.static_shape(y_pred)
    if ls is not None and ps is not None:
        if len(ls) != len(ps) - 1:
            raise _mismatch(fn, y_true, y_pred, "y_true must hold one class index per row of "
                            "y_pred: rank(y_pred) - 1 dimensions (or a trailing 1 more), with "
                            "the class scores in y_pred's last dimension.")
        if not _utils.same_shape(ls, ps[:-1]):
            raise _mismatch(fn, y_true, y_pred, "They must have the same shape up until the "
                            "last dimension (the number of samples must agree).")
    return labels


def sparse_categorical_crossentropy_with_mask(y_true, y_pred, from_logits=False,
                                              ignore_class=None, axis=-1):
    """`sparse_categorical_crossentropy` and the mask of the values that count (None when
    `ignore_class` is None): the `Loss` and metric classes average over valid entries only."""
    fn = "sparse_categorical_crossentropy"
    y_true = _utils.to_tensor(y_true)
    if not (type(y_pred) is Tensor and y_pred._value.dtype.kind == "f"):
        y_pred = _utils.to_float(y_pred)
    labels = _sparse_labels(fn, y_true, y_pred, axis)
    valid = None
    if ignore_class is not None:
        valid = not_equal(labels, _utils.to_tensor(ignore_class, labels.dtype))
        labels = where(valid, labels, 0)
        y_pred = where(expand_dims(valid, -1), y_pred, 0.0)
    if not from_logits:
        eps = _utils.epsilon()
        y_pred = log(clip_by_value(y_pred, eps, 1.0 - eps))
    values = nn_ops.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=y_pred)
    if valid is not None:
        values = where(valid, values, 0.0)
    return values, valid


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """-log(p[y_true]) per sample, with p = y_pred (clipped to [epsilon, 1 - epsilon]) or
    softmax(y_pred) when `from_logits`; y_true holds integer class indices.

    Args:
        ignore_class: a class index whose entries get a loss of 0 (e.g. padding); the
            `SparseCategoricalCrossentropy` loss also leaves them out of its mean.

    Example:
        >>> sparse_categorical_crossentropy([1], [[0.0, 0.0]], from_logits=True).numpy()
        array([0.6931472], dtype=float32)
    """
    return sparse_categorical_crossentropy_with_mask(y_true, y_pred, from_logits,
                                                     ignore_class, axis)[0]


# -- hinge ------------------------------------------------------------------------------------
def _hinge_labels(y_true):
    """0/1 labels become -1/1 (when every label is 0 or 1); other labels stay as they are."""
    is_binary = reduce_all(logical_or(equal(y_true, 0.0), equal(y_true, 1.0)))
    return where(is_binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0), axis=-1), with labels -1/1 (0/1 are converted).

    Example:
        >>> hinge([[1.0, 0.0]], [[0.5, -2.0]]).numpy()
        array([0.25], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcastable("hinge", y_true, y_pred)
    y_true = _hinge_labels(y_true)
    return reduce_mean(maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


def squared_hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0) ** 2, axis=-1), with labels -1/1 (0/1 are converted).

    Example:
        >>> squared_hinge([[1.0]], [[0.5]]).numpy()
        array([0.25], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcastable("squared_hinge", y_true, y_pred)
    y_true = _hinge_labels(y_true)
    return reduce_mean(square(maximum(1.0 - y_true * y_pred, 0.0)), axis=-1)


def categorical_hinge(y_true, y_pred):
    """max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0) along the last axis.

    Example:
        >>> categorical_hinge([[0.0, 1.0]], [[0.3, 0.6]]).numpy()
        array([0.7], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcastable("categorical_hinge", y_true, y_pred)
    pos = reduce_sum(y_true * y_pred, axis=-1)
    neg = reduce_max((1.0 - y_true) * y_pred, axis=-1)
    return maximum(neg - pos + 1.0, 0.0)

