"""Matrix functions of `dtf.linalg`: matrix_transpose, adjoint, matvec, diag_part, trace, diag,
band_part, inv, det, slogdet, logdet, solve, triangular_solve, cholesky, eigh, eigvalsh.

Batched over leading dims; gradients are written in dtf ops (most through `einsum` and `matmul`
of `linalg_ops`), so they differentiate to any order.
"""

from __future__ import annotations

import numpy as np

from dtf.errors import InvalidArgumentError
from dtf.ops.linalg_ops import (
    _einsum_internal,
    _is_tensor_like,
    _matrix_equation,
    _t,
    _tensor,
    matmul,
)
from dtf.ops.registry import Spec, primitive, run


# -- matrix helpers: transpose, adjoint, matvec, diagonals, band_part -----------------------------
def _check_matrix(x, op, square=False):
    if x.ndim is not None and x.ndim < 2:
        raise InvalidArgumentError(f"{op}: input must be at least rank 2 (a matrix or a batch "
                                   f"of them), got shape {x.shape} ({x.dtype.name}). [Op:{op}]")
    if square and x.shape[-1] is not None and x.shape[-2] is not None \
            and x.shape[-1] != x.shape[-2]:
        raise InvalidArgumentError(f"{op}: Input matrix must be square, got shape {x.shape} "
                                   f"({x.dtype.name}). [Op:{op}]")


def _transpose_last(x, conjugate=False):
    from dtf.ops.math_ops import conj

    out = _einsum_internal(_matrix_equation(x.ndim, "ij", "ji"), x)
    return conj(out) if conjugate else out


def matrix_transpose(a, name="matrix_transpose", conjugate=False):
    """Transposes the last two dimensions of `a` (conjugating when `conjugate`).

    Example:
        >>> dtf.linalg.matrix_transpose(dtf.ones((2, 3, 4))).shape
        TensorShape([2, 4, 3])
    """
    a = _tensor(a)
    _check_matrix(a, "matrix_transpose")
    return _transpose_last(a, conjugate)


def adjoint(matrix, name=None):
    """The conjugate transpose of the last two dimensions."""
    return matrix_transpose(matrix, conjugate=True)


def matvec(a, b, transpose_a=False, adjoint_a=False, a_is_sparse=False, b_is_sparse=False,
           name=None):
    """Matrix-vector product `a @ b` over the last dims, batched and broadcast.

    Example:
        >>> dtf.linalg.matvec(dtf.ones((2, 3)), dtf.ones((3,)))
        <dtf.Tensor: shape=(2,), dtype=float32, numpy=array([3., 3.], dtype=float32)>
    """
    from dtf.ops.math_ops import binary_args

    a, b = binary_args("matvec", a, b)
    _check_matrix(a, "matvec")
    if b.ndim < 1:
        raise InvalidArgumentError(f"matvec: b must be at least a vector, got shape {b.shape}.")
    k = a.shape[-2] if (transpose_a or adjoint_a) else a.shape[-1]
    if k is not None and b.shape[-1] is not None and k != b.shape[-1]:
        raise InvalidArgumentError(
            f"matvec: Matrix size-incompatible: a has shape {a.shape} (transpose_a={transpose_a}"
            f", adjoint_a={adjoint_a}), b has shape {b.shape} ({a.dtype.name}). [Op:MatMul]")
    out = matmul(a, b[..., None], transpose_a=transpose_a, adjoint_a=adjoint_a)
    return out[..., 0]


def _diag_extent(shape, k):
    """(rows slice, cols slice, length) of the k-th diagonal of an M x N matrix."""
    m, n = shape[-2], shape[-1]
    if k >= 0:
        length = max(0, min(m, n - k))
        return slice(0, length), slice(k, k + length), length
    length = max(0, min(m + k, n))
    return slice(-k, -k + length), slice(0, length), length


