"""`keras.layers.ConvLSTM2D`: an LSTM whose input and recurrent transformations are 2-D
convolutions (Shi et al., 2015), over inputs (batch, time, rows, cols, channels).

Gates as Keras' LSTM (i, f, c, o blocks of `filters` output channels each): the input
convolution uses the layer's `strides`, `padding` and `dilation_rate`; the recurrent one is a
stride-1 "same" convolution of the state, so the states keep the input convolution's output
size. The input convolution of every step runs as one batched convolution before the loop;
each step then costs one recurrent convolution and the gate arithmetic.

Example:
    >>> layer = keras.layers.ConvLSTM2D(4, 3, padding="same", return_sequences=True)
    >>> layer(dtf.ones((2, 5, 8, 8, 3))).shape
    TensorShape([2, 5, 8, 8, 4])
"""

from __future__ import annotations

from dtf.keras.layers.input_spec import InputSpec
from dtf.keras.layers.layer import Layer
from dtf.keras.layers.rnn import RNN
from dtf.keras.layers.rnn_cells import DropoutRNNCell, _serialize_activation
from dtf.ops import array_ops, conv_ops, creation_ops

__all__ = ["ConvLSTM2D", "ConvLSTM2DCell"]


def _serialize(obj):
    from dtf.keras.saving import serialization

    return serialization.serialize_keras_object(obj)


def _pair(value, name):
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"The `{name}` argument must be a tuple of 2 integers. Received "
                         f"{name}={value}")
    return value


