"""Symbolic tensors: a shape, a dtype and the op that makes them, but no value.

`keras.Input` returns one, and every dtf op applied to symbolic tensors returns more: the op
table's shape rules compute what the result would look like, and an `OpNode` remembers how to
compute it (the op, its inputs, its attributes). A Keras Functional model is such a graph of
nodes; `dtf.function` traces the same nodes.

Example:
    >>> x = placeholder((None, 3), dtf.float32)
    >>> y = dtf.reduce_sum(x * 2.0, axis=1)
    >>> y.shape, y.node.prim.name
    (TensorShape([None]), 'sum')
"""

from __future__ import annotations

import itertools

from dtf import dtypes
from dtf.autodiff import state as _tape_state
from dtf.compile import context as _context
from dtf.ops import registry
from dtf.ops.registry import Spec
from dtf.tensor import Tensor, _Reference
from dtf.tensor_shape import TensorShape

__all__ = ["OpNode", "SymbolicTensor", "is_shape_only", "is_symbolic", "placeholder"]

_names = itertools.count()


class OpNode:
    """One application of a primitive to symbolic (and constant) inputs.

    Attributes:
        prim: the `registry.Primitive`.
        inputs: its inputs as given: SymbolicTensors, eager Tensors (constants) and Variables
            (read when the node runs, so later assignments are seen).
        attrs: the primitive's attributes.
        outputs: the SymbolicTensors it produces.
    """

    __slots__ = ("attrs", "inputs", "outputs", "prim")

    def __init__(self, prim, inputs, attrs):
        self.prim = prim
        self.inputs = tuple(inputs)
        self.attrs = dict(attrs)
        self.outputs = ()

    @property
    def symbolic_inputs(self):
        return [t for t in self.inputs if getattr(t, "_is_symbolic", False)]

    def run(self, values):
        """Runs the op eagerly; `values` maps `id(symbolic input)` to its value."""
        args = tuple(values[id(t)] if getattr(t, "_is_symbolic", False) else t
                     for t in self.inputs)
        return registry.run(self.prim, args, **self.attrs)

    def __repr__(self):
        return f"<OpNode {self.prim.name}>"


class SymbolicTensor:
    """A tensor known by its shape and dtype only; ops on it build `OpNode`s.

    Operators (`+`, `@`, `[]`, ...) work as on Tensors. Asking for a value (`numpy()`, `bool()`,
    `float()`) raises: there is none until the graph runs on real data.
    """

    _is_symbolic = True
    __array_priority__ = 100
    __slots__ = ("__weakref__", "_dtype", "_keras_history", "_keras_mask", "_shape",
                 "_slice_of", "index", "name", "node")

    def __init__(self, shape, dtype, node=None, index=0, name=None):
        self._shape = shape if isinstance(shape, TensorShape) else TensorShape(shape)
        self._dtype = dtypes.as_dtype(dtype)
        self.node = node
        self.index = index
        self.name = name if name is not None else f"symbolic_tensor_{next(_names)}"
        self._keras_history = None  # (layer node, output index) once a Keras layer made it
        self._slice_of = None  # (variable, key) for `v[key]` read in a traced function

    def assign(self, value, use_locking=None, name=None, read_value=True):
        """`v[key].assign(value)` inside a traced function (other graph tensors are
        immutable)."""
        if self._slice_of is None:
            raise AttributeError(f"{self.name} is a tensor, not a Variable (or a slice of one): "
                                 "tensors are immutable; assign to a dtf.Variable instead.")
        variable, key = self._slice_of
        return variable._assign_slice(key, value)

    @property
    def shape(self) -> TensorShape:
        return self._shape

    def get_shape(self) -> TensorShape:
        return self._shape

    @property
    def dtype(self) -> dtypes.DType:
        return self._dtype

    @property
    def ndim(self):
        return self._shape.rank

    @property
    def spec(self) -> Spec:
        dims = self._shape.dims
        return Spec(None if dims is None else tuple(dims), self._dtype)

    def ref(self):
        return _Reference(self)

    experimental_ref = ref

    def __hash__(self):
        raise TypeError("SymbolicTensor is unhashable. Instead, use tensor.ref() as the key.")

    # -- no value ----------------------------------------------------------------------------
    def _no_value(self, what):
        if _context.is_tracing():
            from dtf.errors import OperatorNotAllowedInGraphError

            return OperatorNotAllowedInGraphError(
                f"{what} is not allowed in a dtf.function: {self.name} (shape={self._shape}, "
                f"dtype={self._dtype.name}) is a symbolic tensor, with no value while the "
                "function is traced. Python `if`/`while` on tensors are not converted: use "
                "dtf.cond(pred, true_fn, false_fn) (or dtf.where) for a choice, "
                "dtf.while_loop(cond, body, loop_vars) for a loop, and dtf.print to print "
                "values when the function runs.")
        return TypeError(
            f"{what} needs a value, but {self.name} (shape={self._shape}, dtype="
            f"{self._dtype.name}) is symbolic: it stands for the data a model or traced function "
            "will receive. Use dtf ops on it (dtf.cond / dtf.where for choices), or run the "
            "model on real data.")

    def numpy(self):
        raise self._no_value("numpy()")

    def __array__(self, dtype=None, copy=None):
        raise self._no_value("Converting to a NumPy array")

    def __bool__(self):
        raise self._no_value("Using a symbolic tensor as a Python bool")

    def __float__(self):
        raise self._no_value("float()")

    def __int__(self):
        raise self._no_value("int()")

    def __index__(self):
        raise self._no_value("Using a symbolic tensor as an index")

    def __len__(self):
        if self._shape.rank is None or self._shape[0] is None:
            raise TypeError(f"len() of {self.name} is unknown: its shape is {self._shape}. "
                            "Use dtf.shape(x)[0].")
        return self._shape[0]

    def __iter__(self):
        if (self._shape.rank is None or self._shape[0] is None) and _context.is_tracing():
            raise self._no_value("Iterating over a tensor of unknown length")
        n = len(self)
        return iter([self[i] for i in range(n)])

    def __repr__(self):
        return (f"<SymbolicTensor shape={tuple(self._shape.dims) if self._shape.dims is not None else None}, "
                f"dtype={self._dtype.name}, name={self.name}>")

    __str__ = __repr__


