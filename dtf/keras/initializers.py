"""`keras.initializers`: how layers fill their weights.

An initializer is called as `init(shape, dtype=None)` and returns a dtf Tensor (float32, or
`keras.backend.floatx()`, unless `dtype` says otherwise). Random initializers draw through
`dtf.random`: unseeded, each call draws fresh values from the global random state (so
`dtf.random.set_seed` makes a program reproducible); with an integer `seed`, an instance gives
the same values on every call (Keras' and TensorFlow's stateless draw).

Fans follow Keras: a vector has fan_in = fan_out = its length, a matrix (in, out), and a
convolution kernel `(*spatial, in_channels, out_channels)` multiplies both by the receptive
field (the product of the spatial dims).

Example:
    >>> init = keras.initializers.GlorotUniform(seed=1)
    >>> w = init(shape=(784, 32))
    >>> w.shape, w.dtype
    (TensorShape([784, 32]), dtf.float32)
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from dtf import dtypes
from dtf.keras import backend as _backend
from dtf.keras.naming import to_snake_case
from dtf.keras.saving.serialization import deserialize_keras_object, serialize_keras_object
from dtf.ops import creation_ops as _creation
from dtf.ops import random_ops
from dtf.ops.creation_ops import cast, convert_to_tensor, eye
from dtf.tensor import Tensor

__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "compute_fans",
    "constant",
    "deserialize",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "identity",
    "lecun_normal",
    "lecun_uniform",
    "ones",
    "orthogonal",
    "random_normal",
    "random_uniform",
    "serialize",
    "truncated_normal",
    "variance_scaling",
    "zeros",
]

# The stddev of a standard normal truncated to [-2, 2]: truncated draws are divided by it so
# that the variance is the one asked for.
_TRUNCATED_STDDEV = 0.87962566103423978


# -- helpers ----------------------------------------------------------------------------------
def _shape_arg(shape, who):
    """`shape` (list, tuple, TensorShape, int tensor) as a tuple of ints."""
    if isinstance(shape, Tensor) or getattr(shape, "_is_dtf_variable", False):
        shape = np.asarray(shape.numpy()).tolist()
    if hasattr(shape, "as_list"):
        if shape.rank is None or None in shape.as_list():
            raise ValueError(f"{who}: cannot initialize a weight of shape {shape}: every "
                             "dimension must be known.")
        shape = shape.as_list()
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{who}: `shape` must be a tuple of non-negative ints, got "
                        f"{shape!r}.") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"{who}: `shape` {dims} has a negative dimension.")
    return dims


def _dtype_arg(dtype):
    return dtypes.as_dtype(_backend.floatx() if dtype is None else dtype)


def _float_dtype_arg(dtype, who):
    dtype = _dtype_arg(dtype)
    if not dtype.is_floating:
        raise ValueError(f"{who} draws random floating point values and cannot make a "
                         f"{dtype.name} tensor. Use a float dtype (float16, float32, float64), "
                         "or Zeros, Ones or Constant for integer and boolean weights.")
    return dtype


def _seed_arg(seed, who):
    if seed is None:
        return None
    if isinstance(seed, dict):
        seed = deserialize_keras_object(seed)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{who}: `seed` must be an integer or None. Received: seed={seed!r}")
    return int(seed)


def compute_fans(shape, input_axes=None, output_axes=None):
    """(fan_in, fan_out) of a weight of `shape`, as Keras computes them.

    Scalars count 1 and 1; vectors their length twice; matrices (rows, columns); kernels of
    rank >= 3 `(*spatial, in, out)` (in * receptive field, out * receptive field). With
    `input_axes` and `output_axes`, the products of those dimensions.

    Example:
        >>> compute_fans((3, 3, 16, 32))
        (144, 288)
    """
    shape = tuple(int(d) for d in shape)
    if input_axes is not None and output_axes is not None:
        return (int(np.prod([shape[a] for a in input_axes], dtype=np.int64)),
                int(np.prod([shape[a] for a in output_axes], dtype=np.int64)))
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = int(np.prod(shape[:-2], dtype=np.int64))
    return shape[-2] * receptive_field, shape[-1] * receptive_field


# -- base classes -----------------------------------------------------------------------------
class Initializer:
    """Base class of initializers: subclasses define `__call__(shape, dtype=None)`.

    Subclasses with constructor arguments override `get_config` to return them, so that
    `from_config` (which calls `cls(**config)`) rebuilds the same initializer.

    Example:
        >>> class Fives(keras.initializers.Initializer):
        ...     def __call__(self, shape, dtype=None):
        ...         return dtf.fill(shape, dtf.constant(5.0, dtype=dtype or "float32"))
        >>> Fives()((2,)).numpy()
        array([5., 5.], dtype=float32)
    """

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(f"{type(self).__name__}: Initializer subclasses must "
                                  "implement the `__call__(shape, dtype=None)` method.")

    def get_config(self):
        """The constructor's arguments, as a JSON-friendly dict."""
        return {}

    @classmethod
    def from_config(cls, config):
        """The initializer that `get_config()` describes."""
        return cls(**config)

    def clone(self):
        """A new initializer with the same configuration."""
        return self.__class__.from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _RandomInitializer(Initializer):
    """Holds the seed: None draws fresh values each call, an int the same values each call."""

    def __init__(self, seed=None):
        self.seed = _seed_arg(seed, type(self).__name__)

    def get_config(self):
        return {"seed": self.seed}

    def _normal(self, shape, mean, stddev, dtype):
        if self.seed is None:
            return random_ops.normal(shape, mean=mean, stddev=stddev, dtype=dtype)
        return random_ops.stateless_normal(shape, (self.seed, 0), mean=mean, stddev=stddev,
                                           dtype=dtype)

    def _truncated_normal(self, shape, mean, stddev, dtype):
        if self.seed is None:
            return random_ops.truncated_normal(shape, mean=mean, stddev=stddev, dtype=dtype)
        return random_ops.stateless_truncated_normal(shape, (self.seed, 0), mean=mean,
                                                     stddev=stddev, dtype=dtype)

    def _uniform(self, shape, minval, maxval, dtype):
        if self.seed is None:
            return random_ops.uniform(shape, minval=minval, maxval=maxval, dtype=dtype)
        return random_ops.stateless_uniform(shape, (self.seed, 0), minval=minval,
                                            maxval=maxval, dtype=dtype)


