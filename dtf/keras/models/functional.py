"""The Functional API: a model defined as a graph from `keras.Input`s to outputs.

Calling layers on symbolic tensors records `LayerNode`s; dtf ops applied to them directly
(`dtf.reduce_mean(z)`, `x * 2`) record `OpNode`s. `Functional` walks back from the outputs to
the inputs to order those nodes, and runs them in that order on real data: each layer is called
again (so training-only behaviour, `add_loss` and metrics happen as in a subclassed model), each
op is run through the op table (so tapes record it).

Example:
    >>> inputs = keras.Input(shape=(16,))
    >>> x = keras.layers.Dense(32, activation="relu")(inputs)
    >>> outputs = keras.layers.Dense(10)(x)
    >>> model = keras.Model(inputs, outputs)
    >>> len(model.weights)
    4
"""

from __future__ import annotations

from dtf import nest
from dtf.compile.symbolic import OpNode, is_shape_only
from dtf.keras.layers.input_layer import InputLayer
from dtf.keras.layers.input_spec import InputSpec
from dtf.keras.layers.layer import Layer, LayerNode
from dtf.keras.models.model import Model
from dtf.tensor import Tensor

__all__ = ["Functional"]


def _is_symbolic(x):
    return getattr(x, "_is_symbolic", False)


def _producer(t):
    """The node that makes symbolic tensor `t`: a LayerNode, an OpNode, or None."""
    history = t._keras_history
    if history is not None:
        return history[0]
    return t.node


def _node_inputs(node):
    if isinstance(node, LayerNode):
        return node.inputs
    return node.symbolic_inputs


def _node_outputs(node):
    return node.flat_outputs if isinstance(node, LayerNode) else list(node.outputs)


def _describe(node):
    if isinstance(node, LayerNode):
        return f'layer "{node.layer.name}"'
    return f'op "{node.prim.name}"'


def order_nodes(inputs, outputs):
    """The nodes needed to compute `outputs` from `inputs` (flat lists of SymbolicTensors), in
    an order where each node comes after the nodes that make its inputs.

    Raises ValueError ("Graph disconnected") when an output depends on a symbolic tensor that is
    not among the inputs.
    """
    available = {id(t) for t in inputs}
    done = set()
    order = []
    for out in outputs:
        if not _is_symbolic(out) or id(out) in available:
            continue
        stack = [(out, False)]
        while stack:
            t, expanded = stack.pop()
            if id(t) in available:
                continue
            node = _producer(t)
            if node is None or (isinstance(node, LayerNode) and isinstance(node.layer,
                                                                           InputLayer)):
                raise ValueError(
                    f"Graph disconnected: cannot obtain value for tensor {t.name} (shape "
                    f"{t.shape}) at the model's inputs: it comes from "
                    f"{'an Input' if node is not None else 'no layer or op'} that is not "
                    "among the model's inputs. Pass every keras.Input the outputs depend on "
                    f"to the Model. Layers reached so far: "
                    f"{[_describe(n) for n in order]}")
            if id(node) in done:
                for o in _node_outputs(node):
                    available.add(id(o))
                continue
            if expanded:
                done.add(id(node))
                order.append(node)
                for o in _node_outputs(node):
                    available.add(id(o))
                continue
            stack.append((t, True))
            for i in reversed(_node_inputs(node)):
                if id(i) not in available:
                    stack.append((i, False))
    return order