def diag_part(input, name="diag_part", k=0, padding_value=0, align="RIGHT_LEFT"):
    """The k-th diagonal of each matrix in `input` (k > 0 above the main diagonal).

    Example:
        >>> dtf.linalg.diag_part(dtf.constant([[1., 2.], [3., 4.]]))
        <dtf.Tensor: shape=(2,), dtype=float32, numpy=array([1., 4.], dtype=float32)>
    """
    x = _tensor(input)
    _check_matrix(x, "diag_part")
    if _is_tensor_like(k):
        k = k.numpy().tolist()
    if not isinstance(k, (int, np.integer)):
        raise NotImplementedError(f"diag_part: only a single diagonal (an int k) is supported, "
                                  f"got k={k!r}; call it once per diagonal and dtf.stack them.")
    k = int(k)
    m, n = x.shape[-2], x.shape[-1]
    if m is None or n is None:
        return _diag_part_at_run_time(x, k)
    if not -m < k < max(n, 1) and not (m == 0 or n == 0):
        raise InvalidArgumentError(f"diag_part: diagonal index k={k} is out of bounds for "
                                   f"matrices of shape {x.shape}.")
    rows, cols, _length = _diag_extent((m, n), k)
    if (rows.start, rows.stop, cols.start, cols.stop) != (0, m, 0, n):
        x = x[..., rows, cols]
    return _einsum_internal(_matrix_equation(x.ndim, "ii", "i"), x)


def _diag_part_at_run_time(x, k):
    """diag_part of matrices whose size is known only when the graph runs: the square block
    the k-th diagonal crosses, cut with runtime bounds, then its main diagonal."""
    from dtf.ops.dynamic_shapes import dim_of
    from dtf.ops.math_ops import maximum, minimum

    x = x[..., :, k:] if k >= 0 else x[..., -k:, :]
    length = maximum(minimum(dim_of(x, -2), dim_of(x, -1)), 0)
    x = x[..., :length, :length]
    return _einsum_internal(_matrix_equation(x.ndim, "ii", "i"), x)


def trace(x, name=None):
    """The sum of the main diagonal of each matrix in `x`.

    Example:
        >>> dtf.linalg.trace(dtf.constant([[1., 2.], [3., 4.]]))
        <dtf.Tensor: shape=(), dtype=float32, numpy=5.0>
    """
    from dtf.ops.reduce_ops import reduce_sum

    x = _tensor(x)
    _check_matrix(x, "trace")
    if x.shape[-1] == x.shape[-2] and x.shape[-1] is not None:
        return _einsum_internal(_matrix_equation(x.ndim, "ii", ""), x)
    return reduce_sum(diag_part(x), axis=-1)


def diag(diagonal, name="diag", k=0, num_rows=-1, num_cols=-1, padding_value=0,
         align="RIGHT_LEFT"):
    """A (batch of) matrices with `diagonal` on their k-th diagonal and `padding_value`
    elsewhere.

    Example:
        >>> dtf.linalg.diag(dtf.constant([1., 2.]))
        <dtf.Tensor: shape=(2, 2), dtype=float32, numpy=
        array([[1., 0.],
               [0., 2.]], dtype=float32)>
    """
    from dtf.ops.creation_ops import constant

    v = _tensor(diagonal)
    if v.ndim < 1:
        raise InvalidArgumentError(f"diag: diagonal must be at least rank 1, got shape "
                                   f"{v.shape}.")
    if not isinstance(k, (int, np.integer)):
        raise NotImplementedError(f"diag: only a single diagonal (an int k) is supported, got "
                                  f"k={k!r}.")
    k = int(k)
    length = v.shape[-1]
    row0, col0 = max(-k, 0), max(k, 0)
    given_rows, given_cols = num_rows not in (None, -1), num_cols not in (None, -1)
    if length is None:
        return _diag_at_run_time(v, k, row0, col0, num_rows if given_rows else None,
                                 num_cols if given_cols else None, padding_value)
    if not given_rows and not given_cols:  # square, just large enough
        rows = cols = length + abs(k)
    else:  # a size not given is the smallest that holds the diagonal
        rows = int(num_rows) if given_rows else length + row0
        cols = int(num_cols) if given_cols else length + col0
    if row0 + length > rows or col0 + length > cols:
        raise InvalidArgumentError(f"diag: a diagonal of length {length} at k={k} does not fit "
                                   f"in a {rows}x{cols} matrix.")
    dt = v.dtype.as_numpy_dtype
    if k == 0 and rows == cols == length:
        from dtf.ops.creation_ops import eye
        out = _einsum_internal(_matrix_equation(v.ndim, "i", "ij", extra=",ij"), v,
                               eye(length, dtype=v.dtype))
    else:
        placement = np.zeros((length, rows, cols), dtype=dt)
        m = np.arange(length)
        placement[m, m + row0, m + col0] = 1
        out = _einsum_internal(_matrix_equation(v.ndim, "m", "ij", extra=",mij"), v,
                               constant(placement))
    if padding_value not in (0, None):
        mask = np.zeros((rows, cols), dtype=dt)
        m = np.arange(length)
        mask[m + row0, m + col0] = 1
        out = out + constant((1 - mask) * np.asarray(padding_value, dtype=dt))
    return out


