"""`dtf.linalg`: linear algebra (re-exports)."""

from dtf.ops.linalg_ops import *  # noqa: F401,F403
