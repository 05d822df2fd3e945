"""`dtf.TensorArray`: a list of same-dtype tensors that `dtf.while_loop` bodies write to.

Eagerly it is TensorFlow's eager TensorArray: a Python list of Tensors (unwritten slots None)
shared by the TensorArray objects that `write`/`scatter`/`unstack` return; tapes record the ops
that made the elements and `stack`/`concat`, so gradients need nothing special.

Inside a traced function (or once a symbolic value is written) it is a dense *buffer* tensor of
shape `(size, *element_shape)`, which is what a `while_loop` carries as the loop variable (the
TensorArray's `flow`); every method is an op on it (`tensor_array_write`, `tensor_array_read`,
`tensor_array_stack`, `tensor_array_size`), differentiable, so loops writing TensorArrays have
gradients. Before its first write, when its element shape is not known, the buffer is a scalar
placeholder (a rank-0 "unwritten" marker) that the first write replaces with zeros of the right
shape, as TensorFlow's TensorList learns its element shape from its writes. A dense buffer holds
equally shaped elements only (TensorFlow's `infer_shape=True`, the default).

Example:
    >>> ta = dtf.TensorArray(dtf.float32, size=3)
    >>> for i in range(3):
    ...     ta = ta.write(i, float(i) * 2.0)
    >>> ta.stack().numpy()
    array([0., 2., 4.], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from dtf import backend as _backend
from dtf import dtypes
from dtf.compile import context
from dtf.errors import InvalidArgumentError, OutOfRangeError
from dtf.ops import array_ops, creation_ops
from dtf.ops.registry import Spec, primitive, run
from dtf.tensor import Tensor
from dtf.tensor_shape import TensorShape

__all__ = ["TensorArray"]


def _is_sym(x) -> bool:
    return getattr(x, "_is_symbolic", False)


def _dims(spec_shape):
    return None if spec_shape is None else tuple(spec_shape)


def _is_marker(spec_shape) -> bool:
    return spec_shape is not None and len(spec_shape) == 0


def _merge(a, b):
    """The more specific of two compatible shapes (tuples with None dims, or None)."""
    if a is None:
        return b
    if b is None or len(a) != len(b):
        return a if b is None else None
    return tuple(x if x is not None else y for x, y in zip(a, b))


# -- the buffer's ops ----------------------------------------------------------------------------
def _write_rule(buffer, index, value, size, dynamic_size, static_size):
    if value.shape is None or index.shape is None:
        elem = None
    else:
        elem = value.shape if len(index.shape) == 0 else value.shape[1:]
    if buffer.shape is None or _is_marker(buffer.shape):
        lead = None if dynamic_size else static_size
        return Spec(None if elem is None else (lead,) + tuple(elem), buffer.dtype)
    rest = _merge(tuple(buffer.shape[1:]), None if elem is None else tuple(elem))
    lead = None if dynamic_size else buffer.shape[0]
    return Spec(None if rest is None else (lead,) + rest, buffer.dtype)


def _host_index(index) -> np.ndarray:
    """The index on the host: the buffer's size and bounds are checked in Python."""
    return np.asarray(_backend.backend_of(index).to_host(index))


@primitive("tensor_array_write", shape=_write_rule, data_dependent_shape=True)  # may grow
def _write(xp, buffer, index, value, size, dynamic_size, static_size):
    """`buffer` with rows `index` (a scalar, or a vector for scatter) set to `value`."""
    idx = _host_index(index)
    elem = tuple(value.shape) if idx.ndim == 0 else tuple(value.shape[1:])
    if buffer.ndim == 0:  # unwritten: the first write fixes the element shape
        buffer = xp.zeros((int(size),) + elem, dtype=buffer.dtype)
    n = buffer.shape[0]
    if idx.ndim == 1 and value.shape[:1] != idx.shape:
        raise InvalidArgumentError(f"TensorArray.scatter: {idx.shape[0]} indices for a value "
                                   f"with {value.shape[0] if value.ndim else 0} rows.")
    if idx.size and idx.min() < 0:
        raise InvalidArgumentError(f"Tried to write to index {int(idx.min())}: TensorArray "
                                   "indices must be non-negative.")
    top = int(idx.max()) + 1 if idx.size else 0
    if tuple(buffer.shape[1:]) != elem:
        raise InvalidArgumentError(f"Incompatible shape for value ({elem}), expected "
                                   f"({tuple(buffer.shape[1:])}): the elements of a TensorArray "
                                   "must all have the same shape.")
    if top > n:
        if not dynamic_size:
            raise OutOfRangeError(f"Tried to write to index {top - 1} but array is not "
                                  f"resizeable and size is: {n}")
        grown = xp.zeros((top,) + elem, dtype=buffer.dtype)
        grown[:n] = buffer
        out = grown
    else:
        out = buffer.copy()
    out[idx] = value
    return out