class Functional(Model):
    """A model made from `keras.Input`s and the layers and ops applied to them."""

    _UNTRACKED_ATTRS = frozenset({"_input_structure", "_output_structure", "_inputs_flat",
                                  "_outputs_flat", "_graph_losses", "_nodes"})

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        self._init_graph(inputs, outputs, name=name, trainable=trainable, **kwargs)

    def _init_graph(self, inputs, outputs, name=None, trainable=True, **kwargs):
        Layer.__init__(self, name=name, trainable=trainable, **kwargs)
        if isinstance(inputs, dict):
            self._input_structure = dict(inputs)
        elif isinstance(inputs, (list, tuple)):
            self._input_structure = list(inputs)
        else:
            self._input_structure = inputs
        self._output_structure = outputs
        self._inputs_flat = nest.flatten(self._input_structure)
        self._outputs_flat = nest.flatten(outputs)
        for t in self._inputs_flat:
            if not _is_symbolic(t):
                raise TypeError(f"Model inputs must come from keras.Input (symbolic tensors); "
                                f"got {type(t).__name__}: {t!r}")
        for t in self._outputs_flat:
            if not _is_symbolic(t):
                raise TypeError(f"Model outputs must be symbolic tensors computed from the "
                                f"inputs; got {type(t).__name__}: {t!r}")
        self._graph_losses = []
        self._order()
        self.input_spec = None if isinstance(self._input_structure, dict) else [
            InputSpec(shape=_dims(t), allow_last_axis_squeeze=True, name=t.name)
            for t in self._inputs_flat]
        self.built = True

    def _order(self):
        self._nodes = order_nodes(self._inputs_flat, self._outputs_flat + self._graph_losses)
        tracker = self._tracker
        for t in self._inputs_flat:
            node = _producer(t)
            if isinstance(node, LayerNode) and isinstance(node.layer, InputLayer):
                tracker.add(node.layer)
        for node in self._nodes:
            if isinstance(node, LayerNode):
                tracker.add(node.layer)

    # -- structure ----------------------------------------------------------------------------
    @property
    def inputs(self):
        return list(self._inputs_flat)

    @property
    def outputs(self):
        return list(self._outputs_flat)

    @property
    def input(self):
        return self._input_structure

    @property
    def output(self):
        return self._output_structure

    @property
    def input_names(self):
        return [t.name for t in self._inputs_flat]

    @property
    def output_names(self):
        names = []
        for t in self._outputs_flat:
            node = _producer(t)
            names.append(node.layer.name if isinstance(node, LayerNode) else t.name)
        return names

    @property
    def input_shape(self):
        shapes = [tuple(t.shape.dims) for t in self._inputs_flat]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [tuple(t.shape.dims) for t in self._outputs_flat]
        return shapes[0] if len(shapes) == 1 else shapes

    # -- calling ------------------------------------------------------------------------------
    def _convert_inputs(self, inputs):
        from dtf.ops.creation_ops import convert_to_tensor
        from dtf.ops.math_ops import cast

        def convert(x, spec_tensor):
            if _is_symbolic(x) or getattr(x, "_is_dtf_variable", False):
                return x
            want = spec_tensor.dtype
            if type(x) is not Tensor:
                x = convert_to_tensor(x)
            if x.dtype != want and (x.dtype.is_floating or want.is_floating):
                x = cast(x, want)
            return x

        if isinstance(self._input_structure, dict):
            if not isinstance(inputs, dict):
                if len(self._inputs_flat) == 1:
                    return convert(inputs, self._inputs_flat[0])
                raise ValueError(f'Model "{self.name}" expects a dict of inputs with keys '
                                 f"{sorted(self._input_structure)}, got {type(inputs).__name__}.")
            missing = [k for k in self._input_structure if k not in inputs]
            if missing:
                raise ValueError(f'Model "{self.name}" is missing inputs {missing}; it expects '
                                 f"keys {sorted(self._input_structure)}.")
            return {k: convert(inputs[k], t) for k, t in self._input_structure.items()}
        flat = nest.flatten(inputs) if isinstance(inputs, (list, tuple, dict)) else [inputs]
        if len(flat) != len(self._inputs_flat):
            raise ValueError(f'Layer "{self.name}" expects {len(self._inputs_flat)} input(s), '
                             f"but it received {len(flat)} input tensors.")
        converted = [convert(x, t) for x, t in zip(flat, self._inputs_flat)]
        if isinstance(self._input_structure, list):
            return converted
        return converted[0]

    def call(self, inputs, training=None, mask=None):
        if isinstance(self._input_structure, dict):
            flat = [inputs[k] for k in self._input_structure]
            keys = list(self._input_structure.values())
        else:
            flat = nest.flatten(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
            keys = self._inputs_flat
        values = {id(t): v for t, v in zip(keys, flat)}
        self._run_nodes(values)
        for t in self._graph_losses:
            self.add_loss(values[id(t)])
        return nest.pack_sequence_as(self._output_structure,
                                     [values[id(t)] for t in self._outputs_flat])

    def _run_nodes(self, values):
        def value_of(x):
            return values[id(x)] if _is_symbolic(x) else x

        for node in self._nodes:
            if isinstance(node, OpNode):
                out = node.run(values)
                outs = out if isinstance(out, tuple) else (out,)
                for sym, val in zip(node.outputs, outs):
                    values[id(sym)] = val
                continue
            args = nest.map_structure(value_of, node.args)
            kwargs = nest.map_structure(value_of, node.kwargs)
            out = node.layer(*args, **kwargs)
            for sym, val in zip(node.flat_outputs, nest.flatten(out)):
                values[id(sym)] = val

    # -- losses -------------------------------------------------------------------------------
    def add_loss(self, loss):
        """A symbolic loss (computed from the model's tensors) becomes part of the graph: it is
        computed on every call and added to `losses`."""
        if is_shape_only(loss):
            self._graph_losses.append(loss)
            try:
                self._order()
            except ValueError:
                self._graph_losses.pop()
                raise
            return
        super().add_loss(loss)

    def _build_on_first_call(self, inputs):
        self.built = True

    def get_config(self):
        from dtf.keras.models.functional_config import functional_config

        return functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from dtf.keras.models.functional_config import functional_from_config

        return functional_from_config(cls, config, custom_objects)


def _dims(t):
    dims = t.shape.dims
    return None if dims is None else tuple(dims)

