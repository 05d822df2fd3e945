"""`dtf.py_function` and `dtf.numpy_function`: Python code as an op.

The Python function runs whenever the op runs: once per call eagerly, and on every call of a
`dtf.function` that contains it (the op is stateful, so graph passes never fold, merge or drop
it; `numpy_function(..., stateful=False)` declares it pure, and a pure op whose inputs are
constants may be computed once, at trace time, as TensorFlow allows). `py_function` hands the
function Tensors, `numpy_function` NumPy arrays; the results are converted to `Tout`.

The outputs' shapes are unknown inside a traced function (as TensorFlow), unless `Tout` gives
`dtf.TensorSpec`s with shapes: then the traced outputs have those shapes, and a result of
another shape raises when the op runs. No gradient flows through either op (TensorFlow's
`numpy_function` rule): a tape gives None for their inputs.

Errors raised by the function surface as `dtf.errors.InvalidArgumentError` naming the function,
the original error's type and message and its traceback (`__cause__` is the original), except
that an eager `numpy_function` raises the original error itself, as TensorFlow does. A
`StopIteration` becomes `dtf.errors.OutOfRangeError` (the end of a data pipeline).

Example:
    >>> calls = []
    >>> def log(x):
    ...     calls.append(float(x))
    ...     return x * 2
    >>> f = dtf.function(lambda x: dtf.py_function(log, [x], dtf.float32))
    >>> [float(f(dtf.constant(1.0))) for _ in range(3)], len(calls)
    ([2.0, 2.0, 2.0], 3)
"""

from __future__ import annotations

import traceback

import numpy as np

from dtf import dtypes
from dtf.autodiff import state as _tape_state
from dtf.ops import registry
from dtf.ops.registry import Spec, primitive
from dtf.tensor import Tensor

__all__ = ["numpy_function", "py_function"]


# -- the primitives ---------------------------------------------------------------------------
def _py_func_rule(*inputs, func, kind, Tout, shapes, single):
    # With no outputs (Tout=[]) the op still yields one bool: a graph node needs an output.
    if not Tout:
        return (Spec((), dtypes.bool),)
    return tuple(Spec(shape, dtype) for shape, dtype in zip(shapes, Tout))


def _call(xp, *arrays, func, kind, Tout, shapes, single):
    """Runs `func` on the inputs (Tensors for kind="tensor", NumPy arrays for "numpy") and
    returns its results as arrays of `Tout`, a tuple (one bool when `Tout` is empty).
    `single`: `Tout` was one dtype, not a list, so the whole result is the one output."""
    if kind == "numpy":
        args = [np.asarray(a) if isinstance(a, (np.ndarray, np.generic)) else Tensor(a).numpy()
                for a in arrays]
    else:
        args = [Tensor(a) for a in arrays]
    try:
        if _tape_state.active_tapes:  # the op has no gradient: keep func's ops off the tapes
            from dtf.autodiff.tape import stop_recording

            with stop_recording():
                result = func(*args)
        else:
            result = func(*args)
    except StopIteration as e:
        from dtf.errors import OutOfRangeError

        raise OutOfRangeError(f"{_describe(func, kind)} raised StopIteration: the end of its "
                              "sequence.") from e
    except Exception as e:  # any error of user code, reported with its cause
        raise _func_error(func, kind, e) from e
    if not Tout:
        return (np.asarray(True),)
    # One output (a single Tout, or a list of one and a bare value): func's result is its value
    if single or (len(Tout) == 1 and not isinstance(result, (list, tuple))):
        results = [result]
    elif isinstance(result, (list, tuple)) and len(result) == len(Tout):
        results = list(result)
    else:
        got = "None" if result is None else f"{len(result)} values" if isinstance(
            result, (list, tuple)) else f"one {type(result).__name__}"
        raise _invalid(f"{_describe(func, kind)} returned {got}, but Tout lists {len(Tout)} "
                       f"outputs ({_dtype_names(Tout)}): return a list or tuple of "
                       f"{len(Tout)} values.")
    return tuple(_convert(value, i, dtype, shape, func, kind, xp)
                 for i, (value, dtype, shape) in enumerate(zip(results, Tout, shapes)))


