"""Elementwise math: arithmetic, unary functions, comparisons, logic, `where`.

Binary ops follow TensorFlow's dtype rule: both tensors must have the same dtype (no implicit
promotion); a Python or NumPy value beside a tensor is converted to the tensor's dtype.
"""

from __future__ import annotations

import numpy as np

from dtf import backend as _backend
from dtf import dtypes
from dtf.autodiff.state import active_tapes as _tapes
from dtf.autodiff.state import record as _record
from dtf.dtypes import from_numpy as _from_numpy
from dtf.errors import InvalidArgumentError
from dtf.ops import shape_rules as rules
from dtf.ops.creation_ops import cast, convert_to_tensor, zeros_like
from dtf.ops.registry import fast_paths as _fast_paths
from dtf.ops.registry import primitive, run
from dtf.tensor import Tensor

_ndarray = np.ndarray
_NO_ATTRS: dict = {}

__all__ = [
    "abs",
    "add",
    "add_n",
    "ceil",
    "clip_by_value",
    "conj",
    "cos",
    "divide",
    "divide_no_nan",
    "equal",
    "erf",
    "exp",
    "expm1",
    "floor",
    "floordiv",
    "floormod",
    "greater",
    "greater_equal",
    "imag",
    "is_finite",
    "is_inf",
    "is_nan",
    "less",
    "less_equal",
    "log",
    "log1p",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "maximum",
    "minimum",
    "mod",
    "multiply",
    "negative",
    "not_equal",
    "pow",
    "real",
    "reciprocal",
    "round",
    "rsqrt",
    "sigmoid",
    "sign",
    "sin",
    "sqrt",
    "square",
    "squared_difference",
    "subtract",
    "tan",
    "tanh",
    "truediv",
    "unbroadcast",
    "where",
]


# -- argument conversion ------------------------------------------------------------------------
def _dtype_of(x):
    return x.dtype if (isinstance(x, Tensor) or getattr(x, "_is_dtf_variable", False)
                       or getattr(x, "_is_symbolic", False)) else None


def binary_args(op, x, y):
    """Converts an op's two operands with TensorFlow's rules; raises on mixed dtypes."""
    dx, dy = _dtype_of(x), _dtype_of(y)
    if dx is None and dy is None:
        x = convert_to_tensor(x)
        y = convert_to_tensor(y, dtype_hint=x.dtype)
        dx, dy = x.dtype, y.dtype
    elif dx is None:
        x = _convert_operand(op, x, dy, 0)
        dx = dy
    elif dy is None:
        y = _convert_operand(op, y, dx, 1)
        dy = dx
    if dx != dy:
        raise _mismatch(op, 1, dx, dy, f"(shapes {_shape_text(x)} and {_shape_text(y)})")
    return x, y


# TensorFlow's kernel names and dtype spellings, so that errors read as TensorFlow's do
# ("cannot compute AddV2 as input #1(zero-based) was expected to be a float tensor ...").
_TF_OP_NAMES = {"add": "AddV2", "subtract": "Sub", "multiply": "Mul", "divide": "RealDiv",
                "floordiv": "FloorDiv", "floormod": "FloorMod", "pow": "Pow",
                "maximum": "Maximum", "minimum": "Minimum", "equal": "Equal",
                "not_equal": "NotEqual", "less": "Less", "less_equal": "LessEqual",
                "greater": "Greater", "greater_equal": "GreaterEqual", "matmul": "MatMul",
                "select": "SelectV2", "squared_difference": "SquaredDifference"}
_TF_DTYPE_NAMES = {"float32": "float", "float64": "double", "float16": "half"}


def _mismatch(op, index, expected, got, detail):
    tf_op = _TF_OP_NAMES.get(op, op)
    return InvalidArgumentError(
        f"cannot compute {tf_op} as input #{index}(zero-based) was expected to be a "
        f"{_TF_DTYPE_NAMES.get(expected.name, expected.name)} tensor but is a "
        f"{_TF_DTYPE_NAMES.get(got.name, got.name)} tensor [Op:{tf_op}]. dtf op {op!r} got "
        f"dtypes {expected.name} and {got.name} {detail}; dtf does not convert dtypes "
        f"implicitly: use dtf.cast(x, dtf.{expected.name}).")


