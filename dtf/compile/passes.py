"""Algebraic simplification of a traced Graph, and the pass pipeline `codegen.lower` runs.

A gradient graph is full of nodes that compute nothing: `ones_like` seeds of a known shape,
reshapes and broadcasts to the shape the tensor already has, sums over no axes, casts to the
dtype it already has, `x * 1`, `x + 0`, identities. Each costs a dispatch when the graph runs.
`simplify(graph)` removes them: their outputs become their inputs (or constants), through the
graph's replacement map (`graph._resolve`), as the Graph's own passes do.

`run_passes(graph)` runs simplification, constant folding and common-subexpression elimination
until nothing changes, then dead-code elimination, and returns one `PassResult` per pass.

Example:
    >>> x = placeholder((2, 3))
    >>> graph = Graph([x], [dtf.reshape(x * 1.0, (2, 3)) + 0.0])
    >>> simplify(graph), len(graph.nodes)
    (3, 0)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dtf.compile import context
from dtf.compile.graph import _variable_attrs

__all__ = ["PassResult", "run_passes", "simplify"]


class PassResult(NamedTuple):
    """What one pass did: its name, how many nodes (or values) it changed, the node count
    before and after it, and a line of detail."""

    name: str
    count: int
    nodes_before: int
    nodes_after: int
    detail: str = ""

    def __str__(self):
        text = f"{self.name}: {self.count} ({self.nodes_before} -> {self.nodes_after} nodes)"
        return f"{text}; {self.detail}" if self.detail else text


def _is_symbolic(x):
    return getattr(x, "_is_symbolic", False)


def _is_variable(x):
    return getattr(x, "_is_dtf_variable", False)


def static_shape(x):
    """A value's static shape as a tuple (None for unknown dims), or None for unknown rank."""
    if _is_symbolic(x) or _is_variable(x):
        dims = x.shape.dims
        return None if dims is None else tuple(dims)
    return tuple(x._value.shape)  # an eager Tensor (a constant)


def static_dtype(x):
    """A value's dtype as a NumPy dtype."""
    if _is_symbolic(x) or _is_variable(x):
        return np.dtype(x.dtype.as_numpy_dtype)
    return x._value.dtype


def fully_known(shape) -> bool:
    return shape is not None and None not in shape


def _same_known_shape(a, b) -> bool:
    return fully_known(a) and a == b


def _constant_array(x):
    """The array of an eager constant, else None."""
    if _is_symbolic(x) or _is_variable(x):
        return None
    return x._value


def _all_equal_to(x, value) -> bool:
    array = _constant_array(x)
    if array is None or array.dtype.kind not in "iufc":
        return False
    return bool((array == value).all())


def _keeps_shape(kept, other, out) -> bool:
    """`op(kept, other)` has `kept`'s shape and dtype: `other` broadcasts into it without
    changing it (its dims, aligned right, are 1 or missing; or both shapes are known and
    equal)."""
    ks, os_, outs = static_shape(kept), static_shape(other), static_shape(out)
    if ks is None or os_ is None or outs is None or static_dtype(kept) != static_dtype(out):
        return False
    if len(os_) > len(ks):
        return False
    if _same_known_shape(ks, outs):
        return True
    if len(ks) != len(outs):
        return False
    lead = len(ks) - len(os_)
    for i, (dk, do) in enumerate(zip(ks, outs)):
        d_other = os_[i - lead] if i >= lead else 1
        if d_other != 1 and not (dk is not None and dk == d_other):
            return False
        if dk is not None and do is not None and dk != do:
            return False
    return True


# -- the rules: node, resolved inputs -> the value its output equals, or None ----------------
def _identity_rule(node, args):
    return args[0]


def _same_shape_rule(node, args):
    """reshape, broadcast_to, broadcast_like, squeeze, expand_dims to the shape the tensor
    already has."""
    if _same_known_shape(static_shape(args[0]), static_shape(node.outputs[0])):
        return args[0]
    if node.prim.name in ("squeeze", "expand_dims") and not node.attrs.get("axes"):
        return args[0]
    return None


def _transpose_rule(node, args):
    perm = node.attrs.get("perm")
    if perm is not None and tuple(perm) == tuple(range(len(perm))):
        return args[0]
    return None


def _reduce_rule(node, args):
    """Reductions over no axes, or (keeping dims) over axes of size 1."""
    axis = node.attrs.get("axis")
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if static_dtype(args[0]) != static_dtype(node.outputs[0]):
        return None
    if not axes:
        return args[0]
    shape = static_shape(args[0])
    if node.attrs.get("keepdims") and shape is not None and \
            all(-len(shape) <= a < len(shape) and shape[a] == 1 for a in axes):
        return args[0]
    return None


def _cast_rule(node, args):
    dtype = node.attrs.get("dtype")
    if dtype is not None and np.dtype(dtype.as_numpy_dtype) == static_dtype(args[0]):
        return args[0]
    return None