# A Python function as a stateful op: it runs every time the op runs.
py_func = primitive("py_func", shape=_py_func_rule, num_outputs=None, differentiable=False,
                    stateful=True, host_only=True)(_call)
# A pure one (`numpy_function(stateful=False)`): graph passes may merge or fold it.
py_func_stateless = primitive("py_func_stateless", shape=_py_func_rule, num_outputs=None,
                              differentiable=False, host_only=True)(_call)


def _describe(func, kind) -> str:
    api = "numpy_function" if kind == "numpy" else "py_function"
    name = getattr(func, "__qualname__", None) or type(func).__name__
    return f"The function {name!r} of dtf.{api}"


def _dtype_names(Tout) -> str:
    return ", ".join(d.name for d in Tout)


def _invalid(message):
    from dtf.errors import InvalidArgumentError

    return InvalidArgumentError(message)


def _func_error(func, kind, error):
    """The InvalidArgumentError for an exception raised by the user's function: its type,
    message and traceback (the frames from the function on)."""
    tb = error.__traceback__
    if tb is not None and tb.tb_frame.f_code is _call.__code__:
        tb = tb.tb_next  # start at the user's function, not at this module's call of it
    trace = "".join(traceback.format_exception(type(error), error, tb))
    wrapped = _invalid(f"{_describe(func, kind)} raised {type(error).__name__}: {error}\n"
                       f"{trace.rstrip()}")
    wrapped._py_func_error = error
    return wrapped


def _convert(value, index, dtype, shape, func, kind, xp):
    """One result as an array of `dtype` (and `shape` when known)."""
    from dtf.ops.creation_ops import convert_to_tensor

    where = f"{_describe(func, kind)} returned"
    if value is None:
        raise _invalid(f"{where} None for output {index}, but Tout says {dtype.name}: return a "
                       "value for every output (Tout=[] for none).")
    if kind == "numpy" and isinstance(value, (np.ndarray, np.generic)) and \
            dtypes.from_numpy(value.dtype) != dtype and not (
                dtype == dtypes.string and value.dtype.kind in "OSU"):
        raise _invalid(f"{where} a {value.dtype} array for output {index}, but Tout says "
                       f"{dtype.name}: return `result.astype(np.{dtype.as_numpy_dtype.__name__})`"
                       " or change Tout.")
    try:
        array = convert_to_tensor(value, dtype=dtype)._value
    except (TypeError, ValueError) as e:
        raise _invalid(f"{where} {type(value).__name__} for output {index}, which does not "
                       f"convert to a {dtype.name} tensor: {e}") from e
    if shape is not None and (len(shape) != array.ndim or any(
            d is not None and d != n for d, n in zip(shape, array.shape))):
        raise _invalid(f"{where} a value of shape {list(array.shape)} for output {index}, but "
                       f"its TensorSpec in Tout says {['?' if d is None else d for d in shape]}"
                       ": return that shape, or relax the TensorSpec's shape (None for unknown "
                       "dims).")
    if xp is not np and isinstance(array, (np.ndarray, np.generic)):
        array = xp.asarray(array)  # a device backend: results live beside the inputs
    return array


# -- the public functions ---------------------------------------------------------------------
def _parse_tout(Tout, api):
    """`(dtypes, shapes, single)` from a dtype, a TensorSpec, or a list/tuple of them."""
    from dtf.tensor_spec import TensorSpec

    single = not isinstance(Tout, (list, tuple))
    items = [Tout] if single else list(Tout)
    kinds, shapes = [], []
    for item in items:
        if isinstance(item, TensorSpec):
            kinds.append(item.dtype)
            dims = item.shape.dims
            shapes.append(None if dims is None else tuple(dims))
            continue
        try:
            kinds.append(dtypes.as_dtype(item))
        except (TypeError, ValueError, KeyError) as e:
            raise TypeError(f"dtf.{api}: Tout must be a dtype (e.g. dtf.float32), a "
                            f"dtf.TensorSpec, or a list of them; got {item!r} of type "
                            f"{type(item).__name__}.") from e
        shapes.append(None)
    return tuple(kinds), tuple(shapes), single