def _conv_size(size, kernel, stride, dilation, padding):
    if size is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if padding == "same":
        return -(-size // stride)
    return (size - effective) // stride + 1


class ConvLSTM2DCell(DropoutRNNCell, Layer):
    """One step of ConvLSTM2D: the LSTM gates computed by convolutions (see the module
    docstring). Arguments as ConvLSTM2D's, less the sequence options."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        from dtf.keras import activations, constraints, initializers, regularizers

        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"Invalid value for argument `filters`. Expected a strictly "
                             f"positive value. Received filters={filters!r}.")
        self.filters = filters
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        padding = padding.lower()
        if padding not in ("valid", "same"):
            raise ValueError(f"The `padding` argument must be one of 'valid', 'same'. "
                             f"Received: {padding}")
        self.padding = padding
        self.data_format = data_format or "channels_last"
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got "
                             f"{data_format!r}.")
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.seed = seed
        self.dropout_mask_count = 4
        self.state_size = [filters, filters]
        self.output_size = filters
        self.spatial_dims = None
        self.input_dim = None

    @property
    def _channels_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    @property
    def _tf_format(self):
        return "NHWC" if self.data_format == "channels_last" else "NCHW"

    def build(self, input_shape):
        shape = tuple(input_shape)
        channel_axis = -1 if self.data_format == "channels_last" else 1
        self.input_dim = shape[channel_axis]
        if self.input_dim is None:
            raise ValueError(f'Layer "{self.name}": the channel dimension of the inputs should '
                             f"be defined. Found None. Full input shape received: {shape}")
        self.spatial_dims = shape[1:3] if self.data_format == "channels_last" else shape[2:4]
        f = self.filters
        self.kernel = self.add_weight(shape=self.kernel_size + (self.input_dim, 4 * f),
                                      name="kernel", initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(shape=self.kernel_size + (f, 4 * f),
                                                name="recurrent_kernel",
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            if self.unit_forget_bias:
                init = self.bias_initializer

                def bias_initializer(shape, dtype=None, **kwargs):
                    return array_ops.concat([init((f,), dtype=dtype),
                                             creation_ops.ones((f,), dtype=dtype),
                                             init((2 * f,), dtype=dtype)], axis=0)
            else:
                bias_initializer = self.bias_initializer
            self.bias = self.add_weight(shape=(4 * f,), name="bias",
                                        initializer=bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        else:
            self.bias = None
        self.built = True

    def state_spatial_dims(self, spatial=None):
        spatial = self.spatial_dims if spatial is None else spatial
        return tuple(_conv_size(s, k, st, d, self.padding) for s, k, st, d in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate))

    def _state_shape(self, batch_size, spatial=None):
        dims = self.state_spatial_dims(spatial)
        if self.data_format == "channels_last":
            return (batch_size,) + dims + (self.filters,)
        return (batch_size, self.filters) + dims

    def get_initial_state(self, batch_size=None):
        shape = self._state_shape(batch_size)
        return [creation_ops.zeros(shape, dtype=self.dtype),
                creation_ops.zeros(shape, dtype=self.dtype)]

    def _bias_shape(self):
        return (1, 1, 1, -1) if self.data_format == "channels_last" else (1, -1, 1, 1)

    def input_conv(self, x, kernel, bias=None):
        out = conv_ops.conv2d(x, kernel, strides=list(self.strides),
                              padding=self.padding.upper(), data_format=self._tf_format,
                              dilations=list(self.dilation_rate))
        if bias is not None:
            out = out + array_ops.reshape(bias, self._bias_shape())
        return out

    def recurrent_conv(self, h, kernel):
        return conv_ops.conv2d(h, kernel, strides=1, padding="SAME",
                               data_format=self._tf_format)

    def _split(self, z):
        f = self.filters
        if self.data_format == "channels_last":
            return [z[..., k * f:(k + 1) * f] for k in range(4)]
        return [z[:, k * f:(k + 1) * f] for k in range(4)]

    def _gates(self, x_parts, h_parts, c_tm1):
        act, rec_act = self.activation, self.recurrent_activation
        i = rec_act(x_parts[0] + h_parts[0])
        f = rec_act(x_parts[1] + h_parts[1])
        c = f * c_tm1 + i * act(x_parts[2] + h_parts[2])
        o = rec_act(x_parts[3] + h_parts[3])
        h = o * act(c)
        return h, c

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states[0], states[1]
        dp = self.get_dropout_mask(inputs) if training else None
        rec = self.get_recurrent_dropout_mask(h_tm1) if training else None
        if dp is None and rec is None:
            x_parts = self._split(self.input_conv(inputs, self.kernel, self.bias))
            h_parts = self._split(self.recurrent_conv(h_tm1, self.recurrent_kernel))
        else:
            kernels = self._split(self.kernel)
            r_kernels = self._split(self.recurrent_kernel)
            biases = [None] * 4 if self.bias is None else \
                [self.bias[k * self.filters:(k + 1) * self.filters] for k in range(4)]
            x_parts = [self.input_conv(inputs * dp[k] if dp is not None else inputs,
                                       kernels[k], biases[k]) for k in range(4)]
            h_parts = [self.recurrent_conv(h_tm1 * rec[k] if rec is not None else h_tm1,
                                           r_kernels[k]) for k in range(4)]
        h, c = self._gates(x_parts, h_parts, c_tm1)
        return h, [h, c]

    def _fused_sequence(self, sequences, initial_state, mask, training):
        """Every step's input convolution as one convolution over (batch * time) images;
        then the recurrence step by step (masked as RNN's loop)."""
        if training and (self.dropout > 0 or self.recurrent_dropout > 0):
            return None
        dims = sequences.shape.as_list()
        batch, time = dims[0], dims[1]
        if batch is None or time is None or mask is not None:
            return None
        images = array_ops.reshape(sequences, [batch * time] + dims[2:])
        projected = self.input_conv(images, self.kernel, self.bias)
        per_step = array_ops.reshape(projected, [batch, time] +
                                     projected.shape.as_list()[1:])
        h, c = initial_state[0], initial_state[1]
        outputs = []
        for x_t in array_ops.unstack(per_step, axis=1):
            h, c = self._gates(self._split(x_t),
                               self._split(self.recurrent_conv(h, self.recurrent_kernel)), c)
            outputs.append(h)
        return array_ops.stack(outputs, axis=1), h, [h, c]

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": _serialize_activation(self.activation),
            "recurrent_activation": _serialize_activation(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _serialize(self.kernel_initializer),
            "recurrent_initializer": _serialize(self.recurrent_initializer),
            "bias_initializer": _serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_regularizer": _serialize(self.kernel_regularizer),
            "recurrent_regularizer": _serialize(self.recurrent_regularizer),
            "bias_regularizer": _serialize(self.bias_regularizer),
            "kernel_constraint": _serialize(self.kernel_constraint),
            "recurrent_constraint": _serialize(self.recurrent_constraint),
            "bias_constraint": _serialize(self.bias_constraint),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        })
        return config


_CELL_ARGS = ("kernel_size", "strides", "padding", "data_format", "dilation_rate",
              "activation", "recurrent_activation", "use_bias", "kernel_initializer",
              "recurrent_initializer", "bias_initializer", "unit_forget_bias",
              "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
              "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
              "recurrent_dropout", "seed")


class ConvLSTM2D(RNN):
    """2-D convolutional LSTM over inputs (batch, time, rows, cols, channels) (channels first:
    (batch, time, channels, rows, cols)).

    Args:
        filters: number of output channels (of the states and outputs).
        kernel_size, strides, padding ("valid"/"same"), data_format, dilation_rate: of the
            input convolution (the recurrent one is stride 1, "same").
        activation, recurrent_activation, use_bias, initializers (recurrent: orthogonal),
        unit_forget_bias, regularizers, constraints, dropout, recurrent_dropout, seed: as
        LSTM's.
        return_sequences, return_state, go_backwards, stateful: as RNN's.

    Example:
        >>> layer = keras.layers.ConvLSTM2D(2, (3, 3), return_state=True)
        >>> out, h, c = layer(dtf.ones((1, 4, 6, 6, 1)))
        >>> out.shape, c.shape
        (TensorShape([1, 4, 4, 2]), TensorShape([1, 4, 4, 2]))
    """

    def __init__(self, filters, kernel_size, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, activity_regularizer=None,
                 **kwargs):
        cell_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _CELL_ARGS}
        cell = ConvLSTM2DCell(filters, kernel_size, dtype=kwargs.get("dtype"),
                              trainable=kwargs.get("trainable", True), name="conv_lstm_cell",
                              **cell_kwargs)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.input_spec = InputSpec(ndim=5)

    def __getattr__(self, name):
        if name in _CELL_ARGS or name == "filters":
            cell = self.__dict__.get("cell")
            if cell is not None:
                return getattr(cell, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def build(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        if len(shape) != 5:
            raise ValueError(f'Layer "{self.name}" expects inputs of shape (batch, time, rows, '
                             f"cols, channels), got shape {shape}.")
        super().build(shape)
        spatial = self.cell.state_spatial_dims()
        if any(d is not None and d <= 0 for d in spatial):
            raise ValueError(
                f'Layer "{self.name}": the kernel {self.cell.kernel_size} (dilation '
                f"{self.cell.dilation_rate}) is larger than the input's spatial size "
                f"{self.cell.spatial_dims} with padding 'valid': received inputs of shape "
                f"{shape}. Use padding='same' or a smaller kernel.")

    def _zero_states(self, batch_size, like=None):
        if like is not None:
            # symbolic sequences of unknown batch size: zeros shaped by a convolution
            zeros_kernel = creation_ops.zeros_like(self.cell.kernel[..., :self.cell.filters])
            base = self.cell.input_conv(like[:, 0], zeros_kernel) * 0.0
            return [base, base]
        return self.cell.get_initial_state(batch_size)

    def _state_structure(self):
        return [0, 0]

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        batch, steps = shape[0], shape[1]
        if self.cell.data_format == "channels_last":
            spatial = shape[2:4]
        else:
            spatial = shape[3:5]
        state = self.cell._state_shape(batch, spatial)
        out = (batch, steps) + state[1:] if self.return_sequences else state
        if self.return_state:
            return [out, state, state]
        return out

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