def _diag_at_run_time(v, k, row0, col0, num_rows, num_cols, padding_value):
    """`diag` of a diagonal whose length is known only when the graph runs: the placement of
    each entry, out[..., m + row0, m + col0] = v[..., m], is built with dtf ops from the
    runtime sizes (the static path builds the same tensor in NumPy)."""
    from dtf.ops.array_ops import expand_dims
    from dtf.ops.creation_ops import cast, convert_to_tensor
    from dtf.ops.creation_ops import range as range_
    from dtf.ops.dynamic_shapes import dim_of
    from dtf.ops.math_ops import equal, logical_and
    from dtf.ops.reduce_ops import reduce_any

    length = dim_of(v, -1)
    if num_rows is None and num_cols is None:  # square, just large enough
        rows = cols = length + abs(k)
    else:  # a size not given is the smallest that holds the diagonal
        rows = length + row0 if num_rows is None else convert_to_tensor(int(num_rows))
        cols = length + col0 if num_cols is None else convert_to_tensor(int(num_cols))
    m = expand_dims(expand_dims(range_(length), -1), -1)
    at_row = equal(expand_dims(range_(rows), -1) - row0, m)
    at_col = equal(expand_dims(range_(cols), 0) - col0, m)
    placement = logical_and(at_row, at_col)  # (length, rows, cols)
    out = _einsum_internal(_matrix_equation(v.ndim, "m", "ij", extra=",mij"), v,
                           cast(placement, v.dtype))
    if padding_value not in (0, None):
        off = cast(reduce_any(placement, axis=0), v.dtype)
        out = out + (1 - off) * convert_to_tensor(padding_value, dtype=v.dtype)
    return out


def _band_rule(x, num_lower, num_upper):
    return Spec(x.shape, x.dtype)


def _band_mask(xp, m, n, num_lower, num_upper):
    offset = xp.arange(n)[None, :] - xp.arange(m)[:, None]  # col - row
    keep = xp.ones((m, n), dtype=bool)
    if num_lower >= 0:
        keep &= offset >= -num_lower
    if num_upper >= 0:
        keep &= offset <= num_upper
    return keep


@primitive("band_part", shape=_band_rule)
def _band_part(xp, x, num_lower, num_upper):
    keep = _band_mask(xp, x.shape[-2], x.shape[-1], num_lower, num_upper)
    return xp.where(keep, x, xp.zeros((), dtype=x.dtype))


@_band_part.def_vjp
def _(g, out, x, num_lower, num_upper):
    return (run(_band_part, (g,), num_lower=num_lower, num_upper=num_upper),)


