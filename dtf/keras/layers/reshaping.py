"""Spatial reshaping layers: UpSampling1D/2D/3D, ZeroPadding1D/2D/3D and Cropping1D/2D/3D,
with Keras 3's arguments and configs.

Upsampling repeats positions ("nearest", a primitive of `dtf.ops.pool_ops`) or, for
UpSampling2D, interpolates bilinearly with half-pixel centres as Keras 3's `image.resize`
(a product with one small interpolation matrix per spatial axis). Padding and cropping are the
`pad` and slicing ops.

Example:
    >>> keras.layers.ZeroPadding2D(1)(dtf.ones((1, 28, 28, 3))).shape
    TensorShape([1, 30, 30, 3])
"""

from __future__ import annotations

import numpy as np

from dtf.keras.layers.convolutional import (
    shape_text,
    standardize_data_format,
    standardize_tuple,
)
from dtf.keras.layers.input_spec import InputSpec
from dtf.keras.layers.layer import Layer
from dtf.ops import array_ops, conv_ops, creation_ops, linalg_ops, pool_ops

__all__ = ["Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D",
           "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"]


class _SpatialLayer(Layer):
    """A layer over (batch, *spatial, channels) or (batch, channels, *spatial) inputs."""

    def __init__(self, rank, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.rank = rank
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=rank + 2)

    def _spatial_axes(self):
        start = 1 if self.data_format == "channels_last" else 2
        return tuple(range(start, start + self.rank))

    def _map_spatial(self, input_shape, fn):
        """`input_shape` with each spatial dim d (axis i) replaced by fn(i, d) (None stays)."""
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(f'Layer "{self.name}" expects inputs of rank {self.rank + 2}, got '
                             f"shape {shape_text(input_shape)}.")
        out = list(input_shape)
        for i, axis in enumerate(self._spatial_axes()):
            if out[axis] is not None:
                out[axis] = fn(i, out[axis])
        return tuple(out)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


# -- upsampling ---------------------------------------------------------------------------------
def bilinear_matrix(in_size, scale):
    """(in_size * scale, in_size) weights of bilinear resizing with half-pixel centres
    (TensorFlow's `resize_bilinear(half_pixel_centers=True)`): output i reads the input at
    (i + 0.5) / scale - 0.5, clamped to the edges."""
    out_size = in_size * scale
    where = (np.arange(out_size) + 0.5) / scale - 0.5
    lower = np.floor(where)
    frac = where - lower
    low = np.clip(lower, 0, in_size - 1).astype(int)
    high = np.clip(np.ceil(where), 0, in_size - 1).astype(int)
    weights = np.zeros((out_size, in_size))
    np.add.at(weights, (np.arange(out_size), low), 1 - frac)
    np.add.at(weights, (np.arange(out_size), high), frac)
    return weights


class _UpSampling(_SpatialLayer):
    def __init__(self, rank, size, data_format=None, interpolation="nearest", **kwargs):
        super().__init__(rank, data_format, **kwargs)
        self.size = standardize_tuple(size, rank, "size")
        allowed = ("nearest", "bilinear") if rank == 2 else ("nearest",)
        if interpolation not in allowed:
            raise ValueError(f"`interpolation` argument should be one of {allowed} for "
                             f"{type(self).__name__}. Received: interpolation={interpolation!r}"
                             " (dtf implements these).")
        self.interpolation = interpolation

    def call(self, inputs):
        first = self.data_format == "channels_first"
        x = conv_ops.to_channels_last(inputs, self.rank) if first else inputs
        y = self._bilinear(x) if self.interpolation == "bilinear" else \
            pool_ops.upsample_nearest(x, self.size)
        return conv_ops.to_channels_first(y, self.rank) if first else y

    def _bilinear(self, x):
        height, width = x.shape[1], x.shape[2]
        if height is None or width is None:
            raise ValueError(f'Layer "{self.name}": bilinear upsampling needs the height and '
                             f"width of its input known; got shape {shape_text(tuple(x.shape))}."
                             " Give keras.Input its spatial shape, or use "
                             "interpolation='nearest'.")
        dtype = x.dtype
        rows = creation_ops.constant(bilinear_matrix(height, self.size[0]), dtype=dtype)
        cols = creation_ops.constant(bilinear_matrix(width, self.size[1]), dtype=dtype)
        y = linalg_ops.einsum("ih,nhwc->niwc", rows, x)
        return linalg_ops.einsum("jw,niwc->nijc", cols, y)

    def compute_output_shape(self, input_shape):
        return self._map_spatial(input_shape, lambda i, d: d * self.size[i])

    def get_config(self):
        config = super().get_config()
        config["size"] = self.size
        if self.rank == 2:
            config["interpolation"] = self.interpolation
        return config


class UpSampling1D(_UpSampling):
    """Repeats each step of (batch, steps, features) inputs `size` times.

    Example:
        >>> keras.layers.UpSampling1D(2)(dtf.ones((2, 3, 4))).shape
        TensorShape([2, 6, 4])
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(1, size, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]  # Keras' UpSampling1D has no data_format
        return config


class UpSampling2D(_UpSampling):
    """Upsamples (batch, height, width, channels) images by `size` (an int or (rows, cols)):
    "nearest" repeats pixels, "bilinear" interpolates them.

    Example:
        >>> keras.layers.UpSampling2D((2, 2))(dtf.ones((1, 7, 7, 16))).shape
        TensorShape([1, 14, 14, 16])
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(2, size, data_format, interpolation, **kwargs)


