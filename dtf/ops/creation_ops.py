"""Converting Python and NumPy values to Tensors, and creating tensors.

TensorFlow's rules: a Python float becomes float32, an int int32 (int64 when it does not fit),
a bool bool, a complex complex128; NumPy arrays keep their dtype. Asking for a dtype converts
where no information is lost in kind (int data to float is fine; 2.5 to int32 is a TypeError).

Creation functions take no tensor inputs, so they are leaves, not primitives: nothing flows back
through them. `zeros_like`, `ones_like`, `identity` and `cast` take tensors and are primitives.
"""

from __future__ import annotations

import numpy as np

from dtf import backend as _backend
from dtf import dtypes
from dtf.ops.registry import primitive, run
from dtf.ops.shape_rules import same_shape, unknown_to_none
from dtf.tensor import Tensor

__all__ = [
    "cast",
    "constant",
    "convert_to_tensor",
    "eye",
    "fill",
    "identity",
    "linspace",
    "ones",
    "ones_like",
    "range",
    "zeros",
    "zeros_like",
]

def _infer_array(value, defaults: bool = True) -> np.ndarray:
    """Python data -> array with TensorFlow's default dtypes (float32, int32) when `defaults`,
    else NumPy's widest (float64, int64), to be cast to a requested dtype."""
    try:
        arr = np.asarray(value)
    except ValueError:
        raise ValueError(f"Can't convert non-rectangular Python sequence to Tensor: "
                         f"{_short(value)}") from None
    if not defaults:
        if arr.dtype.kind in "OUS":
            raise TypeError(f"Cannot convert {_short(value)} to a numeric Tensor. Use "
                            "dtf.strings.to_number to parse strings.")
        return arr
    if arr.dtype == np.float64 and not _has_numpy_float64(value):
        arr = arr.astype(np.float32)
    elif arr.dtype.kind == "i" and arr.dtype != np.int32 and not isinstance(value, np.ndarray):
        if not _contains_numpy_scalar(value):
            info = np.iinfo(np.int32)
            if arr.size == 0 or (arr.min() >= info.min and arr.max() <= info.max):
                arr = arr.astype(np.int32)
            else:
                arr = arr.astype(np.int64)
    elif arr.dtype.kind == "O":
        if _is_text(value):
            return _string_array(value)
        raise TypeError(f"Cannot convert {value!r} to a Tensor: it mixes types or has ragged "
                        "nested lists. Use lists of numbers of one rectangular shape.")
    elif arr.dtype.kind in "US":
        return _string_array(value)  # str/bytes data: a string tensor
    return arr


def _to_bytes(x):
    if type(x) is bytes:
        return x
    if isinstance(x, str):  # np.str_ too
        return x.encode("utf-8")
    if isinstance(x, bytes):  # np.bytes_
        return bytes(x)
    raise TypeError(f"Failed to convert elements of {_short(x)} to Tensor of dtype string: "
                    f"{type(x).__name__} is not bytes or str. Use dtf.strings.as_string to "
                    "format numbers.")


_encode_all = np.frompyfunc(_to_bytes, 1, 1)


def _is_text(value) -> bool:
    """Whether Python data holds str/bytes (looks at the first leaf only: mixed data fails in
    `_string_array` with a clear error)."""
    while isinstance(value, (list, tuple)) and value:
        value = value[0]
    return isinstance(value, (str, bytes, np.str_, np.bytes_))


