"""`dtf.nn`: activations, softmax, losses, dropout, normalisation (re-exports)."""

from dtf.ops.nn_ops import *
from dtf.ops.sort_ops import top_k  # noqa: F401