class UpSampling3D(_UpSampling):
    """Repeats each voxel of (batch, depth, height, width, channels) volumes by `size`.

    Example:
        >>> keras.layers.UpSampling3D(2)(dtf.ones((1, 2, 2, 2, 3))).shape
        TensorShape([1, 4, 4, 4, 3])
    """

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(3, size, data_format, **kwargs)


# -- padding and cropping -----------------------------------------------------------------------
def _pairs(value, rank, name):
    """An int, `rank` ints (symmetric), or `rank` (before, after) pairs -> `rank` pairs."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,) * rank
    try:
        items = list(value)
    except TypeError:
        raise ValueError(f"`{name}` should be an int, a tuple of {rank} ints or a tuple of "
                         f"{rank} tuples of 2 ints. Received: {name}={value}") from None
    if rank == 1 and len(items) == 2 and all(isinstance(v, int) for v in items):
        items = [tuple(items)]
    if len(items) != rank:
        raise ValueError(f"`{name}` should have {rank} elements. Received: {name}={value}")
    pairs = []
    for item in items:
        pair = (item, item) if isinstance(item, int) else tuple(item)
        pairs.append(standardize_tuple(pair, 2, f"{name} entry", allow_zero=True))
    return tuple(pairs)


class _ZeroPadding(_SpatialLayer):
    def __init__(self, rank, padding, data_format=None, **kwargs):
        super().__init__(rank, data_format, **kwargs)
        self.padding = _pairs(padding, rank, "padding")

    def _all_pairs(self):
        pairs = [(0, 0)] * (self.rank + 2)
        for axis, pair in zip(self._spatial_axes(), self.padding):
            pairs[axis] = pair
        return pairs

    def call(self, inputs):
        return array_ops.pad(inputs, self._all_pairs())

    def compute_output_shape(self, input_shape):
        return self._map_spatial(input_shape, lambda i, d: d + sum(self.padding[i]))

    def get_config(self):
        config = super().get_config()
        config["padding"] = self.padding
        return config


class ZeroPadding1D(_ZeroPadding):
    """Adds zeros before and after the steps of (batch, steps, features) inputs: `padding`
    is an int or a (before, after) pair.

    Example:
        >>> keras.layers.ZeroPadding1D((1, 2))(dtf.ones((2, 3, 4))).shape
        TensorShape([2, 6, 4])
    """

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(1, padding, data_format, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    """Adds rows and columns of zeros around (batch, height, width, channels) images:
    `padding` is an int, (rows, cols), or ((top, bottom), (left, right)).

    Example:
        >>> keras.layers.ZeroPadding2D(((1, 0), (2, 2)))(dtf.ones((1, 4, 4, 1))).shape
        TensorShape([1, 5, 8, 1])
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(2, padding, data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    """Adds zeros around (batch, depth, height, width, channels) volumes; `padding` as
    ZeroPadding2D with three entries."""

    def __init__(self, padding=(1, 1, 1), data_format=None, **kwargs):
        super().__init__(3, padding, data_format, **kwargs)


class _Cropping(_SpatialLayer):
    def __init__(self, rank, cropping, data_format=None, **kwargs):
        super().__init__(rank, data_format, **kwargs)
        self.cropping = _pairs(cropping, rank, "cropping")

    def _check(self, shape):
        for i, axis in enumerate(self._spatial_axes()):
            size = shape[axis]
            if size is not None and sum(self.cropping[i]) >= size:
                raise ValueError(
                    f'Layer "{self.name}": values in `cropping` should be smaller than the '
                    f"corresponding spatial dimension of the input. Received inputs of shape "
                    f"{shape_text(tuple(shape))}, cropping={self.cropping} (spatial dim {i} "
                    f"has {size}, cropping removes {sum(self.cropping[i])}).")

    def call(self, inputs):
        shape = tuple(inputs.shape)
        self._check(shape)
        key = [slice(None)] * (self.rank + 2)
        for (lo, hi), axis in zip(self.cropping, self._spatial_axes()):
            key[axis] = slice(lo, -hi if hi else None)
        return inputs[tuple(key)]

    def compute_output_shape(self, input_shape):
        self._check(tuple(input_shape))
        return self._map_spatial(input_shape, lambda i, d: d - sum(self.cropping[i]))

    def get_config(self):
        config = super().get_config()
        config["cropping"] = self.cropping
        return config


class Cropping1D(_Cropping):
    """Removes steps from the start and end of (batch, steps, features) inputs: `cropping` is
    an int or a (start, end) pair.

    Example:
        >>> keras.layers.Cropping1D((1, 2))(dtf.ones((2, 6, 4))).shape
        TensorShape([2, 3, 4])
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(1, cropping, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]  # Keras' Cropping1D has no data_format
        return config


class Cropping2D(_Cropping):
    """Removes rows and columns at the borders of (batch, height, width, channels) images:
    `cropping` is an int, (rows, cols), or ((top, bottom), (left, right)).

    Example:
        >>> keras.layers.Cropping2D(((2, 2), (4, 4)))(dtf.ones((1, 28, 28, 3))).shape
        TensorShape([1, 24, 20, 3])
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(2, cropping, data_format, **kwargs)


class Cropping3D(_Cropping):
    """Removes borders of (batch, depth, height, width, channels) volumes; `cropping` as
    Cropping2D with three entries."""

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(3, cropping, data_format, **kwargs)
