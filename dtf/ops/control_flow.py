"""Control flow: `dtf.cond`, `dtf.switch_case`, `dtf.case` and `dtf.while_loop`.

Eagerly (a Python or eager-Tensor predicate, eager loop variables) these are plain Python: the
chosen branch or the loop's iterations run op by op, and gradient tapes record those ops as any
others. On symbolic tensors (a traced `dtf.function`, Keras inputs) each branch, loop condition
and loop body is traced into its own nested `GraphBuilder` and becomes a sub-`Graph`; the whole
construct is ONE node of a primitive whose attributes hold the sub-graphs:

- `cond` / `stateful_cond`: inputs `(selector, *operands)`; the selector is a scalar bool
  (branch 0 when true, else branch 1) or int32 (branch i; out of range: the last branch). The
  operands are the values the branches read from outside (their graphs' captures) and the
  Variables they read.
- `while_loop` / `stateful_while_loop`: inputs `(*loop_vars, *operands)`.

The `stateful_` variants are used when a sub-graph holds stateful nodes (Variable assignments,
random draws); they carry the Variables those nodes write in a tuple attr (`writes`), so graph
passes keep them in order and version Variable reads around them.

Gradients. A `cond` node's VJP is a `cond` of the branches' gradients: each gradient branch runs
its branch graph again under a GradientTape and differentiates it. A `while_loop` node also
outputs its iteration count and, stacked, the loop variables each iteration started from; its
VJP is a `while_loop` that runs the body's VJP on those values in reverse. Stateful nodes are not
run again by a VJP: the forward node outputs what they produced (random draws, dropout masks) as
extra "residual" outputs, and the gradient replays them. Residuals (and the loop history) are
computed only when a gradient may need them: when the node runs under a gradient tape, or when a
VJP built on symbolic tensors reads them (it sets the node's `keep_residuals`); otherwise those
outputs are free zero-strided placeholders. All VJPs are dtf ops, so second order works.

Example:
    >>> x = dtf.constant(3.0)
    >>> dtf.cond(x > 0, lambda: x * 2.0, lambda: -x).numpy()
    6.0
    >>> dtf.while_loop(lambda i, s: i < 4, lambda i, s: (i + 1, s + i), (0, 0))
    (<dtf.Tensor: shape=(), dtype=int32, numpy=4>, <dtf.Tensor: shape=(), dtype=int32, numpy=6>)

This module is over the size guide (about 1100 lines): cond and while_loop share the tracing,
the sub-graph interpreter, the residual bookkeeping and the VJP machinery, and splitting them
would spread one mechanism over several files.
"""

from __future__ import annotations

import threading

import numpy as np

from dtf import dtypes, nest
from dtf.autodiff import state as _tape_state
from dtf.autodiff.tape import GradientTape, stop_recording
from dtf.compile import context
from dtf.compile import graph as _graph_module
from dtf.compile.symbolic import placeholder
from dtf.errors import InvalidArgumentError
from dtf.ops import creation_ops, registry
from dtf.ops.registry import Spec, primitive, run
from dtf.tensor import Tensor
from dtf.tensor_array import _read as _read_rows
from dtf.tensor_shape import TensorShape

__all__ = ["case", "cond", "switch_case", "while_loop"]

_Graph = _graph_module.Graph


def _is_sym(x) -> bool:
    return getattr(x, "_is_symbolic", False)


def _is_var(x) -> bool:
    return getattr(x, "_is_dtf_variable", False)


def _is_float(x) -> bool:
    d = x.dtype
    return d.is_floating or d.is_complex


def _shape_tuple(shape):
    """A TensorShape (or list/tuple/None) as a rule's shape: a tuple with None dims, or None."""
    dims = shape.dims if isinstance(shape, TensorShape) else shape
    return None if dims is None else tuple(dims)


def _spec_of(t) -> Spec:
    if isinstance(t, Tensor):
        return Spec(tuple(t._value.shape), t.dtype)
    return Spec(_shape_tuple(t.shape), t.dtype)


def _describe(t) -> str:
    if t is None:
        return "None"
    s = _spec_of(t)
    dims = "<unknown>" if s.shape is None else "(" + ", ".join(
        "None" if d is None else str(d) for d in s.shape) + ("," if len(s.shape) == 1 else "") + ")"
    return f"Tensor(shape={dims}, dtype={s.dtype.name})"


def _placeholder_array(xp, shape, dtype):
    """A zero-strided zeros array for a residual output nobody reads (no allocation)."""
    dims = (0,) if shape is None else tuple(0 if d is None else d for d in shape)
    return xp.broadcast_to(xp.zeros((), dtype=dtype.as_numpy_dtype), dims)


# -- running sub-graphs ------------------------------------------------------------------------
# Nested nodes keep their residuals while an enclosing node is keeping its own (the enclosing
# node's residuals include its nested nodes' outputs).
class _Keeping(threading.local):
    depth = 0


_keeping = _Keeping()
_lower = []  # [dtf.compile.codegen.lower, or None]: resolved on first use


def _plan_of(graph):
    """The codegen plan of a sub-graph, when dtf.compile.codegen exists; else None."""
    plan = graph.__dict__.get("_control_flow_plan", False)
    if plan is not False:
        return plan
    if not _lower:
        try:
            from dtf.compile.codegen import lower
        except ImportError:
            lower = None
        _lower.append(lower)
    plan = None
    if _lower[0] is not None:
        try:
            plan = _lower[0](graph, copy=True)
        except NotImplementedError:
            plan = None
    graph.__dict__["_control_flow_plan"] = plan
    return plan


class _Eager:
    """Runs a sub-graph's ops eagerly, outside any trace, without recording on open tapes (the
    node that runs the sub-graph is what tapes record)."""

    __slots__ = ("keep", "scopes")

    def __init__(self, keep=False):
        self.keep = keep
        self.scopes = []

    def __enter__(self):
        if context.is_tracing():
            self.scopes.append(context.init_scope())
        if _tape_state.active_tapes:
            self.scopes.append(stop_recording())
        for s in self.scopes:
            s.__enter__()
        if self.keep:
            _keeping.depth += 1
        return self

    def __exit__(self, *exc):
        if self.keep:
            _keeping.depth -= 1
        for s in reversed(self.scopes):
            s.__exit__(*exc)
        return False


