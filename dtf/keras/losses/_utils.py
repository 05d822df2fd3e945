"""Helpers shared by `keras.losses` and `keras.metrics`: Keras' configuration (floatx, epsilon),
automatic names, tensor conversion and static shape checks.

Static shapes are read without creating ops: `static_shape(x)` is a tuple (None for unknown
dims) or None for unknown rank, for eager and symbolic tensors alike.
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.ops.creation_ops import cast, convert_to_tensor
from dtf.tensor import Tensor

_DEFAULT_FLOATX = "float32"
_DEFAULT_EPSILON = 1e-7


# -- Keras configuration ----------------------------------------------------------------------
def floatx() -> str:
    """`keras.backend.floatx()` ("float32" unless set)."""
    try:
        from dtf.keras import backend
    except ImportError:  # keras.backend not installed in this checkout
        return _DEFAULT_FLOATX
    return backend.floatx()


def epsilon() -> float:
    """`keras.backend.epsilon()` (1e-7 unless set): the fuzz factor of clipped logs."""
    try:
        from dtf.keras import backend
    except ImportError:
        return _DEFAULT_EPSILON
    return backend.epsilon()


def dtype_name(dtype):
    """The name of a dtype given as a name, a DType or a NumPy dtype (None stays None); Keras
    dtype policies give their compute dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        return dtypes.as_dtype(dtype).name
    compute = getattr(dtype, "compute_dtype", None)
    if compute is not None:
        return dtype_name(compute)
    return dtypes.as_dtype(dtype).name


# -- conversion -------------------------------------------------------------------------------
def is_tensor_like(x) -> bool:
    return isinstance(x, (Tensor, np.ndarray)) or getattr(x, "_is_dtf_variable", False) or \
        getattr(x, "_is_symbolic", False)


def to_tensor(x, dtype=None):
    """`x` as a Tensor, of `dtype` when given: tensors of another dtype are cast (as Keras'
    `convert_to_tensor(x, dtype)`); Variables are read."""
    if type(x) is Tensor and (dtype is None or x._value.dtype == dtype._np):
        return x
    if dtype is None:
        return convert_to_tensor(x)
    if isinstance(x, Tensor) or getattr(x, "_is_dtf_variable", False) or \
            getattr(x, "_is_symbolic", False):
        return cast(x, dtype) if x.dtype != dtype else convert_to_tensor(x)
    if isinstance(x, (np.ndarray, np.generic)):
        return convert_to_tensor(x, dtype=dtype)
    t = convert_to_tensor(x)
    return cast(t, dtype) if t.dtype != dtype else t


def to_float(x):
    """`x` as a Tensor; integer and bool tensors are cast to floatx (as Keras' ops compute
    means of integers in float)."""
    x = to_tensor(x)
    if x.dtype.is_floating:
        return x
    return cast(x, floatx())


# -- static shapes ----------------------------------------------------------------------------
def static_shape(x):
    """The shape of `x` as a tuple (None for unknown dims), or None for unknown rank."""
    if type(x) is Tensor:
        return x._value.shape
    shape = x.shape
    if shape.rank is None:
        return None
    return tuple(shape.as_list())


def rank(x):
    if type(x) is Tensor:
        return x._value.ndim
    return x.shape.rank


def last_dim(x):
    if type(x) is Tensor:
        return x._value.shape[-1]
    return x.shape[-1]


def num_elements(shape):
    """The number of elements of a static shape, or None when unknown."""
    if shape is None or None in shape:
        return None
    n = 1
    for d in shape:
        n *= d
    return n


def broadcastable(a, b) -> bool:
    """Whether static shapes `a` and `b` broadcast together (unknown dims match anything)."""
    for p, q in zip(reversed(a), reversed(b)):
        if p is not None and q is not None and p != q and p != 1 and q != 1:
            return False
    return True


def same_shape(a, b) -> bool:
    """Whether static shapes `a` and `b` are equal (unknown dims match anything)."""
    return len(a) == len(b) and all(p is None or q is None or p == q for p, q in zip(a, b))


def fmt(shape) -> str:
    """A static shape as Keras prints it: "(2, 3)", "(None, 3)"."""
    if shape is None:
        return "<unknown rank>"
    return str(tuple(shape))
