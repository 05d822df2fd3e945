"""The set kernels of dtf.sets as host primitives: graph nodes whose work runs on NumPy.

TensorFlow's set kernels (DenseToDenseSetOperation, DenseToSparseSetOperation,
SparseToSparseSetOperation, SetSize) do integer bookkeeping on the CPU, and so do these: each
primitive takes the inputs' arrays (a dense tensor, or a SparseTensor's indices, values and
dense shape), computes on the host, and returns arrays. Being primitives, they run eagerly as
they did, and inside a `dtf.function` they are nodes of the graph, run on every call's data.
None is differentiable (TensorFlow registers the set ops `NotDifferentiable`).

Every set is handled at once: each element becomes a (group id, value) pair, and one stable
lexicographic sort of all pairs turns union, intersection and difference into comparisons of
neighbours, with no Python loop over groups.
"""

from __future__ import annotations

import math

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops.registry import Spec, primitive, run
from dtf.sparse.sparse_prims import check_indices

__all__ = ["set_operation", "set_size"]


def _host(xp, a):
    return a if xp is np else xp.asnumpy(a)


def _device(xp, a):
    return a if xp is np else xp.asarray(a)


def _shape_text(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _validate_indices(indices: np.ndarray, shape: tuple, kernel: str):
    """In bounds, in row-major order, no repeats (TensorFlow's checks and messages)."""
    check_indices(indices, shape, validate_order=True, kernel=kernel)


# -- (group id, value) pairs -------------------------------------------------------------------
def _unique_pairs(group_ids: np.ndarray, values: np.ndarray):
    """The distinct (group id, value) pairs, sorted by group id then value."""
    order = np.lexsort((values, group_ids))
    group_ids, values = group_ids[order], values[order]
    keep = np.ones(group_ids.shape[0], dtype=bool)
    keep[1:] = (group_ids[1:] != group_ids[:-1]) | (values[1:] != values[:-1])
    return group_ids[keep], values[keep]


def _dense_members(array: np.ndarray, kernel: str):
    """(group shape, group ids, values) of a dense input: every entry is a member."""
    if array.ndim < 2:
        raise InvalidArgumentError(
            f"Shape {_shape_text(array.shape)} has rank {array.ndim} < 2 [Op:{kernel}]: set "
            "ops read sets along the last dimension, so inputs need rank >= 2; add a leading "
            "dimension (e.g. dtf.expand_dims(x, 0)).")
    group_shape = array.shape[:-1]
    group_ids = np.repeat(np.arange(math.prod(group_shape), dtype=np.int64), array.shape[-1])
    return (group_shape, *_unique_pairs(group_ids, array.reshape(-1)))


def _sparse_members(indices, values, dense_shape, validate: bool, kernel: str):
    """(group shape, group ids, values) of a SparseTensor: its stored values are the members."""
    shape = tuple(int(d) for d in dense_shape)
    if len(shape) < 2:
        raise InvalidArgumentError(
            f"Invalid rank {len(shape)}. [Op:{kernel}]: set ops read sets along the last "
            "dimension, so a SparseTensor needs rank >= 2; give it a leading dimension of 1.")
    indices = np.asarray(indices, dtype=np.int64).reshape(-1, len(shape))
    if validate:
        _validate_indices(indices, shape, kernel)
    group_shape = shape[:-1]
    if indices.shape[0] == 0:
        return group_shape, np.zeros(0, np.int64), values
    lead = indices[:, :-1]
    if np.any((lead < 0) | (lead >= np.asarray(group_shape, dtype=np.int64))):
        # Without validation TensorFlow's behaviour is undefined here; say what is wrong.
        _validate_indices(indices, shape, kernel)
    group_ids = np.ravel_multi_index(tuple(lead.T), group_shape).astype(np.int64)
    return (group_shape, *_unique_pairs(group_ids, values))


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


def _to_sparse(group_shape: tuple, group_ids: np.ndarray, values: np.ndarray):
    """Sorted (group id, value) pairs as SparseTensor arrays [*group_shape, largest set]."""
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
    return indices, values, np.array([*group_shape, largest], np.int64)


# -- the primitives -----------------------------------------------------------------------------
def _kernel(a_sparse: bool, b_sparse: bool) -> str:
    if a_sparse:  # sparse,dense was flipped to dense,sparse, so b is sparse too
        return "SparseToSparseSetOperation"
    return "DenseToSparseSetOperation" if b_sparse else "DenseToDenseSetOperation"


def _split_inputs(arrays, a_sparse, b_sparse):
    """The arrays of `a` and `b`: one array for a dense input, three for a sparse one."""
    n_a = 3 if a_sparse else 1
    return arrays[:n_a], arrays[n_a:n_a + (3 if b_sparse else 1)]


def _rank_of(specs, sparse):
    if sparse:
        indices, _, dense_shape = specs
        if indices.shape is not None and indices.shape[1] is not None:
            return indices.shape[1]
        return None if dense_shape.shape is None else dense_shape.shape[0]
    return None if specs[0].shape is None else len(specs[0].shape)


def _set_operation_rule(*specs, a_sparse, b_sparse, operation, validate):
    a_specs, _ = _split_inputs(specs, a_sparse, b_sparse)
    rank = _rank_of(a_specs, a_sparse)
    dtype = a_specs[1].dtype if a_sparse else a_specs[0].dtype
    return Spec((None, rank), dtypes.int64), Spec((None,), dtype), Spec((rank,), dtypes.int64)


@primitive("set_operation", shape=_set_operation_rule, num_outputs=3, differentiable=False,
           data_dependent_shape=True)
def _set_operation(xp, *arrays, a_sparse, b_sparse, operation, validate):
    kernel = _kernel(a_sparse, b_sparse)
    a, b = _split_inputs([_host(xp, x) for x in arrays], a_sparse, b_sparse)

    def members(parts, sparse):
        return _sparse_members(*parts, validate, kernel) if sparse else _dense_members(
            parts[0], kernel)

    # TensorFlow's DenseToSparse kernel checks the sparse side first; its errors come first.
    shape_b, gb, vb = members(b, b_sparse)
    shape_a, ga, va = members(a, a_sparse)
    if shape_a != shape_b:
        def full(parts, sparse):
            return [int(d) for d in parts[2]] if sparse else list(parts[0].shape)

        raise InvalidArgumentError(
            f"Mismatched shapes {_shape_text(shape_a)} vs {_shape_text(shape_b)} [Op:{kernel}]: "
            "all but the last dimension of 'a' and 'b' must match (a has shape "
            f"{full(a, a_sparse)}, b has shape {full(b, b_sparse)}).")
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
    indices, values, dense_shape = _to_sparse(shape_a, g, v)
    dtype = a[1].dtype if a_sparse else a[0].dtype
    return (_device(xp, indices), _device(xp, np.ascontiguousarray(values, dtype)),
            _device(xp, dense_shape))


def set_operation(a_parts, b_parts, a_sparse, b_sparse, operation, validate):
    """(indices, values, dense_shape) of the set operation ("union", "intersection", "a-b",
    "b-a") of `a` and `b`, each given as [tensor] (dense) or [indices, values, dense_shape]."""
    return run(_set_operation, tuple(a_parts) + tuple(b_parts), a_sparse=bool(a_sparse),
               b_sparse=bool(b_sparse), operation=operation, validate=bool(validate))


def _set_size_rule(indices, values, dense_shape, validate):
    rank = _rank_of((indices, values, dense_shape), True)
    return Spec(None if rank is None else (None,) * (rank - 1), dtypes.int32)


@primitive("set_size", shape=_set_size_rule, differentiable=False, data_dependent_shape=True)
def _set_size(xp, indices, values, dense_shape, validate):
    group_shape, group_ids, _ = _sparse_members(_host(xp, indices), _host(xp, values),
                                                _host(xp, dense_shape), validate, "SetSize")
    counts = np.bincount(group_ids, minlength=math.prod(group_shape))
    return _device(xp, counts.astype(np.int32).reshape(group_shape))


def set_size(indices, values, dense_shape, validate):
    """The int32 number of distinct values of each set of a SparseTensor's components."""
    return run(_set_size, (indices, values, dense_shape), validate=bool(validate))
