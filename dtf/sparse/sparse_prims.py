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
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops.registry import Spec, primitive, run

__all__ = ["row_major_order", "unique_rows", "validate_indices"]


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
