"""Core layers: Dense, Dropout, Activation, Flatten, Reshape, Permute, RepeatVector, Lambda,
Identity, ActivityRegularization.

Example:
    >>> layer = keras.layers.Dense(4, activation="relu")
    >>> layer(dtf.ones((2, 3))).shape
    TensorShape([2, 4])
"""

from __future__ import annotations

import math

import numpy as np

from dtf import nest
from dtf.keras.layers.input_spec import InputSpec
from dtf.keras.layers.layer import Layer
from dtf.ops import array_ops, fused_ops, linalg_ops, math_ops, nn_ops

__all__ = ["Activation", "ActivityRegularization", "Dense", "Dropout", "Flatten", "Identity",
           "Lambda", "Permute", "RepeatVector", "Reshape"]


def _fusable_activations():
    """The activation functions `fused_dense` computes itself, by identity."""
    from dtf.keras import activations

    table = {activations.linear: "linear", activations.relu: "relu", nn_ops.relu: "relu",
             activations.sigmoid: "sigmoid", math_ops.sigmoid: "sigmoid",
             activations.tanh: "tanh", math_ops.tanh: "tanh"}
    return {fn: name for fn, name in table.items() if name in fused_ops.FUSED_ACTIVATIONS}


_FUSABLE: dict = {}  # filled on the first Dense (activations imports layers' dependencies)


def _serialize(obj):
    from dtf.keras.saving import serialization

    return serialization.serialize_keras_object(obj)


class Dense(Layer):
    """`activation(dot(inputs, kernel) + bias)`: the densely connected layer.

    Args:
        units: the output's last dimension.
        activation: a function or its name (None: linear).
        use_bias: whether to add a bias vector.
        kernel_initializer, bias_initializer: initializers (default Glorot uniform / zeros).
        kernel_regularizer, bias_regularizer, activity_regularizer: penalties added to
            `losses`.
        kernel_constraint, bias_constraint: projections applied after optimizer updates.

    Inputs of rank > 2 are multiplied along their last axis.

    Example:
        >>> dense = keras.layers.Dense(32, activation="relu")
        >>> dense(dtf.ones((8, 784))).shape
        TensorShape([8, 32])
    """

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 quantization_config=None, **kwargs):
        if lora_rank or quantization_config:
            raise ValueError("Dense: LoRA and quantization (lora_rank, quantization_config) "
                             "are not supported by dtf; load the model without them.")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        from dtf.keras import activations, constraints, initializers, regularizers

        units = int(units) if not isinstance(units, bool) else units
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"Received an invalid value for `units`, expected a positive "
                             f"integer. Received: units={units}")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True
        if not _FUSABLE:
            _FUSABLE.update(_fusable_activations())

    def build(self, input_shape):
        last = input_shape[-1]
        if last is None:
            raise ValueError(f'Layer "{self.name}": the last dimension of the inputs to a Dense '
                             f"layer should be defined. Found None. Full input shape received: "
                             f"{input_shape}")
        self.kernel = self.add_weight(name="kernel", shape=(last, self.units),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        else:
            self.bias = None
        self.input_spec = InputSpec(min_ndim=2, axes={-1: last})
        self.built = True

    def call(self, inputs):
        fused = _FUSABLE.get(self.activation) if self.bias is not None else None
        if fused is not None and inputs.shape.rank == 2:
            # one primitive instead of matmul + bias_add + activation (see fused_ops)
            return fused_ops.fused_dense(inputs, self.kernel, self.bias, fused)
        if inputs.shape.rank == 2:
            x = linalg_ops.matmul(inputs, self.kernel)
        else:
            x = linalg_ops.tensordot(inputs, self.kernel, [[inputs.shape.rank - 1], [0]])
        if self.bias is not None:
            x = nn_ops.bias_add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": _serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _serialize(self.kernel_initializer),
            "bias_initializer": _serialize(self.bias_initializer),
            "kernel_regularizer": _serialize(self.kernel_regularizer),
            "bias_regularizer": _serialize(self.bias_regularizer),
            "activity_regularizer": _serialize(self.activity_regularizer),
            "kernel_constraint": _serialize(self.kernel_constraint),
            "bias_constraint": _serialize(self.bias_constraint),
        })
        return config


class Dropout(Layer):
    """Sets a fraction `rate` of its inputs to 0 in training, scaling the rest by
    `1 / (1 - rate)`; passes inputs through at inference.

    Args:
        rate: the fraction to drop, in [0, 1).
        noise_shape: the shape of the binary mask, broadcast over the input (None dims take
            the input's).
        seed: an op seed, for reproducible masks.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float "
                             f"value between 0 and 1. Received: rate={rate}")
        self.rate = rate
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self.supports_masking = True

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            return nn_ops.dropout(inputs, rate=self.rate, noise_shape=self._noise_shape(inputs),
                                  seed=self.seed)
        return inputs

    def _noise_shape(self, inputs):
        if self.noise_shape is None:
            return None
        shape = array_ops.shape(inputs)
        return [shape[i] if d is None else d for i, d in enumerate(self.noise_shape)] \
            if any(d is None for d in self.noise_shape) else list(self.noise_shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed})
        return config


class Activation(Layer):
    """Applies an activation function (`"relu"`, `dtf.nn.relu`, ...) to its input."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        from dtf.keras import activations

        self.activation = activations.get(activation)
        self.supports_masking = True

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["activation"] = _serialize(self.activation)
        return config


