"""`dtf.linalg`: linear algebra (re-exports), as `tf.linalg`."""

from dtf.ops.creation_ops import eye
from dtf.ops.linalg_ops import (
    adjoint,
    band_part,
    cholesky,
    cross,
    det,
    diag,
    diag_part,
    eigh,
    eigvalsh,
    einsum,
    global_norm,
    inv,
    logdet,
    matmul,
    matrix_transpose,
    matvec,
    norm,
    normalize,
    slogdet,
    solve,
    tensordot,
    trace,
    triangular_solve,
)

__all__ = [
    "adjoint", "band_part", "cholesky", "cross", "det", "diag", "diag_part", "eigh", "eigvalsh",
    "einsum", "eye", "global_norm", "inv", "logdet", "matmul", "matrix_transpose", "matvec",
    "norm", "normalize", "slogdet", "solve", "tensordot", "trace", "triangular_solve",
]


def __getattr__(name):
    # tf.linalg.l2_normalize is nn's op: resolved on first use so that this namespace does not
    # depend on the import order of dtf.ops.nn_ops.
    if name == "l2_normalize":
        from dtf.ops.nn_ops import l2_normalize
        return l2_normalize
    raise AttributeError(f"module 'dtf.linalg' has no attribute {name!r}")
