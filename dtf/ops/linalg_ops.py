"""Linear algebra: matmul (batched, with transpose flags), tensordot, einsum, norm."""

from __future__ import annotations

from dtf.errors import InvalidArgumentError
from dtf.ops import shape_rules as rules
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.registry import Spec, primitive, run
from dtf.tensor import Tensor

__all__ = ["matmul"]


def _matmul_rule(a, b, transpose_a=False, transpose_b=False):
    if a.shape is None or b.shape is None:
        return Spec(None, a.dtype)
    m, ka = (a.shape[-1], a.shape[-2]) if transpose_a else (a.shape[-2], a.shape[-1])
    kb, n = (b.shape[-1], b.shape[-2]) if transpose_b else (b.shape[-2], b.shape[-1])
    if ka is not None and kb is not None and ka != kb:
        raise InvalidArgumentError(f"matmul: inner dimensions differ: {a.shape} and {b.shape}")
    batch = rules.broadcast_dims(a.shape[:-2], b.shape[:-2], "matmul")
    return Spec(batch + (m, n), a.dtype)


def _t(xp, x):
    return xp.swapaxes(x, -1, -2)


@primitive("matmul", shape=_matmul_rule)
def _matmul(xp, a, b, transpose_a=False, transpose_b=False):
    if transpose_a:
        a = _t(xp, a)
    if transpose_b:
        b = _t(xp, b)
    return xp.matmul(a, b)


@_matmul.def_vjp
def _(g, out, a, b, transpose_a=False, transpose_b=False):
    from dtf.ops.math_ops import conj, unbroadcast

    ac, bc = conj(a), conj(b)
    if not transpose_a and not transpose_b:
        ga, gb = matmul(g, bc, transpose_b=True), matmul(ac, g, transpose_a=True)
    elif transpose_a and not transpose_b:
        ga, gb = matmul(bc, g, transpose_b=True), matmul(ac, g)
    elif not transpose_a and transpose_b:
        ga, gb = matmul(g, bc), matmul(g, ac, transpose_a=True)
    else:
        ga, gb = matmul(bc, g, transpose_a=True, transpose_b=True), \
            matmul(g, ac, transpose_a=True, transpose_b=True)
    return unbroadcast(ga, a), unbroadcast(gb, b)


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, output_type=None, name=None):
    """Matrix product of the last two dims, batched (and broadcast) over leading dims.

    Example:
        >>> dtf.matmul(dtf.ones((2, 3)), dtf.ones((3, 4))).shape
        TensorShape([2, 4])
    """
    from dtf.ops.math_ops import binary_args, conj

    if not (type(a) is Tensor and type(b) is Tensor and a._value.dtype == b._value.dtype):
        a, b = binary_args("matmul", a, b)
    if a.ndim < 2 or b.ndim < 2:
        raise InvalidArgumentError(
            f"matmul: In[0] and In[1] must be at least rank 2 (matrices), got shapes {a.shape} "
            f"and {b.shape} ({a.dtype.name}). Use dtf.tensordot or reshape vectors to [1, n].")
    if adjoint_a:
        a, transpose_a = conj(a), not transpose_a
    if adjoint_b:
        b, transpose_b = conj(b), not transpose_b
    ka = a.shape[-2] if transpose_a else a.shape[-1]
    kb = b.shape[-1] if transpose_b else b.shape[-2]
    if ka != kb:
        raise InvalidArgumentError(
            f"Matrix size-incompatible: In[0]: {a.shape}, In[1]: {b.shape} (transpose_a="
            f"{transpose_a}, transpose_b={transpose_b}, dtype {a.dtype.name}) [Op:MatMul]")
    return run(_matmul, (a, b), transpose_a=bool(transpose_a), transpose_b=bool(transpose_b))