def _run_arrays(graph, arrays, collect=None):
    """Runs `graph` on arrays (its inputs then captures); returns the output arrays, and with
    `collect` (node indices) also {index: output arrays} of those (stateful) nodes. Runs inside
    an `_Eager` block."""
    if collect is None:
        plan = _plan_of(graph)
        if plan is not None:
            return list(plan(*arrays))
        outs = graph.run(*[Tensor(a) for a in arrays])
        return [o._value for o in outs]
    record = {}
    outs = _interpret(graph, [Tensor(a) for a in arrays], collect=set(collect), record=record)
    return [o._value for o in outs], {i: tuple(v._value for v in vs) for i, vs in record.items()}


def _interpret(graph, values, replay=None, collect=None, record=None):
    """Runs `graph` on Tensors or symbolic tensors (its inputs then captures), op by op through
    the op table (so tapes record, and symbolic values build nodes).

    Args:
        replay: {node index: output tensors}: those (stateful) nodes are not run again; their
            outputs are the given ones, and differentiable ones are recorded on the open tapes.
        collect, record: the outputs of the nodes whose index is in `collect` are put in
            `record`.
    """
    env = {id(t): v for t, v in zip(graph.inputs + graph.captures, values)}
    resolve = graph._resolve

    def value(t):
        t = resolve(t)
        return env[id(t)] if _is_sym(t) else t

    for i, node in enumerate(graph.nodes):
        args = tuple(value(t) for t in node.inputs)
        if replay is not None and i in replay:
            outs = tuple(replay[i])
            _record_replayed(node, args, outs)
        else:
            out = run(node.prim, args, **node.attrs)
            outs = out if isinstance(out, tuple) else (out,)
        for sym, v in zip(node.outputs, outs):
            env[id(sym)] = v
        if collect is not None and i in collect:
            record[i] = outs
    return [value(t) for t in graph.outputs]


def _record_replayed(node, args, outs):
    prim = node.prim
    if prim.vjp_fn is None or not _tape_state.active_tapes or not outs:
        return
    if any(_is_sym(o) for o in outs) or any(_is_sym(a) for a in args):
        _tape_state.record_symbolic(prim, args, node.attrs, outs)
    else:
        args = tuple(a.read_value() if _is_var(a) else a for a in args)
        _tape_state.record(prim, args, node.attrs, outs if len(outs) > 1 else outs[0])


# -- tracing sub-graphs --------------------------------------------------------------------------
class _Traced:
    """A function traced into a sub-graph: `graph`, the Python `structure` it returned, and
    `flat` (its leaves as tensors, None kept)."""

    __slots__ = ("flat", "graph", "structure")

    def __init__(self, graph, structure, flat):
        self.graph = graph
        self.structure = structure
        self.flat = flat


def _is_ta(x) -> bool:
    return getattr(x, "_is_dtf_tensor_array", False)


def _to_graph_value(x):
    if x is None or _is_sym(x) or isinstance(x, Tensor):
        return x
    if _is_ta(x):
        return x.flow  # a TensorArray crosses control flow as its buffer
    return creation_ops.convert_to_tensor(x)


def _trace(fn, args, name):
    """Traces `fn(*args)` into a nested GraphBuilder; open tapes do not see its ops (the
    control-flow node is what they record)."""
    outer = context.current()
    builder = context.GraphBuilder(
        name, allow_variable_creation=outer.allow_variable_creation if outer else True)
    inputs = [a for a in args if _is_sym(a)]
    with context.building(builder), stop_recording():
        result = fn(*args)
        flat = [_to_graph_value(x) for x in nest.flatten(result)]
    if outer is not None:
        outer.created_variables.extend(builder.created_variables)
    graph = _Graph(inputs, [x for x in flat if x is not None], nodes=builder.nodes, name=name)
    graph.optimize()
    return _Traced(graph, result, flat)


def _operands(graphs):
    """The values the graphs read from outside: their captures, then the Variables their nodes
    read; and for each graph the positions of its captures among them."""
    operands, index = [], {}
    maps = []
    for g in graphs:
        positions = []
        for c in g.captures:
            if id(c) not in index:
                index[id(c)] = len(operands)
                operands.append(c)
            positions.append(index[id(c)])
        maps.append(tuple(positions))
    var_slots, variables = [], []
    for g in graphs:
        for node in g.nodes:
            for t in node.inputs:
                if _is_var(t) and id(t) not in index:
                    index[id(t)] = len(operands)
                    var_slots.append(len(operands))
                    variables.append(t)
                    operands.append(t)
    return operands, tuple(maps), tuple(var_slots), tuple(variables)


def _stateful_info(graphs):
    """(indices of the stateful nodes of each graph, the Variables they write)."""
    residuals, writes, seen = [], [], set()
    for g in graphs:
        residuals.append(tuple(i for i, n in enumerate(g.nodes) if n.prim.stateful))
        for i in residuals[-1]:
            for v in _graph_module._variable_attrs(g.nodes[i]):
                if id(v) not in seen:
                    seen.add(id(v))
                    writes.append(v)
    return tuple(residuals), tuple(writes)


def _structure_text(structure, flat):
    it = iter(flat)

    def show(s):
        if isinstance(s, dict):
            return "{" + ", ".join(f"{k!r}: {show(s[k])}" for k in nest._sorted_keys(s)) + "}"
        if isinstance(s, (list, tuple)):
            items = ", ".join(show(c) for c in s)
            return f"[{items}]" if isinstance(s, list) else f"({items}{',' if len(s) == 1 else ''})"
        return _describe(next(it))

    return show(structure)


def _same_structure(a, b, loose=False) -> bool:
    """Same nesting (and None leaves in the same places). `loose`: a list and a tuple count as
    the same (TensorFlow repacks a loop body's results into the loop variables' structure)."""
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and \
            sorted(map(repr, a)) == sorted(map(repr, b)) and \
            all(_same_structure(a[k], b[k], loose) for k in a)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        same_kind = isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) if loose \
            else type(a) is type(b)
        return same_kind and len(a) == len(b) and \
            all(_same_structure(x, y, loose) for x, y in zip(a, b))
    return loose or (a is None) == (b is None)


def _merge_shapes(shapes):
    """The most specific shape every one of `shapes` has (unknown where they differ)."""
    first = shapes[0]
    if first is None or any(s is None or len(s) != len(first) for s in shapes):
        return None
    return tuple(d if all(s[i] == d for s in shapes) else None for i, d in enumerate(first))


