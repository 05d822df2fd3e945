"""`dtf.nn`: activations, softmax, losses, dropout, normalisation (re-exports)."""

from dtf.ops.nn_ops import *  # noqa: F401,F403
