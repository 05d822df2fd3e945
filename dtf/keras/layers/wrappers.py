"""Layer wrappers: Bidirectional (a recurrent layer run both ways) and TimeDistributed (a
layer applied to every time step).

Example:
    >>> bi = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))
    >>> bi(dtf.ones((2, 5, 3))).shape
    TensorShape([2, 5, 8])
"""

from __future__ import annotations

from dtf import nest
from dtf.keras.layers.layer import Layer
from dtf.keras.layers.rnn_masking import MaskPropagation
from dtf.ops import array_ops

__all__ = ["Bidirectional", "TimeDistributed"]

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _serialize(obj):
    from dtf.keras.saving import serialization

    return serialization.serialize_keras_object(obj)


def _deserialize_layer(config, custom_objects=None):
    from dtf.keras.saving import serialization

    return serialization.deserialize_keras_object(config, module_objects=_layer_classes(),
                                                  custom_objects=custom_objects)


def _layer_classes():
    """Layer classes a wrapped layer's config may name: the package's and this issue's."""
    from dtf.keras import layers as layers_module
    from dtf.keras.layers import attention, embedding, merging, normalization, rnn, rnn_cells

    out = {}
    for module in (layers_module, rnn, rnn_cells, embedding, normalization, merging, attention):
        for name in dir(module):
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, Layer):
                out[name] = obj
    out["Bidirectional"] = Bidirectional
    out["TimeDistributed"] = TimeDistributed
    return out


def _clone(layer, **overrides):
    config = layer.get_config()
    config.update(overrides)
    return type(layer).from_config(config)


def _strip(name, prefix):
    return name.removeprefix(prefix)


