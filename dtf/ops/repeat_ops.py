"""Ops that repeat, pad or reorder elements: tile, pad (and mirror-pad's adjoint), reverse,
meshgrid, repeat, roll. `dtf.ops.array_ops` re-exports them; they share its conventions
(normalised hashable attributes, VJPs in dtf ops, errors naming op, shapes and dtypes), and read
dims known only when a traced graph runs through `dtf.ops.dynamic_shapes`.
"""

from __future__ import annotations

import numpy as np

from dtf.errors import InvalidArgumentError
from dtf.ops import shape_rules as rules
from dtf.ops.array_ops import broadcast_to, ensure_shape, expand_dims, reshape
from dtf.ops.array_utils import _axis, _describe, _dims, _int_list, _tensor
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.dynamic_shapes import (
    dim_of,
    fully_known,
    runtime_shape,
    shape_arg,
    shape_of,
    static_dims,
    tile_grad,
)
from dtf.ops.registry import Spec, primitive, run
from dtf.tensor import Tensor

__all__ = ["meshgrid", "pad", "repeat", "reverse", "roll", "tile"]


# -- tile ---------------------------------------------------------------------------------------
# `multiples` may hold None for counts known only at run time: the runtime vector of all of them
# is then an extra input.
def _tile_rule(x, *runtime, multiples):
    if x.shape is None:
        return Spec((None,) * len(multiples), x.dtype)
    return Spec(tuple(None if d is None or m is None else d * m
                      for d, m in zip(x.shape, multiples)), x.dtype)


@primitive("tile", shape=_tile_rule)
def _tile(xp, x, *runtime, multiples):
    return xp.tile(x, runtime_shape(multiples, runtime))


@_tile.def_vjp
def _(g, out, x, *runtime, multiples):
    from dtf.ops.reduce_ops import reduce_sum

    dims = static_dims(x)
    if not fully_known(dims) or None in multiples:
        return (tile_grad(g, x, multiples),) + (None,) * len(runtime)
    split_dims = tuple(v for m, d in zip(multiples, dims) for v in (m, d))
    summed = reduce_sum(reshape(g, split_dims), axis=tuple(range(0, 2 * len(dims), 2)))
    return (summed,)


def tile(input, multiples, name=None):
    """Repeats `input` `multiples[i]` times along dimension i (in a traced function the counts
    may be symbolic: `[dtf.shape(y)[0], 1]`).

    Example:
        >>> dtf.tile(dtf.constant([[1, 2]]), [2, 3]).shape
        TensorShape([2, 6])
    """
    x = _tensor(input)
    runtime = None
    try:
        if getattr(multiples, "_is_symbolic", False):
            raise TypeError  # (iterating it would add nodes)
        multiples = _int_list(multiples, "tile", "multiples")
    except TypeError:  # scalar tensors among the counts, symbolic ones perhaps
        multiples, runtime = shape_arg(multiples, "tile")
        if multiples is None:
            raise InvalidArgumentError(f"tile: multiples must be a vector of known length "
                                       f"{x.ndim} ({_describe(x)}). [Op:Tile]") from None
    if x.ndim is not None and len(multiples) != x.ndim:
        raise InvalidArgumentError(
            f"tile: Expected multiples argument to be a vector of length {x.ndim} but got length "
            f"{len(multiples)} ({_describe(x)}) [Op:Tile]")
    if any(m is not None and m < 0 for m in multiples):
        raise InvalidArgumentError(f"tile: Expected multiples to be non-negative, got "
                                   f"{list(multiples)}. [Op:Tile]")
    if runtime is not None:
        return run(_tile, (x, runtime), multiples=multiples)
    return run(_tile, (x,), multiples=multiples)


# -- pad ----------------------------------------------------------------------------------------
def _pad_rule(x, paddings, mode, constant_values):
    if x.shape is None:
        return Spec((None,) * len(paddings), x.dtype)
    return Spec(tuple(None if d is None else d + lo + hi
                      for d, (lo, hi) in zip(x.shape, paddings)), x.dtype)


_NP_PAD_MODES = {"CONSTANT": "constant", "REFLECT": "reflect", "SYMMETRIC": "symmetric"}


@primitive("pad", shape=_pad_rule)
def _pad(xp, x, paddings, mode, constant_values):
    if mode == "CONSTANT":
        return xp.pad(x, paddings, mode="constant", constant_values=constant_values)
    return xp.pad(x, paddings, mode=_NP_PAD_MODES[mode])


@_pad.def_vjp
def _(g, out, x, paddings, mode, constant_values):
    if mode == "CONSTANT":
        key = tuple(("s", lo, -hi if hi else None, None) for lo, hi in paddings)
        from dtf.ops.indexing_ops import _strided_slice  # indexing builds on this module

        return (run(_strided_slice, (g,), key=key),)
    return (run(_mirror_pad_grad, (g,), paddings=paddings, mode=mode),)


