"""Neural-network ops: activations, softmax, losses, dropout, normalisation helpers."""

from __future__ import annotations

from dtf.ops import shape_rules as rules
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.registry import primitive, run

__all__ = ["stop_gradient", "sigmoid", "tanh"]

from dtf.ops.math_ops import sigmoid, tanh  # noqa: E402


@primitive("stop_gradient", shape=rules.same_shape, differentiable=False)
def _stop_gradient(xp, x):
    return x


def stop_gradient(input, name=None):  # noqa: A002
    """The same value, with no gradient flowing back through it."""
    return run(_stop_gradient, (convert_to_tensor(input),))
