"""`keras.backend`: Keras' configuration (floatx, epsilon, image data format, clear_session)
and the Keras 2 low-level functions (`K.square`, `K.dot`, `K.random_normal`, ...).

Each function is a thin layer over dtf ops, so it takes Tensors, Variables, NumPy arrays and
symbolic tensors (Keras inputs, traced functions) alike, and gradients flow through it. Only the
functions about values (`eval`, `get_value`, `batch_get_value`, `set_value`, ...) read them.

This module is longer than dtf's usual ~800 lines on purpose: it is Keras 2's one flat
namespace of about a hundred small functions, kept in one file as Keras keeps it.

Example:
    >>> from dtf import keras
    >>> K = keras.backend
    >>> t = dtf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> K.square(K.transpose(t)).numpy()
    array([[ 1., 16.],
           [ 4., 25.],
           [ 9., 36.]], dtype=float32)
"""

from __future__ import annotations

import builtins
import gc
import itertools
import threading

import numpy as np

import dtf
from dtf import dtypes

# Keras 2 spells these names (abs, all, any, max, min, pow, round, sum); the builtins stay
# reachable here.
_py_max, _py_min, _py_any = builtins.max, builtins.min, builtins.any

# -- configuration ----------------------------------------------------------------------------
_config = {"floatx": "float32", "epsilon": 1e-7, "image_data_format": "channels_last"}
_FLOATX_CHOICES = ("float16", "float32", "float64")


def floatx():
    """The default float dtype name of Keras ("float32").

    Example:
        >>> keras.backend.floatx()
        'float32'
    """
    return _config["floatx"]


def set_floatx(value):
    """Sets the default float dtype: "float16", "float32" or "float64".

    Example:
        >>> keras.backend.set_floatx("float64"); keras.backend.set_floatx("float32")
    """
    name = value.name if isinstance(value, dtypes.DType) else str(value)
    if name not in _FLOATX_CHOICES:
        raise ValueError(f"Unknown `floatx` value: {value!r}. Expected one of "
                         f"{set(_FLOATX_CHOICES)}")
    _config["floatx"] = name


def epsilon():
    """The fuzz factor Keras adds to avoid divisions by zero (1e-7).

    Example:
        >>> keras.backend.epsilon()
        1e-07
    """
    return _config["epsilon"]


def set_epsilon(value):
    """Sets the fuzz factor returned by `epsilon()`."""
    _config["epsilon"] = float(value)


def image_data_format():
    """"channels_last" (default) or "channels_first"."""
    return _config["image_data_format"]


def set_image_data_format(data_format):
    """Sets the default image data format: "channels_last" or "channels_first"."""
    data_format = str(data_format).lower()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format!r}")
    _config["image_data_format"] = data_format


def backend():
    """The name of the backend: "tensorflow", since dtf implements TensorFlow's API (programs
    that branch on it should take their TensorFlow branch)."""
    return "tensorflow"


def standardize_dtype(dtype=None):
    """The dtype's name ("float32", ...); None gives `floatx()`."""
    if dtype is None:
        return floatx()
    if hasattr(dtype, "dtype") and not isinstance(dtype, (str, type, np.dtype)):
        dtype = dtype.dtype
    return dtypes.as_dtype(dtype).name


def is_float_dtype(dtype):
    """Whether `dtype` is a floating point type."""
    return dtypes.as_dtype(standardize_dtype(dtype)).is_floating


def is_int_dtype(dtype):
    """Whether `dtype` is an integer type (signed or not)."""
    return dtypes.as_dtype(standardize_dtype(dtype)).is_integer


def is_keras_tensor(x):
    """Whether `x` is a symbolic tensor (a `keras.Input` or a layer's output on one); the
    tensors of a function being traced by `dtf.function` are not."""
    if not getattr(x, "_is_symbolic", False):
        return False
    from dtf.ops import registry

    return not registry.is_tracing() or getattr(x, "_keras_history", None) is not None


# -- session state ----------------------------------------------------------------------------
# Zero-argument callbacks run by clear_session (layer-name counters, graph caches, ...): the
# modules that keep such state append to this list.
_clear_session_hooks: list = []
_uid_lock = threading.Lock()
_uids: dict = {}
_learning_phase = {"value": None}