@_write.def_vjp
def _(g, out, buffer, index, value, size, dynamic_size, static_size):
    return (run(_mask, (g, buffer, index)), None, run(_read, (g, index), element_shape=None),
            None)


def _mask_rule(g, like, index):
    return Spec(like.shape, g.dtype)


@primitive("tensor_array_mask", shape=_mask_rule)
def _mask(xp, g, like, index):
    """`g` cut (or zero-padded) to `like`'s length, rows `index` zeroed: the gradient a write
    passes to the buffer it wrote into. An unwritten `like` gets a scalar zero."""
    if like.ndim == 0:
        return xp.zeros((), dtype=g.dtype)
    n = like.shape[0]
    if g.shape[0] >= n:
        out = g[:n].copy()
    else:
        out = xp.zeros((n,) + tuple(g.shape[1:]), dtype=g.dtype)
        out[:g.shape[0]] = g
    idx = _host_index(index).reshape(-1)
    out[idx[idx < n]] = 0
    return out


@_mask.def_vjp
def _(gg, out, g, like, index):
    return run(_mask, (gg, g, index)), None, None


def _read_rule(buffer, index, element_shape, what="tensor_array"):
    if buffer.shape is None or _is_marker(buffer.shape):
        rest = element_shape
    else:
        rest = _merge(tuple(buffer.shape[1:]), element_shape)
    if index.shape is None or rest is None:
        return Spec(None, buffer.dtype)
    return Spec(tuple(index.shape) + tuple(rest), buffer.dtype)


@primitive("tensor_array_read", shape=_read_rule)
def _read(xp, buffer, index, element_shape, what="tensor_array"):
    """Rows `index` (a scalar: read; a vector: gather) of the buffer. `what`: "loop history"
    when a while_loop's VJP reads the stacked values of its iterations (for its errors)."""
    idx = _host_index(index)
    if buffer.ndim == 0:  # nothing written yet: zeros when the element shape is known
        if element_shape is None or None in element_shape:
            raise InvalidArgumentError(
                f"Could not read from TensorArray index {idx.tolist()}: nothing has been written "
                "to it and its element shape is not fully defined. Write it first, or give "
                "TensorArray(..., element_shape=...).")
        return xp.zeros(idx.shape + tuple(element_shape), dtype=buffer.dtype)
    n = buffer.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx.max()) if idx.max() >= n else int(idx.min())
        if what == "loop history":
            raise InvalidArgumentError(
                f"dtf.while_loop gradient: iteration {bad} is not in the loop's recorded history "
                f"of {n} iterations. The history could not be kept: a loop variable or a "
                "stateful op's output changed shape across iterations, which while_loop "
                "gradients do not support.")
        raise OutOfRangeError(f"Tried to read from index {bad} but array size is: {n}")
    return buffer[idx]


@_read.def_vjp
def _(g, out, buffer, index, element_shape, what="tensor_array"):
    return run(_read_grad, (buffer, index, g)), None


def _read_grad_rule(buffer, index, g):
    return Spec(buffer.shape, g.dtype)


@primitive("tensor_array_read_grad", shape=_read_grad_rule)
def _read_grad(xp, buffer, index, g):
    """Zeros shaped like the buffer with `g` added at rows `index` (read's adjoint)."""
    out = xp.zeros(buffer.shape, dtype=g.dtype)
    if buffer.ndim:
        xp.add.at(out, index, g)
    return out