# Python scalars beside a tensor (`2.0 * x`, `x + 1`) are common in VJPs and user code. Their
# Tensors are immutable, so one per (value, dtype, device) is kept, up to a bound. Float zero is
# not cached: 0.0 == -0.0 would give the wrong sign.
_scalar_cache: dict = {}
_SCALAR_CACHE_MAX = 4096


def _convert_operand(op, value, dtype, index):
    tv = type(value)
    key = None
    if (tv is float and value) or tv is int:
        # keyed by the NumPy dtype, whose hash is C code (DType's is Python)
        key = (tv, value, dtype._np, _backend.current_device()
               if len(_backend._backends) > 1 else None)
        t = _scalar_cache.get(key)
        if t is not None:
            return t
    try:
        t = convert_to_tensor(value, dtype=dtype)
    except (TypeError, ValueError):
        # As TensorFlow: the value is converted on its own, and the dtypes then disagree.
        own = convert_to_tensor(value)
        raise _mismatch(op, index, dtype, own.dtype,
                        f"(the value {_short(value)} cannot be represented as {dtype.name})"
                        ) from None
    if key is not None and len(_scalar_cache) < _SCALAR_CACHE_MAX:
        _scalar_cache[key] = t
    return t


def _short(value):
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def _shape_text(x):
    try:
        return str(x.shape)
    except AttributeError:
        return "?"


def unbroadcast(g, x):
    """Sums `g` over the axes along which `x` was broadcast, giving `x`'s shape."""
    gshape = g._value.shape if type(g) is Tensor else _static_tuple(g)
    xshape = x._value.shape if type(x) is Tensor else _static_tuple(x)
    if gshape == xshape and (type(x) is Tensor or None not in xshape):
        return g
    # array_ops and reduce_ops build on this module, so they are imported here, past the
    # common no-broadcast exit above.
    from dtf.ops.array_ops import reshape
    from dtf.ops.reduce_ops import reduce_sum

    if xshape is None or gshape is None or None in xshape:
        # Which axes were broadcast is known only when the graph runs (a dim of x may be 1).
        from dtf.ops.dynamic_shapes import sum_to

        return sum_to(g, x)
    lead = len(gshape) - len(xshape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, d in enumerate(xshape) if d == 1 and gshape[i + lead] != 1)
    if axes:
        g = reduce_sum(g, axis=axes)
    return reshape(g, xshape) if _static_tuple(g) != tuple(xshape) else g


def _static_tuple(t):
    dims = t.shape.dims
    return None if dims is None else tuple(dims)


# -- binary arithmetic --------------------------------------------------------------------------
def _binary_primitive(name, fn, vjp=None, differentiable=True, rule=rules.broadcast_rule):
    prim = primitive(name, shape=rule, differentiable=differentiable)(fn)
    if vjp is not None:
        prim.def_vjp(vjp)
    return prim


def _make_binary(prim, public_name, doc, ufunc=None):
    """The public function of a binary primitive.

    `ufunc` (a NumPy ufunc computing exactly `prim.impl`) enables the eager fast path: two host
    ndarrays of one dtype go straight to NumPy, skipping the generic dispatch of `run`. Anything
    else, and any error (to get its full message), takes the generic path.
    """

    def op(x, y, name=None):
        # A Python number beside a tensor (`2.0 * g` in VJPs, `x + 1`) takes the tensor's dtype
        # here, from the scalar cache, and then the fast path below.
        tx, ty = type(x), type(y)
        if tx is Tensor:
            if ty is float or ty is int:
                y = _convert_operand(prim.name, y, _from_numpy(x._value.dtype), 1)
                ty = Tensor
        elif ty is Tensor and (tx is float or tx is int):
            x = _convert_operand(prim.name, x, _from_numpy(y._value.dtype), 0)
            tx = Tensor
        if tx is Tensor and ty is Tensor:
            xv = x._value
            yv = y._value
            if xv.dtype == yv.dtype:
                if ufunc is not None and type(xv) is _ndarray and type(yv) is _ndarray \
                        and _fast_paths[0]:
                    try:
                        out = Tensor(ufunc(xv, yv))
                    except ValueError:
                        return run(prim, (x, y))
                    if _tapes and prim.vjp_fn is not None:
                        _record(prim, (x, y), _NO_ATTRS, out)
                    return out
                return run(prim, (x, y))
        x, y = binary_args(prim.name, x, y)
        return run(prim, (x, y))

    op.__name__ = op.__qualname__ = public_name
    op.__doc__ = doc
    return op


