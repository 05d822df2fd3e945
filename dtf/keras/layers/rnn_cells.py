"""Recurrent cells: SimpleRNNCell, LSTMCell, GRUCell and StackedRNNCells.

A cell computes one step, `call(inputs_at_t, states_at_t) -> (output_at_t, states_at_t+1)`,
and says how large its states are (`state_size`, `output_size`); `keras.layers.RNN` loops it
over time. The weights and gate layouts are Keras 3's (LSTM gates i, f, c, o; GRU z, r, h with
`reset_after=True` by default, its bias then (2, 3 * units): input and recurrent), so weights
move between Keras and dtf with `set_weights`.

The three built-in cells also run a whole sequence at once (`_fused_sequence`), through the
fused primitives of `dtf.ops.rnn_ops`, when their activations are the standard ones and no
recurrent dropout is active: the RNN layers use that path, and it computes exactly what the
step-by-step loop computes.

Example:
    >>> cell = LSTMCell(4)
    >>> out, (h, c) = cell(dtf.ones((2, 3)), [dtf.zeros((2, 4)), dtf.zeros((2, 4))])
    >>> out.shape
    TensorShape([2, 4])
"""

from __future__ import annotations

from dtf.keras.layers.layer import Layer
from dtf.ops import array_ops, creation_ops, fused_ops, linalg_ops, math_ops, nn_ops, rnn_ops

__all__ = ["GRUCell", "LSTMCell", "SimpleRNNCell", "StackedRNNCells"]


def _serialize(obj):
    from dtf.keras.saving import serialization

    return serialization.serialize_keras_object(obj)


def _serialize_activation(fn):
    from dtf.keras import activations

    return activations.serialize(fn)


def _positive_units(units, who):
    if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
        raise ValueError(f"{who}: received an invalid value for argument `units`, expected a "
                         f"positive integer, got {units!r}.")
    return units


def _activation_name(fn):
    """"tanh", "sigmoid", "relu" or "linear" for the built-in functions the fused
    recurrences compute themselves; None for any other activation."""
    from dtf.keras import activations

    if fn is activations.tanh or fn is math_ops.tanh:
        return "tanh"
    if fn is activations.sigmoid or fn is math_ops.sigmoid:
        return "sigmoid"
    if fn is activations.relu or fn is nn_ops.relu:
        return "relu"
    if fn is activations.linear:
        return "linear"
    return None


def _is_nested(x):
    return isinstance(x, (list, tuple))


class DropoutRNNCell:
    """Dropout masks a cell keeps for a whole sequence: Keras applies the same input and
    recurrent masks at every step (Gal & Ghahramani), drawn once per call of the RNN layer."""

    _dropout_mask = None
    _recurrent_dropout_mask = None
    dropout_mask_count = None

    def _make_dropout_mask(self, like, rate):
        ones = creation_ops.ones_like(like)
        count = self.dropout_mask_count
        if count is None:
            return nn_ops.dropout(ones, rate=rate, seed=self.seed)
        return [nn_ops.dropout(ones, rate=rate, seed=self.seed) for _ in range(count)]

    def get_dropout_mask(self, step_input):
        if self._dropout_mask is None and self.dropout > 0:
            object.__setattr__(self, "_dropout_mask",
                               self._make_dropout_mask(step_input, self.dropout))
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, step_input):
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            object.__setattr__(self, "_recurrent_dropout_mask",
                               self._make_dropout_mask(step_input, self.recurrent_dropout))
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self):
        object.__setattr__(self, "_dropout_mask", None)

    def reset_recurrent_dropout_mask(self):
        object.__setattr__(self, "_recurrent_dropout_mask", None)


