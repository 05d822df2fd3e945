"""`keras.layers.Layer`: state (weights) plus computation (`call`).

A Layer creates its weights in `__init__` or lazily in `build(input_shape)`, which `__call__`
runs once, on the first call, with the input's shape. Variables, sublayers and metrics assigned
as attributes (directly or in lists, tuples and dicts) are tracked in creation order, so
`weights`, `trainable_weights`, `losses` and `metrics` gather them recursively.

Called on symbolic tensors (`keras.Input`), a layer runs `call` on them to learn its output's
shape and dtype, and records a `LayerNode`: the Functional API's graph is made of these.

Example:
    >>> class Linear(keras.layers.Layer):
    ...     def __init__(self, units=32):
    ...         super().__init__()
    ...         self.units = units
    ...     def build(self, input_shape):
    ...         self.w = self.add_weight(shape=(input_shape[-1], self.units))
    ...         self.b = self.add_weight(shape=(self.units,), initializer="zeros")
    ...     def call(self, inputs):
    ...         return dtf.matmul(inputs, self.w) + self.b
    >>> Linear(4)(dtf.ones((2, 2))).shape
    TensorShape([2, 4])
"""

from __future__ import annotations

import inspect

import numpy as np

from dtf import dtypes, nest
from dtf.compile.symbolic import SymbolicTensor, is_shape_only
from dtf.keras.layers import tracking
from dtf.keras.layers.input_spec import InputSpec, assert_input_compatibility
from dtf.keras.layers.tracking import Tracker, call_context
from dtf.keras.naming import auto_name
from dtf.ops import registry
from dtf.tensor import Tensor
from dtf.tensor_shape import TensorShape
from dtf.variables import Variable

__all__ = ["Layer", "LayerNode"]

_FLOATX = ["float32"]


def floatx() -> str:
    return _FLOATX[0]


# Attributes the Layer machinery itself sets: never tracked, never part of auto-config.
_INTERNAL = frozenset({
    "_tracker", "_name", "_trainable", "_dtype_name", "built", "_losses", "_callable_losses",
    "_inbound_nodes", "_call_signature", "_call_has_training", "_call_has_mask",
    "_auto_config", "input_spec", "_activity_regularizer", "_batch_input_shape",
    "_metric_by_name", "supports_masking", "_autocast", "_build_shapes", "_self_setattr",
    "_np_dtype", "_flat_cache",
})


class LayerNode:
    """One call of a layer on symbolic inputs: the Functional API's graph node.

    Attributes:
        layer: the Layer called.
        args, kwargs: the call's arguments, with SymbolicTensors where the inputs were.
        inputs: the SymbolicTensors among them (flat, in order).
        outputs: the call's result (its structure), made of new SymbolicTensors.
    """

    __slots__ = ("args", "inputs", "kwargs", "layer", "outputs")

    def __init__(self, layer, args, kwargs, outputs):
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.inputs = [t for t in nest.flatten((args, kwargs))
                       if getattr(t, "_is_symbolic", False)]
        self.outputs = outputs

    @property
    def flat_outputs(self):
        return nest.flatten(self.outputs)

    def __repr__(self):
        return f"<LayerNode {self.layer.name}>"