class Flatten(Layer):
    """Flattens each sample to a vector: `(batch, d1, d2, ...)` -> `(batch, d1 * d2 * ...)`.

    Args:
        data_format: "channels_last" (default) or "channels_first" (then the channels axis
            moves last before flattening, so weights match a channels-last model).
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format)
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs):
        rank = inputs.shape.rank
        if self.data_format == "channels_first" and rank is not None and rank > 2:
            inputs = array_ops.transpose(inputs, [0] + list(range(2, rank)) + [1])
        if rank == 1:
            return array_ops.expand_dims(inputs, 1)
        rest = inputs.shape[1:]
        if rest.is_fully_defined():
            return array_ops.reshape(inputs, (-1, int(np.prod(rest.as_list(), dtype=np.int64))))
        batch = inputs.shape[0]
        if batch is None:
            batch = array_ops.shape(inputs)[0]
        return array_ops.reshape(inputs, array_ops.stack([batch, -1]) if not isinstance(
            batch, int) else (batch, -1))

    def compute_output_shape(self, input_shape):
        dims = list(input_shape)
        rest = dims[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (dims[0], size) if dims else (1,)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class Reshape(Layer):
    """Reshapes each sample to `target_shape` (one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(1 for d in self.target_shape if d == -1) > 1:
            raise ValueError(f"Reshape: at most one dimension of target_shape may be -1, got "
                             f"{self.target_shape}.")

    def call(self, inputs):
        batch = inputs.shape[0]
        if -1 in self.target_shape or batch is None:
            if -1 in self.target_shape:
                if batch is None:
                    batch = array_ops.shape(inputs)[0]
                    return array_ops.reshape(
                        inputs, array_ops.stack([batch] + list(self.target_shape)))
                return array_ops.reshape(inputs, (batch,) + self.target_shape)
            return array_ops.reshape(inputs, (-1,) + self.target_shape)
        return array_ops.reshape(inputs, (batch,) + self.target_shape)

    def compute_output_shape(self, input_shape):
        dims = list(input_shape)
        target = list(self.target_shape)
        if -1 in target:
            known = math.prod(d for d in target if d != -1)
            rest = dims[1:]
            total = None if any(d is None for d in rest) else math.prod(rest)
            target[target.index(-1)] = None if total is None else total // known
        return (dims[0],) + tuple(target)

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = self.target_shape
        return config


class Permute(Layer):
    """Permutes the non-batch dims: `dims` is 1-based, e.g. `Permute((2, 1))` swaps them."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Invalid permutation argument `dims` for Permute Layer. The set "
                             f"of indices in `dims` must be consecutive and start from 1. "
                             f"Received dims={self.dims}")
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs):
        return array_ops.transpose(inputs, (0,) + self.dims)

    def get_config(self):
        config = super().get_config()
        config["dims"] = self.dims
        return config


class RepeatVector(Layer):
    """Repeats a `(batch, features)` input `n` times: `(batch, n, features)`."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        return array_ops.tile(array_ops.expand_dims(inputs, 1), [1, self.n, 1])

    def get_config(self):
        config = super().get_config()
        config["n"] = self.n
        return config


class Identity(Layer):
    """Returns its input unchanged."""

    def call(self, inputs):
        return inputs


class ActivityRegularization(Layer):
    """Passes its input through and adds `l1 * sum(|x|) + l2 * sum(x**2)` to the losses."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        from dtf.keras import regularizers

        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1 = l1
        self.l2 = l2
        self.supports_masking = True

    def call(self, inputs):
        return inputs

    def get_config(self):
        config = super().get_config()
        config.update({"l1": self.l1, "l2": self.l2})
        return config


class Lambda(Layer):
    """Wraps a function of tensors as a layer: `Lambda(lambda x: x ** 2)`.

    Args:
        function: called as `function(inputs, **arguments)` (and with `mask`/`training` when
            it accepts them).
        output_shape: optional; otherwise found by running the function symbolically.
        arguments: extra keyword arguments for `function`.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda needs a callable, got {type(function).__name__}.")
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = output_shape
        self.mask = mask
        import inspect

        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._fn_takes_training = "training" in params
        self._fn_takes_mask = "mask" in params

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_takes_mask:
            kwargs["mask"] = mask
        if self._fn_takes_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        return (nest.flatten(input_shape)[0],) + tuple(self._output_shape) \
            if not isinstance(input_shape, (list, tuple)) or not input_shape or \
            not isinstance(input_shape[0], (list, tuple)) else tuple(self._output_shape)

    def get_config(self):
        import warnings

        from dtf.keras.saving import serialization

        config = super().get_config()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a lambda: from_config says what loading needs
            config["function"] = serialization.serialize_keras_object(self.function)
        config["function_module"] = getattr(self.function, "__module__", None)
        config["arguments"] = self.arguments
        config["output_shape"] = self._output_shape if not callable(self._output_shape) \
            else None
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        """Rebuilds the layer; a lambda's bytecode loads only with `safe_mode=False` (it can
        run arbitrary code), its globals taken from the module that defined it, as Keras."""
        import sys

        from dtf.keras.saving import serialization

        config = dict(config)
        fn = config.pop("function")
        module = config.pop("function_module", None)
        if isinstance(fn, dict) and fn.get("class_name") == "__lambda__":
            if safe_mode:
                raise ValueError(
                    "Requested the deserialization of a Lambda layer whose function is a Python "
                    "lambda. Loading it runs arbitrary code: pass safe_mode=False if you trust "
                    "the source.")
            globs = dict(vars(sys.modules[module])) if module in sys.modules else None
            fn = serialization._func_load(fn["config"]["value"], globs)
        else:
            fn = serialization.deserialize_keras_object(fn, custom_objects=custom_objects)
        return cls(function=fn, **config)


def _data_format(value):
    value = value or "channels_last"
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got "
                         f"{value!r}.")
    return value
