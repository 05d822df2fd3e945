"""Python operators on Tensors and Variables, installed onto both classes.

They call the op functions directly, so `a + b` costs one Python call more than `dtf.add`.
`==` and `!=` are elementwise, as in TensorFlow 2.
"""

from __future__ import annotations

from dtf.ops import indexing_ops, linalg_ops, math_ops
from dtf.tensor import Tensor

_add = math_ops.add
_subtract = math_ops.subtract
_multiply = math_ops.multiply
_truediv = math_ops.truediv
_floordiv = math_ops.floordiv
_floormod = math_ops.floormod
_pow = math_ops.pow
_matmul = linalg_ops.matmul


def _and(x, y):
    return _bitwise_or_logical("and", x, y)


def _or(x, y):
    return _bitwise_or_logical("or", x, y)


def _xor(x, y):
    return _bitwise_or_logical("xor", x, y)


def _bitwise_or_logical(kind, x, y):
    x, y = math_ops.binary_args(f"logical_{kind}", x, y)
    if x.dtype.is_bool:
        return getattr(math_ops, f"logical_{kind}")(x, y)
    from dtf.ops import bitwise_ops
    return getattr(bitwise_ops, f"bitwise_{kind}")(x, y)


def _invert(x):
    if x.dtype.is_bool:
        return math_ops.logical_not(x)
    from dtf.ops import bitwise_ops
    return bitwise_ops.invert(x)


def _eq(x, y):
    if y is None:
        return False
    return math_ops.equal(x, y)


def _ne(x, y):
    if y is None:
        return True
    return math_ops.not_equal(x, y)


OPERATORS = {
    "__add__": _add,
    "__radd__": lambda x, y: _add(y, x),
    "__sub__": _subtract,
    "__rsub__": lambda x, y: _subtract(y, x),
    "__mul__": _multiply,
    "__rmul__": lambda x, y: _multiply(y, x),
    "__truediv__": _truediv,
    "__rtruediv__": lambda x, y: _truediv(y, x),
    "__floordiv__": _floordiv,
    "__rfloordiv__": lambda x, y: _floordiv(y, x),
    "__mod__": _floormod,
    "__rmod__": lambda x, y: _floormod(y, x),
    "__pow__": _pow,
    "__rpow__": lambda x, y: _pow(y, x),
    "__matmul__": _matmul,
    "__rmatmul__": lambda x, y: _matmul(y, x),
    "__neg__": math_ops.negative,
    "__pos__": lambda x: x,
    "__abs__": math_ops.abs,
    "__lt__": math_ops.less,
    "__le__": math_ops.less_equal,
    "__gt__": math_ops.greater,
    "__ge__": math_ops.greater_equal,
    "__eq__": _eq,
    "__ne__": _ne,
    "__and__": _and,
    "__rand__": lambda x, y: _and(y, x),
    "__or__": _or,
    "__ror__": lambda x, y: _or(y, x),
    "__xor__": _xor,
    "__rxor__": lambda x, y: _xor(y, x),
    "__invert__": _invert,
    "__getitem__": indexing_ops.getitem,
}


def install(cls, skip=()):
    for name, fn in OPERATORS.items():
        if name not in skip:
            setattr(cls, name, fn)


def install_all():
    from dtf.variables import Variable

    install(Tensor)
    # Variable keeps its own __getitem__ (slices with .assign) and its identity __hash__.
    install(Variable, skip=("__getitem__",))
