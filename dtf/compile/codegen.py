"""Lowering a Graph to a plan: generated straight-line Python that calls the backend directly.

`lower(graph)` runs the graph passes (`dtf.compile.passes`: simplification, constant folding,
common subexpressions, dead code), then writes one Python function for the whole graph, one line
per op, and compiles it. Running it costs almost no Python per op: no Tensor wrapping, no
op-table dispatch, no tape checks. Elementwise ops, matmuls, sums and the fused dense layer call
the array module (`xp`: NumPy, or CuPy for device arrays) directly; other ops call their
primitive's `impl` with their attributes bound as constants.

The generated code manages memory as a hand-written NumPy step would:

- fusion of elementwise chains: an elementwise op whose input is a temporary that only it reads
  computes into that temporary (`out=`), so `relu(x @ w + b)` becomes
  `t = xp.matmul(x, w); xp.add(t, b, out=t); xp.maximum(t, 0, out=t)`;
- buffer reuse: likewise an elementwise op at the last use of any temporary of its shape and
  dtype that the plan allocated (never an input, a constant, a Variable's array, a view of one,
  a graph output or a value handed to a stateful op);
- temporaries are released (`del`) right after their last use, so peak memory stays low.

Variables are read (`var._value`) at their node's place in program order, and stateful nodes
(assignments, optimizer steps, prints, random draws) run in program order. An error raised
inside the plan names the op that failed and its inputs' shapes and dtypes.

Example:
    >>> x = placeholder((2, 3))
    >>> plan = lower(Graph([x], [dtf.nn.relu(x * 2.0 + 1.0)]))
    >>> plan(np.ones((2, 3), np.float32))[0]
    array([[3., 3., 3.],
           [3., 3., 3.]], dtype=float32)
    >>> print(plan.source)  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import keyword
import math

import numpy as np

from dtf import backend as _backend
from dtf.compile import fusion, prim_table
from dtf.compile import passes as _passes
from dtf.compile.passes import PassResult, static_dtype, static_shape

__all__ = ["Plan", "PlanReport", "lower"]

# the errors the op table turns into InvalidArgumentError (registry._op_error); the plan too
_WRAPPED = (ValueError, IndexError, TypeError, ZeroDivisionError)
_ATTR_TEXT_LIMIT = 60


def _is_symbolic(x):
    return getattr(x, "_is_symbolic", False)


def _is_variable(x):
    return getattr(x, "_is_dtf_variable", False)


class PlanReport(dict):
    """What each pass did: pass name -> `PassResult` (its count, the nodes before and after it,
    and a line of detail). Prints one pass per line."""

    def __str__(self):
        return "\n".join(str(r) for r in self.values())


class Plan:
    """A graph lowered to generated code.

    Call it with one backend array per graph input (then one per capture); it returns a list of
    arrays, one per graph output. The function is generated once and compiled once per array
    module (NumPy, CuPy) the plan is called with.

    Attributes:
        graph: the Graph after the passes.
        source: the generated Python source.
        report: a `PlanReport` of every pass.
    """

    def __init__(self, graph, source, bindings, node_of_line, node_args, function_name, report):
        self.graph = graph
        self.source = source
        self.report = report
        self._bindings = bindings
        self._node_of_line = node_of_line
        self._node_args = node_args
        self._function_name = function_name
        self._functions: dict = {}  # type of the first array -> compiled function

    def __call__(self, *arrays):
        fn = self._functions.get(type(arrays[0]) if arrays else None)
        if fn is None:
            fn = self._compile(arrays)
        return fn(*arrays)

    def _compile(self, arrays):
        if arrays:
            xp = _backend.backend_of(arrays[0]).xp
        else:
            xp = _backend.backend_for(_backend.current_device()).xp
        namespace: dict = {}
        code = compile(self.source, f"<dtf plan {self._function_name}>", "exec")
        exec(code, namespace)  # noqa: S102  (our own generated source, no user text in it)
        fn = namespace["_make"](xp=xp, _fail=self._fail, **self._bindings)
        self._functions[type(arrays[0]) if arrays else None] = fn
        return fn

    def _fail(self, error):
        """The exception to raise for `error`, raised inside the plan: a wrapped op error
        naming the op and its inputs (ValueError & co, as the op table wraps them), or the
        error itself with a note naming the op."""
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_name != self._function_name:
            tb = tb.tb_next
        if tb is None:
            return error
        index = self._node_of_line.get(tb.tb_lineno)
        if index is None:
            return error
        node = self.graph.nodes[index]
        local = tb.tb_frame.f_locals
        described = ", ".join(_describe(kind, ref, local) for kind, ref in self._node_args[index])
        attrs = "".join(f", {k}={_short_repr(v)}" for k, v in node.attrs.items())
        where = f"node n{index} of the compiled graph {self.graph.name!r}"
        if isinstance(error, _WRAPPED):
            from dtf.errors import InvalidArgumentError

            wrapped = InvalidArgumentError(
                f"{node.prim.name}: cannot compute on inputs ({described}){attrs}: {error} "
                f"[Op:{node.prim.name}] ({where})")
            wrapped.__cause__ = error
            wrapped.__suppress_context__ = True
            return wrapped
        error.add_note(f"raised by op {node.prim.name} on inputs ({described}) ({where})")
        return error

    def __str__(self):
        return f"{self.source}\n# passes:\n" + "\n".join(f"#   {r}" for r in
                                                        self.report.values())

    def __repr__(self):
        return f"<Plan {self._function_name}: {len(self.graph.nodes)} nodes>"


def _short_repr(value):
    text = repr(value)
    return text if len(text) <= _ATTR_TEXT_LIMIT else text[:_ATTR_TEXT_LIMIT - 3] + "..."


def _describe(kind, ref, local):
    from dtf import dtypes

    if kind == "local":
        value = local.get(ref)
    elif kind == "variable":
        value = ref._value
    else:
        value = ref
    if value is None or not hasattr(value, "shape"):
        return "?"
    try:
        name = dtypes.from_numpy(value.dtype).name
    except (TypeError, KeyError, ValueError):
        name = str(value.dtype)
    return f"{name}{list(value.shape)}"


def lower(graph, optimize: bool = True) -> Plan:
    """Runs the passes on `graph` (in place, unless `optimize=False`) and lowers it to a Plan.

    Args:
        graph: a `dtf.compile.graph.Graph` (a traced program, or a graph between symbolic
            inputs and outputs).
        optimize: run simplification, constant folding, CSE and dead-code elimination first.

    Returns:
        A `Plan`: `plan(*arrays)` -> list of output arrays; `plan.source`, `plan.report`.

    Example:
        >>> x = placeholder((4,))
        >>> lower(Graph([x], [dtf.exp(x) * 1.0])).report["simplify"].count
        1
    """
    report = PlanReport()
    if optimize:
        for result in _passes.run_passes(graph):
            report[result.name] = result
    generator = _Generator(graph)
    generator.generate()
    report.update(generator.report())
    return Plan(graph, generator.source, generator.bindings, generator.node_of_line,
                generator.node_args, generator.function_name, report)


# -- the generator -----------------------------------------------------------------------------
def _identifier(text):
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in text).strip("_")
    if not cleaned or cleaned[0].isdigit() or keyword.iskeyword(cleaned):
        cleaned = "g_" + cleaned
    return cleaned[:40]


def _literal(value):
    """Python source for `value` when it is a plain literal that reads back equal, else None."""
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if type(value) is int:
        return repr(value)
    if type(value) is float:
        return repr(value) if math.isfinite(value) else None
    if type(value) in (tuple, list):
        parts = [_literal(v) for v in value]
        if any(p is None for p in parts):
            return None
        if type(value) is tuple:
            return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"
        return "[" + ", ".join(parts) + "]"
    return None


class _Generator:
    """Writes the plan's source for a graph, deciding where results may go `out=`."""

    def __init__(self, graph):
        self.graph = graph
        self.nodes = graph.nodes
        self.resolve = graph._resolve
        self.function_name = "plan_" + _identifier(graph.name or "graph")
        self.bindings: dict = {}  # closure name -> object
        self._bound: dict = {}  # (kind, id(object)) -> closure name
        self._counters: dict = {}
        self.names: dict = {}  # id(symbolic value) -> local name holding it
        self.params: list = []
        self.lines: list = []  # (statement, node index or None)
        self.node_args: list = []  # per node: [(kind, ref)] to describe its inputs on errors
        self._temp_names = (f"t{i}" for i in itertools.count())
        self.counts = {"inline": 0, "impl": 0, "fused": 0, "chains": 0, "reused": 0,
                       "released": 0, "pairs": 0}
        self.saved_for: dict = {}  # gradient node index -> name of its forward's saved arrays

    # -- names ----------------------------------------------------------------------------------
    def _bind(self, obj, prefix):
        key = (prefix, id(obj))
        name = self._bound.get(key)
        if name is None:
            n = self._counters.get(prefix, 0)
            self._counters[prefix] = n + 1
            name = f"{prefix}{n}"
            self._bound[key] = name
            self.bindings[name] = obj
        return name

    def _impl_name(self, prim):
        key = ("f", id(prim.impl))
        name = self._bound.get(key)
        if name is None:
            name = f"f_{_identifier(prim.name)}"
            while name in self.bindings:
                name += "_"
            self._bound[key] = name
            self.bindings[name] = prim.impl
        return name

    def _zero(self, dtype):
        """The closure name of `dtype`'s zero (a NumPy scalar, as the impls use)."""
        dtype = np.dtype(dtype)
        name = f"zero_{dtype.name}"
        self.bindings.setdefault(name, dtype.type(0))
        return name

    def _expr(self, value):
        if _is_symbolic(value):
            name = self.names.get(id(value))
            if name is None:
                raise ValueError(f"Cannot lower graph {self.graph.name!r}: {value.name} is read "
                                 "before any node makes it, and it is not an input.")
            return name
        if _is_variable(value):
            return self._bind(value, "var") + "._value"
        return self._bind(value._value, "const")  # an eager Tensor: a constant

    def _attr_expr(self, value):
        text = _literal(value)
        return text if text is not None else self._bind(value, "attr")

    def _emit(self, statement, node_index=None):
        self.lines.append((statement, node_index))

    # -- liveness and aliasing ----------------------------------------------------------------
    def _analyse(self):
        """Last use, consumers and escapes of every symbolic value."""
        end = len(self.nodes)
        self.last_use: dict = {}
        self.consumers: dict = {}
        self.escapes: set = set()
        for i, node in enumerate(self.nodes):
            for t in node.inputs:
                r = self.resolve(t)
                if _is_symbolic(r):
                    self.last_use[id(r)] = i
                    self.consumers.setdefault(id(r), set()).add(i)
                    if node.prim.stateful:  # it may keep the array (a Variable's new value)
                        self.escapes.add(id(r))
        for t in self.graph.outputs:
            r = self.resolve(t)
            if _is_symbolic(r):
                self.last_use[id(r)] = end
                self.escapes.add(id(r))
        # the buffers the plan allocates: buffer id -> [last use over its aliases, escapes]
        self.buffers: dict = {}
        self.alias: dict = {}  # id(value) -> frozenset of buffer ids it may share memory with
        self.holders: set = set()  # values that are their buffer (not a view of it)
        self.chain_values: set = set()  # values written by a fused chain op
        self.name_users: dict = {}  # local name -> ids of live values it holds

    def _add_member(self, buffer, value):
        entry = self.buffers[buffer]
        entry[0] = max(entry[0], self.last_use.get(id(value), -1))
        entry[1] = entry[1] or id(value) in self.escapes

    def _register_fresh(self, value):
        shape = static_shape(value)
        if shape is None or len(shape) == 0:
            self.alias[id(value)] = frozenset()
            return
        self.buffers[id(value)] = [-1, False]
        self.alias[id(value)] = frozenset((id(value),))
        self.holders.add(id(value))
        self._add_member(id(value), value)

    def _register_alias(self, value, sources):
        shared = frozenset().union(*(self.alias.get(id(s), frozenset()) for s in sources
                                     if _is_symbolic(s)))
        self.alias[id(value)] = shared
        for b in shared:
            self._add_member(b, value)

    def _register_inplace(self, value, target):
        (b,) = self.alias[id(target)]
        self.alias[id(value)] = frozenset((b,))
        self.holders.add(id(value))
        self._add_member(b, value)

    def _writable(self, value, index):
        """Whether node `index` may write its result into `value`'s array."""
        if id(value) not in self.holders:
            return False
        shared = self.alias[id(value)]
        if len(shared) != 1:
            return False
        last, escapes = self.buffers[next(iter(shared))]
        return not escapes and last <= index

    def _inplace_target(self, index, node, args, out, extra_shapes=()):
        """The input an elementwise node can compute into (`out=`), or None."""
        out_shape, out_dtype = static_shape(out), static_dtype(out)
        if out_shape is None or len(out_shape) == 0:
            return None
        operand_shapes = [static_shape(a) for a in args] + list(extra_shapes)
        for j, v in enumerate(args):
            if not _is_symbolic(v) or not self._writable(v, index):
                continue
            if static_dtype(v) != out_dtype or any(static_dtype(a) != out_dtype for a in args):
                continue
            others = [s for k, s in enumerate(operand_shapes) if k != j]
            if _fits(static_shape(v), others, out_shape):
                return v
        return None

    # -- emission -----------------------------------------------------------------------------
    def generate(self):
        self._analyse()
        self.pairs = fusion.sparse_xent_pairs(self.nodes, self.resolve)
        for i, t in enumerate(self.graph.inputs + self.graph.captures):
            name = f"in{i}"
            self.params.append(name)
            self.names.setdefault(id(t), name)
        for i, node in enumerate(self.nodes):
            args = [self.resolve(t) for t in node.inputs]
            self.node_args.append([self._arg_ref(a) for a in args])
            self._emit_node(i, node, args)
            self._release(i, node, args)
        outputs = [self._expr(self.resolve(t)) for t in self.graph.outputs]
        self.source = self._assemble(outputs)

    def _arg_ref(self, value):
        if _is_symbolic(value):
            return ("local", self.names.get(id(value)))
        if _is_variable(value):
            return ("variable", value)
        return ("constant", value._value)

    def _new_local(self, value):
        name = next(self._temp_names)
        self._name(value, name)
        return name

    def _name(self, value, name):
        self.names[id(value)] = name
        self.name_users.setdefault(name, set()).add(id(value))

    def _emit_node(self, i, node, args):
        prim = node.prim
        if i in self.pairs or i in self.saved_for:
            self._forward_backward(i, node, args)
            self.counts["inline"] += 1
            return
        if not prim.stateful and len(node.outputs) == 1:
            emitter = _TEMPLATES.get(prim.name)
            if emitter is not None and emitter(self, i, node, args):
                self.counts["inline"] += 1
                return
        if prim.name == "assign_variable" and self._assign(i, node, args):
            self.counts["inline"] += 1
            return
        self._generic(i, node, args)
        self.counts["impl"] += 1

    def _generic(self, i, node, args):
        prim = node.prim
        parts = ["xp"] + [self._expr(a) for a in args]
        parts += [f"{k}={self._attr_expr(v)}" for k, v in node.attrs.items()]
        call = f"{self._impl_name(prim)}({', '.join(parts)})"
        outs = node.outputs
        if len(outs) == 1 and self.last_use.get(id(outs[0])) is None:
            self._emit(call, i)  # run for its effect (or dead): nothing to keep
            self.alias[id(outs[0])] = frozenset()
            return
        names = [self._new_local(o) for o in outs]
        target = ", ".join(names) + ("," if prim.num_outputs != 1 and len(names) == 1 else "")
        self._emit(f"{target} = {call}", i)
        fresh = (prim.name in prim_table.FRESH and len(outs) == 1 and not prim.stateful)
        for o in outs:
            if fresh:
                self._register_fresh(o)
            elif prim.stateful:
                self.alias[id(o)] = frozenset()  # never written: a Variable may hold it
            else:
                self._register_alias(o, args)

    def _forward_backward(self, i, node, args):
        """A loss node whose gradient node comes later (`fusion.sparse_xent_pairs`): the
        forward keeps its intermediates, the gradient reuses them."""
        divisor = self._attr_expr(node.attrs.get("divisor"))
        operands = ", ".join(self._expr(a) for a in args)
        out = node.outputs[0]
        if i in self.pairs:
            saved = f"saved{self.counts['pairs']}"
            self.counts["pairs"] += 1
            self.saved_for[self.pairs[i]] = saved
            forward = self._bind(fusion.xent_forward, "f_xent_forward")
            name = self._new_local(out)
            self._emit(f"{name}, {saved} = {forward}(xp, {operands}, {divisor})", i)
            self.alias[id(out)] = frozenset()  # a scalar
            return
        saved = self.saved_for[i]
        backward = self._bind(fusion.xent_backward, "f_xent_backward")
        grad_impl = self._impl_name(node.prim)
        name = self._new_local(out)
        self._emit(f"{name} = {backward}(xp, {saved}, {operands}, {divisor}, {grad_impl})", i)
        self._emit(f"del {saved}", i)
        self._register_fresh(out)

    def _elementwise(self, i, node, args, ufunc, extra=()):
        """`xp.<ufunc>(*args, *extra)`, into a dead input's buffer when one fits. `extra` holds
        (expression, static shape) pairs of bound constant operands."""
        out = node.outputs[0]
        target = self._inplace_target(i, node, args, out, [s for _, s in extra])
        operands = ", ".join([self._expr(a) for a in args] + [e for e, _ in extra])
        if target is None:
            name = self._new_local(out)
            self._emit(f"{name} = xp.{ufunc}({operands})", i)
            self._register_fresh(out)
            return True
        name = self.names[id(target)]
        self._emit(f"xp.{ufunc}({operands}, out={name})", i)
        self._name(out, name)
        if len(self.consumers.get(id(target), ())) == 1:
            self.counts["fused"] += 1
            if id(target) not in self.chain_values:
                self.counts["chains"] += 1
            self.chain_values.add(id(out))
        else:
            self.counts["reused"] += 1
        self._register_inplace(out, target)
        return True

    def _fresh_statement(self, i, node, expression):
        out = node.outputs[0]
        name = self._new_local(out)
        self._emit(f"{name} = {expression}", i)
        self._register_fresh(out)
        return True

    def _assign(self, i, node, args):
        """`assign_variable` of a value whose shape is the Variable's: `var._value = value`
        (the impl's shape check cannot fail then)."""
        (value,), variable, op = args, node.attrs.get("variable"), node.attrs.get("op")
        shape, var_shape = static_shape(value), static_shape(variable)
        if not (_passes.fully_known(shape) and shape == var_shape and op in ("assign", "add",
                                                                                "sub")):
            return False
        var = self._bind(variable, "var")
        out = node.outputs[0]
        if op == "assign":
            expression = self._expr(value)
        else:
            ufunc = "add" if op == "add" else "subtract"
            expression = f"xp.{ufunc}({var}._value, {self._expr(value)})"
        if self.last_use.get(id(out)) is None:
            self._emit(f"{var}._value = {expression}", i)
        else:
            name = self._new_local(out)
            self._emit(f"{var}._value = {name} = {expression}", i)
        self.alias[id(out)] = frozenset()  # the Variable's array now: never written
        return True

    def _release(self, i, node, args):
        """`del` the temporaries whose last use was node `i` (and results nobody reads)."""
        dead = []
        candidates = [a for a in args if _is_symbolic(a)] + list(node.outputs)
        seen = set()
        for v in candidates:
            if id(v) in seen:
                continue
            seen.add(id(v))
            last = self.last_use.get(id(v))
            if last is not None and last > i:
                continue
            name = self.names.get(id(v))
            if name is None or name in self.params:
                continue
            users = self.name_users.get(name)
            if users is None or id(v) not in users:
                continue
            users.discard(id(v))
            if not users:
                dead.append(name)
                del self.name_users[name]
        if dead:
            self._emit("del " + ", ".join(dead), i)
            self.counts["released"] += len(dead)

    def _assemble(self, outputs):
        header = [f"def _make(xp, _fail, {', '.join(self.bindings)}):" if self.bindings
                  else "def _make(xp, _fail):",
                  f"    def {self.function_name}({', '.join(self.params)}):",
                  "        try:"]
        body = []
        self.node_of_line: dict = {}
        line = len(header) + 1
        for statement, index in self.lines:
            comment = f"  # n{index} {self.nodes[index].prim.name}" if index is not None \
                and not statement.startswith("del ") else ""
            body.append(f"            {statement}{comment}")
            if index is not None:
                self.node_of_line[line] = index
            line += 1
        if not body:
            body.append("            pass")
        footer = [f"            return [{', '.join(outputs)}]",
                  "        except Exception as _error:",
                  "            raise _fail(_error)",
                  f"    return {self.function_name}"]
        return "\n".join(header + body + footer) + "\n"

    def report(self):
        n = len(self.nodes)
        c = self.counts
        return {
            "fuse_elementwise": PassResult(
                "fuse_elementwise", c["fused"], n, n,
                f"{c['chains']} chains computed in one buffer (out=)"),
            "reuse_buffers": PassResult(
                "reuse_buffers", c["reused"], n, n,
                "results written into a dead temporary of their shape and dtype"),
            "release_temporaries": PassResult(
                "release_temporaries", c["released"], n, n, "temporaries deleted at last use"),
            "fuse_forward_backward": PassResult(
                "fuse_forward_backward", c["pairs"], n, n,
                "loss nodes whose gradient node reuses their intermediates"),
            "codegen": PassResult(
                "codegen", c["inline"], n, n,
                f"ops calling the array module directly; {c['impl']} through their impl"),
        }


