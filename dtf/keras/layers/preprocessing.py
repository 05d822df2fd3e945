"""Preprocessing layers: Normalization (with `adapt`) and Rescaling.

Example:
    >>> norm = keras.layers.Normalization()
    >>> norm.adapt(np.array([[0.0, 10.0], [2.0, 30.0]], "float32"))
    >>> norm(np.array([[1.0, 20.0]], "float32")).numpy()
    array([[0., 0.]], dtype=float32)
"""

from __future__ import annotations

import math

import numpy as np

from dtf.keras.layers.layer import Layer
from dtf.ops import array_ops, creation_ops, math_ops

__all__ = ["Normalization", "Rescaling"]

_KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): the smallest standard deviation divided by


def _first_of(batch):
    """The features of a batch that is an `(x, y)` or `(x, y, sample_weight)` tuple."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _as_array(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


class Normalization(Layer):
    """Shifts and scales features to mean 0 and variance 1: `(x - mean) / sqrt(variance)`,
    with mean and variance given, or learned from data by `adapt`.

    Args:
        axis: the axes kept (one mean/variance per index along them; default -1, per
            feature); None or () for one scalar mean and variance.
        mean, variance: the statistics, if known (scalars, or arrays broadcastable to the
            kept axes). Otherwise call `adapt(data)` before using the layer.
        invert: apply the inverse transformation (`x * sqrt(variance) + mean`).

    The adapted statistics are non-trainable weights (`mean`, `variance`; and `count`, which
    Keras 3 keeps at 0), so they save and load with the model.

    Example:
        >>> layer = keras.layers.Normalization(mean=3.0, variance=2.0)
        >>> layer(np.array([[1.0], [5.0]], "float32")).numpy().round(4).tolist()
        [[-1.4142], [1.4142]]
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int):
            axis = (axis,)
        self.axis = tuple(int(a) for a in axis)
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        self.supports_masking = True
        self._build_input_shape = None
        self.mean = None
        self.variance = None
        if (mean is not None) != (variance is not None):
            raise ValueError(f"When setting values directly, both `mean` and `variance` must be "
                             f"set. Received: mean={mean} and variance={variance}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(f"When setting values directly, `mean` and `variance` must "
                                 f"have the same shape. Received: mean shape {np.shape(mean)} "
                                 f"and variance shape {np.shape(variance)}")
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError(f"The rank of `mean` must be less than or equal to the number "
                                 f"of axes ({len(self.axis)}). Received: mean shape "
                                 f"{np.shape(mean)} for axis {self.axis}")

    def build(self, input_shape):
        if input_shape is None:
            return
        shape = tuple(input_shape)
        ndim = len(shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"All `axis` values must be in the range [-ndim, ndim). Received "
                             f"inputs with ndim={ndim}, while axis={self.axis}")
        self._build_input_shape = shape
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        for d in self._keep_axis:
            if shape[d] is None:
                raise ValueError(f"All `axis` values to be kept must have a known shape. "
                                 f"Received axis={self.axis}, inputs.shape={shape}, with "
                                 f"unknown axis at index {d}")
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = [shape[d] if d in self._keep_axis else 1 for d in range(ndim)]
        self._stats_shape = tuple(shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=self._stats_shape,
                                              initializer="zeros", trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=self._stats_shape,
                                                  initializer="ones", trainable=False)
            self.count = self.add_weight(name="count", shape=(), dtype="int64",
                                         initializer="zeros", trainable=False)
            self.built = True
            self.finalize_state()
        else:
            mean = np.asarray(self.input_mean, dtype=np.float64)
            variance = np.asarray(self.input_variance, dtype=np.float64)
            if mean.ndim:
                expanded = [1] * ndim
                for i in range(1, mean.ndim + 1):
                    expanded[self._keep_axis[-i]] = mean.shape[-i]
                mean, variance = mean.reshape(expanded), variance.reshape(expanded)
            target = [1 if d is None else d for d in self._broadcast_shape]
            self.mean = creation_ops.constant(np.broadcast_to(mean, target), dtype=self.dtype)
            self.variance = creation_ops.constant(np.broadcast_to(variance, target),
                                                  dtype=self.dtype)
            self.built = True

    def adapt(self, data, batch_size=None, steps=None):
        """Computes the mean and variance of `data` (an array, a Tensor, a `dtf.data.Dataset`
        or any iterable of batches; `(x, y)` batches use x) over the axes not kept, and sets
        the layer's statistics to them."""
        from dtf.tensor import Tensor

        if isinstance(data, (np.ndarray, Tensor)) or hasattr(data, "_is_dtf_variable"):
            array = _as_array(data).astype(np.float64)
            if not self.built:
                self.build(array.shape)
            self._check_adapt_shape(array.shape)
            mean = array.mean(axis=self._reduce_axis)
            var = array.var(axis=self._reduce_axis)
        else:
            mean, var = self._adapt_batches(data, steps)
        if self.input_mean is not None:
            raise ValueError(f'Layer "{self.name}" was given its mean and variance: adapt() '
                             "cannot change them.")
        self.adapt_mean.assign(np.asarray(mean, dtype=self.dtype).reshape(self._stats_shape))
        self.adapt_variance.assign(np.asarray(var, dtype=self.dtype).reshape(self._stats_shape))
        self.finalize_state()

    def _adapt_batches(self, data, steps):
        if hasattr(data, "element_spec") and hasattr(data, "batch"):
            spec = _first_of(data.element_spec)
            if spec.shape.rank == 1:
                data = data.batch(128)
        total_mean = total_var = None
        total_count = 0
        for i, batch in enumerate(data):
            if steps is not None and i >= steps:
                break
            array = _as_array(_first_of(batch)).astype(np.float64)
            if not self.built:
                self.build(array.shape)
            self._check_adapt_shape(array.shape)
            batch_mean = array.mean(axis=self._reduce_axis)
            batch_var = array.var(axis=self._reduce_axis)
            batch_count = math.prod(array.shape[d] for d in self._reduce_axis)
            if total_mean is None:
                total_mean, total_var = np.zeros_like(batch_mean), np.zeros_like(batch_var)
            total_count += batch_count
            w = batch_count / total_count
            new_mean = total_mean * (1 - w) + batch_mean * w
            total_var = (total_var + (total_mean - new_mean) ** 2) * (1 - w) + \
                (batch_var + (batch_mean - new_mean) ** 2) * w
            total_mean = new_mean
        if total_mean is None:
            raise ValueError("adapt() received an empty iterable (no batches). Pass a non-empty "
                             "array, Dataset or iterable of batches.")
        return total_mean, total_var

    def _check_adapt_shape(self, shape):
        for d in self._keep_axis:
            if shape[d] != self._build_input_shape[d]:
                raise ValueError(f"The layer was built with input_shape="
                                 f"{self._build_input_shape}, but adapt() is being called with "
                                 f"data with an incompatible shape, data.shape={tuple(shape)}")

    def finalize_state(self):
        """Recomputes the broadcast statistics from the adapted weights (after adapt or
        loading weights)."""
        if self.input_mean is not None or not self.built:
            return
        self.mean = array_ops.reshape(self.adapt_mean.read_value(), self._broadcast_shape)
        self.variance = array_ops.reshape(self.adapt_variance.read_value(),
                                          self._broadcast_shape)

    def set_weights(self, weights):
        super().set_weights(weights)
        self.finalize_state()

    def call(self, inputs):
        if self.mean is None:
            raise ValueError(f'Layer "{self.name}": you must call `.build(input_shape)` or '
                             "`.adapt(data)` on the layer before using it.")
        if self.input_mean is None:
            self.finalize_state()  # sees weights assigned since (e.g. loaded)
        if inputs.dtype.name != self.dtype:
            inputs = math_ops.cast(inputs, self.dtype)
        std = math_ops.maximum(math_ops.sqrt(self.variance), _KERAS_EPSILON)
        if self.invert:
            return self.mean + inputs * std
        return (inputs - self.mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis, "invert": self.invert,
            "mean": None if self.input_mean is None else np.array(self.input_mean).tolist(),
            "variance": None if self.input_variance is None else
            np.array(self.input_variance).tolist(),
        })
        return config


class Rescaling(Layer):
    """`inputs * scale + offset`, e.g. `Rescaling(1 / 255)` maps pixels to [0, 1] and
    `Rescaling(1 / 127.5, offset=-1)` to [-1, 1].

    Args:
        scale: a float, or an array broadcast over the channels.
        offset: a float or an array.

    Example:
        >>> keras.layers.Rescaling(1 / 255)(np.array([[255.0]], "float32")).numpy()
        array([[1.]], dtype=float32)
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset
        self.supports_masking = True

    def call(self, inputs):
        if inputs.dtype.name != self.dtype:
            inputs = math_ops.cast(inputs, self.dtype)
        scale = creation_ops.constant(np.asarray(self.scale), dtype=self.dtype)
        offset = creation_ops.constant(np.asarray(self.offset), dtype=self.dtype)
        return inputs * scale + offset

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"scale": np.asarray(self.scale).tolist(),
                       "offset": np.asarray(self.offset).tolist()})
        return config
