"""The one op table.

Every primitive is registered once, as a `Primitive`: its name, its implementation over an array
module `xp`, its shape/dtype rule (used on symbolic tensors), and its gradient (VJP). VJPs are
written in dtf ops, so a tape watching another tape's backward pass records it, and second-order
gradients come for free. Composite ops (relu, softmax, losses, ...) are plain functions of
primitives and need nothing here.

Registering a primitive:

    @primitive("square", shape=same_shape)
    def square(xp, x):
        return xp.square(x)

    @square.def_vjp
    def _(g, out, x):
        return (g * 2 * x,)

`run(prim, inputs, **attrs)` executes a primitive eagerly: it computes on the inputs' arrays,
wraps the result, and records the call on the active gradient tapes. Inputs that are not eager
Tensors (Variables, symbolic tensors of a graph being built) take a slower path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from dtf import backend as _backend
from dtf import dtypes
from dtf.autodiff import state as _tape_state
from dtf.tensor import Tensor

__all__ = ["Primitive", "Spec", "all_primitives", "get", "primitive", "run"]

_table: dict[str, Primitive] = {}


class Spec(NamedTuple):
    """What a shape rule sees of a tensor: its shape (a tuple, None for unknown dims, or None
    for unknown rank) and its DType."""

    shape: tuple | None
    dtype: dtypes.DType


class Primitive:
    """One record of the op table.

    Attributes:
        name: the op's name, as errors and graphs show it.
        impl: `impl(xp, *arrays, **attrs)` -> array (or tuple of arrays when `num_outputs > 1`).
        shape_fn: `shape_fn(*specs, **attrs)` -> Spec (or tuple of Specs).
        vjp_fn: `vjp_fn(g, out, *inputs, **attrs)` -> tuple of input gradients (Tensor or None),
            one per input; `g` and `out` are tuples when the primitive has several outputs.
            None for ops that are not differentiable (comparisons, argmax, ...).
        vjp_takes_needed: the VJP accepts `needed=` (a tuple of bools, one per input) and
            skips the gradients of inputs the tape does not need (matmul: no gradient for the
            data when only the weights are asked for).
        num_outputs: how many tensors `impl` returns; None when that depends on the inputs
            (`unstack`, `split`): `impl` then always returns a tuple.
        data_dependent_shape: the output's shape depends on input values (`where` with one
            argument, `boolean_mask`), so the shape rule gives None for those dims.
        stateful: the op reads or changes state beyond its inputs (random ops read the seed
            state), so graph passes must neither merge (CSE) nor constant-fold it.
        host_only: `impl` works on host values only (Python strings, callbacks, printing):
            with an accelerator the op runs on the CPU, its inputs copied to the host, as
            TensorFlow runs string ops, py_function and Print on the CPU.
    """

    __slots__ = (
        "data_dependent_shape",
        "differentiable",
        "host_only",
        "impl",
        "name",
        "num_outputs",
        "shape_fn",
        "stateful",
        "vjp_fn",
        "vjp_takes_needed",
    )

    def __init__(self, name: str, impl: Callable, shape_fn: Callable, num_outputs: int = 1,
                 differentiable: bool = True, data_dependent_shape: bool = False,
                 stateful: bool = False, host_only: bool = False):
        self.data_dependent_shape = data_dependent_shape
        self.stateful = stateful
        self.host_only = host_only
        self.name = name
        self.impl = impl
        self.shape_fn = shape_fn
        self.vjp_fn = None
        self.vjp_takes_needed = False
        self.num_outputs = num_outputs
        self.differentiable = differentiable

    def def_vjp(self, fn: Callable | None = None, *, takes_needed: bool = False) -> Callable:
        """Registers the VJP (a decorator; `@p.def_vjp(takes_needed=True)` for VJPs that
        accept `needed=`)."""
        if fn is None:
            return lambda f: self.def_vjp(f, takes_needed=takes_needed)
        self.vjp_fn = fn
        self.vjp_takes_needed = takes_needed
        return fn

    def __call__(self, *inputs, **attrs):
        return run(self, inputs, **attrs)

    def infer(self, *specs: Spec, **attrs):
        """The output Spec(s) of this op for inputs with these Specs."""
        return self.shape_fn(*specs, **attrs)

    def __repr__(self):
        return f"<Primitive {self.name}>"


def primitive(name: str, *, shape: Callable, num_outputs: int = 1, differentiable: bool = True,
              data_dependent_shape: bool = False, stateful: bool = False,
              host_only: bool = False) -> Callable[[Callable], Primitive]:
    """Registers `impl` as the primitive `name` (see the module docstring)."""

    def register(impl: Callable) -> Primitive:
        if name in _table:
            raise ValueError(f"Primitive {name!r} is already registered.")
        p = Primitive(name, impl, shape, num_outputs, differentiable, data_dependent_shape,
                      stateful, host_only)
        _table[name] = p
        return p

    return register


def get(name: str) -> Primitive:
    return _table[name]


def all_primitives() -> dict[str, Primitive]:
    return dict(_table)


# -- execution --------------------------------------------------------------------------------
_tapes = _tape_state.active_tapes  # the live list: truthy iff some tape is recording
_by_array_type = _backend._by_array_type
_accelerated = _backend.accelerated  # [True] once a GPU backend is registered
_non_eager_hook: list = []
# fast_paths[0]: op functions may bypass `run` for host NumPy arrays (math_ops' ufunc path).
# Test harnesses that observe every primitive's impl switch it off.
fast_paths = [True]  # [handler] set by symbolic tensor support (Keras, dtf.function)


def _never() -> bool:
    return False


# `is_tracing()`: is this thread tracing a dtf.function? (`dtf.compile.context.is_tracing` once
# graph support is loaded.) Inside a trace, ops that read state (Variables, the random seed)
# become graph nodes even when all their tensor inputs are constants.
is_tracing = _never


def run(prim: Primitive, inputs: tuple, **attrs):
    """Executes `prim` on `inputs` (Tensors) eagerly and records it on active tapes."""
    for t in inputs:
        if type(t) is not Tensor:
            return _run_slow(prim, inputs, attrs)
    if prim.stateful and is_tracing():
        return _non_eager_hook[0](prim, tuple(inputs), attrs)
    return execute(prim, inputs, attrs, Tensor)


def execute(prim: Primitive, inputs: tuple, attrs: dict, make=Tensor):
    """`run` for inputs already known to be eager; `make(array)` builds each result (a Tensor,
    or a Tensor subclass such as a Variable's slice)."""
    if _accelerated[0]:
        return _execute_placed(prim, inputs, attrs, make)
    if inputs:
        b = _by_array_type.get(type(inputs[0]._value))
        xp = b.xp if b is not None else _backend.backend_of(inputs[0]._value).xp
    else:
        xp = _backend.backend_for(_backend.current_device()).xp
    try:
        out = prim.impl(xp, *[t._value for t in inputs], **attrs)
    except (ValueError, IndexError, TypeError, ZeroDivisionError) as e:
        raise _op_error(prim, inputs, attrs, e) from e
    if prim.num_outputs == 1:
        result = make(out)
    else:
        result = tuple(make(o) for o in out)
    if _tapes and prim.vjp_fn is not None:
        _tape_state.record(prim, inputs, attrs, result)
    return result


def _kernel(name):
    """`dtf.kernels.get(name)` (imported on the first op that runs on an accelerator)."""
    from dtf import kernels

    global _kernel
    _kernel = kernels.get
    return kernels.get(name)


def _execute_placed(prim, inputs, attrs, make):
    """`execute` once an accelerator exists: the op runs on the device placement picks
    (`dtf.backend.op_device`), its inputs copied there first, through the kernel registered
    in `dtf.kernels` under its name when it runs on an accelerator, else its `impl`."""
    device, backend, arrays = _backend.place_inputs([t._value for t in inputs],
                                                    host_only=prim.host_only)
    fn = prim.impl
    if backend is not _backend.numpy_backend:
        fn = _kernel(prim.name) or fn
    try:
        if device.index and backend is not _backend.numpy_backend:
            with backend.xp.cuda.Device(device.index):
                out = fn(backend.xp, *arrays, **attrs)
        else:
            out = fn(backend.xp, *arrays, **attrs)
    except (ValueError, IndexError, TypeError, ZeroDivisionError) as e:
        raise _op_error(prim, inputs, attrs, e) from e
    if prim.num_outputs == 1:
        result = make(out)
    else:
        result = tuple(make(o) for o in out)
    if _tapes and prim.vjp_fn is not None:
        _tape_state.record(prim, inputs, attrs, result)
    return result


def _run_slow(prim, inputs, attrs):
    """Inputs include a Variable (read it) or a symbolic tensor (hand over to the graph)."""
    for t in inputs:
        if getattr(t, "_is_symbolic", False):
            # A graph node keeps its Variables unread: the graph reads them when it runs.
            if not _non_eager_hook:
                raise TypeError(f"Op {prim.name!r} got a symbolic tensor, but no graph "
                                "support is loaded (import dtf.compile.symbolic).")
            for u in inputs:
                if not (isinstance(u, Tensor) or getattr(u, "_is_symbolic", False)
                        or getattr(u, "_is_dtf_variable", False)):
                    raise TypeError(f"Op {prim.name!r} expected Tensors, got "
                                    f"{type(u).__name__}: {u!r}")
            return _non_eager_hook[0](prim, tuple(inputs), attrs)
    if is_tracing() and any(getattr(t, "_is_dtf_variable", False) for t in inputs):
        return _non_eager_hook[0](prim, tuple(inputs), attrs)  # reads the Variable when run
    converted = []
    for t in inputs:
        if isinstance(t, Tensor):  # Tensor subclasses (a Variable's slice, ...) compute as is
            converted.append(t)
        elif getattr(t, "_is_dtf_variable", False):
            converted.append(t.read_value())
        else:
            raise TypeError(f"Op {prim.name!r} expected Tensors, got {type(t).__name__}: {t!r}")
    return execute(prim, tuple(converted), attrs, Tensor)


def _op_error(prim, inputs, attrs, err):
    from dtf.errors import InvalidArgumentError
    described = ", ".join(f"{t.dtype.name}{list(t._value.shape)}" for t in inputs)
    attr_text = "".join(f", {k}={v!r}" for k, v in attrs.items())
    return InvalidArgumentError(
        f"{prim.name}: cannot compute on inputs ({described}){attr_text}: {err} [Op:{prim.name}]")