class _GatedCell(DropoutRNNCell, Layer):
    """What the three built-in cells share: arguments, weights, config, fused projection."""

    _GATES = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        from dtf.keras import activations, constraints, initializers, regularizers

        implementation = kwargs.pop("implementation", 2)
        super().__init__(**kwargs)
        self.units = _positive_units(units, type(self).__name__)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.seed = seed
        self.implementation = 1 if self.recurrent_dropout else implementation
        if self.implementation == 1 and self._GATES > 1:
            self.dropout_mask_count = self._GATES
        self.state_size = self.units
        self.output_size = self.units

    def _add_kernels(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f'Layer "{self.name}": the last dimension of the inputs to a '
                             f"{type(self).__name__} should be defined. Found None. Full input "
                             f"shape received: {input_shape}")
        width = self.units * self._GATES
        self.kernel = self.add_weight(shape=(input_dim, width), name="kernel",
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(shape=(self.units, width),
                                                name="recurrent_kernel",
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if _is_nested(self.state_size) else [self.state_size]
        return [creation_ops.zeros((batch_size, d), dtype=self.dtype) for d in sizes]

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": _serialize_activation(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _serialize(self.kernel_initializer),
            "recurrent_initializer": _serialize(self.recurrent_initializer),
            "bias_initializer": _serialize(self.bias_initializer),
            "kernel_regularizer": _serialize(self.kernel_regularizer),
            "recurrent_regularizer": _serialize(self.recurrent_regularizer),
            "bias_regularizer": _serialize(self.bias_regularizer),
            "kernel_constraint": _serialize(self.kernel_constraint),
            "recurrent_constraint": _serialize(self.recurrent_constraint),
            "bias_constraint": _serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        })
        return config

    # -- the fused whole-sequence path ----------------------------------------------------------
    def _project(self, sequences, bias, training):
        """`sequences @ kernel + bias` for every step at once: (batch, time, gates * units)."""
        if training and 0.0 < self.dropout < 1.0:
            mask = self.get_dropout_mask(sequences[:, 0, :])
            if isinstance(mask, list):
                mask = mask[0]
            sequences = sequences * array_ops.expand_dims(mask, 1)
        shape = sequences.shape
        batch, time, features = shape[0], shape[1], shape[2]
        if batch is None or time is None:
            x = linalg_ops.tensordot(sequences, self.kernel, [[2], [0]])
            return x + bias if bias is not None else x
        flat = array_ops.reshape(sequences, (batch * time, features))
        if bias is not None:
            x = fused_ops.fused_dense(flat, self.kernel, bias, "linear")
        else:
            x = linalg_ops.matmul(flat, self.kernel)
        return array_ops.reshape(x, (batch, time, self.units * self._GATES))

    def _can_fuse(self, training):
        return not (training and self.recurrent_dropout > 0)