def _neutral_rule(neutral, commutative):
    """`x op neutral` (and `neutral op x` when commutative) is x."""

    def rule(node, args):
        x, y = args
        out = node.outputs[0]
        if _all_equal_to(y, neutral) and _keeps_shape(x, y, out):
            return x
        if commutative and _all_equal_to(x, neutral) and _keeps_shape(y, x, out):
            return y
        return None

    return rule


def _filled_rule(value):
    """`ones_like` / `zeros_like` of a tensor whose shape is known: a constant."""

    def rule(node, args):
        out = node.outputs[0]
        shape = static_shape(out)
        if not fully_known(shape):
            return None
        from dtf.ops import creation_ops

        with context.init_scope():  # made eagerly, on the current device
            filled = creation_ops.ones if value == 1 else creation_ops.zeros
            return filled(shape, dtype=out.dtype)

    return rule


_RULES = {
    "identity": _identity_rule,
    "stop_gradient": _identity_rule,  # the tape that needed it has already been recorded
    "read_variable": _identity_rule,
    "reshape": _same_shape_rule,
    "broadcast_to": _same_shape_rule,
    "broadcast_like": _same_shape_rule,
    "squeeze": _same_shape_rule,
    "expand_dims": _same_shape_rule,
    "transpose": _transpose_rule,
    "reduce_sum": _reduce_rule,
    "reduce_mean": _reduce_rule,
    "reduce_max": _reduce_rule,
    "reduce_min": _reduce_rule,
    "cast": _cast_rule,
    "add": _neutral_rule(0, commutative=True),
    "subtract": _neutral_rule(0, commutative=False),
    "multiply": _neutral_rule(1, commutative=True),
    "divide": _neutral_rule(1, commutative=False),
    "ones_like": _filled_rule(1),
    "zeros_like": _filled_rule(0),
}


def _variable_unchanged(graph, node_index, variable, output) -> bool:
    """Whether replacing `output` (made by node `node_index`) by `variable` reads the same
    value everywhere: no node writes the Variable between the node and the last reader of
    `output`, and `output` is not a graph output (outputs are values, not Variables)."""
    resolve = graph._resolve
    if any(resolve(t) is output for t in graph.outputs):
        return False
    last_reader = None
    nodes = graph.nodes
    for j in range(node_index + 1, len(nodes)):
        if any(resolve(t) is output for t in nodes[j].inputs):
            last_reader = j
    if last_reader is None:
        return True
    for j in range(node_index + 1, last_reader + 1):
        if nodes[j].prim.stateful and any(v is variable for v in _variable_attrs(nodes[j])):
            return False
    return True


def simplify(graph) -> int:
    """Replaces nodes that compute nothing by their inputs (or constants); returns how many
    went. Stateful nodes are never touched."""
    kept = []
    removed = 0
    resolve = graph._resolve
    nodes = graph.nodes
    for index, node in enumerate(nodes):
        rule = _RULES.get(node.prim.name)
        if rule is None or node.prim.stateful or len(node.outputs) != 1:
            kept.append(node)
            continue
        args = [resolve(t) for t in node.inputs]
        replacement = rule(node, args)
        if replacement is None or (_is_variable(replacement) and not _variable_unchanged(
                graph, index, replacement, node.outputs[0])):
            kept.append(node)
            continue
        graph._replace[id(node.outputs[0])] = replacement
        removed += 1
    graph.nodes = kept
    return removed


def run_passes(graph, max_rounds: int = 4) -> list:
    """Simplification, constant folding and CSE until none changes anything, then dead-code
    elimination; one `PassResult` per pass: what it changed and the nodes it removed, summed
    over rounds (nodes before its first run -> that many fewer).

    Example:
        >>> x = placeholder((2,))
        >>> graph = Graph([x], [dtf.exp(x) * dtf.ones((2,)) + dtf.exp(x)])
        >>> [str(r) for r in run_passes(graph)]  # doctest: +NORMALIZE_WHITESPACE
        ['simplify: 1 (4 -> 3 nodes)', 'fold_constants: 0 (3 -> 3 nodes)',
         'eliminate_common_subexpressions: 1 (3 -> 2 nodes)',
         'eliminate_dead_code: 0 (2 -> 2 nodes)']
    """
    # per pass: [what it changed, nodes before its first run, nodes it removed in all rounds]
    totals = {name: [0, None, 0] for name in
              ("simplify", "fold_constants", "eliminate_common_subexpressions")}
    passes = (("simplify", lambda: simplify(graph)),
              ("fold_constants", graph.fold_constants),
              ("eliminate_common_subexpressions", graph.eliminate_common_subexpressions))
    for _ in range(max_rounds):
        changed = 0
        for name, run in passes:
            before = len(graph.nodes)
            count = run()
            entry = totals[name]
            if entry[1] is None:
                entry[1] = before
            entry[0] += count
            entry[2] += before - len(graph.nodes)
            changed += count
        if not changed:
            break
    results = [PassResult(name, c, b, b - r) for name, (c, b, r) in totals.items()]
    before = len(graph.nodes)
    dead = graph.eliminate_dead_code()
    results.append(PassResult("eliminate_dead_code", dead, before, len(graph.nodes)))
    return results
