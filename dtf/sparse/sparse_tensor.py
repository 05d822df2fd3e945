"""SparseTensor: a tensor stored as the coordinates and values of its non-default entries."""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.ops.creation_ops import convert_to_tensor
from dtf.tensor import Tensor
from dtf.tensor_shape import TensorShape
from dtf.tensor_spec import TensorSpec

__all__ = ["SparseTensor"]


class SparseTensor:
    """A sparse tensor in coordinate (COO) form, as `tf.SparseTensor`.

    Args:
        indices: int64 [N, rank]: the coordinates of the N stored entries. Most ops want them
            in row-major (lexicographic) order; `dtf.sparse.reorder` sorts them.
        values: [N]: the entries' values, of any dtype.
        dense_shape: int64 [rank]: the shape of the dense tensor this one stands for.

    Example:
        >>> sp = dtf.SparseTensor(indices=[[0, 0], [1, 2]], values=[1.0, 2.0],
        ...                       dense_shape=[3, 4])
        >>> sp.shape
        TensorShape([3, 4])
        >>> dtf.sparse.to_dense(sp).numpy()
        array([[1., 0., 0., 0.],
               [0., 0., 2., 0.],
               [0., 0., 0., 0.]], dtype=float32)
    """

    _is_sparse_tensor = True
    __array_priority__ = 100  # numpy arrays defer `array * sparse` to us

    def __init__(self, indices, values, dense_shape):
        self._init(indices, values, dense_shape, None)

    @classmethod
    def _with_static_shape(cls, indices, values, dense_shape, static_shape) -> SparseTensor:
        """A SparseTensor over (possibly symbolic) components whose dense shape is known
        statically where `static_shape` (ints or None; None for nothing known) says so."""
        sp = cls.__new__(cls)
        sp._init(indices, values, dense_shape, static_shape)
        return sp

    def _init(self, indices, values, dense_shape, static_shape):
        self._indices = _int64_tensor(indices, "indices")
        self._values = convert_to_tensor(values)
        self._dense_shape = _int64_tensor(dense_shape, "dense_shape")
        idx_dims, val_dims = self._indices.shape.dims, self._values.shape.dims
        shape_dims = self._dense_shape.shape.dims
        if idx_dims is not None and len(idx_dims) != 2:
            raise ValueError(f"SparseTensor: indices must be a matrix [N, rank], got shape "
                             f"{list(idx_dims)}.")
        if val_dims is not None and len(val_dims) != 1:
            raise ValueError(f"SparseTensor: values must be a vector [N], got shape "
                             f"{list(val_dims)}.")
        if shape_dims is not None and len(shape_dims) != 1:
            raise ValueError(f"SparseTensor: dense_shape must be a vector [rank], got shape "
                             f"{list(shape_dims)}.")
        n_idx, n_val = (idx_dims or (None, None))[0], (val_dims or (None,))[0]
        if None not in (n_idx, n_val) and n_idx != n_val:
            raise ValueError(f"Dimensions {n_idx} and {n_val} are not compatible: "
                             f"SparseTensor has {n_idx} index rows but {n_val} "
                             "values; give one value per index row.")
        self._shape_tuple = _static_dense_shape(self._dense_shape, idx_dims, static_shape)
        rank = len(self._shape_tuple)
        if not (_is_eager(self._indices) and _is_eager(self._values)):
            self._pin_static_shapes(rank)
            idx_dims = self._indices.shape.dims
        if idx_dims is not None and idx_dims[1] is not None and idx_dims[1] != rank:
            shown = (self._dense_shape.numpy().tolist() if _is_eager(self._dense_shape)
                     else list(self._shape_tuple))
            raise ValueError(f"Dimensions {idx_dims[1]} and {rank} are not compatible: "
                             f"indices have {idx_dims[1]} columns but dense_shape "
                             f"{shown} has rank {rank}.")

    def _pin_static_shapes(self, rank):
        """Symbolic components of unknown rank or width get the shapes a SparseTensor implies
        ([N, rank], [N], [rank]; checked when the graph runs), so that the ops on them keep
        static ranks."""
        from dtf.ops.array_ops import ensure_shape

        for name, dims in (("_indices", [None, rank]), ("_values", [None]),
                           ("_dense_shape", [rank])):
            t = getattr(self, name)
            known = t.shape.dims
            if _is_eager(t) or (known is not None and all(
                    w is None or k is not None for k, w in zip(known, dims))):
                continue  # already knows every dim the SparseTensor implies
            if t.shape.is_compatible_with(dims):
                setattr(self, name, ensure_shape(t, dims))

    @property
    def _is_eager(self) -> bool:
        """Whether the indices and dense shape are concrete (the ops' host fast path)."""
        return _is_eager(self._indices) and _is_eager(self._dense_shape)

    # -- attributes --------------------------------------------------------------------------
    @property
    def indices(self):
        """The int64 [N, rank] coordinates of the stored entries."""
        return self._indices

    @property
    def values(self):
        """The [N] stored values."""
        return self._values

    @property
    def dense_shape(self):
        """The int64 [rank] shape of the dense tensor."""
        return self._dense_shape

    @property
    def dtype(self) -> dtypes.DType:
        """The dtype of the values."""
        return self._values.dtype

    @property
    def shape(self) -> TensorShape:
        """The dense shape as a TensorShape."""
        return TensorShape(list(self._shape_tuple))

    @property
    def ndim(self) -> int:
        return len(self._shape_tuple)

    def get_shape(self) -> TensorShape:
        """The dense shape as a TensorShape (as `shape`)."""
        return self.shape

    def with_values(self, new_values) -> SparseTensor:
        """A SparseTensor with the same indices and shape and these values.

        Example:
            >>> sp = dtf.SparseTensor([[0, 1]], [2.0], [2, 2])
            >>> sp.with_values(sp.values * 3).values.numpy()
            array([6.], dtype=float32)
        """
        new_values = convert_to_tensor(new_values)
        if not new_values.shape.is_compatible_with(self._values.shape):
            raise ValueError(f"with_values: the new values have shape {new_values.shape}, but "
                             f"this SparseTensor stores {self._values.shape[0]} values.")
        return SparseTensor._with_static_shape(self._indices, new_values, self._dense_shape,
                                               self._shape_tuple)

    @classmethod
    def from_value(cls, value) -> SparseTensor:
        """`value` itself when it is a SparseTensor (as TensorFlow's classmethod)."""
        if isinstance(value, SparseTensor):
            return value
        raise TypeError(f"SparseTensor.from_value expects a SparseTensor, got "
                        f"{type(value).__name__}. Use dtf.sparse.from_dense for dense tensors.")

    # -- composite protocol (dtf.function arguments and results) ------------------------------
    # A SparseTensor crosses a traced function's boundary as its three component tensors; its
    # type spec holds only the dtype and the static dense shape (TensorFlow's SparseTensorSpec),
    # so one trace serves every set of indices, and inside it the sparse ops build graph nodes.
    def _dtf_components(self) -> list:
        """The tensors a traced function takes for this value: [indices, values, dense_shape]."""
        return [self._indices, self._values, self._dense_shape]

    def _dtf_type_spec(self) -> tuple:
        """A hashable description without data: ("SparseTensor", dtype name, static dense
        shape with None for unknown dims)."""
        return ("SparseTensor", self.dtype.name, self._shape_tuple)

    def _dtf_component_specs(self) -> list:
        """The TensorSpecs a trace gives the components: any number of entries."""
        return _component_specs(self._shape_tuple, self.dtype)

    @classmethod
    def _dtf_from_components(cls, components, metadata) -> SparseTensor:
        """The SparseTensor of `_dtf_type_spec()` `metadata` over these (eager or symbolic)
        components."""
        indices, values, dense_shape = components
        return cls._with_static_shape(indices, values, dense_shape, metadata[2])

    # -- operators: elementwise with a dense tensor, as TensorFlow's SparseTensor -------------
    def __mul__(self, other):
        from dtf.sparse.sparse_math import sparse_dense_cwise_mul
        return sparse_dense_cwise_mul(self, other)

    def __truediv__(self, other):
        from dtf.sparse.sparse_math import sparse_dense_cwise_div
        return sparse_dense_cwise_div(self, other)

    __div__ = __truediv__

    def __bool__(self):
        raise TypeError("The truth value of a SparseTensor is ambiguous: compare its values "
                        "(sp.values) or densify it with dtf.sparse.to_dense first.")

    def __array__(self, dtype=None, copy=None):
        raise TypeError("A SparseTensor cannot be converted to a NumPy array directly: use "
                        "dtf.sparse.to_dense(sp).numpy().")

    def __repr__(self):
        if not (self._is_eager and _is_eager(self._values)):
            return (f"SparseTensor(indices={self._indices}, values={self._values}, "
                    f"dense_shape={self._dense_shape}, shape={self.shape})")
        return (f"SparseTensor(indices={self._indices}, values={self._values}, "
                f"dense_shape={self._dense_shape})")

    __str__ = __repr__