@_read_grad.def_vjp
def _(gg, out, buffer, index, g):
    return None, None, run(_read, (gg, index), element_shape=None)


def _stack_rule(buffer, size, element_shape, static_size):
    if buffer.shape is not None and not _is_marker(buffer.shape):
        return Spec(_merge(tuple(buffer.shape), None if element_shape is None else
                           (None,) + tuple(element_shape)), buffer.dtype)
    if element_shape is None:
        return Spec(None, buffer.dtype)
    return Spec((static_size,) + tuple(element_shape), buffer.dtype)


@primitive("tensor_array_stack", shape=_stack_rule)
def _stack(xp, buffer, size, element_shape, static_size):
    """The buffer (zeros for an unwritten TensorArray of known element shape)."""
    if buffer.ndim:
        return buffer
    if element_shape is None or None in element_shape:
        raise InvalidArgumentError(
            f"TensorArray has size {int(size)}, but element shape "
            f"{'<unknown>' if element_shape is None else list(element_shape)} is not fully "
            "defined and nothing was written to it: give TensorArray(..., element_shape=...).")
    return xp.zeros((int(size),) + tuple(element_shape), dtype=buffer.dtype)


@_stack.def_vjp
def _(g, out, buffer, size, element_shape, static_size):
    return run(_mask, (g, buffer, _NO_ROWS)), None


def _size_rule(buffer, size):
    return Spec((), dtypes.int32)


@primitive("tensor_array_size", shape=_size_rule, differentiable=False)
def _size(xp, buffer, size):
    return np.int32(size if buffer.ndim == 0 else buffer.shape[0])


_NO_ROWS = Tensor(np.zeros(0, np.int32))


# -- the public class -----------------------------------------------------------------------
def _index(i):
    if isinstance(i, Tensor) or _is_sym(i):
        if not i.dtype.is_integer:
            raise TypeError(f"TensorArray index must be an integer, got {i.dtype.name}.")
        return i
    if getattr(i, "_is_dtf_variable", False):
        return i.read_value()
    return int(i)


