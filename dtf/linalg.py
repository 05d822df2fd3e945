"""`dtf.linalg`: linear algebra (re-exports), as `tf.linalg`."""

from dtf.ops.creation_ops import eye
from dtf.ops.linalg_ops import cross, einsum, global_norm, matmul, norm, normalize, tensordot
from dtf.ops.matrix_ops import (
    adjoint,
    band_part,
    cholesky,
    det,
    diag,
    diag_part,
    eigh,
    eigvalsh,
    inv,
    logdet,
    matrix_transpose,
    matvec,
    slogdet,
    solve,
    trace,
    triangular_solve,
)
from dtf.ops.nn_ops import l2_normalize

__all__ = [
    "adjoint", "band_part", "cholesky", "cross", "det", "diag", "diag_part", "eigh", "eigvalsh",
    "einsum", "eye", "global_norm", "inv", "l2_normalize", "logdet", "matmul",
    "matrix_transpose", "matvec", "norm", "normalize", "slogdet", "solve", "tensordot", "trace",
    "triangular_solve",
]
