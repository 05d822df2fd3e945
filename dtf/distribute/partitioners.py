"""Variable partitioners, as `tf.distribute.experimental.partitioners`.

A partitioner decides into how many shards a variable is split along one axis when
`ParameterServerStrategy(variable_partitioner=...)` spreads it over parameter servers. It is
called as `partitioner(shape, dtype, axis=0)` and returns a list with one partition count per
axis, e.g. `[3, 1]` for a `[10, 4]` variable cut into three row blocks.

The numbers are TensorFlow's (checked against TensorFlow 2.21 in
`tests/distribute/fixtures/partitioners_reference.json`). Where TensorFlow crashes with an
`IndexError` or `ZeroDivisionError` (a scalar shape, an axis out of range, a variable with no
elements for `MaxSizePartitioner`), dtf raises a `ValueError` naming the problem, or, for the
empty variable, answers one shard: there is nothing to split.

Example:
    >>> from dtf.distribute.partitioners import MinSizePartitioner
    >>> MinSizePartitioner(min_shard_bytes=4, max_shards=2)((6, 1), "float32")
    [2, 1]
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "FixedShardsPartitioner",
    "MaxSizePartitioner",
    "MinSizePartitioner",
    "Partitioner",
]


class Partitioner:
    """Base class of partitioners: subclasses implement `__call__(shape, dtype, axis=0)`.

    Example:
        >>> class TwoWay(Partitioner):
        ...     def __call__(self, shape, dtype, axis=0):
        ...         return [2 if i == axis else 1 for i in range(len(shape))]
        >>> TwoWay()((8, 3), "float32")
        [2, 1]
    """

    def __call__(self, shape, dtype, axis=0):
        """Partitions `shape`.

        Args:
            shape: the variable's shape: a `TensorShape`, tuple or list of ints.
            dtype: its dtype: a dtf `DType`, NumPy dtype or dtype name.
            axis: the axis to partition along (negative counts from the end).

        Returns:
            A list of ints, the number of partitions on each axis.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement __call__(shape, dtype, axis=0)."
        )


class FixedShardsPartitioner(Partitioner):
    """Splits a variable into a fixed number of shards (fewer if the axis is shorter).

    Args:
        num_shards: a positive int, the number of shards.

    Example:
        >>> FixedShardsPartitioner(num_shards=2)((10, 3), "float32")
        [2, 1]
    """

    def __init__(self, num_shards):
        self._num_shards = _positive_int(num_shards, "num_shards")

    def __call__(self, shape, dtype, axis=0):
        dims, axis = _dims_and_axis(shape, axis, type(self).__name__)
        result = [1] * len(dims)
        # TensorFlow answers 0 for an axis of length 0; kept for fidelity.
        result[axis] = min(self._num_shards, dims[axis])
        return result

    def __repr__(self):
        return f"FixedShardsPartitioner(num_shards={self._num_shards})"


class MinSizePartitioner(Partitioner):
    """Uses as many shards as possible while each holds at least `min_shard_bytes`.

    The number of shards is `ceil(total_bytes / min_shard_bytes)`, at most `max_shards` and at
    most the length of the axis, at least 1.

    Args:
        min_shard_bytes: minimum bytes of each shard (default 256 KiB).
        max_shards: upper bound on the number of shards (default 1).
        bytes_per_string: estimated bytes of one element of a string variable.

    Example:
        >>> MinSizePartitioner(min_shard_bytes=4, max_shards=10)((6, 1), "float32")
        [6, 1]
    """

    def __init__(self, min_shard_bytes=256 << 10, max_shards=1, bytes_per_string=16):
        self._min_shard_bytes = _positive_int(min_shard_bytes, "min_shard_bytes")
        self._max_shards = _positive_int(max_shards, "max_shards")
        self._bytes_per_string = _positive_int(bytes_per_string, "bytes_per_string")

    def __call__(self, shape, dtype, axis=0):
        dims, axis = _dims_and_axis(shape, axis, type(self).__name__)
        total_bytes = math.prod(dims) * _element_bytes(dtype, self._bytes_per_string)
        wanted = math.ceil(total_bytes / self._min_shard_bytes)
        result = [1] * len(dims)
        result[axis] = max(1, min(dims[axis], self._max_shards, wanted))
        return result

    def __repr__(self):
        return (f"MinSizePartitioner(min_shard_bytes={self._min_shard_bytes}, "
                f"max_shards={self._max_shards}, bytes_per_string={self._bytes_per_string})")


