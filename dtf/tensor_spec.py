"""`TensorSpec`: the static description of a tensor (shape, dtype, name), as `tf.TensorSpec`.

Specs describe what a `dtf.data.Dataset` yields (`element_spec`), what a generator must produce
(`from_generator(output_signature=...)`), and the signatures of traced functions.

Example:
    >>> spec = dtf.TensorSpec(shape=(None, 3), dtype=dtf.float32)
    >>> spec
    TensorSpec(shape=(None, 3), dtype=dtf.float32, name=None)
    >>> spec.is_compatible_with(dtf.zeros((2, 3)))
    True
"""

from __future__ import annotations

from dtf import dtypes
from dtf.tensor_shape import TensorShape, as_shape

__all__ = ["TensorSpec"]


class TensorSpec:
    """Describes a tensor: its shape (dims may be None), its dtype and an optional name.

    Args:
        shape: a TensorShape, a list or tuple of ints or None, or None for an unknown rank.
        dtype: the element type (a DType, a NumPy dtype or a name), float32 by default.
        name: an optional name (used by signatures).

    Example:
        >>> dtf.TensorSpec([None], dtf.int64).most_specific_compatible_type(
        ...     dtf.TensorSpec([4], dtf.int64))
        TensorSpec(shape=(None,), dtype=dtf.int64, name=None)
    """

    __slots__ = ("_dtype", "_name", "_shape")

    def __init__(self, shape, dtype=dtypes.float32, name=None):
        self._shape = as_shape(shape)
        self._dtype = dtypes.as_dtype(dtype)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"TensorSpec: name must be a string or None, got {name!r}.")
        self._name = name

    @classmethod
    def from_tensor(cls, tensor, name=None) -> TensorSpec:
        """The spec of a Tensor, Variable or NumPy array (its shape and dtype)."""
        if hasattr(tensor, "shape") and isinstance(getattr(tensor, "dtype", None), dtypes.DType):
            return cls(tensor.shape, tensor.dtype, name)
        from dtf.ops.creation_ops import convert_to_tensor

        t = convert_to_tensor(tensor)
        return cls(t.shape, t.dtype, name)

    @classmethod
    def from_spec(cls, spec, name=None) -> TensorSpec:
        """A TensorSpec with the shape and dtype of `spec` (any object that has both)."""
        return cls(spec.shape, spec.dtype, spec.name if name is None else name)

    @property
    def shape(self) -> TensorShape:
        return self._shape

    @property
    def dtype(self) -> dtypes.DType:
        return self._dtype

    @property
    def name(self):
        return self._name

    @property
    def value_type(self):
        from dtf.tensor import Tensor

        return Tensor

    def is_compatible_with(self, spec_or_value) -> bool:
        """True when `spec_or_value` (a spec, Tensor or array) has this dtype and a shape
        compatible with this one (None dims match anything)."""
        other = spec_or_value
        if not isinstance(other, TensorSpec):
            try:
                other = TensorSpec.from_tensor(other)
            except (TypeError, ValueError):
                return False
        return self._dtype == other._dtype and self._shape.is_compatible_with(other._shape)

    def is_subtype_of(self, other) -> bool:
        """True when every tensor this spec describes is also described by `other`."""
        if not isinstance(other, TensorSpec) or self._dtype != other._dtype:
            return False
        if other._shape.rank is None:
            return True
        if self._shape.rank != other._shape.rank:
            return False
        return all(b is None or a == b for a, b in zip(self._shape, other._shape))

    def most_specific_common_supertype(self, others):
        """The most specific spec that describes this one and all `others`, or None."""
        result = self
        for other in others:
            if not isinstance(other, TensorSpec) or other._dtype != self._dtype:
                return None
            result = TensorSpec(_common_shape(result._shape, other._shape), self._dtype,
                                self._name if other._name == self._name else None)
        return result

    def most_specific_compatible_type(self, other) -> TensorSpec:
        """The most specific spec compatible with both: shapes relaxed where they differ.

        Raises:
            ValueError: the dtypes differ (no spec describes both).
        """
        common = self.most_specific_common_supertype([other])
        if common is None:
            raise ValueError(f"No TensorSpec is compatible with both {self!r} and {other!r}: "
                             "their dtypes differ. Cast one of them with dtf.cast.")
        return common

    def __eq__(self, other):
        if not isinstance(other, TensorSpec):
            return NotImplemented
        return (self._shape.dims == other._shape.dims and self._dtype == other._dtype
                and self._name == other._name)

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash((self._shape, self._dtype.name, self._name))

    def __repr__(self):
        return f"TensorSpec(shape={self._shape}, dtype={self._dtype!r}, name={self._name!r})"

    def __reduce__(self):
        return TensorSpec, (self._shape.dims, self._dtype.name, self._name)


def _common_shape(a: TensorShape, b: TensorShape) -> TensorShape:
    """Dims kept where `a` and `b` agree, None where they differ; unknown rank if ranks do."""
    if a.rank is None or b.rank is None or a.rank != b.rank:
        return TensorShape(None)
    return TensorShape([x if x == y else None for x, y in zip(a, b)])
