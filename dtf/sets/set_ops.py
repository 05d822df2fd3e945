"""Set operations along the last dimension of dense tensors and SparseTensors, as `tf.sets`.

Each input stands for an array of sets: every position of the leading dimensions (the "group")
holds the set of values found along the last dimension. Dense inputs contribute every entry of
the last dimension; sparse inputs contribute their stored values only. Results are SparseTensors
whose values are sorted within each group, exactly as TensorFlow's kernels lay them out.

The work is bookkeeping on integers, done on the host with NumPy as TensorFlow's kernels do
it on the CPU, in the primitives of `dtf.sets.set_prims`: eagerly they run at once, inside a
`dtf.function` they are graph nodes (so the inputs, dense or sparse, may be symbolic). The ops
are not differentiable (TensorFlow registers them `NotDifferentiable`), so no tape records them.
"""

from __future__ import annotations

from dtf import dtypes
from dtf.ops.creation_ops import convert_to_tensor
from dtf.sets import set_prims

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

# TensorFlow's set kernels take these (and strings, which dtf does not have).
_VALID_DTYPES = (dtypes.int8, dtypes.int16, dtypes.int32, dtypes.int64, dtypes.uint8,
                 dtypes.uint16)
_VALID_NAMES = ", ".join(d.name for d in _VALID_DTYPES)


# -- inputs ------------------------------------------------------------------------------------
def _is_sparse(x) -> bool:
    return getattr(x, "_is_sparse_tensor", False)


def _as_tensor_or_sparse(x):
    return x if _is_sparse(x) else convert_to_tensor(x)


def _check_dtype(x, op, what):
    if x.dtype not in _VALID_DTYPES:
        kind = "SparseTensor" if _is_sparse(x) else "tensor"
        raise TypeError(f"{op}: '{what}' has invalid dtype {x.dtype.name} (a {kind} of shape "
                        f"{x.shape}); set ops take integer dtypes: {_VALID_NAMES}. Cast the "
                        "values with dtf.cast (or dtf.sparse.map_values(dtf.cast, ...)).")


def _convert_pair(a, b, op):
    """Converts `a` and `b`; flips sparse,dense to dense,sparse, which is all kernels take."""
    a = _as_tensor_or_sparse(a)
    _check_dtype(a, op, "a")
    b = _as_tensor_or_sparse(b)
    if b.dtype != a.dtype:
        raise TypeError(f"{op}: Types don't match, {a.dtype.name} vs {b.dtype.name}: 'a' and "
                        "'b' must hold the same dtype; cast one of them with dtf.cast.")
    if _is_sparse(a) and not _is_sparse(b):
        return b, a, True
    return a, b, False


def _parts(x):
    """The tensors a set primitive takes for `x`: [indices, values, dense_shape] or [x]."""
    return x._dtf_components() if _is_sparse(x) else [x]


def _static_rank(x):
    return x.ndim if _is_sparse(x) else x.shape.rank


def _result(x, indices, values, dense_shape):
    """The SparseTensor of a set operation's outputs: its group dims are `x`'s, as far as they
    are known statically; the largest set's size is known once it runs."""
    from dtf.sparse.sparse_tensor import SparseTensor

    rank = _static_rank(x)
    static = None
    if rank is not None and rank >= 2:
        static = list(x.shape.as_list()[:-1]) + [None]
    return SparseTensor._with_static_shape(indices, values, dense_shape, static)


def _set_operation(a, b, operation: str, validate_indices: bool):
    outputs = set_prims.set_operation(_parts(a), _parts(b), _is_sparse(a), _is_sparse(b),
                                      operation, validate_indices)
    return _result(a, *outputs)