def _mirror_pad_grad_rule(g, paddings, mode):
    if g.shape is None:
        return Spec((None,) * len(paddings), g.dtype)
    return Spec(tuple(None if d is None else d - lo - hi
                      for d, (lo, hi) in zip(g.shape, paddings)), g.dtype)


@primitive("mirror_pad_grad", shape=_mirror_pad_grad_rule)
def _mirror_pad_grad(xp, g, paddings, mode):
    # Folds the mirrored borders back onto the elements they copy: the adjoint of mirror-pad.
    off = 1 if mode == "REFLECT" else 0
    for axis, (lo, hi) in enumerate(paddings):
        if lo == 0 and hi == 0:
            continue
        g = xp.moveaxis(g, axis, 0)
        d = g.shape[0] - lo - hi
        r = g[lo:lo + d].copy()
        if lo:  # padded position j < lo copies element lo - j (REFLECT) or lo - 1 - j
            r[xp.arange(lo, 0, -1) - 1 + off] += g[:lo]
        if hi:  # padded position lo + d + k copies element d - 2 - k (REFLECT) or d - 1 - k
            r[d - 1 - off - xp.arange(hi)] += g[lo + d:]
        g = xp.moveaxis(r, 0, axis)
    return g


@_mirror_pad_grad.def_vjp
def _(gg, out, g, paddings, mode):
    return (run(_pad, (gg,), paddings=paddings, mode=mode, constant_values=0),)


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """Pads `tensor`: `paddings[i] = [before, after]` for dimension i.

    `mode` is "CONSTANT" (with `constant_values`), "REFLECT" (mirror without the edge; padding
    less than the dim) or "SYMMETRIC" (mirror with the edge; padding at most the dim).

    Example:
        >>> dtf.pad(dtf.constant([[1, 2]]), [[1, 1], [0, 2]]).numpy()
        array([[0, 0, 0, 0],
               [1, 2, 0, 0],
               [0, 0, 0, 0]], dtype=int32)
    """
    x = _tensor(tensor)
    dims = _dims(x)
    if isinstance(paddings, Tensor) or getattr(paddings, "_is_dtf_variable", False):
        paddings = np.asarray(paddings.numpy())
    try:
        pads = np.asarray(paddings)
        if pads.size == 0 and len(dims) == 0:
            pads = pads.reshape(0, 2)
        if pads.dtype.kind not in "iu" or pads.shape != (len(dims), 2):
            raise ValueError
    except (ValueError, TypeError):
        raise InvalidArgumentError(
            f"pad: paddings must be an int matrix of shape [{len(dims)}, 2] (one [before, after] "
            f"pair per dimension of the {_describe(x)}), got {paddings!r}. [Op:Pad]") from None
    pads = tuple((int(lo), int(hi)) for lo, hi in pads.tolist())
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        raise InvalidArgumentError(f"pad: paddings must be non-negative, got {list(pads)} "
                                   f"({_describe(x)}). [Op:Pad]")
    mode_name = str(mode).upper()
    if mode_name not in _NP_PAD_MODES:
        raise ValueError(f"pad: Value of argument `mode` expected to be one of \"CONSTANT\", "
                         f"\"REFLECT\", or \"SYMMETRIC\". Received `mode` = {mode}")
    if mode_name == "CONSTANT":
        cv = convert_to_tensor(constant_values, dtype=x.dtype)
        if cv.ndim != 0:
            raise InvalidArgumentError(f"pad: constant_values must be a scalar, got shape "
                                       f"{cv.shape}. [Op:PadV2]")
        cv = cv.numpy().item()
    else:
        cv = 0
        for i, ((lo, hi), d) in enumerate(zip(pads, dims)):
            if d is None:
                continue
            limit = d if mode_name == "SYMMETRIC" else d - 1
            if lo > limit or hi > limit:
                rel = "no greater than" if mode_name == "SYMMETRIC" else "less than"
                raise InvalidArgumentError(
                    f"pad: paddings must be {rel} the dimension size in {mode_name} mode: "
                    f"{lo}, {hi} for dimension {i} of size {d} ({_describe(x)}) [Op:MirrorPad]")
    return run(_pad, (x,), paddings=pads, mode=mode_name, constant_values=cv)


# -- reverse ------------------------------------------------------------------------------------
@primitive("reverse", shape=rules.same_shape)
def _reverse(xp, x, axes):
    return xp.flip(x, axis=axes)


@_reverse.def_vjp
def _(g, out, x, axes):
    return (run(_reverse, (g,), axes=axes),)


def reverse(tensor, axis, name=None):
    """Reverses `tensor` along each dimension in `axis` (a list of ints).

    Example:
        >>> dtf.reverse(dtf.constant([[1, 2], [3, 4]]), [1]).numpy()
        array([[2, 1],
               [4, 3]], dtype=int32)
    """
    x = _tensor(tensor)
    r = x.ndim
    axes = _int_list(axis, "reverse", "axis")
    for a in axes:
        if not -r <= a < r:
            raise InvalidArgumentError(f"reverse: 'axis' = {a} is out of valid range "
                                       f"[{-r}, {r}) for a {_describe(x)}. [Op:ReverseV2]")
    norm = tuple(a % r for a in axes)
    if len(set(norm)) != len(norm):
        raise InvalidArgumentError(f"reverse: axis {list(axes)} names a dimension more than "
                                   "once. [Op:ReverseV2]")
    if not norm:
        return x
    return run(_reverse, (x,), axes=tuple(sorted(norm)))