class Layer:
    """The base class of layers (and of models): see the module docstring.

    Args:
        trainable: whether the layer's weights are updated in training.
        name: the layer's name; by default the class name in snake case, made unique
            (`dense`, `dense_1`, ...).
        dtype: the dtype of the weights and computations (default `float32`).
        input_shape / input_dim / batch_input_shape: the input's shape, without / with the
            batch dim, as Keras 2 accepts on a model's first layer.
    """

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        object.__setattr__(self, "_tracker", Tracker())
        object.__setattr__(self, "_auto_config", (args, dict(kwargs)))
        object.__setattr__(self, "built", False)
        object.__setattr__(self, "_losses", [])
        object.__setattr__(self, "_callable_losses", [])
        object.__setattr__(self, "_inbound_nodes", [])
        object.__setattr__(self, "input_spec", None)
        object.__setattr__(self, "_activity_regularizer", None)
        object.__setattr__(self, "_metric_by_name", {})
        object.__setattr__(self, "_trainable", True)
        object.__setattr__(self, "_name", None)
        object.__setattr__(self, "_dtype_name", floatx())
        object.__setattr__(self, "_np_dtype", np.dtype(floatx()))
        object.__setattr__(self, "_batch_input_shape", None)
        object.__setattr__(self, "supports_masking", False)
        object.__setattr__(self, "_autocast", True)
        flags = _CALL_FLAGS.get(cls)
        if flags is None:
            params = _call_params(cls)
            flags = _CALL_FLAGS[cls] = ("training" in params, "mask" in params)
        object.__setattr__(self, "_call_has_training", flags[0])
        object.__setattr__(self, "_call_has_mask", flags[1])
        return self

    def __init__(self, trainable=True, name=None, dtype=None, autocast=True, input_shape=None,
                 batch_input_shape=None, input_dim=None, batch_size=None,
                 activity_regularizer=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to "
                            f"{type(self).__name__}: {kwargs}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Layer name must be a string, got {type(name).__name__}: {name!r}")
        self._name = name if name else auto_name(type(self).__name__)
        self._trainable = bool(trainable)
        self._dtype_name = _dtype_name(dtype)
        self._np_dtype = np.dtype(self._dtype_name)
        self._autocast = autocast
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (batch_size,) + tuple(input_shape)
        elif input_dim is not None:
            self._batch_input_shape = (batch_size, input_dim)
        if activity_regularizer is not None:
            from dtf.keras import regularizers

            self._activity_regularizer = regularizers.get(activity_regularizer)

    # -- attribute tracking -----------------------------------------------------------------
    # Attributes a subclass keeps for its own machinery, never tracked (e.g. a model's graph).
    _UNTRACKED_ATTRS = frozenset()

    def __setattr__(self, name, value):
        if name in _INTERNAL or name in self._UNTRACKED_ATTRS or isinstance(getattr(type(self), name, None), property):
            object.__setattr__(self, name, value)
            return
        tracker = self._tracker
        old = self.__dict__.get(name, _MISSING)
        value = tracker.track(value, self)
        object.__setattr__(self, name, value)
        if old is not _MISSING and old is not value:
            tracker.untrack(old)

    def __delattr__(self, name):
        old = self.__dict__.get(name, _MISSING)
        object.__delattr__(self, name)
        if old is not _MISSING and name not in _INTERNAL:
            self._tracker.untrack(old)

    # -- identity ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        if self._name is None:  # a subclass that never called super().__init__()
            self._name = auto_name(type(self).__name__)
        return self._name

    @property
    def dtype(self) -> str:
        """The dtype of the layer's weights (Keras: `variable_dtype`), as a string."""
        return self._dtype_name

    @property
    def compute_dtype(self) -> str:
        return self._dtype_name

    @property
    def variable_dtype(self) -> str:
        return self._dtype_name

    @property
    def dtype_policy(self):
        return self._dtype_name

    # -- trainability -------------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Freezing a layer freezes every layer inside it."""
        value = bool(value)
        for layer in self._flatten_layers(include_self=True):
            layer._trainable = value

    # -- weights ------------------------------------------------------------------------------
    def _flatten_layers(self, include_self=True):
        """This layer (if `include_self`) and its sublayers, recursively, depth first, once
        each. Cached until any layer's tracked sublayers change."""
        cache = self.__dict__.get("_flat_cache")
        if cache is None or cache[0] != tracking.tracking_version[0]:
            seen = {id(self)}
            out = [self]
            stack = list(reversed(self._tracker.layers))
            while stack:
                layer = stack.pop()
                if id(layer) in seen:
                    continue
                seen.add(id(layer))
                out.append(layer)
                stack.extend(reversed(layer._tracker.layers))
            cache = (tracking.tracking_version[0], out)
            object.__setattr__(self, "_flat_cache", cache)
        return list(cache[1]) if include_self else cache[1][1:]

    @property
    def layers(self) -> list:
        """The direct sublayers, in the order they were assigned."""
        return list(self._tracker.layers)

    @property
    def submodules(self) -> list:
        return self._flatten_layers(include_self=False)

    @property
    def weights(self) -> list:
        """Every weight: this layer's own (trainable first), then each sublayer's, in order."""
        out = []
        seen = set()
        for layer in self._flatten_layers():
            for v in layer._tracker.trainable + layer._tracker.non_trainable:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def trainable_weights(self) -> list:
        if not self._trainable:
            return []
        out = []
        seen = set()
        for layer in self._flatten_layers():
            if not layer._trainable:
                continue
            for v in layer._tracker.trainable:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def non_trainable_weights(self) -> list:
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in trainable]

    @property
    def variables(self) -> list:
        """The weights plus the variables of the layer's metrics."""
        out = self.weights
        seen = {id(v) for v in out}
        for layer in self._flatten_layers():
            for m in layer._tracker.metrics:
                for v in m.variables:
                    if id(v) not in seen:
                        seen.add(id(v))
                        out.append(v)
        return out

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self) -> list:
        """The weights' values, as NumPy arrays."""
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        """Sets the weights from NumPy arrays, in the order of `weights` (all checked first)."""
        params = self.weights
        weights = list(weights)
        if len(params) != len(weights):
            raise ValueError(
                f'Layer "{self.name}" expected {len(params)} weights, but received '
                f"{len(weights)} input weights.")
        arrays = []
        for p, w in zip(params, weights):
            w = np.asarray(w)
            if tuple(p.shape) != w.shape:
                raise ValueError(f'Layer "{self.name}" weight shape {tuple(p.shape)} is not '
                                 f"compatible with provided weight shape {w.shape}.")
            arrays.append(w)
        for p, w in zip(params, arrays):
            p.assign(w)

    def count_params(self) -> int:
        if not self.built and not self.weights:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but "
                             "the layer isn't built. You can build it manually via: "
                             f"`{self.name}.build(batch_input_shape)`.")
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    def add_weight(self, *args, **kwargs):
        """Creates a weight Variable of this layer and tracks it.

        Keras 3 order: `add_weight(shape=None, initializer=None, dtype=None, trainable=True,
        autocast=True, regularizer=None, constraint=None, aggregation="none", name=None)`;
        a first positional string is Keras 2's `add_weight(name, shape, dtype, initializer,
        regularizer, trainable, constraint)`.
        """
        order = _KERAS2_WEIGHT_ARGS if args and isinstance(args[0], str) else _KERAS3_WEIGHT_ARGS
        if len(args) > len(order):
            raise TypeError(f"add_weight() takes at most {len(order)} positional arguments")
        for key, value in zip(order, args):
            if key in kwargs:
                raise TypeError(f"add_weight() got multiple values for argument {key!r}")
            kwargs[key] = value
        return self._add_weight(**kwargs)

    def _add_weight(self, shape=None, initializer=None, dtype=None, trainable=True,
                    autocast=True, regularizer=None, constraint=None, aggregation="none",
                    synchronization="auto", name=None, use_resource=None, partitioner=None,
                    experimental_autocast=None, caching_device=None, getter=None):
        from dtf.keras import constraints, initializers, regularizers

        dtype = dtypes.as_dtype(dtype or self._dtype_name)
        shape = () if shape is None else tuple(_as_int_dim(d) for d in TensorShape(shape))
        if initializer is None:
            initializer = "glorot_uniform" if dtype.is_floating else "zeros"
        init = initializers.get(initializer)
        name = name or "variable"
        trainable = True if trainable is None else bool(trainable)
        value = init(shape, dtype=dtype) if callable(init) else init
        variable = Variable(value, trainable=trainable, name=f"{self.name}/{name}",
                            dtype=dtype, constraint=constraints.get(constraint),
                            aggregation=_AGGREGATIONS.get(aggregation, aggregation or 0))
        variable.path = f"{self.name}/{name}"
        self._tracker.add(variable, counted=False)
        if regularizer is not None:
            reg = regularizers.get(regularizer)
            self._callable_losses.append(_WeightPenalty(reg, variable))
        return variable

    add_variable = add_weight

    # -- building -----------------------------------------------------------------------------
    def build(self, input_shape=None):
        """Creates the layer's weights for inputs of this shape; the base class creates none."""
        self.built = True

    def _maybe_build(self, inputs):
        if self.built:
            return
        shapes = nest.map_structure(_shape_of, inputs)
        self._run_build(shapes)
        self.built = True
        object.__setattr__(self, "_build_shapes", shapes)  # saving restores a build from it

    def _run_build(self, shapes):
        """`build(shapes)`, its Variable assignments real even inside a symbolic run (the
        values of a restored checkpoint arrive then)."""
        call_context.building += 1
        try:
            if registry.is_tracing():  # weights are made eagerly, outside the traced graph
                from dtf.compile.context import init_scope

                with init_scope():
                    self.build(shapes)
            else:
                self.build(shapes)
        finally:
            call_context.building -= 1

    # -- calling ------------------------------------------------------------------------------
    def call(self, inputs, *args, **kwargs):
        return inputs

    def __call__(self, *args, **kwargs):
        if args:
            inputs = args[0]
            rest = args[1:]
        elif "inputs" in kwargs:
            inputs = kwargs.pop("inputs")
            rest = ()
        else:
            raise TypeError(f'Layer "{self.name}" was called without inputs: pass them as the '
                            "first argument, e.g. layer(x).")
        if type(inputs) is Tensor:
            symbolic = False
            value = inputs._value
            if value.dtype != self._np_dtype and self._autocast and value.dtype.kind == "f":
                inputs = self._convert_inputs(inputs)
        else:
            inputs = self._convert_inputs(inputs)
            flat = nest.flatten((inputs, rest, kwargs))
            symbolic = any(getattr(x, "_is_symbolic", False) for x in flat)
            if symbolic and registry.is_tracing() and not any(
                    getattr(x, "_keras_history", None) is not None for x in flat):
                # inside a dtf.function: the layer computes on the graph's tensors as it would
                # on data (losses kept, state updated), rather than adding a Functional node
                symbolic = False
        if not self.built:
            self._build_on_first_call(inputs)
        spec = self.input_spec
        if spec is not None and not (type(inputs) is Tensor and type(spec) is InputSpec
                                     and spec.accepts(inputs._value.shape)):
            assert_input_compatibility(spec, inputs, self.name)

        ctx = call_context
        training = kwargs.get("training")
        if training is None:
            training = ctx.training
            if self._call_has_training and training is not None:
                kwargs["training"] = training
        if not self._call_has_training:
            kwargs.pop("training", None)
        mask = kwargs.get("mask")
        if mask is None and (self._call_has_mask or self.supports_masking):
            mask = _input_masks(inputs)  # Keras: masks ride on the tensors between layers
            if mask is not None and self._call_has_mask:
                kwargs["mask"] = mask
        if not self._call_has_mask:
            kwargs.pop("mask", None)

        outer_depth, outer_training, outer_symbolic = ctx.depth, ctx.training, ctx.symbolic
        if outer_depth == 0 and not symbolic:
            self._clear_losses()
        ctx.depth = outer_depth + 1
        ctx.training = training
        ctx.symbolic = symbolic or outer_symbolic
        try:
            outputs = self.call(inputs, *rest, **kwargs)
        finally:
            ctx.depth, ctx.training, ctx.symbolic = outer_depth, outer_training, outer_symbolic
        if self._activity_regularizer is not None and not symbolic:
            for out in nest.flatten(outputs):
                self.add_loss(self._activity_regularizer(out))
        if symbolic:
            outputs = self._record_node(inputs, rest, kwargs, outputs)
        if mask is not None or type(self).compute_mask is not Layer.compute_mask:
            _attach_masks(outputs, self.compute_mask(inputs, mask))
        return outputs

    def _convert_inputs(self, inputs):
        """NumPy data to Tensors; floating inputs to the layer's dtype (Keras' autocast)."""
        t = type(inputs)
        if t is Tensor:
            if self._autocast and inputs.dtype.is_floating and \
                    inputs.dtype.name != self._dtype_name:
                from dtf.ops.math_ops import cast

                return cast(inputs, self._dtype_name)
            return inputs
        if t is np.ndarray or isinstance(inputs, (float, int, np.generic)):
            from dtf.ops.creation_ops import convert_to_tensor

            x = convert_to_tensor(inputs)
            return self._convert_inputs(x) if x.dtype.is_floating else x
        if isinstance(inputs, (list, tuple, dict)):
            return nest.map_structure(self._convert_leaf, inputs)
        if getattr(inputs, "_is_symbolic", False) and self._autocast and \
                inputs.dtype.is_floating and inputs.dtype.name != self._dtype_name:
            from dtf.ops.math_ops import cast

            return cast(inputs, self._dtype_name)
        return inputs

    def _convert_leaf(self, x):
        if type(x) is np.ndarray or type(x) is Tensor or getattr(x, "_is_symbolic", False):
            return self._convert_inputs(x)
        return x

    def _build_on_first_call(self, inputs):
        if self._batch_input_shape is not None and not _shapes_given(inputs):
            shapes = TensorShape(self._batch_input_shape)
        else:
            shapes = nest.map_structure(_shape_of, inputs)
        self._run_build(shapes)
        object.__setattr__(self, "built", True)
        object.__setattr__(self, "_build_shapes", shapes)  # saving restores a build from it

    def _record_node(self, inputs, rest, kwargs, outputs):
        """Wraps the symbolic outputs as the outputs of a new LayerNode of this layer."""
        args = (inputs,) + tuple(rest)
        flat = nest.flatten(outputs)
        wrapped = [SymbolicTensor(o.shape, o.dtype, name=f"{self.name}/output_{i}")
                   if getattr(o, "_is_symbolic", False) else o for i, o in enumerate(flat)]
        structure = nest.pack_sequence_as(outputs, wrapped)
        node = LayerNode(self, args, dict(kwargs), structure)
        for i, o in enumerate(wrapped):
            if getattr(o, "_is_symbolic", False):
                o._keras_history = (node, i)
        self._inbound_nodes.append(node)
        return structure

    # -- losses -------------------------------------------------------------------------------
    def add_loss(self, loss):
        """Adds a loss: a tensor (cleared at the start of each outermost call) or a
        zero-argument callable (kept, evaluated whenever `losses` is read)."""
        if callable(loss) and not hasattr(loss, "dtype"):
            self._callable_losses.append(loss)
            return
        if call_context.symbolic or is_shape_only(loss):
            return  # built again, with values, each time the layer runs on data
        from dtf.ops.creation_ops import convert_to_tensor

        self._losses.append(convert_to_tensor(loss))

    def _clear_losses(self):
        for layer in self._flatten_layers():
            if layer._losses:
                layer._losses = []

    @property
    def losses(self) -> list:
        """The losses of the last forward pass (this layer's and its sublayers'), followed by
        the regularization penalties, evaluated now."""
        out = []
        for layer in self._flatten_layers():
            out.extend(layer._losses)
        for layer in self._flatten_layers():
            for fn in layer._callable_losses:
                value = fn()
                if value is not None:
                    from dtf.ops.creation_ops import convert_to_tensor

                    out.append(convert_to_tensor(value))
        return out

    # -- metrics ------------------------------------------------------------------------------
    def add_metric(self, value, name=None, aggregation=None, **kwargs):
        """Tracks the mean of `value` over calls in a metric `name` (Keras 2's `add_metric`)."""
        if call_context.symbolic or is_shape_only(value):
            return
        if name is None:
            raise ValueError("add_metric needs a name: layer.add_metric(value, name='...').")
        metric = self._metric_by_name.get(name)
        if metric is None:
            from dtf.keras import metrics

            metric = (metrics.Sum if aggregation == "sum" else metrics.Mean)(name=name)
            self._metric_by_name[name] = metric
            self._tracker.add(metric)
        metric.update_state(value)

    @property
    def metrics(self) -> list:
        out = []
        for layer in self._flatten_layers():
            for m in layer._tracker.metrics:
                if not _contains(out, m):
                    out.append(m)
        return out

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    # -- activity regularizer -------------------------------------------------------------------
    @property
    def activity_regularizer(self):
        return self._activity_regularizer

    @activity_regularizer.setter
    def activity_regularizer(self, value):
        from dtf.keras import regularizers

        self._activity_regularizer = regularizers.get(value)

    # -- functional helpers ---------------------------------------------------------------------
    @property
    def input(self):
        return self._node_attr("input")

    @property
    def output(self):
        return self._node_attr("output")

    def _node_attr(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name} has no inbound nodes: it has not been "
                                 f"called on symbolic inputs (keras.Input), so its {what} is "
                                 "undefined.")
        if len(self._inbound_nodes) > 1:
            raise AttributeError(f"Layer {self.name} has been called {len(self._inbound_nodes)}"
                                 f" times on symbolic inputs, so its {what} is ambiguous.")
        node = self._inbound_nodes[0]
        if what == "output":
            return node.outputs
        return node.args[0]

    def compute_output_shape(self, input_shape):
        """The output's shape for inputs of `input_shape`, by running `call` symbolically."""
        from dtf.compile.symbolic import placeholder

        def make(shape):
            return placeholder(TensorShape(shape), self._dtype_name)

        if isinstance(input_shape, (list, tuple)) and input_shape and \
                isinstance(input_shape[0], (list, tuple, TensorShape)):
            inputs = [make(s) for s in input_shape]
        else:
            inputs = make(input_shape)
        outputs = self(inputs)
        return nest.map_structure(lambda t: t.shape, outputs)

    def compute_mask(self, inputs, mask=None):
        return mask if self.supports_masking else None

    # -- config -------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The layer's constructor arguments. Layers that take only basic arguments (numbers,
        strings, lists, dicts of those) get this for free; others override it."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": self._dtype_name}
        if type(self).get_config is Layer.get_config and type(self).__init__ is not \
                Layer.__init__:
            args, kwargs = self._auto_config
            try:
                bound = inspect.signature(type(self).__init__).bind(None, *args, **kwargs)
                bound.apply_defaults()
            except TypeError:
                bound = None
            extra = {}
            if bound is not None:
                for key, value in list(bound.arguments.items())[1:]:
                    param = bound.signature.parameters[key]
                    if param.kind is param.VAR_KEYWORD:
                        extra.update(value)
                    elif param.kind is not param.VAR_POSITIONAL:
                        extra[key] = value
            if not all(_is_basic(v) for v in extra.values()):
                raise NotImplementedError(
                    f"Layer {type(self).__name__} has arguments that are not plain data "
                    f"({sorted(extra)}): override get_config() to return them serialized "
                    "(and from_config() to rebuild them).")
            config.update(extra)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


