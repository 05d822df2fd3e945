"""`dtf.math`: elementwise math, reductions and related ops (re-exports)."""

from dtf.ops.math_ops import *  # noqa: F401,F403
from dtf.ops.reduce_ops import *  # noqa: F401,F403
from dtf.ops.nn_ops import sigmoid  # noqa: F401
from dtf.ops.array_ops import top_k  # noqa: F401,E402
from dtf.ops.nn_ops import l2_normalize, log_softmax, softmax, softplus, softsign  # noqa: F401,E402
