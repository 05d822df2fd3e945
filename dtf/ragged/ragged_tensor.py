"""RaggedTensor: rows of different lengths, stored as flat values plus row splits.

A RaggedTensor of ragged rank k is `values` (a dense Tensor, or a RaggedTensor of rank k - 1)
and `row_splits`, an int64 vector whose row i spans `values[row_splits[i]:row_splits[i + 1]]`.
Eager row splits are kept as NumPy too, so eager row arithmetic costs no op dispatch; inside a
`dtf.function` trace the row splits may be symbolic tensors (a RaggedTensor argument, the
result of `dtf.strings.split`), and the row arithmetic becomes graph ops
(dtf/ragged/symbolic_rows.py). Every computation on the values goes through dense dtf ops, so
GradientTape sees it.
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops import array_ops, indexing_ops
from dtf.ops.creation_ops import cast, convert_to_tensor
from dtf.tensor import Tensor
from dtf.tensor_shape import TensorShape

__all__ = ["RaggedTensor"]


def _is_symbolic(x) -> bool:
    return getattr(x, "_is_symbolic", False)


def _symbolic_splits(value, what, op):
    """A symbolic int vector (row splits, lengths or ids) as int64, checked statically."""
    if not value.dtype.is_integer:
        raise TypeError(f"{op}: {what} must be integers (int32 or int64), got dtype "
                        f"{value.dtype.name}.")
    if value.shape.rank is not None and value.shape.rank != 1:
        raise ValueError(f"{op}: {what} must be a vector, got shape {value.shape}.")
    return value if value.dtype == dtypes.int64 else cast(value, dtypes.int64)


def _splits_array(value, what, op):
    if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False):
        value = value.numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "iu" and array.size:
        raise TypeError(f"{op}: {what} must be integers (int32 or int64), got dtype "
                        f"{array.dtype}.")
    if array.ndim != 1:
        raise ValueError(f"{op}: {what} must be a vector, got shape {list(array.shape)}.")
    return array.astype(np.int64)


def _values_arg(values):
    if isinstance(values, RaggedTensor):
        return values
    values = convert_to_tensor(values)
    if values.shape.rank == 0:
        raise ValueError("RaggedTensor: values must have rank >= 1, got a scalar "
                         f"{values!r}.")
    return values


def _nvals(values):
    """How many rows `values` has, or None when that is not known statically."""
    return values.shape[0]


def _checked(splits, values, op):
    """Symbolic row splits with a node that checks them against `values` when the graph runs
    (TensorFlow's validating asserts)."""
    from dtf.ragged import ragged_prims

    if isinstance(values, RaggedTensor):
        nvals = values.nrows()
    else:
        nvals = array_ops.shape(values, out_type=dtypes.int64)[0]
    return ragged_prims.check_splits(splits, nvals, op=op)


def _partition_error(op, detail):
    return InvalidArgumentError(f"Arguments to {op} do not form a valid RaggedTensor: {detail}")


class RaggedTensor:
    """A tensor whose rows have different lengths, as `tf.RaggedTensor`.

    Build one with `dtf.ragged.constant` or a `from_*` classmethod; do not call the
    constructor.

    Example:
        >>> rt = dtf.ragged.constant([[3, 1, 4, 1], [], [5, 9, 2]])
        >>> rt
        <dtf.RaggedTensor [[3, 1, 4, 1], [], [5, 9, 2]]>
        >>> rt.shape
        TensorShape([3, None])
        >>> rt.row_lengths().numpy()
        array([4, 0, 3])
    """

    _is_ragged_tensor = True
    __array_priority__ = 100  # numpy arrays defer `array + ragged` to us

    def __init__(self, values, splits, internal=False):
        if not internal:
            raise ValueError("RaggedTensor constructor is private; use dtf.ragged.constant or "
                             "RaggedTensor.from_row_splits/from_row_lengths/... instead.")
        self._values = values
        # The row splits, validated by the caller: eager ones as an int64 NumPy vector in
        # `_splits` (the Tensor made on demand), symbolic ones in `_row_splits` only.
        if isinstance(splits, np.ndarray):
            self._splits, self._row_splits = splits, None
        elif _is_symbolic(splits):
            self._splits, self._row_splits = None, splits
        else:  # an eager Tensor
            self._splits = np.asarray(splits.numpy(), dtype=np.int64)
            self._row_splits = splits if splits.dtype == dtypes.int64 else None

    # -- constructors ---------------------------------------------------------------------
    @classmethod
    def from_row_splits(cls, values, row_splits, name=None, validate=True) -> RaggedTensor:
        """Row i is `values[row_splits[i]:row_splits[i + 1]]`.

        Example:
            >>> dtf.RaggedTensor.from_row_splits([3, 1, 4, 1, 5], [0, 2, 2, 5])
            <dtf.RaggedTensor [[3, 1], [], [4, 1, 5]]>
        """
        values = _values_arg(values)
        if _is_symbolic(row_splits):
            # Traced: the partition is checked by a graph node, when the function runs.
            splits = _symbolic_splits(row_splits, "row_splits", "from_row_splits")
            if validate:
                splits = _checked(splits, values, "from_row_splits")
            return cls(values, splits, internal=True)
        splits = _splits_array(row_splits, "row_splits", "from_row_splits")
        if validate:
            if splits.size == 0 or splits[0] != 0:
                first = splits[0] if splits.size else "nothing"
                raise _partition_error("from_row_splits", f"zero. row_splits must start with 0, "
                                       f"got {first} (row_splits={splits.tolist()}).")
            if np.any(np.diff(splits) < 0):
                raise _partition_error("from_row_splits", "monotonic. row_splits must be "
                                       f"non-decreasing, got {splits.tolist()}.")
            cls._check_nvals("_from_row_partition", int(splits[-1]), values)
        return cls(values, splits, internal=True)

    @classmethod
    def from_row_lengths(cls, values, row_lengths, name=None, validate=True) -> RaggedTensor:
        """Row i holds the next `row_lengths[i]` values.

        Example:
            >>> dtf.RaggedTensor.from_row_lengths([3, 1, 4, 1, 5], [2, 0, 3])
            <dtf.RaggedTensor [[3, 1], [], [4, 1, 5]]>
        """
        values = _values_arg(values)
        if _is_symbolic(row_lengths):
            from dtf.ops.reduce_ops import cumsum

            lengths = _symbolic_splits(row_lengths, "row_lengths", "from_row_lengths")
            zero = convert_to_tensor([0], dtype=dtypes.int64)
            splits = array_ops.concat([zero, cumsum(lengths)], 0)
            if validate:
                splits = _checked(splits, values, "from_row_lengths")
            return cls(values, splits, internal=True)
        lengths = _splits_array(row_lengths, "row_lengths", "from_row_lengths")
        if validate and np.any(lengths < 0):
            raise InvalidArgumentError(
                "Arguments to from_row_lengths do not form a valid RowPartition: row_lengths "
                f"must be >= 0, got {lengths.tolist()}.")
        splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        if validate:
            cls._check_nvals("_from_row_partition", int(splits[-1]), values)
        return cls(values, splits, internal=True)

    @classmethod
    def from_value_rowids(cls, values, value_rowids, nrows=None, name=None,
                          validate=True) -> RaggedTensor:
        """Value j goes into row `value_rowids[j]` (sorted ascending); `nrows` adds empty
        trailing rows.

        Example:
            >>> dtf.RaggedTensor.from_value_rowids([3, 1, 4, 1, 5], [0, 0, 2, 2, 3], nrows=5)
            <dtf.RaggedTensor [[3, 1], [], [4, 1], [5], []]>
        """
        values = _values_arg(values)
        if _is_symbolic(value_rowids) or _is_symbolic(nrows):
            return cls._from_symbolic_rowids(values, value_rowids, nrows)
        rowids = _splits_array(value_rowids, "value_rowids", "from_value_rowids")
        last = int(rowids[-1]) if rowids.size else -1
        if nrows is None:
            nrows = last + 1
        nrows = int(nrows.numpy() if isinstance(nrows, Tensor) else nrows)
        if validate:
            if rowids.size and (rowids[0] < 0 or np.any(np.diff(rowids) < 0)):
                raise InvalidArgumentError(
                    "Arguments to from_value_rowids do not form a valid RowPartition: "
                    f"value_rowids must be non-negative and sorted, got {rowids.tolist()}.")
            if nrows < last + 1:
                raise ValueError(f"Expected nrows >= value_rowids[-1] + 1; got nrows={nrows}, "
                                 f"value_rowids[-1]={last}")
            cls._check_nvals("_from_row_partition", int(rowids.size), values)
        lengths = np.bincount(rowids, minlength=nrows) if rowids.size else np.zeros(nrows)
        splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return cls(values, splits, internal=True)

    @classmethod
    def _from_symbolic_rowids(cls, values, value_rowids, nrows):
        from dtf.ops import reduce_ops
        from dtf.ragged import ragged_prims

        rowids = value_rowids
        if not _is_symbolic(rowids):
            rowids = convert_to_tensor(_splits_array(rowids, "value_rowids",
                                                     "from_value_rowids"))
        rowids = _symbolic_splits(rowids, "value_rowids", "from_value_rowids")
        if nrows is None:  # one more than the last row id (0 rows when there are no values)
            minus_one = convert_to_tensor([-1], dtype=dtypes.int64)
            nrows = reduce_ops.reduce_max(array_ops.concat([minus_one, rowids], 0)) + 1
        else:
            nrows = cast(convert_to_tensor(nrows) if not _is_symbolic(nrows) else nrows,
                              dtypes.int64)
        return cls(values, ragged_prims.splits_from_rowids(rowids, nrows), internal=True)

    @classmethod
    def from_nested_row_splits(cls, flat_values, nested_row_splits, name=None,
                               validate=True) -> RaggedTensor:
        """Applies `from_row_splits` once per splits vector, innermost last.

        Example:
            >>> dtf.RaggedTensor.from_nested_row_splits([1, 2, 3, 4], ([0, 1, 3], [0, 2, 3, 4]))
            <dtf.RaggedTensor [[[1, 2]], [[3], [4]]]>
        """
        if isinstance(nested_row_splits, (Tensor, np.ndarray)):
            raise TypeError("from_nested_row_splits: nested_row_splits must be a list of "
                            "row_splits vectors, not one tensor.")
        result = flat_values
        for splits in reversed(list(nested_row_splits)):
            result = cls.from_row_splits(result, splits, validate=validate)
        return result

    @classmethod
    def from_nested_row_lengths(cls, flat_values, nested_row_lengths, name=None,
                                validate=True) -> RaggedTensor:
        """Applies `from_row_lengths` once per lengths vector, innermost last."""
        result = flat_values
        for lengths in reversed(list(nested_row_lengths)):
            result = cls.from_row_lengths(result, lengths, validate=validate)
        return result

    @classmethod
    def from_tensor(cls, tensor, lengths=None, padding=None, ragged_rank=1,
                    name=None) -> RaggedTensor:
        """Rows of a dense tensor, cut at `lengths` or where trailing `padding` starts.

        Example:
            >>> dtf.RaggedTensor.from_tensor([[1, 0, 0], [2, 3, 0]], padding=0)
            <dtf.RaggedTensor [[1], [2, 3]]>
        """
        if not _is_symbolic(tensor):
            tensor = convert_to_tensor(tensor)
        rank = tensor.shape.rank
        if ragged_rank < 1 or ragged_rank >= rank:
            raise ValueError(f"from_tensor: ragged_rank must be in [1, rank - 1] = [1, "
                             f"{rank - 1}] for a tensor of shape {tensor.shape}, got "
                             f"{ragged_rank}.")
        if lengths is not None and padding is not None:
            raise ValueError("from_tensor: give `lengths` or `padding`, not both.")
        if _is_symbolic(tensor) or _is_symbolic(lengths) or _is_symbolic(padding):
            from dtf.ragged.symbolic_rows import from_tensor

            return from_tensor(cls, tensor, lengths, padding, ragged_rank)
        dims = [int(d) for d in tensor.shape.dims]
        if ragged_rank > 1:
            # Uniform outer dims become rows of equal length, then the innermost is cut.
            flat = array_ops.reshape(tensor, [-1] + dims[ragged_rank:])
            inner = cls.from_tensor(flat, lengths, padding, 1)
            for level in range(ragged_rank - 1, 0, -1):
                inner = cls.from_row_lengths(inner, np.full(int(np.prod(dims[:level])),
                                                            dims[level]))
            return inner
        nrows, ncols = dims[0], dims[1]
        if lengths is not None:
            row_lengths = np.minimum(_splits_array(lengths, "lengths", "from_tensor"), ncols)
            if row_lengths.size != nrows:
                raise ValueError(f"from_tensor: lengths has {row_lengths.size} entries but the "
                                 f"tensor has {nrows} rows.")
        elif padding is not None:
            pad = convert_to_tensor(padding, dtype=tensor.dtype).numpy()
            is_pad = np.asarray(tensor.numpy() == pad)
            is_pad = is_pad.reshape(nrows, ncols, -1).all(axis=2)
            # A row ends after its last non-padding entry.
            kept = ~is_pad
            last = np.where(kept.any(axis=1), ncols - np.argmax(kept[:, ::-1], axis=1), 0)
            row_lengths = last.astype(np.int64)
        else:
            row_lengths = np.full(nrows, ncols, dtype=np.int64)
        mask = np.arange(ncols)[None, :] < row_lengths[:, None]
        values = indexing_ops.gather_nd(tensor, np.argwhere(mask).astype(np.int64))
        return cls.from_row_lengths(values, row_lengths, validate=False)

    @staticmethod
    def _check_nvals(op, expected, values):
        actual = _nvals(values)
        if expected is not None and actual is not None and expected != actual:
            raise _partition_error(op, f"the row partition covers {expected} values but "
                                   f"values has {actual} rows (values shape "
                                   f"{values.shape}).")

    # -- attributes ------------------------------------------------------------------------
    @property
    def values(self):
        """The concatenated rows: a Tensor, or a RaggedTensor for ragged_rank > 1."""
        return self._values

    @property
    def row_splits(self) -> Tensor:
        """The int64 vector of row starts, with the end of the last row appended (a symbolic
        tensor inside a trace, when the partition is not known there)."""
        if self._row_splits is None:
            self._row_splits = convert_to_tensor(self._splits)
        return self._row_splits

    @property
    def flat_values(self) -> Tensor:
        """The innermost dense values (a Tensor)."""
        values = self._values
        while isinstance(values, RaggedTensor):
            values = values._values
        return values

    @property
    def nested_row_splits(self) -> tuple:
        """The row_splits of each ragged level, outermost first."""
        out, rt = [], self
        while isinstance(rt, RaggedTensor):
            out.append(rt.row_splits)
            rt = rt._values
        return tuple(out)

    @property
    def ragged_rank(self) -> int:
        """How many dimensions are ragged (1 for a plain list of rows)."""
        values = self._values
        return 1 + values.ragged_rank if isinstance(values, RaggedTensor) else 1

    @property
    def dtype(self) -> dtypes.DType:
        """The dtype of the values."""
        return self.flat_values.dtype

    @property
    def row_splits_dtype(self) -> dtypes.DType:
        return dtypes.int64

    @property
    def shape(self) -> TensorShape:
        """[nrows (None if unknown in a trace), None (one per ragged dim), inner dims]."""
        inner = list(self.flat_values.shape.dims[1:])
        return TensorShape([self._static_nrows()] + [None] * self.ragged_rank + inner)

    def _static_nrows(self):
        if self._splits is not None:
            return len(self._splits) - 1
        n = self._row_splits.shape[0]
        return None if n is None else n - 1

    def _is_host(self) -> bool:
        """Whether every level's row splits are known here (eager NumPy bookkeeping)."""
        rt = self
        while isinstance(rt, RaggedTensor):
            if rt._splits is None:
                return False
            rt = rt._values
        return True

    def get_shape(self) -> TensorShape:
        return self.shape

    @property
    def ndim(self) -> int:
        return self.shape.rank

    def nrows_int(self) -> int:
        n = self._static_nrows()
        if n is None:
            raise _symbolic_error("the number of rows as a Python int", "rt.nrows()")
        return n

    def nrows(self, out_type=None, name=None) -> Tensor:
        """The number of rows, as an int64 scalar Tensor."""
        n = self._static_nrows()
        if n is not None:
            return convert_to_tensor(np.asarray(n, dtype=_np_int(out_type)))
        from dtf.ragged import symbolic_rows

        return _out(symbolic_rows.nrows(self), out_type)

    def row_lengths(self, axis=1, name=None):
        """The length of each row (int64); `axis` > 1 gives the lengths of an inner ragged
        dim, as a RaggedTensor.

        Example:
            >>> dtf.ragged.constant([[1, 2], [], [3]]).row_lengths().numpy()
            array([2, 0, 1])
        """
        if axis == 1:
            if self._splits is None:
                return self._row_splits[1:] - self._row_splits[:-1]
            return convert_to_tensor(np.diff(self._splits))
        if axis < 1 or not isinstance(self._values, RaggedTensor):
            raise ValueError(f"row_lengths: axis={axis} is not a ragged dimension of a "
                             f"RaggedTensor with ragged_rank {self.ragged_rank}.")
        return self.with_values(self._values.row_lengths(axis - 1))

    def nested_row_lengths(self) -> tuple:
        """The row_lengths of each ragged level, outermost first."""
        return tuple(s[1:] - s[:-1] if _is_symbolic(s) else convert_to_tensor(np.diff(s.numpy()))
                     for s in self.nested_row_splits)

    def value_rowids(self, name=None) -> Tensor:
        """The row index of each value (int64).

        Example:
            >>> dtf.ragged.constant([[1, 2], [], [3]]).value_rowids().numpy()
            array([0, 0, 2])
        """
        if self._splits is None:
            from dtf.ragged import ragged_prims

            return ragged_prims.value_rowids(self._row_splits)
        return convert_to_tensor(self._rowids())

    def _rowids(self) -> np.ndarray:
        return np.repeat(np.arange(self.nrows_int(), dtype=np.int64), np.diff(self._splits))

    def row_starts(self, name=None) -> Tensor:
        if self._splits is None:
            return self._row_splits[:-1]
        return convert_to_tensor(self._splits[:-1])

    def row_limits(self, name=None) -> Tensor:
        if self._splits is None:
            return self._row_splits[1:]
        return convert_to_tensor(self._splits[1:])

    def bounding_shape(self, axis=None, name=None, out_type=None) -> Tensor:
        """The smallest dense shape holding this tensor (int64)."""
        if not self._is_host():
            from dtf.ragged import symbolic_rows

            dims = [convert_to_tensor(d, dtype=dtypes.int64) if isinstance(d, int) else d
                    for d in symbolic_rows.bounding_dims(self)]
            shape = _out(array_ops.stack(dims), out_type)
            return shape if axis is None else shape[axis]
        shape = np.asarray(self._padded_dims(), dtype=_np_int(out_type))
        return convert_to_tensor(shape if axis is None else shape[axis])

    def _nvals(self):
        """How many values the partition covers (None when not known statically)."""
        return int(self._splits[-1]) if self._splits is not None else None

    def _splits_arg(self):
        """The row splits as the constructor takes them (NumPy when on the host)."""
        return self._splits if self._splits is not None else self._row_splits

    def with_values(self, new_values) -> RaggedTensor:
        """The same row partition over `new_values` (same number of rows)."""
        new_values = _values_arg(new_values)
        RaggedTensor._check_nvals("with_values", self._nvals(), new_values)
        result = RaggedTensor(new_values, self._splits_arg(), internal=True)
        result._row_splits = self._row_splits
        return result

    def with_flat_values(self, new_values) -> RaggedTensor:
        """The same nested row partition over new flat values."""
        if isinstance(self._values, RaggedTensor):
            return self.with_values(self._values.with_flat_values(new_values))
        return self.with_values(new_values)

    # -- composite protocol (dtf.function arguments and results) ------------------------------
    # A RaggedTensor crosses a traced function's boundary as its flat values and the row splits
    # of each level (tensor leaves); its type spec holds only what TensorFlow's RaggedTensorSpec
    # holds (dtype, ragged_rank, static shape, row_splits dtype), so one trace serves every row
    # partition with the same number of rows.
    def _dtf_components(self) -> list:
        """The tensors a traced function takes for this value: [flat_values, *row_splits]
        (outermost level first)."""
        return [self.flat_values, *self.nested_row_splits]

    def _dtf_type_spec(self) -> tuple:
        """A hashable description without the data: ("RaggedTensor", RaggedTensorSpec)."""
        from dtf.ragged.ragged_tensor_spec import RaggedTensorSpec

        return ("RaggedTensor", RaggedTensorSpec(self.shape, self.dtype, self.ragged_rank))

    def _dtf_component_specs(self) -> list:
        """TensorSpecs of `_dtf_components()` valid for every value of this type spec: the
        lengths of the flat values and of inner row splits vary with the partition."""
        from dtf.ragged.ragged_tensor_spec import RaggedTensorSpec

        return RaggedTensorSpec(self.shape, self.dtype, self.ragged_rank)._dtf_component_specs()

    @classmethod
    def _dtf_from_components(cls, components, metadata) -> RaggedTensor:
        """The RaggedTensor of `_dtf_type_spec()` `metadata` over these components (eager or
        symbolic): flat values, then the row splits of each level, outermost first."""
        flat_values, *nested = components
        if len(nested) != metadata[1].ragged_rank:
            raise ValueError(f"RaggedTensor: {len(nested)} row splits vectors given for a "
                             f"RaggedTensor of ragged_rank {metadata[1].ragged_rank}.")
        result = flat_values
        for level in reversed(nested):
            if _is_symbolic(level):
                level = _symbolic_splits(level, "row_splits", "RaggedTensor")
            result = cls(result, level, internal=True)
        return result

    # -- conversion ------------------------------------------------------------------------
    def _padded_dims(self) -> list:
        """The bounding shape: for each ragged level, the longest row (host row splits)."""
        dims, rt = [self.nrows_int()], self
        while isinstance(rt, RaggedTensor):
            lengths = np.diff(rt._splits)
            dims.append(int(lengths.max()) if lengths.size else 0)
            rt = rt._values
        return dims + [int(d) for d in rt.shape.dims[1:]]

    def to_tensor(self, default_value=None, name=None, shape=None) -> Tensor:
        """Pads the rows with `default_value` (zero) into a dense tensor; `shape` (None
        dims taken from the data) crops or pads further.

        Example:
            >>> dtf.ragged.constant([[1, 2], [3]]).to_tensor(-1).numpy()
            array([[ 1,  2],
                   [ 3, -1]], dtype=int32)
        """
        if not self._is_host():
            from dtf.ragged import symbolic_rows

            if shape is not None:
                shape = list(shape.as_list() if hasattr(shape, "as_list") else shape)
                if len(shape) != self.ndim:
                    raise ValueError(f"to_tensor: shape {shape} has rank {len(shape)} but the "
                                     f"RaggedTensor has rank {self.ndim} (shape {self.shape}).")
                for i in range(self.ragged_rank + 1, len(shape)):
                    if None not in (shape[i], self.shape[i]) and shape[i] != self.shape[i]:
                        raise ValueError(f"to_tensor: shape {shape} differs from the uniform "
                                         f"dim {i} of the RaggedTensor ({self.shape}).")
            return symbolic_rows.to_dense(self, default_value, shape)
        from dtf.ragged.ragged_ops import to_dense

        return to_dense(self, default_value, shape)

    def to_list(self) -> list:
        """The rows as nested Python lists.

        Example:
            >>> dtf.ragged.constant([[1, 2], [3]]).to_list()
            [[1, 2], [3]]
        """
        self._check_has_value("to_list")
        if isinstance(self._values, RaggedTensor):
            inner = self._values.to_list()
        else:
            inner = self._values.numpy().tolist()
        s = self._splits
        return [inner[s[i]:s[i + 1]] for i in range(len(s) - 1)]

    def numpy(self) -> np.ndarray:
        """As TensorFlow's: an object array of row arrays (a plain array when rows are equal).

        Example:
            >>> dtf.ragged.constant([[1, 2, 3], [4, 5]], dtype=dtf.int64).numpy()
            array([array([1, 2, 3]), array([4, 5])], dtype=object)
        """
        self._check_has_value("numpy")
        values = self._values.numpy()
        s = self._splits
        rows = [values[s[i]:s[i + 1]] for i in range(len(s) - 1)]
        if not rows:
            return np.zeros((0, 0) + values.shape[1:], dtype=values.dtype)
        if any(len(row) != len(rows[0]) for row in rows):
            out = np.empty(len(rows), dtype=object)
            for i, row in enumerate(rows):
                out[i] = row
            return out
        return np.array(rows)

    def _check_has_value(self, what):
        if not self._is_host() or _is_symbolic(self.flat_values):
            raise _symbolic_error(f"RaggedTensor.{what}()", "return the RaggedTensor from the "
                                  "function and call it on the result")

    def __repr__(self):
        if not self._is_host() or _is_symbolic(self.flat_values):
            return (f"<dtf.RaggedTensor (symbolic) shape={self.shape} dtype={self.dtype.name} "
                    f"ragged_rank={self.ragged_rank}>")
        # TensorFlow's format: NumPy's printing with a comma separator at every level.
        with np.printoptions(formatter={"all": _formatter}):
            text = _formatter(self.numpy())
        return f"<dtf.RaggedTensor {text}>"

    __str__ = __repr__

    # -- rows ------------------------------------------------------------------------------
    def __iter__(self):
        for i in range(self.nrows_int()):
            yield self[i]

    def __getitem__(self, key):
        """Rows by int or slice (`rt[1]`, `rt[1:3]`, `rt[::-1]`); `rt[i, j]` is `rt[i][j]`.

        Example:
            >>> dtf.ragged.constant([[1, 2], [], [3]])[0].numpy()
            array([1, 2], dtype=int32)
        """
        if isinstance(key, tuple):
            if not key:
                return self
            first = self[key[0]]
            if len(key) == 1:
                return first
            if isinstance(key[0], slice):
                raise TypeError("RaggedTensor indexing: after a slice, only rows can be "
                                f"selected (got key {key!r}); index the result again.")
            return first[key[1:]] if len(key) > 2 else first[key[1]]
        if self._splits is None or _is_symbolic(key):
            return self._symbolic_getitem(key)
        n = self.nrows_int()
        if isinstance(key, Tensor):
            key = key.numpy().item()
        if isinstance(key, (int, np.integer)):
            if not -n <= key < n:
                raise IndexError(f"Row key {key} out of bounds: the RaggedTensor has {n} rows.")
            key = int(key) % n
            start, stop = int(self._splits[key]), int(self._splits[key + 1])
            return _take_rows_of(self._values, np.arange(start, stop, dtype=np.int64))
        if isinstance(key, slice):
            return _take_rows(self, np.arange(n, dtype=np.int64)[key])
        if key is Ellipsis:
            return self
        raise TypeError(f"RaggedTensor indices must be ints or slices, got "
                        f"{type(key).__name__} {key!r}.")

    def _symbolic_getitem(self, key):
        from dtf.ragged import symbolic_rows

        if isinstance(key, slice):
            n = self._static_nrows()
            if n is None:
                return symbolic_rows.slice_rows(self, key)
            return symbolic_rows.take_rows(self, convert_to_tensor(
                np.arange(n, dtype=np.int64)[key]))
        if key is Ellipsis:
            return self
        if isinstance(key, (int, np.integer)) or (
                (_is_symbolic(key) or isinstance(key, Tensor)) and key.dtype.is_integer
                and key.shape.rank == 0):
            n = self._static_nrows()
            if n is not None and isinstance(key, (int, np.integer)) and not -n <= key < n:
                raise IndexError(f"Row key {key} out of bounds: the RaggedTensor has {n} rows.")
            return symbolic_rows.row_values(self, key)
        raise TypeError(f"RaggedTensor indices must be ints or slices, got "
                        f"{type(key).__name__} {key!r}.")

    def __len__(self):
        return self.nrows_int()

    def __bool__(self):
        raise TypeError("The truth value of a RaggedTensor is ambiguous; use "
                        "dtf.reduce_any / dtf.reduce_all on its flat_values.")

    def __hash__(self):
        return id(self)


def _out(t, out_type):
    if out_type is not None and dtypes.as_dtype(out_type) == dtypes.int32:
        return cast(t, dtypes.int32)
    return t


def _symbolic_error(what, instead):
    from dtf.errors import OperatorNotAllowedInGraphError

    return OperatorNotAllowedInGraphError(
        f"{what} needs the row partition's values, but this RaggedTensor is symbolic (inside a "
        f"dtf.function trace its row splits or values are only known when the function runs). "
        f"Use graph ops (rt.row_lengths(), rt.to_tensor(), dtf.ragged.map_flat_values) or "
        f"{instead}.")


def _np_int(out_type):
    return np.int32 if out_type is not None and dtypes.as_dtype(out_type) == dtypes.int32 \
        else np.int64


def _formatter(x):
    if isinstance(x, np.ndarray):
        if x.size != 0:
            return np.array2string(x, separator=", ")
        # array2string gives `[]` for any empty array; a [0, 3] array is `[[], [], []]`.
        return repr(x.tolist())
    return str(x)


def _take_rows_of(values, indices):
    """Rows `indices` of dense or ragged `values` (a gather, so gradients flow)."""
    if isinstance(values, RaggedTensor):
        return _take_rows(values, indices)
    return indexing_ops.gather(values, indices)


def _take_rows(rt, rows):
    """The RaggedTensor of rows `rows` (NumPy int64) of `rt`."""
    if not rt._is_host():
        from dtf.ragged import symbolic_rows

        return symbolic_rows.take_rows(rt, convert_to_tensor(rows))
    s = rt._splits
    starts, stops = s[rows], s[rows + 1]
    lengths = stops - starts
    value_index = (np.concatenate([np.arange(a, b) for a, b in zip(starts, stops)])
                   if rows.size else np.zeros(0)).astype(np.int64)
    new_splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return RaggedTensor(_take_rows_of(rt._values, value_index), new_splits, internal=True)
