"""dtf.sparse: SparseTensor and its ops, as `tf.sparse`.

Example:
    >>> sp = dtf.SparseTensor(indices=[[0, 0], [1, 2]], values=[1, 2], dense_shape=[3, 4])
    >>> dtf.sparse.reduce_sum(sp, axis=0).numpy()
    array([1, 0, 2, 0], dtype=int32)
"""

from dtf.sparse.sparse_layout import (
    expand_dims,
    fill_empty_rows,
    reshape,
    segment_mean,
    segment_sqrt_n,
    segment_sum,
    to_indicator,
)
from dtf.sparse.sparse_math import add, reduce_sum, sparse_dense_cwise_div, sparse_dense_cwise_mul
from dtf.sparse.sparse_matmul import matmul, sparse_dense_matmul
from dtf.sparse.sparse_ops import (
    concat,
    eye,
    from_dense,
    map_values,
    reorder,
    retain,
    slice,
    to_dense,
    transpose,
)
from dtf.sparse.sparse_tensor import SparseTensor
from dtf.sparse.sparse_tensor_spec import SparseTensorSpec

__all__ = [
    "SparseTensor",
    "SparseTensorSpec",
    "add",
    "concat",
    "expand_dims",
    "eye",
    "fill_empty_rows",
    "from_dense",
    "map_values",
    "matmul",
    "reduce_sum",
    "reorder",
    "reshape",
    "retain",
    "segment_mean",
    "segment_sqrt_n",
    "segment_sum",
    "slice",
    "sparse_dense_cwise_div",
    "sparse_dense_cwise_mul",
    "sparse_dense_matmul",
    "to_dense",
    "to_indicator",
    "transpose",
]
