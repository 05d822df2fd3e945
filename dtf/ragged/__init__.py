"""dtf.ragged: RaggedTensor and its ops, as `tf.ragged`.

Example:
    >>> rt = dtf.ragged.constant([[3, 1, 4], [], [1, 5]])
    >>> dtf.ragged.reduce_sum(rt, axis=1).numpy()
    array([8, 0, 6], dtype=int32)
"""

from dtf.ragged import ragged_operators as _ragged_operators
from dtf.ragged.batching import ragged_batch, ragged_batch_elements
from dtf.ragged.ragged_mask import boolean_mask
from dtf.ragged.ragged_ops import (
    concat,
    constant,
    map_flat_values,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_sum,
)
from dtf.ragged.ragged_tensor import RaggedTensor
from dtf.ragged.ragged_tensor_spec import RaggedTensorSpec

_ragged_operators.install()

__all__ = [
    "RaggedTensor",
    "RaggedTensorSpec",
    "boolean_mask",
    "concat",
    "constant",
    "map_flat_values",
    "ragged_batch",
    "ragged_batch_elements",
    "reduce_max",
    "reduce_mean",
    "reduce_min",
    "reduce_sum",
]
