"""`keras.Model`: a Layer with model-level tools (summary, get_layer; training loops come with
`compile`/`fit`).

`keras.Model(inputs, outputs)` builds a Functional model (see `functional.py`); subclassing
`keras.Model` and writing `call` gives a subclassed model, which tracks its layers as any Layer.

Example:
    >>> class MLP(keras.Model):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = keras.layers.Dense(32, activation="relu")
    ...         self.out = keras.layers.Dense(10)
    ...     def call(self, x):
    ...         return self.out(self.hidden(x))
    >>> MLP()(dtf.ones((2, 784))).shape
    TensorShape([2, 10])
"""

from __future__ import annotations

from dtf.keras.layers.layer import Layer
from dtf.keras.trainers.trainer import Trainer

__all__ = ["Model"]


def _is_functional_init(args, kwargs):
    return (len(args) == 2 or (len(args) == 1 and "outputs" in kwargs)
            or ("inputs" in kwargs and "outputs" in kwargs))


class Model(Trainer, Layer):
    """A Layer that is a whole model: `Model(inputs, outputs, name=...)` for the Functional API,
    or subclass it and define `call`."""

    def __new__(cls, *args, **kwargs):
        if cls is Model and _is_functional_init(args, kwargs):
            from dtf.keras.models.functional import Functional

            return Functional.__new__(Functional, *args, **kwargs)
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        if _is_functional_init(args, kwargs):
            # A subclass calling super().__init__(inputs, outputs): Keras makes it a Functional
            # model by putting Functional in place of Model among the class's bases.
            from dtf.keras.models.functional import Functional

            cls = type(self)
            if not issubclass(cls, Functional):
                if Model not in cls.__bases__:
                    raise TypeError(f"{cls.__name__} passes inputs and outputs to "
                                    "keras.Model.__init__, which needs keras.Model as a direct "
                                    "base class.")
                cls.__bases__ = tuple(Functional if b is Model else b for b in cls.__bases__)
                from dtf.keras.layers import layer as _layer

                _layer._CALL_FLAGS.pop(cls, None)
                params = _layer._call_params(cls)
                object.__setattr__(self, "_call_has_training", "training" in params)
                object.__setattr__(self, "_call_has_mask", "mask" in params)
            Functional._init_graph(self, *args, **kwargs)
            return
        super().__init__(*args, **kwargs)

    @property
    def layers(self) -> list:
        return list(self._tracker.layers)

    def get_layer(self, name=None, index=None):
        """A layer of the model, by name or by index (in `layers` order)."""
        if index is not None and name is not None:
            raise ValueError(f"Provide only a layer name or a layer index. Received: "
                             f"index={index}, name={name}.")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only "
                                 f"has {len(layers)} layers.")
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[layer.name for layer in layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Prints the model's layers as a table: name (type), output shape, parameter count,
        then the totals."""
        from dtf.keras.models.summary import print_summary

        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable,
                      layer_range=layer_range)

    def build(self, input_shape=None):
        """Builds the model by running it on a symbolic input of `input_shape` (batch dim
        included), which creates every weight."""
        if input_shape is None:
            raise ValueError("You must provide an `input_shape` argument to build a model, e.g. "
                             "model.build((None, 784)).")
        if type(self).call is Layer.call:
            self.built = True
            return
        from dtf.compile.symbolic import placeholder
        from dtf.tensor_shape import TensorShape

        if isinstance(input_shape, (list, tuple)) and input_shape and \
                isinstance(input_shape[0], (list, tuple, TensorShape)):
            inputs = [placeholder(TensorShape(s), self._dtype_name) for s in input_shape]
        elif isinstance(input_shape, dict):
            inputs = {k: placeholder(TensorShape(s), self._dtype_name)
                      for k, s in input_shape.items()}
        else:
            inputs = placeholder(TensorShape(input_shape), self._dtype_name)
        from dtf.keras.layers.tracking import call_context

        object.__setattr__(self, "built", True)  # so that calling does not build again
        outer = call_context.symbolic
        call_context.symbolic = True
        try:
            self.call(inputs)
        except Exception as e:
            object.__setattr__(self, "built", False)
            raise ValueError(f"Model {self.name} could not be built on inputs of shape "
                             f"{input_shape}: {e}") from e
        finally:
            call_context.symbolic = outer
        self._build_shapes = input_shape

    # -- saving (dtf.keras.saving) ---------------------------------------------------------
    def export(self, filepath, format="tf_saved_model", verbose=True, input_signature=None,
               **kwargs):
        """Exports the model for serving: one portable file with a `serve` endpoint and the
        `serving_default` signature; load it with `dtf.saved_model.load(filepath)`, no model
        code needed.

        Example:
            >>> model.export("mlp.dtf")
            >>> dtf.saved_model.load("mlp.dtf").serve(x)
        """
        if format != "tf_saved_model":
            raise ValueError(f"Unrecognized format={format!r}: dtf exports 'tf_saved_model' "
                             "(its portable msgpack file).")
        from dtf.saved_model import export_keras_model

        export_keras_model(self, filepath, input_signature=input_signature, verbose=verbose)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Saves the model (config, weights, optimizer state) as a `.keras` archive."""
        from dtf.keras.saving import saving_api

        return saving_api.save_model(self, filepath, overwrite=overwrite, zipped=zipped,
                                     **kwargs)

    def save_weights(self, filepath, overwrite=True, **kwargs):
        """Saves the weights (`.weights.h5`, Keras 3's layout)."""
        from dtf.keras.saving import saving_api

        return saving_api.save_weights(self, filepath, overwrite=overwrite, **kwargs)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Loads weights saved by `save_weights` or `save`; all shapes are checked before any
        weight changes."""
        from dtf.keras.saving import saving_api

        return saving_api.load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    def get_config(self):
        return Layer.get_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from dtf.keras.models.functional import Functional

        if "nodes" in config and "layers" in config:  # a Functional model's config
            from dtf.keras.models.functional_config import functional_from_config

            target = cls if issubclass(cls, Functional) else Functional
            return functional_from_config(target, config, custom_objects)
        return super().from_config(config)
