"""What the code generator knows about primitives, keyed by primitive name.

The op table (`dtf.ops.registry`) says how to compute a primitive, not how its result relates to
its inputs' memory. The code generator needs both, to call NumPy's ufuncs directly and to write
results into buffers no one else sees (`out=`). The facts live here, next to the code that relies
on them, and a test checks them against every op case (`tests/compile/test_codegen_tables.py`:
a FRESH primitive's output never shares memory with its inputs; a UFUNCS primitive's impl gives
exactly its ufunc's result).

- `UFUNCS`: elementwise primitives whose impl is exactly one ufunc call `xp.<ufunc>(*inputs)`
  (for the dtype kinds listed: integer division and powers keep their impl's checks).
- `FRESH`: primitives whose impl always returns newly allocated arrays (never an input, never a
  view of one), so the plan owns the result and may write into it once it is dead.
"""

from __future__ import annotations

__all__ = ["FLOAT_KINDS", "FRESH", "UFUNCS", "ufunc_for"]

FLOAT_KINDS = "fc"
_ANY = "biufc"

# primitive name -> (the ufunc's name in NumPy / CuPy, dtype kinds where the impl is just it)
UFUNCS: dict[str, tuple[str, str]] = {
    "add": ("add", _ANY),
    "subtract": ("subtract", "iufc"),
    "multiply": ("multiply", _ANY),
    "divide": ("true_divide", FLOAT_KINDS),
    "maximum": ("maximum", _ANY),
    "minimum": ("minimum", _ANY),
    "floordiv": ("floor_divide", "f"),
    "floormod": ("remainder", "f"),
    "pow": ("power", FLOAT_KINDS),
    "negative": ("negative", "iufc"),
    "abs": ("absolute", "iuf"),
    "sign": ("sign", "iuf"),
    "square": ("square", "iufc"),
    "sqrt": ("sqrt", FLOAT_KINDS),
    "exp": ("exp", FLOAT_KINDS),
    "log": ("log", FLOAT_KINDS),
    "log1p": ("log1p", FLOAT_KINDS),
    "expm1": ("expm1", FLOAT_KINDS),
    "sin": ("sin", FLOAT_KINDS),
    "cos": ("cos", FLOAT_KINDS),
    "tan": ("tan", FLOAT_KINDS),
    "tanh": ("tanh", FLOAT_KINDS),
    "floor": ("floor", "f"),
    "ceil": ("ceil", "f"),
    "equal": ("equal", _ANY),
    "not_equal": ("not_equal", _ANY),
    "less": ("less", "biuf"),
    "less_equal": ("less_equal", "biuf"),
    "greater": ("greater", "biuf"),
    "greater_equal": ("greater_equal", "biuf"),
    "logical_and": ("logical_and", "b"),
    "logical_or": ("logical_or", "b"),
    "logical_xor": ("logical_xor", "b"),
    "logical_not": ("logical_not", "b"),
    "is_nan": ("isnan", "f"),
    "is_inf": ("isinf", "f"),
    "is_finite": ("isfinite", "f"),
}


def ufunc_for(name: str, dtype_kind: str):
    """The ufunc name that computes primitive `name` on inputs of `dtype_kind`, or None."""
    entry = UFUNCS.get(name)
    if entry is None or dtype_kind not in entry[1]:
        return None
    return entry[0]


FRESH: frozenset = frozenset(UFUNCS) | frozenset({
    # elementwise, beyond one ufunc
    "relu", "relu_grad", "select", "sigmoid", "softplus", "rsqrt", "reciprocal", "erf",
    "round", "squared_difference", "cast", "ones_like", "zeros_like",
    # products and reductions
    "matmul", "fused_dense", "tensordot", "reduce_sum", "reduce_mean", "reduce_max",
    "reduce_min", "reduce_prod", "reduce_logsumexp", "cumsum", "cumprod",
    # losses and normalisers
    "softmax", "log_softmax", "sparse_xent_reduce_grad", "one_hot",
    # convolutions and pooling
    "conv", "fused_conv", "conv_backprop_input", "conv_backprop_filter", "conv_bias_grad",
    "max_pool", "max_pool_grad", "avg_pool", "avg_pool_grad",
    # building arrays
    "concat", "stack", "tile", "pad", "gather", "gather_grad",
})
