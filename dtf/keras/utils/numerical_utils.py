"""`keras.utils.to_categorical` and `keras.utils.normalize`."""

from __future__ import annotations

import numpy as np

from dtf import dtypes

__all__ = ["normalize", "to_categorical"]


def _is_symbolic(x):
    return bool(getattr(x, "_is_symbolic", False))


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encodes integer class labels, as a NumPy array.

    A trailing axis of size 1 is dropped first (labels of shape (n, 1) give (n, num_classes)).

    Args:
        y: integer labels (a list, NumPy array or tensor) in [0, num_classes).
        num_classes: the number of classes; None for max(y) + 1.
        dtype: the dtype of the result.

    Returns:
        A NumPy array of shape `y.shape + (num_classes,)` (a symbolic tensor for a symbolic
        input).

    Raises:
        ValueError: a label is negative or not below `num_classes`.

    Example:
        >>> keras.utils.to_categorical([0, 2, 1], num_classes=3)
        array([[1., 0., 0.],
               [0., 0., 1.],
               [0., 1., 0.]], dtype=float32)
    """
    dtype = dtypes.as_dtype(dtype)
    if _is_symbolic(y):
        return _symbolic_to_categorical(y, num_classes, dtype)
    if hasattr(y, "numpy"):
        y = y.numpy()
    y = np.asarray(y)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"to_categorical: labels must be integers, got non-integer values "
                             f"in an array of dtype {y.dtype} (shape {y.shape}).")
    elif y.dtype.kind not in "iub":
        raise ValueError(f"to_categorical: labels must be integers, got an array of dtype "
                         f"{y.dtype} (shape {y.shape}).")
    y = y.astype(np.int64)
    shape = y.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    y = y.reshape(-1)
    if not num_classes:
        num_classes = int(y.max()) + 1 if y.size else 0
    num_classes = int(num_classes)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        bad = y[(y < 0) | (y >= num_classes)][0]
        raise ValueError(f"to_categorical: label {bad} is outside [0, {num_classes}): labels "
                         f"must lie in [0, num_classes). Pass a larger num_classes, or None "
                         "to count the classes from the labels.")
    categorical = np.zeros((y.size, num_classes), dtype=dtype.as_numpy_dtype)
    categorical[np.arange(y.size), y] = 1
    return categorical.reshape(shape + (num_classes,))


def _symbolic_to_categorical(y, num_classes, dtype):
    from dtf.ops.array_ops import squeeze
    from dtf.ops.creation_ops import cast
    from dtf.ops.indexing_ops import one_hot

    if not num_classes:
        raise ValueError("to_categorical: a symbolic input needs `num_classes` (its values "
                         "are not known yet).")
    shape = y.shape
    if shape.rank is not None and shape.rank > 1 and shape[-1] == 1:
        y = squeeze(y, axis=-1)
    if not y.dtype.is_integer:
        y = cast(y, "int64")
    return one_hot(y, int(num_classes), dtype=dtype)


def normalize(x, axis=-1, order=2):
    """`x` divided by its `order`-norm along `axis` (zero norms leave the values as they are).

    NumPy input gives a NumPy array (as Keras, a 1-D input comes back with a leading axis of
    size 1); tensors (and symbolic tensors) a tensor, computed as Keras does with an epsilon
    guard.

    Args:
        x: the array to normalize.
        axis: the axis along which the norms are taken.
        order: the order of the norm (2: Euclidean).

    Example:
        >>> keras.utils.normalize(np.array([[3.0, 4.0]]))
        array([[0.6, 0.8]])
    """
    if not (isinstance(order, int) and order >= 1):
        raise ValueError(f"normalize: Argument `order` must be an int >= 1. Received: "
                         f"order={order!r}")
    if not (hasattr(x, "numpy") or _is_symbolic(x)):
        x = np.asarray(x)
        norm = np.atleast_1d(np.linalg.norm(x, order, axis))
        norm[norm == 0] = 1
        return x / np.expand_dims(norm, axis if axis is not None else -1)
    return _tensor_normalize(x, axis, order)


def _tensor_normalize(x, axis, order):
    from dtf.keras.backend import epsilon
    from dtf.ops.array_ops import expand_dims
    from dtf.ops.creation_ops import convert_to_tensor
    from dtf.ops.linalg_ops import norm as _norm
    from dtf.ops.math_ops import maximum, rsqrt, square
    from dtf.ops.reduce_ops import reduce_sum

    x = convert_to_tensor(x)
    if x.shape.rank == 0:
        x = expand_dims(x, 0)
    eps = epsilon()
    if order == 2:
        # Keras' x * min(rsqrt(sum(x^2)), 1 / eps), written so that zero rows neither divide
        # by zero nor give nan gradients
        return x * rsqrt(maximum(reduce_sum(square(x), axis=axis, keepdims=True), eps * eps))
    norms = _norm(x, ord=order, axis=axis, keepdims=True)
    return x / maximum(norms, eps)