_add = _binary_primitive("add", lambda xp, x, y: xp.add(x, y),
                         lambda g, out, x, y: (unbroadcast(g, x), unbroadcast(g, y)))
_subtract = _binary_primitive("subtract", lambda xp, x, y: xp.subtract(x, y),
                              lambda g, out, x, y: (unbroadcast(g, x), unbroadcast(-g, y)))
_multiply = _binary_primitive("multiply", lambda xp, x, y: xp.multiply(x, y),
                              lambda g, out, x, y: (unbroadcast(g * conj(y), x),
                                                    unbroadcast(conj(x) * g, y)))


def _div_impl(xp, x, y):
    return xp.true_divide(x, y)


_divide = _binary_primitive(
    "divide", _div_impl,
    lambda g, out, x, y: (unbroadcast(g / conj(y), x), unbroadcast(-g * conj(out / y), y)))


def _floordiv_impl(xp, x, y):
    if x.dtype.kind in "iu" and xp.any(y == 0):
        raise ValueError("Integer division by zero.")
    return xp.floor_divide(x, y)


_floordiv = _binary_primitive("floordiv", _floordiv_impl,
                              lambda g, out, x, y: (None, None))


def _floormod_impl(xp, x, y):
    if x.dtype.kind in "iu" and xp.any(y == 0):
        raise ValueError("Integer division by zero.")
    return xp.mod(x, y)


# d(x mod y)/dx = 1, d/dy = -floor(x / y)
_floormod = _binary_primitive(
    "floormod", _floormod_impl,
    lambda g, out, x, y: (unbroadcast(g, x), unbroadcast(-g * floor(x / y), y)))


def _pow_impl(xp, x, y):
    if x.dtype.kind in "iu" and xp.any(y < 0):
        raise ValueError("Integers to negative integer powers are not allowed.")
    return xp.power(x, y)


def _pow_vjp(g, out, x, y):
    gx = unbroadcast(g * y * pow(x, y - 1), x)
    # d/dy x^y = x^y log x, taken as 0 where x <= 0 (TensorFlow's convention)
    positive = greater(x, 0)
    log_x = where(positive, log(where(positive, x, _ones(x))), zeros_like(x))
    gy = unbroadcast(g * out * log_x, y)
    return gx, gy


def _ones(x):
    from dtf.ops.creation_ops import ones_like
    return ones_like(x)


_pow = _binary_primitive("pow", _pow_impl, _pow_vjp)


def _maximum_vjp(g, out, x, y):
    mask = greater_equal(x, y)
    return (unbroadcast(where(mask, g, zeros_like(g)), x),
            unbroadcast(where(mask, zeros_like(g), g), y))


def _minimum_vjp(g, out, x, y):
    mask = less_equal(x, y)
    return (unbroadcast(where(mask, g, zeros_like(g)), x),
            unbroadcast(where(mask, zeros_like(g), g), y))


_maximum = _binary_primitive("maximum", lambda xp, x, y: xp.maximum(x, y), _maximum_vjp)
_minimum = _binary_primitive("minimum", lambda xp, x, y: xp.minimum(x, y), _minimum_vjp)
_squared_difference = _binary_primitive(
    "squared_difference", lambda xp, x, y: xp.square(x - y),
    lambda g, out, x, y: (unbroadcast(2.0 * g * (x - y), x),
                          unbroadcast(-2.0 * g * (x - y), y)))

add = _make_binary(_add, "add", ufunc=np.add, doc="x + y elementwise, with broadcasting.")
subtract = _make_binary(_subtract, "subtract", ufunc=np.subtract, doc="x - y elementwise, with broadcasting.")
multiply = _make_binary(_multiply, "multiply", ufunc=np.multiply, doc="x * y elementwise, with broadcasting.")
_divide_float = _make_binary(_divide, "divide", "x / y elementwise.", ufunc=np.true_divide)
floordiv = _make_binary(_floordiv, "floordiv", "floor(x / y) elementwise (`//`).")
floormod = _make_binary(_floormod, "floormod",
                        "x mod y with the sign of y, as Python's `%`.")