def is_symbolic(x) -> bool:
    return getattr(x, "_is_symbolic", False)


def is_shape_only(x) -> bool:
    """Whether `x` is a symbolic tensor outside any function being traced: it stands for data a
    Keras Functional model will get, so layers only learn shapes from it (losses and state
    updates wait for real data). Inside a `dtf.function`, symbolic tensors are the graph's
    values and layers compute on them as on data."""
    return getattr(x, "_is_symbolic", False) and not _context.is_tracing()


def placeholder(shape, dtype=dtypes.float32, name=None) -> SymbolicTensor:
    """A symbolic tensor made by no op: a graph input."""
    return SymbolicTensor(shape, dtype, node=None, name=name)


# -- building nodes ---------------------------------------------------------------------------
def _spec_of(t) -> Spec:
    if getattr(t, "_is_symbolic", False):
        return t.spec
    if isinstance(t, Tensor):
        return Spec(tuple(t._value.shape), t.dtype)
    dims = t.shape.dims  # a Variable
    return Spec(None if dims is None else tuple(dims), t.dtype)


def _build_node(prim, inputs, attrs):
    """The op table's handler for symbolic inputs: infer the outputs, make the node."""
    try:
        out_specs = prim.infer(*[_spec_of(t) for t in inputs], **attrs)
    except (ValueError, TypeError, IndexError) as e:
        from dtf.errors import InvalidArgumentError

        described = ", ".join(f"{_spec_of(t).dtype.name}{_shape_text(_spec_of(t).shape)}"
                              for t in inputs)
        raise InvalidArgumentError(
            f"{prim.name}: cannot apply to symbolic inputs ({described}): {e}") from e
    node = OpNode(prim, inputs, attrs)
    if isinstance(out_specs, Spec):
        outputs = (SymbolicTensor(_shape(out_specs.shape), out_specs.dtype, node, 0),)
        result = outputs[0]
    else:
        outputs = tuple(SymbolicTensor(_shape(s.shape), s.dtype, node, i)
                        for i, s in enumerate(out_specs))
        result = outputs
    node.outputs = outputs
    if _tape_state.active_tapes and prim.vjp_fn is not None:
        _tape_state.record_symbolic(prim, node.inputs, node.attrs, outputs)
    builder = _context.current()
    if builder is not None:  # a function being traced: the node joins its graph
        builder.add_node(node)
    return result


def _shape(spec_shape):
    return TensorShape(None if spec_shape is None else list(spec_shape))


def _shape_text(shape):
    return "[?]" if shape is None else str(["?" if d is None else d for d in shape])


def _install():
    from dtf.ops import operators

    operators.install(SymbolicTensor)
    if _build_node not in registry._non_eager_hook:
        registry._non_eager_hook[:] = [_build_node]
    registry.is_tracing = _context.is_tracing


_install()
