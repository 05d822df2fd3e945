"""Shapes known only when a graph runs.

A traced function with a relaxed signature, or a Keras model, sees tensors whose dims may be
unknown (None) until the graph runs. Ops and VJPs that need such a dim read it at run time, as
TensorFlow does: from a shape vector (`dtf.shape(x)`, or a stack of scalars) given to the op as
one more input. The convention of the op table: a shape attribute may hold None for the dims
known only then (and -1 where the op infers one); when it does, the op takes the full runtime
shape vector as an extra, last input. Eager tensors always have exact shapes, so eager calls
never take that path and cost nothing more.

This module holds the helpers every op family shares, and the primitives that only ever exist
on runtime shapes:

- `static_dims(x)`, `shape_of(x)`: a tensor's static shape, and its shape as a tensor (a
  constant when every dim is known, else a `shape` node);
- `static_value(t)`: what can be known of an int tensor before the graph runs (TensorFlow's
  `constant_value_as_shape`): `[dtf.shape(x)[0], 3]` is `(None, 3)` when x's first dim is
  unknown, `(5, 3)` when it is 5;
- `shape_arg(value, op)`: a shape argument (ints, scalar tensors, a 1-D tensor) as its static
  dims and, when some are unknown, the int32 vector that gives them at run time;
- primitives `fill` (`dtf.zeros/ones/fill` of a runtime shape), `range` (bounds known at run
  time), `sum_to` (the adjoint of broadcasting to a shape known at run time: what
  `unbroadcast` becomes for inputs of unknown dims) and `tile_grad`.

Example:
    >>> x = placeholder((None, 3))
    >>> static_value(dtf.stack([dtf.shape(x)[0], 2]))
    [None, 2]
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops.registry import Spec, primitive, run
from dtf.tensor import Tensor

__all__ = [
    "fill",
    "fully_known",
    "host_ints",
    "range_",
    "shape_arg",
    "shape_of",
    "static_dims",
    "static_value",
    "sum_to",
]


# -- static shapes ------------------------------------------------------------------------------
def static_dims(x):
    """The static shape of a Tensor, Variable or symbolic tensor: a tuple (None for unknown
    dims), or None when even the rank is unknown."""
    if type(x) is Tensor:
        return x._value.shape
    d = x.shape.dims
    return None if d is None else tuple(d)


def fully_known(dims) -> bool:
    return dims is not None and None not in dims


def is_symbolic(x) -> bool:
    return getattr(x, "_is_symbolic", False)


def host_ints(array) -> tuple:
    """A 1-D int array (of any backend) as a tuple of Python ints (a runtime shape)."""
    return tuple(int(v) for v in array.tolist())


def runtime_shape(attr, runtime):
    """A shape attribute, or the runtime shape vector that replaces it when given."""
    return host_ints(runtime[0]) if runtime else attr


def shape_of(x, out_type=dtypes.int32):
    """`x`'s shape as a 1-D int tensor: a constant when every dim is known (so what is computed
    from it folds away), else a `shape` node read when the graph runs."""
    from dtf.ops.array_ops import _shape

    dims = static_dims(x)
    if fully_known(dims):
        return _constant(np.asarray(dims, dtype=out_type._np).reshape(-1))
    return run(_shape, (x,), out_type=out_type)


def _constant(array):
    from dtf.ops.creation_ops import convert_to_tensor

    return convert_to_tensor(array)


def dim_of(x, axis, out_type=dtypes.int32):
    """Dimension `axis` of `x` as a scalar int tensor (a constant when it is known)."""
    dims = static_dims(x)
    if dims is not None and dims[axis] is not None:
        return _constant(out_type._np.type(dims[axis]))
    return shape_of(x, out_type)[axis]


# -- partial evaluation of shape tensors --------------------------------------------------------
_UNKNOWN = object()


def _unknown(t):
    dims = static_dims(t)
    if dims is None or len(dims) > 1:
        return _UNKNOWN
    if not dims:
        return None
    return _UNKNOWN if dims[0] is None else [None] * dims[0]


class _DimOf:
    """An unknown dim that is known to equal dim `axis` of `tensor` (dtf.shape(x)[i])."""

    __slots__ = ("axis", "tensor")

    def __init__(self, tensor, axis):
        self.tensor, self.axis = tensor, axis


def _partial(t, sources=False):
    """An int or None (rank 0), a list of ints and Nones (rank 1), or _UNKNOWN. With `sources`,
    an unknown dim read from a tensor's shape is a `_DimOf` instead of None."""
    if isinstance(t, Tensor):
        value = t.numpy()
        return value.tolist() if value.ndim <= 1 and value.dtype.kind in "iu" else _UNKNOWN
    if not is_symbolic(t) or t.node is None or not t.dtype.is_integer:
        return _unknown(t)  # a placeholder, or a Variable (its value may change)
    node = t.node
    name = node.prim.name
    ins = node.inputs
    if name == "shape":
        dims = static_dims(ins[0])
        if dims is None:
            return _unknown(t)
        return [_DimOf(ins[0], i) if d is None and sources else d for i, d in enumerate(dims)]
    if name == "size":
        dims = static_dims(ins[0])
        return int(np.prod(dims)) if fully_known(dims) else None
    if name == "rank":
        dims = static_dims(ins[0])
        return None if dims is None else len(dims)
    if name == "cast":
        return _partial(ins[0], sources)
    if name == "strided_slice" and len(ins) == 1:
        base = _partial(ins[0], sources)
        if isinstance(base, list):
            from dtf.ops.indexing_ops import decode_key

            key = node.attrs["key"]
            if all(k[0] in "is" for k in key):
                picked = np.array(base, dtype=object)[decode_key(key)]
                return picked.tolist() if isinstance(picked, np.ndarray) else picked
    elif name == "stack" and node.attrs.get("axis", 0) == 0:
        parts = [_partial(s, sources) for s in ins]
        if all(p is None or isinstance(p, (int, _DimOf)) for p in parts):
            return parts
    elif name == "concat" and node.attrs.get("axis") == 0:
        parts = [_partial(s, sources) for s in ins]
        if all(isinstance(p, list) for p in parts):
            return [d for p in parts for d in p]
    elif name in _SCALAR_ARITHMETIC:
        a, b = _partial(ins[0]), _partial(ins[1])
        if isinstance(a, int) and isinstance(b, int):
            return _SCALAR_ARITHMETIC[name](a, b)
    return _unknown(t)


