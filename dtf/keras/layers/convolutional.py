"""Convolution layers: Conv1D/2D/3D, Conv1D/2D/3DTranspose, DepthwiseConv1D/2D and
SeparableConv1D/2D, with Keras 3's arguments, weights and configs.

Each layer builds its kernel from the input's channel count, checks its inputs (rank, channels,
a kernel larger than a VALID input) with errors naming the layer and the shapes, and computes
with the op table's `conv` primitives (`dtf.ops.conv_ops`), so it trains under GradientTape,
`fit` and symbolic (Functional) models alike. channels_first inputs are transposed to channels
last and back.

Example:
    >>> conv = keras.layers.Conv2D(8, 3, padding="same", activation="relu")
    >>> conv(dtf.ones((2, 28, 28, 1))).shape
    TensorShape([2, 28, 28, 8])
"""

from __future__ import annotations

from dtf.keras.layers.input_spec import InputSpec
from dtf.keras.layers.layer import Layer
from dtf.ops import conv_ops, math_ops

__all__ = [
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Conv3DTranspose",
    "Convolution1D",
    "Convolution2D",
    "Convolution2DTranspose",
    "Convolution3D",
    "Convolution3DTranspose",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
    "SeparableConvolution1D",
    "SeparableConvolution2D",
]


# -- argument helpers (shared with pooling and reshaping) ---------------------------------------
def standardize_tuple(value, n, name, allow_zero=False):
    """An int or n ints -> a tuple of n ints (positive, or non-negative with allow_zero)."""
    message = f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value}"
    if isinstance(value, int) and not isinstance(value, bool):
        values = (value,) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(message) from None
        if len(values) != n:
            raise ValueError(message)
        try:
            values = tuple(int(v) for v in values)
        except (TypeError, ValueError):
            raise ValueError(message) from None
    bad = {v for v in values if (v < 0 if allow_zero else v <= 0)}
    if bad:
        rule = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{message}, including values {bad} that do not satisfy `value {rule}`")
    return values


def standardize_data_format(value):
    if value is None:
        from dtf.keras import backend

        value = backend.image_data_format()
    value = str(value).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"The `data_format` argument must be one of {{'channels_first', "
                         f"'channels_last'}}. Received: data_format={value}")
    return value


def standardize_padding(value, allow_causal=False):
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    padding = value.lower() if isinstance(value, str) else value
    if padding not in allowed:
        raise ValueError(f"The `padding` argument must be one of {allowed}. Received: "
                         f"{value!r}. (For explicit padding, put a ZeroPadding layer first.)")
    return padding


