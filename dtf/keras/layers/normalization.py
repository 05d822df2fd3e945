"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization.

Example:
    >>> bn = keras.layers.BatchNormalization()
    >>> y = bn(dtf.ones((8, 3)), training=True)
    >>> [w.name.split("/")[-1] for w in bn.weights]
    ['gamma:0', 'beta:0', 'moving_mean:0', 'moving_variance:0']
"""

from __future__ import annotations

import numpy as np

from dtf.keras.layers.input_spec import InputSpec
from dtf.keras.layers.layer import Layer
from dtf.keras.layers.rnn_masking import MaskPropagation
from dtf.ops import array_ops, creation_ops, math_ops, nn_ops, reduce_ops

__all__ = ["BatchNormalization", "GroupNormalization", "LayerNormalization"]

_KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): the masked moments' guard against 0 / 0


def _serialize(obj):
    from dtf.keras.saving import serialization

    return serialization.serialize_keras_object(obj)


def _normalize_axis(axis, rank, layer):
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise ValueError(f'Layer "{layer}": axis {axis} is out of bounds for inputs of rank '
                         f"{rank}.")
    return a


def _affine_initializers(layer, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint):
    from dtf.keras import constraints, initializers, regularizers

    layer.beta_initializer = initializers.get(beta_initializer)
    layer.gamma_initializer = initializers.get(gamma_initializer)
    layer.beta_regularizer = regularizers.get(beta_regularizer)
    layer.gamma_regularizer = regularizers.get(gamma_regularizer)
    layer.beta_constraint = constraints.get(beta_constraint)
    layer.gamma_constraint = constraints.get(gamma_constraint)


def _affine_config(layer):
    return {
        "beta_initializer": _serialize(layer.beta_initializer),
        "gamma_initializer": _serialize(layer.gamma_initializer),
        "beta_regularizer": _serialize(layer.beta_regularizer),
        "gamma_regularizer": _serialize(layer.gamma_regularizer),
        "beta_constraint": _serialize(layer.beta_constraint),
        "gamma_constraint": _serialize(layer.gamma_constraint),
    }


def _scale_and_shift(x, mean, variance, gamma, beta, epsilon):
    """`(x - mean) / sqrt(variance + epsilon) * gamma + beta` as two full-size ops:
    `x * inv + (beta - mean * inv)` with `inv = rsqrt(variance + epsilon) * gamma`."""
    inv = math_ops.rsqrt(variance + epsilon)
    if gamma is not None:
        inv = inv * gamma
    shift = -mean * inv
    if beta is not None:
        shift = shift + beta
    return x * inv + shift


class BatchNormalization(MaskPropagation, Layer):
    """Normalizes each channel with the batch's statistics in training, and with moving
    averages of them at inference.

    In training (`training=True`, and the layer trainable) the output is `gamma * (x -
    mean(x)) / sqrt(var(x) + epsilon) + beta` over the batch (all axes but `axis`), and the
    non-trainable weights `moving_mean`, `moving_variance` move towards the batch's statistics:
    `moving = moving * momentum + batch * (1 - momentum)`. Otherwise (inference, or
    `trainable=False`, as Keras 3) the moving statistics normalize instead.

    Args:
        axis: the channel axis (default -1).
        momentum: of the moving averages (default 0.99).
        epsilon: added to the variance (default 1e-3).
        center, scale: learn `beta` / `gamma`.
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer, *_regularizer, *_constraint: as usual.
        renorm, renorm_clipping, renorm_momentum: batch renormalization (Ioffe, 2017).
        synchronized: accepted (one process computes the whole batch's statistics).

    Call arguments:
        mask: optional (batch, ...) bool, one dimension less than the inputs: masked
            positions do not count in the batch statistics.

    Example:
        >>> bn = keras.layers.BatchNormalization()
        >>> y = bn(np.random.normal(size=(64, 4)).astype("float32"), training=True)
        >>> bn.moving_mean.shape
        TensorShape([4])
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):
        from dtf.keras import initializers

        kwargs.pop("fused", None)
        kwargs.pop("virtual_batch_size", None)
        kwargs.pop("adjustment", None)
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ValueError(f"BatchNormalization normalizes along one axis; got "
                                 f"axis={axis}.")
            axis = axis[0]
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.synchronized = bool(synchronized)
        _affine_initializers(self, beta_initializer, gamma_initializer, beta_regularizer,
                             gamma_regularizer, beta_constraint, gamma_constraint)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.renorm = bool(renorm)
        clipping = dict(renorm_clipping or {})
        if self.renorm:
            unknown = set(clipping) - {"rmax", "rmin", "dmax"}
            if unknown:
                raise ValueError(f"Received invalid keys for `renorm_clipping` argument: "
                                 f"{renorm_clipping}. Supported values: ['rmax', 'rmin', "
                                 "'dmax'].")
            rmax, rmin, dmax = clipping.get("rmax"), clipping.get("rmin"), clipping.get("dmax")
            if rmax is not None and rmin is not None and rmax < rmin:
                raise ValueError(f"rmax should be greater than rmin in the `renorm_clipping` "
                                 f"argument. Received: rmax={rmax}, rmin={rmin}.")
            if dmax is not None and dmax < 0:
                raise ValueError(f"dmax should be non-negative in the `renorm_clipping` "
                                 f"argument. Received: dmax={dmax}.")
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = float(renorm_momentum)
        self.supports_masking = True
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        rank = len(input_shape)
        axis = _normalize_axis(self.axis, rank, self.name)
        dim = input_shape[axis]
        if dim is None:
            raise ValueError(f'Layer "{self.name}": axis {self.axis} of the input should have a '
                             f"defined dimension, but the layer received an input with shape "
                             f"{tuple(input_shape)}.")
        shape = (dim,)
        if self.scale:
            self.gamma = self.add_weight(shape=shape, name="gamma",
                                         initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight(shape=shape, name="beta",
                                        initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.moving_mean = self.add_weight(shape=shape, name="moving_mean",
                                           initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight(shape=shape, name="moving_variance",
                                               initializer=self.moving_variance_initializer,
                                               trainable=False)
        if self.renorm:
            variance = self.moving_variance.numpy()
            self.moving_stddev = self.add_weight(shape=shape, name="moving_stddev",
                                                 initializer=_constant(np.sqrt(variance)),
                                                 trainable=False)
            self.renorm_mean = self.add_weight(shape=shape, name="renorm_mean",
                                               initializer=self.moving_mean_initializer,
                                               trainable=False)
            self.renorm_stddev = self.add_weight(shape=shape, name="renorm_stddev",
                                                 initializer=_constant(np.sqrt(variance)),
                                                 trainable=False)
        self.input_spec = InputSpec(ndim=rank, axes={self.axis: dim})
        self._axis = axis
        self._reduction_axes = [i for i in range(rank) if i != axis]
        self._broadcast = None if axis == rank - 1 else \
            [dim if i == axis else 1 for i in range(rank)]
        self.built = True

    def _param(self, v):
        if v is None:
            return None
        return v if self._broadcast is None else array_ops.reshape(v, self._broadcast)

    def call(self, inputs, training=None, mask=None):
        if mask is not None and mask.shape.rank != inputs.shape.rank - 1:
            raise ValueError(f'Layer "{self.name}": the mask provided should be one dimension '
                             f"less than the inputs. Received: mask.shape={mask.shape}, "
                             f"inputs.shape={inputs.shape}")
        gamma, beta = self.gamma, self.beta
        if training and self.trainable:
            mean, variance = self._moments(inputs, mask)
            if self.renorm:
                r, d = self._renorm_correction(mean, variance)
                gamma, beta = self._compose_renorm(r, d, gamma, beta)
                self._update_renorm_statistics(mean, variance)
            else:  # (a Functional model's symbolic build skips the update: see tracking.py)
                momentum = self.momentum
                self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
                self.moving_variance.assign(self.moving_variance * momentum +
                                            variance * (1.0 - momentum))
        else:
            mean, variance = self.moving_mean, self.moving_variance
        return _scale_and_shift(inputs, self._param(mean), self._param(variance),
                                self._param(gamma), self._param(beta), self.epsilon)

    def _moments(self, inputs, mask):
        axes = self._reduction_axes
        if mask is None:
            return nn_ops.moments(inputs, axes=axes)
        keep = array_ops.broadcast_to(array_ops.expand_dims(mask, -1),
                                      array_ops.shape(inputs))
        weights = math_ops.cast(keep, inputs.dtype)
        zeros = creation_ops.zeros_like(inputs)
        count = reduce_ops.reduce_sum(weights, axes, keepdims=True) + _KERAS_EPSILON
        mean = reduce_ops.reduce_sum(math_ops.where(keep, inputs, zeros), axes,
                                     keepdims=True) / count
        diff = math_ops.where(keep, inputs - mean, zeros)
        variance = reduce_ops.reduce_sum(math_ops.square(diff), axes, keepdims=True) / count
        return array_ops.reshape(mean, [-1]), array_ops.reshape(variance, [-1])

    def _renorm_correction(self, mean, variance):
        stddev = math_ops.sqrt(variance + self.epsilon)
        renorm_stddev = math_ops.maximum(self.renorm_stddev, float(np.sqrt(self.epsilon)))
        r = stddev / renorm_stddev
        d = (mean - self.renorm_mean) / renorm_stddev
        clipping = self.renorm_clipping or {}
        if clipping.get("rmin") is not None:
            r = math_ops.maximum(r, float(clipping["rmin"]))
        if clipping.get("rmax") is not None:
            r = math_ops.minimum(r, float(clipping["rmax"]))
        if clipping.get("dmax") is not None:
            d = math_ops.clip_by_value(d, -float(clipping["dmax"]), float(clipping["dmax"]))
        return nn_ops.stop_gradient(r), nn_ops.stop_gradient(d)

    def _compose_renorm(self, r, d, gamma, beta):
        if gamma is not None:
            new_gamma, new_beta = r * gamma, d * gamma
        else:
            new_gamma, new_beta = r, d
        if beta is not None:
            new_beta = new_beta + beta
        return new_gamma, new_beta

    def _update_renorm_statistics(self, mean, variance):
        stddev = math_ops.sqrt(variance + self.epsilon)
        rm = self.renorm_momentum
        self.renorm_mean.assign(self.renorm_mean * rm + mean * (1.0 - rm))
        self.renorm_stddev.assign(self.renorm_stddev * rm + stddev * (1.0 - rm))
        m = self.momentum
        self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
        new_stddev = self.moving_stddev * m + stddev * (1.0 - m)
        self.moving_stddev.assign(new_stddev)
        self.moving_variance.assign(nn_ops.relu(new_stddev * new_stddev - self.epsilon))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale,
            "moving_mean_initializer": _serialize(self.moving_mean_initializer),
            "moving_variance_initializer": _serialize(self.moving_variance_initializer),
            "synchronized": self.synchronized, "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping, "renorm_momentum": self.renorm_momentum,
        })
        config.update(_affine_config(self))
        return config


def _constant(value):
    from dtf.keras import initializers

    return initializers.Constant(np.asarray(value).tolist())


class LayerNormalization(MaskPropagation, Layer):
    """Normalizes each sample over `axis` (the features): `gamma * (x - mean) / sqrt(var +
    epsilon) + beta`, with statistics per sample, in training and inference alike.

    Args:
        axis: an axis or a list of axes to normalize over (default -1); gamma and beta have
            those axes' shape.
        epsilon: added to the variance (default 1e-3).
        center, scale: learn `beta` / `gamma`.
        rms_scaling: Keras' (deprecated) variant: `x * rsqrt(var + epsilon) * gamma`.
        beta_initializer, gamma_initializer, *_regularizer, *_constraint: as usual.

    Example:
        >>> ln = keras.layers.LayerNormalization()
        >>> y = ln(dtf.constant([[1.0, 2.0, 3.0]]))
        >>> np.round(y.numpy(), 3)
        array([[-1.224,  0.   ,  1.224]], dtype=float32)
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, int):
            self.axis = axis
        else:
            raise TypeError(f"Expected an int or a list/tuple of ints for the argument 'axis', "
                            f"but received: {axis!r}")
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.rms_scaling = bool(rms_scaling)
        _affine_initializers(self, beta_initializer, gamma_initializer, beta_regularizer,
                             gamma_regularizer, beta_constraint, gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        axes = sorted(_normalize_axis(a, rank, self.name) for a in axes)
        shape = tuple(input_shape[a] for a in axes)
        if any(d is None for d in shape):
            raise ValueError(f'Layer "{self.name}": the normalized axes {self.axis} of the '
                             f"input must have defined dimensions; got input shape "
                             f"{tuple(input_shape)}.")
        self.gamma = self.add_weight(name="gamma", shape=shape,
                                     initializer=self.gamma_initializer,
                                     regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) \
            if self.scale or self.rms_scaling else None
        self.beta = self.add_weight(name="beta", shape=shape, initializer=self.beta_initializer,
                                    regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) \
            if self.center and not self.rms_scaling else None
        self._axes = axes
        self._broadcast = None if axes == [rank - 1] else \
            [input_shape[i] if i in axes else 1 for i in range(rank)]
        self.input_spec = InputSpec(ndim=rank, axes={a: input_shape[a] for a in axes})
        self.built = True

    def _param(self, v):
        if v is None or self._broadcast is None:
            return v
        return array_ops.reshape(v, self._broadcast)

    def call(self, inputs):
        mean, variance = nn_ops.moments(inputs, axes=self._axes, keepdims=True)
        if self.rms_scaling:
            out = inputs * math_ops.rsqrt(variance + self.epsilon)
            return out * self._param(self.gamma) if self.gamma is not None else out
        return _scale_and_shift(inputs, mean, variance, self._param(self.gamma),
                                self._param(self.beta), self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                       "scale": self.scale, "rms_scaling": self.rms_scaling})
        config.update(_affine_config(self))
        return config


class GroupNormalization(MaskPropagation, Layer):
    """Group normalization (Wu & He, 2018): the channels of each sample are split into
    `groups`, and each group is normalized by its own mean and variance (over the group's
    channels and every spatial position); then a per-channel `gamma`, `beta`.

    Args:
        groups: number of groups; must divide the number of channels (-1: one per channel,
            instance normalization; 1: layer normalization over all axes).
        axis: the channel axis (default -1).
        epsilon: default 1e-3.
        center, scale, initializers, regularizers, constraints: as LayerNormalization's.

    Example:
        >>> gn = keras.layers.GroupNormalization(groups=2)
        >>> gn(dtf.ones((2, 5, 4))).shape
        TensorShape([2, 5, 4])
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.groups = int(groups)
        self.axis = int(axis)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        _affine_initializers(self, beta_initializer, gamma_initializer, beta_regularizer,
                             gamma_regularizer, beta_constraint, gamma_constraint)

    def build(self, input_shape):
        rank = len(input_shape)
        axis = _normalize_axis(self.axis, rank, self.name)
        dim = input_shape[axis]
        if dim is None:
            raise ValueError(f"Axis {self.axis} of input tensor should have a defined dimension "
                             f"but the layer received an input with shape "
                             f"{tuple(input_shape)}.")
        if self.groups == -1:
            self.groups = dim
        if dim < self.groups:
            raise ValueError(f"Number of groups ({self.groups}) cannot be more than the number "
                             f"of channels ({dim}).")
        if dim % self.groups != 0:
            raise ValueError(f"Number of groups ({self.groups}) must be a multiple of the "
                             f"number of channels ({dim}).")
        self.input_spec = InputSpec(ndim=rank, axes={self.axis: dim})
        self.gamma = self.add_weight(shape=(dim,), name="gamma",
                                     initializer=self.gamma_initializer,
                                     regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) if self.scale else None
        self.beta = self.add_weight(shape=(dim,), name="beta",
                                    initializer=self.beta_initializer,
                                    regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) if self.center else None
        self._axis = axis
        self._rank = rank
        self.built = True

    def call(self, inputs):
        axis, groups = self._axis, self.groups
        dims = inputs.shape.as_list()
        if any(d is None for d in dims[1:]):
            # only symbolic inputs have unknown non-batch dims: their shape is all that counts
            from dtf.compile.symbolic import placeholder

            return placeholder(inputs.shape, inputs.dtype)
        channels = dims[axis]
        grouped = [-1] + dims[1:]
        grouped[axis] = channels // groups
        grouped.insert(axis, groups)
        x = array_ops.reshape(inputs, grouped)
        reduce = [i for i in range(1, len(grouped)) if i != axis]
        mean, variance = nn_ops.moments(x, axes=reduce, keepdims=True)
        broadcast = [1] * (self._rank + 1)
        broadcast[axis] = groups
        broadcast[axis + 1] = channels // groups
        gamma = None if self.gamma is None else array_ops.reshape(self.gamma, broadcast)
        beta = None if self.beta is None else array_ops.reshape(self.beta, broadcast)
        out = _scale_and_shift(x, mean, variance, gamma, beta, self.epsilon)
        return array_ops.reshape(out, [-1] + dims[1:])

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                       "center": self.center, "scale": self.scale})
        config.update(_affine_config(self))
        return config
