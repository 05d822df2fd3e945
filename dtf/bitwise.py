"""`dtf.bitwise` namespace (re-exports)."""

from dtf.ops.bitwise_ops import *  # noqa: F401,F403
