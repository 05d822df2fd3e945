"""`dtf.bitwise` namespace (re-exports)."""

from dtf.ops.bitwise_ops import *