# -- cond: the primitive -------------------------------------------------------------------------
def _branch_index(selector, n):
    if getattr(selector, "ndim", 0) != 0:
        raise InvalidArgumentError(f"The branch selector of a control-flow op must be a scalar, "
                                   f"but it has shape {list(selector.shape)}.")
    if selector.dtype == np.bool_:
        return 0 if bool(selector) else 1
    i = int(selector)
    return i if 0 <= i < n else n - 1


def _cond_rule(selector, *operands, out_shapes, out_dtypes, **_):
    return tuple(Spec(s, d) for s, d in zip(out_shapes, out_dtypes))


def _cond_impl(xp, selector, *operands, branches, maps, n_user, residuals, out_shapes,
               out_dtypes, keep_residuals=False, variables=(), var_slots=(), writes=()):
    idx = _branch_index(selector, len(branches))
    graph = branches[idx]
    args = [operands[j] for j in maps[idx]]
    mine = residuals[idx]
    keep = bool(mine) and bool(keep_residuals or _tape_state.active_tapes or _keeping.depth)
    with _Eager(keep):
        if keep:
            outs, collected = _run_arrays(graph, args, collect=mine)
        else:
            outs = _run_arrays(graph, args)
    result = list(outs)
    k = n_user
    for b, nodes in enumerate(residuals):
        for i in nodes:
            for j, sym in enumerate(branches[b].nodes[i].outputs):
                if keep and b == idx:
                    result.append(collected[i][j])
                else:
                    result.append(_placeholder_array(xp, out_shapes[k], out_dtypes[k]))
                k += 1
    while len(result) < len(out_dtypes):  # the marker output of a cond with no outputs
        result.append(np.asarray(True))
    return tuple(result)


def _residual_layout(branches, residuals, n_user):
    """{branch: {node index: positions of its outputs among the node's outputs}}."""
    layout, k = [], n_user
    for b, nodes in enumerate(residuals):
        per = {}
        for i in nodes:
            n = len(branches[b].nodes[i].outputs)
            per[i] = tuple(range(k, k + n))
            k += n
        layout.append(per)
    return layout


def _distinct(values):
    """`values` with repeated objects replaced by identity copies: two operand slots that hold
    the same Tensor at run time (after CSE, say) each get their own gradient."""
    seen, out = set(), []
    for v in values:
        if id(v) in seen and not _is_var(v):
            v = creation_ops.identity(v)
        seen.add(id(v))
        out.append(v)
    return out


def _keep_residuals_of(out):
    node = getattr(out[0], "node", None) if out else None
    if node is not None and "keep_residuals" in node.attrs:
        node.attrs["keep_residuals"] = True


def _cond_vjp(g, out, selector, *operands, branches, maps, n_user, residuals, out_shapes,
              out_dtypes, keep_residuals=False, variables=(), var_slots=(), writes=()):
    slot_var = dict(zip(var_slots, variables))
    wanted = [j for j, o in enumerate(operands) if _is_float(o)]
    if not wanted:
        return (None,) * (1 + len(operands))
    if any(residuals) and _is_sym(out[0]):
        _keep_residuals_of(out)
    layout = _residual_layout(branches, residuals, n_user)
    float_outs = [i for i in range(n_user) if dtypes.as_dtype(out_dtypes[i]).is_floating or
                  dtypes.as_dtype(out_dtypes[i]).is_complex]

    values = _distinct(operands)

    def gradient_of(b):
        def branch():
            graph = branches[b]
            sources = [slot_var.get(j, values[j]) for j in wanted]
            replay = {i: tuple(out[k] for k in ks) for i, ks in layout[b].items()}
            with GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(sources)
                outs = _interpret(graph, [values[j] for j in maps[b]], replay=replay)
            targets = [outs[i] for i in float_outs]
            grads = [g[i] for i in float_outs]
            for i, ks in layout[b].items():
                for k, t in zip(ks, replay[i]):
                    if _is_float(t):
                        targets.append(t)
                        grads.append(g[k])
            return tuple(tape.gradient(targets, sources, output_gradients=grads,
                                       unconnected_gradients="zero"))
        return branch

    grads = _select(selector, [gradient_of(b) for b in range(len(branches))], "cond_grad")
    result = [None] * len(operands)
    for j, gr in zip(wanted, grads):
        result[j] = gr
    return (None, *result)


for _name, _stateful in (("cond", False), ("stateful_cond", True)):
    _p = primitive(_name, shape=_cond_rule, num_outputs=None, stateful=_stateful)(_cond_impl)
    _p.def_vjp(_cond_vjp)
_cond_prim = registry.get("cond")
_stateful_cond_prim = registry.get("stateful_cond")


def _select(selector, fns, name, labels=None):
    """Calls `fns[i]` for an eager selector; builds a cond node for a symbolic one."""
    if not _is_sym(selector):
        value = selector._value if isinstance(selector, Tensor) else np.asarray(selector)
        return fns[_branch_index(value, len(fns))]()
    return _build_switch(selector, fns, name, labels or [f"branch {i}" for i in range(len(fns))])


def _build_switch(selector, fns, name, labels, op="cond"):
    traced = [_trace(fn, (), f"{name}_{label.replace(' ', '_')}") for fn, label in
              zip(fns, labels)]
    _check_branches(traced, labels, op)
    flat_first = traced[0].flat
    positions = [i for i, x in enumerate(flat_first) if x is not None]
    out_shapes = [_merge_shapes([_spec_of(t.flat[i]).shape for t in traced]) for i in positions]
    out_dtypes = [_spec_of(flat_first[i]).dtype for i in positions]
    graphs = [t.graph for t in traced]
    operands, maps, var_slots, variables = _operands(graphs)
    residuals, writes = _stateful_info(graphs)
    for g, nodes in zip(graphs, residuals):
        for i in nodes:
            for o in g.nodes[i].outputs:
                out_shapes.append(_shape_tuple(o.shape))
                out_dtypes.append(o.dtype)
    if not out_dtypes:  # a node needs an output: a bool marker (no gradient flows through it)
        out_shapes.append(())
        out_dtypes.append(dtypes.bool)
    stateful = any(residuals)
    attrs = {"branches": tuple(graphs), "maps": maps, "n_user": len(positions),
             "residuals": residuals, "out_shapes": tuple(out_shapes),
             "out_dtypes": tuple(out_dtypes), "variables": variables, "var_slots": var_slots}
    if stateful:
        attrs.update(keep_residuals=False, writes=writes)
    prim = _stateful_cond_prim if stateful else _cond_prim
    outs = run(prim, (selector, *operands), **attrs)
    flat = list(flat_first)
    leaves = nest.flatten(traced[0].structure)
    for k, i in enumerate(positions):
        flat[i] = leaves[i]._with_buffer(outs[k]) if _is_ta(leaves[i]) else outs[k]
    return nest.pack_sequence_as(traced[0].structure, flat)


