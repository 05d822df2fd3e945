"""`keras.Sequential`: a plain stack of layers, each with one input and one output.

Given its input shape (a `keras.Input` first, or `input_shape=` on the first layer) the model
builds at once: the layers run on a symbolic input, which creates their weights. Otherwise it
builds on its first call, from the data's shape.

Example:
    >>> model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(10)])
    >>> len(model.weights)
    2
"""

from __future__ import annotations

import numpy as np

from dtf.compile.context import init_scope
from dtf.compile.symbolic import placeholder
from dtf.keras.layers.input_layer import InputLayer
from dtf.keras.layers.layer import Layer
from dtf.keras.models.model import Model
from dtf.tensor_shape import TensorShape

__all__ = ["Sequential"]


class Sequential(Model):
    """A linear stack of layers.

    Args:
        layers: the layers, in order (a `keras.Input` may come first).
        name: the model's name (default `sequential`, `sequential_1`, ...).
    """

    _UNTRACKED_ATTRS = frozenset({"_input_layer", "_graph_input", "_graph_output"})

    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        super().__init__(trainable=trainable, name=name, **kwargs)
        self._input_layer = None
        self._graph_input = None
        self._graph_output = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_rebuild()

    def add(self, layer, rebuild=True):
        """Appends a layer (or a `keras.Input`, only first) to the stack."""
        if getattr(layer, "_is_symbolic", False) and layer._keras_history is not None and \
                isinstance(layer._keras_history[0].layer, InputLayer):
            layer = layer._keras_history[0].layer
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self._tracker.layers:
                raise ValueError(f"Sequential model '{self.name}' already has layers: a keras.Input can "
                                 "only come first.")
            self._input_layer = layer
        elif not isinstance(layer, Layer):
            raise TypeError(f"Only instances of `keras.Layer` can be added to a Sequential "
                            f"model. Received: {layer!r} (of type {type(layer).__name__})")
        else:
            for existing in self._tracker.layers:
                if existing.name == layer.name:
                    raise ValueError(
                        f"All layers added to a Sequential model should have unique names. "
                        f"Name '{layer.name}' is already the name of a layer in this model. "
                        "Update the `name` argument to pass a unique name.")
            self._tracker.add(layer)
        self.built = False
        self._graph_input = self._graph_output = None
        if rebuild:
            self._maybe_rebuild()

    def pop(self, rebuild=True):
        """Removes and returns the last layer."""
        if not self._tracker.layers:
            raise TypeError("There are no layers in the model.")
        layer = self._tracker.layers[-1]
        self._tracker.remove(layer)
        self.built = False
        self._graph_input = self._graph_output = None
        if rebuild:
            self._maybe_rebuild()
        return layer

    def _known_input_shape(self):
        if self._input_layer is not None:
            return self._input_layer.batch_shape
        layers = self._tracker.layers
        if layers and layers[0]._batch_input_shape is not None:
            return layers[0]._batch_input_shape
        return None

    def _maybe_rebuild(self):
        shape = self._known_input_shape()
        if shape is not None and self._tracker.layers:
            self.build(shape)

    def build(self, input_shape=None):
        """Creates every layer's weights by running the stack on a symbolic input."""
        if input_shape is None:
            input_shape = self._known_input_shape()
        if input_shape is None:
            raise ValueError("You must provide an `input_shape` argument to build a Sequential "
                             "model, e.g. model.build((None, 784)).")
        dtype = self._input_layer.dtype if self._input_layer is not None else \
            (self._tracker.layers[0]._dtype_name if self._tracker.layers else self._dtype_name)
        with init_scope():  # a symbolic build, never part of a dtf.function being traced
            x = inputs = placeholder(TensorShape(input_shape), dtype, name=f"{self.name}_input")
            for layer in self._tracker.layers:
                x = layer(x)
        self._graph_input, self._graph_output = inputs, x
        object.__setattr__(self, "built", True)

    def _build_on_first_call(self, inputs):
        shape = getattr(inputs, "shape", None)
        if shape is None or shape.rank is None or not self._tracker.layers:
            object.__setattr__(self, "built", True)
            return
        self.build((None,) + tuple(shape.dims[1:]))

    @property
    def layers(self) -> list:
        return list(self._tracker.layers)

    def _convert_inputs(self, inputs):
        """NumPy data to Tensors, dtypes kept: each layer casts what it receives itself."""
        if isinstance(inputs, np.ndarray):
            from dtf.ops.creation_ops import convert_to_tensor

            return convert_to_tensor(inputs)
        return inputs

    def call(self, inputs, training=None, mask=None):
        x = inputs
        for layer in self._tracker.layers:
            x = layer(x)
        return x

    @property
    def inputs(self):
        return None if self._graph_input is None else [self._graph_input]

    @property
    def outputs(self):
        return None if self._graph_output is None else [self._graph_output]

    @property
    def input_shape(self):
        if self._graph_input is None:
            raise AttributeError(f"Sequential model '{self.name}' has not been built yet, so "
                                 "its input shape is unknown.")
        return tuple(self._graph_input.shape.dims)

    @property
    def output_shape(self):
        if self._graph_output is None:
            raise AttributeError(f"Sequential model '{self.name}' has not been built yet, so "
                                 "its output shape is unknown.")
        return tuple(self._graph_output.shape.dims)

    def get_config(self):
        from dtf.keras.saving import serialization

        layers = []
        if self._input_layer is not None:
            layers.append(serialization.serialize_keras_object(self._input_layer))
        layers.extend(serialization.serialize_keras_object(layer)
                      for layer in self._tracker.layers)
        config = {"name": self.name, "trainable": self.trainable, "layers": layers}
        if self._input_layer is None and self._graph_input is not None:
            config["build_input_shape"] = tuple(self._graph_input.shape.dims)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from dtf.keras.saving import serialization

        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_config in config["layers"]:
            layer = serialization.deserialize_keras_object(
                layer_config, module_objects=_layer_classes(), custom_objects=custom_objects)
            model.add(layer, rebuild=False)
        shape = config.get("build_input_shape")
        if model._known_input_shape() is not None:
            model._maybe_rebuild()
        elif shape is not None:
            model.build(shape)
        return model


def _layer_classes():
    """The built-in classes a serialized layer may name (layers and models)."""
    from dtf.keras import layers, models

    return {name: getattr(module, name) for module in (layers, models) for name in dir(module)
            if isinstance(getattr(module, name), type)}
