"""`keras.activations`: activation functions, by object and by name.

Each function takes a tensor (or anything `dtf.convert_to_tensor` takes, symbolic tensors
included) and returns a tensor of the same shape, built from `dtf.nn`/`dtf.math` ops, so
gradients flow through them. `sigmoid` and `tanh` are the dtf ops themselves, and `relu` and
`softmax` go straight to theirs in the common case: Dense calls them on every step.

Example:
    >>> from dtf import keras
    >>> keras.activations.get("relu")(dtf.constant([-1.0, 2.0])).numpy()
    array([0., 2.], dtype=float32)
"""

from __future__ import annotations

import types

from dtf.keras.saving.serialization import (
    deserialize_keras_object,
    get_registered_name,
    serialize_keras_object,
)
from dtf.ops import math_ops as _math
from dtf.ops import nn_ops as _nn
from dtf.ops.array_ops import split as _split
from dtf.ops.creation_ops import cast as _cast
from dtf.ops.creation_ops import convert_to_tensor as _convert
from dtf.ops.creation_ops import zeros_like as _zeros_like
from dtf.ops.reduce_ops import reduce_max as _reduce_max
from dtf.ops.reduce_ops import reduce_sum as _reduce_sum
from dtf.tensor import Tensor

__all__ = [
    "celu", "deserialize", "elu", "exponential", "gelu", "get", "glu", "hard_shrink",
    "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh", "leaky_relu", "linear",
    "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu", "serialize", "sigmoid",
    "silu", "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid",
    "sparsemax", "squareplus", "swish", "tanh", "tanh_shrink", "threshold",
]

_nn_relu = _nn.relu
_nn_softmax = _nn.softmax


def _tensor(x):
    return x if type(x) is Tensor else _convert(x)


# -- the hot ones -----------------------------------------------------------------------------
def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit: max(x, 0), with Keras' options.

    Args:
        x: the input tensor.
        negative_slope: the slope below `threshold` (0: flat).
        max_value: the value where the output saturates (None: no saturation).
        threshold: values below it are set to 0 (or follow `negative_slope`).

    Example:
        >>> keras.activations.relu(dtf.constant([-10.0, -5.0, 0.0, 5.0, 10.0]),
        ...                        negative_slope=0.5, max_value=5.0).numpy()
        array([-5. , -2.5,  0. ,  5. ,  5. ], dtype=float32)
    """
    if max_value is None and not negative_slope and not threshold:
        return _nn_relu(x)
    x = _tensor(x)
    if negative_slope:
        if max_value is None and not threshold:
            return _nn.leaky_relu(x, alpha=negative_slope)
        negative_part = _nn_relu(-x + threshold) if threshold else _nn_relu(-x)
    clip_max = max_value is not None
    if threshold:
        out = _math.where(_math.greater(x, threshold), x, _zeros_like(x))
    elif max_value == 6:
        out, clip_max = _nn.relu6(x), False
    else:
        out = _nn_relu(x)
    if clip_max:
        out = _math.clip_by_value(out, 0, max_value)
    if negative_slope:
        out = out - negative_slope * negative_part
    return out


sigmoid = _math.sigmoid
tanh = _math.tanh


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along `axis` (an int, or a tuple of axes).

    Example:
        >>> keras.activations.softmax(dtf.constant([[1.0, 1.0]])).numpy()
        array([[0.5, 0.5]], dtype=float32)
    """
    if type(axis) is int:
        return _nn_softmax(x, axis=axis)
    x = _tensor(x)
    e = _math.exp(x - _reduce_max(x, axis=axis, keepdims=True))
    return e / _reduce_sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    """log(softmax(x)) along `axis`, computed stably.

    Example:
        >>> keras.activations.log_softmax(dtf.constant([0.0, 0.0])).numpy()
        array([-0.6931472, -0.6931472], dtype=float32)
    """
    if type(axis) is int:
        return _nn.log_softmax(x, axis=axis)
    x = _tensor(x)
    shifted = x - _reduce_max(x, axis=axis, keepdims=True)
    return shifted - _math.log(_reduce_sum(_math.exp(shifted), axis=axis, keepdims=True))