def _check_branches(traced, labels, op):
    first = traced[0]
    for t, label in zip(traced[1:], labels[1:]):
        same = _same_structure(first.structure, t.structure)
        if same:
            bad = [i for i, (a, b) in enumerate(zip(first.flat, t.flat))
                   if a is not None and a.dtype != b.dtype]
        if not same or bad:
            what = "structure" if not same else (
                f"dtypes (output {bad[0]}: {first.flat[bad[0]].dtype.name} vs "
                f"{t.flat[bad[0]].dtype.name})")
            raise TypeError(
                f"{labels[0]} and {label} arguments to dtf.{op} must have the same number, "
                f"type, and overall structure of return values; their {what} differ. Cast or "
                f"restructure one branch to match the other.\n\n"
                f"{labels[0]} output: {_structure_text(first.structure, first.flat)}\n"
                f"{label} output: {_structure_text(t.structure, t.flat)}")


# -- public: cond, switch_case, case ----------------------------------------------------------
def _check_callable(fn, what, op):
    if not callable(fn):
        raise TypeError(f"dtf.{op}: {what} must be callable, got {type(fn).__name__}: {fn!r}.")


def _check_selector_spec(x, op, what, kind):
    spec = _spec_of(x)
    ok = spec.dtype == dtypes.bool if kind == "bool" else spec.dtype.is_integer
    if not ok:
        expected = "a bool Tensor (compare it, e.g. `x > 0`, or dtf.cast it to dtf.bool)" \
            if kind == "bool" else "an integer Tensor (int32 or int64)"
        raise TypeError(f"dtf.{op}: {what} must be {expected}, got {_describe(x)}.")
    if spec.shape is not None and len(spec.shape) != 0:
        raise ValueError(f"dtf.{op}: {what} must be a scalar, got {_describe(x)}. Reduce it "
                         "(dtf.reduce_all / dtf.reduce_any) or index one element.")


def _as_selector(x, op, what, kind):
    """A Python value, an eager Tensor (checked), or a symbolic tensor (checked)."""
    if _is_var(x):
        x = x.read_value()
    if isinstance(x, Tensor) or _is_sym(x):
        _check_selector_spec(x, op, what, kind)
        return x
    if kind == "bool" and isinstance(x, (bool, np.bool_)):
        return bool(x)
    if kind == "int" and isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
        return int(x)
    expected = "a Python bool or a scalar bool Tensor" if kind == "bool" else \
        "a Python int or a scalar integer Tensor"
    raise TypeError(f"dtf.{op}: {what} must be {expected}, got {type(x).__name__}: {x!r}.")


def cond(pred, true_fn=None, false_fn=None, name=None):
    """Returns `true_fn()` if `pred` is true, else `false_fn()`, as `tf.cond`.

    Eagerly (or with a Python bool) only the chosen branch runs. On a symbolic `pred` (inside a
    traced `dtf.function`) both branches are traced and the result is one graph op that runs the
    chosen one; the branches must then return the same structure and dtypes.

    Args:
        pred: a scalar bool Tensor, or a Python bool.
        true_fn, false_fn: callables taking no arguments.
        name: a name for the op's graphs.

    Example:
        >>> x, y = dtf.constant(2.0), dtf.constant(5.0)
        >>> dtf.cond(x < y, lambda: x + y, lambda: x * y).numpy()
        7.0
    """
    _check_callable(true_fn, "'true_fn'", "cond")
    _check_callable(false_fn, "'false_fn'", "cond")
    if pred is None:
        raise TypeError("dtf.cond: pred must not be None: pass a scalar bool Tensor or a "
                        "Python bool.")
    p = _as_selector(pred, "cond", "pred", "bool")
    if type(p) is bool:
        return true_fn() if p else false_fn()
    if not _is_sym(p):
        return true_fn() if bool(p._value) else false_fn()
    return _build_switch(p, [true_fn, false_fn], name or "cond", ["true_fn", "false_fn"])


def switch_case(branch_index, branch_fns, default=None, name="switch_case"):
    """Runs `branch_fns[branch_index]()`, as `tf.switch_case`.

    An index out of range runs `default`, or the last branch when there is no default.

    Args:
        branch_index: a scalar int32/int64 Tensor (or a Python int).
        branch_fns: a list of callables, a list of (int, callable) pairs, or a dict int ->
            callable; the keys must be 0..n-1.
        default: the callable for out-of-range indices.

    Example:
        >>> dtf.switch_case(dtf.constant(1), [lambda: 10, lambda: 20, lambda: 30])
        20
    """
    fns = _branch_list(branch_fns)
    if default is not None:
        _check_callable(default, "'default'", "switch_case")
        fns.append(default)
    index = _as_selector(branch_index, "switch_case", "'branch_index'", "int")
    if type(index) is int:
        return fns[index if 0 <= index < len(fns) else len(fns) - 1]()
    if not _is_sym(index):
        return fns[_branch_index(index._value, len(fns))]()
    labels = [f"branch {i}" for i in range(len(fns) - (default is not None))]
    labels += ["default"] if default is not None else []
    return _build_switch(index, fns, name, labels, op="switch_case")