class MaxSizePartitioner(Partitioner):
    """Uses as few shards as possible while each holds at most `max_shard_bytes`.

    A shard holds whole slices along the axis, at least one; so a single slice bigger than
    `max_shard_bytes` still makes one shard. With `max_shards`, shards may end up bigger.

    Args:
        max_shard_bytes: the most bytes a shard should hold.
        max_shards: upper bound on the number of shards, or None for no bound.
        bytes_per_string: estimated bytes of one element of a string variable.

    Example:
        >>> MaxSizePartitioner(max_shard_bytes=4, max_shards=2)((6, 1), "float32")
        [2, 1]
    """

    def __init__(self, max_shard_bytes, max_shards=None, bytes_per_string=16):
        self._max_shard_bytes = _positive_int(max_shard_bytes, "max_shard_bytes")
        self._max_shards = None if max_shards is None else _positive_int(
            max_shards, "max_shards", hint=" Use max_shards=None for no bound."
        )
        self._bytes_per_string = _positive_int(bytes_per_string, "bytes_per_string")

    def __call__(self, shape, dtype, axis=0):
        dims, axis = _dims_and_axis(shape, axis, type(self).__name__)
        result = [1] * len(dims)
        num_elements = math.prod(dims)
        if num_elements == 0:
            return result  # nothing to split (TensorFlow divides by zero here)
        bytes_per_slice = num_elements / dims[axis] * _element_bytes(dtype, self._bytes_per_string)
        slices_per_shard = max(1, math.floor(self._max_shard_bytes / bytes_per_slice))
        shards = math.ceil(dims[axis] / slices_per_shard)
        if self._max_shards is not None:
            shards = min(self._max_shards, shards)
        result[axis] = shards
        return result

    def __repr__(self):
        return (f"MaxSizePartitioner(max_shard_bytes={self._max_shard_bytes}, "
                f"max_shards={self._max_shards}, bytes_per_string={self._bytes_per_string})")


def _positive_int(value, name, hint=""):
    # ValueError, not TypeError, for every bad argument: TensorFlow's (and the spec's) contract.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(  # noqa: TRY004
            f"Argument `{name}` must be a positive int. Received: {value!r}.{hint}"
        )
    if value < 1:
        raise ValueError(f"Argument `{name}` must be positive. Received: {value}.{hint}")
    return int(value)


def _dims_and_axis(shape, axis, who):
    """The shape as a list of ints and `axis` made non-negative, or a ValueError."""
    dims = getattr(shape, "dims", shape) if not isinstance(shape, (tuple, list)) else shape
    if dims is None:
        raise ValueError(f"{who} needs a shape of known rank; received {shape!r}.")
    try:
        dims = [None if d is None else int(getattr(d, "value", d)) for d in dims]
    except TypeError:
        raise ValueError(
            f"{who} needs a shape (a TensorShape, tuple or list of ints); received {shape!r}."
        ) from None
    if None in dims:
        raise ValueError(f"{who} needs a fully defined shape; received {dims} (None is unknown).")
    if not dims:
        raise ValueError(f"{who} cannot partition a scalar (shape ()): it has no axis to split.")
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise ValueError(f"{who}: `axis` must be an int; received {axis!r}.")  # noqa: TRY004
    if not -len(dims) <= axis < len(dims):
        raise ValueError(
            f"{who} cannot partition along axis {axis}: the shape {tuple(dims)} has "
            f"{len(dims)} axes (valid axes: {-len(dims)}..{len(dims) - 1})."
        )
    return dims, int(axis) % len(dims)


def _element_bytes(dtype, bytes_per_string):
    """Bytes of one element: the dtype's size, or `bytes_per_string` for strings."""
    np_dtype = getattr(dtype, "as_numpy_dtype", dtype)
    if getattr(dtype, "name", None) == "string" or np_dtype is str or np_dtype is bytes or (
        isinstance(np_dtype, str) and np_dtype == "string"
    ):
        return bytes_per_string
    try:
        np_dtype = np.dtype(np_dtype)
    except TypeError:
        raise ValueError(f"Cannot partition a variable of dtype {dtype!r}: not a dtype.") from None
    if np_dtype.kind in "OSU":
        return bytes_per_string
    return np_dtype.itemsize
