"""The state of a Keras object tree, located by structure: Keras 3's saving paths.

Saving walks a model the way Keras 3's `saving_lib` does, so that weights are matched by where
they sit in the tree of layers, never by global Variable names (which depend on how many
layers a process created before):

- each saveable object (a Layer, an Optimizer, a Metric) owns the Variables it created itself,
  stored under `<path>/vars/0`, `<path>/vars/1`, ... (`vars/...` for the root);
- a Sequential or Functional model's children come first, as `layers/<name>`;
- then the object's attributes, sorted by name with private ones last: an attribute holding
  a saveable adds `<attribute>` to the path (`optimizer`, `encoder/dense_proj`); a list, tuple
  or dict of them adds `<attribute>/<class name in snake case>` with a counter per class
  (`layers/dense`, `layers/dense_1`, `blocks/dense`), nested containers `container`,
  `container_1`, ...;
- an object reachable twice is saved once, at the first path met.

So `Sequential([Input, Dense, Dropout, Dense])` gives `layers/dense/vars/{0,1}`,
`layers/dropout/vars` (empty) and `layers/dense_1/vars/{0,1}`, the names Keras 3 writes, and
a compiled model adds `optimizer/vars/{0..}` (iterations, learning rate, then the slots).

Example:
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> [(e.path, len(e.variables)) for e in walk(model)]
    [('', 0), ('layers/dense', 2)]
"""

from __future__ import annotations

from dtf.keras.naming import to_snake_case

__all__ = ["Entry", "is_saveable", "join", "value_path", "walk"]

# Attributes of a compiled Model that hold the training configuration rather than state to
# restore: the compiled loss and metrics are rebuilt by compile() and their state restarts
# with each epoch, so they are neither saved nor expected when loading.
_COMPILE_STATE = frozenset({"loss", "compiled_loss", "compiled_metrics", "_loss_tracker"})


class Entry:
    """One saveable object of a tree: where it is (`path`), what it is (`kind`: "layer",
    "optimizer" or "metric") and the Variables it owns (in saving order)."""

    __slots__ = ("kind", "obj", "path", "variables")

    def __init__(self, path, obj, kind, variables):
        self.path = path
        self.obj = obj
        self.kind = kind
        self.variables = variables

    @property
    def name(self):
        return getattr(self.obj, "name", None)

    def describe(self):
        """`Layer 'dense' (at 'layers/dense')`, for error messages."""
        where = self.path or "the root"
        return f"{self.kind.capitalize()} '{self.name}' (at '{where}')"

    def __repr__(self):
        return f"<Entry {self.path!r} {type(self.obj).__name__} vars={len(self.variables)}>"


def join(path, name):
    return f"{path}/{name}" if path else name


def value_path(path, index):
    """Where the `index`-th Variable of the object at `path` is stored: `<path>/vars/<i>`."""
    return f"{join(path, 'vars')}/{index}"


def _classes():
    from dtf.keras.layers.layer import Layer
    from dtf.keras.metrics.metric import Metric
    from dtf.keras.optimizers.base_optimizer import Optimizer

    return Layer, Optimizer, Metric


def kind_of(obj):
    """"layer", "optimizer", "metric", or None when `obj` holds no state of its own."""
    layer_cls, optimizer_cls, metric_cls = _classes()
    if isinstance(obj, layer_cls):
        return "layer"
    if isinstance(obj, optimizer_cls):
        return "optimizer"
    if isinstance(obj, metric_cls):
        return "metric"
    return None


def is_saveable(obj):
    return kind_of(obj) is not None


def own_variables(obj, kind):
    """The Variables `obj` itself created, in the order they are saved."""
    if kind == "layer":
        tracker = obj._tracker
        return list(tracker.trainable) + list(tracker.non_trainable)
    return list(obj.variables)  # an optimizer's (iterations, learning rate, slots), a metric's


def _attr_key(name):
    # Keras' `_name_key`: private attributes are visited last
    return f"~{name}" if name.startswith("_") else name


def _skipped_attributes(obj, kind):
    if kind == "layer":
        from dtf.keras.layers import layer as layer_module

        skipped = set(layer_module._INTERNAL) | set(type(obj)._UNTRACKED_ATTRS)
        if hasattr(obj, "compile_from_config"):
            skipped |= _COMPILE_STATE
        return skipped
    if kind == "metric":
        return {"_variables", "_metrics"}  # a metric's own list and its sub-metrics' list
    return set(vars(obj))  # an optimizer: only its variables (slots are among them)


def _children(obj, kind):
    """(attribute name, value) pairs to visit, in Keras 3's order."""
    if kind == "layer" and _is_graph_model(obj):
        yield "layers", obj.layers
    skipped = _skipped_attributes(obj, kind)
    for name in sorted(vars(obj), key=_attr_key):
        if name.startswith("__") or name in skipped:
            continue
        yield name, vars(obj)[name]


def _is_graph_model(obj):
    """Sequential and Functional models store their layers under `layers/`."""
    from dtf.keras.models.functional import Functional
    from dtf.keras.models.sequential import Sequential

    return isinstance(obj, (Sequential, Functional))


def walk(root, prefix="", visited=None):
    """Every saveable object under `root` (itself first), each once, as `Entry`s in saving
    order, with Keras 3's paths (see the module docstring), under `prefix`.

    `visited`: ids of objects already saved elsewhere (skipped; the walk adds to it), for a
    graph that holds several trees, as `dtf.train.Checkpoint` does.
    """
    entries = []
    visited = set() if visited is None else visited
    kind = kind_of(root)
    if kind is None:
        raise TypeError(f"Cannot walk {type(root).__name__} {root!r}: expected a Keras Layer, "
                        "Model, Optimizer or Metric.")
    _visit(root, kind, prefix, visited, entries)
    return entries


def _visit(obj, kind, path, visited, entries):
    if id(obj) in visited:
        return
    entries.append(Entry(path, obj, kind, own_variables(obj, kind)))
    visited.add(id(obj))
    for name, child in _children(obj, kind):
        _visit_value(child, join(path, name), visited, entries, set())


def _visit_value(value, path, visited, entries, containers):
    kind = kind_of(value)
    if kind is not None:
        _visit(value, kind, path, visited, entries)
    elif isinstance(value, (list, tuple, dict)):
        _visit_container(value, path, visited, entries, containers)


def _visit_container(container, path, visited, entries, containers):
    if id(container) in containers:
        return
    containers.add(id(container))
    used = {}
    items = container.values() if isinstance(container, dict) else container
    for item in items:
        kind = kind_of(item)
        if kind is not None:
            name = _unique_name(to_snake_case(type(item).__name__), used)
            _visit(item, kind, join(path, name), visited, entries)
        elif isinstance(item, (list, tuple, dict)):
            name = _unique_name("container", used)
            _visit_container(item, join(path, name), visited, entries, containers)


def _unique_name(name, used):
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name