def _fits(shape, other_shapes, out_shape) -> bool:
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


# -- templates: prim name -> emitter(generator, index, node, args) -> True if emitted ---------
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
    g, out = args
    dtype = static_dtype(g)
    if dtype.kind not in "iuf" or static_dtype(out).kind not in "iuf":
        return False
    zero = gen._zero(dtype)
    return gen._fresh_statement(
        i, node, f"xp.where({gen._expr(out)} > 0, {gen._expr(g)}, {zero})")


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
    expression = (f"xp.matmul({_transposed(gen, a, node.attrs.get('transpose_a'))}, "
                  f"{_transposed(gen, b, node.attrs.get('transpose_b'))})")
    return gen._fresh_statement(i, node, expression)


def _reduce_sum_template(gen, i, node, args):
    (x,) = args
    if static_dtype(x).kind not in prim_table.FLOAT_KINDS:
        return False  # integer sums change dtype; the impl casts back
    axis, keepdims = node.attrs.get("axis"), bool(node.attrs.get("keepdims"))
    axis_text = _literal(axis)
    if axis_text is None:
        return False
    return gen._fresh_statement(
        i, node, f"{gen._expr(x)}.sum(axis={axis_text}, keepdims={keepdims})")


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


_TEMPLATES = {name: _ufunc_template for name in prim_table.UFUNCS}
_TEMPLATES.update({
    "relu": _relu_template,
    "relu_grad": _relu_grad_template,
    "select": _select_template,
    "matmul": _matmul_template,
    "reduce_sum": _reduce_sum_template,
    "fused_dense": _fused_dense_template,
    "read_variable": _read_variable_template,
})
