"""`dtf.math`: elementwise math, reductions and related ops (re-exports)."""

from dtf.ops.math_ops import *
from dtf.ops.nn_ops import (  # noqa: F401
    l2_normalize,
    log_softmax,
    sigmoid,
    softmax,
    softplus,
    softsign,
)
from dtf.ops.reduce_ops import *
from dtf.ops.sort_ops import top_k  # noqa: F401
