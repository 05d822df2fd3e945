"""Pooling layers: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D, GlobalAveragePooling1D/2D/3D
and GlobalMaxPooling1D/2D/3D, with Keras 3's arguments and configs.

The windowed layers run the op table's pooling primitives (`dtf.ops.pool_ops`); the global
ones are reductions over the spatial axes (GlobalAveragePooling1D averages over the unmasked
steps only when given a mask, as Keras).

Example:
    >>> keras.layers.MaxPooling2D()(dtf.ones((2, 28, 28, 8))).shape
    TensorShape([2, 14, 14, 8])
"""

from __future__ import annotations

from dtf.keras.layers.convolutional import (
    shape_text,
    standardize_data_format,
    standardize_padding,
    standardize_tuple,
)
from dtf.keras.layers.input_spec import InputSpec
from dtf.keras.layers.layer import Layer
from dtf.ops import conv_ops, math_ops, pool_ops, reduce_ops

__all__ = ["AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "AvgPool1D", "AvgPool2D",
           "AvgPool3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
           "GlobalAveragePooling3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D",
           "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D", "GlobalMaxPooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D",
           "MaxPooling1D", "MaxPooling2D", "MaxPooling3D"]


class BasePooling(Layer):
    """Max or average pooling over windows of `pool_size`, `strides` apart (default: the pool
    size, i.e. non-overlapping windows).

    Args:
        pool_size: an int or N ints: the window.
        strides: None (= pool_size), an int or N ints.
        padding: "valid" (windows inside the input) or "same" (output size ceil(input /
            strides); an average is over the window's positions inside the input).
        data_format: "channels_last" (default) or "channels_first".
    """

    _kind = "max"

    def __init__(self, rank, pool_size, strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.rank = rank
        self.pool_size = standardize_tuple(pool_size, rank, "pool_size")
        self.strides = self.pool_size if strides is None else \
            standardize_tuple(strides, rank, "strides")
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=rank + 2)

    def _spatial(self, input_shape):
        input_shape = tuple(input_shape)
        return input_shape[1:-1] if self.data_format == "channels_last" else input_shape[2:]

    def _out_spatial(self, input_shape):
        outs = []
        for n, k, s in zip(self._spatial(input_shape), self.pool_size, self.strides):
            out, _ = conv_ops.output_size(n, k, s, self.padding.upper())
            if out is not None and out <= 0:
                raise ValueError(
                    f'Layer "{self.name}": computed output size would be zero or negative. '
                    f"Received inputs of shape {shape_text(tuple(input_shape))}, "
                    f"pool_size={self.pool_size}, strides={self.strides}, "
                    f"padding={self.padding}: the window is larger than the input. Use a "
                    "smaller pool_size, or padding='same'.")
            outs.append(out)
        return tuple(outs)

    def call(self, inputs):
        self._out_spatial(inputs.shape)
        first = self.data_format == "channels_first"
        x = conv_ops.to_channels_last(inputs, self.rank) if first else inputs
        y = pool_ops.window_pool(x, self._kind, self.pool_size, self.strides,
                                 self.padding.upper())
        return conv_ops.to_channels_first(y, self.rank) if first else y

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(f'Layer "{self.name}" expects inputs of rank {self.rank + 2}, got '
                             f"shape {shape_text(input_shape)}.")
        spatial = self._out_spatial(input_shape)
        if self.data_format == "channels_last":
            return (input_shape[0],) + spatial + (input_shape[-1],)
        return input_shape[:2] + spatial

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size, "padding": self.padding,
                       "strides": self.strides, "data_format": self.data_format})
        return config


class _Pooling1D(BasePooling):
    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(1, pool_size, strides, padding, data_format, **kwargs)


class _Pooling2D(BasePooling):
    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(2, pool_size, strides, padding, data_format, **kwargs)


class _Pooling3D(BasePooling):
    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(3, pool_size, strides, padding, data_format, **kwargs)


class MaxPooling1D(_Pooling1D):
    """The maximum over windows of steps of (batch, steps, channels) inputs; arguments as
    `BasePooling`.

    Example:
        >>> keras.layers.MaxPooling1D(2)(dtf.ones((2, 10, 3))).shape
        TensorShape([2, 5, 3])
    """


class MaxPooling2D(_Pooling2D):
    """The maximum over windows of (batch, height, width, channels) images; arguments as
    `BasePooling`.

    Example:
        >>> keras.layers.MaxPooling2D((2, 2))(dtf.ones((1, 28, 28, 32))).shape
        TensorShape([1, 14, 14, 32])
    """


