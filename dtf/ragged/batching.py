"""Batching elements into RaggedTensors: `ragged_batch_elements` batches a list of elements
eagerly; `ragged_batch(dataset, ...)` is `Dataset.ragged_batch` (the pipeline stage lives in
dtf/data/ragged_batching.py).
"""

from __future__ import annotations

import numpy as np

from dtf.errors import InvalidArgumentError
from dtf.ops import array_ops
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ragged.ragged_tensor import RaggedTensor

__all__ = ["ragged_batch", "ragged_batch_elements"]


def _flatten(structure):
    if isinstance(structure, dict):
        return [leaf for k in sorted(structure) for leaf in _flatten(structure[k])]
    if isinstance(structure, tuple):
        return [leaf for item in structure for leaf in _flatten(item)]
    return [structure]


def _pack(structure, leaves):
    if isinstance(structure, dict):
        packed = {k: _pack(structure[k], leaves) for k in sorted(structure)}
        return {k: packed[k] for k in structure}
    if isinstance(structure, tuple):
        items = [_pack(item, leaves) for item in structure]
        return type(structure)(*items) if hasattr(structure, "_fields") else tuple(items)
    return next(leaves)


def _batch_component(rows, spec_shape, index):
    rows = [convert_to_tensor(r) for r in rows]
    first = rows[0]
    ragged = spec_shape is None or not spec_shape.is_fully_defined()
    if first.shape.rank == 0 or not ragged:
        for r in rows[1:]:
            if r.shape.dims != first.shape.dims:
                raise InvalidArgumentError(
                    f"ragged_batch: component {index} has shapes {first.shape} and {r.shape} "
                    "in one batch, but its element_spec says the shape is fixed.")
        return array_ops.stack(rows)
    inner = first.shape.dims[1:]
    for r in rows[1:]:
        if r.shape.dims[1:] != inner:
            raise InvalidArgumentError(
                f"ragged_batch: component {index} has shapes {first.shape} and {r.shape} in one "
                "batch; only the first dim may vary (it becomes the ragged dim).")
    lengths = np.asarray([int(r.shape[0]) for r in rows], dtype=np.int64)
    return RaggedTensor.from_row_lengths(array_ops.concat(rows, 0), lengths, validate=False)


def ragged_batch_elements(elements, element_spec=None):
    """One batch from a list of dataset elements (structures of tensors).

    Args:
        elements: the elements, each a structure (tuples, namedtuples, dicts) of tensors.
        element_spec: the dataset's element_spec (a structure of TensorSpecs); components with
            a fully known shape are stacked, the others batched as RaggedTensors. Without it,
            every component of rank >= 1 becomes ragged.

    Example:
        >>> batch = dtf.ragged.ragged_batch_elements([dtf.range(1), dtf.range(3)])
        >>> batch
        <dtf.RaggedTensor [[0], [0, 1, 2]]>
    """
    if not elements:
        raise ValueError("ragged_batch_elements: needs at least one element.")
    structure = elements[0]
    flat = [_flatten(e) for e in elements]
    specs = _flatten(element_spec) if element_spec is not None else [None] * len(flat[0])
    columns = []
    for index, spec in enumerate(specs):
        shape = getattr(spec, "shape", None)
        columns.append(_batch_component([f[index] for f in flat], shape, index))
    return _pack(structure, iter(columns))


def ragged_batch(dataset, batch_size, drop_remainder=False, row_splits_dtype=None):
    """`dataset.ragged_batch(batch_size, drop_remainder, row_splits_dtype)`: a Dataset whose
    components with unknown dims are batched into RaggedTensors.

    Example:
        >>> ds = dtf.data.Dataset.range(4).map(lambda n: dtf.range(n))
        >>> [b.to_list() for b in dtf.ragged.ragged_batch(ds, 2)]
        [[[], [0]], [[0, 1], [0, 1, 2]]]
    """
    return dataset.ragged_batch(batch_size, drop_remainder, row_splits_dtype)
