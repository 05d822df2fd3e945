"""`dtf.Variable`: mutable state that tapes watch when trainable.

A Variable holds one array and replaces it on every assignment (copy-on-write), so a Tensor read
from it earlier keeps its value: Tensors stay immutable. Reading a Variable inside an op records
the read on open tapes, which is how gradients reach it.

Example:
    >>> v = dtf.Variable([[1., 2.], [3., 4.]])
    >>> _ = v[0, 1].assign(42.)
    >>> v.numpy()[0, 1]
    42.0
"""

from __future__ import annotations

import contextlib
import itertools
import threading

import numpy as np

from dtf import backend as _backend
from dtf import dtypes
from dtf.autodiff import state as _tape_state
from dtf.errors import InvalidArgumentError
from dtf.ops import registry
from dtf.tensor import Tensor, _np_repr, _Reference
from dtf.tensor_shape import TensorShape

_accelerated = _backend.accelerated  # [True] once a GPU backend is registered

__all__ = ["Variable", "VariableAggregation", "VariableSynchronization", "reset_default_names"]


class VariableSynchronization:
    AUTO = 0
    NONE = 1
    ON_WRITE = 2
    ON_READ = 3


class VariableAggregation:
    NONE = 0
    SUM = 1
    MEAN = 2
    ONLY_FIRST_REPLICA = 3


# -- unique names ------------------------------------------------------------------------------
_names_lock = threading.Lock()
_name_counts: dict[str, itertools.count] = {}


def _unique_name(base: str) -> str:
    with _names_lock:
        counter = _name_counts.setdefault(base, itertools.count())
        n = next(counter)
    return base if n == 0 else f"{base}_{n}"


def reset_default_names() -> None:
    """Starts default Variable names afresh (`Variable:0`, ...); `keras.backend.clear_session`
    calls this."""
    with _names_lock:
        _name_counts.clear()


@registry.primitive("read_variable", shape=lambda s: s)
def _read_variable(xp, x):
    return x


@_read_variable.def_vjp
def _(g, out, variable):
    return (g,)


# Variable creators (a distribution strategy's scope installs one to place Variables elsewhere).
_creator_stack: list = []



@contextlib.contextmanager
def variable_creator_scope(creator):
    """Variables made inside are made by `creator(*args, **kwargs)` (a strategy's scope places
    them on its parameter servers this way)."""
    _creator_stack.append(creator)
    try:
        yield
    finally:
        _creator_stack.remove(creator)


@contextlib.contextmanager
def no_variable_creators():
    """Plain Variables inside, whatever scope is active (state a runtime builds for itself)."""
    saved = _creator_stack[:]
    _creator_stack.clear()
    try:
        yield
    finally:
        _creator_stack[:] = saved


# Interceptors of assignments: `handler(variable, op, value)` returns True to take the update
# (a Keras layer run on symbolic inputs only to learn its shapes skips every state update;
# dtf.function's tracer records the update as a graph node), False to let it happen.
update_interceptors: list = []


def _initial_value_in_trace(initial_value, dtype, name):
    """A Variable made while a function is traced: allowed on the first trace only (as in
    TensorFlow), its initial value computed eagerly, outside the graph."""
    from dtf.compile import context
    from dtf.ops.creation_ops import convert_to_tensor

    builder = context.current()
    if not builder.allow_variable_creation:
        raise ValueError(
            f"dtf.function {builder.name!r} tried to create a variable"
            f"{'' if name is None else ' ' + repr(name)} on a trace other than its first. "
            "dtf.function only supports singleton dtf.Variables created on the first call: make "
            "sure the dtf.Variable is only created once (e.g. in __init__ or guarded by "
            "`if self.v is None`) or create it outside the dtf.function.")
    if getattr(initial_value, "_is_symbolic", False):
        # computed from the function's inputs: the Variable starts as zeros and a graph node
        # gives it this value the first time the function runs
        if not initial_value.shape.is_fully_defined():
            raise ValueError(
                f"dtf.function {builder.name!r}: a Variable created from the function's inputs "
                f"needs a static shape, but its initial value has shape {initial_value.shape}. "
                "Create the Variable outside the function, or from a value of known shape.")
        from dtf.ops import math_ops

        pending = initial_value if dtype is None else math_ops.cast(initial_value, dtype)
        with context.init_scope():
            from dtf.ops.creation_ops import zeros

            value = zeros(initial_value.shape.as_list(), dtype=pending.dtype)
        return value, pending
    with context.init_scope():
        if callable(initial_value):
            initial_value = initial_value()
        if getattr(initial_value, "_is_symbolic", False):
            raise ValueError(f"dtf.function {builder.name!r}: a Variable's initializer returned "
                             "a value computed from the function's inputs.")
        value = convert_to_tensor(initial_value, dtype=dtype, allow_cast=True)
    return value, None