def _is_eager(t) -> bool:
    return isinstance(t, Tensor)


def _component_specs(shape_tuple, dtype) -> list:
    rank = len(shape_tuple)
    return [TensorSpec([None, rank], dtypes.int64), TensorSpec([None], dtype),
            TensorSpec([rank], dtypes.int64)]


def _static_dense_shape(dense_shape, idx_dims, static_shape) -> tuple:
    """The dense shape as far as it is known before running: all of it for an eager
    `dense_shape`, else `static_shape`'s dims (None where unknown), of the rank that
    `dense_shape` or the indices tell."""
    if _is_eager(dense_shape):
        return tuple(int(d) for d in np.asarray(dense_shape.numpy()).reshape(-1))
    if static_shape is not None:
        return tuple(None if d is None else int(d) for d in static_shape)
    rank = dense_shape.shape.dims[0] if dense_shape.shape.dims is not None else None
    if rank is None and idx_dims is not None:
        rank = idx_dims[1]
    if rank is None:
        raise ValueError("SparseTensor: the rank is unknown (dense_shape has shape "
                         f"{dense_shape.shape} and indices {TensorShape(idx_dims)}); give "
                         "dense_shape a static length or indices a static number of columns.")
    return (None,) * rank


def _int64_tensor(value, what):
    if getattr(value, "_is_symbolic", False):
        if value.dtype == dtypes.int64:
            return value
        if value.dtype.is_integer:
            from dtf.ops.creation_ops import cast
            return cast(value, dtypes.int64)
        raise TypeError(f"SparseTensor: {what} must be int64 (or int32, cast to int64), got a "
                        f"{value.dtype.name} tensor of shape {value.shape}.")
    if isinstance(value, TensorShape):
        value = value.as_list()
    if isinstance(value, (list, tuple)):  # Python data, empty lists included, is int64 data
        arr = np.asarray(value)
        if arr.size == 0 or arr.dtype.kind in "iu":
            value = arr.astype(np.int64)
    t = convert_to_tensor(value, dtype_hint=dtypes.int64)
    if t.dtype == dtypes.int64:
        return t
    if t.dtype.is_integer:
        from dtf.ops.creation_ops import cast
        return cast(t, dtypes.int64)
    raise TypeError(f"SparseTensor: {what} must be int64 (or int32, cast to int64), got a "
                    f"{t.dtype.name} tensor of shape {t.shape}.")
