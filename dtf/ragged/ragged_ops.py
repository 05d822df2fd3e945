"""dtf.ragged functions: constant, map_flat_values, to_dense, reductions, concat, operators.

Everything that touches values is a dense dtf op on `flat_values` (gather, scatter_nd, where,
reduce_*), so gradients flow through ragged code like through dense code. Row bookkeeping is
NumPy on eager row splits, and graph ops (dtf/ragged/symbolic_rows.py) on symbolic ones inside
a `dtf.function` trace.
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops import array_ops, indexing_ops, math_ops, reduce_ops
from dtf.ops.creation_ops import constant as dense_constant
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ragged import symbolic_rows
from dtf.ragged.ragged_tensor import RaggedTensor, _take_rows
from dtf.tensor import Tensor

__all__ = ["concat", "constant", "map_flat_values", "reduce_max", "reduce_mean", "reduce_min",
           "reduce_sum", "to_dense"]


# -- constant ---------------------------------------------------------------------------------
def _scalar_depths(value, depth, out):
    if isinstance(value, (list, tuple)):
        for item in value:
            _scalar_depths(item, depth + 1, out)
        if not value:
            out.setdefault("empty", set()).add(depth + 1)
    else:
        out.setdefault("scalar", set()).add(depth)


def constant(pylist, dtype=None, ragged_rank=None, inner_shape=None, name=None,
             row_splits_dtype=dtypes.int64) -> RaggedTensor:
    """A RaggedTensor from nested Python lists, as `tf.ragged.constant`.

    Args:
        pylist: nested lists whose scalars all sit at the same depth.
        dtype: the values' dtype (inferred as `dtf.constant` does; float32 when empty).
        ragged_rank: how many dims are ragged (default: all but the innermost
            `len(inner_shape)`); the dims below it must be uniform.

    Example:
        >>> dtf.ragged.constant([[1, 2], [3]])
        <dtf.RaggedTensor [[1, 2], [3]]>
        >>> dtf.ragged.constant([[[1, 2], [3, 4]], [[5, 6]]], ragged_rank=1).shape
        TensorShape([2, None, 2])
    """
    if isinstance(pylist, (RaggedTensor, Tensor)):
        raise TypeError("ragged.constant expects nested Python lists, got a "
                        f"{type(pylist).__name__}.")
    found = {}
    _scalar_depths(pylist, 0, found)
    scalar = found.get("scalar", set())
    if len(scalar) > 1:
        raise ValueError("all scalar values must have the same nesting depth")
    if scalar:
        depth = scalar.pop()
        if any(d > depth for d in found.get("empty", ())):
            raise ValueError("all scalar values must have the same nesting depth")
    else:
        depth = max(found.get("empty", {1}))
    inner_rank = len(inner_shape) if inner_shape is not None else 0
    if ragged_rank is None:
        ragged_rank = max(1, depth - 1 - inner_rank)
    if ragged_rank < 1:
        raise ValueError(f"ragged_rank must be at least 1, got {ragged_rank}; use "
                         "dtf.constant for dense data.")
    if depth <= ragged_rank:
        raise ValueError(f"pylist has scalar values depth {depth}, but ragged_rank="
                         f"{ragged_rank} requires scalar value depth greater than {ragged_rank}")
    items, nested_lengths = list(pylist), []
    for _ in range(ragged_rank):
        nested_lengths.append([len(x) for x in items])
        items = [y for x in items for y in x]
    try:
        if items:
            values = dense_constant(items, dtype=dtype)
        else:
            empty_shape = [0] + list(inner_shape or [])
            values = dense_constant(np.zeros(empty_shape), dtype=dtype or dtypes.float32)
    except ValueError as error:
        raise ValueError(f"ragged.constant: the dims below ragged_rank={ragged_rank} must be "
                         f"uniform: {error}") from None
    result = values
    for lengths in reversed(nested_lengths[1:]):
        result = RaggedTensor.from_row_lengths(result, lengths, validate=False)
    return RaggedTensor.from_row_lengths(result, nested_lengths[0], validate=False)


# -- elementwise ------------------------------------------------------------------------------
def _same_partition(a: RaggedTensor, b: RaggedTensor) -> bool:
    """Whether `a` and `b` have one nested row partition. Symbolic row splits are compared by
    identity and static shape: their values are only known when the function runs, where a
    different partition of the same length is not detected (as TensorFlow without asserts)."""
    while isinstance(a, RaggedTensor) and isinstance(b, RaggedTensor):
        if a._splits is None or b._splits is None:
            sa, sb = a.row_splits, b.row_splits
            if sa is not sb and not sa.shape.is_compatible_with(sb.shape):
                return False
        elif a._splits is not b._splits and not np.array_equal(a._splits, b._splits):
            return False
        a, b = a._values, b._values
    return not isinstance(a, RaggedTensor) and not isinstance(b, RaggedTensor)


def map_flat_values(op, *args, **kwargs):
    """`op` applied to the flat_values of the RaggedTensor arguments (which must share one
    nested row partition); the result has that partition.

    Example:
        >>> dtf.ragged.map_flat_values(dtf.square, dtf.ragged.constant([[1, 2], [3]]))
        <dtf.RaggedTensor [[1, 4], [9]]>
    """
    template, others = [None], []

    def unwrap(x):
        if isinstance(x, RaggedTensor):
            if template[0] is None:
                template[0] = x
            elif not _same_partition(template[0], x):
                raise InvalidArgumentError(
                    "map_flat_values: the RaggedTensor arguments have different row "
                    f"partitions ({template[0].shape} with row_splits "
                    f"{_describe_splits(template[0])} vs. {x.shape} with "
                    f"{_describe_splits(x)}); elementwise ops need the same row lengths.")
            elif not x._is_host() or not template[0]._is_host():
                others.append(x)  # symbolic row splits: compared when the graph runs
            return x.flat_values
        if isinstance(x, (list, tuple)):
            return type(x)(unwrap(y) for y in x)
        if isinstance(x, dict):
            return {k: unwrap(v) for k, v in x.items()}
        return x

    flat_args = unwrap(list(args))
    flat_kwargs = unwrap(kwargs)
    if template[0] is None:
        raise ValueError("map_flat_values: no RaggedTensor among the arguments.")
    result = template[0]
    for other in others:
        result = _checked_partition(result, other)
    return result.with_flat_values(op(*flat_args, **flat_kwargs))


def _checked_partition(a: RaggedTensor, b: RaggedTensor) -> RaggedTensor:
    """`a`'s structure, whose symbolic row splits that are not `b`'s own tensors go through a
    node that checks, when the graph runs, that `b`'s are equal."""
    from dtf.ragged import ragged_prims

    if isinstance(a._values, RaggedTensor):
        values = _checked_partition(a._values, b._values)
    else:
        values = a._values
    if a._splits is not None and b._splits is not None:
        splits = a._splits_arg()  # equal host splits, compared already
    elif a.row_splits is b.row_splits:
        splits = a.row_splits
    else:
        splits = ragged_prims.check_same_splits(a.row_splits, b.row_splits)
    if values is a._values and splits is a._splits_arg():
        return a
    return RaggedTensor(values, splits, internal=True)


