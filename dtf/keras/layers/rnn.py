"""Recurrent layers: the generic `RNN(cell)` and SimpleRNN, LSTM, GRU.

`RNN` loops a cell (see `rnn_cells`) over the time axis of `(batch, time, features)` inputs,
with Keras 3's options: `return_sequences`, `return_state`, `go_backwards` (the output sequence
then stays in reversed order, as Keras returns it), `stateful` (the last states are kept in
non-trainable Variables, outside `weights`, and start the next call), masking (a masked step
leaves the states unchanged and repeats the previous output), `initial_state=` and
`zero_output_for_mask`.

The built-in cells with their standard activations run the whole sequence as one fused
primitive (`dtf.ops.rnn_ops`): forward and backward are NumPy loops, not one dtf op per gate
per step. Other cells (custom ones, other activations, recurrent dropout in training) run step
by step through `cell.call`; both paths compute the same values.

Example:
    >>> lstm = keras.layers.LSTM(8, return_sequences=True, return_state=True)
    >>> seq, h, c = lstm(dtf.ones((4, 10, 3)))
    >>> seq.shape, h.shape
    (TensorShape([4, 10, 8]), TensorShape([4, 8]))
"""

from __future__ import annotations

from dtf import nest
from dtf.compile.symbolic import is_shape_only
from dtf.keras.layers.input_spec import InputSpec
from dtf.keras.layers.layer import Layer
from dtf.keras.layers.rnn_cells import (
    GRUCell,
    LSTMCell,
    SimpleRNNCell,
    StackedRNNCells,
    deserialize_cell,
)
from dtf.keras.layers.rnn_masking import MaskPropagation
from dtf.ops import array_ops, creation_ops, math_ops, reduce_ops
from dtf.variables import Variable

__all__ = ["GRU", "LSTM", "RNN", "SimpleRNN"]


def _serialize(obj):
    from dtf.keras.saving import serialization

    return serialization.serialize_keras_object(obj)


def _is_symbolic(x):
    return getattr(x, "_is_symbolic", False)



def _expand_to(mask_t, like):
    """A (batch,) step mask as (batch, 1, ...) to select between tensors shaped like `like`."""
    rank = like.shape.rank
    return array_ops.reshape(mask_t, [-1] + [1] * (rank - 1)) if rank > 2 else \
        array_ops.expand_dims(mask_t, -1)


