"""dtypes with TensorFlow's names, equality and conversion rules.

A `DType` wraps a NumPy dtype. `as_dtype` accepts a DType, a NumPy dtype or scalar type, a
Python type (`float`, `int`, `bool`, `complex`) or a name (`"float32"`), so every op that takes a
dtype takes any of these.

Example:
    >>> import dtf
    >>> dtf.as_dtype("float32") == dtf.float32
    True
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DType",
    "as_dtype",
    "bool",
    "complex64",
    "complex128",
    "double",
    "float16",
    "float32",
    "float64",
    "half",
    "int8",
    "int16",
    "int32",
    "int64",
    "string",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
]

_builtin_bool = bool


class DType:
    """A tensor element type (`dtf.float32`, `dtf.int32`, ...)."""

    __slots__ = ("_kind", "_name", "_np")

    def __init__(self, name: str, np_dtype):
        self._name = name
        self._np = np.dtype(np_dtype)
        self._kind = self._np.kind

    # -- identity -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def as_numpy_dtype(self):
        """The NumPy scalar type (`np.float32`), as TensorFlow returns it."""
        return self._np.type

    @property
    def base_dtype(self) -> DType:
        return self

    @property
    def real_dtype(self) -> DType:
        if self._kind == "c":
            return float32 if self is complex64 else float64
        return self

    @property
    def size(self) -> int:
        return self._np.itemsize

    # -- classification ----------------------------------------------------------------------
    @property
    def is_floating(self) -> _builtin_bool:
        return self._kind == "f"

    @property
    def is_integer(self) -> _builtin_bool:
        return self._kind in "iu"

    @property
    def is_unsigned(self) -> _builtin_bool:
        return self._kind == "u"

    @property
    def is_complex(self) -> _builtin_bool:
        return self._kind == "c"

    @property
    def is_bool(self) -> _builtin_bool:
        return self._kind == "b"

    @property
    def is_numeric(self) -> _builtin_bool:
        return self._kind in "iufc"

    @property
    def is_differentiable(self) -> _builtin_bool:
        """Whether gradients flow through values of this type (floats and complex)."""
        return self._kind in "fc"

    @property
    def min(self):
        if self._kind == "b":
            return False
        if self._kind == "f":
            return self._np.type(np.finfo(self._np).min)
        if self._kind in "iu":
            return self._np.type(np.iinfo(self._np).min)
        raise TypeError(f"Cannot find minimum value of {self._name}.")

    @property
    def max(self):
        if self._kind == "b":
            return True
        if self._kind == "f":
            return self._np.type(np.finfo(self._np).max)
        if self._kind in "iu":
            return self._np.type(np.iinfo(self._np).max)
        raise TypeError(f"Cannot find maximum value of {self._name}.")

    def is_compatible_with(self, other) -> _builtin_bool:
        return self == other

    # -- protocol ---------------------------------------------------------------------------
    def __eq__(self, other):
        if other is self:
            return True
        if other is None:
            return False
        try:
            return as_dtype(other) is self
        except TypeError:
            return False

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f"dtf.{self._name}"

    def __str__(self):
        return f"<dtype: '{self._name}'>"

    def __reduce__(self):
        return as_dtype, (self._name,)


bool = DType("bool", np.bool_)
int8 = DType("int8", np.int8)
int16 = DType("int16", np.int16)
int32 = DType("int32", np.int32)
int64 = DType("int64", np.int64)
uint8 = DType("uint8", np.uint8)
uint16 = DType("uint16", np.uint16)
uint32 = DType("uint32", np.uint32)
uint64 = DType("uint64", np.uint64)
float16 = DType("float16", np.float16)
float32 = DType("float32", np.float32)
float64 = DType("float64", np.float64)
complex64 = DType("complex64", np.complex64)
complex128 = DType("complex128", np.complex128)
half = float16
double = float64
# Strings hold Python bytes in object ndarrays, as TensorFlow stores them (numpy() gives bytes).
string = DType("string", np.object_)

ALL_DTYPES = (bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float16, float32,
              float64, complex64, complex128)

_BY_NAME = {d.name: d for d in ALL_DTYPES}
_BY_NAME.update(half=float16, double=float64, float=float32, int=int32, string=string)
# keyed by np.dtype: the hot path of Tensor.dtype
_BY_NP = {d._np: d for d in ALL_DTYPES}
_BY_NP[string._np] = string
_BY_PYTYPE = {float: float32, int: int32, _builtin_bool: bool, complex: complex128,
              bytes: string, str: string}


def from_numpy(np_dtype) -> DType:
    """The DType of a NumPy dtype (fast path used by Tensor.dtype)."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        raise TypeError(f"dtf has no dtype for NumPy dtype {np_dtype!r}.") from None


def as_dtype(type_value) -> DType:
    """Converts a DType, NumPy dtype, Python type or name into a `DType`.

    Raises:
        TypeError: if the value names no dtf dtype.
    """
    if isinstance(type_value, DType):
        return type_value
    if isinstance(type_value, str):
        d = _BY_NAME.get(type_value)
        if d is not None:
            return d
    elif type_value in _BY_PYTYPE:
        return _BY_PYTYPE[type_value]
    if type_value is None:
        raise TypeError("Cannot convert value None to a dtf DType.")
    try:
        npd = np.dtype(type_value)
    except (TypeError, ValueError):
        raise TypeError(f"Cannot convert value {type_value!r} to a dtf DType.") from None
    d = _BY_NP.get(npd)
    if d is None:
        raise TypeError(f"Cannot convert value {type_value!r} to a dtf DType.")
    return d