def _describe_splits(rt):
    if not rt._is_host():
        return [f"<symbolic {s.shape}>" for s in rt.nested_row_splits]
    return [s.numpy().tolist() for s in rt.nested_row_splits]


# -- to_dense ---------------------------------------------------------------------------------
def _fill_value(dtype, default_value):
    return convert_to_tensor(0 if default_value is None else default_value, dtype=dtype)


def _host_coords(rt: RaggedTensor) -> np.ndarray:
    """int64 [nvals, ragged_rank + 1]: where each flat value sits in the padded tensor (host
    row splits; row-major, the order of the flat values)."""
    levels, level = [], rt
    while isinstance(level, RaggedTensor):
        levels.append(level._splits)
        level = level._values
    coords, owner = [], None  # owner: each flat value's row at the current level
    for s in reversed(levels):
        rowids = np.repeat(np.arange(len(s) - 1, dtype=np.int64), np.diff(s))
        positions = np.arange(int(s[-1]), dtype=np.int64) - s[:-1][rowids]
        if owner is None:
            coords.insert(0, positions)
            owner = rowids
        else:
            coords.insert(0, positions[owner])
            owner = rowids[owner]
    coords.insert(0, owner)
    return np.stack(coords, axis=1)


def _valid_mask(rt: RaggedTensor, dims, coords=None) -> np.ndarray:
    """Bool array of shape dims[:ragged_rank + 1]: True where `rt` has an entry (cropped to
    `dims`)."""
    k = rt.ragged_rank
    coords = _host_coords(rt) if coords is None else coords
    coords = coords[np.all(coords < np.asarray(dims[:k + 1]), axis=1)]
    out = np.zeros(tuple(dims[:k + 1]), dtype=bool)
    out[tuple(coords.T)] = True
    return out