def _intercepted(variable, op, value):
    for handler in update_interceptors:
        if handler(variable, op, value):
            return True
    if getattr(value, "_is_symbolic", False):
        raise TypeError(
            f"Cannot {op} a symbolic tensor ({value!r}) to variable '{variable.name}': "
            "symbolic tensors have no value outside a model or traced function being run. Run "
            "the model on data, or do the update inside dtf.function.")
    return False


class Variable:
    """A mutable tensor, as `tf.Variable`.

    Args:
        initial_value: a Tensor, array-like, or a zero-argument callable returning one.
        trainable: whether tapes watch it automatically (default True).
        name: its name; made unique per process (`Variable:0`, `Variable_1:0`, ...).
        dtype: cast the initial value to this dtype.
        shape: the static shape (defaults to the initial value's).
        constraint: a function applied after each optimizer update (used by Keras).
    """

    _is_dtf_variable = True
    __array_priority__ = 100

    def __new__(cls, *args, **kwargs):
        if _creator_stack and cls is Variable:
            return _creator_stack[-1](*args, **kwargs)
        return super().__new__(cls)

    def __init__(self, initial_value=None, trainable=None, validate_shape=True,
                 caching_device=None, name=None, variable_def=None, dtype=None,
                 import_scope=None, constraint=None,
                 synchronization=VariableSynchronization.AUTO,
                 aggregation=VariableAggregation.NONE, shape=None,
                 experimental_enable_variable_lifting=True):
        from dtf.ops.creation_ops import convert_to_tensor

        if initial_value is None:
            raise ValueError("initial_value must be specified to create a Variable.")
        pending = None  # an initial value computed by the traced function (a graph tensor)
        if registry.is_tracing():
            value, pending = _initial_value_in_trace(initial_value, dtype, name)
        else:
            if callable(initial_value):
                initial_value = initial_value()
            value = convert_to_tensor(initial_value, dtype=dtype, allow_cast=True)
        if synchronization == VariableSynchronization.ON_READ and trainable:
            raise ValueError("Synchronization value ON_READ is only for non-trainable variables.")
        self._trainable = True if trainable is None else bool(trainable)
        if synchronization == VariableSynchronization.ON_READ and trainable is None:
            self._trainable = False
        # A Variable lives on the device current at its creation (TensorFlow's placement);
        # an initial value elsewhere (a GPU tensor under a CPU scope) is copied there.
        self._value = _backend.place(value._value) if _accelerated[0] else value._value
        self._shape = TensorShape(value.shape if shape is None else shape)
        if validate_shape and not self._shape.is_compatible_with(value.shape):
            raise ValueError(f"The initial value's shape {value.shape} is not compatible with "
                             f"the given shape {self._shape}.")
        # Default names are made unique (Variable:0, Variable_1:0, ...); a given name is kept
        # as given, as TensorFlow 2 does in eager mode.
        self._name = (_unique_name("Variable") if name is None else str(name).split(":")[0]) \
            + ":0"
        self._constraint = constraint
        self._synchronization = synchronization
        self._aggregation = aggregation
        self._initial_value = value
        if pending is not None:
            from dtf.compile import state_ops

            registry.run(state_ops.assign_variable, (pending,), variable=self, op="initialize")

    # -- properties ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def dtype(self) -> dtypes.DType:
        return dtypes.from_numpy(self._value.dtype)

    @property
    def shape(self) -> TensorShape:
        return self._shape

    def get_shape(self) -> TensorShape:
        return self._shape

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def constraint(self):
        return self._constraint

    @property
    def synchronization(self):
        return self._synchronization

    @property
    def aggregation(self):
        return self._aggregation

    @property
    def initial_value(self) -> Tensor:
        return self._initial_value

    @property
    def device(self) -> str:
        return _backend.backend_of(self._value).device_of(self._value).name

    # -- reading ------------------------------------------------------------------------------
    def read_value(self) -> Tensor:
        """The current value as a Tensor (recorded on tapes that watch this Variable); inside a
        traced function, a read node of its graph."""
        if registry.is_tracing():
            return registry.run(_read_variable, (self,))
        v = self._value
        t = Tensor(_read_variable.impl(_backend.backend_of(v).xp, v))
        if _tape_state.active_tapes:
            _tape_state.record_variable_read(self, t, _read_variable)
        return t

    def value(self) -> Tensor:
        return self.read_value()

    def numpy(self):
        return Tensor(self._value).numpy()

    def __array__(self, dtype=None, copy=None):
        return Tensor(self._value).__array__(dtype)

    def ref(self):
        return _Reference(self)

    experimental_ref = ref

    def __hash__(self):
        return id(self)

    # -- writing ------------------------------------------------------------------------------
    def _converted(self, value, op):
        from dtf.ops.creation_ops import convert_to_tensor

        try:
            t = convert_to_tensor(value, dtype=self.dtype)
        except (TypeError, ValueError) as e:
            raise type(e)(f"Cannot {op} to variable '{self._name}' (dtype {self.dtype.name}): "
                          f"{e}") from None
        if _accelerated[0]:  # the new value goes where the Variable lives, whatever the scope
            return _backend.to_device(t._value, self._device_spec())
        return t._value

    def _device_spec(self):
        v = self._value
        return _backend.backend_of(v).device_of(v)

    def _check_shape(self, new, op):
        if not self._shape.is_compatible_with(new.shape):
            raise ValueError(
                f"Cannot {op} to variable '{self._name}': shape mismatch. The variable shape "
                f"{self._shape}, and the assigned value shape {TensorShape(new.shape)} are "
                "incompatible.")

    def assign(self, value, use_locking=None, name=None, read_value=True):
        """Sets the value; returns the Variable (its new value) when `read_value`."""
        if (update_interceptors or getattr(value, "_is_symbolic", False)) and \
                _intercepted(self, "assign", value):
            return _UnreadVariable(self) if read_value else None
        new = self._converted(value, "assign")
        self._check_shape(new, "assign")
        self._value = new
        return _UnreadVariable(self) if read_value else None

    def _check_update_shape(self, delta, op):
        if delta.shape != self._value.shape:
            raise InvalidArgumentError(
                f"{op}: Cannot update variable '{self._name}' with shape "
                f"{list(self._value.shape)} using a Tensor with shape {list(delta.shape)}, "
                f"shapes must be equal. [Op:{op}]")

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        """Adds `delta` (same shape) to the value."""
        if (update_interceptors or getattr(delta, "_is_symbolic", False)) and \
                _intercepted(self, "assign_add", delta):
            return _UnreadVariable(self) if read_value else None
        delta = self._converted(delta, "assign_add")
        self._check_update_shape(delta, "AssignAddVariableOp")
        self._value = self._value + delta
        return _UnreadVariable(self) if read_value else None

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        """Subtracts `delta` (same shape) from the value."""
        if (update_interceptors or getattr(delta, "_is_symbolic", False)) and \
                _intercepted(self, "assign_sub", delta):
            return _UnreadVariable(self) if read_value else None
        delta = self._converted(delta, "assign_sub")
        self._check_update_shape(delta, "AssignSubVariableOp")
        self._value = self._value - delta
        return _UnreadVariable(self) if read_value else None

    def _assign_slice(self, key, value):
        if registry.is_tracing():  # a graph: scatter into the positions the slice selects
            positions = np.indices(tuple(self._shape.as_list()))
            index = np.stack([p[key] for p in positions], axis=-1)
            return self._traced_scatter(index, value, "update")
        update = self._converted(value, "assign a slice")
        new = self._value.copy()
        try:
            new[key] = update
        except ValueError as e:
            raise ValueError(f"Cannot assign a value of shape {TensorShape(update.shape)} to "
                             f"the slice {key!r} of variable '{self._name}' (shape "
                             f"{self._shape}): {e}") from None
        self._value = new
        return _UnreadVariable(self)

    def _traced_scatter(self, index, updates, mode):
        """A slice or scatter update inside a traced function: the new value as a graph op,
        then an assignment node."""
        from dtf.ops import array_ops, creation_ops, indexing_ops

        index = creation_ops.convert_to_tensor(index)
        updates = creation_ops.convert_to_tensor(updates, dtype=self.dtype)
        target = tuple(index.shape.as_list()[:-1]) + tuple(
            self._shape.as_list()[index.shape[-1]:])
        if getattr(updates, "_is_symbolic", False) or tuple(updates.shape) != target:
            updates = array_ops.broadcast_to(updates, target)
        scatter = {"update": indexing_ops.tensor_scatter_nd_update,
                   "add": indexing_ops.tensor_scatter_nd_add,
                   "sub": indexing_ops.tensor_scatter_nd_sub}[mode]
        return self.assign(scatter(self, index, updates))

    def _scatter_nd(self, indices, updates, mode):
        from dtf.ops import indexing_ops

        if registry.is_tracing():
            return self._traced_scatter(indices, updates, mode)

        idx = np.asarray(indices.numpy() if isinstance(indices, Tensor) else indices)
        upd = self._converted(updates, f"scatter_nd_{mode}")
        key = indexing_ops.scatter_nd_key(idx, self._value.shape, upd.shape, f"scatter_nd_{mode}")
        new = self._value.copy()
        xp = _backend.backend_of(new).xp
        if mode == "update":
            new[key] = upd
        elif mode == "add":
            xp.add.at(new, key, upd)
        else:
            xp.subtract.at(new, key, upd)
        self._value = new
        return _UnreadVariable(self)

    def scatter_nd_update(self, indices, updates, name=None):
        """Writes `updates` at the N-d `indices` (shape [..., index_depth])."""
        return self._scatter_nd(indices, updates, "update")

    def scatter_nd_add(self, indices, updates, name=None):
        return self._scatter_nd(indices, updates, "add")

    def scatter_nd_sub(self, indices, updates, name=None):
        return self._scatter_nd(indices, updates, "sub")

    # -- Python protocols ---------------------------------------------------------------------
    def __getitem__(self, key):
        from dtf.ops import indexing_ops

        return indexing_ops.getitem(self, key, _slice_of=self)

    def __len__(self):
        if self._value.ndim == 0:
            raise TypeError("len is not well defined for a rank-0 Variable.")
        return self._value.shape[0]

    def __iter__(self):
        return iter(self.read_value())

    def __bool__(self):
        return bool(self.read_value())

    def __float__(self):
        return float(self.read_value())

    def __int__(self):
        return int(self.read_value())

    def __index__(self):
        return self.read_value().__index__()

    def __repr__(self):
        return (f"<dtf.Variable '{self._name}' shape={self._shape} dtype={self.dtype.name}, "
                f"numpy={_np_repr(Tensor(self._value))}>")

    def __str__(self):
        return self.__repr__()

    def __reduce__(self):
        return _rebuild_variable, (self.numpy(), self._trainable, self._name.split(":")[0])

    def __deepcopy__(self, memo):
        return Variable(self.numpy().copy(), trainable=self._trainable,
                        name=self._name.split(":")[0], constraint=self._constraint)


def _rebuild_variable(value, trainable, name):
    return Variable(value, trainable=trainable, name=name)


class _UnreadVariable(Variable):
    """What `assign` returns: the same Variable's storage, shown as TensorFlow shows it."""

    def __init__(self, parent):
        self.__dict__["_parent"] = parent

    def __getattr__(self, name):
        return getattr(self.__dict__["_parent"], name)

    @property
    def _value(self):
        return self._parent._value

    @_value.setter
    def _value(self, v):
        self._parent._value = v

    @property
    def name(self):
        return self._parent.name

    def read_value(self):
        return self._parent.read_value()

    def __hash__(self):
        return id(self._parent)

    def __repr__(self):
        return (f"<dtf.Variable 'UnreadVariable' shape={self._parent.shape} "
                f"dtype={self.dtype.name}, numpy={_np_repr(Tensor(self._value))}>")


class VariableSlice(Tensor):
    """The Tensor `variable[key]` returns: a value with an `assign` back into the Variable."""

    __slots__ = ("_key", "_variable")

    def assign(self, value, use_locking=None, name=None, read_value=True):
        out = self._variable._assign_slice(self._key, value)
        return out if read_value else None
