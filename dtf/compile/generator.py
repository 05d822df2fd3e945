"""The code generator behind `codegen.lower`: one Python function for a whole graph.

`Generator(graph).generate()` walks the graph's nodes in program order and writes one or a few
lines per node (`templates.TEMPLATES` for the ops it calls the array module for directly, the
primitive's impl for the rest), deciding along the way:

- which temporaries an elementwise op may compute into (`out=`): arrays the plan allocated
  itself (`prim_table.FRESH`), at the last use of every value that may share their memory
  (views are tracked as aliases), never a graph output or a value handed to a stateful op
  (an assignment keeps it as the Variable's array);
- where temporaries die (`del`);
- which loss nodes share intermediates with their gradient node (`fusion`), and which
  optimizer nodes run on flat arrays (`flat_apply`), their gradients computed straight into
  the flat buffer.

The result is `source` (the text of `_make(xp, _fail, <bound objects>)`, which returns the plan
function), `bindings` (the objects the source names: impls, constants, Variables, attributes),
`node_of_line` and `node_args` (to name the failing op in errors), and `report()`.
"""

from __future__ import annotations

import itertools
import keyword

import numpy as np

from dtf.compile import fusion, gpu_fusion, prim_table
from dtf.compile.flat_apply import FlatStep
from dtf.compile.passes import PassResult, fully_known, static_dtype, static_shape
from dtf.compile.templates import TEMPLATES, fits, literal

__all__ = ["Generator"]


def _is_symbolic(x):
    return getattr(x, "_is_symbolic", False)


def _is_variable(x):
    return getattr(x, "_is_dtf_variable", False)


def _identifier(text):
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in text).strip("_")
    if not cleaned or cleaned[0].isdigit() or keyword.iskeyword(cleaned):
        cleaned = "g_" + cleaned
    return cleaned[:40]


class Generator:
    """Writes the plan's source for a graph, deciding where results may go `out=`."""

    def __init__(self, graph, device_fusion=False):
        self.graph = graph
        # CuPy plans: elementwise chains become one generated kernel (`gpu_fusion`)
        self.device_fusion = device_fusion
        self.chain_of: dict = {}
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
                       "released": 0, "pairs": 0, "flat": 0, "grads_direct": 0,
                       "grads_copied": 0}
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
        # CuPy plans call the op's kernel from `dtf.kernels` where one is registered
        impl = gpu_fusion.impl_for(prim) if self.device_fusion else prim.impl
        key = ("f", id(impl))
        name = self._bound.get(key)
        if name is None:
            name = f"f_{_identifier(prim.name)}"
            while name in self.bindings:
                name += "_"
            self._bound[key] = name
            self.bindings[name] = impl
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
        text = literal(value)
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
            if fits(static_shape(v), others, out_shape):
                return v
        return None

    # -- emission -----------------------------------------------------------------------------
    def generate(self):
        self._analyse()
        self.pairs = fusion.sparse_xent_pairs(self.nodes, self.resolve)
        self._plan_flat_steps()
        if self.device_fusion:
            gpu_fusion.plan_chains(self)
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
        if self.device_fusion and gpu_fusion.emit(self, i, node, args):
            return
        if i in self.pairs or i in self.saved_for:
            self._forward_backward(i, node, args)
            self.counts["inline"] += 1
            return
        if not prim.stateful and len(node.outputs) == 1:
            emitter = TEMPLATES.get(prim.name)
            if emitter is not None and emitter(self, i, node, args):
                self.counts["inline"] += 1
                return
        if i in self.flat_steps:
            self._flat_step(i, node, args)
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

    # -- optimizer steps on flat arrays (dtf.compile.flat_apply) ---------------------------
    def _plan_flat_steps(self):
        """Finds the optimizer nodes that can run as one `FlatStep`, and the gradients their
        producers can write straight into the step's flat gradient buffer."""
        self.flat_steps: dict = {}  # node index -> (FlatStep, buffer name)
        self.grad_home: dict = {}  # id(gradient value) -> (node index, variable position)
        self.allocated: set = set()  # buffer names already allocated
        for k, node in enumerate(self.nodes):
            if node.prim.name != "optimizer_apply":
                continue
            step = FlatStep.for_optimizer(node.attrs.get("optimizer"),
                                          node.attrs.get("variables", ()))
            grads = [self.resolve(t) for t in node.inputs]
            if step is None or len(grads) != len(step.variables) or any(
                    static_shape(g) != shape or static_dtype(g) != step.dtype
                    for g, shape in zip(grads, step.shapes)):
                continue
            self.flat_steps[k] = (step, f"grads{len(self.flat_steps)}")
            ids = [id(g) for g in grads]
            for j, g in enumerate(grads):
                if _is_symbolic(g) and ids.count(id(g)) == 1 and \
                        self.consumers.get(id(g)) == {k} and self.last_use.get(id(g)) == k:
                    self.grad_home[id(g)] = (k, j)

    def _grad_view(self, k, j):
        step, buffer = self.flat_steps[k]
        part = f"{buffer}[{step.offsets[j]}:{step.offsets[j] + step.sizes[j]}]"
        shape = step.shapes[j]
        return part if len(shape) == 1 else f"{part}.reshape({literal(shape)})"

    def _allocate(self, k, i):
        step, buffer = self.flat_steps[k]
        if buffer not in self.allocated:
            self.allocated.add(buffer)
            dtype = self._bind(step.dtype, "dtype")
            self._emit(f"{buffer} = xp.empty({step.total}, dtype={dtype})", i)

    def _fresh_call(self, i, node, function, arguments):
        """`name = function(arguments)` for an op whose result is a new array; a gradient
        that an optimizer node alone reads is computed straight into its flat buffer."""
        out = node.outputs[0]
        home = self.grad_home.get(id(out))
        if home is None:
            return self._fresh_statement(i, node, f"{function}({arguments})")
        self._allocate(home[0], i)
        self._emit(f"{function}({arguments}, out={self._grad_view(*home)})", i)
        self.names[id(out)] = None
        self.alias[id(out)] = frozenset()
        self.counts["grads_direct"] += 1
        return True

    def _flat_step(self, i, node, args):
        step, buffer = self.flat_steps[i]
        self._allocate(i, i)
        for j, g in enumerate(args):
            if self.grad_home.get(id(g)) != (i, j) or self.names.get(id(g), "") is not None:
                self._emit(f"xp.copyto({self._grad_view(i, j)}, {self._expr(g)})", i)
                self.counts["grads_copied"] += 1
        call = f"{self._bind(step, 'flat_step')}(xp, {buffer})"
        out = node.outputs[0]
        if self.last_use.get(id(out)) is None:
            self._emit(call, i)
        else:
            self._emit(f"{self._new_local(out)} = {call}", i)
        self._emit(f"del {buffer}", i)
        self.alias[id(out)] = frozenset()
        self.counts["flat"] += 1

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
        if not (fully_known(shape) and shape == var_shape and op in ("assign", "add", "sub")):
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
            "flat_optimizer_step": PassResult(
                "flat_optimizer_step", c["flat"], n, n,
                f"optimizer steps on flat arrays; {c['grads_direct']} gradients computed into "
                f"the flat buffer, {c['grads_copied']} copied"),
            "codegen": PassResult(
                "codegen", c["inline"], n, n,
                f"ops calling the array module directly; {c['impl']} through their impl"),
        }
