"""SparseTensor: a tensor stored as the coordinates and values of its non-default entries."""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.ops.creation_ops import convert_to_tensor
from dtf.tensor_shape import TensorShape

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
        self._indices = _int64_tensor(indices, "indices")
        self._values = convert_to_tensor(values)
        self._dense_shape = _int64_tensor(dense_shape, "dense_shape")
        idx_dims, val_dims = self._indices.shape.dims, self._values.shape.dims
        shape_dims = self._dense_shape.shape.dims
        if len(idx_dims) != 2:
            raise ValueError(f"SparseTensor: indices must be a matrix [N, rank], got shape "
                             f"{list(idx_dims)}.")
        if len(val_dims) != 1:
            raise ValueError(f"SparseTensor: values must be a vector [N], got shape "
                             f"{list(val_dims)}.")
        if len(shape_dims) != 1:
            raise ValueError(f"SparseTensor: dense_shape must be a vector [rank], got shape "
                             f"{list(shape_dims)}.")
        if None not in (idx_dims[0], val_dims[0]) and idx_dims[0] != val_dims[0]:
            raise ValueError(f"Dimensions {idx_dims[0]} and {val_dims[0]} are not compatible: "
                             f"SparseTensor has {idx_dims[0]} index rows but {val_dims[0]} "
                             "values; give one value per index row.")
        if None not in (idx_dims[1], shape_dims[0]) and idx_dims[1] != shape_dims[0]:
            raise ValueError(f"Dimensions {idx_dims[1]} and {shape_dims[0]} are not compatible: "
                             f"indices have {idx_dims[1]} columns but dense_shape "
                             f"{self._dense_shape.numpy().tolist()} has rank {shape_dims[0]}.")
        self._shape_tuple = tuple(int(d) for d in np.asarray(self._dense_shape.numpy()))

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
        return SparseTensor(self._indices, new_values, self._dense_shape)

    @classmethod
    def from_value(cls, value) -> SparseTensor:
        """`value` itself when it is a SparseTensor (as TensorFlow's classmethod)."""
        if isinstance(value, SparseTensor):
            return value
        raise TypeError(f"SparseTensor.from_value expects a SparseTensor, got "
                        f"{type(value).__name__}. Use dtf.sparse.from_dense for dense tensors.")

    # -- composite protocol (dtf.function arguments and results) ------------------------------
    # A SparseTensor crosses a traced function's boundary as its values (one tensor leaf); its
    # indices and dense shape are host data to the sparse ops, so they are part of the type
    # spec: new indices trace again, and inside the trace ops on the values build graph nodes.
    def _dtf_components(self) -> list:
        """The tensors a traced function takes for this value: [values]."""
        return [self._values]

    def _dtf_type_spec(self) -> tuple:
        """A hashable description: ("SparseTensor", dtype name, dense shape, indices bytes)."""
        indices = np.ascontiguousarray(self._indices.numpy(), dtype=np.int64)
        return ("SparseTensor", self.dtype.name, self._shape_tuple, indices.tobytes())

    @classmethod
    def _dtf_from_components(cls, components, metadata) -> SparseTensor:
        """The SparseTensor of `_dtf_type_spec()` `metadata` with these (eager or symbolic)
        values, their length pinned to the number of indices."""
        from dtf.ops.array_ops import ensure_shape

        _, _, shape, index_bytes = metadata
        indices = np.frombuffer(index_bytes, dtype=np.int64).reshape(-1, len(shape))
        (values,) = components
        if values.shape.as_list() != [indices.shape[0]]:
            values = ensure_shape(values, [indices.shape[0]])
        return cls(indices.copy(), values, list(shape))

    # -- operators: elementwise with a dense tensor, as TensorFlow's SparseTensor -------------
    def __mul__(self, other):
        from dtf.sparse.sparse_ops import sparse_dense_cwise_mul
        return sparse_dense_cwise_mul(self, other)

    def __truediv__(self, other):
        from dtf.sparse.sparse_ops import sparse_dense_cwise_div
        return sparse_dense_cwise_div(self, other)

    __div__ = __truediv__

    def __bool__(self):
        raise TypeError("The truth value of a SparseTensor is ambiguous: compare its values "
                        "(sp.values) or densify it with dtf.sparse.to_dense first.")

    def __array__(self, dtype=None, copy=None):
        raise TypeError("A SparseTensor cannot be converted to a NumPy array directly: use "
                        "dtf.sparse.to_dense(sp).numpy().")

    def __repr__(self):
        return (f"SparseTensor(indices={self._indices}, values={self._values}, "
                f"dense_shape={self._dense_shape})")

    __str__ = __repr__


def _int64_tensor(value, what):
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
