"""The index bookkeeping of dtf.sparse as graph primitives, for indices known only at run time.

Eagerly, dtf.sparse sorts, merges and checks concrete indices on the host with NumPy. Inside a
`dtf.function` the indices are symbolic, so that bookkeeping must be a node of the graph: these
primitives are those nodes. They act on int64 coordinates only, so none is differentiable (the
values reach the results through gather, scatter_nd and boolean_mask, which are); TensorFlow's
kernels for the same work (SparseReorder, SparseAdd's merge, SparseToDense's checks) run on the
CPU as well. Their implementations run on NumPy arrays (CuPy arrays go to the host and back).

- `row_major_order(indices)`: the stable permutation that sorts index rows lexicographically.
- `unique_rows(indices)`: the distinct rows in row-major order, each row's position among them
  and how many rows share it (a data-dependent number of rows).
- `validate_indices(indices, dense_shape, validate_order=)`: the indices unchanged, after
  SparseToDense's checks (in bounds; in order and not repeated when `validate_order`).
- `reshape(indices, input_shape, new_shape)`: SparseReshape's new indices and shape.
- `fill_empty_rows(indices, dense_shape)`: FillEmptyRows' indices, with where each entry's
  value comes from (N, one past the input's entries, for the added ones) and which rows were
  empty.
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops.registry import Spec, primitive, run

__all__ = ["fill_empty_rows", "reshape", "row_major_order", "unique_rows", "validate_indices"]


def _host(xp, a):
    return a if xp is np else xp.asnumpy(a)


def _device(xp, a):
    return a if xp is np else xp.asarray(a)


def _rows(indices_spec):
    return None if indices_spec.shape is None else indices_spec.shape[0]


def _cols(indices_spec):
    return None if indices_spec.shape is None else indices_spec.shape[1]


# -- row-major order ---------------------------------------------------------------------------
def lexsort_rows(indices: np.ndarray) -> np.ndarray:
    """The stable permutation that sorts the rows of an [N, rank] array lexicographically."""
    if indices.shape[1] == 0:
        return np.arange(indices.shape[0])
    return np.lexsort(indices.T[::-1])


@primitive("sparse_row_major_order",
           shape=lambda indices: Spec((_rows(indices),), dtypes.int64), differentiable=False)
def _row_major_order(xp, indices):
    return _device(xp, lexsort_rows(_host(xp, indices)).astype(np.int64))


def row_major_order(indices):
    """The int64 permutation [N] that sorts `indices` [N, rank] into row-major order."""
    return run(_row_major_order, (indices,))


# -- distinct rows -----------------------------------------------------------------------------
def unique_rows_host(indices: np.ndarray):
    """(distinct rows in row-major order, inverse [N], counts [M]) of an [N, rank] array."""
    n, rank = indices.shape
    if n == 0:
        return (np.zeros((0, rank), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    if rank == 0:  # every row is the empty coordinate
        return np.zeros((1, 0), np.int64), np.zeros(n, np.int64), np.array([n], np.int64)
    unique, inverse, counts = np.unique(indices, axis=0, return_inverse=True,
                                        return_counts=True)
    return (unique.astype(np.int64), inverse.reshape(-1).astype(np.int64),
            counts.astype(np.int64))


def _unique_rows_rule(indices):
    return (Spec((None, _cols(indices)), dtypes.int64), Spec((_rows(indices),), dtypes.int64),
            Spec((None,), dtypes.int64))


@primitive("sparse_unique_rows", shape=_unique_rows_rule, num_outputs=3, differentiable=False,
           data_dependent_shape=True)
def _unique_rows(xp, indices):
    return tuple(_device(xp, a) for a in unique_rows_host(_host(xp, indices)))


def unique_rows(indices):
    """(unique [M, rank], inverse [N], counts [M]) of the rows of `indices` [N, rank]: the
    distinct rows in row-major order, the position of each row among them, and how many rows
    each stands for."""
    return run(_unique_rows, (indices,))


# -- SparseToDense's checks --------------------------------------------------------------------
def check_indices(indices: np.ndarray, shape, validate_order: bool, kernel="SparseToDense"):
    """TensorFlow's checks of a SparseTensor's indices (in bounds always; sorted and without
    repeats when `validate_order`), vectorised, with its message for the first bad row."""
    if indices.shape[0] == 0:
        return
    bounds = np.asarray(shape, dtype=np.int64)
    bad = bool(np.any((indices < 0) | (indices >= bounds)))
    if validate_order and not bad and indices.shape[0] > 1:
        # Row-major order with no repeats: each row compares greater than the one before.
        diff = indices[1:] - indices[:-1]
        first_nonzero = np.argmax(diff != 0, axis=1)
        bad = bool(np.any(diff[np.arange(diff.shape[0]), first_nonzero] <= 0))
    if bad:
        _explain_bad_indices(indices, tuple(int(d) for d in bounds), validate_order, kernel)


def _explain_bad_indices(indices, shape, validate_order, kernel):
    bounds = np.asarray(shape, dtype=np.int64)
    out_of_bounds = np.any((indices < 0) | (indices >= bounds), axis=1)
    shape_text = ",".join(str(d) for d in shape)
    if not validate_order:
        if out_of_bounds.any():
            raise InvalidArgumentError(f"Indices are not valid (out of bounds).  Shape: "
                                       f"[{shape_text}] [Op:{kernel}]")
        return
    for i in range(indices.shape[0]):  # the first bad row, in TensorFlow's order of checks
        row = ",".join(str(v) for v in indices[i])
        if out_of_bounds[i]:
            raise InvalidArgumentError(f"indices[{i}] = [{row}] is out of bounds: need 0 <= "
                                       f"index < [{shape_text}] [Op:{kernel}]")
        if i == 0:
            continue
        prev, cur = tuple(indices[i - 1]), tuple(indices[i])
        if cur < prev:
            raise InvalidArgumentError(
                f"indices[{i}] = [{row}] is out of order. Many sparse ops require sorted "
                "indices. Use `dtf.sparse.reorder` to create a correctly ordered copy. "
                f"[Op:{kernel}]")
        if cur == prev:
            raise InvalidArgumentError(f"indices[{i}] = [{row}] is repeated [Op:{kernel}]")


@primitive("sparse_validate_indices", shape=lambda indices, dense_shape, validate_order: indices,
           differentiable=False)
def _validate_indices(xp, indices, dense_shape, validate_order):
    check_indices(_host(xp, indices), _host(xp, dense_shape), validate_order)
    return indices


def validate_indices(indices, dense_shape, validate_order=True):
    """`indices` itself once they pass SparseToDense's checks against `dense_shape` (a graph
    node, so a traced function checks every call's indices when it runs)."""
    return run(_validate_indices, (indices, dense_shape), validate_order=bool(validate_order))