def to_dense(rt: RaggedTensor, default_value=None, shape=None) -> Tensor:
    """`rt.to_tensor(default_value, shape=shape)`."""
    if not rt._is_host():
        return rt.to_tensor(default_value, shape=shape)
    dims = rt._padded_dims()
    if shape is not None:
        shape = list(shape.as_list() if hasattr(shape, "as_list") else shape)
        if len(shape) != len(dims):
            raise ValueError(f"to_tensor: shape {shape} has rank {len(shape)} but the "
                             f"RaggedTensor has rank {len(dims)} (shape {rt.shape}).")
        for i in range(rt.ragged_rank + 1, len(dims)):
            if shape[i] is not None and shape[i] != dims[i]:
                raise ValueError(f"to_tensor: shape {shape} differs from the uniform dim "
                                 f"{i} of the RaggedTensor ({rt.shape}).")
        dims = [d if s is None else int(s) for d, s in zip(dims, shape)]
    flat = rt.flat_values
    k = rt.ragged_rank
    # Position of each flat value in the padded tensor, in row-major order; values cropped
    # by `shape` have no position.
    positions = _host_coords(rt)
    keep = np.all(positions < np.asarray(dims[:k + 1]), axis=1)
    kept = positions[keep] if not keep.all() else positions
    kept_values = flat if keep.all() else indexing_ops.gather(flat, np.flatnonzero(keep))
    if flat.dtype == dtypes.string:  # scatter_nd adds; strings gather from [default, *values]
        slots = np.zeros(dims[:k + 1], np.int64)
        slots[tuple(kept.T)] = np.arange(1, len(kept) + 1)
        fill = b"" if default_value is None else default_value
        default = array_ops.broadcast_to(_fill_value(flat.dtype, fill), [1] + dims[k + 1:])
        return indexing_ops.gather(array_ops.concat([default, kept_values], 0), slots)
    dense = indexing_ops.scatter_nd(kept, kept_values, dims)
    if default_value is None:
        return dense  # scatter_nd fills with zeros
    default = _fill_value(flat.dtype, default_value)
    mask = np.zeros(tuple(dims[:k + 1]), dtype=bool)
    mask[tuple(kept.T)] = True
    cond = mask.reshape(mask.shape + (1,) * (len(dims) - k - 1))
    return math_ops.where(cond, dense, default)


def _from_padded(dense, mask: np.ndarray, ragged_rank: int):
    """The RaggedTensor (or Tensor, for ragged_rank 0) of the entries of `dense` where the
    validity `mask` (its leading ragged_rank + 1 dims) is True."""
    if ragged_rank == 0:
        return dense
    flat = indexing_ops.gather_nd(dense, np.argwhere(mask).astype(np.int64))
    lengths_per_level, m = [], mask
    for _ in range(ragged_rank):
        # The valid entries are a prefix of each row: a row's length counts its valid slots.
        row_has = m.reshape(m.shape[0], m.shape[1], -1).any(axis=2)
        lengths_per_level.append(row_has.sum(axis=1))
        m = m[row_has]
    result = flat
    for lengths in reversed(lengths_per_level):
        result = RaggedTensor.from_row_lengths(result, lengths, validate=False)
    return result


# -- reductions -------------------------------------------------------------------------------
def _lowest(dtype):
    np_dtype = np.dtype(dtype.as_numpy_dtype)
    return np.finfo(np_dtype).min if np_dtype.kind == "f" else np.iinfo(np_dtype).min


def _highest(dtype):
    np_dtype = np.dtype(dtype.as_numpy_dtype)
    return np.finfo(np_dtype).max if np_dtype.kind == "f" else np.iinfo(np_dtype).max


