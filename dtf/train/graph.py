"""The object graph of a `dtf.train.Checkpoint`: what it saves, under which keys.

A Checkpoint's attributes are its children; each child adds its attribute name to the path:

- a `dtf.Variable` is a value: its key is its path (`step`, `sub/v`);
- a Keras Layer or Model, Optimizer or Metric is walked as Keras 3 saving walks it
  (`keras.saving.object_graph`): the Variables it owns are `<path>/vars/<i>`
  (`net/vars/0`, `net/l1/vars/1`, `optimizer/vars/3`);
- a nested Checkpoint adds its own children under its path;
- a list, tuple or dict of these adds the index or key (`models/0/...`).

An object reachable twice is saved once, at the first path met, so a model and the optimizer
that updates it share their variables' keys.

Example:
    >>> ckpt = dtf.train.Checkpoint(step=dtf.Variable(1), sub=dtf.train.Checkpoint(
    ...     v=dtf.Variable(2.0)))
    >>> [node.keys() for node in collect(ckpt)]
    [['step'], ['sub/v']]
"""

from __future__ import annotations

from dtf.keras.saving import object_graph
from dtf.keras.saving.object_graph import join, value_path

__all__ = ["Node", "check_trackable", "collect", "variable_keys"]


class Node:
    """A holder of values in the graph: a Variable (`kind` "variable") or a Keras object
    ("layer", "optimizer", "metric") with the Variables it owns."""

    __slots__ = ("kind", "obj", "path", "variables")

    def __init__(self, path, obj, kind, variables):
        self.path = path
        self.obj = obj
        self.kind = kind
        self.variables = variables

    def key(self, index):
        return self.path if self.kind == "variable" else value_path(self.path, index)

    def keys(self):
        return [self.key(i) for i in range(len(self.variables))]

    def describe(self):
        if self.kind == "variable":
            return f"Variable '{self.path}'"
        return f"{self.kind.capitalize()} '{getattr(self.obj, 'name', '?')}' at '{self.path}'"

    def __repr__(self):
        return f"<Node {self.path!r} {self.kind} vars={len(self.variables)}>"


def _is_variable(value):
    return getattr(value, "_is_dtf_variable", False)


def _is_checkpoint(value):
    from dtf.train.checkpoint import Checkpoint

    return isinstance(value, Checkpoint)


def check_trackable(value, name):
    """Raises TypeError, naming `name`, when `value` holds something a Checkpoint cannot save.
    """
    if _is_variable(value) or _is_checkpoint(value) or object_graph.is_saveable(value):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_trackable(item, f"{name}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            check_trackable(item, f"{name}[{key!r}]")
        return
    kind = type(value).__name__
    if hasattr(value, "__next__") and hasattr(value, "element_spec"):
        raise TypeError(
            f"Checkpoint cannot save '{name}', a dataset iterator ({kind}): dtf's iterators "
            "keep no restorable position. Leave it out of the Checkpoint and start a new pass "
            "over the dataset after restoring (skip the elements already seen with "
            "dataset.skip(n) if the order must continue).")
    raise TypeError(
        f"Checkpoint was expecting a trackable object for '{name}' (a dtf.Variable, a Keras "
        f"layer, model, optimizer or metric, another Checkpoint, or a list/dict of them), got "
        f"{kind}: {value!r}. Wrap Python values in a dtf.Variable to checkpoint them.")


def collect(checkpoint):
    """The value holders of `checkpoint`'s graph, in saving order (see the module docstring).
    """
    nodes = []
    visited = set()
    _visit_checkpoint(checkpoint, "", visited, nodes)
    return nodes


def _visit_checkpoint(checkpoint, path, visited, nodes):
    if id(checkpoint) in visited:
        return
    visited.add(id(checkpoint))
    root = checkpoint._root
    if root is not None:
        _visit(root, path, visited, nodes)
    for name, child in checkpoint._dependencies():
        _visit(child, join(path, name), visited, nodes)


def _visit(value, path, visited, nodes):
    if _is_variable(value):
        if id(value) not in visited:
            visited.add(id(value))
            nodes.append(Node(path, value, "variable", [value]))
    elif _is_checkpoint(value):
        _visit_checkpoint(value, path, visited, nodes)
    elif object_graph.is_saveable(value):
        for entry in object_graph.walk(value, prefix=path, visited=visited):
            nodes.append(Node(entry.path, entry.obj, entry.kind, entry.variables))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _visit(item, join(path, str(i)), visited, nodes)
    elif isinstance(value, dict):
        for key, item in value.items():
            _visit(item, join(path, str(key)), visited, nodes)


def variable_keys(nodes):
    """`{id(variable): key}` over `nodes` (the first key of a Variable held twice)."""
    keys = {}
    for node in nodes:
        for i, variable in enumerate(node.variables):
            keys.setdefault(id(variable), node.key(i))
    return keys