def get_uid(prefix=""):
    """A counter per `prefix`, starting at 1 (Keras names layers `dense`, `dense_1`, ... with
    it); `clear_session` restarts every counter.

    Example:
        >>> keras.backend.clear_session()
        >>> keras.backend.get_uid("x"), keras.backend.get_uid("x")
        (1, 2)
    """
    with _uid_lock:
        counter = _uids.setdefault(prefix, itertools.count(1))
        return next(counter)


def clear_session(free_memory=True):
    """Resets Keras' global state: default Variable names, layer-name counters and what other
    modules registered in `_clear_session_hooks`.

    Example:
        >>> keras.backend.clear_session()
    """
    from dtf.variables import reset_default_names

    reset_default_names()
    with _uid_lock:
        _uids.clear()
    _learning_phase["value"] = None
    for hook in _clear_session_hooks:
        hook()
    if free_memory:
        gc.collect()


def learning_phase():
    """The Keras 2 learning phase: 1 for training, 0 for inference (0 unless set)."""
    value = _learning_phase["value"]
    return 0 if value is None else value


def set_learning_phase(value):
    """Sets the Keras 2 learning phase to 0 (inference) or 1 (training)."""
    if value not in (0, 1):
        raise ValueError(f"Expected learning phase to be 0 or 1. Received: value={value!r}")
    _learning_phase["value"] = int(value)


# -- helpers ----------------------------------------------------------------------------------
def _is_tensor_like(x):
    return isinstance(x, dtf.Tensor) or getattr(x, "_is_dtf_variable", False) or \
        getattr(x, "_is_symbolic", False)


def _tensor(x):
    return x if _is_tensor_like(x) else dtf.convert_to_tensor(x)


def _static_shape(x):
    """The shape as a tuple (None for unknown dims), or None for unknown rank."""
    if isinstance(x, np.ndarray):
        return x.shape
    shape = _tensor(x).shape
    return None if shape.rank is None else tuple(shape.as_list())


def _floatx_if_bool(x):
    x = _tensor(x)
    return dtf.cast(x, floatx()) if x.dtype == dtypes.bool else x


# -- creation and variables -------------------------------------------------------------------
def constant(value, dtype=None, shape=None, name=None):
    """A constant tensor (dtype `floatx()` unless given)."""
    return dtf.constant(value, dtype=dtype or floatx(), shape=shape)


def variable(value, dtype=None, name=None, constraint=None):
    """A `dtf.Variable` holding `value` (dtype `floatx()` unless given).

    Example:
        >>> keras.backend.variable([[1, 2]]).dtype
        dtf.float32
    """
    return dtf.Variable(value, dtype=dtype or floatx(), name=name, constraint=constraint)


def zeros(shape, dtype=None, name=None):
    """A Variable of zeros (Keras 2 returns a variable here)."""
    return variable(dtf.zeros(shape, dtype=dtype or floatx()), dtype, name)


def ones(shape, dtype=None, name=None):
    """A Variable of ones (Keras 2 returns a variable here)."""
    return variable(dtf.ones(shape, dtype=dtype or floatx()), dtype, name)


def eye(size, dtype=None, name=None):
    """A Variable holding the identity matrix of `size` (an int or (rows, columns))."""
    rows, cols = (size, size) if isinstance(size, int) else tuple(size)
    return variable(dtf.eye(rows, cols, dtype=dtype or floatx()), dtype, name)


def zeros_like(x, dtype=None, name=None):
    """Zeros of `x`'s shape."""
    return dtf.zeros_like(x, dtype=dtype)


def ones_like(x, dtype=None, name=None):
    """Ones of `x`'s shape."""
    return dtf.ones_like(x, dtype=dtype)


def arange(start, stop=None, step=1, dtype="int32"):
    """`dtf.range` with Keras' conventions (a negative lone `start` gives an empty range)."""
    if stop is None and start < 0:
        start = 0
    result = dtf.range(start, limit=stop, delta=step)
    return result if dtype == "int32" else dtf.cast(result, dtype)


def cast(x, dtype):
    """`x` cast to `dtype`."""
    return dtf.cast(x, dtype)


def cast_to_floatx(x):
    """A tensor cast to `floatx()`; other data as a NumPy array of that dtype."""
    if _is_tensor_like(x):
        return dtf.cast(x, floatx())
    return np.asarray(x, dtype=floatx())