def _branch_list(branch_fns):
    if isinstance(branch_fns, dict):
        items = list(branch_fns.items())
    elif isinstance(branch_fns, (list, tuple)):
        items = list(branch_fns)
        if items and all(callable(f) for f in items):
            items = list(enumerate(items))
    else:
        raise TypeError(f"dtf.switch_case: 'branch_fns' must be a list, tuple or dict, got "
                        f"{type(branch_fns).__name__}.")
    if not items:
        raise ValueError("dtf.switch_case: must provide at least one item in 'branch_fns'.")
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(f"dtf.switch_case: each entry in 'branch_fns' must be a callable or "
                            f"a 2-tuple (index, callable). Received {item!r}.")
        key, fn = item
        if not isinstance(key, (int, np.integer)) or isinstance(key, bool):
            raise TypeError(f"dtf.switch_case: branch indices (keys) must be ints, got {key!r}.")
        _check_callable(fn, f"branch_fns[{key}]", "switch_case")
    keys = sorted(int(k) for k, _ in items)
    if keys != list(range(len(items))):
        raise ValueError(f"dtf.switch_case: branch indices (keys) must form a contiguous range "
                         f"of [0 to {len(items)}) but found {{{','.join(map(str, keys))}}}.")
    return [fn for _, fn in sorted(items, key=lambda kv: int(kv[0]))]


def _case_index_rule(*preds, exclusive, has_default):
    return Spec((), dtypes.int32)


@primitive("case_index", shape=_case_index_rule, differentiable=False)
def _case_index(xp, *preds, exclusive, has_default):
    """Index of the first true predicate (len(preds) when none is), checking `dtf.case`'s
    conditions as TensorFlow's assertions do."""
    values = [bool(p) for p in preds]
    return np.int32(_first_true(values, exclusive, has_default))


def _first_true(values, exclusive, has_default):
    trues = [i for i, v in enumerate(values) if v]
    shown = ", ".join(map(str, values))
    if exclusive and len(trues) > 1:
        raise InvalidArgumentError(f"dtf.case: Input error: exclusive=True: more than 1 "
                                   f"conditions evaluated as True: {shown}")
    if not trues:
        if not has_default:
            raise InvalidArgumentError(f"dtf.case: Input error: None of conditions evaluated as "
                                       f"True (and no default was given): {shown}")
        return len(values)
    return trues[0]


def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name="case"):
    """Runs the callable of the first true predicate, as `tf.case`.

    Args:
        pred_fn_pairs: a list of (scalar bool Tensor, callable) pairs.
        default: the callable when no predicate is true. Without one, no predicate being true
            is an error (InvalidArgumentError when it runs).
        exclusive: also check that at most one predicate is true.

    Example:
        >>> x = dtf.constant(5)
        >>> dtf.case([(x < 0, lambda: -1), (x > 3, lambda: 1)], default=lambda: 0)
        1
    """
    if isinstance(pred_fn_pairs, dict):
        pred_fn_pairs = list(pred_fn_pairs.items())
    if not isinstance(pred_fn_pairs, (list, tuple)):
        raise TypeError(f"dtf.case: pred_fn_pairs must be a list of (pred, callable) pairs, got "
                        f"{type(pred_fn_pairs).__name__}.")
    preds, fns = [], []
    for k, pair in enumerate(pred_fn_pairs):
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise TypeError(f"dtf.case: each entry of pred_fn_pairs must be a (pred, callable) "
                            f"pair; entry {k} is {pair!r}.")
        preds.append(_as_selector(pair[0], "case", f"the predicate of pair {k}", "bool"))
        _check_callable(pair[1], f"the callable of pair {k}", "case")
        fns.append(pair[1])
    if default is not None:
        _check_callable(default, "'default'", "case")
    if not fns and default is None:
        raise ValueError("dtf.case: no predicates and no default: pass at least one "
                         "(pred, callable) pair or a default.")
    if not any(_is_sym(p) for p in preds):
        values = [p if type(p) is bool else bool(p._value) for p in preds]
        i = _first_true(values, exclusive, default is not None)
        return fns[i]() if i < len(fns) else default()
    preds = [creation_ops.constant(p) if type(p) is bool else p for p in preds]
    index = run(_case_index, tuple(preds), exclusive=bool(exclusive),
                has_default=default is not None)
    labels = [f"the callable of pair {k}" for k in range(len(fns))]
    if default is not None:
        fns, labels = fns + [default], labels + ["default"]
    return _build_switch(index, fns, name, labels, op="case")



# -- while_loop: the primitive -------------------------------------------------------------------
def _history_read(history, k):
    """Row `k` of a loop's stacked per-iteration values (read as TensorArray rows are)."""
    return run(_read_rows, (history, k), element_shape=None, what="loop history")


def _stack(xp, rows, shape, dtype, buffers=False):
    """Stacks per-iteration arrays; a placeholder when they differ in shape (the VJP then says
    why it cannot run). `buffers`: the rows are a TensorArray's buffers, whose unwritten marker
    and shorter (dynamically grown) versions mean the same as zeros of the largest one."""
    if not rows:
        return xp.zeros((0,) + tuple(0 if d is None else d for d in (shape or ())),
                        dtype=dtype.as_numpy_dtype)
    if buffers:
        full = [r.shape for r in rows if r.ndim]
        if full and all(f[1:] == full[0][1:] for f in full):
            top = (max(f[0] for f in full),) + full[0][1:]
            rows = [r if r.shape == top else _padded(xp, r, top) for r in rows]
    first = rows[0].shape
    if any(r.shape != first for r in rows):
        return _placeholder_array(xp, None if shape is None else (None,) + tuple(shape), dtype)
    return xp.stack(rows)


def _padded(xp, buffer, shape):
    out = xp.zeros(shape, dtype=buffer.dtype)
    if buffer.ndim:
        out[:buffer.shape[0]] = buffer
    return out


def _while_rule(*inputs, out_shapes, out_dtypes, **_):
    return tuple(Spec(s, d) for s, d in zip(out_shapes, out_dtypes))


