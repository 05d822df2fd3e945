"""`dtf.linalg`: linear algebra (re-exports), as `tf.linalg`."""

from dtf.ops.creation_ops import eye  # noqa: F401
from dtf.ops.linalg_ops import *  # noqa: F401,F403
from dtf.ops.linalg_ops import (  # noqa: F401
    LINALG_ONLY as _LINALG_ONLY,
    adjoint,
    band_part,
    cholesky,
    cross,
    det,
    diag,
    diag_part,
    eigh,
    eigvalsh,
    global_norm,
    inv,
    logdet,
    matrix_transpose,
    matvec,
    normalize,
    slogdet,
    solve,
    trace,
    triangular_solve,
)
from dtf.ops.linalg_ops import __all__ as _top_level

__all__ = ["eye"] + list(_top_level) + list(_LINALG_ONLY)
