"""Templates: how the plan computes some primitives by calling the array module directly.

`TEMPLATES[prim name](generator, index, node, args)` writes the lines for one node and returns
True, or returns False to leave the node to its impl (a dtype or attribute it does not handle).
Each template computes exactly what the primitive's impl computes (the same NumPy calls, in the
same order); `prim_table` holds the facts they rely on.
"""

from __future__ import annotations

import math

from dtf.compile import prim_table
from dtf.compile.passes import static_dtype, static_shape

__all__ = ["TEMPLATES", "fits", "literal"]


def _is_variable(x):
    return getattr(x, "_is_dtf_variable", False)


def literal(value):
    """Python source for `value` when it is a plain literal that reads back equal, else None."""
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if type(value) is int:
        return repr(value)
    if type(value) is float:
        return repr(value) if math.isfinite(value) else None
    if type(value) in (tuple, list):
        parts = [literal(v) for v in value]
        if any(p is None for p in parts):
            return None
        if type(value) is tuple:
            return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"
        return "[" + ", ".join(parts) + "]"
    return None


def fits(shape, other_shapes, out_shape) -> bool:
    """Whether an elementwise op's result (of static `out_shape`) has exactly `shape` whatever
    the unknown dims turn out to be: the other operands broadcast into it."""
    if shape is None or len(shape) != len(out_shape):
        return False
    for other in other_shapes:
        if other is None or len(other) > len(shape):
            return False
    for i, (d, do) in enumerate(zip(shape, out_shape)):
        if d is not None and do is not None and d != do:
            return False
        for other in other_shapes:
            lead = len(shape) - len(other)
            d_other = other[i - lead] if i >= lead else 1
            if d_other != 1 and not (d is not None and d == d_other):
                return False
    return True


def _dtype_kind(args):
    return static_dtype(args[0]).kind if args else ""


def _ufunc_template(gen, i, node, args):
    ufunc = prim_table.ufunc_for(node.prim.name, _dtype_kind(args))
    if ufunc is None or node.attrs:
        return False
    return gen._elementwise(i, node, args, ufunc)


def _relu_template(gen, i, node, args):
    dtype = static_dtype(args[0])
    if dtype.kind not in "iuf":
        return False
    return gen._elementwise(i, node, args, "maximum", [(gen._zero(dtype), ())])


def _relu_grad_template(gen, i, node, args):
    """`g * (out > 0)`: TensorFlow's ReluGrad kernel (a NaN or infinite gradient where the unit
    is off gives NaN, as there), four times faster than a select; into g's buffer when it is a
    dead temporary."""
    g, out = args
    dtype = static_dtype(g)
    if dtype.kind not in "iuf" or static_dtype(out).kind not in "iuf":
        return False
    mask = f"({gen._expr(out)} > 0)"
    return gen._elementwise(i, node, [g], "multiply", [(mask, static_shape(out))])


def _select_template(gen, i, node, args):
    return gen._fresh_statement(i, node, f"xp.where({', '.join(map(gen._expr, args))})")


def _transposed(gen, value, transpose):
    text = gen._expr(value)
    if not transpose:
        return text
    shape = static_shape(value)
    return f"{text}.T" if shape is not None and len(shape) == 2 else \
        f"xp.swapaxes({text}, -1, -2)"


def _matmul_template(gen, i, node, args):
    a, b = args
    return gen._fresh_call(i, node, "xp.matmul",
                           f"{_transposed(gen, a, node.attrs.get('transpose_a'))}, "
                           f"{_transposed(gen, b, node.attrs.get('transpose_b'))}")


def _reduce_sum_template(gen, i, node, args):
    (x,) = args
    if static_dtype(x).kind not in prim_table.FLOAT_KINDS:
        return False  # integer sums change dtype; the impl casts back
    axis, keepdims = node.attrs.get("axis"), bool(node.attrs.get("keepdims"))
    axis_text = literal(axis)
    if axis_text is None:
        return False
    return gen._fresh_call(i, node, f"{gen._expr(x)}.sum",
                           f"axis={axis_text}, keepdims={keepdims}")


def _fused_dense_template(gen, i, node, args):
    x, kernel, bias = args
    activation = node.attrs.get("activation")
    if activation not in ("linear", "relu", "tanh") or \
            static_dtype(x).kind not in prim_table.FLOAT_KINDS:
        return False
    out = node.outputs[0]
    name = gen._new_local(out)
    gen._emit(f"{name} = xp.matmul({gen._expr(x)}, {gen._expr(kernel)})", i)
    gen._emit(f"xp.add({name}, {gen._expr(bias)}, out={name})", i)
    if activation == "relu":
        gen._emit(f"xp.maximum({name}, {gen._zero(static_dtype(x))}, out={name})", i)
    elif activation == "tanh":
        gen._emit(f"xp.tanh({name}, out={name})", i)
    gen._register_fresh(out)
    return True


def _read_variable_template(gen, i, node, args):
    (v,) = args
    if not _is_variable(v):
        return False
    out = node.outputs[0]
    if gen.last_use.get(id(out)) is None:
        gen.alias[id(out)] = frozenset()
        return True
    name = gen._new_local(out)
    gen._emit(f"{name} = {gen._expr(v)}", i)  # the array now: later assignments replace it
    gen.alias[id(out)] = frozenset()
    return True


TEMPLATES = {name: _ufunc_template for name in prim_table.UFUNCS}
TEMPLATES.update({
    "relu": _relu_template,
    "relu_grad": _relu_grad_template,
    "select": _select_template,
    "matmul": _matmul_template,
    "reduce_sum": _reduce_sum_template,
    "fused_dense": _fused_dense_template,
    "read_variable": _read_variable_template,
})