def _while_impl(xp, *arrays, cond_graph, body_graph, n_vars, cond_map, body_map, max_slot,
                residuals, history, out_shapes, out_dtypes, keep_residuals=False, variables=(),
                var_slots=(), writes=()):
    m = n_vars
    loop = list(arrays[:m])
    operands = arrays[m:]
    cond_args = [operands[j] for j in cond_map]
    body_args = [operands[j] for j in body_map]
    limit = None if max_slot < 0 else int(operands[max_slot])
    keep = bool(keep_residuals or _tape_state.active_tapes or _keeping.depth)
    stacked = [j for j in range(m) if history[j] != "final"] if keep else []
    rows = {j: [] for j in stacked}
    stateful = {i: [] for i in residuals} if keep and residuals else None
    n = 0
    with _Eager(keep):
        while limit is None or n < limit:
            (go,) = _run_arrays(cond_graph, loop + cond_args)
            if getattr(go, "ndim", 0) != 0:
                raise InvalidArgumentError(f"dtf.while_loop: cond must return a scalar bool, "
                                           f"but it returned shape {list(go.shape)}.")
            if not go:
                break
            for j in stacked:
                rows[j].append(loop[j])
            if stateful is not None:
                loop, recorded = _run_arrays(body_graph, loop + body_args, collect=residuals)
                for i in residuals:
                    stateful[i].append(recorded[i])
            else:
                loop = _run_arrays(body_graph, loop + body_args)
            n += 1
    result = list(loop) + [np.int32(n)]
    for j in range(m):
        spec_shape, dtype = out_shapes[m + 1 + j], out_dtypes[m + 1 + j]
        result.append(_stack(xp, rows[j], out_shapes[j], dtype, history[j] == "buffer")
                      if j in rows else
                      _placeholder_array(xp, spec_shape, dtype))
    k = 2 * m + 1
    for i in residuals:
        for j in range(len(body_graph.nodes[i].outputs)):
            shape, dtype = out_shapes[k], out_dtypes[k]
            if stateful is not None:
                inner = None if shape is None else shape[1:]
                result.append(_stack(xp, [r[j] for r in stateful[i]], inner, dtype))
            else:
                result.append(_placeholder_array(xp, shape, dtype))
            k += 1
    return tuple(result)


def _is_zero(t) -> bool:
    """Is `t` a gradient known to be zero (a tape's filler for an output nothing used)?"""
    if _is_sym(t):
        return t.node is not None and t.node.prim.name in ("zeros_like", "zeros")
    return not bool(t._value.any())


def _while_vjp(g, out, *inputs, cond_graph, body_graph, n_vars, cond_map, body_map, max_slot,
               residuals, history, out_shapes, out_dtypes, keep_residuals=False, variables=(),
               var_slots=(), writes=()):
    m = n_vars
    operands = inputs[m:]
    slot_var = dict(zip(var_slots, variables))
    loop_f = [j for j in range(m) if _is_float(inputs[j])]
    read = set(body_map) | set(var_slots)
    op_f = [j for j, o in enumerate(operands) if j in read and j != max_slot and _is_float(o)]
    if not loop_f and not op_f:
        return (None,) * len(inputs)
    if _is_sym(out[0]):
        _keep_residuals_of(out)
    count, stacks = out[m], out[m + 1:2 * m + 1]
    layout, k = {}, 2 * m + 1
    for i in residuals:
        layout[i] = tuple(range(k, k + len(body_graph.nodes[i].outputs)))
        k += len(layout[i])
    g_history = {j: g[m + 1 + j] for j in loop_f if not _is_zero(g[m + 1 + j])}
    g_residual = {p: g[p] for ps in layout.values() for p in ps
                  if _is_float(out[p]) and not _is_zero(g[p])}
    values = _distinct(operands)
    sources = [slot_var.get(j, values[j]) for j in op_f]
    body_values = [values[j] for j in body_map]
    n_f = len(loop_f)

    def reverse_body(k, *state):
        xs = [_history_read(h, k) if kind != "final" else final
              for h, kind, final in zip(stacks, history, out[:m])]
        replay = {i: tuple(_history_read(out[p], k) for p in ps)
                  for i, ps in layout.items()}
        with GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([xs[j] for j in loop_f] + sources)
            outs = _interpret(body_graph, xs + body_values, replay=replay)
        targets = [outs[j] for j in loop_f]
        cotangents = list(state[:n_f])
        for i, ps in layout.items():
            for p, t in zip(ps, replay[i]):
                if p in g_residual:
                    targets.append(t)
                    cotangents.append(_history_read(g_residual[p], k))
        grads = tape.gradient(targets, [xs[j] for j in loop_f] + sources,
                              output_gradients=cotangents, unconnected_gradients="zero")
        new_gx = [gr + _history_read(g_history[j], k) if j in g_history else gr
                  for j, gr in zip(loop_f, grads[:n_f])]
        new_acc = [a + gr for a, gr in zip(state[n_f:], grads[n_f:])]
        return (k - 1, *new_gx, *new_acc)

    start = [count - 1] + [g[j] for j in loop_f] + \
        [creation_ops.zeros_like(s) for s in sources]
    invariants = [TensorShape([])] + [TensorShape(None if out_shapes[j] is None else
                                                  list(out_shapes[j])) for j in loop_f] + \
        [TensorShape(_spec_of(s).shape and list(_spec_of(s).shape)) for s in sources]
    final = _while(lambda k, *_: k >= 0, reverse_body, start, invariants, None,
                   "while_grad", trace_eager=False)
    result = [None] * len(inputs)
    for j, gr in zip(loop_f, final[1:1 + n_f]):
        result[j] = gr
    for j, gr in zip(op_f, final[1 + n_f:]):
        result[m + j] = gr
    return tuple(result)


for _name, _stateful in (("while_loop", False), ("stateful_while_loop", True)):
    _p = primitive(_name, shape=_while_rule, num_outputs=None, stateful=_stateful,
                   data_dependent_shape=True)(_while_impl)  # the history: one row per iteration
    _p.def_vjp(_while_vjp)
_while_prim = registry.get("while_loop")
_stateful_while_prim = registry.get("stateful_while_loop")


# -- public: while_loop --------------------------------------------------------------------------
def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10,
               back_prop=True, swap_memory=False, maximum_iterations=None, name=None):
    """Repeats `loop_vars = body(*loop_vars)` while `cond(*loop_vars)`, as `tf.while_loop`.

    Eagerly this is a Python loop. On symbolic values (inside a traced `dtf.function`) the
    condition and the body are traced once each and the loop is one graph op; the body must
    then keep each loop variable's dtype, and its shape unless `shape_invariants` relaxes it.

    Args:
        cond: callable of the loop variables returning a scalar bool Tensor.
        body: callable of the loop variables returning new values in the same structure.
        loop_vars: a (nested) tuple, namedtuple or list of Tensors (or one Tensor).
        shape_invariants: the same structure of TensorShapes the variables keep across
            iterations (None dims may vary); ignored eagerly.
        parallel_iterations, swap_memory: accepted for TensorFlow compatibility.
        back_prop: False stops gradients through the loop's results.
        maximum_iterations: stop after at most this many iterations.

    Example:
        >>> i, total = dtf.while_loop(lambda i, t: i < 5, lambda i, t: (i + 1, t + 2.0),
        ...                           (dtf.constant(0), dtf.constant(0.0)))
        >>> float(total)
        10.0
    """
    _check_callable(cond, "'cond'", "while_loop")
    _check_callable(body, "'body'", "while_loop")
    if not isinstance(parallel_iterations, (int, np.integer)) or parallel_iterations < 1:
        raise TypeError("dtf.while_loop: 'parallel_iterations' must be a positive integer, got "
                        f"{parallel_iterations!r}.")
    result = _while(cond, body, loop_vars, shape_invariants, maximum_iterations,
                    name or "while", trace_eager=True)
    if back_prop:
        return result
    from dtf.ops.nn_ops import stop_gradient

    return nest.map_structure(lambda t: stop_gradient(t) if _is_float(t) else t, result)


