"""`keras.constraints`: projections applied to a weight after each optimizer update.

A constraint is called as `constraint(w)` and returns the projected value (the optimizer then
assigns it to the variable).

Example:
    >>> from dtf import keras
    >>> keras.constraints.NonNeg()(dtf.constant([-1.0, 2.0])).numpy()
    array([0., 2.], dtype=float32)
"""

from __future__ import annotations

import inspect

from dtf.keras import backend as _backend
from dtf.keras.saving.serialization import deserialize_keras_object, serialize_keras_object
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.math_ops import clip_by_value, maximum, sqrt, square
from dtf.ops.reduce_ops import reduce_sum
from dtf.tensor import Tensor

__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "deserialize",
    "get",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "serialize",
    "unit_norm",
]


def _tensor(w):
    return w if type(w) is Tensor else convert_to_tensor(w)


def _norms(w, axis):
    return sqrt(reduce_sum(square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class of weight constraints: `__call__(w)` returns the constrained value (the
    base class returns `w` unchanged).

    Example:
        >>> class Clip(keras.constraints.Constraint):
        ...     def __call__(self, w):
        ...         return dtf.clip_by_value(w, -1.0, 1.0)
        >>> Clip()(dtf.constant([3.0])).numpy()
        array([1.], dtype=float32)
    """

    def __call__(self, w):
        return w

    def get_config(self):
        """The constructor's arguments as a dict."""
        return {}

    @classmethod
    def from_config(cls, config):
        """The constraint that `get_config()` describes."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Rescales each slice along `axis` whose L2 norm exceeds `max_value` down to it.

    Args:
        max_value: the largest norm allowed.
        axis: the axes the norms are computed over (0 for a Dense kernel: per output unit).

    Example:
        >>> keras.constraints.MaxNorm(1.0)(dtf.constant([[3.0], [4.0]])).numpy().round(4)
        array([[0.6],
               [0.8]], dtype=float32)
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = _tensor(w)
        norms = _norms(w, self.axis)
        desired = clip_by_value(norms, 0, self.max_value)
        return w * (desired / (_backend.epsilon() + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Sets negative values to 0.

    Example:
        >>> keras.constraints.NonNeg()(dtf.constant([-0.5])).numpy()
        array([0.], dtype=float32)
    """

    def __call__(self, w):
        return maximum(_tensor(w), 0)


class UnitNorm(Constraint):
    """Rescales each slice along `axis` to L2 norm 1.

    Example:
        >>> keras.constraints.UnitNorm()(dtf.constant([[3.0], [4.0]])).numpy().round(4)
        array([[0.6],
               [0.8]], dtype=float32)
    """

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = _tensor(w)
        return w / (_backend.epsilon() + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves the L2 norm of each slice along `axis` into [min_value, max_value]: the new norm
    is rate * clip(norm, min, max) + (1 - rate) * norm.

    Example:
        >>> w = keras.constraints.MinMaxNorm(1.0, 2.0)(dtf.constant([[0.3], [0.4]]))
        >>> round(float(dtf.norm(w)), 5)
        1.0
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = _tensor(w)
        norms = _norms(w, self.axis)
        desired = self.rate * clip_by_value(norms, self.min_value, self.max_value) + \
            (1 - self.rate) * norms
        return w * (desired / (_backend.epsilon() + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


# Keras' lowercase names are the classes themselves.
max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm

_OBJECTS = {
    "Constraint": Constraint, "MaxNorm": MaxNorm, "MinMaxNorm": MinMaxNorm, "NonNeg": NonNeg,
    "UnitNorm": UnitNorm, "constraint": Constraint, "max_norm": MaxNorm,
    "min_max_norm": MinMaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
}


def serialize(constraint):
    """The Keras config of `constraint`.

    Example:
        >>> keras.constraints.serialize(keras.constraints.MaxNorm(3))["config"]
        {'max_value': 3, 'axis': 0}
    """
    return serialize_keras_object(constraint)


def deserialize(config, custom_objects=None):
    """The constraint a config (or name) describes.

    Example:
        >>> keras.constraints.deserialize("non_neg")
        NonNeg()
    """
    return deserialize_keras_object(config, module_objects=_OBJECTS,
                                    custom_objects=custom_objects,
                                    printable_module_name="constraint")


def get(identifier):
    """A constraint from None (None), a name ("max_norm"), a config dict, a class, an
    instance or a callable.

    Raises:
        ValueError: the identifier names no constraint or is not callable.

    Example:
        >>> keras.constraints.get("unit_norm")
        UnitNorm(axis=0)
    """
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        obj = deserialize(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret constraint identifier: {identifier!r}. Use one of "
                     f"{sorted(_OBJECTS)}, a keras.constraints object or a callable.")