# -- constant initializers --------------------------------------------------------------------
class Zeros(Initializer):
    """Fills with 0 (any dtype).

    Example:
        >>> keras.initializers.Zeros()((2,), dtype="int32").numpy()
        array([0, 0], dtype=int32)
    """

    def __call__(self, shape, dtype=None):
        return _creation.zeros(_shape_arg(shape, "Zeros"), dtype=_dtype_arg(dtype))


class Ones(Initializer):
    """Fills with 1 (any dtype).

    Example:
        >>> keras.initializers.Ones()((2,)).numpy()
        array([1., 1.], dtype=float32)
    """

    def __call__(self, shape, dtype=None):
        return _creation.ones(_shape_arg(shape, "Ones"), dtype=_dtype_arg(dtype))


class Constant(Initializer):
    """Fills with `value`: a scalar is broadcast, an array of as many elements as the shape is
    reshaped to it (as `tf.constant_initializer`), other arrays broadcast to the shape.

    Args:
        value: a Python number, a list, a NumPy array or a Tensor.

    Example:
        >>> keras.initializers.Constant(3.0)((2, 2)).numpy()
        array([[3., 3.],
               [3., 3.]], dtype=float32)
    """

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        shape = _shape_arg(shape, "Constant")
        dtype = _dtype_arg(dtype)
        value = self.value
        if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False):
            value = value.numpy()
        array = np.asarray(value)
        size = int(np.prod(shape, dtype=np.int64))
        if array.ndim > 0 and array.size == size and array.shape != shape:
            array = array.reshape(shape)
        try:
            array = np.broadcast_to(array, shape)
        except ValueError:
            raise ValueError(f"Constant: the value of shape {array.shape} cannot fill a weight "
                             f"of shape {shape}: give a scalar, an array of that shape (or of "
                             f"as many elements, {size}), or one that broadcasts to it.") \
                from None
        return _creation.constant(array.astype(dtype.as_numpy_dtype), dtype=dtype)

    def get_config(self):
        return {"value": serialize_keras_object(self.value)}

    @classmethod
    def from_config(cls, config):
        return cls(deserialize_keras_object(config["value"]))