# -- helpers -----------------------------------------------------------------------------------
_MISSING = object()
_CALL_FLAGS: dict = {}
_KERAS3_WEIGHT_ARGS = ("shape", "initializer", "dtype", "trainable", "autocast", "regularizer",
                       "constraint", "aggregation", "name")
_KERAS2_WEIGHT_ARGS = ("name", "shape", "dtype", "initializer", "regularizer", "trainable",
                       "constraint")
_AGGREGATIONS = {"none": 0, "sum": 1, "mean": 2, "only_first_replica": 3}


def _call_params(cls):
    try:
        params = inspect.signature(cls.call).parameters
    except (TypeError, ValueError):
        return ()
    return tuple(params)


class _WeightPenalty:
    """A weight regularizer's penalty, recomputed each time the layer's losses are read."""

    __slots__ = ("regularizer", "variable")

    def __init__(self, regularizer, variable):
        self.regularizer = regularizer
        self.variable = variable

    def __call__(self):
        return self.regularizer(self.variable)


def _input_masks(inputs):
    """The Keras masks attached to `inputs` (one tensor, or a list of them), or None."""
    if isinstance(inputs, (list, tuple)):
        masks = [getattr(x, "_keras_mask", None) for x in inputs]
        return None if all(m is None for m in masks) else masks
    return getattr(inputs, "_keras_mask", None)