def shape_text(shape):
    dims = ["None" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _serialize(obj):
    from dtf.keras.saving import serialization

    return serialization.serialize_keras_object(obj)


def _get(module_name, value):
    from dtf import keras

    return getattr(keras, module_name).get(value)


def _fused_activation(activation):
    """The name `fused_convolve` knows `activation` by ("linear", "relu"), or None."""
    from dtf.keras import activations
    from dtf.ops import nn_ops

    if activation is activations.linear:
        return "linear"
    if activation is activations.relu or activation is nn_ops.relu:
        return "relu"
    return None


class _ConvBase(Layer):
    """What every convolution layer shares: argument checks, the channels axis, the output
    shape rule (with errors naming the layer), bias and activation."""

    def __init__(self, rank, kernel_size, strides, padding, data_format, dilation_rate,
                 activation, use_bias, bias_initializer, bias_regularizer, bias_constraint,
                 allow_causal=False, **kwargs):
        super().__init__(**kwargs)
        self.rank = rank
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(padding, allow_causal=allow_causal)
        self.data_format = standardize_data_format(data_format)
        self.activation = _get("activations", activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = _get("initializers", bias_initializer)
        self.bias_regularizer = _get("regularizers", bias_regularizer)
        self.bias_constraint = _get("constraints", bias_constraint)
        self.input_spec = InputSpec(ndim=rank + 2)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"`strides > 1` not supported in conjunction with `dilation_rate > "
                             f"1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")

    @property
    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def _input_channels(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(f'Layer "{self.name}" expects inputs of rank {self.rank + 2} '
                             f"(batch, {self.rank} spatial dims, channels), but received an "
                             f"input of shape {shape_text(input_shape)}.")
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(f'Layer "{self.name}": the channel dimension of the inputs should '
                             f"be defined (data_format={self.data_format}). Found None. Full "
                             f"input shape received: {shape_text(input_shape)}")
        return int(channels)

    def _spatial(self, input_shape):
        input_shape = tuple(input_shape)
        return input_shape[1:-1] if self.data_format == "channels_last" else input_shape[2:]

    def _op_padding(self):
        """The op's padding: SAME/VALID, or explicit left padding for causal."""
        if self.padding == "causal":
            return (((self.kernel_size[0] - 1) * self.dilation_rate[0], 0),)
        return self.padding.upper()

    def _check_output(self, input_shape, kernel_shape):
        """The spatial output dims (None where unknown); raises, naming the layer, when one
        would be zero or negative."""
        outs = []
        padding = self._op_padding()
        for i, (n, k, s, d) in enumerate(zip(self._spatial(input_shape), self.kernel_size,
                                             self.strides, self.dilation_rate)):
            k_eff = (k - 1) * d + 1
            pad = padding if isinstance(padding, str) else padding[i]
            out, _ = conv_ops.output_size(n, k_eff, s, pad)
            if out is not None and out <= 0:
                raise ValueError(
                    f'Layer "{self.name}": computed output size would be zero or negative. '
                    f"Received inputs of shape {shape_text(tuple(input_shape))}, kernel shape "
                    f"{shape_text(tuple(kernel_shape))}, dilation_rate={self.dilation_rate}, "
                    f"strides={self.strides}, padding={self.padding}: the kernel (spatial dim "
                    f"{i}: {k_eff} wide, dilation included) is larger than the input ({n}). Use "
                    "a smaller kernel_size, or padding='same'.")
            outs.append(out)
        return tuple(outs)

    def _layout_in(self, x):
        return x if self.data_format == "channels_last" else \
            conv_ops.to_channels_last(x, self.rank)

    def _finish(self, y):
        """Bias, activation, and the channels back where the data format wants them."""
        if self.use_bias:
            y = math_ops.add(y, self.bias)
        if self.activation is not None:
            y = self.activation(y)
        return y if self.data_format == "channels_last" else \
            conv_ops.to_channels_first(y, self.rank)

    def _output_shape(self, input_shape, spatial, channels):
        batch = next(iter(input_shape))
        if self.data_format == "channels_last":
            return (batch,) + tuple(spatial) + (channels,)
        return (batch, channels) + tuple(spatial)

    def _add_bias(self, size):
        self.bias = self.add_weight(name="bias", shape=(size,),
                                    initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def _spec(self, channels):
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={self._channel_axis: channels})

    def _base_config(self):
        config = super().get_config()
        config.update({
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": _serialize(self.activation),
            "use_bias": self.use_bias,
            "bias_initializer": _serialize(self.bias_initializer),
            "bias_regularizer": _serialize(self.bias_regularizer),
            "activity_regularizer": _serialize(self.activity_regularizer),
            "bias_constraint": _serialize(self.bias_constraint),
        })
        return config


# -- Conv1D/2D/3D -------------------------------------------------------------------------------
class BaseConv(_ConvBase):
    """An N-D convolution layer (N = `rank`): `activation(conv(inputs, kernel) + bias)`.

    Args:
        filters: the number of output channels.
        kernel_size: an int or N ints: the convolution window.
        strides: an int or N ints (with strides > 1, dilation_rate must be 1).
        padding: "valid" (no padding), "same" (output size ceil(input / strides)), or, for
            Conv1D, "causal" (left padding only: output t sees inputs up to t).
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: an int or N ints: the kernel's taps this far apart.
        groups: split the input channels into this many groups, each convolved with its own
            filters / groups filters.
        activation, use_bias, kernel/bias initializer, regularizer and constraint, and
            activity_regularizer: as Dense.
    """

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(rank, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, bias_initializer, bias_regularizer,
                         bias_constraint, allow_causal=rank == 1,
                         activity_regularizer=activity_regularizer, **kwargs)
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"Invalid value for argument `filters`. Expected a strictly "
                             f"positive value. Received filters={filters}.")
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"The number of groups must be a positive integer. Received: "
                             f"groups={groups}.")
        if filters % groups:
            raise ValueError(f"The number of filters must be evenly divisible by the number of "
                             f"groups. Received: groups={groups}, filters={filters}.")
        self.filters = filters
        self.groups = groups
        self.kernel_initializer = _get("initializers", kernel_initializer)
        self.kernel_regularizer = _get("regularizers", kernel_regularizer)
        self.kernel_constraint = _get("constraints", kernel_constraint)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        if channels % self.groups:
            raise ValueError(f'Layer "{self.name}": the number of input channels must be evenly '
                             f"divisible by the number of groups. Received groups={self.groups}"
                             f", but the input has {channels} channels (full input shape is "
                             f"{shape_text(tuple(input_shape))}).")
        kernel_shape = self.kernel_size + (channels // self.groups, self.filters)
        self._check_output(input_shape, kernel_shape)
        self.kernel = self.add_weight(name="kernel", shape=kernel_shape,
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self._add_bias(self.filters)
        self._spec(channels)
        self.built = True

    def call(self, inputs):
        self._check_output(inputs.shape, self.kernel.shape)
        x = self._layout_in(inputs)
        fused = _fused_activation(self.activation) if self.use_bias else None
        if fused is not None:  # conv + bias + activation as one op (see conv_ops.fused_conv)
            y = conv_ops.fused_convolve(x, self.kernel, self.bias, self.strides,
                                        self._op_padding(), self.dilation_rate, fused)
            return y if self.data_format == "channels_last" else \
                conv_ops.to_channels_first(y, self.rank)
        y = conv_ops.convolve(x, self.kernel, self.strides, self._op_padding(),
                              self.dilation_rate)
        return self._finish(y)

    def compute_output_shape(self, input_shape):
        channels = self._input_channels(input_shape)
        spatial = self._check_output(input_shape, self.kernel_size + (channels // self.groups,
                                                                      self.filters))
        return self._output_shape(input_shape, spatial, self.filters)

    def get_config(self):
        config = self._base_config()
        config.update({
            "filters": self.filters,
            "groups": self.groups,
            "kernel_initializer": _serialize(self.kernel_initializer),
            "kernel_regularizer": _serialize(self.kernel_regularizer),
            "kernel_constraint": _serialize(self.kernel_constraint),
        })
        return config


class Conv1D(BaseConv):
    """1-D convolution over (batch, steps, channels) (temporal convolution); padding="causal"
    for sequence models. Arguments as `BaseConv`.

    Example:
        >>> keras.layers.Conv1D(4, 3, padding="causal")(dtf.ones((2, 10, 3))).shape
        TensorShape([2, 10, 4])
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)


class Conv2D(BaseConv):
    """2-D convolution over (batch, height, width, channels) images. Arguments as `BaseConv`.

    Example:
        >>> layer = keras.layers.Conv2D(32, (3, 3), activation="relu")
        >>> layer(dtf.ones((4, 28, 28, 1))).shape
        TensorShape([4, 26, 26, 32])
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)


class Conv3D(BaseConv):
    """3-D convolution over (batch, depth, height, width, channels) volumes. Arguments as
    `BaseConv`.

    Example:
        >>> keras.layers.Conv3D(2, 3)(dtf.ones((1, 5, 5, 5, 1))).shape
        TensorShape([1, 3, 3, 3, 2])
    """

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1, 1), groups=1, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(3, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)