# -- reshape -------------------------------------------------------------------------------------
def _shape_debug(dims) -> str:
    return "[" + ",".join(str(int(d)) for d in dims) + "]"


def reshape_host(indices: np.ndarray, input_shape: np.ndarray, new_shape: np.ndarray):
    """(new indices, output shape) of SparseReshape, with its checks and messages."""
    input_shape = np.asarray(input_shape, np.int64).reshape(-1)
    new_shape = np.asarray(new_shape, np.int64).reshape(-1)
    dense_size = int(np.prod(input_shape))
    unknown = [d for d, size in enumerate(new_shape) if size == -1]
    for d, size in enumerate(new_shape):
        if size < -1:
            raise InvalidArgumentError(f"size {d} must be non-negative, not {size} "
                                       "[Op:SparseReshape]")
    if len(unknown) > 1:
        raise InvalidArgumentError(f"only one output dimension may be -1, not both "
                                   f"{unknown[0]} and {unknown[1]} [Op:SparseReshape]")
    output_shape = np.where(new_shape == -1, 1, new_shape)
    product = int(np.prod(output_shape))
    if unknown:
        missing = dense_size // product if product > 0 else 0
        if product * missing != dense_size:
            raise InvalidArgumentError(
                f"Input to reshape is a SparseTensor with {dense_size} dense values, but the "
                f"requested shape requires a multiple of {product}. input_shape="
                f"{_shape_debug(input_shape)} output_shape={_shape_debug(output_shape)} "
                "[Op:SparseReshape]")
        output_shape[unknown[0]] = missing
    elif product != dense_size:
        raise InvalidArgumentError(
            f"Input to reshape is a tensor with {dense_size} dense values, but the requested "
            f"shape has {product}. input_shape={_shape_debug(input_shape)} output_shape="
            f"{_shape_debug(output_shape)} [Op:SparseReshape]")
    indices = np.asarray(indices, np.int64).reshape(-1, input_shape.size)
    out = np.zeros((indices.shape[0], output_shape.size), np.int64)
    if indices.shape[0] == 0 or dense_size == 0:
        return out, output_shape
    # Row-major linear positions, then their coordinates in the new shape (as the kernel).
    linear = indices @ _strides(input_shape)
    for j, stride in enumerate(_strides(output_shape)):
        out[:, j], linear = np.divmod(linear, stride)
    return out, output_shape


