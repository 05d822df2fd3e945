"""`dtf.bitwise`: bitwise ops on integer tensors (what `&`, `|`, `^`, `~` do for integers)."""

from __future__ import annotations

from dtf.errors import InvalidArgumentError
from dtf.ops import shape_rules as rules
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.registry import primitive, run

__all__ = ["bitwise_and", "bitwise_or", "bitwise_xor", "invert", "left_shift", "right_shift"]


def _check_int(op, *xs):
    for x in xs:
        if not x.dtype.is_integer:
            raise InvalidArgumentError(f"{op}: needs integer tensors, got {x.dtype.name} "
                                       f"(shape {x.shape}). Use logical ops for bool tensors.")


def _binary(name, fn):
    prim = primitive(name, shape=rules.broadcast_rule, differentiable=False)(fn)

    def op(x, y, name=None):
        from dtf.ops.math_ops import binary_args

        x, y = binary_args(prim.name, x, y)
        _check_int(prim.name, x)
        return run(prim, (x, y))

    op.__name__ = op.__qualname__ = name
    return op


bitwise_and = _binary("bitwise_and", lambda xp, x, y: xp.bitwise_and(x, y))
bitwise_or = _binary("bitwise_or", lambda xp, x, y: xp.bitwise_or(x, y))
bitwise_xor = _binary("bitwise_xor", lambda xp, x, y: xp.bitwise_xor(x, y))
left_shift = _binary("left_shift", lambda xp, x, y: xp.left_shift(x, y))
right_shift = _binary("right_shift", lambda xp, x, y: xp.right_shift(x, y))


@primitive("invert", shape=rules.same_shape, differentiable=False)
def _invert(xp, x):
    return xp.invert(x)


def invert(x, name=None):
    """Flips every bit of an integer tensor."""
    x = convert_to_tensor(x)
    _check_int("invert", x)
    return run(_invert, (x,))