# -- the rest ---------------------------------------------------------------------------------
def linear(x):
    """The identity: returns `x` unchanged (the activation of `None`).

    Example:
        >>> keras.activations.linear(3.0)
        3.0
    """
    return x


def relu6(x):
    """min(max(x, 0), 6).

    Example:
        >>> keras.activations.relu6(dtf.constant([-1.0, 7.0])).numpy()
        array([0., 6.], dtype=float32)
    """
    return _nn.relu6(x)


def leaky_relu(x, negative_slope=0.2):
    """x if x > 0 else negative_slope * x.

    Example:
        >>> keras.activations.leaky_relu(dtf.constant([-1.0, 1.0])).numpy()
        array([-0.2,  1. ], dtype=float32)
    """
    return _nn.leaky_relu(x, alpha=negative_slope)


def elu(x, alpha=1.0):
    """x if x > 0 else alpha * (exp(x) - 1).

    Example:
        >>> keras.activations.elu(dtf.constant([0.0, 1.0])).numpy()
        array([0., 1.], dtype=float32)
    """
    out = _nn.elu(x)
    if alpha == 1:
        return out
    return _math.where(_math.greater(_tensor(x), 0), out, alpha * out)


def selu(x):
    """Scaled exponential linear unit (scale 1.0507..., alpha 1.6732...).

    Example:
        >>> float(keras.activations.selu(dtf.constant(1.0)))
        1.0507010221481323
    """
    return _nn.selu(x)


def celu(x, alpha=1.0):
    """max(x, 0) + min(0, alpha * (exp(x / alpha) - 1)).

    Example:
        >>> keras.activations.celu(dtf.constant([2.0])).numpy()
        array([2.], dtype=float32)
    """
    x = _tensor(x)
    negative = _math.where(_math.greater(x, 0), _zeros_like(x), x)
    return _nn_relu(x) + alpha * _math.expm1(negative / alpha)


def gelu(x, approximate=False):
    """Gaussian error linear unit: x * P(X <= x), X standard normal (`approximate`: the tanh
    approximation).

    Example:
        >>> float(keras.activations.gelu(dtf.constant(0.0)))
        0.0
    """
    return _nn.gelu(x, approximate=approximate)


def softplus(x):
    """log(exp(x) + 1), without overflow.

    Example:
        >>> float(keras.activations.softplus(dtf.constant(0.0)))
        0.6931471824645996
    """
    return _nn.softplus(x)


def softsign(x):
    """x / (|x| + 1).

    Example:
        >>> keras.activations.softsign(dtf.constant([1.0])).numpy()
        array([0.5], dtype=float32)
    """
    return _nn.softsign(x)


def silu(x):
    """x * sigmoid(x) (also `swish`).

    Example:
        >>> float(keras.activations.silu(dtf.constant(0.0)))
        0.0
    """
    return _nn.silu(x)


swish = silu


def exponential(x):
    """exp(x).

    Example:
        >>> float(keras.activations.exponential(dtf.constant(0.0)))
        1.0
    """
    return _math.exp(x)


def hard_sigmoid(x):
    """Piecewise linear sigmoid: relu6(x + 3) / 6 (0 below -3, 1 above 3).

    Example:
        >>> keras.activations.hard_sigmoid(dtf.constant([-4.0, 0.0, 4.0])).numpy()
        array([0. , 0.5, 1. ], dtype=float32)
    """
    return _nn.relu6(_tensor(x) + 3.0) * (1.0 / 6.0)


