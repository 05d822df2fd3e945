"""Cases for dtf.sparse: the sparse_dense_matmul primitive (every adjoint combination, unsorted
and repeated indices, dense @ sparse) and the composites whose gradients reach the values."""

from __future__ import annotations

import numpy as np

import dtf
from dtf.sparse import SparseTensor
from dtf.testing.op_cases import OpCase, rand

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
]
