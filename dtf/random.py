"""`dtf.random`: random tensors with TensorFlow's seeding rules (re-exports)."""

from dtf.ops.random_ops import *