def _to_loop_value(x):
    if _is_sym(x) or isinstance(x, Tensor) or _is_ta(x):
        return x
    if x is None:
        raise ValueError("dtf.while_loop: a loop variable is None: every loop variable must be "
                         "a Tensor (or convertible to one).")
    return creation_ops.convert_to_tensor(x)


def _while(cond, body, loop_vars, shape_invariants, maximum_iterations, name, trace_eager):
    """while_loop's work. `trace_eager`: inside a trace, build a graph op even when the loop
    variables are eager (as TensorFlow does); the VJPs' own loops stay eager on eager values."""
    single = not isinstance(loop_vars, (list, tuple))
    structure = [loop_vars] if single else loop_vars
    flat = [_to_loop_value(x) for x in nest.flatten(structure)]
    if not flat:
        raise ValueError("dtf.while_loop: 'loop_vars' must be provided (a non-empty structure "
                         "of Tensors).")
    limit = maximum_iterations
    if limit is not None and not _is_sym(limit):
        limit = int(limit._value if isinstance(limit, Tensor) else
                    limit.read_value()._value if _is_var(limit) else limit)
    n = 0
    symbolic = _is_sym(limit) or any(_is_sym(getattr(x, "_buffer", x)) for x in flat) or (
        trace_eager and context.is_tracing())
    # A flat list/tuple of Tensors (the common case) skips packing and flattening.
    simple = not single and not any(nest.is_nested(x) for x in structure)
    args = list(flat) if simple or single else _loop_args(structure, flat, single)
    while not symbolic and (limit is None or n < limit):
        go = cond(*args)
        if type(go) is Tensor and go._value.dtype == np.bool_ and go._value.ndim == 0:
            if not go._value:
                break
        elif _is_sym(go):
            symbolic = True
            break
        elif not _truth(go):
            break
        out = body(*args)
        new = None
        if type(out) is Tensor and len(flat) == 1 and (single or simple):
            out = (out,)  # one loop variable, returned bare
        if (simple or single) and type(out) in (list, tuple) and len(out) == len(flat):
            new = [x if type(x) is Tensor else None for x in out]
            if None in new or any(a._value.dtype != b._value.dtype for a, b in zip(flat, new)):
                new = None
        flat = new if new is not None else _body_results(out, structure, flat, single)
        args = flat if new is not None else _loop_args(structure, flat, single)
        n += 1
        symbolic = new is None and any(_is_sym(getattr(x, "_buffer", x)) for x in flat)
    if symbolic:
        remaining = limit if limit is None or _is_sym(limit) or n == 0 else limit - n
        flat = _build_while(cond, body, structure, flat, single, shape_invariants, remaining, name)
    packed = nest.pack_sequence_as(structure, flat)
    return packed[0] if single else packed


def _loop_args(structure, flat, single):
    packed = nest.pack_sequence_as(structure, flat)
    return [packed[0]] if single else list(packed)


def _truth(go) -> bool:
    if isinstance(go, (bool, np.bool_)):
        return bool(go)
    if _is_var(go):
        go = go.read_value()
    if isinstance(go, Tensor) and go.dtype == dtypes.bool and go._value.ndim == 0:
        return bool(go._value)
    raise TypeError(f"dtf.while_loop: cond must return a scalar bool Tensor (or a Python "
                    f"bool), got {_describe(go) if isinstance(go, Tensor) else repr(go)}.")


def _body_results(out, structure, flat, single, check_dtypes=True):
    """The body's results, flat, checked against the loop variables' structure and dtypes."""
    if single or (len(structure) == 1 and not isinstance(out, (list, tuple))):
        out = [out]  # one loop variable: the body may return it bare
    if not _same_structure(structure, out, loose=True):
        raise ValueError(
            "dtf.while_loop: body must return the same structure as loop_vars.\n\n"
            f"loop_vars: {_structure_text(structure, flat)}\n"
            f"body returned: {_structure_text(out, [_maybe_tensor(x) for x in nest.flatten(out)])}")
    new = [_to_loop_value(x) for x in nest.flatten(out)]
    if check_dtypes:
        for j, (a, b) in enumerate(zip(flat, new)):
            if a.dtype != b.dtype:
                raise TypeError(
                    f"dtf.while_loop: loop var {j} enters the loop with type {a.dtype.name} but "
                    f"has type {b.dtype.name} after 1 iteration. Its type should remain "
                    f"constant: dtf.cast the body's result to {a.dtype.name}.")
    return new


def _maybe_tensor(x):
    try:
        return _to_loop_value(x)
    except (ValueError, TypeError):
        return None


def _invariants(structure, flat, shape_invariants, single, arrays):
    if shape_invariants is None:
        return [_ta_invariant(a, x) if a is not None else
                TensorShape(_spec_of(x).shape and list(_spec_of(x).shape))
                for x, a in zip(flat, arrays)]
    try:
        leaves = _paired(structure, [shape_invariants] if single else shape_invariants)
    except (TypeError, KeyError, ValueError):
        leaves = None
    if leaves is None or len(leaves) != len(flat):
        raise ValueError(f"dtf.while_loop: shape_invariants {shape_invariants!r} does not match "
                         f"the structure of loop_vars: give one TensorShape per loop variable.")
    out = []
    for j, (x, s) in enumerate(zip(flat, leaves)):
        if arrays[j] is not None:  # a TensorArray keeps its own (its elements' shape is free)
            out.append(_ta_invariant(arrays[j], x))
            continue
        inv = s if isinstance(s, TensorShape) else TensorShape(s)
        if not inv.is_compatible_with(x.shape):
            raise ValueError(f"dtf.while_loop: the shape invariant {inv} of loop var {j} is not "
                             f"compatible with the shape {x.shape} it enters the loop with.")
        out.append(inv)
    return out