class Identity(Initializer):
    """`gain` times the identity matrix (2-D shapes only; non-square ones get ones on the
    main diagonal).

    Example:
        >>> keras.initializers.Identity()((2, 2)).numpy()
        array([[1., 0.],
               [0., 1.]], dtype=float32)
    """

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = _shape_arg(shape, "Identity")
        if len(shape) != 2:
            raise ValueError(f"Identity matrix initializer can only be used for 2D matrices. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        dtype = _dtype_arg(dtype)
        matrix = eye(shape[0], shape[1], dtype=dtype)
        if self.gain == 1:
            return matrix
        return matrix * convert_to_tensor(self.gain, dtype=dtype)

    def get_config(self):
        return {"gain": self.gain}


# -- random initializers ----------------------------------------------------------------------
class RandomNormal(_RandomInitializer):
    """Values from a normal distribution N(mean, stddev**2).

    Also `dtf.random_normal_initializer`.

    Args:
        mean: the mean.
        stddev: the standard deviation.
        seed: None for fresh values on each call, an int for the same values on each call.

    Example:
        >>> init = dtf.random_normal_initializer(stddev=1.0, seed=3)
        >>> bool(dtf.reduce_all(init(shape=(2, 3)) == init(shape=(2, 3))))
        True
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return self._normal(_shape_arg(shape, "RandomNormal"), self.mean, self.stddev,
                            _float_dtype_arg(dtype, "RandomNormal"))

    def get_config(self):
        return {"seed": self.seed, "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(_RandomInitializer):
    """Values from a normal distribution N(mean, stddev**2) truncated to 2 standard
    deviations around the mean (values beyond are drawn again).

    Example:
        >>> w = keras.initializers.TruncatedNormal(stddev=1.0)((1000,))
        >>> bool(dtf.reduce_max(dtf.abs(w)) <= 2.0)
        True
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return self._truncated_normal(_shape_arg(shape, "TruncatedNormal"), self.mean,
                                      self.stddev, _float_dtype_arg(dtype, "TruncatedNormal"))

    def get_config(self):
        return {"seed": self.seed, "mean": self.mean, "stddev": self.stddev}


class RandomUniform(_RandomInitializer):
    """Values from a uniform distribution on [minval, maxval).

    Example:
        >>> w = keras.initializers.RandomUniform(-1.0, 1.0)((100,))
        >>> bool(dtf.reduce_all(dtf.abs(w) <= 1.0))
        True
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return self._uniform(_shape_arg(shape, "RandomUniform"), self.minval, self.maxval,
                             _float_dtype_arg(dtype, "RandomUniform"))

    def get_config(self):
        return {"seed": self.seed, "minval": self.minval, "maxval": self.maxval}


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


class VarianceScaling(_RandomInitializer):
    """Random values whose variance is `scale / n`, n being the fan of `mode`.

    Args:
        scale: a positive float.
        mode: "fan_in", "fan_out" or "fan_avg" ((fan_in + fan_out) / 2).
        distribution: "truncated_normal" (stddev sqrt(scale / n) / .8796..., so the truncated
            values have the asked variance; "normal" is an alias), "untruncated_normal"
            (stddev sqrt(scale / n)) or "uniform" (limit sqrt(3 scale / n)).
        seed: None for fresh values on each call, an int for the same values on each call.
        input_axes, output_axes: the axes whose product is fan_in and fan_out (both, or
            neither for the default rule of `compute_fans`).

    Example:
        >>> init = keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")
        >>> init((4, 3)).shape
        TensorShape([4, 3])
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        who = type(self).__name__
        if not isinstance(scale, (int, float, np.integer, np.floating)) or scale <= 0.0:
            raise ValueError(f"{who}: Argument `scale` must be positive float. Received: "
                             f"scale={scale!r}")
        if mode not in _MODES:
            raise ValueError(f"{who}: Invalid `mode` argument: {mode!r}. Please use one of "
                             f"{_MODES}")
        distribution = str(distribution).lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(f"{who}: Invalid `distribution` argument: {distribution!r}. "
                             f"Please use one of {_DISTRIBUTIONS}")
        if (input_axes is None) != (output_axes is None):
            raise ValueError(f"{who}: give both `input_axes` and `output_axes`, or neither. "
                             f"Received: input_axes={input_axes}, output_axes={output_axes}")
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        who = type(self).__name__
        shape = _shape_arg(shape, who)
        dtype = _float_dtype_arg(dtype, who)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        fan = {"fan_in": fan_in, "fan_out": fan_out,
               "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, fan)
        if self.distribution == "truncated_normal":
            return self._truncated_normal(shape, 0.0, math.sqrt(scale) / _TRUNCATED_STDDEV,
                                          dtype)
        if self.distribution == "untruncated_normal":
            return self._normal(shape, 0.0, math.sqrt(scale), dtype)
        limit = math.sqrt(3.0 * scale)
        return self._uniform(shape, -limit, limit, dtype)

    def get_config(self):
        return {"seed": self.seed, "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling with fixed scale, mode and distribution (Glorot, He, LeCun)."""

    _scale = 1.0
    _mode = "fan_in"
    _distribution = "truncated_normal"

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(self._scale, self._mode, self._distribution, seed, input_axes,
                         output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class GlorotUniform(_FixedVarianceScaling):
    """Uniform on [-limit, limit], limit = sqrt(6 / (fan_in + fan_out)) (Dense's default).

    Example:
        >>> w = keras.initializers.GlorotUniform()((6, 6))
        >>> bool(dtf.reduce_max(dtf.abs(w)) <= 0.71)
        True
    """

    _mode, _distribution = "fan_avg", "uniform"


class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal with stddev sqrt(2 / (fan_in + fan_out)).

    Example:
        >>> keras.initializers.GlorotNormal(seed=0)((3, 2)).shape
        TensorShape([3, 2])
    """

    _mode, _distribution = "fan_avg", "truncated_normal"


class HeNormal(_FixedVarianceScaling):
    """Truncated normal with stddev sqrt(2 / fan_in).

    Example:
        >>> keras.initializers.HeNormal()((3, 3, 8, 16)).shape
        TensorShape([3, 3, 8, 16])
    """

    _scale, _mode, _distribution = 2.0, "fan_in", "truncated_normal"


class HeUniform(_FixedVarianceScaling):
    """Uniform on [-limit, limit], limit = sqrt(6 / fan_in).

    Example:
        >>> keras.initializers.HeUniform()((4, 2)).shape
        TensorShape([4, 2])
    """

    _scale, _mode, _distribution = 2.0, "fan_in", "uniform"


class LecunNormal(_FixedVarianceScaling):
    """Truncated normal with stddev sqrt(1 / fan_in) (for selu networks).

    Example:
        >>> keras.initializers.LecunNormal()((4, 2)).shape
        TensorShape([4, 2])
    """

    _mode, _distribution = "fan_in", "truncated_normal"


class LecunUniform(_FixedVarianceScaling):
    """Uniform on [-limit, limit], limit = sqrt(3 / fan_in).

    Example:
        >>> keras.initializers.LecunUniform()((4, 2)).shape
        TensorShape([4, 2])
    """

    _mode, _distribution = "fan_in", "uniform"


class Orthogonal(_RandomInitializer):
    """A random orthogonal matrix times `gain`: the weight, flattened to
    (prod(shape[:-1]), shape[-1]), has orthonormal columns (or rows, when it is wide).

    It is the Q of the QR decomposition of a normal random matrix, with the signs of R's
    diagonal folded in so that Q is uniformly distributed.

    Example:
        >>> w = keras.initializers.Orthogonal(seed=1)((4, 4)).numpy()
        >>> bool(np.allclose(w.T @ w, np.eye(4), atol=1e-5))
        True
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape = _shape_arg(shape, "Orthogonal")
        dtype = _float_dtype_arg(dtype, "Orthogonal")
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: The tensor to initialize must be at least "
                             f"two-dimensional. Received: shape={shape} of rank {len(shape)}.")
        rows = int(np.prod(shape[:-1], dtype=np.int64))
        cols = shape[-1]
        # Draw in the requested dtype (so seeds give the same stream as the other
        # initializers); the factorization runs on the host in float64 (float16 has no QR).
        a = self._normal((max(rows, cols), min(rows, cols)), 0.0, 1.0, dtype).numpy()
        q, r = np.linalg.qr(a.astype(np.float64))
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return _creation.constant((self.gain * q).reshape(shape).astype(dtype.as_numpy_dtype), dtype=dtype)

    def get_config(self):
        return {"seed": self.seed, "gain": self.gain}


# Keras' lowercase names are the classes themselves.
constant = Constant
glorot_normal = GlorotNormal
glorot_uniform = GlorotUniform
he_normal = HeNormal
he_uniform = HeUniform
identity = Identity
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
ones = Ones
orthogonal = Orthogonal
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
zeros = Zeros

_ALL_CLASSES = (Constant, GlorotNormal, GlorotUniform, HeNormal, HeUniform, Identity,
                Initializer, LecunNormal, LecunUniform, Ones, Orthogonal, RandomNormal,
                RandomUniform, TruncatedNormal, VarianceScaling, Zeros)


_OBJECTS = {cls.__name__: cls for cls in _ALL_CLASSES}
_OBJECTS.update({to_snake_case(cls.__name__): cls for cls in _ALL_CLASSES})
_OBJECTS.update({
    "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal,
    "normal": RandomNormal,
    "one": Ones,
    "uniform": RandomUniform,
    "zero": Zeros,
    # the TensorFlow names (tf.zeros_initializer, ...) resolve to the same classes
    "constant_initializer": Constant,
    "ones_initializer": Ones,
    "random_normal_initializer": RandomNormal,
    "random_uniform_initializer": RandomUniform,
    "truncated_normal_initializer": TruncatedNormal,
    "zeros_initializer": Zeros,
})


# -- serialization ----------------------------------------------------------------------------
def serialize(initializer):
    """The Keras config of `initializer`.

    Example:
        >>> keras.initializers.serialize(keras.initializers.Zeros())["class_name"]
        'Zeros'
    """
    return serialize_keras_object(initializer)


def deserialize(config, custom_objects=None):
    """The initializer a config (or name) describes.

    Example:
        >>> keras.initializers.deserialize("he_normal")
        HeNormal(seed=None, input_axes=None, output_axes=None)
    """
    return deserialize_keras_object(config, module_objects=_OBJECTS,
                                    custom_objects=custom_objects,
                                    printable_module_name="initializer")


def get(identifier):
    """An initializer from None (None), a name ("glorot_uniform"), a config dict, an
    initializer instance or class, a function `(shape, dtype=None)`, or an array/tensor (which
    then is the value, for weights of its shape).

    Raises:
        ValueError: the identifier is none of these, or names no initializer.

    Example:
        >>> keras.initializers.get("zeros")((2,)).numpy()
        array([0., 0.], dtype=float32)
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = deserialize({"class_name": identifier, "config": {}})
    elif isinstance(identifier, (Tensor, np.ndarray, np.generic)) or \
            getattr(identifier, "_is_dtf_variable", False):
        obj = _value_initializer(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}. Use a "
                     "name such as 'glorot_uniform', a keras.initializers object, or a "
                     "function (shape, dtype=None) -> tensor.")


def _value_initializer(value):
    value_shape = tuple(np.shape(value))

    def initialize_fn(shape, dtype=None):
        if _shape_arg(shape, "initializer") != value_shape:
            raise ValueError(f"Expected `shape` to be {value_shape} for direct tensor as "
                             f"initializer. Received shape={tuple(shape)}")
        return cast(convert_to_tensor(value), _dtype_arg(dtype))

    return initialize_fn
