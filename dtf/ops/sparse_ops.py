"""The sparse-times-dense matrix product, the one primitive that dtf.sparse needs.

`sparse_dense_matmul` multiplies a rank-2 sparse matrix, given as its COO `indices` [nnz, 2] and
`values` [nnz] with the dense shape as an attribute, by a dense matrix `b`. It is a primitive,
not a composite of gather and scatter, because the composite would build an [nnz, n] product
and a scatter-add node per call on the tape; here the forward pass sums rows in one segmented
reduction and the VJP is two dtf ops: the values' gradient is the row-wise dot product of the
gathered rows of `g` and of `b`, and `b`'s gradient is the same primitive with `adjoint_a`
flipped (A^H @ g). Every op in the VJP is differentiable, so second-order gradients work.

The public entry point with TensorFlow's argument checks is `dtf.sparse.sparse_dense_matmul`.
"""

from __future__ import annotations

import numpy as np

from dtf.ops.array_utils import _check_nd_range
from dtf.ops.registry import Spec, primitive, run

__all__ = ["sparse_dense_matmul_primitive"]


def _matmul_rule(indices, values, b, a_shape, adjoint_a, adjoint_b):
    rows = a_shape[1] if adjoint_a else a_shape[0]
    if b.shape is None:
        return Spec((rows, None), b.dtype)
    cols = b.shape[0] if adjoint_b else b.shape[1]
    return Spec((rows, cols), b.dtype)


def _segment_rows_sum(xp, rows, contributions, num_rows):
    """out[r] = sum of contributions[i] over i with rows[i] == r, as an [num_rows, n] array."""
    out = xp.zeros((num_rows,) + contributions.shape[1:], dtype=contributions.dtype)
    if rows.size == 0:
        return out
    if xp is not np:  # CuPy: an atomic scatter-add kernel
        import cupyx
        cupyx.scatter_add(out, rows, contributions)
        return out
    # NumPy: np.add.at is slow; sorted rows (row-major SparseTensors) sum as contiguous runs.
    if rows.size > 1 and bool(np.any(rows[1:] < rows[:-1])):
        order = np.argsort(rows, kind="stable")
        rows, contributions = rows[order], contributions[order]
    starts = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
    out[rows[starts]] = np.add.reduceat(contributions, starts, axis=0)
    return out


@primitive("sparse_dense_matmul", shape=_matmul_rule)
def sparse_dense_matmul_primitive(xp, indices, values, b, a_shape, adjoint_a, adjoint_b):
    _check_nd_range(xp, indices, a_shape, "sparse_dense_matmul", "SparseTensorDenseMatMul",
                    "the sparse matrix's", ("indices", indices), ("values", values))
    rows, cols = indices[:, 0], indices[:, 1]
    num_rows = a_shape[0]
    if adjoint_a:
        rows, cols, num_rows = cols, rows, a_shape[1]
        if xp.iscomplexobj(values):
            values = xp.conj(values)
    if adjoint_b:
        b = xp.conj(b.T) if xp.iscomplexobj(b) else b.T
    return _segment_rows_sum(xp, rows, values[:, None] * b[cols], num_rows)


def _adjoint(x):
    from dtf.ops.array_ops import transpose
    from dtf.ops.math_ops import conj

    x = transpose(x)
    return conj(x) if x.dtype.is_complex else x


@sparse_dense_matmul_primitive.def_vjp(takes_needed=True)
def _(g, out, indices, values, b, a_shape, adjoint_a, adjoint_b, needed=(False, True, True)):
    from dtf.ops.indexing_ops import gather
    from dtf.ops.math_ops import conj
    from dtf.ops.reduce_ops import reduce_sum

    d_values = d_b = None
    if needed[1]:
        # out = op(A) @ op(b): entry (r, c, v) of A adds v * op(b)[c] to out[r] (or, with
        # adjoint_a, conj(v) * op(b)[r] to out[c]).
        b_op = _adjoint(b) if adjoint_b else b
        out_rows, b_rows = (indices[:, 1], indices[:, 0]) if adjoint_a else \
            (indices[:, 0], indices[:, 1])
        b_gathered = gather(b_op, b_rows)
        if b_gathered.dtype.is_complex:
            b_gathered = conj(b_gathered)
        d_values = reduce_sum(gather(g, out_rows) * b_gathered, axis=1)
        if adjoint_a and d_values.dtype.is_complex:
            d_values = conj(d_values)
    if needed[2]:
        # d op(b) = op(A)^H @ g: the same product with adjoint_a flipped.
        d_b_op = run(sparse_dense_matmul_primitive, (indices, values, g), a_shape=a_shape,
                     adjoint_a=not adjoint_a, adjoint_b=False)
        d_b = _adjoint(d_b_op) if adjoint_b else d_b_op
    return None, d_values, d_b
