"""Sorting: sort, argsort, top_k (gradients through a gather of the sorting indices)."""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops.array_ops import _transpose
from dtf.ops.array_utils import TopKV2, _axis, _describe, _dims, _int_scalar, _tensor
from dtf.ops.indexing_ops import _gather, _gather_grad, gather_grad
from dtf.ops.registry import Spec, primitive, run

__all__ = [
    "argsort",
    "sort",
]

# -- sort, argsort, top_k -----------------------------------------------------------------------
def _argsort_array(xp, x, axis, descending):
    """Stable argsort; descending keeps equal elements in their original order (ties: lower
    index first, as TensorFlow's top_k)."""
    if not descending:
        return xp.argsort(x, axis=axis, kind="stable")
    n = x.shape[axis]
    flipped = xp.argsort(xp.flip(x, axis=axis), axis=axis, kind="stable")
    return (n - 1) - xp.flip(flipped, axis=axis)


def _argsort_rule(x, axis, descending):
    return Spec(x.shape, dtypes.int32)


@primitive("argsort", shape=_argsort_rule, differentiable=False)
def _argsort(xp, x, axis, descending):
    return _argsort_array(xp, x, axis, descending).astype(np.int32)


@primitive("sort", shape=lambda x, axis, descending: Spec(x.shape, x.dtype))
def _sort(xp, x, axis, descending):
    out = xp.sort(x, axis=axis)
    return xp.flip(out, axis=axis) if descending else out


@_sort.def_vjp
def _(g, out, x, axis, descending):
    # The gradient goes back to where each sorted element came from: scatter g by the sorting
    # permutation (gather's adjoint), recomputed here since the forward pass keeps no indices.
    idx = run(_argsort, (x,), axis=axis, descending=descending)
    last = x.ndim - 1
    if axis != last:
        perm = _move_last_perm(x.ndim, axis)
        g = run(_transpose, (g,), perm=perm)
        idx = run(_transpose, (idx,), perm=perm)
    dim = _dims(x)[axis]
    if dim is not None:
        gx = run(_gather_grad, (g, idx), axis=last, batch_dims=last, dim=dim)
    else:  # the sorted dim is read at run time, from x with that dim moved last
        moved = x if axis == last else run(_transpose, (x,), perm=perm)
        gx = gather_grad(g, idx, moved, last, last)
    if axis != last:
        gx = run(_transpose, (gx,), perm=tuple(int(i) for i in np.argsort(perm)))
    return (gx,)


def _move_last_perm(rank, axis):
    return tuple(i for i in range(rank) if i != axis) + (axis,)


def _direction(direction, op):
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"{op}: Argument `direction` should be one of ASCENDING, DESCENDING. "
                         f"Received: direction={direction}")
    return direction == "DESCENDING"


def _sortable(values, axis, op):
    x = _tensor(values)
    if x.dtype.is_complex:
        raise TypeError(f"{op}: complex values ({x.dtype.name}) have no order.")
    if x.ndim == 0:
        raise InvalidArgumentError(f"{op}: input must be at least rank 1, got a scalar "
                                   f"({_describe(x)}).")
    return x, _axis(axis, x.ndim, op)


def sort(values, axis=-1, direction="ASCENDING", name=None):
    """`values` sorted along `axis`.

    Example:
        >>> dtf.sort(dtf.constant([3, 1, 2]), direction="DESCENDING").numpy()
        array([3, 2, 1], dtype=int32)
    """
    descending = _direction(direction, "sort")
    x, axis = _sortable(values, axis, "sort")
    return run(_sort, (x,), axis=axis, descending=descending)


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """The int32 indices that sort `values` along `axis` (always stable in dtf).

    Example:
        >>> dtf.argsort(dtf.constant([3., 1., 2.])).numpy()
        array([1, 2, 0], dtype=int32)
    """
    descending = _direction(direction, "argsort")
    x, axis = _sortable(values, axis, "argsort")
    return run(_argsort, (x,), axis=axis, descending=descending)


def _top_k_rule(x, k, index_type):
    if x.shape is None:
        return Spec(None, index_type)
    return Spec(x.shape[:-1] + (k,), index_type)


@primitive("top_k_indices", shape=_top_k_rule, differentiable=False)
def _top_k_indices(xp, x, k, index_type):
    return _argsort_array(xp, x, -1, True)[..., :k].astype(index_type._np)


def top_k(input, k=1, sorted=True, index_type=dtypes.int32, name=None):
    """The `k` largest entries of the last dimension and their indices, as
    `TopKV2(values, indices)`; equal values come in index order.

    Example:
        >>> dtf.math.top_k(dtf.constant([1., 3., 2.]), k=2).indices.numpy()
        array([1, 2], dtype=int32)
    """
    x, _ = _sortable(input, -1, "top_k")
    k = _int_scalar(k, "top_k", "k")
    n = _dims(x)[-1]
    if k < 0:
        raise InvalidArgumentError(f"top_k: Need k >= 0, got {k}. [Op:TopKV2]")
    if n is not None and n < k:
        raise InvalidArgumentError(f"top_k: input must have at least k columns. Had {n}, needed "
                                   f"{k} ({_describe(x)}) [Op:TopKV2]")
    index_type = dtypes.as_dtype(index_type)
    indices = run(_top_k_indices, (x,), k=k, index_type=index_type)
    last = x.ndim - 1
    values = run(_gather, (x, indices), axis=last, batch_dims=last)
    return TopKV2(values=values, indices=indices)
