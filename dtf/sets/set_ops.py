"""Set operations along the last dimension of dense tensors and SparseTensors, as `tf.sets`.

Each input stands for an array of sets: every position of the leading dimensions (the "group")
holds the set of values found along the last dimension. Dense inputs contribute every entry of
the last dimension; sparse inputs contribute their stored values only. Results are SparseTensors
whose values are sorted within each group, exactly as TensorFlow's kernels lay them out.

The work is bookkeeping on concrete integers, done on the host with NumPy, as TensorFlow's
kernels do it on the CPU. The ops are not differentiable (TensorFlow registers them
`NotDifferentiable`), so no tape records them.

Every set is handled at once: each element becomes a (group id, value) pair, and one stable
lexicographic sort of all pairs turns union, intersection and difference into comparisons of
neighbours, with no Python loop over groups.
"""

from __future__ import annotations

import math

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops.creation_ops import convert_to_tensor

__all__ = [
    "difference",
    "intersection",
    "set_difference",
    "set_intersection",
    "set_size",
    "set_union",
    "size",
    "union",
]

# TensorFlow's set kernels take these (and strings, which dtf does not have).
_VALID_DTYPES = (dtypes.int8, dtypes.int16, dtypes.int32, dtypes.int64, dtypes.uint8,
                 dtypes.uint16)
_VALID_NAMES = ", ".join(d.name for d in _VALID_DTYPES)


# -- inputs ------------------------------------------------------------------------------------
def _is_sparse(x) -> bool:
    return getattr(x, "_is_sparse_tensor", False)


def _as_tensor_or_sparse(x):
    return x if _is_sparse(x) else convert_to_tensor(x)


def _check_dtype(x, op, what):
    if x.dtype not in _VALID_DTYPES:
        kind = "SparseTensor" if _is_sparse(x) else "tensor"
        raise TypeError(f"{op}: '{what}' has invalid dtype {x.dtype.name} (a {kind} of shape "
                        f"{x.shape}); set ops take integer dtypes: {_VALID_NAMES}. Cast the "
                        "values with dtf.cast (or dtf.sparse.map_values(dtf.cast, ...)).")


def _convert_pair(a, b, op):
    """Converts `a` and `b`; flips sparse,dense to dense,sparse, which is all kernels take."""
    a = _as_tensor_or_sparse(a)
    _check_dtype(a, op, "a")
    b = _as_tensor_or_sparse(b)
    if b.dtype != a.dtype:
        raise TypeError(f"{op}: Types don't match, {a.dtype.name} vs {b.dtype.name}: 'a' and "
                        "'b' must hold the same dtype; cast one of them with dtf.cast.")
    if _is_sparse(a) and not _is_sparse(b):
        return b, a, True
    return a, b, False