def _reduce(rt, axis, keepdims, kind):
    if not isinstance(rt, RaggedTensor):
        return getattr(reduce_ops, f"reduce_{kind}")(rt, axis=axis, keepdims=keepdims)
    if keepdims:
        raise ValueError(f"ragged.reduce_{kind}: keepdims=True is not supported for "
                         "RaggedTensors; reduce and re-wrap the result instead.")
    flat = rt.flat_values
    if kind == "mean" and flat.dtype.is_integer:
        # TensorFlow averages integer ragged tensors in float64.
        rt = rt.with_flat_values(math_ops.cast(flat, dtypes.float64))
        flat = rt.flat_values
    if axis is None:
        return getattr(reduce_ops, f"reduce_{kind}")(flat)
    if isinstance(axis, (list, tuple)):
        axes = sorted((a % rt.ndim for a in axis), reverse=True)
        for a in axes:
            rt = _reduce(rt, a, False, kind)
        return rt
    rank, k = rt.ndim, rt.ragged_rank
    if not -rank <= axis < rank:
        raise ValueError(f"ragged.reduce_{kind}: axis {axis} is out of range for a "
                         f"RaggedTensor of rank {rank} (shape {rt.shape}).")
    axis %= rank
    if axis > k:
        # A uniform inner dim: reduce the flat values directly.
        return rt.with_flat_values(getattr(reduce_ops, f"reduce_{kind}")(flat, axis=axis - k))
    if not rt._is_host():
        return _reduce_symbolic(rt, axis, kind)
    dims = rt._padded_dims()
    mask = _valid_mask(rt, dims)
    fill = {"sum": 0, "mean": 0, "max": _lowest(flat.dtype), "min": _highest(flat.dtype)}[kind]
    dense = to_dense(rt, fill)
    if kind == "mean":
        total = reduce_ops.reduce_sum(dense, axis=axis)
        count = mask.sum(axis=axis).astype(flat.dtype.as_numpy_dtype)
        count = count.reshape(count.shape + (1,) * (rank - k - 1))
        with np.errstate(invalid="ignore", divide="ignore"):  # empty rows: NaN, as TF
            reduced = math_ops.divide(total, convert_to_tensor(count))
    else:
        reduced = getattr(reduce_ops, f"reduce_{kind}")(dense, axis=axis)
    return _from_padded(reduced, mask.any(axis=axis), k - 1)


def _reduce_symbolic(rt, axis, kind):
    """`_reduce` along ragged or row axis `axis` of `rt` with symbolic row splits: the same
    padded reduction as the eager path, in graph ops."""
    flat, k, rank = rt.flat_values, rt.ragged_rank, rt.ndim
    fill = {"sum": 0, "mean": 0, "max": _lowest(flat.dtype), "min": _highest(flat.dtype)}[kind]
    dense = rt.to_tensor(fill)
    mask = symbolic_rows.valid_mask(rt)
    if kind == "mean":
        total = reduce_ops.reduce_sum(dense, axis=axis)
        count = math_ops.cast(reduce_ops.reduce_sum(math_ops.cast(mask, dtypes.int64),
                                                    axis=axis), flat.dtype)
        for _ in range(rank - k - 1):
            count = array_ops.expand_dims(count, -1)
        reduced = math_ops.divide(total, count)
    else:
        reduced = getattr(reduce_ops, f"reduce_{kind}")(dense, axis=axis)
    return symbolic_rows.from_padded(reduced, reduce_ops.reduce_any(mask, axis=axis), k - 1)


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    """Sum across `axis` of a RaggedTensor (empty rows sum to 0).

    Example:
        >>> dtf.ragged.reduce_sum(dtf.ragged.constant([[1, 2], [], [3]]), axis=1).numpy()
        array([3, 0, 3], dtype=int32)
    """
    return _reduce(input_tensor, axis, keepdims, "sum")


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    """Mean across `axis` (NaN for empty rows; integers average in float64).

    Example:
        >>> dtf.ragged.reduce_mean(dtf.ragged.constant([[1., 2.], [3.]]), axis=1).numpy()
        array([1.5, 3. ], dtype=float32)
    """
    return _reduce(input_tensor, axis, keepdims, "mean")


def reduce_max(input_tensor, axis=None, keepdims=False, name=None):
    """Maximum across `axis` (the dtype's lowest value for empty rows).

    Example:
        >>> dtf.ragged.reduce_max(dtf.ragged.constant([[1, 5], [3]]), axis=1).numpy()
        array([5, 3], dtype=int32)
    """
    return _reduce(input_tensor, axis, keepdims, "max")


