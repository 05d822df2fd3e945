"""Row arithmetic of RaggedTensors in dtf ops, for row splits that are tensors without a host
value (symbolic tensors inside a `dtf.function` trace).

Eager RaggedTensors do this bookkeeping in NumPy on their host row splits (ragged_tensor.py,
ragged_ops.py); these functions compute the same things as graph nodes, so a traced function
works for every row partition of its input spec. They take any RaggedTensor (eager ones too:
then each op runs at once), and they use the same value ops as the eager code (scatter_nd,
gather, where, dense reductions), so results and gradients match it.

Example:
    >>> rt = dtf.ragged.constant([[1., 2.], [3.]])
    >>> to_dense(rt, -1.0).numpy()
    array([[ 1.,  2.],
           [ 3., -1.]], dtype=float32)
"""

from __future__ import annotations

from dtf import dtypes
from dtf.ops import array_ops, indexing_ops, math_ops, reduce_ops
from dtf.ops.creation_ops import cast, convert_to_tensor, ones_like, zeros_like
from dtf.ops.creation_ops import range as _range
from dtf.ragged import ragged_prims

__all__ = ["bounding_dims", "concat_rows", "from_padded", "from_tensor", "nrows", "row_lengths",
           "row_values", "slice_rows", "take_rows", "to_dense", "valid_mask", "value_rowids"]


def _i64(x):
    return cast(x, dtypes.int64)


def _zero():
    return convert_to_tensor(0, dtype=dtypes.int64)


def _zeros1():
    return convert_to_tensor([0], dtype=dtypes.int64)


def nrows(rt):
    """The number of rows of `rt`, an int64 scalar (a constant when it is known statically)."""
    static = rt.shape[0]
    if static is not None:
        return convert_to_tensor(static, dtype=dtypes.int64)
    return array_ops.shape(rt.row_splits, out_type=dtypes.int64)[0] - 1


def row_lengths(splits):
    """The row lengths of a row splits vector."""
    return splits[1:] - splits[:-1]


def value_rowids(splits):
    """The row of each value of a row splits vector (int64)."""
    return ragged_prims.value_rowids(splits)


def _max_length(splits):
    # The longest row; 0 when there are no rows (the reduction starts from 0).
    return reduce_ops.reduce_max(array_ops.concat([_zeros1(), row_lengths(splits)], 0))


def bounding_dims(rt) -> list:
    """The bounding shape as a list of int64 scalars (ragged levels, unknown inner dims) and
    ints (known uniform dims)."""
    dims, level = [nrows(rt)], rt
    while getattr(level, "_is_ragged_tensor", False):
        dims.append(_max_length(level.row_splits))
        level = level.values
    inner = level.shape.dims[1:]
    if any(d is None for d in inner):  # the flat values' inner dims are known at run time
        shape = array_ops.shape(level, out_type=dtypes.int64)
        return dims + [shape[i + 1] if d is None else int(d) for i, d in enumerate(inner)]
    return dims + [int(d) for d in inner]


def _coordinates(rt):
    """int64 [nvals, ragged_rank + 1]: the index of each flat value in the padded tensor."""
    levels, level = [], rt
    while getattr(level, "_is_ragged_tensor", False):
        levels.append(level.row_splits)
        level = level.values
    coords, owner = [], None  # owner: for each flat value, its row at the current level
    for splits in reversed(levels):
        rowids = value_rowids(splits)
        count = array_ops.shape(rowids, out_type=dtypes.int64)[0]
        position = _range(_zero(), count, dtype=dtypes.int64) - indexing_ops.gather(splits,
                                                                                     rowids)
        if owner is None:
            coords.insert(0, position)
            owner = rowids
        else:
            coords.insert(0, indexing_ops.gather(position, owner))
            owner = indexing_ops.gather(rowids, owner)
    coords.insert(0, owner)
    return array_ops.stack(coords, axis=1)


def _dims_tensor(dims):
    return array_ops.stack([d if not isinstance(d, int) else convert_to_tensor(d, dtypes.int64)
                            for d in dims])


def _trailing_ones(mask, count):
    for _ in range(count):
        mask = array_ops.expand_dims(mask, -1)
    return mask


def valid_mask(rt, dims=None):
    """Bool tensor of shape dims[:ragged_rank + 1]: True where `rt` has an entry."""
    k = rt.ragged_rank
    dims = bounding_dims(rt) if dims is None else dims
    coords = _coordinates(rt)
    coords, _ = _crop(coords, None, dims[:k + 1])
    ones = ones_like(coords[:, 0])
    return math_ops.greater(indexing_ops.scatter_nd(coords, ones, _dims_tensor(dims[:k + 1])), 0)


