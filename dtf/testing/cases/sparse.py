"""Cases for dtf.sparse: the sparse_dense_matmul primitive (every adjoint combination, unsorted
and repeated indices, dense @ sparse), the index primitives of `dtf.sparse.sparse_prims`, and the
composites whose gradients reach the values.

Cases that take the indices as an input run eagerly on the host path, and, in
tests/compile/test_symbolic_gradients.py, on symbolic indices (known and unknown dims): the graph
path that dtf.function traces, gradients included."""

from __future__ import annotations

import numpy as np

import dtf
import dtf.sets  # registers the set primitives before any case runs
from dtf.sparse import SparseTensor, sparse_prims
from dtf.testing.op_cases import OpCase, positive, rand

# A 3x4 matrix with an empty row, stored out of order and with a repeated coordinate (summed).
_IDX = np.array([[2, 1], [0, 3], [0, 0], [2, 1], [2, 3]], np.int64)
_SHAPE = (3, 4)


def _dense(indices, values, shape=_SHAPE):
    out = np.zeros(shape, values.dtype)
    np.add.at(out, tuple(indices.T), values)
    return out


def _matmul_case(name, adjoint_a, adjoint_b, b_shape):
    def fn(idx, values, b):
        sp = SparseTensor(idx, values, _SHAPE)
        return dtf.sparse.sparse_dense_matmul(sp, b, adjoint_a=adjoint_a, adjoint_b=adjoint_b)

    def reference(idx, values, b):
        a = _dense(idx, values)
        return (a.T if adjoint_a else a) @ (b.T if adjoint_b else b)

    return OpCase(f"sparse_dense_matmul/{name}", fn, [_IDX, rand(5, seed=3), rand(*b_shape)],
                  reference)


_SORTED = np.array([[0, 1], [1, 0], [1, 2], [2, 2]], np.int64)

