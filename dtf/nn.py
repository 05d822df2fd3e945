"""`dtf.nn`: activations, softmax, losses, dropout, normalisation (re-exports)."""

from dtf.ops.array_ops import top_k  # noqa: F401
from dtf.ops.nn_ops import *