class SimpleRNNCell(_GatedCell):
    """One step of a fully connected RNN: `h = activation(x @ kernel + h_prev @
    recurrent_kernel + bias)`.

    Args:
        units: the size of the output and state.
        activation: default tanh.
        use_bias, kernel_initializer, recurrent_initializer (default orthogonal),
        bias_initializer, *_regularizer, *_constraint: as Dense's.
        dropout, recurrent_dropout: fractions of the inputs / the recurrent state to drop in
            training (one mask per sequence).
        seed: seed of the dropout masks.

    Example:
        >>> rnn = keras.layers.RNN(SimpleRNNCell(4))
        >>> rnn(dtf.ones((2, 5, 3))).shape
        TensorShape([2, 4])
    """

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)

    def build(self, input_shape):
        self._add_kernels(input_shape)
        self.bias = self.add_weight(shape=(self.units,), name="bias",
                                    initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.built = True

    def call(self, sequence, states, training=False):
        prev_output = states[0] if _is_nested(states) else states
        dp_mask = self.get_dropout_mask(sequence) if training else None
        rec_mask = self.get_recurrent_dropout_mask(prev_output) if training else None
        if dp_mask is not None:
            sequence = sequence * dp_mask
        h = linalg_ops.matmul(sequence, self.kernel)
        if self.bias is not None:
            h = h + self.bias
        if rec_mask is not None:
            prev_output = prev_output * rec_mask
        output = h + linalg_ops.matmul(prev_output, self.recurrent_kernel)
        if self.activation is not None:
            output = self.activation(output)
        new_state = [output] if _is_nested(states) else output
        return output, new_state

    def _fused_sequence(self, sequences, initial_state, mask, training):
        name = _activation_name(self.activation)
        if name is None or not self._can_fuse(training):
            return None
        xw = self._project(sequences, self.bias, training)
        hs, h = rnn_ops.simple_rnn_sequence(xw, initial_state[0], self.recurrent_kernel,
                                            mask=mask, activation=name)
        return hs, h, [h]


class LSTMCell(_GatedCell):
    """One step of a long short-term memory layer (Hochreiter & Schmidhuber, 1997).

    Gates, in the kernels' column order: input i, forget f, cell candidate c, output o;
    `c = f * c_prev + i * activation(c)`, `h = o * activation(c)`.

    Args:
        units: the size of the output and of the two states (h, c).
        activation: default tanh; recurrent_activation (the gates'): default sigmoid.
        unit_forget_bias: add 1 to the forget gate's bias at initialization (then the bias
            initializer fills the rest).
        Other arguments: as SimpleRNNCell's.

    Example:
        >>> keras.layers.RNN(LSTMCell(4), return_sequences=True)(dtf.ones((2, 5, 3))).shape
        TensorShape([2, 5, 4])
    """

    _GATES = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def build(self, input_shape):
        self._add_kernels(input_shape)
        if self.use_bias:
            if self.unit_forget_bias:
                init, units = self.bias_initializer, self.units

                def bias_initializer(shape, dtype=None, **kwargs):
                    return array_ops.concat([init((units,), dtype=dtype),
                                             creation_ops.ones((units,), dtype=dtype),
                                             init((2 * units,), dtype=dtype)], axis=0)
            else:
                bias_initializer = self.bias_initializer
            self.bias = self.add_weight(shape=(4 * self.units,), name="bias",
                                        initializer=bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        else:
            self.bias = None
        self.built = True

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states[0], states[1]
        u = self.units
        act, rec_act = self.activation, self.recurrent_activation
        dp_mask = self.get_dropout_mask(inputs) if training else None
        rec_mask = self.get_recurrent_dropout_mask(h_tm1) if training else None
        if self.implementation == 1:
            xs = dp_mask if isinstance(dp_mask, list) else [dp_mask] * 4
            hs = rec_mask if isinstance(rec_mask, list) else [rec_mask] * 4
            parts = []
            for k in range(4):
                x_k = inputs * xs[k] if xs[k] is not None else inputs
                h_k = h_tm1 * hs[k] if hs[k] is not None else h_tm1
                z_k = linalg_ops.matmul(x_k, self.kernel[:, k * u:(k + 1) * u]) + \
                    linalg_ops.matmul(h_k, self.recurrent_kernel[:, k * u:(k + 1) * u])
                if self.bias is not None:
                    z_k = z_k + self.bias[k * u:(k + 1) * u]
                parts.append(z_k)
            z0, z1, z2, z3 = parts
        else:
            if dp_mask is not None:
                inputs = inputs * dp_mask
            z = linalg_ops.matmul(inputs, self.kernel) + \
                linalg_ops.matmul(h_tm1, self.recurrent_kernel)
            if self.bias is not None:
                z = z + self.bias
            z0, z1, z2, z3 = z[:, :u], z[:, u:2 * u], z[:, 2 * u:3 * u], z[:, 3 * u:]
        i, f, o = rec_act(z0), rec_act(z1), rec_act(z3)
        c = f * c_tm1 + i * act(z2)
        h = o * act(c)
        return h, [h, c]

    def _fused_sequence(self, sequences, initial_state, mask, training):
        if _activation_name(self.activation) != "tanh" or \
                _activation_name(self.recurrent_activation) != "sigmoid" or \
                not self._can_fuse(training):
            return None
        xw = self._project(sequences, self.bias, training)
        h0, c0 = initial_state[0], initial_state[1]
        hs, h, c = rnn_ops.lstm_sequence(xw, h0, c0, self.recurrent_kernel, mask=mask)
        return hs, h, [h, c]

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = _serialize_activation(self.recurrent_activation)
        config["unit_forget_bias"] = self.unit_forget_bias
        return config


class GRUCell(_GatedCell):
    """One step of a gated recurrent unit (Cho et al., 2014).

    Gates, in the kernels' column order: update z, reset r, candidate h;
    `h = z * h_prev + (1 - z) * candidate`. With `reset_after=True` (Keras 3's default, the
    cuDNN-compatible form) the reset gate multiplies `h_prev @ recurrent_kernel`, and the bias
    is (2, 3 * units): one row for the inputs, one for the recurrent projection.

    Args:
        units: the size of the output and state.
        reset_after: see above.
        Other arguments: as LSTMCell's.

    Example:
        >>> keras.layers.RNN(GRUCell(4))(dtf.ones((2, 5, 3))).shape
        TensorShape([2, 4])
    """

    _GATES = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, reset_after=True,
                 seed=None, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.reset_after = bool(reset_after)

    def build(self, input_shape):
        self._add_kernels(input_shape)
        if self.use_bias:
            shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
            self.bias = self.add_weight(shape=shape, name="bias",
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        else:
            self.bias = None
        self.built = True

    def _biases(self):
        if self.bias is None:
            return None, None
        if self.reset_after:
            return self.bias[0], self.bias[1]
        return self.bias, None

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if _is_nested(states) else states
        u = self.units
        act, rec_act = self.activation, self.recurrent_activation
        input_bias, recurrent_bias = self._biases()
        dp_mask = self.get_dropout_mask(inputs) if training else None
        rec_mask = self.get_recurrent_dropout_mask(h_tm1) if training else None
        xs = dp_mask if isinstance(dp_mask, list) else [dp_mask] * 3
        hs = rec_mask if isinstance(rec_mask, list) else [rec_mask] * 3
        x = [inputs * m if m is not None else inputs for m in xs]
        h = [h_tm1 * m if m is not None else h_tm1 for m in hs]
        k, rk = self.kernel, self.recurrent_kernel

        def proj(k_index):
            out = linalg_ops.matmul(x[k_index], k[:, k_index * u:(k_index + 1) * u])
            if input_bias is not None:
                out = out + input_bias[k_index * u:(k_index + 1) * u]
            return out

        def rec(k_index, state):
            out = linalg_ops.matmul(state, rk[:, k_index * u:(k_index + 1) * u])
            if recurrent_bias is not None:
                out = out + recurrent_bias[k_index * u:(k_index + 1) * u]
            return out

        z = rec_act(proj(0) + rec(0, h[0]))
        r = rec_act(proj(1) + rec(1, h[1]))
        if self.reset_after:
            hh = act(proj(2) + r * rec(2, h[2]))
        else:
            hh = act(proj(2) + rec(2, r * h[2]))
        out = z * h_tm1 + (1.0 - z) * hh
        new_state = [out] if _is_nested(states) else out
        return out, new_state

    def _fused_sequence(self, sequences, initial_state, mask, training):
        if _activation_name(self.activation) != "tanh" or \
                _activation_name(self.recurrent_activation) != "sigmoid" or \
                not self._can_fuse(training):
            return None
        input_bias, recurrent_bias = self._biases()
        xw = self._project(sequences, input_bias, training)
        if recurrent_bias is None:
            recurrent_bias = creation_ops.zeros((3 * self.units,), dtype=self.dtype)
        hs, h = rnn_ops.gru_sequence(xw, initial_state[0], self.recurrent_kernel,
                                     recurrent_bias, mask=mask, reset_after=self.reset_after)
        return hs, h, [h]

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = _serialize_activation(self.recurrent_activation)
        config["reset_after"] = self.reset_after
        return config


class StackedRNNCells(Layer):
    """Several cells run as one: each step feeds the output of one cell to the next.
    `keras.layers.RNN([cell_1, cell_2])` builds one.

    Example:
        >>> cells = StackedRNNCells([LSTMCell(4), GRUCell(3)])
        >>> keras.layers.RNN(cells)(dtf.ones((2, 5, 6))).shape
        TensorShape([2, 3])
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        for cell in cells:
            if "call" not in dir(cell) or not hasattr(cell, "state_size"):
                raise ValueError(f"All cells must have a `call` method and a `state_size` "
                                 f"attribute. Received cell without these: {cell!r}")
        self.cells = list(cells)

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        last = self.cells[-1]
        size = getattr(last, "output_size", None)
        if size is not None:
            return size
        return last.state_size[0] if _is_nested(last.state_size) else last.state_size

    def get_initial_state(self, batch_size=None):
        states = []
        for cell in self.cells:
            fn = getattr(cell, "get_initial_state", None)
            if fn is not None:
                state = fn(batch_size=batch_size)
            else:
                sizes = cell.state_size if _is_nested(cell.state_size) else [cell.state_size]
                state = [creation_ops.zeros((batch_size, d), dtype=self.dtype) for d in sizes]
            states.append(state)
        return states

    def build(self, input_shape):
        shape = tuple(input_shape)
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell.build(shape)
                cell.built = True
            size = getattr(cell, "output_size", None)
            if size is None:
                size = cell.state_size[0] if _is_nested(cell.state_size) else cell.state_size
            shape = shape[:-1] + (size,)
        self.built = True

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, cell_states in zip(self.cells, states):
            state_is_list = _is_nested(cell_states)
            cell_states = list(cell_states) if state_is_list else [cell_states]
            kwargs = {"training": training} if getattr(cell, "_call_has_training", False) \
                else {}
            inputs, cell_states = cell(inputs, cell_states, **kwargs)
            if not _is_nested(cell_states):
                cell_states = [cell_states]
            new_states.append(list(cell_states) if state_is_list else cell_states[0])
        return inputs, new_states

    def get_config(self):
        config = super().get_config()
        config["cells"] = [_serialize(cell) for cell in self.cells]
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cells = [deserialize_cell(c, custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)


def deserialize_cell(config, custom_objects=None):
    """A cell from its serialized config (built-in cells by class name)."""
    from dtf.keras.saving import serialization

    objects = {c.__name__: c for c in (SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells)}
    return serialization.deserialize_keras_object(config, module_objects=objects,
                                                  custom_objects=custom_objects)