class TensorArray:
    """A list of tensors of one dtype, written and read by index, as `tf.TensorArray`.

    Args:
        dtype: the elements' dtype.
        size: the number of elements (an int or a scalar int32 Tensor).
        dynamic_size: writes past the end grow the array.
        clear_after_read: eagerly, a read element is dropped (reading it again is an error);
            True by default, as in TensorFlow. Ignored inside a traced function.
        element_shape: the elements' shape, when known; otherwise the first write sets it.
        infer_shape: check that every element has the same shape (a traced function's
            TensorArray always needs that).

    Example:
        >>> ta = dtf.TensorArray(dtf.float32, size=0, dynamic_size=True)
        >>> ta = ta.write(0, [1.0, 2.0]).write(1, [3.0, 4.0])
        >>> ta.stack().shape
        TensorShape([2, 2])
    """

    _is_dtf_tensor_array = True

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None,
                 tensor_array_name=None, handle=None, flow=None, infer_shape=True,
                 element_shape=None, colocate_with_first_write_call=True, name=None):
        if size is None and flow is None:
            raise ValueError("Size must be provided if handle is not provided.")
        self._dtype = dtypes.as_dtype(dtype)
        self._dynamic_size = bool(dynamic_size)
        self._clear_after_read = True if clear_after_read is None else bool(clear_after_read)
        self._infer_shape = infer_shape
        # what the arrays derived from one another share eagerly (one storage, as in
        # TensorFlow); in a trace each has its own
        self._shared = {"element_shape": TensorShape(None) if element_shape is None else
                        TensorShape(element_shape)}
        self._name = name or tensor_array_name or "TensorArray"
        self._list = None  # eager storage: a list of Tensors (None: not written)
        self._read_once: set = set()
        self._buffer = None  # graph storage: the dense buffer tensor
        if getattr(size, "_is_dtf_variable", False):
            size = size.read_value()
        self._size = size
        if flow is not None:
            self._buffer = flow
        elif context.is_tracing() or _is_sym(size):
            self._buffer = self._fresh_buffer()
        else:
            n = int(size._value) if isinstance(size, Tensor) else int(size)
            self._list = [None] * n

    # -- properties ---------------------------------------------------------------------------
    @property
    def dtype(self):
        return self._dtype

    @property
    def dynamic_size(self) -> bool:
        return self._dynamic_size

    @property
    def element_shape(self) -> TensorShape:
        return self._shared["element_shape"]

    @property
    def _element_shape(self) -> TensorShape:
        return self._shared["element_shape"]

    @property
    def flow(self):
        """The tensor that carries this TensorArray through a while_loop (its buffer)."""
        return self._graph_buffer()

    @property
    def handle(self):
        return self.flow

    def __repr__(self):
        return (f"<dtf.TensorArray dtype={self._dtype.name} element_shape="
                f"{self._element_shape} dynamic_size={self._dynamic_size}>")

    # -- helpers ------------------------------------------------------------------------------
    def _static_size(self):
        s = self._size
        if isinstance(s, Tensor):
            return int(s._value)
        return None if _is_sym(s) else int(s)

    def _size_tensor(self):
        s = self._size
        if isinstance(s, Tensor) or _is_sym(s):
            return s if s.dtype == dtypes.int32 else creation_ops.cast(s, dtypes.int32)
        return creation_ops.constant(int(s), dtypes.int32)

    def _fresh_buffer(self):
        dims = self._element_shape.dims
        if dims is None or None in dims:
            return creation_ops.zeros([], dtype=self._dtype)  # the unwritten marker
        static = self._static_size()
        if static is not None:
            return creation_ops.zeros([static] + list(dims), dtype=self._dtype)
        shape = array_ops.stack([self._size_tensor()] + [int(d) for d in dims])
        return creation_ops.fill(shape, creation_ops.constant(0, self._dtype))

    def _graph_buffer(self):
        """This array as a dense buffer (switching an eager array to graph storage)."""
        if self._buffer is None:
            written = [t for t in self._list if t is not None]
            if written or self._list and self._element_shape.is_fully_defined():
                self._buffer = self._eager_stack()
            else:
                self._buffer = self._fresh_buffer()
            self._size = len(self._list)
            self._list = None
        return self._buffer

    def _derived(self, buffer=None, element_shape=None, size=None):
        """A TensorArray sharing this one's settings (and, eagerly, its list)."""
        ta = object.__new__(TensorArray)
        ta.__dict__.update(self.__dict__)
        if buffer is not None:
            ta._buffer, ta._list = buffer, None
        if ta._list is None:
            ta._shared = dict(self._shared)
        if element_shape is not None:
            ta._shared["element_shape"] = element_shape
        if size is not None:
            ta._size = size
        return ta

    def _with_buffer(self, buffer, element_shape=None):
        return self._derived(buffer=buffer, element_shape=element_shape)

    def _check_value(self, value, what, rows=False):
        value = creation_ops.convert_to_tensor(value, dtype=self._dtype) \
            if not (isinstance(value, Tensor) or _is_sym(value)) else value
        if value.dtype != self._dtype:
            raise TypeError(f"TensorArray dtype is {self._dtype.name} but Op is trying to {what} "
                            f"dtype {value.dtype.name}.")
        shape = value.shape
        if rows and shape.rank is not None:
            shape = TensorShape(shape.dims[1:]) if shape.rank else TensorShape(None)
        if self._infer_shape and not self._element_shape.is_compatible_with(shape):
            raise ValueError(f"Incompatible shape for value ({tuple(shape.dims or ())}), "
                             f"expected ({tuple(self._element_shape.dims or ())})")
        merged = self._element_shape.merge_with(shape) if self._infer_shape else \
            self._element_shape
        return value, merged

    def _graph_mode(self, *values) -> bool:
        return self._list is None or context.is_tracing() or any(_is_sym(v) for v in values)

    # -- eager storage ------------------------------------------------------------------------
    def _eager_index(self, i, what):
        i = int(i._value) if isinstance(i, Tensor) else int(i)
        if i < 0:
            raise InvalidArgumentError(f"Tried to {what} index {i}: TensorArray indices must "
                                       "be non-negative.")
        return i

    def _eager_write(self, i, value):
        if i >= len(self._list):
            if not self._dynamic_size:
                raise OutOfRangeError(f"Tried to write to index {i} but array is not "
                                      f"resizeable and size is: {len(self._list)}")
            self._list.extend([None] * (i + 1 - len(self._list)))
        self._list[i] = value
        self._read_once.discard(i)

    def _maybe_zero(self, i):
        t = self._list[i]
        if t is not None:
            return t
        if not self._element_shape.is_fully_defined():
            raise InvalidArgumentError(
                f"Could not read from TensorArray index {i} because it has not yet been written "
                "to, and its element shape is not fully defined.")
        return creation_ops.zeros(self._element_shape.as_list(), dtype=self._dtype)

    def _eager_stack(self):
        if not self._list:
            dims = self._element_shape.dims
            if dims is not None and None not in dims:
                return creation_ops.zeros([0] + list(dims), dtype=self._dtype)
            return creation_ops.zeros([0], dtype=self._dtype)
        return array_ops.stack([self._maybe_zero(i) for i in range(len(self._list))])

    # -- the API ------------------------------------------------------------------------------
    def write(self, index, value, name=None):
        """Writes `value` at `index`; returns the TensorArray to use from then on."""
        index = _index(index)
        value, shape = self._check_value(value, "write")
        if self._graph_mode(index, value):
            buffer = run(_write, (self._graph_buffer(), _as_int(index), value,
                                  self._size_tensor()),
                         dynamic_size=self._dynamic_size, static_size=self._static_size())
            return self._derived(buffer=buffer, element_shape=shape)
        self._eager_write(self._eager_index(index, "write to"), value)
        return self._derived(element_shape=shape)

    def read(self, index, name=None):
        """The element at `index` (zeros if unwritten and the element shape is known)."""
        index = _index(index)
        if self._graph_mode(index):
            return run(_read, (self._graph_buffer(), _as_int(index)),
                       element_shape=_known(self._element_shape))
        i = self._eager_index(index, "read from")
        if i >= len(self._list):
            raise OutOfRangeError(f"Tried to read from index {i} but array size is: "
                                  f"{len(self._list)}")
        if self._list[i] is None and i in self._read_once:
            raise InvalidArgumentError(
                f"Could not read index {i} twice because it was cleared after a previous read "
                "(perhaps try setting clear_after_read = false?)")
        value = self._maybe_zero(i)
        if self._clear_after_read:
            self._list[i] = None
            self._read_once.add(i)
        return value

    def stack(self, name=None):
        """All elements stacked on a new first axis."""
        if self._list is not None and not context.is_tracing():
            return self._eager_stack()
        return run(_stack, (self._graph_buffer(), self._size_tensor()),
                   element_shape=_known(self._element_shape),
                   static_size=None if self._dynamic_size else self._static_size())

    def gather(self, indices, name=None):
        """The elements at `indices`, stacked."""
        indices = _index(indices) if isinstance(indices, Tensor) or _is_sym(indices) else \
            creation_ops.constant(np.asarray(indices, dtype=np.int32))
        if self._graph_mode(indices):
            return run(_read, (self._graph_buffer(), _as_int(indices)),
                       element_shape=_known(self._element_shape))
        return array_ops.stack([self._maybe_zero(self._eager_index(i, "read from"))
                                for i in np.asarray(indices._value).reshape(-1)]) \
            if np.size(indices._value) else creation_ops.zeros(
                [0] + self._element_shape.as_list(), dtype=self._dtype)

    def scatter(self, indices, value, name=None):
        """Writes the rows of `value` at `indices`."""
        indices = _index(indices) if isinstance(indices, Tensor) or _is_sym(indices) else \
            creation_ops.constant(np.asarray(indices, dtype=np.int32))
        value, shape = self._check_value(value, "scatter", rows=True)
        if self._graph_mode(indices, value):
            buffer = run(_write, (self._graph_buffer(), _as_int(indices), value,
                                  self._size_tensor()),
                         dynamic_size=self._dynamic_size, static_size=self._static_size())
            return self._derived(buffer=buffer, element_shape=shape)
        for i, row in zip(np.asarray(indices._value).reshape(-1), array_ops.unstack(value)):
            self._eager_write(self._eager_index(i, "write to"), row)
        return self._derived(element_shape=shape)

    def unstack(self, value, name=None):
        """A TensorArray whose elements are the rows of `value`."""
        value, shape = self._check_value(value, "unstack", rows=True)
        rows = value.shape.dims[0] if value.shape.rank else None
        static = self._static_size() if self._list is None else len(self._list)
        if rows is not None and static is not None and rows > static and \
                not self._dynamic_size:
            raise ValueError(f"Cannot unstack {rows} tensors into a TensorArray of static size "
                             f"{static} ")
        if self._graph_mode(value):
            return self._derived(buffer=value,
                                 element_shape=shape, size=array_ops.shape(value)[0]
                                 if rows is None else rows)
        self._list[:] = list(array_ops.unstack(value))
        self._read_once.clear()
        return self._derived(element_shape=shape)

    def concat(self, name=None):
        """The elements concatenated along their first axis."""
        if self._list is not None and not context.is_tracing():
            parts = [self._maybe_zero(i) for i in range(len(self._list))]
            if not parts:
                return creation_ops.zeros([0] + self._element_shape.as_list()[1:],
                                          dtype=self._dtype)
            return array_ops.concat(parts, 0)
        stacked = self.stack()
        shape = array_ops.shape(stacked)
        return array_ops.reshape(stacked, array_ops.concat([[-1], shape[2:]], 0))

    def split(self, value, lengths, name=None):
        """Splits `value` along its first axis into pieces of `lengths`, one per element."""
        value, _ = self._check_value(value, "split", rows=False)
        if self._graph_mode(value, lengths):
            if _is_sym(lengths):
                raise ValueError("TensorArray.split in a traced function needs `lengths` known "
                                 "when tracing (the array is a dense buffer of equal elements).")
            lens = np.asarray(lengths._value if isinstance(lengths, Tensor) else lengths)
            if lens.size and not (lens == lens.flat[0]).all():
                raise ValueError(f"TensorArray.split in a traced function needs equal lengths "
                                 f"(a dense buffer), got {lens.tolist()}.")
            n, piece = int(lens.size), int(lens.flat[0]) if lens.size else 0
            rest = array_ops.shape(value)[1:]
            buffer = array_ops.reshape(value, array_ops.concat([[n, piece], rest], 0))
            dims = value.shape.dims
            shape = TensorShape([piece] + list(dims[1:])) if dims is not None else \
                TensorShape(None)
            return self._derived(buffer=buffer, element_shape=shape, size=n)
        lens = [int(v) for v in np.asarray(
            lengths._value if isinstance(lengths, Tensor) else lengths).reshape(-1)]
        pieces = array_ops.split(value, lens, axis=0) if lens else []
        if len(pieces) > len(self._list) and not self._dynamic_size:
            raise ValueError(f"Cannot split into {len(pieces)} pieces a TensorArray of static "
                             f"size {len(self._list)}")
        self._list[:] = list(pieces)
        self._read_once.clear()
        first = pieces[0].shape if pieces and len({tuple(p.shape) for p in pieces}) == 1 \
            else TensorShape(None)
        return self._derived(element_shape=first)

    def size(self, name=None):
        """The number of elements, as an int32 Tensor."""
        if self._list is not None and not context.is_tracing():
            return creation_ops.constant(len(self._list), dtypes.int32)
        return run(_size, (self._graph_buffer(), self._size_tensor()))

    def identity(self):
        return self._derived()

    def close(self, name=None):
        """Does nothing (TensorFlow's eager TensorArray has nothing to release either)."""

    def mark_used(self):
        """Accepted for TensorFlow compatibility."""

    def grad(self, source, flow=None, name=None):
        raise NotImplementedError("TensorArray.grad is TensorFlow's graph-mode internals: use "
                                  "GradientTape on the values the array was written with.")


def _as_int(i):
    if isinstance(i, int):
        return creation_ops.constant(i, dtypes.int32)
    return i


def _known(shape: TensorShape):
    """A TensorShape as an attr: a tuple with None dims, or None for an unknown rank."""
    return None if shape.dims is None else tuple(shape.dims)