mod = floormod
maximum = _make_binary(_maximum, "maximum", ufunc=np.maximum, doc="The larger of x and y elementwise.")
minimum = _make_binary(_minimum, "minimum", ufunc=np.minimum, doc="The smaller of x and y elementwise.")
squared_difference = _make_binary(_squared_difference, "squared_difference", "(x - y) ** 2.")
pow = _make_binary(_pow, "pow", "x ** y elementwise.")

# TensorFlow's truediv: integers are converted to floats first (small ints to float32).
_TRUEDIV_FLOAT = {"int8": dtypes.float32, "uint8": dtypes.float32, "int16": dtypes.float32,
                  "uint16": dtypes.float32, "int32": dtypes.float64, "uint32": dtypes.float64,
                  "int64": dtypes.float64, "uint64": dtypes.float64}


def truediv(x, y, name=None):
    """x / y; integer inputs are converted to floating point first (int32 -> float64)."""
    if type(x) is Tensor and type(y) is Tensor and x._value.dtype == y._value.dtype \
            and x._value.dtype.kind in "fc":
        return _divide_float(x, y)
    x, y = binary_args("divide", x, y)
    target = _TRUEDIV_FLOAT.get(x.dtype.name)
    if target is not None:
        x, y = cast(x, target), cast(y, target)
    return run(_divide, (x, y))


divide = truediv


def add_n(inputs, name=None):
    """The elementwise sum of a list of tensors of one shape and dtype."""
    inputs = list(inputs)
    if not inputs:
        raise ValueError("add_n needs at least one tensor.")
    total = convert_to_tensor(inputs[0])
    for t in inputs[1:]:
        total = add(total, t)
    return total


def divide_no_nan(x, y, name=None):
    """x / y, with 0 where y is 0."""
    x, y = binary_args("divide_no_nan", x, y)
    zero = equal(y, 0)
    safe_y = where(zero, _ones(y), y)
    return where(zero, zeros_like(x * safe_y), x / safe_y)


# -- unary --------------------------------------------------------------------------------------
def _unary(name, impl, vjp=None, rule=rules.same_shape, kinds=None, differentiable=True,
           ufunc=None):
    """Registers a unary primitive and returns (primitive, public function); `ufunc` enables
    the NumPy fast path as in `_make_binary`."""
    prim = primitive(name, shape=rule, differentiable=differentiable)(impl)
    if vjp is not None:
        prim.def_vjp(vjp)

    def op(x, name=None):
        if type(x) is Tensor and ufunc is not None and _fast_paths[0]:
            xv = x._value
            if type(xv) is _ndarray and (kinds is None or xv.dtype.kind in kinds):
                out = Tensor(ufunc(xv))
                if _tapes and prim.vjp_fn is not None:
                    _record(prim, (x,), _NO_ATTRS, out)
                return out
        if type(x) is not Tensor:
            x = convert_to_tensor(x)
        if kinds is not None and x.dtype._kind not in kinds:
            raise InvalidArgumentError(
                f"{prim.name}: input has dtype {x.dtype.name}, but this op needs one of "
                f"{_kind_names(kinds)}. Use dtf.cast(x, dtf.float32) first. [Op:{prim.name}]")
        return run(prim, (x,))

    op.__name__ = op.__qualname__ = name
    return prim, op


def _kind_names(kinds):
    names = {"f": "float", "c": "complex", "i": "signed int", "u": "unsigned int", "b": "bool"}
    return "/".join(names[k] for k in kinds)


_FLOAT = "fc"
_NUMERIC = "iufc"

_, negative = _unary("negative", lambda xp, x: xp.negative(x), lambda g, out, x: (-g,),
                     kinds="ifc", ufunc=np.negative)


def _abs_vjp(g, out, x):
    if x.dtype.is_complex:
        return (cast(g, x.dtype) * x / cast(out, x.dtype),)
    return (g * sign(x),)


def _abs_rule(x):
    return rules.Spec(x.shape, x.dtype.real_dtype)


_, abs = _unary("abs", lambda xp, x: xp.abs(x), _abs_vjp, rule=_abs_rule, kinds=_NUMERIC)
_, sign = _unary("sign", lambda xp, x: xp.sign(x), lambda g, out, x: (zeros_like(g),),
                 kinds=_NUMERIC)
_, square = _unary("square", lambda xp, x: xp.square(x),
                   lambda g, out, x: (g * (2.0 * conj(x)),),
                   kinds=_NUMERIC, ufunc=np.square)