def _inputs(inp, api):
    from dtf.ops.creation_ops import convert_to_tensor

    if inp is None:
        return ()
    if not isinstance(inp, (list, tuple)):
        raise TypeError(f"dtf.{api}: inp must be a list of tensors (the function's arguments), "
                        f"got {type(inp).__name__}; write [x] for a single argument.")
    out = []
    for x in inp:
        if isinstance(x, Tensor) or getattr(x, "_is_symbolic", False) or \
                getattr(x, "_is_dtf_variable", False):
            out.append(x)
        else:
            out.append(convert_to_tensor(x))
    return tuple(out)


def _apply(func, inp, Tout, api, kind, prim):
    if not callable(func):
        raise TypeError(f"dtf.{api}: func must be callable, got {type(func).__name__}: "
                        f"{func!r}.")
    kinds, shapes, single = _parse_tout(Tout, api)
    outputs = registry.run(prim, _inputs(inp, api), func=func, kind=kind, Tout=kinds,
                           shapes=shapes, single=single)
    if not kinds:
        return []
    return outputs[0] if single else list(outputs)


def py_function(func, inp, Tout, name=None):
    """Wraps a Python function of Tensors as an op (TensorFlow's `tf.py_function`).

    The function runs every time the op runs: eagerly, once per call; inside a `dtf.function`,
    on every call of the traced function (never once at trace time). It receives eager Tensors
    and may run any dtf op, NumPy or Python code (logging, I/O, sleeping). No gradient flows
    through the op.

    Args:
        func: a Python function taking `len(inp)` Tensors and returning a value for each
            output: a Tensor, NumPy array or Python value, converted to the output's dtype.
        inp: a list of the function's arguments (Tensors, Variables or convertible values).
        Tout: the outputs' dtype, or a list of dtypes for several outputs (a list gives a list,
            `[]` gives `[]` and ignores what the function returns). A `dtf.TensorSpec` gives
            the output a static shape (checked when the op runs); otherwise its shape is
            unknown inside a traced function.
        name: unused (TensorFlow's op name).

    Returns:
        A Tensor, or a list of Tensors when `Tout` is a list.

    Raises:
        dtf.errors.InvalidArgumentError: `func` raised (the message has its error's type,
            message and traceback), or returned values that do not fit `Tout`.

    Example:
        >>> def scale(x, k):
        ...     return x * float(k.numpy())
        >>> dtf.py_function(scale, [dtf.constant([1.0, 2.0]), 3], dtf.float32)
        <dtf.Tensor: shape=(2,), dtype=float32, numpy=array([3., 6.], dtype=float32)>
    """
    return _apply(func, inp, Tout, "py_function", "tensor", py_func)


def numpy_function(func, inp, Tout, stateful=True, name=None):
    """Wraps a Python function of NumPy arrays as an op (TensorFlow's `tf.numpy_function`).

    Like `py_function`, but the function receives NumPy arrays (which may share memory with the
    input tensors: do not modify them) and must return NumPy arrays of the `Tout` dtypes
    (Python numbers are converted). Eagerly, an error the function raises propagates as it is.

    Args:
        func: a Python function taking `len(inp)` NumPy arrays.
        inp: a list of the function's arguments.
        Tout: the outputs' dtype, a list of dtypes, or `dtf.TensorSpec`s (see `py_function`).
        stateful: False declares the function pure (same inputs, same outputs, no side
            effects): traced functions may then run it fewer times (merge repeated calls,
            compute it at trace time when its inputs are constants).
        name: unused (TensorFlow's op name).

    Returns:
        A Tensor, or a list of Tensors when `Tout` is a list.

    Example:
        >>> dtf.numpy_function(lambda a: np.sort(a), [dtf.constant([3, 1, 2])], dtf.int32)
        <dtf.Tensor: shape=(3,), dtype=int32, numpy=array([1, 2, 3], dtype=int32)>
    """
    prim = py_func if stateful else py_func_stateless
    try:
        return _apply(func, inp, Tout, "numpy_function", "numpy", prim)
    except Exception as e:
        original = getattr(e, "_py_func_error", None)
        if original is not None and not registry.is_tracing():
            raise original.with_traceback(original.__traceback__) from None
        raise