def reduce_min(input_tensor, axis=None, keepdims=False, name=None):
    """Minimum across `axis` (the dtype's highest value for empty rows).

    Example:
        >>> dtf.ragged.reduce_min(dtf.ragged.constant([[1, 5], [3]]), axis=1).numpy()
        array([1, 3], dtype=int32)
    """
    return _reduce(input_tensor, axis, keepdims, "min")


# -- concat -----------------------------------------------------------------------------------
def _as_ragged(x, ragged_rank):
    if isinstance(x, RaggedTensor):
        return x
    return RaggedTensor.from_tensor(convert_to_tensor(x), ragged_rank=ragged_rank)


def concat(values, axis, name=None):
    """Joins RaggedTensors (and dense tensors) along `axis` 0 (more rows) or 1 (longer rows).

    Example:
        >>> a = dtf.ragged.constant([[1, 2], [3]])
        >>> dtf.ragged.concat([a, dtf.ragged.constant([[4]])], axis=0)
        <dtf.RaggedTensor [[1, 2], [3], [4]]>
        >>> dtf.ragged.concat([a, a], axis=1)
        <dtf.RaggedTensor [[1, 2, 1, 2], [3, 3]]>
    """
    values = list(values)
    if not values:
        raise ValueError("ragged.concat: needs at least one tensor.")
    first = next((v for v in values if isinstance(v, RaggedTensor)), None)
    if first is None:
        return array_ops.concat(values, axis)
    values = [_as_ragged(v, first.ragged_rank) for v in values]
    rank = first.ndim
    for v in values:
        if v.ndim != rank or v.ragged_rank != first.ragged_rank or v.dtype != first.dtype:
            raise InvalidArgumentError(
                f"ragged.concat: all inputs need the same rank, ragged_rank and dtype; got "
                f"{first.shape} (ragged_rank {first.ragged_rank}, {first.dtype.name}) and "
                f"{v.shape} (ragged_rank {v.ragged_rank}, {v.dtype.name}).")
    if not -rank <= axis < rank:
        raise ValueError(f"ragged.concat: axis {axis} is out of range for rank {rank}.")
    axis %= rank
    if len(values) == 1:
        return values[0]
    if axis == 0:
        return _concat_rows(values)
    if axis == 1:
        if any(v.shape[0] is None for v in values):
            raise ValueError("ragged.concat: axis=1 needs the number of rows of every input "
                             "known statically inside a dtf.function; got shapes "
                             f"{[v.shape for v in values]}. Concatenate along axis 0, or give "
                             "the function an input_signature with the number of rows.")
        nrows = {v.nrows_int() for v in values}
        if len(nrows) != 1:
            raise InvalidArgumentError(f"ragged.concat: axis=1 needs the same number of rows, "
                                       f"got {[v.nrows_int() for v in values]}.")
        stacked = _concat_rows(values)
        n = nrows.pop()
        # Row i of the result is row i of each input in turn: take rows i, n + i, 2n + i, ...
        # of the stacked tensor, then merge each group of len(values) rows into one.
        order = np.arange(n * len(values)).reshape(len(values), n).T.reshape(-1)
        interleaved = _take_rows(stacked, order.astype(np.int64))
        if not interleaved._is_host():
            lengths = array_ops.reshape(interleaved.row_lengths(), [n, len(values)])
            return RaggedTensor.from_row_lengths(interleaved._values,
                                                 reduce_ops.reduce_sum(lengths, axis=1),
                                                 validate=False)
        lengths = np.diff(interleaved._splits).reshape(n, len(values)).sum(1)
        return RaggedTensor.from_row_lengths(interleaved._values, lengths, validate=False)
    raise ValueError(f"ragged.concat: axis={axis} is not supported; concatenate along axis 0 "
                     "or 1, or use map_flat_values for the uniform inner dims.")


def _concat_rows(values):
    if not all(v._is_host() for v in values):
        return symbolic_rows.concat_rows(values)
    offsets = np.cumsum([0] + [int(v._splits[-1]) for v in values])
    splits = np.concatenate([values[0]._splits[:1]] + [v._splits[1:] + off for v, off in
                                                       zip(values, offsets)])
    inner = [v._values for v in values]
    if isinstance(inner[0], RaggedTensor):
        joined = _concat_rows(inner)
    else:
        joined = array_ops.concat(inner, 0)
    return RaggedTensor(joined, splits.astype(np.int64), internal=True)
