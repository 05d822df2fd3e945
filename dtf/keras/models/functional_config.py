"""A Functional model's config: its layers and the graph that connects them, as JSON data.

    {"name": ..., "trainable": ...,
     "layers": [serialized layer, ...],            # each layer once, InputLayers included
     "input_layers": [names], "inputs": structure of refs, "outputs": structure of refs, "losses": [ref, ...],
     "nodes": [{"layer": name, "args": ..., "kwargs": ...}       # a layer call
               | {"op": primitive name, "attrs": ..., "args": [...]}, ...]}   # a dtf op

A ref `["input", i, 0]` is the i-th model input, `["node", n, k]` the k-th output of node n.
Constants in op nodes are stored with their values; `from_config` calls the layers and runs the
ops on new `keras.Input`s in the same order, which rebuilds the same graph.
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes, nest
from dtf.keras.layers.layer import LayerNode
from dtf.tensor import Tensor

__all__ = ["functional_config", "functional_from_config"]


def _encode(value, refs):
    if getattr(value, "_is_symbolic", False):
        return {"__ref__": refs[id(value)]}
    if isinstance(value, Tensor):
        return {"__tensor__": np.asarray(value.numpy()).tolist(), "dtype": value.dtype.name}
    if getattr(value, "_is_dtf_variable", False):
        raise NotImplementedError(
            "A Functional model that applies a dtf op to a Variable outside any layer cannot be "
            "serialized; wrap the computation in a Layer that owns the Variable.")
    if isinstance(value, dtypes.DType):
        return {"__dtype__": value.name}
    if isinstance(value, np.dtype):
        return {"__dtype__": dtypes.as_dtype(value).name}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, refs) for v in value]}
    if isinstance(value, list):
        return [_encode(v, refs) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v, refs) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value, tensors):
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__ref__" in value:
        return tensors[tuple(value["__ref__"])]
    if "__tensor__" in value:
        from dtf.ops.creation_ops import constant

        return constant(value["__tensor__"], dtype=value["dtype"])
    if "__dtype__" in value:
        return dtypes.as_dtype(value["__dtype__"])
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    return {k: _decode(v, tensors) for k, v in value.items()}


def functional_config(model) -> dict:
    from dtf.keras.saving import serialization

    refs = {}
    for i, t in enumerate(model._inputs_flat):
        refs[id(t)] = ["input", i, 0]
    nodes = []
    for n, node in enumerate(model._nodes):
        if isinstance(node, LayerNode):
            entry = {"layer": node.layer.name, "args": _encode(node.args, refs),
                     "kwargs": _encode(node.kwargs, refs)}
            outputs = node.flat_outputs
        else:
            entry = {"op": node.prim.name, "attrs": _encode(node.attrs, refs),
                     "args": _encode(list(node.inputs), refs)}
            outputs = list(node.outputs)
        nodes.append(entry)
        for k, t in enumerate(outputs):
            if getattr(t, "_is_symbolic", False):
                refs[id(t)] = ["node", n, k]
    layers = [serialization.serialize_keras_object(layer) for layer in model.layers]
    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layers,
        "input_layers": [t._keras_history[0].layer.name for t in model._inputs_flat],
        "inputs": _encode(model._input_structure, refs),
        "outputs": _encode(model._output_structure, refs),
        "losses": [_encode(t, refs) for t in model._graph_losses],
        "nodes": nodes,
    }


def _is_model_config(layer_config):
    return isinstance(layer_config, dict) and isinstance(layer_config.get("config"), dict) \
        and "layers" in layer_config["config"]


def functional_from_config(cls, config, custom_objects=None):
    from dtf.keras.models.sequential import _layer_classes
    from dtf.keras.saving import serialization
    from dtf.ops import registry

    classes = _layer_classes()
    layers = {}
    # Nested models first: a layer the outer graph also calls directly (the KL loss of the
    # seed's VAE reads the encoder's z_mean) must be the nested model's own layer, found by
    # its name (names are unique in a saved model), not a second copy.
    nested_first = sorted(config["layers"], key=lambda c: not _is_model_config(c))
    for layer_config in nested_first:
        name = layer_config.get("config", {}).get("name") if isinstance(layer_config, dict) \
            else None
        if name is not None and name in layers:
            continue
        layer = serialization.deserialize_keras_object(
            layer_config, module_objects=classes, custom_objects=custom_objects)
        layers[layer.name] = layer
        for inner in layer._flatten_layers(include_self=False):
            layers.setdefault(inner.name, inner)
    tensors = {}
    for i, name in enumerate(config["input_layers"]):
        tensors[("input", i, 0)] = layers[name].output
    for n, entry in enumerate(config["nodes"]):
        if "layer" in entry:
            args = _decode(entry["args"], tensors)
            kwargs = _decode(entry["kwargs"], tensors)
            out = layers[entry["layer"]](*args, **kwargs)
            flat = nest.flatten(out)
        else:
            prim = registry.get(entry["op"])
            args = tuple(_decode(entry["args"], tensors))
            out = registry.run(prim, args, **_decode(entry["attrs"], tensors))
            flat = list(out) if isinstance(out, tuple) else [out]
        for k, t in enumerate(flat):
            tensors[("node", n, k)] = t

    def rebuild(encoded):
        if isinstance(encoded, dict) and "__ref__" in encoded:
            return tensors[tuple(encoded["__ref__"])]
        if isinstance(encoded, dict):
            return {k: rebuild(v) for k, v in encoded.items()}
        if isinstance(encoded, list):
            return [rebuild(v) for v in encoded]
        return encoded

    inputs = rebuild(config["inputs"])
    outputs = rebuild(config["outputs"])
    model = cls(inputs=inputs, outputs=outputs, name=config.get("name"),
                trainable=config.get("trainable", True))
    for encoded in config.get("losses", []):
        model.add_loss(rebuild(encoded))
    return model

