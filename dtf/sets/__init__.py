"""dtf.sets: set operations along the last dimension, as `tf.sets`.

Example:
    >>> a = dtf.constant([[1, 2, 2, 3], [4, 5, 6, 4]])
    >>> b = dtf.SparseTensor([[0, 0], [1, 0]], [3, 4], [2, 2])
    >>> dtf.sparse.to_dense(dtf.sets.difference(a, b)).numpy()
    array([[1, 2],
           [5, 6]], dtype=int32)
"""

from dtf.sets.set_ops import (
    difference,
    intersection,
    set_difference,
    set_intersection,
    set_size,
    set_union,
    size,
    union,
)

__all__ = [
    "difference",
    "intersection",
    "set_difference",
    "set_intersection",
    "set_size",
    "set_union",
    "size",
    "union",
]