def _shape_text(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _first_bad_index(indices: np.ndarray, shape: tuple, kernel: str):
    """The error TensorFlow reports for the first out-of-bounds, out-of-order or repeated row."""
    bounds = np.asarray(shape, dtype=np.int64)
    for i in range(indices.shape[0]):
        row = ",".join(str(v) for v in indices[i])
        if np.any((indices[i] < 0) | (indices[i] >= bounds)):
            return InvalidArgumentError(f"indices[{i}] = [{row}] is out of bounds: need 0 <= "
                                        f"index < {_shape_text(shape)} [Op:{kernel}]")
        if i == 0:
            continue
        prev, cur = tuple(indices[i - 1]), tuple(indices[i])
        if cur < prev:
            return InvalidArgumentError(
                f"indices[{i}] = [{row}] is out of order. Many sparse ops require sorted "
                "indices. Use `dtf.sparse.reorder` to create a correctly ordered copy. "
                f"[Op:{kernel}]")
        if cur == prev:
            return InvalidArgumentError(f"indices[{i}] = [{row}] is repeated [Op:{kernel}]")
    return None


def _validate_indices(indices: np.ndarray, shape: tuple, kernel: str):
    """In bounds, in row-major order, no repeats: checked vectorised, explained on failure."""
    if indices.shape[0] == 0:
        return
    bad = bool(np.any((indices < 0) | (indices >= np.asarray(shape, dtype=np.int64))))
    if not bad and indices.shape[0] > 1:
        # Sorted without repeats: the first differing column of consecutive rows increases.
        diff = indices[1:] - indices[:-1]
        first_nonzero = np.argmax(diff != 0, axis=1)
        bad = bool(np.any(diff[np.arange(diff.shape[0]), first_nonzero] <= 0))
    if bad:
        raise _first_bad_index(indices, shape, kernel)


# -- (group id, value) pairs -------------------------------------------------------------------
def _unique_pairs(group_ids: np.ndarray, values: np.ndarray):
    """The distinct (group id, value) pairs, sorted by group id then value."""
    order = np.lexsort((values, group_ids))
    group_ids, values = group_ids[order], values[order]
    keep = np.ones(group_ids.shape[0], dtype=bool)
    keep[1:] = (group_ids[1:] != group_ids[:-1]) | (values[1:] != values[:-1])
    return group_ids[keep], values[keep]


def _dense_members(t, kernel: str):
    """(group shape, group ids, values) of a dense input: every entry is a member."""
    array = np.asarray(t.numpy())
    if array.ndim < 2:
        raise InvalidArgumentError(
            f"Shape {_shape_text(array.shape)} has rank {array.ndim} < 2 [Op:{kernel}]: set "
            "ops read sets along the last dimension, so inputs need rank >= 2; add a leading "
            "dimension (e.g. dtf.expand_dims(x, 0)).")
    group_shape = array.shape[:-1]
    group_ids = np.repeat(np.arange(math.prod(group_shape), dtype=np.int64), array.shape[-1])
    return (group_shape, *_unique_pairs(group_ids, array.reshape(-1)))


def _sparse_members(sp, validate: bool, kernel: str):
    """(group shape, group ids, values) of a SparseTensor: its stored values are the members."""
    shape = tuple(sp.shape.as_list())
    if len(shape) < 2:
        raise InvalidArgumentError(
            f"Invalid rank {len(shape)}. [Op:{kernel}]: set ops read sets along the last "
            "dimension, so a SparseTensor needs rank >= 2; give it a leading dimension of 1.")
    indices = np.asarray(sp.indices.numpy(), dtype=np.int64).reshape(-1, len(shape))
    values = np.asarray(sp.values.numpy())
    if validate:
        _validate_indices(indices, shape, kernel)
    group_shape = shape[:-1]
    if indices.shape[0] == 0:
        return group_shape, np.zeros(0, np.int64), values
    lead = indices[:, :-1]
    if np.any((lead < 0) | (lead >= np.asarray(group_shape, dtype=np.int64))):
        # Without validation TensorFlow's behaviour is undefined here; say what is wrong.
        raise _first_bad_index(indices, shape, kernel)
    group_ids = np.ravel_multi_index(tuple(lead.T), group_shape).astype(np.int64)
    return (group_shape, *_unique_pairs(group_ids, values))


def _members(x, validate: bool, kernel: str):
    if _is_sparse(x):
        return _sparse_members(x, validate, kernel)
    return _dense_members(x, kernel)


# -- the operation -----------------------------------------------------------------------------
def _in_other(ga, va, gb, vb) -> np.ndarray:
    """For each distinct pair of a (sorted), whether b holds it too."""
    g = np.concatenate([ga, gb])
    v = np.concatenate([va, vb])
    from_b = np.concatenate([np.zeros(ga.shape[0], bool), np.ones(gb.shape[0], bool)])
    order = np.lexsort((from_b, v, g))
    g, v, from_b = g[order], v[order], from_b[order]
    # Pairs are distinct within each side, so a pair of a is in b iff b's copy sorts next to it.
    same_as_next = np.zeros(g.shape[0], dtype=bool)
    same_as_next[:-1] = (g[1:] == g[:-1]) & (v[1:] == v[:-1])
    return same_as_next[~from_b]  # a's pairs, in their own (sorted) order


def _to_sparse(group_shape: tuple, group_ids: np.ndarray, values: np.ndarray, dtype):
    """Sorted (group id, value) pairs as a SparseTensor [*group_shape, largest set size]."""
    from dtf.sparse.sparse_tensor import SparseTensor

    n = group_ids.shape[0]
    rank = len(group_shape) + 1
    if n == 0:
        indices = np.zeros((0, rank), np.int64)
        largest = 0
    else:
        starts = np.flatnonzero(np.concatenate([[True], group_ids[1:] != group_ids[:-1]]))
        counts = np.diff(np.append(starts, n))
        position = np.arange(n, dtype=np.int64) - np.repeat(starts, counts)
        lead = np.stack(np.unravel_index(group_ids, group_shape), axis=1)
        indices = np.concatenate([lead, position[:, None]], axis=1).astype(np.int64)
        largest = int(counts.max())
    values = convert_to_tensor(np.ascontiguousarray(values, dtype=dtype.as_numpy_dtype))
    return SparseTensor(convert_to_tensor(indices), values,
                        convert_to_tensor(np.array([*group_shape, largest], np.int64)))


def _set_operation(a, b, operation: str, validate_indices: bool):
    if _is_sparse(a):  # _convert_pair flipped sparse,dense, so b is sparse too
        kernel = "SparseToSparseSetOperation"
    elif _is_sparse(b):
        kernel = "DenseToSparseSetOperation"
    else:
        kernel = "DenseToDenseSetOperation"
    # TensorFlow's DenseToSparse kernel checks the sparse side first; its errors come first.
    shape_b, gb, vb = _members(b, validate_indices, kernel)
    shape_a, ga, va = _members(a, validate_indices, kernel)
    if shape_a != shape_b:
        raise InvalidArgumentError(
            f"Mismatched shapes {_shape_text(shape_a)} vs {_shape_text(shape_b)} [Op:{kernel}]: "
            "all but the last dimension of 'a' and 'b' must match (a has shape "
            f"{list(a.shape)}, b has shape {list(b.shape)}).")
    if operation == "union":
        g, v = _unique_pairs(np.concatenate([ga, gb]), np.concatenate([va, vb]))
    elif operation == "intersection":
        keep = _in_other(ga, va, gb, vb)
        g, v = ga[keep], va[keep]
    elif operation == "a-b":
        keep = ~_in_other(ga, va, gb, vb)
        g, v = ga[keep], va[keep]
    else:  # "b-a"
        keep = ~_in_other(gb, vb, ga, va)
        g, v = gb[keep], vb[keep]
    return _to_sparse(shape_a, g, v, a.dtype)


# -- public API --------------------------------------------------------------------------------
def size(a, validate_indices=True):
    """The number of distinct values along the last dimension of a SparseTensor.

    Args:
        a: a SparseTensor of an integer dtype, of rank n >= 2, indices in row-major order.
        validate_indices: check that `a`'s indices are in bounds, sorted and not repeated.

    Returns:
        An int32 tensor of shape `a.shape[:-1]`: each entry counts the distinct values stored
        in that position's set.

    Raises:
        TypeError: `a` is not a SparseTensor, or its dtype is not an integer one.
        InvalidArgumentError: `a` has rank < 2, or (validating) invalid indices.

    Example:
        >>> sp = dtf.SparseTensor([[0, 0], [0, 1], [0, 2], [2, 0]], [1, 1, 4, 7], [3, 5])
        >>> dtf.sets.size(sp).numpy()
        array([2, 0, 1], dtype=int32)
    """
    if not _is_sparse(a):
        shown = f"a {a.dtype.name} tensor of shape {a.shape}" if hasattr(a, "dtype") else (
            f"a {type(a).__name__}")
        raise TypeError(f"sets.size: Expected `SparseTensor`, got {shown}. Make one with "
                        "dtf.sparse.from_dense(x) (which skips zeros) to count a dense "
                        "tensor's sets.")
    _check_dtype(a, "sets.size", "a")
    group_shape, group_ids, _ = _sparse_members(a, validate_indices, "SetSize")
    counts = np.bincount(group_ids, minlength=math.prod(group_shape))
    return convert_to_tensor(counts.astype(np.int32).reshape(group_shape))


def intersection(a, b, validate_indices=True):
    """The intersection of the sets along the last dimension of `a` and `b`.

    All but the last dimension of `a` and `b` must match; a dense input's set is every entry
    along its last dimension, a sparse one's its stored values.

    Args:
        a: a Tensor or SparseTensor of an integer dtype, rank >= 2.
        b: a Tensor or SparseTensor of the same dtype and leading dimensions.
        validate_indices: check that sparse inputs' indices are in bounds, sorted and unique.

    Returns:
        A SparseTensor of shape `[*a.shape[:-1], largest result set]`, each set's values sorted.

    Example:
        >>> a = dtf.constant([[1, 2, 2, 3], [4, 5, 6, 4]])
        >>> b = dtf.constant([[2, 3, 7], [9, 9, 9]])
        >>> r = dtf.sets.intersection(a, b)
        >>> r.values.numpy(), r.dense_shape.numpy()
        (array([2, 3], dtype=int32), array([2, 2]))
    """
    a, b, _ = _convert_pair(a, b, "sets.intersection")
    return _set_operation(a, b, "intersection", validate_indices)


def union(a, b, validate_indices=True):
    """The union of the sets along the last dimension of `a` and `b`.

    Args:
        a: a Tensor or SparseTensor of an integer dtype, rank >= 2.
        b: a Tensor or SparseTensor of the same dtype and leading dimensions.
        validate_indices: check that sparse inputs' indices are in bounds, sorted and unique.

    Returns:
        A SparseTensor of shape `[*a.shape[:-1], largest result set]`, each set's values sorted.

    Example:
        >>> r = dtf.sets.union(dtf.constant([[-1, 5, -7]]), dtf.constant([[0, -7]]))
        >>> dtf.sparse.to_dense(r).numpy()
        array([[-7, -1,  0,  5]], dtype=int32)
    """
    a, b, _ = _convert_pair(a, b, "sets.union")
    return _set_operation(a, b, "union", validate_indices)


def difference(a, b, aminusb=True, validate_indices=True):
    """The difference of the sets along the last dimension of `a` and `b`.

    Args:
        a: a Tensor or SparseTensor of an integer dtype, rank >= 2.
        b: a Tensor or SparseTensor of the same dtype and leading dimensions.
        aminusb: True for `a - b` (what is in `a` but not `b`), False for `b - a`.
        validate_indices: check that sparse inputs' indices are in bounds, sorted and unique.

    Returns:
        A SparseTensor of shape `[*a.shape[:-1], largest result set]`, each set's values sorted.

    Example:
        >>> a = dtf.constant([[1, 2, 2, 3], [4, 5, 6, 4]])
        >>> b = dtf.constant([[2, 3, 7], [9, 9, 9]])
        >>> dtf.sets.difference(a, b, aminusb=False).values.numpy()
        array([7, 9], dtype=int32)
    """
    a, b, flipped = _convert_pair(a, b, "sets.difference")
    if flipped:
        aminusb = not aminusb
    return _set_operation(a, b, "a-b" if aminusb else "b-a", validate_indices)


# TensorFlow 1's names, still exported by TensorFlow 2 under tf.compat.v1.sets.
set_size = size
set_intersection = intersection
set_union = union
set_difference = difference