def _crop(coords, values, limits):
    """Drops the values whose coordinates fall outside `limits` (a to_tensor `shape`)."""
    inside = reduce_ops.reduce_all(math_ops.less(coords, _dims_tensor(limits)[None, :]), axis=1)
    coords = indexing_ops.boolean_mask(coords, inside)
    return coords, None if values is None else indexing_ops.boolean_mask(values, inside)


def _static(dims, known):
    """`known` dims (ints or None) where given, else the tensors of `dims`."""
    return [d if s is None else int(s) for d, s in zip(dims, known)]


def to_dense(rt, default_value=None, shape=None):
    """`rt.to_tensor(default_value, shape)` in dtf ops (any row splits)."""
    k = rt.ragged_rank
    flat = rt.flat_values
    dims = bounding_dims(rt)
    cropped = False
    if shape is not None:
        cropped = any(s is not None for s in shape[:k + 1])
        dims = _static(dims, shape)
    coords = _coordinates(rt)
    if cropped:
        coords, flat = _crop(coords, flat, dims[:k + 1])
    static = [rt.shape[0] if not isinstance(dims[0], int) else dims[0]] + [
        d if isinstance(d, int) else None for d in dims[1:]]
    if flat.dtype in (dtypes.string, dtypes.bool):
        return _gather_dense(flat, coords, dims, k, default_value, static)
    dense = indexing_ops.scatter_nd(coords, flat, _dims_tensor(dims))
    if any(d is not None for d in static):
        dense = array_ops.ensure_shape(dense, static)
    if default_value is None:
        return dense  # scatter_nd fills with zeros
    default = convert_to_tensor(default_value, dtype=flat.dtype)
    ones = ones_like(coords[:, 0])
    mask = math_ops.greater(indexing_ops.scatter_nd(coords, ones, _dims_tensor(dims[:k + 1])), 0)
    return math_ops.where(_trailing_ones(mask, len(dims) - k - 1), dense, default)


def _gather_dense(flat, coords, dims, k, default_value, static):
    """to_dense for values scatter_nd cannot add (strings, bools): each padded slot gathers
    its value from [default, *flat] (slot index 0 is the default)."""
    count = array_ops.shape(coords, out_type=dtypes.int64)[0]
    slots = indexing_ops.scatter_nd(coords, _range(_zero() + 1, count + 1, dtype=dtypes.int64),
                                    _dims_tensor(dims[:k + 1]))
    if default_value is None:
        default_value = b"" if flat.dtype == dtypes.string else False
    default = array_ops.broadcast_to(convert_to_tensor(default_value, dtype=flat.dtype),
                                     _dims_tensor([1] + dims[k + 1:]))
    dense = indexing_ops.gather(array_ops.concat([default, flat], 0), slots)
    if any(d is not None for d in static):
        dense = array_ops.ensure_shape(dense, static)
    return dense


def from_padded(dense, mask, ragged_rank):
    """The RaggedTensor (a Tensor for ragged_rank 0) of the entries of `dense` where `mask`
    (bool, the leading ragged_rank + 1 dims; valid entries are a prefix of each row) is True."""
    from dtf.ragged.ragged_tensor import RaggedTensor

    if ragged_rank == 0:
        return dense
    flat = indexing_ops.boolean_mask(dense, mask)
    lengths_per_level, m = [], mask
    for _ in range(ragged_rank):
        row_has = m
        while row_has.shape.rank > 2:
            row_has = reduce_ops.reduce_any(row_has, axis=-1)
        lengths_per_level.append(reduce_ops.reduce_sum(_i64(row_has), axis=1))
        m = indexing_ops.boolean_mask(m, row_has)
    result = flat
    for lengths in reversed(lengths_per_level):
        result = RaggedTensor.from_row_lengths(result, lengths, validate=False)
    return result


def take_rows(rt, rows):
    """The RaggedTensor of rows `rows` (an int64 vector tensor) of `rt`."""
    from dtf.ragged.ragged_tensor import RaggedTensor, _take_rows_of

    splits = rt.row_splits
    starts = indexing_ops.gather(splits, rows)
    lengths = indexing_ops.gather(splits, rows + 1) - starts
    new_splits = array_ops.concat([_zeros1(), reduce_ops.cumsum(lengths)], 0)
    rowids = value_rowids(new_splits)
    count = array_ops.shape(rowids, out_type=dtypes.int64)[0]
    index = (indexing_ops.gather(starts, rowids) + _range(_zero(), count, dtype=dtypes.int64)
             - indexing_ops.gather(new_splits, rowids))
    return RaggedTensor(_take_rows_of(rt.values, index), new_splits, internal=True)


