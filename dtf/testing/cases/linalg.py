"""Cases for linear algebra: matmul, tensordot, einsum, norm and dtf.linalg's matrix functions."""

from __future__ import annotations

import numpy as np

import dtf
from dtf.testing.op_cases import OpCase, positive, rand


def _spd(n, seed=0):
    """A well-conditioned symmetric positive-definite matrix."""
    a = rand(n, n, seed=seed)
    return a @ a.T + n * np.eye(n)


def _symmetric(n, seed=0):
    """A symmetric matrix with well-separated eigenvalues (stable eigenvector gradients)."""
    q, _ = np.linalg.qr(rand(n, n, seed=seed))
    return (q * np.arange(1.0, n + 1.0)) @ q.T


def _diag_k(x, k):
    return np.diagonal(x, offset=k, axis1=-2, axis2=-1)


def _norm2(x):
    return np.linalg.norm(x, ord=2)


def _gram_chol(a):
    """cholesky of a A^T + n I: the input to the op is symmetric by construction (n read with
    dtf.shape, so the case also runs on inputs of unknown dims)."""
    n = dtf.shape(a)[-1]
    return dtf.linalg.cholesky(dtf.matmul(a, a, transpose_b=True) + dtf.cast(
        n, dtf.float64) * dtf.eye(n, dtype=dtf.float64))


_INT_A = np.array([[1, 2, 3], [4, 5, 6]], np.int32)
_INT_B = np.array([[1, 0], [2, 1], [0, 3]], np.int32)

