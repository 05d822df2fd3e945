"""Reductions: sum, mean, max, min, prod, std, variance, logsumexp, any, all; argmax, argmin,
cumsum."""

from __future__ import annotations

from dtf.ops import shape_rules as rules
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.registry import primitive, run
from dtf.tensor import Tensor

__all__ = ["reduce_sum"]


def _axes(x, axis, op):
    """Normalises `axis` (int, list, tuple, Tensor or None) to a sorted tuple, or None for all."""
    if axis is None:
        return None
    if isinstance(axis, Tensor) or getattr(axis, "_is_dtf_variable", False):
        axis = axis.numpy().tolist()
    return rules.normalize_axes(axis, x.ndim, op)


@primitive("reduce_sum", shape=rules.reduce_rule)
def _reduce_sum(xp, x, axis=None, keepdims=False):
    out = xp.sum(x, axis=axis, keepdims=keepdims)
    return out.astype(x.dtype, copy=False) if out.dtype != x.dtype else out


@_reduce_sum.def_vjp
def _(g, out, x, axis=None, keepdims=False):
    from dtf.ops.array_ops import broadcast_to, reshape

    shape = tuple(x.shape)
    if not keepdims:
        kept = tuple(1 if (axis is None or i in axis) else d for i, d in enumerate(shape))
        g = reshape(g, kept)
    return (broadcast_to(g, shape),)


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    """Sum of elements across `axis` (all axes when None)."""
    x = input_tensor if type(input_tensor) is Tensor else convert_to_tensor(input_tensor)
    return run(_reduce_sum, (x,), axis=_axes(x, axis, "reduce_sum"), keepdims=bool(keepdims))