# -- transposed convolutions --------------------------------------------------------------------
class BaseConvTranspose(_ConvBase):
    """An N-D transposed convolution (the gradient of a convolution, "deconvolution"): each
    input position scatters `kernel`-weighted copies onto the output, `strides` apart.

    Output size per spatial dim (k the dilated kernel size, s the stride): with padding
    "valid", (in - 1) * s + max(k, s); with "same", in * s; with `output_padding` p,
    (in - 1) * s + k + p ("valid") or (in - 1) * s + k % 2 + p ("same"). The kernel has shape
    (*kernel_size, filters, in_channels).

    Args:
        filters, kernel_size, strides, padding ("valid"/"same"), data_format, dilation_rate,
            activation, use_bias, initializers, regularizers, constraints: as `BaseConv`.
        output_padding: None, an int or N ints, each less than its stride: extra output
            rows/columns at the end.
    """

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid",
                 output_padding=None, data_format=None, dilation_rate=1, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(rank, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, bias_initializer, bias_regularizer,
                         bias_constraint, activity_regularizer=activity_regularizer, **kwargs)
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"Invalid value for argument `filters`. Expected a strictly "
                             f"positive value. Received filters={filters}.")
        self.filters = filters
        if output_padding is None:
            self.output_padding = None
        else:
            self.output_padding = standardize_tuple(output_padding, rank, "output_padding",
                                                    allow_zero=True)
            for i, (p, s) in enumerate(zip(self.output_padding, self.strides)):
                if p >= s:
                    raise ValueError(
                        f"`output_padding` must be strictly less than `strides` for all "
                        f"dimensions. At dimension {i}, `output_padding` is {p} but `strides` "
                        f"is {s}. Received: output_padding={self.output_padding}, "
                        f"strides={self.strides}")
        self.kernel_initializer = _get("initializers", kernel_initializer)
        self.kernel_regularizer = _get("regularizers", kernel_regularizer)
        self.kernel_constraint = _get("constraints", kernel_constraint)

    def _out_spatial(self, input_shape):
        outs = []
        for i, (n, k, s, d) in enumerate(zip(self._spatial(input_shape), self.kernel_size,
                                             self.strides, self.dilation_rate)):
            if n is None:
                outs.append(None)
                continue
            k_eff = (k - 1) * d + 1
            p = None if self.output_padding is None else self.output_padding[i]
            if self.padding == "valid":
                outs.append((n - 1) * s + k_eff + (max(k_eff, s) - k_eff if p is None else p))
            else:
                outs.append(n * s if p is None else (n - 1) * s + k_eff % 2 + p)
        return tuple(outs)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.kernel = self.add_weight(name="kernel",
                                      shape=self.kernel_size + (self.filters, channels),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self._add_bias(self.filters)
        self._spec(channels)
        self.built = True

    def call(self, inputs):
        x = self._layout_in(inputs)
        spatial = self._out_spatial(inputs.shape)
        y = conv_ops.convolve_transpose(x, self.kernel, spatial + (self.filters,),
                                        self.strides, self.padding.upper(), self.dilation_rate)
        return self._finish(y)

    def compute_output_shape(self, input_shape):
        self._input_channels(input_shape)
        return self._output_shape(input_shape, self._out_spatial(input_shape), self.filters)

    def get_config(self):
        config = self._base_config()
        config.update({
            "filters": self.filters,
            "output_padding": self.output_padding,
            "kernel_initializer": _serialize(self.kernel_initializer),
            "kernel_regularizer": _serialize(self.kernel_regularizer),
            "kernel_constraint": _serialize(self.kernel_constraint),
        })
        return config


class Conv1DTranspose(BaseConvTranspose):
    """Transposed 1-D convolution. Arguments as `BaseConvTranspose`."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, output_padding, data_format,
                         dilation_rate, activation, use_bias, kernel_initializer,
                         bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv2DTranspose(BaseConvTranspose):
    """Transposed 2-D convolution (upsampling decoders). Arguments as `BaseConvTranspose`.

    Example:
        >>> keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")(
        ...     dtf.ones((1, 7, 7, 8))).shape
        TensorShape([1, 14, 14, 4])
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1), activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, output_padding, data_format,
                         dilation_rate, activation, use_bias, kernel_initializer,
                         bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv3DTranspose(BaseConvTranspose):
    """Transposed 3-D convolution. Arguments as `BaseConvTranspose`.

    Example:
        >>> keras.layers.Conv3DTranspose(2, 2, strides=2)(dtf.ones((1, 3, 3, 3, 4))).shape
        TensorShape([1, 6, 6, 6, 2])
    """

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1, 1),
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(3, filters, kernel_size, strides, padding, output_padding, data_format,
                         dilation_rate, activation, use_bias, kernel_initializer,
                         bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


# -- depthwise and separable --------------------------------------------------------------------
def _check_multiplier(depth_multiplier):
    if isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, int) or \
            depth_multiplier <= 0:
        raise ValueError(f"Invalid value for argument `depth_multiplier`. Expected a strictly "
                         f"positive value. Received depth_multiplier={depth_multiplier}.")
    return depth_multiplier