# -- values -----------------------------------------------------------------------------------
def get_value(x):
    """The value of a tensor or variable as a NumPy array (other objects are returned)."""
    if getattr(x, "_is_symbolic", False):
        raise ValueError(f"get_value: {x!r} is symbolic and has no value; call the model on "
                         "data to get values.")
    return x.numpy() if _is_tensor_like(x) else x


eval = get_value  # Keras 2's name for it


def batch_get_value(tensors):
    """The values of several tensors, as a list of NumPy arrays."""
    return [get_value(x) for x in tensors]


def set_value(x, value):
    """Assigns the NumPy `value` to the variable `x` (cast to its dtype)."""
    x.assign(np.asarray(value, dtype=x.dtype.as_numpy_dtype))


def batch_set_value(tuples):
    """`set_value` for each (variable, value) pair."""
    for x, value in tuples:
        set_value(x, value)


def update(x, new_x):
    """Assigns `new_x` to the variable `x`."""
    return x.assign(new_x)


def update_add(x, increment):
    """Adds `increment` to the variable `x`."""
    return x.assign_add(increment)


def update_sub(x, decrement):
    """Subtracts `decrement` from the variable `x`."""
    return x.assign_sub(decrement)


def moving_average_update(x, value, momentum):
    """x <- x * momentum + value * (1 - momentum), on the variable `x`."""
    momentum = dtf.cast(momentum, x.dtype)
    value = dtf.cast(value, x.dtype)
    return x.assign_sub((x - value) * (1 - momentum))


def count_params(x):
    """The number of elements of `x`."""
    return int(np.prod(int_shape(x), dtype=np.int64))


def stop_gradient(variables):
    """`x` with no gradient flowing back through it (a list: each element)."""
    if isinstance(variables, (list, tuple)):
        return [dtf.stop_gradient(v) for v in variables]
    return dtf.stop_gradient(variables)


# -- shapes -----------------------------------------------------------------------------------
def shape(x):
    """The dynamic shape of `x`, as an int32 tensor."""
    return dtf.shape(x)


def int_shape(x):
    """The static shape as a tuple of ints (None for unknown dims), or None for unknown rank.

    Example:
        >>> keras.backend.int_shape(dtf.zeros((2, 3)))
        (2, 3)
    """
    if isinstance(x, np.ndarray):
        return x.shape
    shape = getattr(x, "shape", None)
    if shape is None:
        return _static_shape(x)
    if isinstance(shape, tuple):
        return shape
    return None if shape.rank is None else tuple(shape.as_list())


def ndim(x):
    """The rank of `x` (None when unknown)."""
    if isinstance(x, np.ndarray):
        return x.ndim
    shape = _tensor(x).shape
    return shape.rank


def dtype(x):
    """The dtype name of `x` ("float32", ...)."""
    return x.dtype.name if hasattr(x, "dtype") else _tensor(x).dtype.name


def is_sparse(tensor):
    """False: dtf has no sparse tensors."""
    return False


def to_dense(tensor):
    """`tensor` itself (dtf tensors are dense)."""
    return tensor


def reshape(x, shape):
    """`x` with a new shape (-1 infers one dimension)."""
    return dtf.reshape(x, shape)


def flatten(x):
    """`x` as a vector."""
    return dtf.reshape(x, [-1])


def batch_flatten(x):
    """`x` as a matrix (batch, everything else)."""
    dims = _static_shape(x)
    if dims is not None and None not in dims[1:]:
        return dtf.reshape(x, [-1, int(np.prod(dims[1:], dtype=np.int64))])
    return dtf.reshape(x, dtf.stack([-1, dtf.reduce_prod(dtf.shape(x)[1:])]))


def expand_dims(x, axis=-1):
    """`x` with a new axis of size 1 at `axis`."""
    return dtf.expand_dims(x, axis)


def squeeze(x, axis):
    """`x` without its size-1 axis `axis`."""
    return dtf.squeeze(x, [axis])


def transpose(x):
    """`x` with its axes reversed."""
    return dtf.transpose(x)


def permute_dimensions(x, pattern):
    """`x` with its axes in the order `pattern`."""
    return dtf.transpose(x, perm=pattern)


def concatenate(tensors, axis=-1):
    """The tensors joined along `axis`."""
    if axis < 0:
        rank = ndim(tensors[0])
        axis = axis % rank if rank else 0
    return dtf.concat(list(tensors), axis)


