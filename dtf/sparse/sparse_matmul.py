"""dtf.sparse.sparse_dense_matmul: a sparse matrix times a dense one (either side sparse)."""

from __future__ import annotations

from dtf.errors import InvalidArgumentError
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.sparse_ops import sparse_dense_matmul_primitive

__all__ = ["matmul", "sparse_dense_matmul"]


def _adjoint(x):
    from dtf.ops.array_ops import transpose
    from dtf.ops.math_ops import conj

    x = transpose(x)
    return conj(x) if x.dtype.is_complex else x


def _sparse_times_dense(sp, b, adjoint_a, adjoint_b):
    b = convert_to_tensor(b)
    if sp.ndim != 2 or b.shape.rank != 2:
        raise InvalidArgumentError(
            f"sparse_dense_matmul: both operands must be matrices, got a SparseTensor of shape "
            f"{list(sp._shape_tuple)} and a dense tensor of shape {b.shape.as_list()}. "
            "[Op:SparseTensorDenseMatMul]")
    if b.dtype != sp.dtype:
        raise InvalidArgumentError(
            f"sparse_dense_matmul: the SparseTensor's values are {sp.dtype.name} but the dense "
            f"operand is {b.dtype.name}; cast one of them. [Op:SparseTensorDenseMatMul]")
    inner_a = sp._shape_tuple[0] if adjoint_a else sp._shape_tuple[1]
    b_dims = b.shape.as_list()
    inner_b = b_dims[1] if adjoint_b else b_dims[0]
    if None not in (inner_a, inner_b) and inner_a != inner_b:
        a_text = ", ".join(str(d) for d in sp._shape_tuple)
        raise InvalidArgumentError(
            f"Cannot multiply A and B because inner dimension does not match: {inner_a} vs. "
            f"{inner_b}.  Did you forget a transpose?  Dimensions of A: [{a_text}).  "
            f"Dimensions of B: [{b_dims[0]},{b_dims[1]}] [Op:SparseTensorDenseMatMul]")
    if None in sp._shape_tuple:
        return _sparse_times_dense_unknown_shape(sp, b, adjoint_a, adjoint_b)
    return sparse_dense_matmul_primitive(sp.indices, sp.values, b, a_shape=sp._shape_tuple,
                                         adjoint_a=bool(adjoint_a), adjoint_b=bool(adjoint_b))


def _sparse_times_dense_unknown_shape(sp, b, adjoint_a, adjoint_b):
    """The product when the sparse side's number of rows is known only at run time (a traced
    function's SparseTensorSpec with None dims): gather the rows of `op(b)`, scale them by the
    values, and sum them into the output rows (the primitive needs the shape statically)."""
    from dtf import dtypes
    from dtf.ops.array_ops import concat, expand_dims, shape
    from dtf.ops.indexing_ops import gather, scatter_nd
    from dtf.ops.math_ops import conj

    rows, cols = sp.indices[:, 0], sp.indices[:, 1]
    values = sp.values
    if adjoint_a:
        rows, cols = cols, rows
        values = conj(values) if values.dtype.is_complex else values
    b = _adjoint(b) if adjoint_b else b
    out_rows = sp.dense_shape[1:2] if adjoint_a else sp.dense_shape[0:1]
    out_shape = concat([out_rows, shape(b, out_type=dtypes.int64)[1:]], axis=0)
    return scatter_nd(expand_dims(rows, 1), expand_dims(values, 1) * gather(b, cols), out_shape)


def sparse_dense_matmul(sp_a, b, adjoint_a=False, adjoint_b=False, name=None):
    """`op(sp_a) @ op(b)`, where `op` is the conjugate transpose when its `adjoint_*` is set.

    One operand is a rank-2 SparseTensor, the other a dense matrix (either order). Gradients
    flow to the dense operand and to the SparseTensor's values.

    Args:
        sp_a: a SparseTensor (or a dense matrix when `b` is the SparseTensor).
        b: a dense matrix (or a SparseTensor when `sp_a` is dense).
        adjoint_a: use the conjugate transpose of `sp_a`.
        adjoint_b: use the conjugate transpose of `b`.

    Example:
        >>> sp = dtf.SparseTensor([[0, 1], [1, 0]], [1., 2.], [2, 2])
        >>> dtf.sparse.sparse_dense_matmul(sp, dtf.constant([[1., 2.], [3., 4.]])).numpy()
        array([[3., 4.],
               [2., 4.]], dtype=float32)
    """
    a_sparse = getattr(sp_a, "_is_sparse_tensor", False)
    b_sparse = getattr(b, "_is_sparse_tensor", False)
    if a_sparse and not b_sparse:
        return _sparse_times_dense(sp_a, b, adjoint_a, adjoint_b)
    if b_sparse and not a_sparse:
        # op(A) @ op(B) = (op(B)^H @ op(A)^H)^H, and op(B)^H is B or B^H.
        product = _sparse_times_dense(b, sp_a, adjoint_a=not adjoint_b,
                                      adjoint_b=not adjoint_a)
        return _adjoint(product)
    raise TypeError("sparse_dense_matmul: exactly one operand must be a SparseTensor, got "
                    f"{type(sp_a).__name__} and {type(b).__name__}. Multiply dense matrices "
                    "with dtf.matmul; densify one SparseTensor with dtf.sparse.to_dense.")


matmul = sparse_dense_matmul
