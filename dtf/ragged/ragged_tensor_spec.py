"""`RaggedTensorSpec`: the static description of a RaggedTensor, as `tf.RaggedTensorSpec`.

It describes ragged components of a `dtf.data.Dataset`'s `element_spec` (what
`Dataset.ragged_batch` yields) and is the type spec of a RaggedTensor.

Example:
    >>> spec = dtf.ragged.RaggedTensorSpec([None, None], dtf.int32, ragged_rank=1)
    >>> spec
    RaggedTensorSpec(TensorShape([None, None]), dtf.int32, 1, dtf.int64)
    >>> spec.is_compatible_with(dtf.ragged.constant([[1, 2], [3]]))
    True
"""

from __future__ import annotations

from dtf import dtypes
from dtf.tensor_shape import TensorShape, as_shape

__all__ = ["RaggedTensorSpec"]


class RaggedTensorSpec:
    """Describes a RaggedTensor: shape (ragged dims are None), dtype, ragged rank and the dtype
    of its row splits.

    Args:
        shape: the shape, a TensorShape or list of ints and None; None for an unknown rank.
        dtype: the dtype of the values (float32 by default).
        ragged_rank: how many dims are ragged (dims 1 .. ragged_rank); by default the rank
            minus one. Needed when the rank is unknown.
        row_splits_dtype: int64 (default) or int32.
        flat_values_spec: accepted for TensorFlow's signature; when given, its dtype is the
            values' dtype.

    Example:
        >>> dtf.ragged.RaggedTensorSpec([2, None, 3], dtf.float32).ragged_rank
        2
    """

    __slots__ = ("_dtype", "_flat_values_spec", "_ragged_rank", "_row_splits_dtype", "_shape")

    def __init__(self, shape=None, dtype=dtypes.float32, ragged_rank=None,
                 row_splits_dtype=dtypes.int64, flat_values_spec=None):
        self._shape = as_shape(shape)
        self._flat_values_spec = flat_values_spec
        if flat_values_spec is not None:
            dtype = flat_values_spec.dtype
        self._dtype = dtypes.as_dtype(dtype)
        self._row_splits_dtype = dtypes.as_dtype(row_splits_dtype)
        if self._row_splits_dtype not in (dtypes.int32, dtypes.int64):
            raise ValueError(f"RaggedTensorSpec: row_splits_dtype must be int32 or int64, got "
                             f"{self._row_splits_dtype.name}.")
        rank = self._shape.rank
        if ragged_rank is None:
            if rank is None:
                raise ValueError("Must specify ragged_rank or a shape with a known rank.")
            ragged_rank = rank - 1
        if not isinstance(ragged_rank, int) or ragged_rank < 0:
            raise TypeError(f"RaggedTensorSpec: ragged_rank must be a non-negative int, got "
                            f"{ragged_rank!r}.")
        if rank is not None and ragged_rank >= rank:
            raise ValueError(f"ragged_rank must be less than rank, got ragged_rank={ragged_rank} "
                             f"for shape {self._shape}.")
        self._ragged_rank = ragged_rank

    @classmethod
    def from_value(cls, value) -> RaggedTensorSpec:
        """The spec of a RaggedTensor (or, with ragged_rank 0, of a dense tensor)."""
        if getattr(value, "_is_ragged_tensor", False):
            return cls(value.shape, value.dtype, value.ragged_rank, value.row_splits_dtype)
        from dtf.ops.creation_ops import convert_to_tensor

        t = convert_to_tensor(value)
        return cls(t.shape, t.dtype, 0)

    # -- attributes --------------------------------------------------------------------------
    @property
    def shape(self) -> TensorShape:
        return self._shape

    @property
    def dtype(self) -> dtypes.DType:
        return self._dtype

    @property
    def ragged_rank(self) -> int:
        return self._ragged_rank

    @property
    def row_splits_dtype(self) -> dtypes.DType:
        return self._row_splits_dtype

    @property
    def flat_values_spec(self):
        return self._flat_values_spec

    @property
    def value_type(self):
        from dtf.ragged.ragged_tensor import RaggedTensor

        return RaggedTensor

    # -- composite protocol (dtf.function input_signature) ------------------------------------
    def _dtf_component_specs(self) -> list:
        """The TensorSpecs of a matching RaggedTensor's components: the flat values
        ([None] + inner dims), then the int64 row splits of each level, outermost first (its
        length nrows + 1 when nrows is known; inner levels' lengths vary with the data).

        Example:
            >>> spec = dtf.ragged.RaggedTensorSpec([2, None, 3], dtf.float32, 1)
            >>> [s.shape for s in spec._dtf_component_specs()]
            [TensorShape([None, 3]), TensorShape([3])]
        """
        from dtf.tensor_spec import TensorSpec

        k = self._ragged_rank
        if self._shape.rank is None:
            inner, nrows = None, None
        else:
            inner, nrows = [None] + list(self._shape.dims[k + 1:]), self._shape.dims[0]
        specs = [TensorSpec(inner, self._dtype)]
        for level in range(k):
            length = nrows + 1 if level == 0 and nrows is not None else None
            specs.append(TensorSpec([length], dtypes.int64))
        return specs

    def _dtf_type_spec(self) -> tuple:
        """The type spec a RaggedTensor of this spec has (`RaggedTensor._dtf_type_spec`)."""
        return ("RaggedTensor", self)

    # -- comparisons ---------------------------------------------------------------------------
    def _key(self):
        return (tuple(self._shape.dims) if self._shape.rank is not None else None, self._dtype.name,
                self._ragged_rank, self._row_splits_dtype.name)

    def is_compatible_with(self, spec_or_value) -> bool:
        """True when `spec_or_value` (a RaggedTensorSpec or RaggedTensor) has this dtype,
        ragged rank and row splits dtype, and a shape compatible with this one.

        Example:
            >>> spec = dtf.ragged.RaggedTensorSpec([None, None], dtf.float32, 1)
            >>> spec.is_compatible_with(dtf.ragged.RaggedTensorSpec([3, None], dtf.int32, 1))
            False
        """
        other = spec_or_value
        if not isinstance(other, RaggedTensorSpec):
            if not getattr(other, "_is_ragged_tensor", False) and self._ragged_rank:
                return False
            try:  # with ragged_rank 0 a dense tensor is the value
                other = RaggedTensorSpec.from_value(other)
            except (TypeError, ValueError):
                return False
        return (self._dtype == other._dtype and self._ragged_rank == other._ragged_rank
                and self._row_splits_dtype == other._row_splits_dtype
                and self._shape.is_compatible_with(other._shape))

    def most_specific_compatible_type(self, other) -> RaggedTensorSpec:
        """The most specific spec compatible with both: dims relaxed to None where they differ.

        Raises:
            ValueError: dtype, ragged_rank, row_splits_dtype or rank differ.
        """
        if not isinstance(other, RaggedTensorSpec) or self._key()[1:] != other._key()[1:] \
                or self._shape.rank != other._shape.rank:
            raise ValueError(f"No RaggedTensorSpec is compatible with both {self!r} and "
                             f"{other!r}: their dtype, ragged_rank, row_splits_dtype or rank "
                             "differ.")
        if self._shape.rank is None:
            shape = None
        else:
            shape = [a if a == b else None for a, b in zip(self._shape.dims, other._shape.dims)]
        return RaggedTensorSpec(shape, self._dtype, self._ragged_rank, self._row_splits_dtype)

    def __eq__(self, other):
        if not isinstance(other, RaggedTensorSpec):
            return NotImplemented
        return self._key() == other._key()

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return (f"RaggedTensorSpec({self._shape!r}, {self._dtype!r}, {self._ragged_rank}, "
                f"{self._row_splits_dtype!r})")

    def __reduce__(self):
        shape = self._shape.dims if self._shape.rank is not None else None
        return RaggedTensorSpec, (shape, self._dtype.name, self._ragged_rank,
                                  self._row_splits_dtype.name)
