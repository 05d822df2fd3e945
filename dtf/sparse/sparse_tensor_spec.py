"""`SparseTensorSpec`: the static description of a SparseTensor, as `tf.SparseTensorSpec`.

A spec is the dense shape (None where unknown) and the dtype of the values; it says nothing of
the indices, so a `dtf.function` traced for a spec serves every SparseTensor it describes.

Example:
    >>> spec = dtf.SparseTensorSpec([None, 4], dtf.float32)
    >>> spec
    SparseTensorSpec(TensorShape([None, 4]), dtf.float32)
    >>> spec.is_compatible_with(dtf.SparseTensor([[0, 1]], [1.0], [3, 4]))
    True
"""

from __future__ import annotations

from dtf import dtypes
from dtf.tensor_shape import TensorShape, as_shape

__all__ = ["SparseTensorSpec"]


class SparseTensorSpec:
    """Describes a SparseTensor: its dense shape (dims may be None) and its values' dtype.

    Args:
        shape: the dense shape: a TensorShape, a list of ints or None (its rank must be known
            for a traced function's signature).
        dtype: the dtype of the values (float32 by default).

    In `dtf.function(input_signature=[dtf.SparseTensorSpec([None, 3], dtf.float32)])` it makes
    one trace serve every SparseTensor of that dtype and of dense shape [any, 3].

    Example:
        >>> spec = dtf.SparseTensorSpec([None, 3], dtf.float32)
        >>> spec.most_specific_compatible_type(dtf.SparseTensorSpec([None, 5], dtf.float32))
        SparseTensorSpec(TensorShape([None, None]), dtf.float32)
    """

    __slots__ = ("_dtype", "_shape")

    def __init__(self, shape=None, dtype=dtypes.float32):
        self._shape = as_shape(shape)
        self._dtype = dtypes.as_dtype(dtype)

    @classmethod
    def from_value(cls, value) -> SparseTensorSpec:
        """The spec of a SparseTensor."""
        if not getattr(value, "_is_sparse_tensor", False):
            raise TypeError(f"SparseTensorSpec.from_value expects a SparseTensor, got "
                            f"{type(value).__name__}.")
        return cls(value.shape, value.dtype)

    # -- attributes --------------------------------------------------------------------------
    @property
    def shape(self) -> TensorShape:
        return self._shape

    @property
    def dtype(self) -> dtypes.DType:
        return self._dtype

    @property
    def value_type(self):
        from dtf.sparse.sparse_tensor import SparseTensor

        return SparseTensor

    # -- comparisons ---------------------------------------------------------------------------
    def _dims(self):
        return tuple(self._shape.dims) if self._shape.rank is not None else None

    def is_compatible_with(self, spec_or_value) -> bool:
        """True when `spec_or_value` (a SparseTensorSpec or SparseTensor) has this dtype and a
        dense shape compatible with this one (None dims match anything).

        Example:
            >>> dtf.SparseTensorSpec([None, 4]).is_compatible_with(
            ...     dtf.SparseTensorSpec([2, 5]))
            False
        """
        other = spec_or_value
        if getattr(other, "_is_sparse_tensor", False):
            other = SparseTensorSpec.from_value(other)
        if not isinstance(other, SparseTensorSpec):
            return False
        return self._dtype == other._dtype and self._shape.is_compatible_with(other._shape)

    def most_specific_compatible_type(self, other) -> SparseTensorSpec:
        """The most specific spec compatible with both: dims relaxed to None where they differ.

        Raises:
            ValueError: the dtypes or ranks differ.
        """
        if not isinstance(other, SparseTensorSpec) or self._dtype != other._dtype or \
                self._shape.rank != other._shape.rank:
            raise ValueError(f"No SparseTensorSpec is compatible with both {self!r} and "
                             f"{other!r}: their dtype or rank differ.")
        if self._shape.rank is None:
            return SparseTensorSpec(None, self._dtype)
        dims = [a if a == b else None for a, b in zip(self._shape.dims, other._shape.dims)]
        return SparseTensorSpec(dims, self._dtype)

    def __eq__(self, other):
        if not isinstance(other, SparseTensorSpec):
            return NotImplemented
        return self._dims() == other._dims() and self._dtype == other._dtype

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash((self._dims(), self._dtype.name))

    def __repr__(self):
        return f"SparseTensorSpec({self._shape!r}, {self._dtype!r})"

    def __reduce__(self):
        return SparseTensorSpec, (self._dims(), self._dtype.name)

    # -- the composite protocol of signatures (dtf.function(input_signature=[...])) ------------
    def _dtf_type_spec(self) -> tuple:
        """The type spec of the SparseTensors this spec describes (see SparseTensor)."""
        if self._shape.rank is None:
            raise ValueError(f"{self!r} has an unknown rank; a traced function's signature "
                             "needs the rank of a SparseTensor's dense shape (e.g. "
                             "dtf.SparseTensorSpec([None, None], dtype)).")
        return ("SparseTensor", self._dtype.name, self._dims())

    def _dtf_component_specs(self) -> list:
        """The TensorSpecs of [indices, values, dense_shape]."""
        from dtf.sparse.sparse_tensor import _component_specs

        return _component_specs(self._dtf_type_spec()[2], self._dtype)
