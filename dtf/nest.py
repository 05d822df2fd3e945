"""Nested structures (lists, tuples, namedtuples, dicts), as `tf.nest`.

Dicts are traversed in sorted key order, as TensorFlow does; anything else is a leaf.

Example:
    >>> dtf.nest.flatten({"b": [1, 2], "a": 3})
    [3, 1, 2]
"""

from __future__ import annotations

__all__ = ["flatten", "is_nested", "map_structure", "pack_sequence_as"]


def is_nested(x) -> bool:
    return isinstance(x, (list, tuple, dict))


def _children(x):
    if isinstance(x, dict):
        return [x[k] for k in _sorted_keys(x)]
    return list(x)


def _sorted_keys(d):
    try:
        return sorted(d)
    except TypeError:
        return list(d)


def flatten(structure) -> list:
    """The leaves of `structure`, depth first (a leaf alone gives `[leaf]`)."""
    if not is_nested(structure):
        return [structure]
    out = []
    stack = [structure]
    while stack:
        x = stack.pop()
        if is_nested(x):
            stack.extend(reversed(_children(x)))
        else:
            out.append(x)
    return out


def pack_sequence_as(structure, flat_sequence):
    """Builds `structure`'s shape again with the leaves taken in order from `flat_sequence`."""
    flat = list(flat_sequence)
    n_leaves = len(flatten(structure))
    if n_leaves != len(flat):
        raise ValueError(f"The structure has {n_leaves} leaves but {len(flat)} values were given.")
    it = iter(flat)
    return _pack(structure, it)


def _pack(structure, it):
    if not is_nested(structure):
        return next(it)
    if isinstance(structure, dict):
        packed = {k: _pack(structure[k], it) for k in _sorted_keys(structure)}
        return type(structure)((k, packed[k]) for k in structure)
    items = [_pack(c, it) for c in structure]
    if isinstance(structure, tuple) and hasattr(structure, "_fields"):
        return type(structure)(*items)
    return type(structure)(items)


def map_structure(fn, *structures):
    """Applies `fn` to the corresponding leaves of `structures`, keeping the first's shape."""
    flats = [flatten(s) for s in structures]
    if any(len(f) != len(flats[0]) for f in flats):
        raise ValueError("The structures passed to map_structure do not have the same size.")
    return pack_sequence_as(structures[0], [fn(*leaves) for leaves in zip(*flats)])