def stack(x, axis=0):
    """The tensors stacked along a new axis."""
    return dtf.stack(x, axis=axis)


def tile(x, n):
    """`x` repeated `n` times along each axis (an int for a vector)."""
    return dtf.tile(x, [n] if isinstance(n, int) else n)


def repeat(x, n):
    """A matrix (batch, dim) repeated to (batch, n, dim)."""
    if ndim(x) != 2:
        raise ValueError(f"repeat: Expected input `x` to have rank 2. Received: "
                         f"rank(x)={ndim(x)} (shape {int_shape(x)}).")
    return dtf.tile(dtf.expand_dims(x, 1), [1, n, 1])


def repeat_elements(x, rep, axis):
    """Each slice of `x` along `axis` repeated `rep` times (like np.repeat)."""
    return dtf.repeat(x, rep, axis=axis)


def reverse(x, axes):
    """`x` reversed along `axes` (an int or a list)."""
    return dtf.reverse(x, [axes] if isinstance(axes, int) else list(axes))


def gather(reference, indices):
    """The rows `indices` of `reference`."""
    return dtf.gather(reference, indices)


def one_hot(indices, num_classes):
    """One-hot vectors of `num_classes` for integer `indices` (a new last axis)."""
    return dtf.one_hot(indices, depth=num_classes, axis=-1)


def temporal_padding(x, padding=(1, 1)):
    """Zero-pads the middle axis of a 3-D tensor by (left, right)."""
    if len(padding) != 2:
        raise ValueError(f"temporal_padding: Expected `padding` to be a tuple of 2 integers. "
                         f"Received: padding={padding}")
    return dtf.pad(x, [[0, 0], list(padding), [0, 0]])


def spatial_2d_padding(x, padding=((1, 1), (1, 1)), data_format=None):
    """Zero-pads the 2 spatial axes of a 4-D tensor."""
    if len(padding) != 2 or _py_any(len(p) != 2 for p in padding):
        raise ValueError(f"spatial_2d_padding: Expected `padding` to be a tuple of 2 tuples of "
                         f"2 integers. Received: padding={padding}")
    if _data_format(data_format) == "channels_first":
        return dtf.pad(x, [[0, 0], [0, 0], list(padding[0]), list(padding[1])])
    return dtf.pad(x, [[0, 0], list(padding[0]), list(padding[1]), [0, 0]])


def spatial_3d_padding(x, padding=((1, 1), (1, 1), (1, 1)), data_format=None):
    """Zero-pads the 3 spatial axes of a 5-D tensor."""
    if len(padding) != 3 or _py_any(len(p) != 2 for p in padding):
        raise ValueError(f"spatial_3d_padding: Expected `padding` to be a tuple of 3 tuples of "
                         f"2 integers. Received: padding={padding}")
    pads = [list(p) for p in padding]
    if _data_format(data_format) == "channels_first":
        return dtf.pad(x, [[0, 0], [0, 0]] + pads)
    return dtf.pad(x, [[0, 0]] + pads + [[0, 0]])


def _data_format(data_format):
    data_format = image_data_format() if data_format is None else data_format
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(f"Unknown data_format: {data_format!r}. Use 'channels_first' or "
                         "'channels_last'.")
    return data_format


def bias_add(x, bias, data_format=None):
    """`x` + `bias` along the channel axis (`data_format` says which)."""
    data_format = _data_format(data_format)
    bias_shape = int_shape(bias)
    rank = ndim(x)
    if len(bias_shape) != 1 and len(bias_shape) != rank - 1:
        raise ValueError(f"bias_add: Unexpected bias dimensions {len(bias_shape)} (bias shape "
                         f"{bias_shape}). Expected it to be 1 or {rank - 1} dimensions")
    if len(bias_shape) == 1:
        return dtf.nn.bias_add(x, bias, data_format="NCHW" if
                               data_format == "channels_first" and rank > 2 else None)
    if data_format == "channels_first":
        return x + dtf.reshape(bias, (1, bias_shape[-1]) + tuple(bias_shape[:-1]))
    return x + dtf.reshape(bias, (1,) + tuple(bias_shape))


# -- elementwise math -------------------------------------------------------------------------
def abs(x):
    """|x| elementwise."""
    return dtf.abs(x)


def square(x):
    """x ** 2 elementwise."""
    return dtf.square(x)


