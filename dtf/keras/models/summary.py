"""`model.summary()`: the layer table in Keras' text format.

Sequential-like models get three columns (Layer (type), Output Shape, Param #); Functional
models whose graph branches get a fourth, Connected to.

Example:
    >>> keras.Sequential([keras.Input((784,)), keras.layers.Dense(10)]).summary()
    Model: "sequential"
    ...
"""

from __future__ import annotations

import numpy as np

from dtf import nest

__all__ = ["print_summary"]


def _shape_text(shapes):
    def one(shape):
        dims = shape.dims if hasattr(shape, "dims") else shape
        if dims is None:
            return "?"
        return "(" + ", ".join("None" if d is None else str(d) for d in dims) + \
            ("," if len(dims) == 1 else "") + ")"

    if len(shapes) == 1:
        return one(shapes[0])
    return "[" + ", ".join(one(s) for s in shapes) + "]"


def _nodes_in(model, layer):
    nodes = getattr(model, "_nodes", None)
    if nodes is None:
        return list(layer._inbound_nodes[-1:])
    found = [n for n in nodes if getattr(n, "layer", None) is layer]
    if not found and layer._inbound_nodes:  # an InputLayer
        found = layer._inbound_nodes[:1]
    return found


def _output_shape(model, layer):
    nodes = _nodes_in(model, layer)
    if not nodes:
        return "?"
    texts = {_shape_text([t.shape for t in nest.flatten(n.outputs)]) for n in nodes}
    return texts.pop() if len(texts) == 1 else "multiple"


def _count(weights):
    seen = set()
    total = 0
    for w in weights:
        if id(w) not in seen:
            seen.add(id(w))
            total += int(np.prod(w.shape))
    return total


def _connections(model, layer):
    out = []
    for node in _nodes_in(model, layer):
        for t in node.inputs:
            history = t._keras_history
            if history is None:
                continue
            src = history[0]
            node_index = src.layer._inbound_nodes.index(src) \
                if src in src.layer._inbound_nodes else 0
            out.append(f"{src.layer.name}[{node_index}][{history[1]}]")
    return out


def _is_sequential_like(model):
    if type(model).__name__ == "Sequential" or not hasattr(model, "_nodes"):
        return True
    from dtf.keras.layers.layer import LayerNode

    layer_nodes = [n for n in model._nodes if isinstance(n, LayerNode)]
    if len(model._inputs_flat) != 1 or len(model._outputs_flat) != 1:
        return False
    for node in layer_nodes:
        if len(node.inputs) != 1 or len(node.flat_outputs) != 1:
            return False
    return len(layer_nodes) == len(model._nodes)


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None):
    if print_fn is None:
        print_fn = print
    if not model.built:
        raise ValueError(
            f"The model '{model.name}' has not yet been built. Build the model first by calling "
            "`build()` or by calling the model on a batch of data.")
    sequential_like = _is_sequential_like(model)
    if sequential_like:
        line_length = line_length or 65
        positions = positions or [0.45, 0.85, 1.0]
        headers = ["Layer (type)", "Output Shape", "Param #"]
    else:
        line_length = line_length or 98
        positions = positions or [0.33, 0.55, 0.67, 1.0]
        headers = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    if show_trainable:
        line_length += 11
        positions = [p * (line_length - 11) / line_length for p in positions] + [1.0]
        headers = headers + ["Trainable"]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]

    def row(fields):
        line = ""
        for i, field in enumerate(fields):
            if i > 0:
                line = line[:-1] + " "
            line += str(field)
            line = line[:positions[i]]
            line += " " * (positions[i] - len(line))
        print_fn(line)

    layers = model.layers  # a Sequential model's InputLayer is not listed, as in Keras
    if layer_range is not None:
        names = [layer.name for layer in layers]
        start, stop = (names.index(layer_range[0]), names.index(layer_range[1]) + 1)
        layers = layers[start:stop]

    print_fn(f'Model: "{model.name}"')
    print_fn("_" * line_length)
    row([" " + headers[0]] + headers[1:])
    print_fn("=" * line_length)
    for layer in layers:
        params = _count(layer.weights) if (layer.built or layer.weights) else 0
        fields = [f" {layer.name} ({type(layer).__name__})", _output_shape(model, layer),
                  params]
        connections = []
        if not sequential_like:
            connections = _connections(model, layer)
            fields.append(connections[0] if connections else "")
        if show_trainable:
            fields.append("Y" if layer.trainable else "N")
        row(fields)
        for extra in connections[1:]:
            row([""] * 3 + [extra] + ([""] if show_trainable else []))
        print_fn(" " * line_length)
    print_fn("=" * line_length)
    trainable = _count(model.trainable_weights)
    total = _count(model.weights)
    print_fn(f"Total params: {total:,}")
    print_fn(f"Trainable params: {trainable:,}")
    print_fn(f"Non-trainable params: {total - trainable:,}")
    print_fn("_" * line_length)