def _paired(structure, shapes):
    """The shapes of `shapes` (a structure like `structure`, TensorShapes or dim lists at its
    leaves), in `nest.flatten(structure)` order."""
    if not nest.is_nested(structure):
        return [shapes]
    if isinstance(structure, dict):
        keys = nest._sorted_keys(structure)
        return [s for k in keys for s in _paired(structure[k], shapes[k])]
    if len(structure) != len(shapes):
        raise ValueError("length mismatch")
    return [s for a, b in zip(structure, shapes) for s in _paired(a, b)]


def _at_most_as_specific(shape, invariant) -> bool:
    """TensorFlow's `_ShapeLessThanOrEqual`: `shape` is at least as specific as `invariant`."""
    if invariant.dims is None:
        return True
    if shape.dims is None or len(shape.dims) != len(invariant.dims):
        return False
    return all(b is None or a == b for a, b in zip(shape.dims, invariant.dims))


def _ta_invariant(ta, buffer):
    """What a TensorArray's buffer keeps across iterations: its shape, less the length when it
    may grow; nothing when it is still the unwritten marker."""
    dims = _spec_of(buffer).shape
    if not dims:
        return TensorShape(None)
    return TensorShape([None if ta.dynamic_size else dims[0]] + list(dims[1:]))


def _history_kinds(body, arrays):
    """Per loop variable: "final" when its VJP can use the loop's final value instead of a
    stacked per-iteration history (the body passes it through unchanged, or only writes into it
    as a TensorArray buffer, whose VJP needs no values); "buffer" for another TensorArray
    buffer (see `_stack`); else "stack"."""
    kinds = []
    for j in range(len(arrays)):
        start = body.inputs[j]
        if body._resolve(body.outputs[j]) is start:
            kinds.append("final")
            continue
        reach, only_writes = {id(start)}, True
        for node in body.nodes:
            hits = [k for k, t in enumerate(node.inputs) if id(body._resolve(t)) in reach]
            if not hits:
                continue
            if node.prim.name != "tensor_array_write" or hits != [0]:
                only_writes = False
                break
            reach.update(id(o) for o in node.outputs)
        kinds.append("final" if only_writes else "buffer" if arrays[j] is not None else "stack")
    return tuple(kinds)


def _build_while(cond, body, structure, flat, single, shape_invariants, limit, name):
    arrays = [x if _is_ta(x) else None for x in flat]  # TensorArrays travel as their buffers
    buffers = [x.flow if a is not None else x for x, a in zip(flat, arrays)]
    invariants = _invariants(structure, buffers, shape_invariants, single, arrays)
    holders = [placeholder(inv, x.dtype, name=f"{name}_loop_var_{j}")
               for j, (inv, x) in enumerate(zip(invariants, buffers))]

    def args(values):
        values = [a._with_buffer(v) if a is not None else v for a, v in zip(arrays, values)]
        return _loop_args(structure, values, single)

    traced_cond = _trace(lambda *p: cond(*args(p)), holders, f"{name}_cond")
    go = traced_cond.flat
    if len(go) != 1 or go[0] is None or go[0].dtype != dtypes.bool or \
            (_spec_of(go[0]).shape not in (None, ())):
        shown = _structure_text(traced_cond.structure, go)
        raise TypeError(f"dtf.while_loop: cond must return a scalar bool Tensor, got {shown}.")
    traced_body = _trace(lambda *p: body(*args(p)), holders, f"{name}_body")
    new = _body_results(traced_body.structure, structure, flat, single)
    for j, (a, t, inv) in enumerate(zip(arrays, new, invariants)):
        if (a is None) != (not _is_ta(t)):
            raise TypeError(f"dtf.while_loop: loop var {j} enters the loop as a "
                            f"{'TensorArray' if a is not None else 'Tensor'} but the body "
                            f"returned a {type(t).__name__} for it.")
        shape = _spec_of(t.flow if a is not None else t).shape
        shape = TensorShape(None if shape is None else list(shape))
        if not _at_most_as_specific(shape, inv):
            raise ValueError(
                f"Input tensor `loop var {j}` enters the loop with shape {inv}, but has shape "
                f"{shape} after one iteration. To allow the shape to vary across iterations, use "
                "the `shape_invariants` argument of dtf.while_loop to specify a less-specific "
                "shape.")
    graphs = [traced_cond.graph, traced_body.graph]
    operands, (cond_map, body_map), var_slots, variables = _operands(graphs)
    max_slot = -1
    if limit is not None:
        max_slot = len(operands)
        operands.append(limit if _is_sym(limit) else creation_ops.constant(limit, dtypes.int32))
    (cond_res, body_res), writes = _stateful_info(graphs)
    m = len(flat)
    inv_shapes = [_shape_tuple(s) for s in invariants]
    out_shapes = inv_shapes + [()] + [None if s is None else (None,) + s for s in inv_shapes]
    out_dtypes = [x.dtype for x in buffers] + [dtypes.int32] + [x.dtype for x in buffers]
    for i in body_res:
        for o in traced_body.graph.nodes[i].outputs:
            s = _shape_tuple(o.shape)
            out_shapes.append(None if s is None else (None,) + s)
            out_dtypes.append(o.dtype)
    attrs = {"cond_graph": graphs[0], "body_graph": graphs[1], "n_vars": m,
             "cond_map": cond_map, "body_map": body_map, "max_slot": max_slot,
             "residuals": body_res, "history": _history_kinds(graphs[1], arrays),
             "out_shapes": tuple(out_shapes), "out_dtypes": tuple(out_dtypes),
             "keep_residuals": False, "variables": variables, "var_slots": var_slots}
    stateful = bool(cond_res or body_res)
    if stateful:
        attrs["writes"] = writes
    outs = run(_stateful_while_prim if stateful else _while_prim, (*buffers, *operands), **attrs)
    return [a._with_buffer(o, new[j].element_shape) if a is not None else o
            for j, (a, o) in enumerate(zip(arrays, outs[:m]))]