def sqrt(x):
    """sqrt(max(x, 0)) elementwise (negative values give 0, as Keras)."""
    x = _tensor(x)
    return dtf.sqrt(dtf.maximum(x, 0))


def exp(x):
    """e ** x elementwise."""
    return dtf.exp(x)


def log(x):
    """Natural logarithm elementwise."""
    return dtf.math.log(x)


def pow(x, a):
    """x ** a elementwise."""
    return dtf.pow(x, a)


def round(x):
    """Rounds half to even elementwise."""
    return dtf.round(x)


def sign(x):
    """-1, 0 or 1 elementwise."""
    return dtf.sign(x)


def sin(x):
    """Sine elementwise."""
    return dtf.sin(x)


def cos(x):
    """Cosine elementwise."""
    return dtf.cos(x)


def clip(x, min_value, max_value):
    """`x` clipped to [min_value, max_value] (None: unbounded; max < min becomes min)."""
    if isinstance(min_value, (int, float)) and isinstance(max_value, (int, float)) and \
            max_value < min_value:
        max_value = min_value
    if min_value is None:
        min_value = -np.inf
    if max_value is None:
        max_value = np.inf
    return dtf.clip_by_value(x, min_value, max_value)


def maximum(x, y):
    """max(x, y) elementwise."""
    return dtf.maximum(x, y)


def minimum(x, y):
    """min(x, y) elementwise."""
    return dtf.minimum(x, y)


def equal(x, y):
    """x == y elementwise."""
    return dtf.equal(x, y)


def not_equal(x, y):
    """x != y elementwise."""
    return dtf.not_equal(x, y)


def greater(x, y):
    """x > y elementwise."""
    return dtf.greater(x, y)


def greater_equal(x, y):
    """x >= y elementwise."""
    return dtf.greater_equal(x, y)


def less(x, y):
    """x < y elementwise."""
    return dtf.less(x, y)


def less_equal(x, y):
    """x <= y elementwise."""
    return dtf.less_equal(x, y)


def switch(condition, then_expression, else_expression):
    """`then_expression` where `condition` holds, else `else_expression`.

    A scalar eager condition picks one branch (callables are only called for the branch taken);
    otherwise the condition is broadcast over the branches' trailing axes.
    """
    condition = _tensor(condition)
    if condition.dtype != dtypes.bool:
        condition = dtf.cast(condition, "bool")
    cond_rank = ndim(condition)
    if cond_rank == 0 and not is_keras_tensor(condition):
        branch = then_expression if bool(condition.numpy()) else else_expression
        return branch() if callable(branch) else branch
    then_value = then_expression() if callable(then_expression) else then_expression
    else_value = else_expression() if callable(else_expression) else else_expression
    expr_rank = ndim(then_value)
    if cond_rank > expr_rank:
        raise ValueError("switch: Rank of `condition` should be less than or equal to rank of "
                         f"`then_expression` and `else_expression`. ndim(condition)={cond_rank}"
                         f", ndim(then_expression)={expr_rank}")
    if 0 < cond_rank < expr_rank:
        # align the condition with the leading axes (Keras tiles it; broadcasting is the same)
        condition = dtf.reshape(condition, list(int_shape(condition)) +
                                [1] * (expr_rank - cond_rank))
    return dtf.where(condition, then_value, else_value)


# -- reductions -------------------------------------------------------------------------------
def sum(x, axis=None, keepdims=False):
    """Sum over `axis` (all axes for None)."""
    return dtf.reduce_sum(x, axis, keepdims)


