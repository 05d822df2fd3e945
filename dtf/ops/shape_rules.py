"""Shape/dtype rules shared by many primitives.

A rule takes one `Spec` per input (shape: a tuple with None for unknown dims, or None for unknown
rank; dtype: a DType) plus the op's attributes, and returns the output Spec(s). Rules are what
symbolic tensors (Keras Inputs, traced functions) are computed with, so they must handle unknown
dims; tests check every rule against the eager result.
"""

from __future__ import annotations

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops.registry import Spec


def unknown_to_none(shape, dtype) -> Spec:
    return Spec(None if shape is None else tuple(shape), dtype)


def same_shape(x, **attrs) -> Spec:
    return Spec(x.shape, x.dtype)


def broadcast_dims(a, b, op="broadcast"):
    """Broadcasts two shapes with unknown dims (None): TensorFlow's static rule."""
    if a is None or b is None:
        return None
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + tuple(a)
    b = (1,) * (n - len(b)) + tuple(b)
    out = []
    for da, db in zip(a, b):
        if da == 1:
            out.append(db)
        elif db == 1:
            out.append(da)
        elif da is None or db is None:
            out.append(da if db is None else db)
        elif da == db:
            out.append(da)
        else:
            raise InvalidArgumentError(f"{op}: Incompatible shapes: {list(a)} vs. {list(b)}")
    return tuple(out)


def broadcast_rule(x, y, **attrs) -> Spec:
    return Spec(broadcast_dims(x.shape, y.shape), x.dtype)


def compare_rule(x, y, **attrs) -> Spec:
    return Spec(broadcast_dims(x.shape, y.shape), dtypes.bool)


def bool_same_shape(x, **attrs) -> Spec:
    return Spec(x.shape, dtypes.bool)


def normalize_axes(axis, rank, op):
    """Axis argument -> sorted tuple of non-negative axes (None means all)."""
    if axis is None:
        return tuple(range(rank))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -rank <= a < max(rank, 1):
            raise InvalidArgumentError(f"{op}: axis {a} is out of range for a tensor of rank "
                                       f"{rank} (valid: [{-rank}, {rank})).")
        out.append(a % rank if rank else 0)
    if len(set(out)) != len(out):
        raise InvalidArgumentError(f"{op}: axis {axes} has a repeated axis.")
    return tuple(sorted(out))


def reduce_shape(shape, axis, keepdims, op="reduce"):
    if shape is None:
        return None
    axes = normalize_axes(axis, len(shape), op)
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def reduce_rule(x, axis=None, keepdims=False, **attrs) -> Spec:
    return Spec(reduce_shape(x.shape, axis, keepdims), x.dtype)