# -- public API --------------------------------------------------------------------------------
def size(a, validate_indices=True):
    """The number of distinct values along the last dimension of a SparseTensor.

    Args:
        a: a SparseTensor of an integer dtype, of rank n >= 2, indices in row-major order.
        validate_indices: check that `a`'s indices are in bounds, sorted and not repeated.

    Returns:
        An int32 tensor of shape `a.shape[:-1]`: each entry counts the distinct values stored
        in that position's set.

    Raises:
        TypeError: `a` is not a SparseTensor, or its dtype is not an integer one.
        InvalidArgumentError: `a` has rank < 2, or (validating) invalid indices.

    Example:
        >>> sp = dtf.SparseTensor([[0, 0], [0, 1], [0, 2], [2, 0]], [1, 1, 4, 7], [3, 5])
        >>> dtf.sets.size(sp).numpy()
        array([2, 0, 1], dtype=int32)
    """
    if not _is_sparse(a):
        shown = f"a {a.dtype.name} tensor of shape {a.shape}" if hasattr(a, "dtype") else (
            f"a {type(a).__name__}")
        raise TypeError(f"sets.size: Expected `SparseTensor`, got {shown}. Make one with "
                        "dtf.sparse.from_dense(x) (which skips zeros) to count a dense "
                        "tensor's sets.")
    _check_dtype(a, "sets.size", "a")
    counts = set_prims.set_size(*a._dtf_components(), validate_indices)
    if a.ndim >= 2 and a._shape_tuple[:-1] != tuple(counts.shape.as_list()):
        from dtf.ops.array_ops import ensure_shape  # what is known of the groups statically

        counts = ensure_shape(counts, list(a._shape_tuple[:-1]))
    return counts


def intersection(a, b, validate_indices=True):
    """The intersection of the sets along the last dimension of `a` and `b`.

    All but the last dimension of `a` and `b` must match; a dense input's set is every entry
    along its last dimension, a sparse one's its stored values.

    Args:
        a: a Tensor or SparseTensor of an integer dtype, rank >= 2.
        b: a Tensor or SparseTensor of the same dtype and leading dimensions.
        validate_indices: check that sparse inputs' indices are in bounds, sorted and unique.

    Returns:
        A SparseTensor of shape `[*a.shape[:-1], largest result set]`, each set's values sorted.

    Example:
        >>> a = dtf.constant([[1, 2, 2, 3], [4, 5, 6, 4]])
        >>> b = dtf.constant([[2, 3, 7], [9, 9, 9]])
        >>> r = dtf.sets.intersection(a, b)
        >>> r.values.numpy(), r.dense_shape.numpy()
        (array([2, 3], dtype=int32), array([2, 2]))
    """
    a, b, _ = _convert_pair(a, b, "sets.intersection")
    return _set_operation(a, b, "intersection", validate_indices)


def union(a, b, validate_indices=True):
    """The union of the sets along the last dimension of `a` and `b`.

    Args:
        a: a Tensor or SparseTensor of an integer dtype, rank >= 2.
        b: a Tensor or SparseTensor of the same dtype and leading dimensions.
        validate_indices: check that sparse inputs' indices are in bounds, sorted and unique.

    Returns:
        A SparseTensor of shape `[*a.shape[:-1], largest result set]`, each set's values sorted.

    Example:
        >>> r = dtf.sets.union(dtf.constant([[-1, 5, -7]]), dtf.constant([[0, -7]]))
        >>> dtf.sparse.to_dense(r).numpy()
        array([[-7, -1,  0,  5]], dtype=int32)
    """
    a, b, _ = _convert_pair(a, b, "sets.union")
    return _set_operation(a, b, "union", validate_indices)


def difference(a, b, aminusb=True, validate_indices=True):
    """The difference of the sets along the last dimension of `a` and `b`.

    Args:
        a: a Tensor or SparseTensor of an integer dtype, rank >= 2.
        b: a Tensor or SparseTensor of the same dtype and leading dimensions.
        aminusb: True for `a - b` (what is in `a` but not `b`), False for `b - a`.
        validate_indices: check that sparse inputs' indices are in bounds, sorted and unique.

    Returns:
        A SparseTensor of shape `[*a.shape[:-1], largest result set]`, each set's values sorted.

    Example:
        >>> a = dtf.constant([[1, 2, 2, 3], [4, 5, 6, 4]])
        >>> b = dtf.constant([[2, 3, 7], [9, 9, 9]])
        >>> dtf.sets.difference(a, b, aminusb=False).values.numpy()
        array([7, 9], dtype=int32)
    """
    a, b, flipped = _convert_pair(a, b, "sets.difference")
    if flipped:
        aminusb = not aminusb
    return _set_operation(a, b, "a-b" if aminusb else "b-a", validate_indices)


# TensorFlow 1's names, still exported by TensorFlow 2 under tf.compat.v1.sets.
set_size = size
set_intersection = intersection
set_union = union
set_difference = difference