_SCALAR_ARITHMETIC = {"add": lambda a, b: a + b, "subtract": lambda a, b: a - b,
                      "multiply": lambda a, b: a * b,
                      "floordiv": lambda a, b: a // b if b else None}


def static_value(t):
    """What is known of an int tensor's value before the graph runs: for a scalar an int or
    None; for a vector a list of ints and Nones (None when even its length is unknown).

    Example:
        >>> static_value(dtf.shape(placeholder((None, 3)))[1])
        3
    """
    value = _partial(t)
    return None if value is _UNKNOWN else value


def infer_reshape_dims(x, dims, shape):
    """Reshape's static dims when `shape` (the argument, with its -1) builds the unknown dims of
    the result from `x`'s own (TensorFlow's rule for `reshape(x, [dtf.shape(x)[0], -1])`): the -1
    is then the product of `x`'s other dims over the known ones. `dims` is returned as given
    when that cannot be told."""
    x_dims = static_dims(x)
    if x_dims is None or dims is None or list(dims).count(-1) != 1:
        return dims
    if is_symbolic(shape):
        sources = _partial(shape, sources=True)
    elif isinstance(shape, (list, tuple)):
        sources = [_partial(d, sources=True) if is_symbolic(d) else d for d in shape]
    else:
        return dims
    if not isinstance(sources, list) or len(sources) != len(dims):
        return dims
    used = set()
    for d, src in zip(dims, sources):
        if d is None:
            if not (isinstance(src, _DimOf) and src.tensor is x and src.axis not in used):
                return dims
            used.add(src.axis)
    rest = [d for i, d in enumerate(x_dims) if i not in used]
    known = [d for d in dims if d is not None and d != -1]
    if None in rest or 0 in known:
        return dims
    total, out = int(np.prod(rest, dtype=np.int64)), int(np.prod(known, dtype=np.int64))
    if total % out:
        return dims
    return tuple(total // out if d == -1 else d for d in dims)


# -- shape arguments ----------------------------------------------------------------------------
def _int_item(d, op):
    if isinstance(d, (bool, np.bool_)):
        raise TypeError(f"{op}: shape must be a list of ints, got a bool {d!r}.")
    if d is None:
        return -1
    if isinstance(d, Tensor) or getattr(d, "_is_dtf_variable", False):
        if d.ndim != 0 or not d.dtype.is_integer:
            raise TypeError(f"{op}: each dim must be an int or a scalar int tensor, got {d!r}.")
        return int(d.numpy())
    try:
        return int(d.__index__())
    except (AttributeError, TypeError):
        raise TypeError(f"{op}: shape must be a list of ints, got {d!r}.") from None


def shape_arg(value, op):
    """A shape argument as (dims, runtime): `dims` a tuple of ints with None for the dims known
    only when the graph runs (a None or -1 given by the caller stays -1), and `runtime` the int32
    vector that holds them all then, or None when every dim is known now.

    `value` may be a list of ints and scalar int tensors (symbolic ones included), a 1-D int
    tensor, or a TensorShape.
    """
    from dtf.ops.creation_ops import cast

    if is_symbolic(value):
        if value.shape.rank != 1 or not value.dtype.is_integer:
            raise InvalidArgumentError(f"{op}: shape must be a vector of int32 or int64, got a "
                                       f"{value.dtype.name} tensor of shape {value.shape}.")
        known = static_value(value)
        if known is not None and None not in known:
            return tuple(known), None
        runtime = value if value.dtype == dtypes.int32 else cast(value, dtypes.int32)
        return (None if known is None else tuple(known)), runtime
    if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False):
        if value.shape.rank != 1 or not value.dtype.is_integer:
            raise InvalidArgumentError(f"{op}: shape must be a vector of int32 or int64, got a "
                                       f"{value.dtype.name} tensor of shape {value.shape}.")
        return tuple(int(d) for d in np.asarray(value.numpy()).tolist()), None
    if hasattr(value, "as_list"):
        value = value.as_list()
    if isinstance(value, (int, np.integer)):
        value = [value]
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise TypeError(f"{op}: shape must be a list of ints or a 1-D int tensor, got "
                        f"{value!r}.")
    dims, symbolic = [], False
    for d in value:
        if is_symbolic(d):
            if d.shape.rank != 0 or not d.dtype.is_integer:
                raise TypeError(f"{op}: each dim must be an int or a scalar int tensor, got "
                                f"{d!r}.")
            known = static_value(d)
            symbolic = symbolic or known is None
            dims.append(known)
        else:
            dims.append(_int_item(d, op))
    if not symbolic:
        return tuple(dims), None
    from dtf.ops.array_ops import stack

    parts = [cast(d, dtypes.int32) if is_symbolic(d) else _constant(np.int32(v))
             for d, v in zip(value, dims)]
    return tuple(dims), stack(parts)


# -- fill: a tensor of one value, of a shape known at run time ----------------------------------
def _fill_rule(value, shape, dims):
    if dims is None:
        n = None if shape.shape is None else shape.shape[0]
        return Spec(None if n is None else (None,) * n, value.dtype)
    return Spec(tuple(dims), value.dtype)


@primitive("fill", shape=_fill_rule, data_dependent_shape=True)
def _fill(xp, value, shape, dims):
    target = host_ints(shape)
    if any(d < 0 for d in target):
        raise InvalidArgumentError(f"fill: dims {list(target)} must be non-negative. [Op:Fill]")
    out = xp.full(target, value, dtype=value.dtype)
    return out[()] if out.ndim == 0 else out


@_fill.def_vjp
def _(g, out, value, shape, dims):
    from dtf.ops.reduce_ops import reduce_sum

    return reduce_sum(g), None


def fill(shape, value, dims=None):
    """`value` (a scalar tensor) repeated over the shape given by the int32 vector `shape`
    (`dims`: what is known of it statically)."""
    return run(_fill, (value, shape), dims=None if dims is None else tuple(dims))


# -- range --------------------------------------------------------------------------------------
def _range_rule(start, limit, delta, dtype):
    return Spec((None,), dtype)


@primitive("range", shape=_range_rule, differentiable=False, data_dependent_shape=True)
def _range(xp, start, limit, delta, dtype):
    if delta == 0:
        raise InvalidArgumentError("range: delta must not be zero. [Op:Range]")
    return xp.arange(start, limit, delta).astype(dtype._np, copy=False)


def range_(start, limit, delta, dtype):
    """`dtf.range` with bounds known at run time (scalar tensors of `dtype`)."""
    return run(_range, (start, limit, delta), dtype=dtype)


# -- sum_to: the adjoint of broadcasting to a runtime shape -------------------------------------
def _sum_to_rule(g, shape, dims):
    if dims is None:
        n = None if shape.shape is None else shape.shape[0]
        return Spec(None if n is None else (None,) * n, g.dtype)
    return Spec(tuple(dims), g.dtype)


@primitive("sum_to", shape=_sum_to_rule, data_dependent_shape=True)
def _sum_to(xp, g, shape, dims):
    target = host_ints(shape)
    if g.shape == target:
        return g
    lead = g.ndim - len(target)
    axes = tuple(range(lead)) + tuple(i + lead for i, d in enumerate(target)
                                      if d == 1 and g.shape[i + lead] != 1)
    out = g.sum(axis=axes, keepdims=True) if axes else g
    out = out.reshape(target)
    return out[()] if out.ndim == 0 else out


@_sum_to.def_vjp
def _(gg, out, g, shape, dims):
    from dtf.ops.array_ops import broadcast_to

    return broadcast_to(gg, shape_of(g)), None


def sum_to(g, like):
    """Sums `g` over the axes along which `like` was broadcast to `g`'s shape, giving `like`'s
    shape: `unbroadcast` for shapes known only when the graph runs."""
    dims = static_dims(like)
    return run(_sum_to, (g, shape_of(like)), dims=None if dims is None else tuple(dims))


# -- tile_grad ----------------------------------------------------------------------------------
def _tile_grad_rule(g, shape, multiples, dims):
    return Spec(tuple(dims) if dims is not None else (None,) * len(multiples), g.dtype)


@primitive("tile_grad", shape=_tile_grad_rule, data_dependent_shape=True)
def _tile_grad(xp, g, shape, multiples, dims):
    # The adjoint of tile: every copy of the input adds its gradient back. A count known only
    # at run time (None) is the gradient's dim over the input's (any count fits an empty dim).
    x_dims = host_ints(shape)
    multiples = [(n // d if d else 1) if m is None else m
                 for m, n, d in zip(multiples, g.shape, x_dims)]
    split = tuple(v for m, d in zip(multiples, x_dims) for v in (m, d))
    out = g.reshape(split).sum(axis=tuple(range(0, 2 * len(x_dims), 2)))
    return out[()] if out.ndim == 0 else out


@_tile_grad.def_vjp
def _(gg, out, g, shape, multiples, dims):
    from dtf.ops.math_ops import floordiv, maximum
    from dtf.ops.repeat_ops import _tile

    if None not in multiples:
        return run(_tile, (gg,), multiples=multiples), None
    counts = floordiv(shape_of(g), maximum(shape, 1))  # as the forward pass found them
    return run(_tile, (gg, counts), multiples=multiples), None


def tile_grad(g, x, multiples):
    """The gradient of `tile(x, multiples)` for an `x` of dims known only at run time."""
    dims = static_dims(x)
    return run(_tile_grad, (g, shape_of(x)), multiples=tuple(multiples),
               dims=None if dims is None else tuple(dims))