class BaseDepthwiseConv(_ConvBase):
    """Convolves each input channel with its own `depth_multiplier` filters (no mixing across
    channels): the kernel is (*kernel_size, in_channels, depth_multiplier) and the output has
    in_channels * depth_multiplier channels. Other arguments as `BaseConv`.
    """

    def __init__(self, rank, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(rank, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, bias_initializer, bias_regularizer,
                         bias_constraint, activity_regularizer=activity_regularizer, **kwargs)
        self.depth_multiplier = _check_multiplier(depth_multiplier)
        self.depthwise_initializer = _get("initializers", depthwise_initializer)
        self.depthwise_regularizer = _get("regularizers", depthwise_regularizer)
        self.depthwise_constraint = _get("constraints", depthwise_constraint)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        shape = self.kernel_size + (channels, self.depth_multiplier)
        self._check_output(input_shape, shape)
        self.kernel = self.add_weight(name="kernel", shape=shape,
                                      initializer=self.depthwise_initializer,
                                      regularizer=self.depthwise_regularizer,
                                      constraint=self.depthwise_constraint)
        self._add_bias(channels * self.depth_multiplier)
        self._spec(channels)
        self.built = True

    def call(self, inputs):
        kernel_shape = tuple(self.kernel.shape)
        self._check_output(inputs.shape, kernel_shape)
        y = _depthwise(self._layout_in(inputs), self.kernel, kernel_shape, self)
        return self._finish(y)

    def compute_output_shape(self, input_shape):
        channels = self._input_channels(input_shape)
        spatial = self._check_output(input_shape, self.kernel_size + (channels,
                                                                      self.depth_multiplier))
        return self._output_shape(input_shape, spatial, channels * self.depth_multiplier)

    def get_config(self):
        config = self._base_config()
        config.update({
            "depth_multiplier": self.depth_multiplier,
            "depthwise_initializer": _serialize(self.depthwise_initializer),
            "depthwise_regularizer": _serialize(self.depthwise_regularizer),
            "depthwise_constraint": _serialize(self.depthwise_constraint),
        })
        return config


def _depthwise(x, kernel, kernel_shape, layer):
    """A depthwise convolution: the conv primitive with one group per input channel."""
    from dtf.ops.array_ops import reshape

    rank = len(kernel_shape) - 2
    channels, multiplier = kernel_shape[-2], kernel_shape[-1]
    grouped = reshape(kernel, kernel_shape[:rank] + (1, channels * multiplier))
    return conv_ops.convolve(x, grouped, layer.strides, layer._op_padding(), layer.dilation_rate)


class DepthwiseConv1D(BaseDepthwiseConv):
    """Depthwise 1-D convolution. Arguments as `BaseDepthwiseConv`."""

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(1, kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)


class DepthwiseConv2D(BaseDepthwiseConv):
    """Depthwise 2-D convolution (the first half of MobileNet's separable blocks). Arguments
    as `BaseDepthwiseConv`.

    Example:
        >>> keras.layers.DepthwiseConv2D(3, depth_multiplier=2)(dtf.ones((1, 8, 8, 3))).shape
        TensorShape([1, 6, 6, 6])
    """

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)


