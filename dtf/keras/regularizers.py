"""`keras.regularizers`: weight penalties added to a layer's losses.

A regularizer is called as `regularizer(w)` and returns a scalar tensor; layers collect it in
`layer.losses`. Formulas are Keras': `L2(l2)` is l2 * sum(w ** 2) (no 1/2), `L1(l1)` is
l1 * sum(|w|).

Example:
    >>> from dtf import keras
    >>> float(keras.regularizers.L2(0.1)(dtf.constant([1.0, 2.0])))
    0.5
"""

from __future__ import annotations

import inspect
import math

from dtf.keras.saving.serialization import deserialize_keras_object, serialize_keras_object
from dtf.ops.creation_ops import convert_to_tensor, eye
from dtf.ops.linalg_ops import matmul
from dtf.ops.math_ops import abs as _abs
from dtf.ops.math_ops import maximum, rsqrt, square
from dtf.ops.reduce_ops import reduce_sum
from dtf.tensor import Tensor

__all__ = [
    "L1",
    "L1L2",
    "L2",
    "OrthogonalRegularizer",
    "Regularizer",
    "deserialize",
    "get",
    "l1",
    "l1_l2",
    "l2",
    "orthogonal_regularizer",
    "serialize",
]


def _tensor(x):
    return x if type(x) is Tensor else convert_to_tensor(x)


def _validate_float_arg(value, name, who):
    if isinstance(value, bool) or not isinstance(value, (float, int)) or \
            math.isinf(value) or math.isnan(value) or value < 0:
        raise ValueError(f"{who}: Invalid value for argument {name}: expected a non-negative "
                         f"float. Received: {name}={value!r}")
    return float(value)


class Regularizer:
    """Base class of regularizers: `__call__(x)` returns a scalar penalty.

    Subclasses should define `get_config` (the constructor's arguments) so that they can be
    serialized.

    Example:
        >>> class Sum(keras.regularizers.Regularizer):
        ...     def __call__(self, x):
        ...         return dtf.reduce_sum(x)
        ...     def get_config(self):
        ...         return {}
        >>> float(Sum()(dtf.ones((2, 2))))
        4.0
    """

    def __call__(self, x):
        return 0.0

    @classmethod
    def from_config(cls, config):
        """The regularizer that `get_config()` describes."""
        return cls(**config)

    def get_config(self):
        """The constructor's arguments as a dict."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config(); "
                                  "define it (returning the constructor's arguments) to "
                                  "serialize this regularizer.")

    def __repr__(self):
        try:
            config = self.get_config()
        except NotImplementedError:
            return f"{type(self).__name__}()"
        args = ", ".join(f"{k}={v!r}" for k, v in config.items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x ** 2) (both default to 0).

    Example:
        >>> round(float(keras.regularizers.L1L2(l1=0.1, l2=0.1)(dtf.constant([1.0, -2.0]))), 6)
        0.8
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _validate_float_arg(0.0 if l1 is None else l1, "l1", "L1L2")
        self.l2 = _validate_float_arg(0.0 if l2 is None else l2, "l2", "L1L2")

    def __call__(self, x):
        x = _tensor(x)
        penalty = convert_to_tensor(0.0, dtype=x.dtype)
        if self.l1:
            penalty = penalty + self.l1 * reduce_sum(_abs(x))
        if self.l2:
            penalty = penalty + self.l2 * reduce_sum(square(x))
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """l1 * sum(|x|).

    Example:
        >>> float(keras.regularizers.L1(0.5)(dtf.constant([1.0, -2.0])))
        1.5
    """

    def __init__(self, l1=0.01):
        self.l1 = _validate_float_arg(0.01 if l1 is None else l1, "l1", "L1")

    def __call__(self, x):
        return self.l1 * reduce_sum(_abs(_tensor(x)))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """l2 * sum(x ** 2) (Keras' formula: no factor 1/2).

    Example:
        >>> float(keras.regularizers.L2(0.5)(dtf.constant([1.0, -2.0])))
        2.5
    """

    def __init__(self, l2=0.01):
        self.l2 = _validate_float_arg(0.01 if l2 is None else l2, "l2", "L2")

    def __call__(self, x):
        return self.l2 * reduce_sum(square(_tensor(x)))

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalizes non-orthogonal rows (or columns) of a 2-D weight: factor * 0.5 * the mean
    absolute cosine similarity over the pairs of rows (columns).

    Args:
        factor: the weight of the penalty.
        mode: "rows" or "columns".

    Example:
        >>> float(keras.regularizers.OrthogonalRegularizer(1.0)(dtf.eye(3)))
        0.0
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _validate_float_arg(factor, "factor", "OrthogonalRegularizer")
        if mode not in ("rows", "columns"):
            raise ValueError(f'OrthogonalRegularizer: Invalid value for argument `mode`. '
                             f'Expected one of {{"rows", "columns"}}. Received: mode={mode!r}')
        self.mode = mode

    def __call__(self, inputs):
        x = _tensor(inputs)
        if x.shape.rank != 2:
            raise ValueError(f"Inputs to OrthogonalRegularizer must have rank 2. Received: "
                             f"inputs.shape={x.shape}")
        axis = 1 if self.mode == "rows" else 0
        # Keras' normalize, x * min(rsqrt(sum(x^2)), 1 / epsilon), without dividing by zero
        from dtf.keras.backend import epsilon

        eps = epsilon()
        x = x * rsqrt(maximum(reduce_sum(square(x), axis=axis, keepdims=True), eps * eps))
        if self.mode == "rows":
            product, size = matmul(x, x, transpose_b=True), x.shape[0]
        else:
            product, size = matmul(x, x, transpose_a=True), x.shape[1]
        off_diagonal = product * (1.0 - eye(size, dtype=x.dtype))
        num_pairs = size * (size - 1.0) / 2.0
        return self.factor * 0.5 * reduce_sum(_abs(off_diagonal)) / num_pairs

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras' lowercase names are the classes themselves (so l1_l2() has no penalty by default,
# as in Keras 3).
l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer

_OBJECTS = {
    "Regularizer": Regularizer, "L1": L1, "L2": L2, "L1L2": L1L2,
    "OrthogonalRegularizer": OrthogonalRegularizer, "regularizer": Regularizer, "l1": L1,
    "l2": L2, "l1l2": L1L2, "l1_l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer,
}


def serialize(regularizer):
    """The Keras config of `regularizer`.

    Example:
        >>> keras.regularizers.serialize(keras.regularizers.L2(0.1))["config"]
        {'l2': 0.1}
    """
    return serialize_keras_object(regularizer)


def deserialize(config, custom_objects=None):
    """The regularizer a config (or name) describes.

    Example:
        >>> keras.regularizers.deserialize("l2")
        L2(l2=0.01)
    """
    return deserialize_keras_object(config, module_objects=_OBJECTS,
                                    custom_objects=custom_objects,
                                    printable_module_name="regularizer")


def get(identifier):
    """A regularizer from None (None), a name ("l2"), a config dict, a class, an instance or a
    callable.

    Raises:
        ValueError: the identifier names no regularizer or is not callable.

    Example:
        >>> keras.regularizers.get("l1")
        L1(l1=0.01)
    """
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        obj = deserialize(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}. Use one of "
                     f"{sorted(_OBJECTS)}, a keras.regularizers object or a callable.")