def band_part(input, num_lower, num_upper, name=None):
    """Keeps `num_lower` sub-diagonals and `num_upper` super-diagonals of each matrix (negative:
    all of them) and zeros the rest; `band_part(x, -1, 0)` is the lower triangle.

    Example:
        >>> dtf.linalg.band_part(dtf.ones((3, 3)), 0, 0).numpy()  # the diagonal
        array([[1., 0., 0.],
               [0., 1., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    x = _tensor(input)
    _check_matrix(x, "band_part")
    lo, up = (int(v.numpy()) if _is_tensor_like(v) else int(v) for v in (num_lower, num_upper))
    return run(_band_part, (x,), num_lower=lo, num_upper=up)


# -- inverse, determinant, solve ------------------------------------------------------------------
def _square_rule(x, **attrs):
    return Spec(x.shape, x.dtype)


def _float_matrix(x, op, square=True):
    x = _tensor(x)
    if x.dtype._kind not in "fc":
        raise InvalidArgumentError(f"{op}: needs a floating-point or complex matrix, got "
                                   f"{x.dtype.name} (shape {x.shape}); use dtf.cast. [Op:{op}]")
    _check_matrix(x, op, square=square)
    return x


def _xp_linalg_errors(xp):
    errors = [np.linalg.LinAlgError]
    if xp is not np:
        err = getattr(getattr(xp, "linalg", None), "LinAlgError", None)
        if err is not None:
            errors.append(err)
    return tuple(errors)


@primitive("matrix_inverse", shape=_square_rule)
def _inv(xp, x):
    try:
        return xp.linalg.inv(x)
    except _xp_linalg_errors(xp):
        raise ValueError("Input is not invertible.") from None


@_inv.def_vjp
def _(g, out, x):
    # d(A^-1) = -A^-1 dA A^-1, so the gradient is -A^-H g A^-H.
    return (-matmul(out, matmul(g, out, adjoint_b=True), adjoint_a=True),)


def inv(input, adjoint=False, name=None):
    """The inverse of each square matrix in `input` (of its adjoint when `adjoint`).

    Example:
        >>> dtf.linalg.inv(dtf.constant([[2., 0.], [0., 4.]])).numpy()
        array([[0.5 , 0.  ],
               [0.  , 0.25]], dtype=float32)
    """
    x = _float_matrix(input, "inv")
    if adjoint:
        x = _transpose_last(x, conjugate=True)
    return run(_inv, (x,))


def _det_rule(x):
    return Spec(None if x.shape is None else x.shape[:-2], x.dtype)


@primitive("matrix_determinant", shape=_det_rule)
def _det(xp, x):
    return xp.linalg.det(x)


def _batch_scalar(t, x):
    """Reshapes per-matrix values `t` (shape batch) to broadcast against matrices `x`."""
    from dtf.ops.array_ops import expand_dims

    return expand_dims(expand_dims(t, -1), -1)


@_det.def_vjp
def _(g, out, x):
    from dtf.ops.math_ops import conj

    return (_batch_scalar(g * conj(out), x) * _transpose_last(inv(x), conjugate=True),)


def det(input, name=None):
    """The determinant of each square matrix in `input`.

    Example:
        >>> dtf.linalg.det(dtf.constant([[1., 2.], [3., 4.]]))
        <dtf.Tensor: shape=(), dtype=float32, numpy=-2.0>
    """
    x = _float_matrix(input, "det")
    return run(_det, (x,))


def _slogdet_rule(x):
    batch = None if x.shape is None else x.shape[:-2]
    return Spec(batch, x.dtype), Spec(batch, x.dtype.real_dtype)


@primitive("log_matrix_determinant", shape=_slogdet_rule, num_outputs=2)
def _slogdet(xp, x):
    sign, log_abs = xp.linalg.slogdet(x)
    return sign.astype(x.dtype, copy=False), log_abs.astype(x.real.dtype, copy=False)


@_slogdet.def_vjp
def _(gs, outs, x):
    # Only log|det| carries a gradient (as TensorFlow): d log|det A| = Re tr(A^-1 dA).
    from dtf.ops.creation_ops import cast

    g = gs[1]
    if x.dtype.is_complex:
        g = cast(g, x.dtype)
    return (_batch_scalar(g, x) * _transpose_last(inv(x), conjugate=True),)


def slogdet(input, name=None):
    """(sign, log|det|) of each square matrix: the determinant without overflow.

    Example:
        >>> sign, logabsdet = dtf.linalg.slogdet(dtf.constant([[-1., 0.], [0., 2.]]))
    """
    x = _float_matrix(input, "slogdet")
    return run(_slogdet, (x,))


def logdet(matrix, name=None):
    """log(det(matrix)) of Hermitian positive-definite matrices, through their Cholesky factor.

    Example:
        >>> dtf.linalg.logdet(dtf.constant([[1., 0.], [0., 2.]]))
        <dtf.Tensor: shape=(), dtype=float32, numpy=0.6931472>
    """
    from dtf.ops.math_ops import log, real
    from dtf.ops.reduce_ops import reduce_sum

    chol = cholesky(matrix)
    return 2.0 * reduce_sum(log(real(diag_part(chol))), axis=-1)


def _solve_rule(a, b, adjoint=False):
    if b.shape is None:
        return Spec(None, a.dtype)
    return Spec(b.shape, a.dtype)


@primitive("matrix_solve", shape=_solve_rule)
def _solve(xp, a, b, adjoint=False):
    if adjoint:
        a = xp.conj(_t(xp, a))
    try:
        return xp.linalg.solve(a, b)
    except _xp_linalg_errors(xp):
        raise ValueError("Input matrix is not invertible.") from None


@_solve.def_vjp
def _(g, out, a, b, adjoint=False):
    gb = run(_solve, (a, g), adjoint=not adjoint)
    if adjoint:
        ga = -matmul(out, gb, adjoint_b=True)
    else:
        ga = -matmul(gb, out, adjoint_b=True)
    return ga, gb


def solve(matrix, rhs, adjoint=False, name=None):
    """Solves `matrix @ x = rhs` (`adjoint(matrix) @ x = rhs` when `adjoint`) for x; `rhs` has
    shape [..., M, K] with the same batch dims as `matrix`.

    Example:
        >>> dtf.linalg.solve(dtf.constant([[2., 0.], [0., 4.]]), dtf.constant([[2.], [4.]])).numpy()
        array([[1.],
               [1.]], dtype=float32)
    """
    from dtf.ops.math_ops import binary_args

    a, b = binary_args("solve", matrix, rhs)
    a = _float_matrix(a, "solve")
    if b.ndim != a.ndim:
        raise InvalidArgumentError(
            f"solve: All input tensors must have the same rank: matrix {a.shape}, rhs {b.shape} "
            f"({a.dtype.name}). rhs needs shape [..., M, K]; for a vector use rhs[..., None]. "
            "[Op:MatrixSolve]")
    if tuple(a.shape[:-2]) != tuple(b.shape[:-2]) or a.shape[-1] != b.shape[-2]:
        raise InvalidArgumentError(
            f"solve: matrix {a.shape} and rhs {b.shape} do not match: rhs must be [..., M, K] "
            f"with the matrix's batch dims and M. [Op:MatrixSolve]")
    return run(_solve, (a, b), adjoint=bool(adjoint))


def triangular_solve(matrix, rhs, lower=True, adjoint=False, name=None):
    """Solves `matrix @ x = rhs` using only the lower (or upper) triangle of `matrix`."""
    a = _tensor(matrix)
    tri = band_part(a, -1, 0) if lower else band_part(a, 0, -1)
    return solve(tri, rhs, adjoint=adjoint)


@primitive("cholesky", shape=_square_rule)
def _cholesky(xp, x):
    try:
        return xp.linalg.cholesky(x)
    except _xp_linalg_errors(xp):
        raise ValueError("Cholesky decomposition was not successful. The input might not be "
                         "valid: it must be Hermitian positive-definite.") from None


@_cholesky.def_vjp
def _(g, out, x):
    # TensorFlow's formula (Murray 2016): symmetric, like the input the op assumes. The lower
    # triangle with the diagonal halved, through band_part (no matrix of the size n).
    l_inverse = inv(out)
    product = matmul(out, g, adjoint_a=True)
    middle = run(_band_part, (product,), num_lower=-1, num_upper=0) - \
        0.5 * run(_band_part, (product,), num_lower=0, num_upper=0)
    grad = matmul(matmul(l_inverse, middle, adjoint_a=True), l_inverse)
    return ((grad + _transpose_last(grad, conjugate=True)) * 0.5,)


def cholesky(input, name=None):
    """The lower-triangular Cholesky factor L (L @ L^H = input) of Hermitian positive-definite
    matrices; only the lower triangle of `input` is read.

    Example:
        >>> dtf.linalg.cholesky(dtf.constant([[4., 2.], [2., 2.]])).numpy()
        array([[2., 0.],
               [1., 1.]], dtype=float32)
    """
    x = _float_matrix(input, "cholesky")
    return run(_cholesky, (x,))


# -- eigh / eigvalsh ------------------------------------------------------------------------------
def _eigh_rule(x):
    if x.shape is None:
        return Spec(None, x.dtype.real_dtype), Spec(None, x.dtype)
    return Spec(x.shape[:-1], x.dtype.real_dtype), Spec(x.shape, x.dtype)


@primitive("self_adjoint_eig", shape=_eigh_rule, num_outputs=2)
def _eigh(xp, x):
    w, v = xp.linalg.eigh(x)  # reads the lower triangle, as TensorFlow
    return w, v


@_eigh.def_vjp
def _(gs, outs, x):
    # TensorFlow's formula: A = V diag(w) V^H gives
    # dA = V (diag(gw) + F o (V^H gV)) V^H with F_ij = 1 / (w_j - w_i) off the diagonal,
    # then the part the op reads (the lower triangle) is kept.
    from dtf.ops.creation_ops import cast

    gw, gv = gs
    w, v = outs
    dtype = x.dtype
    diff = w[..., None, :] - w[..., :, None]
    f = diff / (diff * diff + 1e-20)  # TensorFlow's safe reciprocal
    f = f - run(_band_part, (f,), num_lower=0, num_upper=0)  # off the diagonal only
    inner = diag(cast(gw, dtype)) + cast(f, dtype) * matmul(v, gv, adjoint_a=True)
    return (_lower_gradient(matmul(v, matmul(inner, v, adjoint_b=True))),)


def _lower_gradient(grad):
    """Folds a full-matrix gradient onto the lower triangle the op reads (the diagonal
    halved: it is counted in both `grad` and its transpose)."""
    both = grad + _transpose_last(grad, conjugate=True)
    return run(_band_part, (both,), num_lower=-1, num_upper=0) - \
        0.5 * run(_band_part, (both,), num_lower=0, num_upper=0)


@primitive("self_adjoint_eigvals", shape=lambda x: _eigh_rule(x)[0])
def _eigvalsh(xp, x):
    return xp.linalg.eigvalsh(x)


@_eigvalsh.def_vjp
def _(g, out, x):
    from dtf.ops.creation_ops import cast

    _, v = run(_eigh, (x,))
    inner = diag(cast(g, x.dtype))
    return (_lower_gradient(matmul(v, matmul(inner, v, adjoint_b=True))),)


def eigh(tensor, name=None):
    """Eigenvalues (ascending) and eigenvectors (columns) of self-adjoint matrices; only the
    lower triangle is read.

    Example:
        >>> w, v = dtf.linalg.eigh(dtf.constant([[2., 1.], [1., 2.]]))
    """
    x = _float_matrix(tensor, "eigh")
    return run(_eigh, (x,))


def eigvalsh(tensor, name=None):
    """Eigenvalues (ascending) of self-adjoint matrices; only the lower triangle is read."""
    x = _float_matrix(tensor, "eigvalsh")
    return run(_eigvalsh, (x,))