def prod(x, axis=None, keepdims=False):
    """Product over `axis`."""
    return dtf.reduce_prod(x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean over `axis` (booleans count as floatx 0/1)."""
    return dtf.reduce_mean(_floatx_if_bool(x), axis, keepdims)


def max(x, axis=None, keepdims=False):
    """Maximum over `axis`."""
    return dtf.reduce_max(x, axis, keepdims)


def min(x, axis=None, keepdims=False):
    """Minimum over `axis`."""
    return dtf.reduce_min(x, axis, keepdims)


def std(x, axis=None, keepdims=False):
    """Standard deviation over `axis`."""
    return dtf.math.reduce_std(_floatx_if_bool(x), axis=axis, keepdims=keepdims)


def var(x, axis=None, keepdims=False):
    """Variance over `axis`."""
    return dtf.math.reduce_variance(_floatx_if_bool(x), axis=axis, keepdims=keepdims)


def all(x, axis=None, keepdims=False):
    """Logical AND over `axis` (non-zero is true)."""
    return dtf.reduce_all(dtf.cast(x, "bool"), axis, keepdims)


def any(x, axis=None, keepdims=False):
    """Logical OR over `axis` (non-zero is true)."""
    return dtf.reduce_any(dtf.cast(x, "bool"), axis, keepdims)


def argmax(x, axis=-1):
    """Index of the maximum along `axis`."""
    return dtf.argmax(x, axis)


def argmin(x, axis=-1):
    """Index of the minimum along `axis`."""
    return dtf.argmin(x, axis)


def cumsum(x, axis=0):
    """Cumulative sum along `axis`."""
    return dtf.cumsum(x, axis=axis)


def cumprod(x, axis=0):
    """Cumulative product along `axis`."""
    return dtf.math.cumprod(x, axis=axis)


def l2_normalize(x, axis=None):
    """`x` divided by its L2 norm along `axis`."""
    return dtf.math.l2_normalize(x, axis=axis)


def in_top_k(predictions, targets, k):
    """Whether each target class is among the `k` largest predictions of its row (ties at the
    boundary count as in, as TensorFlow)."""
    predictions = _tensor(predictions)
    classes = int_shape(predictions)[-1]
    target_scores = dtf.reduce_sum(
        predictions * dtf.one_hot(targets, classes, dtype=predictions.dtype), axis=-1)
    kth = dtf.math.top_k(predictions, k=k).values[..., -1]
    finite = dtf.reduce_all(dtf.math.is_finite(predictions), axis=-1)
    return dtf.logical_and(target_scores >= kth, finite)


# -- products ---------------------------------------------------------------------------------
def dot(x, y):
    """Keras' dot: matmul for matrices; for higher ranks, contracts x's last axis with y's
    second-to-last (shape x[:-1] + y[:-2] + y[-1:]).

    Example:
        >>> keras.backend.dot(dtf.ones((2, 3)), dtf.ones((4, 3, 5))).shape
        TensorShape([2, 4, 5])
    """
    x, y = _tensor(x), _tensor(y)
    x_rank, y_rank = ndim(x), ndim(y)
    if x_rank is not None and (x_rank > 2 or y_rank > 2):
        x_shape, y_shape = int_shape(x), int_shape(y)
        perm = list(range(y_rank))
        perm = [perm.pop(-2)] + perm
        xt = dtf.reshape(x, [-1, x_shape[-1]])
        yt = dtf.reshape(dtf.transpose(y, perm=perm), [y_shape[-2], -1])
        out_shape = [-1 if d is None else d for d in x_shape[:-1] + y_shape[:-2] + y_shape[-1:]]
        return dtf.reshape(dtf.matmul(xt, yt), out_shape)
    return dtf.matmul(x, y)


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def batch_dot(x, y, axes=None):
    """Per-sample dot product of two batches: contracts axis `axes[0]` of x with `axes[1]` of
    y (by default x's last and y's last (rank 2) or second-to-last); the result keeps x's other
    axes, then y's; inputs of rank 2 give (batch, 1).

    Example:
        >>> keras.backend.batch_dot(dtf.ones((32, 20, 1)), dtf.ones((32, 30, 20)),
        ...                         axes=(1, 2)).shape
        TensorShape([32, 1, 30])
    """
    x, y = _tensor(x), _tensor(y)
    x_shape, y_shape = int_shape(x), int_shape(y)
    x_rank, y_rank = len(x_shape), len(y_shape)
    if x_rank < 2 or y_rank < 2:
        raise ValueError(f"Cannot do batch_dot on inputs with rank < 2. Received inputs with "
                         f"shapes {x_shape} and {y_shape}.")
    if None not in (x_shape[0], y_shape[0]) and x_shape[0] != y_shape[0]:
        raise ValueError(f"Cannot do batch_dot on inputs with different batch sizes. "
                         f"Received inputs with shapes {x_shape} and {y_shape}.")
    if isinstance(axes, int):
        axes = [axes, axes]
    if axes is None:
        axes = [x_rank - 1, y_rank - 1 if y_rank == 2 else y_rank - 2]
    if _py_any(isinstance(a, (list, tuple)) for a in axes):
        raise ValueError(f"Multiple target dimensions are not supported. Expected: None, int, "
                         f"(int, int), Provided: {axes}")
    a0, a1 = axes[0] % x_rank, axes[1] % y_rank
    if 0 in (a0, a1):
        raise ValueError("Cannot perform batch_dot over axis 0. If your inputs are not "
                         "batched, add a dummy batch dimension to your inputs using "
                         "K.expand_dims(x, 0)")
    d1, d2 = x_shape[a0], y_shape[a1]
    if None not in (d1, d2) and d1 != d2:
        raise ValueError(f"Cannot do batch_dot on inputs with shapes {x_shape} and {y_shape} "
                         f"with axes={[a0, a1]}. x.shape[{a0}] != y.shape[{a1}] "
                         f"({d1} != {d2}).")
    # one einsum: batch letter "a", contracted letter "b", then the free axes of x and y
    free = iter(_LETTERS[2:])
    x_sub = ["a"] + [("b" if i == a0 else next(free)) for i in range(1, x_rank)]
    y_sub = ["a"] + [("b" if i == a1 else next(free)) for i in range(1, y_rank)]
    out_sub = ["a"] + [c for c in x_sub[1:] + y_sub[1:] if c != "b"]
    result = dtf.einsum(f"{''.join(x_sub)},{''.join(y_sub)}->{''.join(out_sub)}", x, y)
    if x_rank == 2 and y_rank == 2:
        result = dtf.expand_dims(result, 1)  # Keras keeps (batch, 1) for two matrices
    return result


# -- activations ------------------------------------------------------------------------------
def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit with Keras 2's options: `alpha` the slope below `threshold`,
    `max_value` the saturation."""
    x = _tensor(x)
    if alpha == 0 and max_value is None and threshold == 0:
        return dtf.nn.relu(x)
    if alpha != 0 and max_value is None and threshold == 0:
        return dtf.nn.leaky_relu(x, alpha=alpha)
    negative_part = dtf.nn.relu(-x + threshold) if alpha != 0 else None
    clip_max = max_value is not None
    if threshold != 0:
        out = x * dtf.cast(dtf.greater(x, threshold), x.dtype)
    elif max_value == 6:
        out, clip_max = dtf.nn.relu6(x), False
    else:
        out = dtf.nn.relu(x)
    if clip_max:
        out = dtf.clip_by_value(out, 0, max_value)
    if negative_part is not None:
        out = out - alpha * negative_part
    return out


def elu(x, alpha=1.0):
    """Exponential linear unit: x if x > 0 else alpha * (exp(x) - 1)."""
    res = dtf.nn.elu(x)
    return res if alpha == 1 else dtf.where(dtf.greater(x, 0), res, alpha * res)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return dtf.sigmoid(x)


def hard_sigmoid(x):
    """Keras 2's piecewise linear sigmoid: clip(0.2 x + 0.5, 0, 1)."""
    return dtf.clip_by_value(_tensor(x) * 0.2 + 0.5, 0.0, 1.0)


def tanh(x):
    """Hyperbolic tangent."""
    return dtf.tanh(x)


def softplus(x):
    """log(1 + exp(x))."""
    return dtf.nn.softplus(x)


def softsign(x):
    """x / (1 + |x|)."""
    return dtf.nn.softsign(x)


def softmax(x, axis=-1):
    """Softmax along `axis` (an int or several axes); tensors of rank <= 1 are refused, as
    Keras 2 does."""
    x = _tensor(x)
    if x.shape.rank is not None and x.shape.rank <= 1:
        raise ValueError(f"Cannot apply softmax to a tensor that is 1D. Received input: {x}")
    if isinstance(axis, int):
        return dtf.nn.softmax(x, axis=axis)
    numerator = dtf.exp(x - dtf.reduce_max(x, axis=axis, keepdims=True))
    return numerator / dtf.reduce_sum(numerator, axis=axis, keepdims=True)


def dropout(x, level, noise_shape=None, seed=None):
    """Drops elements with probability `level` and scales the rest by 1 / (1 - level)."""
    return dtf.nn.dropout(x, rate=level, noise_shape=noise_shape, seed=seed)


# -- losses -----------------------------------------------------------------------------------
def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary cross-entropy (probabilities clipped to [eps, 1 - eps])."""
    output = _tensor(output)
    target = dtf.convert_to_tensor(target, dtype=output.dtype) \
        if not _is_tensor_like(target) else target
    if from_logits:
        return dtf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=output)
    eps = epsilon()
    output = dtf.clip_by_value(output, eps, 1.0 - eps)
    bce = target * dtf.math.log(output + eps)
    bce = bce + (1 - target) * dtf.math.log(1 - output + eps)
    return -bce


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy between one-hot (or soft) targets and predictions along `axis`
    (probabilities are renormalized and clipped to [eps, 1 - eps])."""
    output = _tensor(output)
    target = dtf.convert_to_tensor(target, dtype=output.dtype) \
        if not _is_tensor_like(target) else target
    t_shape, o_shape = int_shape(target), int_shape(output)
    if t_shape is not None and o_shape is not None and (
            len(t_shape) != len(o_shape) or _py_any(
                a is not None and b is not None and a != b for a, b in zip(t_shape, o_shape))):
        raise ValueError(f"categorical_crossentropy: target and output must have the same "
                         f"shape. Received: target.shape={t_shape}, output.shape={o_shape}")
    if from_logits:
        return dtf.nn.softmax_cross_entropy_with_logits(labels=target, logits=output,
                                                        axis=axis)
    output = output / dtf.reduce_sum(output, axis, True)
    eps = epsilon()
    output = dtf.clip_by_value(output, eps, 1.0 - eps)
    return -dtf.reduce_sum(target * dtf.math.log(output), axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1,
                                    ignore_class=None):
    """Cross-entropy between integer class targets and predictions along `axis`; targets
    equal to `ignore_class` give 0."""
    output = _tensor(output)
    target = dtf.cast(target, "int64")
    if not from_logits:
        eps = epsilon()
        output = dtf.math.log(dtf.clip_by_value(output, eps, 1.0 - eps))
    output_rank = ndim(output)
    if output_rank is not None:
        axis %= output_rank
        if axis != output_rank - 1:
            perm = list(range(axis)) + list(range(axis + 1, output_rank)) + [axis]
            output = dtf.transpose(output, perm=perm)
    elif axis != -1:
        raise ValueError(f"Cannot compute sparse categorical crossentropy with axis={axis} on "
                         "an output tensor with unknown rank")
    output_shape = int_shape(output)
    target_rank = ndim(target)
    update_shape = target_rank is not None and output_rank is not None and \
        target_rank != output_rank - 1
    if update_shape:
        target = flatten(target)
        output = dtf.reshape(output, [-1, output_shape[-1]])
    valid = None
    if ignore_class is not None:
        valid = dtf.not_equal(target, dtf.cast(ignore_class, "int64"))
        target = dtf.where(valid, target, dtf.zeros_like(target))
    result = dtf.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=output)
    if valid is not None:
        result = dtf.where(valid, result, dtf.zeros_like(result))
    if update_shape and output_rank >= 3:
        result = dtf.reshape(result, [-1 if d is None else d for d in output_shape[:-1]])
    return result