def hard_silu(x):
    """x * hard_sigmoid(x) (also `hard_swish`).

    Example:
        >>> keras.activations.hard_silu(dtf.constant([-4.0, 4.0])).numpy()
        array([-0.,  4.], dtype=float32)
    """
    x = _tensor(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def hard_tanh(x):
    """clip(x, -1, 1).

    Example:
        >>> keras.activations.hard_tanh(dtf.constant([-2.0, 0.5])).numpy()
        array([-1. ,  0.5], dtype=float32)
    """
    return _math.clip_by_value(x, -1.0, 1.0)


def mish(x):
    """x * tanh(softplus(x)).

    Example:
        >>> float(keras.activations.mish(dtf.constant(0.0)))
        0.0
    """
    x = _tensor(x)
    return x * _math.tanh(_nn.softplus(x))


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x), computed stably.

    Example:
        >>> float(keras.activations.log_sigmoid(dtf.constant(0.0)))
        -0.6931471824645996
    """
    return -_nn.softplus(-_tensor(x))


def tanh_shrink(x):
    """x - tanh(x).

    Example:
        >>> float(keras.activations.tanh_shrink(dtf.constant(0.0)))
        0.0
    """
    x = _tensor(x)
    return x - _math.tanh(x)


def hard_shrink(x, threshold=0.5):
    """x where |x| > threshold, else 0.

    Example:
        >>> keras.activations.hard_shrink(dtf.constant([-1.0, 0.2])).numpy()
        array([-1.,  0.], dtype=float32)
    """
    x = _tensor(x)
    return _math.where(_math.greater(_math.abs(x), threshold), x, _zeros_like(x))


def soft_shrink(x, threshold=0.5):
    """x - threshold above threshold, x + threshold below -threshold, else 0.

    Example:
        >>> keras.activations.soft_shrink(dtf.constant([-1.0, 0.2, 1.0])).numpy()
        array([-0.5,  0. ,  0.5], dtype=float32)
    """
    x = _tensor(x)
    zeros = _zeros_like(x)
    return _math.where(_math.greater(x, threshold), x - threshold,
                       _math.where(_math.less(x, -threshold), x + threshold, zeros))


def threshold(x, threshold, default_value):
    """x where x > threshold, else `default_value`.

    Example:
        >>> keras.activations.threshold(dtf.constant([0.0, 2.0]), 1.0, -1.0).numpy()
        array([-1.,  2.], dtype=float32)
    """
    x = _tensor(x)
    return _math.where(_math.greater(x, threshold), x,
                       _math.add(_zeros_like(x), _convert(default_value, dtype=x.dtype)))


def sparse_plus(x):
    """0 for x <= -1, x for x >= 1, (x + 1)**2 / 4 between.

    Example:
        >>> keras.activations.sparse_plus(dtf.constant([-2.0, 0.0, 2.0])).numpy()
        array([0.  , 0.25, 2.  ], dtype=float32)
    """
    x = _tensor(x)
    middle = _math.square(x + 1.0) * 0.25
    return _math.where(_math.less_equal(x, -1.0), _zeros_like(x),
                       _math.where(_math.greater_equal(x, 1.0), x, middle))


def sparse_sigmoid(x):
    """0 for x <= -1, 1 for x >= 1, (x + 1) / 2 between.

    Example:
        >>> keras.activations.sparse_sigmoid(dtf.constant([-2.0, 0.0, 2.0])).numpy()
        array([0. , 0.5, 1. ], dtype=float32)
    """
    return _math.clip_by_value((_tensor(x) + 1.0) * 0.5, 0.0, 1.0)


def squareplus(x, b=4):
    """(x + sqrt(x**2 + b)) / 2, a smooth relu.

    Example:
        >>> float(keras.activations.squareplus(dtf.constant(0.0)))
        1.0
    """
    x = _tensor(x)
    return (x + _math.sqrt(_math.square(x) + b)) * 0.5


def glu(x, axis=-1):
    """Gated linear unit: a * sigmoid(b), `x` split in halves a, b along `axis`.

    Example:
        >>> keras.activations.glu(dtf.constant([[1.0, 0.0]])).numpy()
        array([[0.5]], dtype=float32)
    """
    x = _tensor(x)
    size = x.shape[axis]
    if size is not None and size % 2:
        raise ValueError(f"glu: axis {axis} of x must have an even size, got shape {x.shape}.")
    a, b = _split(x, 2, axis=axis)
    return a * _math.sigmoid(b)


def sparsemax(x, axis=-1):
    """The Euclidean projection of `x` onto the probability simplex along `axis` (Martins &
    Astudillo): like softmax, it sums to 1, but small entries become exactly 0.

    Example:
        >>> keras.activations.sparsemax(dtf.constant([[1.0, 0.0, -5.0]])).numpy()
        array([[1., 0., 0.]], dtype=float32)
    """
    from dtf.ops.creation_ops import range as _range
    from dtf.ops.reduce_ops import cumsum as _cumsum
    from dtf.ops.sort_ops import sort as _sort

    x = _tensor(x)
    z = _sort(x, axis=axis, direction="DESCENDING")
    rank = x.shape.rank
    axis = axis % rank
    if x.shape[axis] is None:
        raise ValueError(f"sparsemax: the size of axis {axis} must be known, got shape "
                         f"{x.shape}.")
    k = _reshape_along(_range(1, x.shape[axis] + 1, dtype=x.dtype), rank, axis)
    cumulative = _cumsum(z, axis=axis)
    in_support = _cast(_math.greater(1.0 + k * z, cumulative), x.dtype)
    support = _reduce_sum(in_support, axis=axis, keepdims=True)
    tau = (_reduce_sum(in_support * z, axis=axis, keepdims=True) - 1.0) / support
    return _nn_relu(x - tau)


def _reshape_along(v, rank, axis):
    from dtf.ops.array_ops import reshape

    return reshape(v, [-1 if i == axis else 1 for i in range(rank)])


_OBJECTS = {fn.__name__: fn for fn in (
    celu, elu, exponential, gelu, glu, hard_shrink, hard_sigmoid, hard_silu, hard_tanh,
    leaky_relu, linear, log_sigmoid, log_softmax, mish, relu, relu6, selu, sigmoid, silu,
    soft_shrink, softmax, softplus, softsign, sparse_plus, sparse_sigmoid, sparsemax,
    squareplus, tanh, tanh_shrink, threshold)}
_OBJECTS.update({"swish": silu, "hard_swish": hard_silu})
_BUILTIN = frozenset(id(fn) for fn in _OBJECTS.values())


# -- serialization ----------------------------------------------------------------------------
def serialize(activation):
    """The name of a built-in activation ("relu"); a config dict for registered functions and
    activation objects.

    Example:
        >>> keras.activations.serialize(keras.activations.relu)
        'relu'
    """
    if id(activation) in _BUILTIN:
        return activation.__name__
    if isinstance(activation, types.FunctionType):
        config = serialize_keras_object(activation)
        config["config"] = get_registered_name(activation)
        return config
    if not hasattr(activation, "get_config"):
        raise ValueError(f"Unknown activation function {activation!r} cannot be serialized: "
                         "use a name from keras.activations, or register the function with "
                         "`@keras.saving.register_keras_serializable()`.")
    return serialize_keras_object(activation)


def deserialize(config, custom_objects=None):
    """The activation a name or config describes.

    Example:
        >>> keras.activations.deserialize("tanh") is keras.activations.tanh
        True
    """
    return deserialize_keras_object(config, module_objects=_OBJECTS,
                                    custom_objects=custom_objects,
                                    printable_module_name="activation function")


def get(identifier):
    """The activation for None (`linear`), a name, a config dict or a callable.

    Raises:
        ValueError: the identifier names no activation or is not callable.

    Example:
        >>> keras.activations.get(None) is keras.activations.linear
        True
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        obj = _OBJECTS.get(identifier)
        if obj is None:
            obj = deserialize(identifier)
    elif isinstance(identifier, dict):
        obj = deserialize(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}. "
                     f"Use one of {sorted(_OBJECTS)} or a callable.")