# -- meshgrid, repeat, roll (composites) ----------------------------------------------------
def meshgrid(*args, **kwargs):
    """Coordinate grids from 1-D tensors; `indexing="xy"` (default, Cartesian: the first two
    output dims swapped) or `"ij"` (matrix).

    Example:
        >>> [g.shape for g in dtf.meshgrid([1, 2, 3], [4, 5])]
        [TensorShape([2, 3]), TensorShape([2, 3])]
    """
    indexing = kwargs.pop("indexing", "xy")
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"meshgrid: unexpected keyword arguments {sorted(kwargs)}.")
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}.")
    vecs = [reshape(_tensor(a), (-1,)) for a in args]
    n = len(vecs)
    if n == 0:
        return []
    sizes = [static_dims(v)[0] for v in vecs]
    positions = list(range(n))
    if indexing == "xy" and n > 1:
        positions[0], positions[1] = 1, 0
    full = [0] * n
    for p, v in zip(positions, vecs):
        full[p] = dim_of(v, 0) if None in sizes else static_dims(v)[0]
    out = []
    for v, p in zip(vecs, positions):
        dims = [1] * n
        dims[p] = -1
        out.append(broadcast_to(reshape(v, dims), full))
    return out


def repeat(input, repeats, axis=None, name=None):
    """Repeats each element (or slice along `axis`) `repeats` times; without `axis` the input is
    flattened first.

    Example:
        >>> dtf.repeat(dtf.constant([1, 2]), [2, 3], axis=0).numpy()
        array([1, 1, 2, 2, 2], dtype=int32)
    """
    x = _tensor(input)
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    dims = _dims(x)
    axis = _axis(axis, len(dims), "repeat")
    reps = _int_list(repeats, "repeat", "repeats")
    n = dims[axis]
    if (n is not None and len(reps) not in (1, n)) or any(r < 0 for r in reps):
        raise InvalidArgumentError(f"repeat: repeats must be a non-negative int or a list of "
                                   f"{n} of them (dimension {axis} of {_describe(x)}), got "
                                   f"{list(reps)}.")
    from dtf.ops.indexing_ops import gather  # indexing builds on this module

    if n is None and len(reps) == 1:
        # One count for every slice, n known only at run time: tile each slice along a new
        # axis next to it, then merge the two.
        multiples = [1] * (len(dims) + 1)
        multiples[axis + 1] = reps[0]
        tiled = tile(expand_dims(x, axis + 1), multiples)
        if None in dims[:axis] + dims[axis + 1:]:
            from dtf.ops.math_ops import multiply

            factor = np.ones(len(dims), np.int32)
            factor[axis] = reps[0]
            return reshape(tiled, multiply(shape_of(x), factor))
        return reshape(tiled, dims[:axis] + (-1,) + dims[axis + 1:])
    if n is None:  # one count per slice: the dim must be len(reps) when the graph runs
        x = ensure_shape(x, dims[:axis] + (len(reps),) + dims[axis + 1:])
        n = len(reps)
    idx = np.repeat(np.arange(n, dtype=np.int64), reps if len(reps) == n else reps[0])
    return gather(x, idx, axis=axis)


def roll(input, shift, axis, name=None):
    """Rolls elements along `axis` by `shift` (elements leaving one end enter at the other).

    Example:
        >>> dtf.roll(dtf.constant([1, 2, 3, 4]), 1, 0).numpy()
        array([4, 1, 2, 3], dtype=int32)
    """
    from dtf.ops.indexing_ops import gather  # indexing builds on this module

    x = _tensor(input)
    shifts = _int_list(shift, "roll", "shift")
    axes = _int_list(axis, "roll", "axis")
    if len(shifts) != len(axes):
        raise InvalidArgumentError(f"roll: shift and axis must have the same size, got "
                                   f"{len(shifts)} and {len(axes)}. [Op:Roll]")
    dims = _dims(x)
    total = {}
    for s, a in zip(shifts, axes):
        a = _axis(a, len(dims), "roll")
        total[a] = total.get(a, 0) + s
    for a, s in sorted(total.items()):
        n = dims[a]
        if n is None:  # the dim is known only at run time: so are the indices
            from dtf.ops.creation_ops import range as range_
            from dtf.ops.math_ops import floormod

            size = dim_of(x, a)
            x = gather(x, floormod(range_(size) - s, size), axis=a)
        elif n and s % n:
            x = gather(x, (np.arange(n, dtype=np.int64) - s) % n, axis=a)
    return x
