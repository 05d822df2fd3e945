"""The immutable `Tensor`.

A Tensor wraps one array of its backend (`numpy.ndarray`, a NumPy scalar, or a CuPy array) and
never changes it. Operators (`+`, `@`, `[]`, ...) are installed by `dtf.ops.operators`, so that
they call the op table directly.

Example:
    >>> t = dtf.constant([[1., 2.], [3., 4.]])
    >>> t.shape, t.dtype
    (TensorShape([2, 2]), dtf.float32)
"""

from __future__ import annotations

import numpy as np

from dtf import backend as _backend
from dtf import dtypes
from dtf.tensor_shape import TensorShape

_from_numpy = dtypes.from_numpy
_shape_from_tuple = TensorShape._from_tuple


class Tensor:
    """An immutable multidimensional array, as `tf.Tensor`."""

    # _keras_mask: the mask a Keras layer attached to its output (never set on most tensors;
    # read with getattr(t, "_keras_mask", None), so creating a Tensor costs nothing more)
    __slots__ = ("_keras_mask", "_shape", "_value")
    # Makes NumPy defer `ndarray + Tensor` to Tensor.__radd__, as TensorFlow does.
    __array_priority__ = 100

    def __init__(self, value):
        if type(value) is bytes:  # NumPy gives the bare element for rank 0 of string arrays
            value = _string_scalar(value)
        self._value = value
        self._shape = None

    # -- properties -------------------------------------------------------------------------
    @property
    def shape(self) -> TensorShape:
        s = self._shape
        if s is None:
            s = self._shape = _shape_from_tuple(self._value.shape)
        return s

    def get_shape(self) -> TensorShape:
        return self.shape

    @property
    def dtype(self) -> dtypes.DType:
        return _from_numpy(self._value.dtype)

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def device(self) -> str:
        return _backend.backend_of(self._value).device_of(self._value).name

    @property
    def backing_device(self) -> str:
        return self.device

    def numpy(self):
        """The value as a new NumPy array (a NumPy scalar for rank 0), on the host.

        As in TensorFlow, the array is the caller's: writing to it does not change the tensor.
        """
        v = self._value
        if type(v) is np.ndarray:
            return v[()] if v.ndim == 0 else v.copy()
        if isinstance(v, np.generic):
            return v
        host = _backend.backend_of(v).to_host(v)  # a device-to-host copy
        return host[()] if host.ndim == 0 else host

    def cpu(self) -> Tensor:
        """A copy of this tensor on the CPU (TensorFlow's `EagerTensor.cpu`); gradients flow
        through it.

        Example:
            >>> dtf.constant([1.0, 2.0]).cpu().device
            '/job:localhost/replica:0/task:0/device:CPU:0'
        """
        return self._copy_to("/CPU:0")

    def gpu(self, gpu_index: int = 0) -> Tensor:
        """A copy of this tensor on GPU `gpu_index` (TensorFlow's `EagerTensor.gpu`).

        Raises:
            ValueError: when there is no such GPU (the message says how to get one).

        Example:
            >>> x = dtf.constant([1.0, 2.0]).gpu()  # doctest: +SKIP
        """
        return self._copy_to(f"/GPU:{int(gpu_index)}")

    def _copy_to(self, name):
        from dtf.ops.creation_ops import identity

        with _backend.device(name):
            return identity(self)

    def __array__(self, dtype=None, copy=None):
        # NumPy functions read the value through here: a read-only view (no copy) keeps the
        # tensor immutable; a copy only when asked for one or when a cast makes it.
        v = self._value
        if not (type(v) is np.ndarray or isinstance(v, np.generic)):
            v = _backend.backend_of(v).to_host(v)
        a = np.asarray(v)
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        if copy:
            return a.copy()
        view = a.view()
        view.flags.writeable = False
        return view

    def ref(self):
        """A hashable reference to this tensor (Tensors themselves are unhashable)."""
        return _Reference(self)

    experimental_ref = ref

    # -- Python protocols --------------------------------------------------------------------
    def __len__(self):
        if self._value.ndim == 0:
            raise TypeError("len is not well defined for a rank-0 tensor (a scalar).")
        return self._value.shape[0]

    def __iter__(self):
        if self._value.ndim == 0:
            raise TypeError("Cannot iterate over a scalar tensor.")
        from dtf.ops import array_ops
        return iter(array_ops.unstack(self, axis=0))

    def __bool__(self):
        return bool(self._scalar("bool"))

    def __float__(self):
        return float(self._scalar("float"))

    def __int__(self):
        return int(self._scalar("int"))

    def __index__(self):
        if not self.dtype.is_integer:
            raise TypeError(f"Only integer scalar tensors can be used as an index, "
                            f"got dtype {self.dtype.name}.")
        return int(self._scalar("index"))

    def __complex__(self):
        return complex(self._scalar("complex"))

    def _scalar(self, what):
        v = self._value
        if v.ndim != 0 and v.size != 1:
            raise ValueError(
                f"The truth value of a tensor with shape {self.shape} is ambiguous: {what}() "
                "needs a tensor with exactly one element. Use dtf.reduce_any / dtf.reduce_all.")
        return self.numpy().reshape(()).item() if v.ndim else self.numpy()

    def __format__(self, format_spec):
        if self._value.ndim == 0:
            return format(self.numpy(), format_spec)  # f"{loss:.4f}" on a scalar tensor
        return object.__format__(self, format_spec)

    def __hash__(self):
        raise TypeError("Tensor is unhashable. Instead, use tensor.ref() as the key.")

    def __setitem__(self, key, value):
        raise TypeError(
            "'Tensor' object does not support item assignment: tensors are immutable. Use a "
            "dtf.Variable and its assign methods (v[0, 1].assign(x)), or dtf.tensor_scatter_nd_"
            "update to build a new tensor.")

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return _rebuild_tensor, (self.numpy(),)

    def __repr__(self):
        return f"<dtf.Tensor: shape={self.shape}, dtype={self.dtype.name}, numpy={_np_repr(self)}>"

    def __str__(self):
        text = np.array2string(np.asarray(self.numpy()), separator=" ") if self._value.ndim \
            else str(self.numpy())
        sep = "\n" if "\n" in text else ""
        return f"dtf.Tensor({sep}{text}, shape={self.shape}, dtype={self.dtype.name})"


def _np_repr(t) -> str:
    text = repr(t.numpy()) if t._value.ndim else str(t.numpy())
    return ("\n" + text) if "\n" in text else text


def _string_scalar(value: bytes) -> np.ndarray:
    out = np.empty((), dtype=object)
    out[()] = value
    return out


def _rebuild_tensor(array):
    return Tensor(array)


class _Reference:
    """`Tensor.ref()`: hashes and compares by the identity of the tensor."""

    __slots__ = ("_obj",)

    def __init__(self, obj):
        self._obj = obj

    def deref(self):
        return self._obj

    def __hash__(self):
        return id(self._obj)

    def __eq__(self, other):
        return isinstance(other, _Reference) and other._obj is self._obj

    def __repr__(self):
        return f"<Reference wrapping {self._obj!r}>"


def is_tensor(x) -> bool:
    """True for dtf Tensors and Variables (TensorFlow's `tf.is_tensor`)."""
    return isinstance(x, Tensor) or getattr(x, "_is_dtf_variable", False)