def _strides(shape: np.ndarray) -> np.ndarray:
    """Row-major strides of `shape` (the last dim's is 1)."""
    return np.concatenate([np.cumprod(shape[:0:-1])[::-1], [1]]).astype(np.int64) \
        if shape.size else np.zeros(0, np.int64)


def _reshape_rule(indices, input_shape, new_shape):
    rank = None if new_shape.shape is None else new_shape.shape[0]
    return Spec((_rows(indices), rank), dtypes.int64), Spec((rank,), dtypes.int64)


@primitive("sparse_reshape", shape=_reshape_rule, num_outputs=2, differentiable=False)
def _reshape(xp, indices, input_shape, new_shape):
    out, shape = reshape_host(_host(xp, indices), _host(xp, input_shape), _host(xp, new_shape))
    return _device(xp, out), _device(xp, shape)


def reshape(indices, input_shape, new_shape):
    """(indices [N, len(new_shape)], output shape) of the entries of a SparseTensor of
    `input_shape` reshaped to `new_shape` (one -1 allowed), in the same order."""
    return run(_reshape, (indices, input_shape, new_shape))


# -- fill_empty_rows -------------------------------------------------------------------------------
def fill_empty_rows_host(indices: np.ndarray, dense_shape: np.ndarray):
    """(output indices, positions, empty-row flags) of FillEmptyRows: every entry, plus one at
    [row, 0, ...] for each row without any, ordered by row (entries of a row keep their
    order); `positions` maps each output entry to its input entry, N (the number of input
    entries: the slot of the default value after them) for the added ones."""
    dense_shape = np.asarray(dense_shape, np.int64).reshape(-1)
    n_rows = int(dense_shape[0])
    indices = np.asarray(indices, np.int64).reshape(-1, dense_shape.size)
    rows = indices[:, 0]
    bad = np.flatnonzero((rows < 0) | (rows >= n_rows))
    if bad.size:
        i = int(bad[0])
        raise InvalidArgumentError(f"indices({i}, 0) is invalid: {int(rows[i])} >= {n_rows} "
                                   "(or negative): each entry's row must lie in "
                                   f"[0, dense_shape[0]) [Op:SparseFillEmptyRows]")
    empty = np.bincount(rows, minlength=n_rows)[:n_rows] == 0
    added = np.zeros((int(empty.sum()), dense_shape.size), np.int64)
    added[:, 0] = np.flatnonzero(empty)
    combined = np.concatenate([indices, added], axis=0)
    positions = np.concatenate([np.arange(indices.shape[0], dtype=np.int64),
                                np.full(added.shape[0], indices.shape[0], np.int64)])
    order = np.argsort(combined[:, 0], kind="stable")
    return combined[order], positions[order], empty


def _fill_empty_rows_rule(indices, dense_shape):
    return (Spec((None, _cols(indices)), dtypes.int64), Spec((None,), dtypes.int64),
            Spec((None,), dtypes.bool))


@primitive("sparse_fill_empty_rows", shape=_fill_empty_rows_rule, num_outputs=3,
           differentiable=False, data_dependent_shape=True)
def _fill_empty_rows(xp, indices, dense_shape):
    return tuple(_device(xp, a) for a in fill_empty_rows_host(_host(xp, indices),
                                                              _host(xp, dense_shape)))


def fill_empty_rows(indices, dense_shape):
    """(indices [M, rank], positions [M], empty_row_indicator [rows]) of FillEmptyRows (see
    `fill_empty_rows_host`)."""
    return run(_fill_empty_rows, (indices, dense_shape))