class RNN(MaskPropagation, Layer):
    """Base class for recurrent layers: runs `cell` over the time axis.

    Args:
        cell: an RNN cell (a Layer with `call(inputs, states)` returning `(output,
            new_states)` and a `state_size`), or a list of cells (stacked).
        return_sequences: return the output of every step (batch, time, units), not only
            the last one.
        return_state: also return the final states: `[output, state_1, ...]`.
        go_backwards: process the sequence in reverse (and return it reversed).
        stateful: keep the last states of each batch as the initial states of the next
            (needs a fixed batch size); `reset_states()` zeroes them.
        unroll: accepted for compatibility (dtf loops in Python either way).
        zero_output_for_mask: masked steps output zeros instead of the previous output.

    Call arguments:
        sequences: (batch, time, features).
        initial_state: a tensor or list of tensors, one per state.
        mask: (batch, time) bool: False skips the step.
        training: passed to the cell (dropout).

    Example:
        >>> rnn = RNN(LSTMCell(4), return_sequences=True)
        >>> rnn(dtf.ones((2, 6, 3))).shape
        TensorShape([2, 6, 4])
    """

    _UNTRACKED_ATTRS = frozenset({"states", "_expected_batch_size"})

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            dtype = kwargs.get("dtype") or getattr(cell[0], "dtype", None) if cell else None
            cell = StackedRNNCells(cell, dtype=dtype)
        if "call" not in dir(cell):
            raise ValueError(f"Argument `cell` should have a `call` method. Received: "
                             f"cell={cell!r}")
        state_size = getattr(cell, "state_size", None)
        if state_size is None:
            raise ValueError("The RNN cell should have a `state_size` attribute (single "
                             "integer or list of integers, one integer per RNN state). "
                             f"Received: cell={cell!r}")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self.input_spec = InputSpec(min_ndim=3)
        self.states = None
        self._expected_batch_size = None

    # -- sizes --------------------------------------------------------------------------------
    @property
    def state_size(self):
        size = self.cell.state_size
        return list(size) if isinstance(size, (list, tuple)) else [size]

    @property
    def _output_size(self):
        size = getattr(self.cell, "output_size", None)
        if size is None:
            size = nest.flatten(self.state_size)[0]
        return size

    # -- building -----------------------------------------------------------------------------
    def build(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        if len(shape) < 3:
            raise ValueError(f'Layer "{self.name}" expects inputs of shape (batch, time, '
                             f"features), got shape {shape}.")
        step_shape = (shape[0],) + shape[2:]
        if shape[-1] is not None:
            self.input_spec = InputSpec(ndim=len(shape), axes={-1: shape[-1]})
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build(step_shape)
            self.cell.built = True
        if self.stateful:
            if shape[0] is None:
                raise ValueError(
                    f'Layer "{self.name}": when using `stateful=True` in a RNN, the batch size '
                    f"must be static. Found dynamic batch size: sequence.shape={shape}. Pass "
                    "`batch_size=` to keras.Input (or `batch_input_shape=` to the layer).")
            if self.states is None:
                self.states = [Variable(s, trainable=False, name=f"{self.name}/rnn_state")
                               for s in nest.flatten(self._zero_states(shape[0]))]
            else:
                self.reset_state()
            self._expected_batch_size = shape[0]
        self.built = True

    def _zero_states(self, batch_size, like=None):
        """Zero initial states (the cell's `get_initial_state` when it has one). With `like`
        (symbolic sequences of unknown batch size), zeros shaped from its batch."""
        if like is not None:
            base = array_ops.expand_dims(like[:, 0, 0] * 0.0, -1)  # (batch, 1)
            states = [array_ops.tile(base, [1, d]) for d in nest.flatten(self.state_size)]
            return nest.pack_sequence_as(self.state_size, states)
        fn = getattr(self.cell, "get_initial_state", None)
        if fn is not None:
            states = fn(batch_size=batch_size)
            return list(states) if isinstance(states, (list, tuple)) else [states]
        return [creation_ops.zeros((batch_size, d), dtype=self.dtype)
                for d in self.state_size]

    def get_initial_state(self, batch_size):
        return self._zero_states(batch_size)

    def reset_state(self):
        """Zeroes the states of a stateful layer."""
        if self.states is not None:
            for v in self.states:
                v.assign(creation_ops.zeros_like(v.read_value()))

    def reset_states(self, states=None):
        """Zeroes the states of a stateful layer, or sets them to `states` (arrays, one per
        state)."""
        if states is None:
            self.reset_state()
            return
        if self.states is None:
            raise AttributeError(f'Layer "{self.name}" is not stateful (or not built): it has '
                                 "no states to reset.")
        values = nest.flatten(states)
        if len(values) != len(self.states):
            raise ValueError(f'Layer "{self.name}" expects {len(self.states)} states, but it '
                             f"received {len(values)} state values.")
        for v, value in zip(self.states, values):
            v.assign(value)

    # -- calling ------------------------------------------------------------------------------
    def call(self, sequences, initial_state=None, mask=None, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        shape = sequences.shape
        if self.unroll and shape[1] is None:
            raise ValueError(f'Layer "{self.name}": cannot unroll a RNN if the time dimension '
                             "is undefined. Give keras.Input a `shape` with the number of steps.")
        symbolic = is_shape_only(sequences)
        explicit_state = initial_state is not None
        if initial_state is None:
            if self.stateful:
                initial_state = nest.pack_sequence_as(
                    self._state_structure(), [v.read_value() for v in self.states])
                explicit_state = True
            elif shape[0] is None:
                initial_state = self._zero_states(None, like=sequences)
            else:
                initial_state = self._zero_states(shape[0])
        else:
            initial_state = self._check_initial_state(initial_state, shape)
        if self.stateful and shape[0] is not None and self._expected_batch_size is not None \
                and shape[0] != self._expected_batch_size:
            raise ValueError(
                f'Layer "{self.name}": if an RNN is stateful, the batch size of the input '
                f"sequences must be the same as the batch size of the initial state.\n- "
                f"Expected batch size: {self._expected_batch_size}\n- Received batch size: "
                f"{shape[0]}")
        if mask is not None:
            mask = self._as_step_mask(mask, shape)
        if self.go_backwards:
            sequences = array_ops.reverse(sequences, [1])
            if mask is not None:
                mask = array_ops.reverse(mask, [1])
        try:
            fused = getattr(self.cell, "_fused_sequence", None)
            result = fused(sequences, initial_state, mask, training) if fused else None
            if result is not None:
                outputs, last_output, states = result
                if mask is not None and explicit_state:
                    outputs, last_output = self._zero_before_first_step(outputs, mask)
            elif symbolic and shape[1] is None:
                return self._symbolic_result(sequences)
            else:
                outputs, last_output, states = self._loop(sequences, initial_state, mask,
                                                          training)
        finally:
            self._reset_dropout_masks(self.cell)
        if self.zero_output_for_mask and mask is not None:
            if self.return_sequences:
                keep = mask
                for _ in range(outputs.shape.rank - 2):
                    keep = array_ops.expand_dims(keep, -1)
                outputs = math_ops.where(keep, outputs, creation_ops.zeros_like(outputs))
            keep_last = _expand_to(mask[:, -1], last_output)
            last_output = math_ops.where(keep_last, last_output,
                                         creation_ops.zeros_like(last_output))
        if self.stateful and not symbolic:
            for variable, value in zip(self.states, nest.flatten(states)):
                variable.assign(value)
        output = outputs if self.return_sequences else last_output
        if self.return_state:
            return [output] + list(nest.flatten(states))
        return output

    def _state_structure(self):
        return self.state_size

    def _check_initial_state(self, initial_state, shape):
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else \
            [initial_state]
        expected = len(nest.flatten(self.state_size))
        flat = nest.flatten(states)
        if len(flat) != expected:
            raise ValueError(f'Layer "{self.name}" expects {expected} initial state tensor(s) '
                             f"(state_size={self.state_size}), but it received {len(flat)}.")
        converted = []
        for s in flat:
            if not _is_symbolic(s):
                s = creation_ops.convert_to_tensor(s)
            if s.dtype.name != self.dtype and s.dtype.is_floating:
                s = math_ops.cast(s, self.dtype)
            converted.append(s)
        return nest.pack_sequence_as(self.state_size, converted)

    def _as_step_mask(self, mask, shape):
        from dtf import dtypes

        if not _is_symbolic(mask):
            mask = creation_ops.convert_to_tensor(mask)
        if mask.dtype != dtypes.bool:
            mask = math_ops.cast(mask, dtypes.bool)
        if mask.shape.rank == 3:
            mask = mask[:, :, 0]
        if mask.shape.rank != 2:
            raise ValueError(f'Layer "{self.name}": the mask must have shape (batch, time), '
                             f"got {mask.shape} for inputs of shape {shape}.")
        for got, want in zip(mask.shape.as_list(), list(shape)[:2]):
            if got is not None and want is not None and got != want:
                raise ValueError(f'Layer "{self.name}": the mask has shape {mask.shape}, but '
                                 f"the inputs have shape {shape}: they must agree on (batch, "
                                 "time).")
        return mask

    def _zero_before_first_step(self, outputs, mask):
        """Keras outputs zeros (not the initial state) until a sample's first unmasked step."""
        seen = math_ops.greater(reduce_ops.cumsum(math_ops.cast(mask, outputs.dtype), axis=1),
                                0.0)
        for _ in range(outputs.shape.rank - 2):
            seen = array_ops.expand_dims(seen, -1)
        outputs = math_ops.where(seen, outputs, creation_ops.zeros_like(outputs))
        return outputs, outputs[:, -1]

    def _loop(self, sequences, initial_state, mask, training):
        """The step-by-step loop of `cell.call`, masked as Keras' `backend.rnn`."""
        cell = self.cell
        kwargs = {"training": training} if getattr(cell, "_call_has_training", False) else {}
        call = cell.__call__ if isinstance(cell, Layer) else cell.call
        steps = array_ops.unstack(sequences, axis=1)
        step_masks = array_ops.unstack(mask, axis=1) if mask is not None else None
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else \
            [initial_state]
        outputs = []
        output = None
        for t, x_t in enumerate(steps):
            out, new_states = call(x_t, states, **kwargs)
            if not isinstance(new_states, (list, tuple)):
                new_states = [new_states]
            if step_masks is not None:
                keep = _expand_to(step_masks[t], out)
                previous = creation_ops.zeros_like(out) if output is None else output
                out = math_ops.where(keep, out, previous)
                flat_new = [math_ops.where(_expand_to(step_masks[t], n), n, s)
                            for n, s in zip(nest.flatten(new_states), nest.flatten(states))]
                new_states = nest.pack_sequence_as(states, flat_new)
            output = out
            states = list(new_states)
            if self.return_sequences:
                outputs.append(out)
        if output is None:
            raise ValueError(f'Layer "{self.name}" received a sequence with no time steps '
                             f"(shape {sequences.shape}).")
        all_outputs = array_ops.stack(outputs, axis=1) if self.return_sequences else None
        return all_outputs, output, states

    def _symbolic_result(self, sequences):
        """Symbolic outputs for a step-by-step cell over an unknown number of steps: their
        shapes only (a functional model runs the layer again on data)."""
        from dtf.compile.symbolic import placeholder

        shapes = self.compute_output_shape(tuple(sequences.shape.as_list()))
        if self.return_state:
            return [placeholder(s, self.dtype) for s in shapes]
        return placeholder(shapes, self.dtype)

    @staticmethod
    def _reset_dropout_masks(cell):
        if hasattr(cell, "reset_dropout_mask"):
            cell.reset_dropout_mask()
            cell.reset_recurrent_dropout_mask()
        for inner in getattr(cell, "cells", ()):
            RNN._reset_dropout_masks(inner)

    # -- shapes, masks, config ----------------------------------------------------------------
    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        batch = shape[0]
        out = (batch, shape[1], self._output_size) if self.return_sequences else \
            (batch, self._output_size)
        if self.return_state:
            return [out] + [(batch, d) for d in nest.flatten(self.state_size)]
        return out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(nest.flatten(self.state_size))
        return output_mask

    def get_config(self):
        config = super().get_config()
        config.update({
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "cell": _serialize(self.cell),
        })
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cell = deserialize_cell(config.pop("cell"), custom_objects)
        return cls(cell, **config)


class _CellLayer(RNN):
    """A recurrent layer that makes its own cell from its arguments (SimpleRNN, LSTM, GRU)."""

    _CELL = None
    _CELL_NAME = None
    _CELL_ARGS = ()

    def __init__(self, units, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, activity_regularizer=None, **kwargs):
        cell_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in self._CELL_ARGS}
        if "implementation" in kwargs:
            cell_kwargs["implementation"] = kwargs.pop("implementation")
        kwargs.pop("use_cudnn", None)  # no cuDNN on NumPy; the fused primitive plays its part
        kwargs.pop("time_major", None)
        cell = self._CELL(units, dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable",
                                                                                 True),
                          name=self._CELL_NAME, **cell_kwargs)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.input_spec = InputSpec(ndim=3)

    def __getattr__(self, name):
        # the cell's arguments read as the layer's (lstm.units, lstm.recurrent_activation, ...)
        if name in type(self)._CELL_ARGS or name == "units":
            cell = self.__dict__.get("cell")
            if cell is not None:
                return getattr(cell, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self):
        config = RNN.get_config(self)
        del config["cell"]
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        config.update(cell_config)
        config["activity_regularizer"] = _serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