CASES = [
    # matmul
    OpCase("matmul/basic", dtf.matmul, [rand(2, 3), rand(3, 4, seed=1)], np.matmul),
    OpCase("matmul/operator", lambda a, b: a @ b, [rand(3, 3), rand(3, 2, seed=1)], np.matmul),
    OpCase("matmul/transpose_a", lambda a, b: dtf.matmul(a, b, transpose_a=True),
           [rand(3, 2), rand(3, 4, seed=1)], lambda a, b: a.T @ b),
    OpCase("matmul/transpose_b", lambda a, b: dtf.matmul(a, b, transpose_b=True),
           [rand(2, 3), rand(4, 3, seed=1)], lambda a, b: a @ b.T),
    OpCase("matmul/transpose_both", lambda a, b: dtf.matmul(a, b, transpose_a=True,
                                                           transpose_b=True),
           [rand(3, 2), rand(4, 3, seed=1)], lambda a, b: a.T @ b.T),
    OpCase("matmul/adjoint_b", lambda a, b: dtf.matmul(a, b, adjoint_b=True),
           [rand(2, 3), rand(4, 3, seed=1)], lambda a, b: a @ b.T),
    OpCase("matmul/batched", dtf.matmul, [rand(2, 2, 3), rand(2, 3, 4, seed=1)], np.matmul),
    OpCase("matmul/batch_broadcast", dtf.matmul, [rand(2, 1, 2, 3), rand(4, 3, 2, seed=1)],
           np.matmul),
    OpCase("matmul/rank2_with_batch", dtf.matmul, [rand(3, 2, 3), rand(3, 2, seed=1)],
           np.matmul),
    OpCase("matmul/int32", dtf.matmul, [_INT_A, _INT_B], np.matmul, grad=False),
    OpCase("matmul/complex", lambda a, b: dtf.matmul(a, b, adjoint_a=True),
           [(rand(2, 2) + 1j * rand(2, 2, seed=1)), (rand(2, 2, seed=2) + 1j * rand(2, 2, seed=3))],
           lambda a, b: a.conj().T @ b, grad=False),
    # tensordot
    OpCase("tensordot/int_axes", lambda a, b: dtf.tensordot(a, b, axes=1),
           [rand(2, 3), rand(3, 4, seed=1)], lambda a, b: np.tensordot(a, b, axes=1)),
    OpCase("tensordot/two_axes", lambda a, b: dtf.tensordot(a, b, axes=2),
           [rand(2, 3, 4), rand(3, 4, 2, seed=1)], lambda a, b: np.tensordot(a, b, axes=2)),
    OpCase("tensordot/pair_unordered", lambda a, b: dtf.tensordot(a, b, axes=[[1, 2], [1, 0]]),
           [rand(2, 3, 4), rand(4, 3, 2, seed=1)],
           lambda a, b: np.tensordot(a, b, axes=([1, 2], [1, 0]))),
    OpCase("tensordot/pair_of_ints_negative", lambda a, b: dtf.tensordot(a, b, axes=[-1, 0]),
           [rand(2, 3), rand(3, 2, seed=1)], lambda a, b: np.tensordot(a, b, axes=([1], [0]))),
    OpCase("tensordot/outer", lambda a, b: dtf.tensordot(a, b, axes=0),
           [rand(2), rand(3, seed=1)], lambda a, b: np.multiply.outer(a, b)),
    OpCase("tensordot/dense_layer", lambda x, w: dtf.tensordot(x, w, [[2], [0]]),
           [rand(2, 3, 4), rand(4, 5, seed=1)], lambda x, w: x @ w),
    OpCase("tensordot/int32", lambda a, b: dtf.tensordot(a, b, axes=1), [_INT_A, _INT_B],
           lambda a, b: np.tensordot(a, b, axes=1).astype(np.int32), grad=False),
    # einsum
    OpCase("einsum/matmul", lambda a, b: dtf.einsum("ij,jk->ik", a, b),
           [rand(2, 3), rand(3, 4, seed=1)], lambda a, b: a @ b),
    OpCase("einsum/implicit_output", lambda a, b: dtf.einsum("ba,cb", a, b),
           [rand(2, 3), rand(4, 2, seed=1)], lambda a, b: np.einsum("ba,cb", a, b)),
    OpCase("einsum/batch_matmul", lambda a, b: dtf.einsum("bij,bjk->bik", a, b),
           [rand(2, 2, 3), rand(2, 3, 2, seed=1)], np.matmul),
    OpCase("einsum/ellipsis_broadcast", lambda a, b: dtf.einsum("...ij,...jk->...ik", a, b),
           [rand(2, 1, 2, 3), rand(3, 3, 2, seed=1)], np.matmul),
    OpCase("einsum/ellipsis_rank_differs", lambda a, b: dtf.einsum("...i,i->...", a, b),
           [rand(2, 3, 4), rand(4, seed=1)], lambda a, b: a @ b),
    OpCase("einsum/transpose", lambda a: dtf.einsum("ij->ji", a), [rand(2, 3)], np.transpose),
    OpCase("einsum/sum_all", lambda a: dtf.einsum("ij->", a), [rand(2, 3)], np.sum),
    OpCase("einsum/sum_one_axis_of_one_operand", lambda a, b: dtf.einsum("ij,j->j", a, b),
           [rand(2, 3), rand(3, seed=1)], lambda a, b: np.sum(a, axis=0) * b),
    OpCase("einsum/outer", lambda a, b: dtf.einsum("i,j->ij", a, b),
           [rand(2), rand(3, seed=1)], np.outer),
    OpCase("einsum/dot_same_tensor", lambda a: dtf.einsum("i,i->", a, a), [rand(4)],
           lambda a: np.dot(a, a)),
    OpCase("einsum/trace", lambda a: dtf.einsum("ii", a), [rand(3, 3)], np.trace),
    OpCase("einsum/diagonal", lambda a: dtf.einsum("ii->i", a), [rand(3, 3)], np.diag),
    OpCase("einsum/diagonal_times_vector", lambda a, b: dtf.einsum("ii,i->i", a, b),
           [rand(3, 3), rand(3, seed=1)], lambda a, b: np.diag(a) * b),
    OpCase("einsum/batched_diagonal", lambda a: dtf.einsum("...jj->...j", a),
           [rand(2, 3, 3)], lambda a: np.einsum("...jj->...j", a)),
    OpCase("einsum/repeated_and_kept", lambda a: dtf.einsum("iij->j", a), [rand(3, 3, 2)],
           lambda a: np.einsum("iij->j", a)),
    OpCase("einsum/two_diagonals", lambda a: dtf.einsum("iijj->ij", a), [rand(2, 2, 3, 3)],
           lambda a: np.einsum("iijj->ij", a)),
    OpCase("einsum/ellipsis_size_one_broadcast", lambda a, b: dtf.einsum("...i,...i->...", a, b),
           [rand(2, 1, 3), rand(4, 3, seed=1)], lambda a, b: np.einsum("...i,...i->...", a, b)),
    OpCase("einsum/scalar_operand", lambda s, a: dtf.einsum(",ij->ij", s, a),
           [np.array(0.7), rand(2, 3)], lambda s, a: s * a),
    OpCase("einsum/three_operands", lambda a, b, c: dtf.einsum("ij,jk,kl->il", a, b, c),
           [rand(2, 3), rand(3, 4, seed=1), rand(4, 2, seed=2)], lambda a, b, c: a @ b @ c),
    OpCase("einsum/spaces_and_upper", lambda a, b: dtf.einsum("I j, jK -> IK", a, b),
           [rand(2, 3), rand(3, 2, seed=1)], lambda a, b: a @ b),
    OpCase("einsum/int32", lambda a, b: dtf.einsum("ij,jk->ik", a, b), [_INT_A, _INT_B],
           lambda a, b: a @ b, grad=False),
    OpCase("einsum/large_uses_blas", lambda a, b: dtf.einsum("ij,jk->ik", a, b),
           [rand(40, 40), rand(40, 40, seed=1)], lambda a, b: a @ b, atol=1e-10, grad=False),
    # norm
    OpCase("norm/euclidean_all", dtf.norm, [rand(2, 3)], lambda x: np.sqrt(np.sum(x * x))),
    OpCase("norm/euclidean_axis", lambda x: dtf.norm(x, axis=1), [rand(2, 3)],
           lambda x: np.linalg.norm(x, axis=1)),
    OpCase("norm/euclidean_keepdims", lambda x: dtf.norm(x, axis=-1, keepdims=True),
           [rand(2, 3)], lambda x: np.linalg.norm(x, axis=-1, keepdims=True)),
    OpCase("norm/ord2_vector", lambda x: dtf.norm(x, ord=2, axis=0), [rand(3, 2)],
           lambda x: np.linalg.norm(x, axis=0)),
    OpCase("norm/ord1_vector", lambda x: dtf.norm(x, ord=1, axis=1), [rand(2, 3)],
           lambda x: np.linalg.norm(x, ord=1, axis=1)),
    OpCase("norm/inf_vector", lambda x: dtf.norm(x, ord=np.inf), [rand(2, 3)],
           lambda x: np.max(np.abs(x))),
    OpCase("norm/p3", lambda x: dtf.norm(x, ord=3, axis=1), [rand(2, 3)],
           lambda x: np.linalg.norm(x, ord=3, axis=1)),
    OpCase("norm/fro_matrix", lambda x: dtf.norm(x, ord="fro", axis=(0, 1)), [rand(2, 3)],
           lambda x: np.linalg.norm(x, "fro")),
    OpCase("norm/matrix_1", lambda x: dtf.norm(x, ord=1, axis=[-2, -1]), [rand(2, 3, 3)],
           lambda x: np.linalg.norm(x, ord=1, axis=(-2, -1))),
    OpCase("norm/matrix_inf_keepdims",
           lambda x: dtf.norm(x, ord=np.inf, axis=(1, 2), keepdims=True), [rand(2, 3, 3)],
           lambda x: np.linalg.norm(x, ord=np.inf, axis=(1, 2), keepdims=True)),
    OpCase("norm/matrix_2", lambda x: dtf.norm(x, ord=2, axis=[0, 1]), [rand(3, 2)], _norm2),
    OpCase("norm/matrix_2_batch_axes_first_keepdims",
           lambda x: dtf.norm(x, ord=2, axis=(0, 2), keepdims=True), [rand(3, 2, 4)],
           lambda x: np.linalg.norm(np.moveaxis(x, 1, 0), ord=2, axis=(1, 2))[None, :, None]),
    OpCase("norm/float32", dtf.norm, [np.array([3.0, 4.0], np.float32)],
           lambda x: np.array(5.0, np.float32), grad=False),
    # matvec, transposes, diagonals, band_part
    OpCase("matvec/basic", dtf.linalg.matvec, [rand(2, 3), rand(3, seed=1)], np.matmul),
    OpCase("matvec/batch_transpose", lambda a, b: dtf.linalg.matvec(a, b, transpose_a=True),
           [rand(4, 3, 2), rand(4, 3, seed=1)],
           lambda a, b: np.einsum("bji,bj->bi", a, b)),
    OpCase("matrix_transpose", dtf.linalg.matrix_transpose, [rand(2, 3, 4)],
           lambda x: np.swapaxes(x, -1, -2)),
    OpCase("adjoint/real", dtf.linalg.adjoint, [rand(3, 2)], np.transpose),
    OpCase("trace/square", dtf.linalg.trace, [rand(3, 3)], np.trace),
    OpCase("trace/batched_nonsquare", dtf.linalg.trace, [rand(2, 3, 4)],
           lambda x: np.trace(x, axis1=-2, axis2=-1)),
    OpCase("diag_part/square", dtf.linalg.diag_part, [rand(3, 3)], np.diag),
    OpCase("diag_part/k1", lambda x: dtf.linalg.diag_part(x, k=1), [rand(2, 3, 4)],
           lambda x: _diag_k(x, 1)),
    OpCase("diag_part/k_neg", lambda x: dtf.linalg.diag_part(x, k=-1), [rand(4, 3)],
           lambda x: _diag_k(x, -1)),
    OpCase("diag/vector", dtf.linalg.diag, [rand(3)], np.diag),
    OpCase("diag/batch", dtf.linalg.diag, [rand(2, 3)],
           lambda x: np.stack([np.diag(r) for r in x])),
    OpCase("diag/k1", lambda x: dtf.linalg.diag(x, k=1), [rand(2)], lambda x: np.diag(x, 1)),
    OpCase("diag/k_neg_num_cols_padding",
           lambda x: dtf.linalg.diag(x, k=-1, num_rows=3, num_cols=4, padding_value=9),
           [rand(2)], lambda x: np.where(np.eye(3, 4, -1) == 1, np.pad(
               np.diag(x, -1), ((0, 0), (0, 1))), 9.0)),
    OpCase("band_part/lower", lambda x: dtf.linalg.band_part(x, -1, 0), [rand(3, 4)],
           np.tril),
    OpCase("band_part/tridiagonal", lambda x: dtf.linalg.band_part(x, 1, 1), [rand(2, 4, 4)],
           lambda x: np.triu(np.tril(x, 1), -1)),
    # inverse, determinants, solves, factorizations
    OpCase("inv", dtf.linalg.inv, [_spd(3)], np.linalg.inv),
    OpCase("inv/adjoint_batched", lambda x: dtf.linalg.inv(x, adjoint=True),
           [np.stack([_spd(2, 1) + rand(2, 2, seed=5), _spd(2, 2)])],
           lambda x: np.linalg.inv(np.swapaxes(x, -1, -2))),
    OpCase("det", dtf.linalg.det, [rand(3, 3) + 2 * np.eye(3)], np.linalg.det),
    OpCase("det/batched", dtf.linalg.det, [rand(2, 2, 2) + np.eye(2)], np.linalg.det),
    OpCase("slogdet", dtf.linalg.slogdet, [rand(3, 3) - 2 * np.eye(3)],
           lambda x: tuple(np.linalg.slogdet(x))),
    OpCase("logdet/gram", lambda a: dtf.linalg.logdet(
        dtf.matmul(a, a, transpose_b=True) + 3 * dtf.eye(3, dtype=dtf.float64)), [rand(3, 3)],
        lambda a: np.linalg.slogdet(a @ a.T + 3 * np.eye(3))[1]),
    OpCase("solve", dtf.linalg.solve, [_spd(3), rand(3, 2, seed=1)], np.linalg.solve),
    OpCase("solve/adjoint_batched", lambda a, b: dtf.linalg.solve(a, b, adjoint=True),
           [rand(2, 3, 3) + 3 * np.eye(3), rand(2, 3, 1, seed=1)],
           lambda a, b: np.linalg.solve(np.swapaxes(a, -1, -2), b)),
    OpCase("triangular_solve/lower", dtf.linalg.triangular_solve,
           [rand(3, 3) + 3 * np.eye(3), rand(3, 2, seed=1)],
           lambda a, b: np.linalg.solve(np.tril(a), b)),
    OpCase("triangular_solve/upper", lambda a, b: dtf.linalg.triangular_solve(a, b, lower=False),
           [rand(3, 3) + 3 * np.eye(3), rand(3, 2, seed=1)],
           lambda a, b: np.linalg.solve(np.triu(a), b)),
    OpCase("cholesky", dtf.linalg.cholesky, [_spd(3)], np.linalg.cholesky, grad=False),
    OpCase("cholesky/gram", _gram_chol, [rand(3, 3)],
           lambda a: np.linalg.cholesky(a @ a.T + 3 * np.eye(3))),
    OpCase("eigh", lambda x: [dtf.linalg.eigh(x)[0], dtf.square(dtf.linalg.eigh(x)[1])],
           [_symmetric(3)],
           lambda x: [np.linalg.eigh(x)[0], np.square(np.linalg.eigh(x)[1])]),
    OpCase("eigvalsh", dtf.linalg.eigvalsh, [_symmetric(3, seed=2)], np.linalg.eigvalsh),
    # composites
    OpCase("cross", dtf.linalg.cross, [rand(2, 3), rand(2, 3, seed=1)], np.cross),
    OpCase("normalize", lambda x: dtf.linalg.normalize(x, axis=1), [rand(2, 3)],
           lambda x: (x / np.linalg.norm(x, axis=1, keepdims=True),
                      np.linalg.norm(x, axis=1, keepdims=True))),
    OpCase("global_norm", lambda a, b: dtf.linalg.global_norm([a, None, b]),
           [rand(2), positive(2, 2)],
           lambda a, b: np.sqrt(np.sum(a * a) + np.sum(b * b))),
]