# -- random -----------------------------------------------------------------------------------
def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal random values (dtype `floatx()` unless given), with dtf.random's seed rules.

    Example:
        >>> keras.backend.random_normal(shape=(2, 3)).shape
        TensorShape([2, 3])
    """
    return dtf.random.normal(shape, mean=mean, stddev=stddev,
                             dtype=dtype or floatx(), seed=seed)


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform random values on [minval, maxval)."""
    return dtf.random.uniform(shape, minval=minval, maxval=maxval,
                              dtype=dtype or floatx(), seed=seed)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal random values redrawn beyond 2 standard deviations."""
    return dtf.random.truncated_normal(shape, mean=mean, stddev=stddev,
                                       dtype=dtype or floatx(), seed=seed)


def random_bernoulli(shape, p=0.0, dtype=None, seed=None):
    """1 with probability `p`, else 0."""
    dtype = dtype or floatx()
    return dtf.cast(dtf.random.uniform(shape, dtype=dtype, seed=seed) <= p, dtype)


def random_normal_variable(shape, mean, scale, dtype=None, name=None, seed=None):
    """A Variable of normal random values."""
    return variable(random_normal(shape, mean, scale, dtype, seed), dtype, name)


def random_uniform_variable(shape, low, high, dtype=None, name=None, seed=None):
    """A Variable of uniform random values on [low, high)."""
    return variable(random_uniform(shape, low, high, dtype, seed), dtype, name)