def _attach_masks(outputs, mask):
    """Sets `_keras_mask` on the output tensor(s): one mask per output when `mask` is a
    list, else on the first output."""
    flat = nest.flatten(outputs)
    masks = mask if isinstance(mask, (list, tuple)) else [mask] + [None] * (len(flat) - 1)
    for out, m in zip(flat, masks):
        try:
            out._keras_mask = m
        except AttributeError:  # not a Tensor (a Python value returned by call)
            pass


def _contains(items, obj):
    return any(x is obj for x in items)


def _dtype_name(dtype):
    if dtype is None:
        return floatx()
    if isinstance(dtype, dict):  # a serialized dtype policy
        dtype = dtype.get("config", {}).get("name", floatx())
    name = getattr(dtype, "name", dtype)
    if name in ("mixed_float16", "mixed_bfloat16"):
        raise ValueError(f"dtype policy {name!r} is not supported: dtf layers compute in one "
                         "dtype (float16, float32 or float64).")
    return dtypes.as_dtype(name).name


def _shape_of(x):
    shape = getattr(x, "shape", None)
    if shape is None:
        return None
    return shape if isinstance(shape, TensorShape) else TensorShape(shape)


def _shapes_given(inputs):
    return all(getattr(x, "shape", None) is not None for x in nest.flatten(inputs))


def _as_int_dim(d):
    if d is None:
        raise ValueError("add_weight needs a fully defined shape; got a None dimension. Build "
                         "the layer from the input's known dims (e.g. input_shape[-1]).")
    return int(d)


def _is_basic(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_basic(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_basic(v) for k, v in value.items())
    return False
