"""A graph of op nodes between symbolic inputs and outputs, its passes, and an executor.

`Graph(inputs, outputs)` collects the `OpNode`s that compute `outputs` from `inputs` (symbolic
tensors), in an order where each node follows those it reads. Passes rewrite that list:

- `fold_constants`: a node that reads only constants (and is not stateful) is computed once,
  now, and its outputs become constants;
- `eliminate_common_subexpressions`: two pure nodes with the same op, inputs and attributes
  become one;
- `eliminate_dead_code`: nodes no output needs (after the other passes) are dropped; stateful
  nodes stay, since running them is their point.

`Graph.run(*values)` executes the nodes through the op table (tapes record them, as eager ops).
This is the plain interpreter that `dtf.function`'s compiled plans are checked against.

Example:
    >>> x = placeholder((None, 3))
    >>> graph = Graph([x], [dtf.reduce_sum(x * 2.0, axis=1)])
    >>> graph.run(dtf.ones((2, 3)))[0].numpy()
    array([6., 6.], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from dtf.ops import registry

__all__ = ["Graph"]


def _is_symbolic(x):
    return getattr(x, "_is_symbolic", False)


def _ordered_nodes(inputs, outputs):
    """The OpNodes between `inputs` and `outputs`, each after the nodes it reads."""
    available = {id(t) for t in inputs}
    done = set()
    order = []
    for out in outputs:
        if not _is_symbolic(out):
            continue
        stack = [(out, False)]
        while stack:
            t, expanded = stack.pop()
            if id(t) in available:
                continue
            node = t.node
            if node is None:
                raise ValueError(f"{t.name} (shape {t.shape}) is not among the graph's inputs and "
                                 "no op makes it: pass it as an input.")
            if id(node) in done:
                continue
            if expanded:
                done.add(id(node))
                order.append(node)
                available.update(id(o) for o in node.outputs)
                continue
            stack.append((t, True))
            stack.extend((i, False) for i in reversed(node.symbolic_inputs)
                         if id(i) not in available)
    return order


def _captures(inputs, nodes, outputs):
    """Symbolic tensors the nodes (or outputs) read that neither an input nor one of the nodes
    makes: values from an enclosing graph (a `dtf.cond` branch reading the traced function's
    tensors). They become extra inputs, after `inputs`."""
    known = {id(t) for t in inputs}
    known.update(id(o) for n in nodes for o in n.outputs)
    captures, seen = [], set()
    for t in [t for n in nodes for t in n.inputs] + list(outputs):
        if _is_symbolic(t) and id(t) not in known and id(t) not in seen:
            seen.add(id(t))
            captures.append(t)
    return captures


def _variable_attrs(node):
    """The Variables a stateful node names in its attrs (alone, or in a tuple or list)."""
    found = []
    for value in node.attrs.values():
        for v in value if isinstance(value, (tuple, list)) else (value,):
            if getattr(v, "_is_dtf_variable", False):
                found.append(v)
    return found


def _attr_key(value):
    """A hashable stand-in for an attribute value (CSE compares attributes by it)."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__,) + tuple(_attr_key(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple(sorted((k, _attr_key(v)) for k, v in value.items()))
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value))
    return (type(value).__name__, value)


def _input_text(t, names):
    if _is_symbolic(t):
        return names.get(id(t), t.name)
    if getattr(t, "_is_dtf_variable", False):
        return f"var:{t.name}"
    value = getattr(t, "_value", None)
    if value is not None and value.size == 1:
        return f"const:{value.reshape(()).item()!r}"
    return "const" if value is None else f"const{list(value.shape)}"