class Bidirectional(MaskPropagation, Layer):
    """Runs a recurrent layer forwards and a copy of it backwards over the sequence, and merges
    their outputs.

    Args:
        layer: a recurrent layer (RNN, LSTM, GRU, ...). It is copied (from its config) into
            `forward_layer` and, with `go_backwards` flipped, into `backward_layer`.
        merge_mode: "concat" (default), "sum", "mul", "ave", or None (a list of both).
        weights: initial weights: the forward layer's then the backward layer's.
        backward_layer: a layer to use as the backward one instead of the copy.

    With `return_sequences`, the backward outputs are reversed back into time order before
    merging; masked steps output zeros (Keras sets `zero_output_for_mask`). With
    `return_state`, the forward layer's states follow the output, then the backward one's.

    Example:
        >>> bi = keras.layers.Bidirectional(keras.layers.GRU(3), merge_mode="sum")
        >>> bi(dtf.ones((2, 5, 4))).shape
        TensorShape([2, 3])
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None,
                 **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(  # noqa: TRY004 (Keras raises ValueError)
                f"Please initialize `Bidirectional` layer with a "
                             f"`keras.layers.Layer` instance. Received: {layer!r}")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(f"`backward_layer` need to be a `keras.layers.Layer` instance. "
                             f"Received: {backward_layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Invalid merge mode. Received: {merge_mode}. Merge mode should be "
                             f'one of {{"sum", "mul", "ave", "concat", None}}')
        super().__init__(**kwargs)
        self.forward_layer = _clone(layer, name=f"forward_{_strip(layer.name, 'forward_')}")
        if backward_layer is None:
            backward_layer = _clone(layer, go_backwards=not layer.go_backwards,
                                    name=f"backward_{_strip(layer.name, 'backward_')}")
        self.backward_layer = backward_layer
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(self.forward_layer, attr) != getattr(self.backward_layer, attr):
                raise ValueError(
                    f'Forward layer and backward layer are expected to have the same value for '
                    f'attribute "{attr}", got "{getattr(self.forward_layer, attr)}" for forward '
                    f'layer and "{getattr(self.backward_layer, attr)}" for backward layer')
        if self.forward_layer.go_backwards == self.backward_layer.go_backwards:
            raise ValueError("Forward layer and backward layer should have different "
                             "`go_backwards` value.")
        for inner in (self.forward_layer, self.backward_layer):
            if hasattr(inner, "zero_output_for_mask"):
                inner.zero_output_for_mask = inner.return_sequences
        self.merge_mode = merge_mode
        self._initial_weights = weights
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True
        self.input_spec = layer.input_spec

    def build(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        self.forward_layer.build(shape)
        self.forward_layer.built = True
        self.backward_layer.build(shape)
        self.backward_layer.built = True
        if self._initial_weights is not None:
            weights = list(self._initial_weights)
            half = len(weights) // 2
            self.forward_layer.set_weights(weights[:half])
            self.backward_layer.set_weights(weights[half:])
            self._initial_weights = None
        self.built = True

    def call(self, sequences, initial_state=None, mask=None, training=None):
        kwargs = {"training": training, "mask": mask}
        forward_kwargs, backward_kwargs = dict(kwargs), dict(kwargs)
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else \
                [initial_state]
            half = len(states) // 2
            forward_kwargs["initial_state"] = states[:half]
            backward_kwargs["initial_state"] = states[half:]
        y = self.forward_layer(sequences, **forward_kwargs)
        y_rev = self.backward_layer(sequences, **backward_kwargs)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = array_ops.reverse(y_rev, [1])
        if self.merge_mode == "concat":
            output = array_ops.concat([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) / 2.0
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = [y, y_rev]
        if self.return_state:
            return (output if isinstance(output, list) else [output]) + states
        return output

    def reset_states(self, states=None):
        if states is None:
            self.reset_state()
        else:
            half = len(states) // 2
            self.forward_layer.reset_states(states[:half])
            self.backward_layer.reset_states(states[half:])

    def reset_state(self):
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        out = self.forward_layer.compute_output_shape(sequences_shape)
        states = []
        if self.return_state:
            states = list(out[1:]) * 2
            out = out[0]
        out = tuple(out)
        if self.merge_mode == "concat":
            out = out[:-1] + (out[-1] * 2,)
        outputs = [out, out] if self.merge_mode is None else [out]
        if self.return_state:
            return outputs + states
        return outputs if self.merge_mode is None else out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        masks = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            count = len(nest.flatten(self.forward_layer.state_size)) * 2
            return masks + [None] * count
        return masks if self.merge_mode is None else output_mask

    def get_config(self):
        config = super().get_config()
        config["merge_mode"] = self.merge_mode
        config["layer"] = _serialize(self.forward_layer)
        config["backward_layer"] = _serialize(self.backward_layer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = _deserialize_layer(config.pop("layer"), custom_objects)
        backward = config.pop("backward_layer", None)
        if backward is not None:
            backward = _deserialize_layer(backward, custom_objects)
        return cls(layer, backward_layer=backward, **config)


class TimeDistributed(MaskPropagation, Layer):
    """Applies `layer` to every time step (axis 1) of its input.

    The wrapped layer sees all steps at once, as a batch of `batch * time` samples: the same
    result as one call per step for layers that treat samples independently (a
    BatchNormalization in training mode sees the statistics of all steps together).

    Args:
        layer: the layer to apply (Dense, Conv2D, a model, ...).

    Example:
        >>> td = keras.layers.TimeDistributed(keras.layers.Dense(8))
        >>> td(dtf.ones((32, 10, 16))).shape
        TensorShape([32, 10, 8])
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(  # noqa: TRY004 (Keras raises ValueError)
                f"Please initialize `TimeDistributed` layer with a "
                             f"`keras.layers.Layer` instance. Received: {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True

    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) < 3:
            raise ValueError(f'Layer "{self.name}": `TimeDistributed` requires input with at '
                             f"least 3 dimensions (batch, time, ...), got shape {shape}.")
        if not self.layer.built:
            self.layer.build((None,) + shape[2:])
            self.layer.built = True
        self.built = True

    def call(self, inputs, training=None, mask=None):
        shape = inputs.shape.as_list()
        if mask is not None:
            m_shape = mask.shape.as_list()
            if len(m_shape) < 2:
                raise ValueError(f"The `mask` passed to the `TimeDistributed` layer must be at "
                                 f"least 2D (e.g., `(batch_size, timesteps)`), but it has "
                                 f"{len(m_shape)} dimension(s) with shape {mask.shape}.")
            if any(a is not None and b is not None and a != b
                   for a, b in zip(m_shape[:2], shape[:2])):
                raise ValueError(f"The `mask` passed to the `TimeDistributed` layer has a shape "
                                 f"{mask.shape} that is incompatible with the input shape "
                                 f"{inputs.shape}. Expected mask shape prefix: ({shape[0]}, "
                                 f"{shape[1]}).")
        kwargs = {}
        if getattr(self.layer, "_call_has_training", False):
            kwargs["training"] = training
        if mask is not None and getattr(self.layer, "_call_has_mask", False):
            kwargs["mask"] = array_ops.reshape(mask, [-1] + mask.shape.as_list()[2:])
        out = self.layer(array_ops.reshape(inputs, [-1] + shape[2:]), **kwargs)
        time = -1 if shape[1] is None else shape[1]
        if shape[0] is not None and shape[1] is not None:
            batch = shape[0]
        elif shape[1] is not None:
            batch = -1
        else:
            # symbolic, both unknown: only the shape matters (a model runs it on data)
            from dtf.compile.symbolic import placeholder

            return nest.map_structure(
                lambda y: placeholder([None, None] + y.shape.as_list()[1:], y.dtype), out)
        return nest.map_structure(
            lambda y: array_ops.reshape(y, [batch, time] + y.shape.as_list()[1:]), out)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        inner = self.layer.compute_output_shape((shape[0],) + shape[2:])
        return (inner[0], shape[1]) + tuple(inner[1:])

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config["layer"] = _serialize(self.layer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = _deserialize_layer(config.pop("layer"), custom_objects)
        return cls(layer, **config)