_, sqrt = _unary("sqrt", lambda xp, x: xp.sqrt(x), lambda g, out, x: (g / (2.0 * conj(out)),),
                 kinds=_FLOAT, ufunc=np.sqrt)
_, rsqrt = _unary("rsqrt", lambda xp, x: 1 / xp.sqrt(x),
                  lambda g, out, x: (g * (-0.5) * conj(out * out * out),), kinds=_FLOAT)
_, exp = _unary("exp", lambda xp, x: xp.exp(x), lambda g, out, x: (g * conj(out),),
                kinds=_FLOAT, ufunc=np.exp)
_, log = _unary("log", lambda xp, x: xp.log(x), lambda g, out, x: (g / conj(x),),
                kinds=_FLOAT, ufunc=np.log)
_, log1p = _unary("log1p", lambda xp, x: xp.log1p(x), lambda g, out, x: (g / conj(1.0 + x),),
                  kinds=_FLOAT, ufunc=np.log1p)
_, expm1 = _unary("expm1", lambda xp, x: xp.expm1(x), lambda g, out, x: (g * conj(out + 1.0),),
                  kinds=_FLOAT, ufunc=np.expm1)
_, sin = _unary("sin", lambda xp, x: xp.sin(x), lambda g, out, x: (g * conj(cos(x)),),
                kinds=_FLOAT, ufunc=np.sin)
_, cos = _unary("cos", lambda xp, x: xp.cos(x), lambda g, out, x: (-g * conj(sin(x)),),
                kinds=_FLOAT, ufunc=np.cos)
_, tan = _unary("tan", lambda xp, x: xp.tan(x),
                lambda g, out, x: (g * conj(1.0 + out * out),), kinds=_FLOAT, ufunc=np.tan)
_, tanh = _unary("tanh", lambda xp, x: xp.tanh(x),
                 lambda g, out, x: (g * conj(1.0 - out * out),), kinds=_FLOAT, ufunc=np.tanh)


def _sigmoid_impl(xp, x):
    # exp(-|x|) never overflows; the two branches give the same value where both are finite.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


_, sigmoid = _unary("sigmoid", _sigmoid_impl, lambda g, out, x: (g * out * (1.0 - out),),
                    kinds="f")


def _erf_impl(xp, x):
    from dtf.ops.special import erf as erf_array
    return erf_array(xp, x)


_, erf = _unary("erf", _erf_impl,
                lambda g, out, x: (g * (2.0 / np.sqrt(np.pi)) * exp(-square(x)),), kinds="f")
_, reciprocal = _unary("reciprocal", lambda xp, x: 1 / x,
                       lambda g, out, x: (-g * conj(out * out),), kinds=_FLOAT)
# TensorFlow registers no gradient for Round, Floor and Ceil: tapes return None through them.
_, round = _unary("round", lambda xp, x: xp.round(x), kinds=_NUMERIC,
                  differentiable=False)
_, floor = _unary("floor", lambda xp, x: xp.floor(x), kinds="f", differentiable=False)
_, ceil = _unary("ceil", lambda xp, x: xp.ceil(x), kinds="f", differentiable=False)


def _real_rule(x):
    return rules.Spec(x.shape, x.dtype.real_dtype)


_real_prim, real = _unary("real", lambda xp, x: xp.real(x).copy() if x.dtype.kind == "c" else x,
                          lambda g, out, x: (cast(g, x.dtype) if x.dtype.is_complex else g,),
                          rule=_real_rule)
_, imag = _unary("imag", lambda xp, x: xp.imag(x).copy() if x.dtype.kind == "c"
                 else xp.zeros_like(x),
                 lambda g, out, x: ((cast(g, x.dtype) * _imag_unit(x)) if x.dtype.is_complex
                                    else zeros_like(g),),
                 rule=_real_rule)


def _imag_unit(x):
    return convert_to_tensor(np.array(1j, dtype=x.dtype.as_numpy_dtype))


def conj(x, name=None):
    """Complex conjugate; the identity on real tensors (no op is added for them)."""
    if type(x) is Tensor and x._value.dtype.kind != "c":
        return x  # the common case, checked without building a DType (VJPs call this a lot)
    if x.dtype.is_complex:
        return _conj_op(x)
    return x