_COMMON_CELL_ARGS = ("activation", "use_bias", "kernel_initializer", "recurrent_initializer",
                     "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
                     "bias_regularizer", "kernel_constraint", "recurrent_constraint",
                     "bias_constraint", "dropout", "recurrent_dropout", "seed")


class SimpleRNN(_CellLayer):
    """Fully connected RNN whose output is fed back as its input: `h_t = activation(x_t @
    kernel + h_{t-1} @ recurrent_kernel + bias)`.

    Args:
        units: output size.
        activation (default tanh), use_bias, initializers, regularizers, constraints, dropout,
        recurrent_dropout, seed: as SimpleRNNCell's.
        return_sequences, return_state, go_backwards, stateful, unroll: as RNN's.

    Example:
        >>> keras.layers.SimpleRNN(4)(dtf.ones((32, 10, 8))).shape
        TensorShape([32, 4])
    """

    _CELL = SimpleRNNCell
    _CELL_NAME = "simple_rnn_cell"
    _CELL_ARGS = _COMMON_CELL_ARGS


class LSTM(_CellLayer):
    """Long Short-Term Memory layer (Hochreiter & Schmidhuber, 1997), Keras 3's.

    Args:
        units: output size.
        activation (default tanh), recurrent_activation (default sigmoid), use_bias,
        kernel_initializer, recurrent_initializer (default orthogonal), bias_initializer,
        unit_forget_bias (default True), regularizers, constraints, dropout,
        recurrent_dropout, seed: as LSTMCell's.
        return_sequences, return_state, go_backwards, stateful, unroll: as RNN's.

    Example:
        >>> whole_sequence, h, c = keras.layers.LSTM(
        ...     4, return_sequences=True, return_state=True)(dtf.ones((32, 10, 8)))
        >>> whole_sequence.shape, c.shape
        (TensorShape([32, 10, 4]), TensorShape([32, 4]))
    """

    _CELL = LSTMCell
    _CELL_NAME = "lstm_cell"
    _CELL_ARGS = _COMMON_CELL_ARGS + ("recurrent_activation", "unit_forget_bias")


class GRU(_CellLayer):
    """Gated Recurrent Unit (Cho et al., 2014), Keras 3's: `reset_after=True` by default, with
    a (2, 3 * units) bias.

    Args:
        units: output size.
        activation (default tanh), recurrent_activation (default sigmoid), use_bias,
        initializers, regularizers, constraints, dropout, recurrent_dropout, reset_after,
        seed: as GRUCell's.
        return_sequences, return_state, go_backwards, stateful, unroll: as RNN's.

    Example:
        >>> keras.layers.GRU(4)(dtf.ones((32, 10, 8))).shape
        TensorShape([32, 4])
    """

    _CELL = GRUCell
    _CELL_NAME = "gru_cell"
    _CELL_ARGS = _COMMON_CELL_ARGS + ("recurrent_activation", "reset_after")