CASES = [
    _matmul_case("basic", False, False, (4, 2)),
    _matmul_case("adjoint_a", True, False, (3, 2)),
    _matmul_case("adjoint_b", False, True, (2, 4)),
    _matmul_case("adjoint_both", True, True, (2, 3)),
    OpCase("sparse_dense_matmul/dense_times_sparse",
           lambda a, idx, values: dtf.sparse.sparse_dense_matmul(
               a, SparseTensor(idx, values, _SHAPE)),
           [rand(2, 3), _IDX, rand(5, seed=4)],
           lambda a, idx, values: a @ _dense(idx, values)),
    OpCase("sparse_dense_matmul/float32",
           lambda idx, values, b: dtf.sparse.sparse_dense_matmul(
               SparseTensor(idx, values, _SHAPE), b),
           [_IDX, rand(5, dtype=np.float32), rand(4, 3, dtype=np.float32)],
           lambda idx, values, b: _dense(idx, values) @ b, grad=False, atol=1e-5, rtol=1e-5),
    # dtf.sparse's composites read the indices on the host, so the cases hold them as
    # constants (not inputs, which the symbolic-gradient test turns into placeholders).
    OpCase("sparse/to_dense",
           lambda values: dtf.sparse.to_dense(SparseTensor(_SORTED, values, (3, 3))),
           [rand(4, seed=5)], lambda values: _dense(_SORTED, values, (3, 3))),
    OpCase("sparse/reduce_sum_axis",
           lambda values: dtf.sparse.reduce_sum(SparseTensor(_SORTED, values, (3, 3)), axis=1),
           [rand(4, seed=6)], lambda values: _dense(_SORTED, values, (3, 3)).sum(axis=1)),
    OpCase("sparse/cwise_mul_broadcast",
           lambda values, d: dtf.sparse.to_dense(SparseTensor(_SORTED, values, (3, 3)) * d),
           [rand(4, seed=7), rand(3, seed=8)],
           lambda values, d: _dense(_SORTED, values, (3, 3)) * d),
    OpCase("sparse/add_sparse_dense",
           lambda values, d: dtf.sparse.add(SparseTensor(_SORTED, values, (3, 3)), d),
           [rand(4, seed=9), rand(3, 3, seed=10)],
           lambda values, d: _dense(_SORTED, values, (3, 3)) + d),
    OpCase("sparse/add_sparse_sparse",
           lambda va, vb: dtf.sparse.to_dense(dtf.sparse.add(
               SparseTensor(_SORTED, va, (3, 3)), SparseTensor(_SORTED[1:], vb, (3, 3)))),
           [rand(4, seed=11), rand(3, seed=12)],
           lambda va, vb: _dense(_SORTED, va, (3, 3)) + _dense(_SORTED[1:], vb, (3, 3))),
    # from_dense reads the dense values to find the non-zeros: forward only here (its gradient
    # is checked in tests/sparse, eagerly).
    OpCase("sparse/from_dense_values",
           lambda x: dtf.sparse.from_dense(x).values,
           [np.array([[0.0, 1.5], [-2.0, 0.0], [0.25, 3.0]])],
           lambda x: x[x != 0], grad=False),
    # -- the index primitives, called directly ----------------------------------------------
    OpCase("sparse_prims/row_major_order",
           lambda idx: sparse_prims.row_major_order(idx),
           [_IDX], lambda idx: np.lexsort(idx.T[::-1]).astype(np.int64), grad=False),
    OpCase("sparse_prims/unique_rows",
           lambda idx: sparse_prims.unique_rows(idx),
           [_IDX], lambda idx: tuple(a.reshape(-1, *a.shape[1:]).astype(np.int64) for a in
                                     np.unique(idx, axis=0, return_inverse=True,
                                               return_counts=True)), grad=False),
    OpCase("sparse_prims/unique_rows_empty",
           lambda idx: sparse_prims.unique_rows(idx),
           [np.zeros((0, 2), np.int64)],
           lambda idx: (np.zeros((0, 2), np.int64), np.zeros(0, np.int64),
                        np.zeros(0, np.int64)), grad=False),
    OpCase("sparse_prims/validate_indices",
           lambda idx, shape: sparse_prims.validate_indices(idx, shape),
           [_SORTED, np.array([3, 3], np.int64)], lambda idx, shape: idx, grad=False),
    # -- composites over index inputs (symbolic indices in the symbolic-gradient tests) ---------
    OpCase("sparse/to_dense_indices_input",
           lambda idx, values: dtf.sparse.to_dense(SparseTensor(idx, values, (3, 3))),
           [_SORTED, rand(4, seed=13)], lambda idx, values: _dense(idx, values, (3, 3))),
    OpCase("sparse/reorder",
           lambda idx, values: dtf.sparse.reorder(SparseTensor(idx, values, (3, 3))).values,
           [_SORTED[::-1].copy(), rand(4, seed=14)], lambda idx, values: values[::-1]),
    OpCase("sparse/transpose",
           lambda idx, values: dtf.sparse.to_dense(
               dtf.sparse.transpose(SparseTensor(idx, values, (3, 3)))),
           [_SORTED, rand(4, seed=15)], lambda idx, values: _dense(idx, values, (3, 3)).T),
    OpCase("sparse/retain",
           lambda idx, values, keep: dtf.sparse.to_dense(
               dtf.sparse.retain(SparseTensor(idx, values, (3, 3)), keep)),
           [_SORTED, rand(4, seed=16), np.array([True, False, True, True])],
           lambda idx, values, keep: _dense(idx[keep], values[keep], (3, 3))),
    OpCase("sparse/slice",
           lambda idx, values: dtf.sparse.to_dense(
               dtf.sparse.slice(SparseTensor(idx, values, (3, 3)), [1, 0], [2, 2])),
           [_SORTED, rand(4, seed=17)],
           lambda idx, values: _dense(idx, values, (3, 3))[1:3, 0:2]),
    OpCase("sparse/concat_axis1",
           lambda ia, va, ib, vb: dtf.sparse.to_dense(dtf.sparse.concat(
               1, [SparseTensor(ia, va, (3, 3)), SparseTensor(ib, vb, (3, 3))])),
           [_SORTED, rand(4, seed=18), _SORTED[1:].copy(), rand(3, seed=19)],
           lambda ia, va, ib, vb: np.concatenate(
               [_dense(ia, va, (3, 3)), _dense(ib, vb, (3, 3))], axis=1)),
    OpCase("sparse/add_sparse_sparse_indices_input",
           lambda ia, va, ib, vb: dtf.sparse.to_dense(dtf.sparse.add(
               SparseTensor(ia, va, (3, 3)), SparseTensor(ib, vb, (3, 3)))),
           [_SORTED, rand(4, seed=20), _SORTED[1:].copy(), rand(3, seed=21)],
           lambda ia, va, ib, vb: _dense(ia, va, (3, 3)) + _dense(ib, vb, (3, 3))),
    OpCase("sparse/reduce_sum_sparse_output",
           lambda idx, values: dtf.sparse.reduce_sum(
               SparseTensor(idx, values, (3, 3)), axis=0, output_is_sparse=True).values,
           [_SORTED, rand(4, seed=22)],
           lambda idx, values: _dense(idx, values, (3, 3)).sum(axis=0)),
    OpCase("sparse/reduce_sum_keepdims",
           lambda idx, values: dtf.sparse.reduce_sum(
               SparseTensor(idx, values, (3, 3)), axis=1, keepdims=True),
           [_SORTED, rand(4, seed=23)],
           lambda idx, values: _dense(idx, values, (3, 3)).sum(axis=1, keepdims=True)),
    OpCase("sparse/cwise_mul_indices_input",
           lambda idx, values, d: (SparseTensor(idx, values, (3, 3)) * d).values,
           [_SORTED, rand(4, seed=24), rand(3, 1, seed=25)],
           lambda idx, values, d: values * d[idx[:, 0], 0]),
    OpCase("sparse/cwise_div_indices_input",
           lambda idx, values, d: (SparseTensor(idx, values, (3, 3)) / d).values,
           [_SORTED, rand(4, seed=26), positive(3, 3, seed=27)],
           lambda idx, values, d: values / d[idx[:, 0], idx[:, 1]]),
    # No zeros: central differences would move a zero off zero, which changes the indices.
    OpCase("sparse/from_dense_to_dense",
           lambda x: dtf.sparse.to_dense(dtf.sparse.from_dense(x)) * 2.0,
           [np.array([[0.5, 1.5], [-2.0, 0.75], [0.25, 3.0]])], lambda x: x * 2.0),
    # -- dtf.sets' host primitives (not differentiable: forward and shape rules) --------------
    OpCase("set_operation/dense_dense_union",
           lambda a, b: dtf.sets.union(a, b).values,
           [np.array([[1, 2, 2], [5, 4, 4]], np.int32), np.array([[3, 1], [9, 9]], np.int32)],
           lambda a, b: np.array([1, 2, 3, 4, 5, 9], np.int32), grad=False),
    OpCase("set_operation/dense_sparse_difference",
           lambda a, idx, values: dtf.sets.difference(
               a, SparseTensor(idx, values, (2, 3))).dense_shape,
           [np.array([[1, 2, 3], [4, 5, 6]], np.int64), _SORTED[:3].copy(),
            np.array([2, 9, 4], np.int64)],
           lambda a, idx, values: np.array([2, 2], np.int64), grad=False),
    OpCase("set_size/sparse",
           lambda idx, values: dtf.sets.size(SparseTensor(idx, values, (3, 3))),
           [_SORTED, np.array([1, 2, 2, 3], np.int32)],
           lambda idx, values: np.array([1, 1, 1], np.int32), grad=False),
    # -- reshape, fill_empty_rows, to_indicator, segment reductions ---------------------------
    OpCase("sparse_prims/reshape",
           lambda idx, shape, new: sparse_prims.reshape(idx, shape, new),
           [_SORTED, np.array([3, 3], np.int64), np.array([-1, 9], np.int64)],
           lambda idx, shape, new: (np.stack([np.zeros(4, np.int64), idx[:, 0] * 3 + idx[:, 1]],
                                             axis=1), np.array([1, 9], np.int64)), grad=False),
    OpCase("sparse_prims/fill_empty_rows",
           lambda idx, shape: sparse_prims.fill_empty_rows(idx, shape),
           [np.array([[2, 1], [0, 0]], np.int64), np.array([4, 2], np.int64)],
           lambda idx, shape: (np.array([[0, 0], [1, 0], [2, 1], [3, 0]], np.int64),
                               np.array([1, 2, 0, 2], np.int64),
                               np.array([False, True, False, True])), grad=False),
    OpCase("sparse/reshape_values",
           lambda idx, values: dtf.sparse.to_dense(dtf.sparse.reshape(
               SparseTensor(idx, values, (3, 3)), [9, 1])),
           [_SORTED, rand(4, seed=28)],
           lambda idx, values: _dense(idx, values, (3, 3)).reshape(9, 1)),
    OpCase("sparse/expand_dims",
           lambda idx, values: dtf.sparse.to_dense(dtf.sparse.expand_dims(
               SparseTensor(idx, values, (3, 3)), 1)),
           [_SORTED, rand(4, seed=29)],
           lambda idx, values: _dense(idx, values, (3, 3))[:, None, :]),
    OpCase("sparse/fill_empty_rows",
           lambda idx, values, default: dtf.sparse.to_dense(dtf.sparse.fill_empty_rows(
               SparseTensor(idx, values, (4, 3)), default)[0]),
           [_SORTED, rand(4, seed=30), np.array(0.5)],
           lambda idx, values, default: _dense(idx, values, (4, 3)) + np.array(
               [[0, 0, 0], [0, 0, 0], [0, 0, 0], [1, 0, 0]]) * default),
    OpCase("sparse/to_indicator",
           lambda idx, ids: dtf.sparse.to_indicator(SparseTensor(idx, ids, (3, 3)), 4),
           [_SORTED, np.array([3, 0, 3, 1], np.int64)],
           lambda idx, ids: np.array([[0, 0, 0, 1], [1, 0, 0, 1], [0, 1, 0, 0]], bool),
           grad=False),
    OpCase("sparse/segment_sqrt_n",
           lambda data, rows, ids: dtf.sparse.segment_sqrt_n(data, rows, ids),
           [rand(3, 2, seed=31), np.array([2, 0, 2], np.int64), np.array([0, 0, 2], np.int64)],
           lambda data, rows, ids: np.stack([(data[2] + data[0]) / np.sqrt(2), np.zeros(2),
                                             data[2]])),
]
