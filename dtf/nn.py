"""`dtf.nn`: activations, softmax, losses, dropout, normalisation (re-exports)."""

from dtf.ops.nn_ops import *  # noqa: F401,F403

from dtf.ops.array_ops import top_k  # noqa: F401,E402