def _string_array(value) -> np.ndarray:
    """str/bytes data (nested lists, NumPy U/S/object arrays) -> object ndarray of bytes."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "US":
        value = value.astype(object)
    try:
        arr = np.empty((), object) if isinstance(value, (str, bytes)) else \
            np.asarray(value, dtype=object)
        if arr.ndim == 0:
            arr[()] = value if isinstance(value, (str, bytes)) else arr[()]
    except ValueError:
        raise ValueError(f"Can't convert non-rectangular Python sequence to Tensor: "
                         f"{_short(value)}") from None
    out = _encode_all(arr)
    if not isinstance(out, np.ndarray):  # frompyfunc gives the bare object for rank 0
        scalar = np.empty((), object)
        scalar[()] = out
        return scalar
    return out


def _has_numpy_float64(value) -> bool:
    if isinstance(value, np.generic):
        return value.dtype == np.float64
    if isinstance(value, (list, tuple)):
        return any(_has_numpy_float64(v) for v in value)
    if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False):
        return value.dtype == dtypes.float64
    return isinstance(value, np.ndarray) and value.dtype == np.float64


def _contains_numpy_scalar(value) -> bool:
    if isinstance(value, (np.generic, np.ndarray)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_numpy_scalar(v) for v in value)
    return isinstance(value, Tensor)


def _cast_checked(arr: np.ndarray, dtype: dtypes.DType, value, allow_cast: bool) -> np.ndarray:
    target = dtype._np
    if arr.dtype == target:
        return arr
    src = arr.dtype.kind
    dst = target.kind
    lossy_kind = (src == "c" and dst != "c") or (src == "f" and dst in "iub")
    if lossy_kind and not allow_cast:
        raise TypeError(f"Cannot convert {_short(value)} to EagerTensor of dtype "
                        f"{dtype.name}: the values are {arr.dtype.name}. Use dtf.cast to "
                        "convert explicitly.")
    if dst in "iu" and src in "iu" and arr.size and not allow_cast:
        info = np.iinfo(target)
        if arr.min() < info.min or arr.max() > info.max:
            raise TypeError(f"Cannot convert {_short(value)} to EagerTensor of dtype "
                            f"{dtype.name}: a value is out of its range.")
    return arr.astype(target)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None, allow_cast=False):
    """Converts a Tensor, Variable, NumPy array or Python data to a Tensor.

    Args:
        dtype: the dtype the result must have. A Tensor of another dtype raises ValueError (as
            TensorFlow); Python and NumPy data are converted to it.
        dtype_hint: the dtype to use for Python data when `dtype` is None, where it fits.
        allow_cast: cast a Tensor of another dtype to `dtype` (what `dtf.constant` and
            `dtf.Variable` do) instead of raising.
    """
    if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False) \
            or getattr(value, "_is_symbolic", False):
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype)
            if value.dtype != dtype:
                if allow_cast:
                    return cast(value, dtype)
                raise ValueError(f"Tensor conversion requested dtype {dtype.name} for Tensor "
                                 f"with dtype {value.dtype.name}: {value!r}")
        if getattr(value, "_is_dtf_variable", False):
            return value.read_value()
        return value
    if hasattr(value, "_dtf_tensor_conversion"):
        return value._dtf_tensor_conversion(dtype)
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
        if dtype is dtypes.string:
            return Tensor(_string_array(value))  # strings stay on the host, as in TensorFlow
        # Python data is converted straight at the requested dtype (via float64/int64), never
        # through the float32/int32 defaults: dtf.constant(0.1, dtf.float64) is exactly 0.1.
        arr = value if isinstance(value, np.ndarray) else (
            np.asarray(value) if isinstance(value, np.generic) else _infer_array(value, False))
        # NumPy data may be cast to any dtype (as tf.constant does); Python data must fit:
        # 1.5 as int32 is a TypeError, as in TensorFlow.
        arr = _cast_checked(arr, dtype, value, isinstance(value, (np.ndarray, np.generic)))
    else:
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "USO":
                return Tensor(_string_array(value))
            arr = value
            dtypes.from_numpy(arr.dtype)  # rejects dtypes dtf has not
        elif isinstance(value, np.generic):
            if value.dtype.kind in "US":
                return Tensor(_string_array(value))
            arr = np.asarray(value)
            dtypes.from_numpy(arr.dtype)
        else:
            arr = _infer_array(value)
            if arr.dtype.kind == "O":
                return Tensor(arr)  # strings (object arrays of bytes) stay on the host
            if dtype_hint is not None:
                hint = dtypes.as_dtype(dtype_hint)
                try:
                    arr = _cast_checked(arr, hint, value, False)
                except TypeError:
                    pass
    if arr is value:
        arr = arr.copy()  # a tensor never aliases the caller's array (TensorFlow copies too)
    if type(arr) is np.ndarray and arr.ndim == 0:
        arr = arr[()]  # NumPy scalars, as NumPy's own ops return for rank 0
    return Tensor(_backend.place(arr))


def constant(value, dtype=None, shape=None, name="Const"):
    """Creates a constant tensor from Python data, a NumPy array or a Tensor.

    With `shape`, a scalar is broadcast to it and other values are reshaped to it.

    Example:
        >>> print(dtf.constant([[5, 2], [1, 3]]))
        dtf.Tensor(
        [[5 2]
         [1 3]], shape=(2, 2), dtype=int32)
    """
    t = convert_to_tensor(value, dtype=dtype, allow_cast=True)
    if _backend.accelerated[0] and isinstance(t, Tensor):
        t = Tensor(_backend.place(t._value))  # a Tensor given: copied to the current device
    if shape is None:
        return t
    shape = tuple(int(d) for d in (shape if isinstance(shape, (list, tuple)) else
                                   getattr(shape, "as_list", lambda: shape)()))
    v = t._value
    xp = _backend.backend_of(v).xp
    if v.size == 1 and int(np.prod(shape)) != 1:
        return Tensor(xp.broadcast_to(xp.reshape(xp.asarray(v), ()), shape).copy())
    if v.size != int(np.prod(shape)):
        from dtf.errors import InvalidArgumentError
        raise InvalidArgumentError(f"constant: {v.size} values cannot take shape {list(shape)}; "
                                   "give as many values as the shape has elements, or one.")
    return Tensor(xp.reshape(xp.asarray(v), shape))


def _shape_arg(shape, op) -> tuple:
    if isinstance(shape, Tensor) or getattr(shape, "_is_dtf_variable", False):
        shape = np.asarray(shape.numpy()).tolist()
    if hasattr(shape, "as_list"):
        shape = shape.as_list()
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: shape must be a list of non-negative ints, got {shape!r}.") \
            from None
    if any(d < 0 for d in dims):
        from dtf.errors import InvalidArgumentError
        raise InvalidArgumentError(f"{op}: shape {list(dims)} has a negative dimension.")
    return dims


def _is_symbolic(x) -> bool:
    return getattr(x, "_is_symbolic", False)


def _symbolic_shape(shape) -> bool:
    """Whether a shape argument holds a value known only when a traced graph runs."""
    return _is_symbolic(shape) or (isinstance(shape, (list, tuple))
                                   and any(_is_symbolic(d) for d in shape))


def _filled_at_run_time(shape, dtype, value, op):
    """`_filled` for a shape or value known only when a traced graph runs: a `fill` node."""
    from dtf.ops import dynamic_shapes

    dims, runtime = dynamic_shapes.shape_arg(shape, op)
    if dims is not None and any(d is not None and d < 0 for d in dims):
        from dtf.errors import InvalidArgumentError
        raise InvalidArgumentError(f"{op}: shape {list(dims)} has a negative dimension.")
    if runtime is None:
        if not (_is_symbolic(value) or isinstance(value, Tensor)):
            return _filled(dims, dtype, value, op)
        runtime = convert_to_tensor(np.asarray(dims, dtype=np.int32).reshape(-1))
    if not (isinstance(value, Tensor) or _is_symbolic(value)):
        value = convert_to_tensor(np.asarray(value, dtype=dtypes.as_dtype(dtype)._np))
    return dynamic_shapes.fill(runtime, value, dims)


def _filled(shape, dtype, value, op):
    if _symbolic_shape(shape):
        return _filled_at_run_time(shape, dtype, value, op)
    dims = _shape_arg(shape, op)
    dtype = dtypes.as_dtype(dtype)
    if not dims:
        return Tensor(_backend.place(dtype._np.type(value)))
    return Tensor(_on_current_device(lambda xp: xp.full(dims, value, dtype=dtype._np)))


def _on_current_device(make):
    """`make(xp)` with the current device's array module, inside that device's context (so a
    CuPy array lands on `GPU:1` under `dtf.device("/GPU:1")`)."""
    device = _backend.current_device()
    backend = _backend.backend_for(device)
    if device.index == 0 or backend is _backend.numpy_backend:
        return make(backend.xp)
    with backend.xp.cuda.Device(device.index):
        return make(backend.xp)


def zeros(shape, dtype=dtypes.float32, name=None):
    """A tensor of zeros (float32 unless `dtype` says otherwise)."""
    return _filled(shape, dtype, 0, "zeros")


def ones(shape, dtype=dtypes.float32, name=None):
    """A tensor of ones (float32 unless `dtype` says otherwise)."""
    return _filled(shape, dtype, 1, "ones")


def fill(dims, value, name=None):
    """A tensor of shape `dims` filled with the scalar `value` (dtype from the value). In a
    traced function `dims` may be `dtf.shape(x)` and `value` a symbolic scalar; the gradient
    with respect to `value` is the sum of the output's gradient.

    Example:
        >>> dtf.fill([2, 2], 7).numpy()
        array([[7, 7],
               [7, 7]], dtype=int32)
    """
    v = convert_to_tensor(value)
    if v.ndim is not None and v.ndim != 0:
        from dtf.errors import InvalidArgumentError
        raise InvalidArgumentError(f"fill: value must be a scalar, got shape {v.shape}.")
    if isinstance(value, Tensor) or _is_symbolic(v) or _symbolic_shape(dims) or \
            getattr(value, "_is_dtf_variable", False):
        # A tensor value: the `fill` op, through which its gradient flows (TensorFlow's Fill).
        return _filled_at_run_time(dims, v.dtype, v, "fill")
    return _filled(dims, v.dtype, v.numpy(), "fill")


def eye(num_rows, num_columns=None, batch_shape=None, dtype=dtypes.float32, name=None):
    """An identity matrix (or a batch of them). In a traced function the sizes may be
    symbolic scalars (`dtf.shape(x)[0]`).

    Example:
        >>> dtf.eye(2, 3).numpy()
        array([[1., 0., 0.],
               [0., 1., 0.]], dtype=float32)
    """
    dtype = dtypes.as_dtype(dtype)
    if _is_symbolic(num_rows) or _is_symbolic(num_columns) or _symbolic_shape(batch_shape):
        return _eye_at_run_time(num_rows, num_columns, batch_shape, dtype)
    batch = None if batch_shape is None else _shape_arg(batch_shape, "eye")

    def make(xp):
        m = xp.eye(int(num_rows), int(num_rows if num_columns is None else num_columns),
                   dtype=dtype._np)
        return m if batch is None else xp.broadcast_to(m, batch + m.shape).copy()

    return Tensor(_on_current_device(make))


def _eye_at_run_time(num_rows, num_columns, batch_shape, dtype):
    """`eye` of sizes known only when the graph runs: row index == column index."""
    from dtf.ops.array_ops import broadcast_to, concat, expand_dims, shape
    from dtf.ops.math_ops import equal

    rows = range(num_rows, dtype=dtypes.int32)
    cols = rows if num_columns is None else range(num_columns, dtype=dtypes.int32)
    out = cast(equal(expand_dims(rows, 1), expand_dims(cols, 0)), dtype)
    if batch_shape is None:
        return out
    from dtf.ops import dynamic_shapes

    dims, runtime = dynamic_shapes.shape_arg(batch_shape, "eye")
    if runtime is None:
        runtime = convert_to_tensor(np.asarray(dims, dtype=np.int32).reshape(-1))
    return broadcast_to(out, concat([runtime, shape(out)], 0))


def _like_rule(x, dtype=None):
    return unknown_to_none(x.shape, dtype or x.dtype)


@primitive("zeros_like", shape=_like_rule, differentiable=False)
def _zeros_like(xp, x, dtype=None):
    return xp.zeros_like(x, dtype=None if dtype is None else dtype._np)


@primitive("ones_like", shape=_like_rule, differentiable=False)
def _ones_like(xp, x, dtype=None):
    return xp.ones_like(x, dtype=None if dtype is None else dtype._np)


def zeros_like(input, dtype=None, name=None):
    """Zeros with the shape (and dtype, unless given) of `input`."""
    return run(_zeros_like, (convert_to_tensor(input),),
               dtype=None if dtype is None else dtypes.as_dtype(dtype))


def ones_like(input, dtype=None, name=None):
    """Ones with the shape (and dtype, unless given) of `input`."""
    return run(_ones_like, (convert_to_tensor(input),),
               dtype=None if dtype is None else dtypes.as_dtype(dtype))


def range(start, limit=None, delta=1, dtype=None, name="range"):
    """`[start, start + delta, ...)` up to `limit`, as `tf.range` (dtype from the arguments)."""
    if limit is None:
        start, limit = 0, start
    if _is_symbolic(start) or _is_symbolic(limit) or _is_symbolic(delta):
        return _range_at_run_time(start, limit, delta, dtype)
    args = [a.numpy() if isinstance(a, Tensor) else a for a in (start, limit, delta)]
    if dtype is None:
        kinds = [convert_to_tensor(a).dtype for a in args]
        order = [dtypes.int32, dtypes.int64, dtypes.float32, dtypes.float64]
        dtype = max(kinds, key=lambda d: order.index(d) if d in order else 0)
    dtype = dtypes.as_dtype(dtype)
    if args[2] == 0:
        from dtf.errors import InvalidArgumentError
        raise InvalidArgumentError("range: delta must not be zero.")
    return Tensor(_on_current_device(
        lambda xp: xp.arange(args[0], args[1], args[2]).astype(dtype._np)))


def _range_at_run_time(start, limit, delta, dtype):
    """`range` with a bound known only when the graph runs: a `range` node."""
    from dtf.ops import dynamic_shapes

    order = [dtypes.int32, dtypes.int64, dtypes.float32, dtypes.float64]
    if dtype is None:
        kinds = [a.dtype for a in (start, limit, delta) if _is_symbolic(a) or
                 isinstance(a, Tensor)] + [convert_to_tensor(a).dtype for a in
                                           (start, limit, delta) if not (
                                               _is_symbolic(a) or isinstance(a, Tensor))]
        dtype = max(kinds, key=lambda d: order.index(d) if d in order else 0)
    dtype = dtypes.as_dtype(dtype)
    bounds = []
    for a in (start, limit, delta):
        if _is_symbolic(a) or isinstance(a, Tensor):
            if a.shape.rank not in (0, None):
                from dtf.errors import InvalidArgumentError
                raise InvalidArgumentError(f"range: start, limit and delta must be scalars, "
                                           f"got shape {a.shape}. [Op:Range]")
            bounds.append(a if a.dtype == dtype else cast(a, dtype))
        else:
            bounds.append(convert_to_tensor(np.asarray(a, dtype=dtype._np)))
    return dynamic_shapes.range_(*bounds, dtype=dtype)


def linspace(start, stop, num, name=None, axis=0):
    """`num` evenly spaced values from `start` to `stop` inclusive (float32 for Python floats)."""
    s = convert_to_tensor(start)
    e = convert_to_tensor(stop, dtype=s.dtype)
    if not s.dtype.is_floating:
        from dtf.errors import InvalidArgumentError
        raise InvalidArgumentError(f"linspace: start and stop must be floating point, got "
                                   f"{s.dtype.name}. Write 0.0 rather than 0.")
    xp = _backend.backend_of(s._value).xp
    out = xp.linspace(s._value, e._value, int(num), axis=axis).astype(s.dtype._np)
    return Tensor(out)


@primitive("identity", shape=same_shape)
def _identity(xp, x):
    return x


@_identity.def_vjp
def _(g, out, x):
    return (g,)


def identity(input, name=None):
    """Returns a tensor with the same value as `input`."""
    return run(_identity, (convert_to_tensor(input),))


def _cast_rule(x, dtype):
    return unknown_to_none(x.shape, dtype)


@primitive("cast", shape=_cast_rule)
def _cast(xp, x, dtype):
    if dtype._kind in "iu" and x.dtype.kind in "fc":
        x = xp.trunc(x.real if x.dtype.kind == "c" else x)  # C-style, toward zero
    elif dtype._kind != "c" and x.dtype.kind == "c":
        x = x.real
    return x.astype(dtype._np)


@_cast.def_vjp
def _(g, out, x, dtype):
    if not x.dtype.is_differentiable:
        return (None,)
    return (cast(g, x.dtype),)


def cast(x, dtype, name=None):
    """Casts `x` to `dtype` (floats to ints truncate toward zero, as TensorFlow)."""
    dtype = dtypes.as_dtype(dtype)
    x = convert_to_tensor(x)
    if x.dtype == dtype:
        return x
    return run(_cast, (x,), dtype=dtype)