def row_values(rt, row):
    """Row `row` (an int, or an int64 scalar tensor; negative counts from the end)."""
    from dtf.ragged.ragged_tensor import _take_rows_of

    splits = rt.row_splits
    row = convert_to_tensor(row, dtype=dtypes.int64)
    row = math_ops.floormod(row, nrows(rt))
    start, stop = splits[row], splits[row + 1]
    return _take_rows_of(rt.values, _range(start, stop, dtype=dtypes.int64))


def concat_rows(values):
    """The rows of RaggedTensors `values` (one ragged rank) one after the other."""
    from dtf.ragged.ragged_tensor import RaggedTensor

    pieces, offset = [], None
    for v in values:
        splits = v.row_splits
        if offset is None:
            pieces.append(splits)
            offset = splits[-1]
        else:
            pieces.append(splits[1:] + offset)
            offset = offset + splits[-1]
    inner = [v.values for v in values]
    if getattr(inner[0], "_is_ragged_tensor", False):
        joined = concat_rows(inner)
    else:
        joined = array_ops.concat(inner, 0)
    return RaggedTensor(joined, array_ops.concat(pieces, 0), internal=True)


def from_tensor(cls, tensor, lengths, padding, ragged_rank):
    """`RaggedTensor.from_tensor` for a symbolic tensor, lengths or padding (graph ops)."""
    shape = array_ops.shape(tensor, out_type=dtypes.int64)
    if ragged_rank > 1:
        inner_dims = tensor.shape.dims[1:]
        if any(d is None for d in inner_dims[:ragged_rank]):
            raise ValueError(f"from_tensor: with ragged_rank={ragged_rank} the dims 1.."
                             f"{ragged_rank - 1} must be known statically, got shape "
                             f"{tensor.shape}.")
        flat = array_ops.reshape(tensor, [-1] + [int(d) if d is not None else -1
                                                 for d in tensor.shape.dims[ragged_rank:]])
        result = from_tensor(cls, flat, lengths, padding, 1)
        count = shape[0]
        counts = []
        for level in range(1, ragged_rank):
            counts.append(count)
            count = count * int(tensor.shape[level])
        for level in range(ragged_rank - 1, 0, -1):
            width = int(tensor.shape[level])
            splits = _range(_zero(), counts[level - 1] * width + 1, width, dtype=dtypes.int64)
            result = cls(result, splits, internal=True)
        return result
    nrows_, ncols = shape[0], shape[1]
    if lengths is not None:
        lengths = convert_to_tensor(lengths) if not getattr(lengths, "_is_symbolic", False) \
            else lengths
        row_lengths = math_ops.minimum(_i64(lengths), ncols)
    elif padding is not None:
        pad = padding if getattr(padding, "_is_symbolic", False) else convert_to_tensor(
            padding, dtype=tensor.dtype)
        kept = math_ops.logical_not(math_ops.equal(tensor, pad))
        while kept.shape.rank > 2:
            kept = reduce_ops.reduce_any(kept, axis=-1)
        # A row ends after its last non-padding entry.
        from_end = reduce_ops.argmax(cast(kept[:, ::-1], dtypes.int32), axis=1)
        row_lengths = math_ops.where(reduce_ops.reduce_any(kept, axis=1), ncols - from_end,
                                     zeros_like(from_end))
    else:
        row_lengths = ncols + zeros_like(_range(_zero(), nrows_, dtype=dtypes.int64))
    columns = _range(_zero(), ncols, dtype=dtypes.int64)
    mask = math_ops.less(columns[None, :], row_lengths[:, None])
    values = indexing_ops.boolean_mask(tensor, mask)
    return cls.from_row_lengths(values, row_lengths, validate=False)


def slice_rows(rt, key: slice):
    """`rt[start:stop:step]` when the number of rows is only known when the function runs:
    Python's slice rules (negative bounds count from the end, bounds clamp), in graph ops."""
    step = 1 if key.step is None else int(key.step)
    if step == 0:
        raise ValueError("RaggedTensor row slice: slice step cannot be zero.")
    n = nrows(rt)
    low, high = (0, n) if step > 0 else (-1, n - 1)

    def bound(value, default):
        if value is None:
            return default
        value = convert_to_tensor(int(value), dtype=dtypes.int64)
        if int(value.numpy()) < 0:
            value = value + n
        return math_ops.minimum(math_ops.maximum(value, low), high)

    start = bound(key.start, 0 if step > 0 else n - 1)
    stop = bound(key.stop, n if step > 0 else -1)
    if step > 0:
        stop = math_ops.maximum(stop, start)  # an empty range, never a negative length
    else:
        stop = math_ops.minimum(stop, start)
    return take_rows(rt, _range(start, stop, step, dtype=dtypes.int64))