class BaseSeparableConv(_ConvBase):
    """A depthwise convolution (`depth_multiplier` filters per input channel) followed by a
    pointwise (1x1) convolution to `filters` channels. Weights: `depthwise_kernel`
    (*kernel_size, in_channels, depth_multiplier), `pointwise_kernel` (1, ..., 1, in_channels
    * depth_multiplier, filters) and `bias`. Other arguments as `BaseConv`.
    """

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid",
                 data_format=None, dilation_rate=1, depth_multiplier=1, activation=None,
                 use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, pointwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, pointwise_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(rank, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, bias_initializer, bias_regularizer,
                         bias_constraint, activity_regularizer=activity_regularizer, **kwargs)
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"Invalid value for argument `filters`. Expected a strictly "
                             f"positive value. Received filters={filters}.")
        self.filters = filters
        self.depth_multiplier = _check_multiplier(depth_multiplier)
        self.depthwise_initializer = _get("initializers", depthwise_initializer)
        self.pointwise_initializer = _get("initializers", pointwise_initializer)
        self.depthwise_regularizer = _get("regularizers", depthwise_regularizer)
        self.pointwise_regularizer = _get("regularizers", pointwise_regularizer)
        self.depthwise_constraint = _get("constraints", depthwise_constraint)
        self.pointwise_constraint = _get("constraints", pointwise_constraint)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        depthwise_shape = self.kernel_size + (channels, self.depth_multiplier)
        self._check_output(input_shape, depthwise_shape)
        self.depthwise_kernel = self.add_weight(name="depthwise_kernel", shape=depthwise_shape,
                                                initializer=self.depthwise_initializer,
                                                regularizer=self.depthwise_regularizer,
                                                constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight(
            name="pointwise_kernel",
            shape=(1,) * self.rank + (channels * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint)
        self._add_bias(self.filters)
        self._spec(channels)
        self.built = True

    def call(self, inputs):
        kernel_shape = tuple(self.depthwise_kernel.shape)
        self._check_output(inputs.shape, kernel_shape)
        y = _depthwise(self._layout_in(inputs), self.depthwise_kernel, kernel_shape, self)
        ones = (1,) * self.rank
        y = conv_ops.convolve(y, self.pointwise_kernel, ones, "VALID", ones)
        return self._finish(y)

    def compute_output_shape(self, input_shape):
        channels = self._input_channels(input_shape)
        spatial = self._check_output(input_shape, self.kernel_size + (channels,
                                                                      self.depth_multiplier))
        return self._output_shape(input_shape, spatial, self.filters)

    def get_config(self):
        config = self._base_config()
        config.update({
            "filters": self.filters,
            "depth_multiplier": self.depth_multiplier,
            "depthwise_initializer": _serialize(self.depthwise_initializer),
            "pointwise_initializer": _serialize(self.pointwise_initializer),
            "depthwise_regularizer": _serialize(self.depthwise_regularizer),
            "pointwise_regularizer": _serialize(self.pointwise_regularizer),
            "depthwise_constraint": _serialize(self.depthwise_constraint),
            "pointwise_constraint": _serialize(self.pointwise_constraint),
        })
        return config


class SeparableConv1D(BaseSeparableConv):
    """Depthwise-separable 1-D convolution. Arguments as `BaseSeparableConv`."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         depth_multiplier, activation, use_bias, depthwise_initializer,
                         pointwise_initializer, bias_initializer, depthwise_regularizer,
                         pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)


class SeparableConv2D(BaseSeparableConv):
    """Depthwise-separable 2-D convolution (Xception, MobileNet). Arguments as
    `BaseSeparableConv`.

    Example:
        >>> keras.layers.SeparableConv2D(16, 3, padding="same")(dtf.ones((1, 8, 8, 3))).shape
        TensorShape([1, 8, 8, 16])
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         depth_multiplier, activation, use_bias, depthwise_initializer,
                         pointwise_initializer, bias_initializer, depthwise_regularizer,
                         pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)


# Keras' aliases
Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution3D = Conv3D
Convolution2DTranspose = Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
SeparableConvolution1D = SeparableConv1D
SeparableConvolution2D = SeparableConv2D