class MaxPooling3D(_Pooling3D):
    """The maximum over windows of (batch, depth, height, width, channels) volumes; arguments
    as `BasePooling`.

    Example:
        >>> keras.layers.MaxPooling3D(2)(dtf.ones((1, 4, 4, 4, 2))).shape
        TensorShape([1, 2, 2, 2, 2])
    """


class AveragePooling1D(_Pooling1D):
    """The mean over windows of steps of (batch, steps, channels) inputs; arguments as
    `BasePooling`.

    Example:
        >>> keras.layers.AveragePooling1D(3, padding="same")(dtf.ones((2, 10, 3))).shape
        TensorShape([2, 4, 3])
    """

    _kind = "avg"


class AveragePooling2D(_Pooling2D):
    """The mean over windows of (batch, height, width, channels) images; arguments as
    `BasePooling`.

    Example:
        >>> keras.layers.AveragePooling2D((2, 2))(dtf.ones((1, 8, 8, 4))).shape
        TensorShape([1, 4, 4, 4])
    """

    _kind = "avg"


class AveragePooling3D(_Pooling3D):
    """The mean over windows of (batch, depth, height, width, channels) volumes; arguments as
    `BasePooling`.

    Example:
        >>> keras.layers.AveragePooling3D(2)(dtf.ones((1, 4, 4, 4, 2))).shape
        TensorShape([1, 2, 2, 2, 2])
    """

    _kind = "avg"


class BaseGlobalPooling(Layer):
    """The mean or maximum over all spatial positions: (batch, *spatial, channels) ->
    (batch, channels), or (batch, 1, ..., 1, channels) with `keepdims`.

    Args:
        data_format: "channels_last" (default) or "channels_first".
        keepdims: keep the spatial axes, with size 1.
    """

    _kind = "avg"

    def __init__(self, rank, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.rank = rank
        self.data_format = standardize_data_format(data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=rank + 2)

    def _axes(self):
        start = 1 if self.data_format == "channels_last" else 2
        return list(range(start, start + self.rank))

    def call(self, inputs):
        reduce = reduce_ops.reduce_max if self._kind == "max" else reduce_ops.reduce_mean
        return reduce(inputs, axis=self._axes(), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        axes = self._axes()
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


class GlobalAveragePooling1D(BaseGlobalPooling):
    """The mean over the steps of (batch, steps, features) inputs; with a mask (batch, steps),
    over the unmasked steps only.

    Example:
        >>> keras.layers.GlobalAveragePooling1D()(dtf.ones((2, 5, 3))).shape
        TensorShape([2, 3])
    """

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(1, data_format, keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        from dtf.ops.array_ops import expand_dims

        steps_axis = self._axes()[0]
        weights = math_ops.cast(mask, inputs.dtype)
        weights = expand_dims(weights, 2 if self.data_format == "channels_last" else 1)
        total = reduce_ops.reduce_sum(inputs * weights, axis=steps_axis, keepdims=self.keepdims)
        count = reduce_ops.reduce_sum(weights, axis=steps_axis, keepdims=self.keepdims)
        return math_ops.divide_no_nan(total, count)

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalAveragePooling2D(BaseGlobalPooling):
    """The mean over the height and width of (batch, height, width, channels) images.

    Example:
        >>> keras.layers.GlobalAveragePooling2D()(dtf.ones((2, 7, 7, 64))).shape
        TensorShape([2, 64])
    """

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(2, data_format, keepdims, **kwargs)


class GlobalAveragePooling3D(BaseGlobalPooling):
    """The mean over the spatial axes of (batch, depth, height, width, channels) volumes."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(3, data_format, keepdims, **kwargs)


class GlobalMaxPooling1D(BaseGlobalPooling):
    """The maximum over the steps of (batch, steps, features) inputs.

    Example:
        >>> keras.layers.GlobalMaxPooling1D(keepdims=True)(dtf.ones((2, 5, 3))).shape
        TensorShape([2, 1, 3])
    """

    _kind = "max"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(1, data_format, keepdims, **kwargs)


class GlobalMaxPooling2D(BaseGlobalPooling):
    """The maximum over the height and width of (batch, height, width, channels) images."""

    _kind = "max"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(2, data_format, keepdims, **kwargs)


class GlobalMaxPooling3D(BaseGlobalPooling):
    """The maximum over the spatial axes of (batch, depth, height, width, channels)
    volumes."""

    _kind = "max"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(3, data_format, keepdims, **kwargs)


# Keras' aliases
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalAvgPool3D = GlobalAveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = (GlobalMaxPooling1D, GlobalMaxPooling2D,
                                                      GlobalMaxPooling3D)