class Graph:
    """The op nodes computing `outputs` (symbolic tensors) from `inputs` (see the module
    docstring)."""

    def __init__(self, inputs, outputs, nodes=None, name="graph"):
        self.name = name
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        for t in self.inputs:
            if not _is_symbolic(t):
                raise TypeError(f"Graph inputs must be symbolic tensors, got {type(t).__name__}")
        if nodes is None:
            self.nodes = _ordered_nodes(self.inputs, self.outputs)
            self.captures = []
        else:  # a traced program: every node it made, in program order (stateful ones count)
            self.nodes = list(nodes)
            self.captures = _captures(self.inputs, self.nodes, self.outputs)
        # a node's inputs after the passes: {id(symbolic tensor): replacement}
        self._replace: dict = {}

    # -- passes -------------------------------------------------------------------------------
    def _resolve(self, t):
        while _is_symbolic(t) and id(t) in self._replace:
            t = self._replace[id(t)]
        return t

    def fold_constants(self):
        """Computes now every pure node whose inputs are all constants; returns how many."""
        folded = 0
        kept = []
        for node in self.nodes:
            args = [self._resolve(t) for t in node.inputs]
            if node.prim.stateful or node.prim.data_dependent_shape or \
                    any(_is_symbolic(a) or getattr(a, "_is_dtf_variable", False) for a in args):
                kept.append(node)
                continue
            out = registry.run(node.prim, tuple(args), **node.attrs)
            for sym, value in zip(node.outputs, out if isinstance(out, tuple) else (out,)):
                self._replace[id(sym)] = value
            folded += 1
        self.nodes = kept
        return folded

    def eliminate_common_subexpressions(self):
        """Merges pure nodes with the same op, inputs and attributes; returns how many went."""
        seen = {}
        kept = []
        merged = 0
        # Reads of a Variable before and after an assignment to it differ: a Variable input
        # counts with the number of stateful nodes that wrote it so far.
        version: dict = {}
        for node in self.nodes:
            if node.prim.stateful:
                for v in _variable_attrs(node):
                    version[id(v)] = version.get(id(v), 0) + 1
                kept.append(node)
                continue
            args = [self._resolve(t) for t in node.inputs]
            key = (node.prim.name,
                   tuple((id(a), version.get(id(a), 0)) for a in args),
                   _attr_key(node.attrs))
            twin = seen.get(key)
            if twin is None:
                seen[key] = node
                kept.append(node)
                continue
            for mine, theirs in zip(node.outputs, twin.outputs):
                self._replace[id(mine)] = theirs
            merged += 1
        self.nodes = kept
        return merged

    def eliminate_dead_code(self):
        """Drops nodes whose outputs nothing needs (stateful nodes stay); returns how many."""
        needed = {id(self._resolve(t)) for t in self.outputs}
        kept = []
        for node in reversed(self.nodes):
            if node.prim.stateful or any(id(o) in needed for o in node.outputs):
                kept.append(node)
                needed.update(id(self._resolve(t)) for t in node.inputs if _is_symbolic(t))
        dropped = len(self.nodes) - len(kept)
        self.nodes = list(reversed(kept))
        return dropped

    def optimize(self):
        """Constant folding, then CSE, then dead-code elimination; returns their counts."""
        return {"folded": self.fold_constants(),
                "merged": self.eliminate_common_subexpressions(),
                "dead": self.eliminate_dead_code()}

    # -- running ------------------------------------------------------------------------------
    def run(self, *values):
        """Executes the graph on `values` (one per input, then one per capture); returns the
        outputs as Tensors."""
        inputs = self.inputs + self.captures
        if len(values) != len(inputs):
            raise ValueError(f"The graph takes {len(inputs)} inputs, got {len(values)}.")
        env = {id(t): v for t, v in zip(inputs, values)}

        def value(t):
            t = self._resolve(t)
            return env[id(t)] if _is_symbolic(t) else t

        run = registry.run
        for node in self.nodes:
            out = run(node.prim, tuple(value(t) for t in node.inputs), **node.attrs)
            for sym, v in zip(node.outputs, out if isinstance(out, tuple) else (out,)):
                env[id(sym)] = v
        return [value(t) for t in self.outputs]

    def __repr__(self):
        header = (f"Graph({len(self.inputs)} inputs, {len(self.outputs)} outputs, "
                  f"{len(self.nodes)} nodes)")
        lines = [header]
        names = {id(t): f"in{i}" for i, t in enumerate(self.inputs + self.captures)}
        for k, node in enumerate(self.nodes):
            for j, o in enumerate(node.outputs):
                names[id(o)] = f"n{k}" if len(node.outputs) == 1 else f"n{k}.{j}"
            args = ", ".join(_input_text(self._resolve(t), names) for t in node.inputs)
            lines.append(f"  n{k} = {node.prim.name}({args})")
        return "\n".join(lines)