_, _conj_op = _unary("conj", lambda xp, x: xp.conj(x), lambda g, out, x: (conj(g),),
                     kinds="c")

_, is_nan = _unary("is_nan", lambda xp, x: xp.isnan(x), rule=rules.bool_same_shape,
                   kinds="f", differentiable=False)
_, is_inf = _unary("is_inf", lambda xp, x: xp.isinf(x), rule=rules.bool_same_shape,
                   kinds="f", differentiable=False)
_, is_finite = _unary("is_finite", lambda xp, x: xp.isfinite(x), rule=rules.bool_same_shape,
                      kinds="f", differentiable=False)


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """Clips values to [min, max]; the gradient flows where the value was not clipped."""
    t = convert_to_tensor(t)
    return minimum(maximum(t, clip_value_min), clip_value_max)


# -- comparisons and logic ----------------------------------------------------------------------
def _comparison(name, fn):
    prim = primitive(name, shape=rules.compare_rule, differentiable=False)(fn)
    return _make_binary(prim, name, f"Elementwise `{name}` as a bool tensor.")


equal = _comparison("equal", lambda xp, x, y: xp.equal(x, y))
not_equal = _comparison("not_equal", lambda xp, x, y: xp.not_equal(x, y))
less = _comparison("less", lambda xp, x, y: xp.less(x, y))
less_equal = _comparison("less_equal", lambda xp, x, y: xp.less_equal(x, y))
greater = _comparison("greater", lambda xp, x, y: xp.greater(x, y))
greater_equal = _comparison("greater_equal", lambda xp, x, y: xp.greater_equal(x, y))


def _logical(name, fn):
    prim = primitive(name, shape=rules.compare_rule, differentiable=False)(fn)
    binary = _make_binary(prim, name, f"Elementwise `{name}` of two bool tensors.")

    def op(x, y, name=None):
        x, y = binary_args(prim.name, x, y)
        if x.dtype != dtypes.bool:
            raise InvalidArgumentError(f"{prim.name}: needs bool tensors, got {x.dtype.name}. "
                                       "Compare first (x > 0) or dtf.cast to dtf.bool.")
        return binary(x, y)

    op.__name__ = op.__qualname__ = name
    return op


logical_and = _logical("logical_and", lambda xp, x, y: xp.logical_and(x, y))
logical_or = _logical("logical_or", lambda xp, x, y: xp.logical_or(x, y))
logical_xor = _logical("logical_xor", lambda xp, x, y: xp.logical_xor(x, y))
_, _logical_not = _unary("logical_not", lambda xp, x: xp.logical_not(x),
                         rule=rules.bool_same_shape, kinds="b", differentiable=False)


def logical_not(x, name=None):
    """Elementwise NOT of a bool tensor."""
    return _logical_not(x)


# -- where --------------------------------------------------------------------------------------
def _where_rule(c, x, y):
    shape = rules.broadcast_dims(rules.broadcast_dims(c.shape, x.shape, "where"), y.shape,
                                 "where")
    return rules.Spec(shape, x.dtype)


@primitive("select", shape=_where_rule)
def _select(xp, c, x, y):
    return xp.where(c, x, y)


@_select.def_vjp
def _(g, out, c, x, y):
    zeros = zeros_like(g)
    return None, unbroadcast(_select(c, g, zeros), x), unbroadcast(_select(c, zeros, g), y)


def _where_indices_rule(c):
    return rules.Spec((None, None if c.shape is None else len(c.shape)), dtypes.int64)


@primitive("where_indices", shape=_where_indices_rule, differentiable=False,
           data_dependent_shape=True)
def _where_indices(xp, c):
    return xp.argwhere(c).astype(np.int64)


def where(condition, x=None, y=None, name=None):
    """`x` where `condition` is true, else `y` (broadcast); with neither, the coordinates of the
    true elements as an int64 tensor of shape [num_true, rank]."""
    condition = convert_to_tensor(condition)
    if condition.dtype != dtypes.bool:
        raise InvalidArgumentError(f"where: condition must be a bool tensor, got "
                                   f"{condition.dtype.name}.")
    if x is None and y is None:
        return run(_where_indices, (condition,))
    if x is None or y is None:
        raise ValueError("where: give both x and y, or neither.")
    x, y = binary_args("select", x, y)
    return run(_select, (condition, x, y))
