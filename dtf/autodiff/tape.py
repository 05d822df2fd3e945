"""GradientTape: records ops while open and differentiates them in reverse.

The backward pass walks the recorded entries once, in reverse order, with no recursion. Each
entry's VJP is made of dtf ops, so a tape that is open around another tape's `gradient` call
records the backward pass and can differentiate it again (higher-order derivatives).

Example:
    >>> x = dtf.Variable(3.0)
    >>> with dtf.GradientTape() as tape:
    ...     y = x * x
    >>> float(tape.gradient(y, x))
    6.0
"""

from __future__ import annotations

import contextlib
import enum
import functools
import inspect
import threading

import numpy as np

from dtf import backend as _backend
from dtf import nest
from dtf.autodiff import state
from dtf.ops import creation_ops, math_ops, registry
from dtf.tensor import Tensor

__all__ = ["GradientTape", "UnconnectedGradients", "custom_gradient", "stop_recording"]


class UnconnectedGradients(enum.Enum):
    """What `gradient` returns for a source the target does not depend on."""

    NONE = "none"
    ZERO = "zero"


class GradientTape:
    """Records operations for automatic differentiation, as `tf.GradientTape`.

    Args:
        persistent: allow several `gradient`/`jacobian` calls; otherwise the first one
            releases the tape.
        watch_accessed_variables: watch every trainable Variable read while the tape is open.
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self._persistent = persistent
        self._watch_accessed_variables = watch_accessed_variables
        self._entries: list = []
        self._tracked: dict[int, object] = {}  # id -> object, keeps recorded values alive
        self._watched_variables: dict[int, object] = {}
        self._recording = False
        self._used = False
        self._thread = None  # the thread whose ops this tape records (set on __enter__)

    # -- recording ---------------------------------------------------------------------------
    def __enter__(self):
        if self._recording:
            raise ValueError("This GradientTape is already recording: do not nest a tape in "
                             "its own `with` block.")
        self._recording = True
        self._thread = threading.get_ident()
        state.active_tapes.append(self)
        return self

    def __exit__(self, *exc):
        self._recording = False
        try:
            state.active_tapes.remove(self)
        except ValueError:
            pass
        return False

    def watch(self, tensor) -> None:
        """Ensures `tensor` (a Tensor, Variable, or nested structure of them) is traced."""
        for t in nest.flatten(tensor):
            if getattr(t, "_is_dtf_variable", False):
                self._watch_variable(t)
            elif isinstance(t, Tensor) or getattr(t, "_is_symbolic", False):
                if not t.dtype.is_differentiable:
                    import warnings
                    warnings.warn(f"The dtype of the watched tensor must be floating (e.g. "
                                  f"dtf.float32), got {t.dtype!r}", stacklevel=2)
                self._tracked[id(t)] = t
            else:
                raise ValueError(f"Passed in object {t!r} of type {type(t).__name__!r}, not "
                                 "a Tensor or Variable, to GradientTape.watch.")

    def _watch_variable(self, variable) -> None:
        self._tracked[id(variable)] = variable
        self._watched_variables[id(variable)] = variable

    def watched_variables(self) -> tuple:
        """The Variables this tape watches, in the order they were first watched."""
        return tuple(self._watched_variables.values())

    @contextlib.contextmanager
    def stop_recording(self):
        """Temporarily stops recording on this tape."""
        was = self._recording
        self._recording = False
        try:
            yield
        finally:
            self._recording = was

    def reset(self) -> None:
        """Clears everything recorded so far."""
        self._entries.clear()
        self._tracked.clear()
        self._watched_variables.clear()

    # -- differentiation -----------------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients=UnconnectedGradients.NONE):
        """The gradient of `target` (summed over its elements and over list entries) with respect
        to each of `sources`, in the structure of `sources`.

        Raises:
            RuntimeError: on a second call of a non-persistent tape.
        """
        self._check_usable("gradient")
        unconnected = unconnected_gradients if type(unconnected_gradients) is \
            UnconnectedGradients else UnconnectedGradients(unconnected_gradients)
        flat_targets = [target] if type(target) is Tensor else _flat_targets(target)
        flat_sources = [sources] if type(sources) is Tensor else nest.flatten(sources)
        _check_sources(flat_sources)
        flat_og = None
        if output_gradients is not None:
            flat_og = nest.flatten(output_gradients)
            if len(flat_og) != len(flat_targets):
                raise ValueError(f"output_gradients has {len(flat_og)} entries but the target "
                                 f"has {len(flat_targets)}.")
        grads = self._backprop(flat_targets, flat_og, flat_sources)
        if not self._persistent:
            self._release()
        grads = _finish(grads, flat_sources, unconnected)
        if type(sources) is Tensor or getattr(sources, "_is_dtf_variable", False):
            return grads[0]
        return nest.pack_sequence_as(sources, grads)

    def _check_usable(self, what):
        if self._used and not self._persistent:
            raise RuntimeError(
                f"A non-persistent GradientTape can only be used to compute one set of gradients "
                f"(or jacobians); this {what} call is a second one. Create the tape with "
                "GradientTape(persistent=True) to call it several times.")

    def _release(self):
        self._used = True
        self._entries = []
        self._tracked = {}

    def _backprop(self, targets, output_gradients, sources) -> list:
        """Runs the backward pass; returns one gradient (or None) per source."""
        source_ids = {id(s) for s in sources}
        entries = self._entries
        # Forward sweep: only entries that depend on a source can carry its gradient. A source
        # this tape never watched (a constant, an unwatched Variable) gets None.
        tracked = self._tracked
        reach = {i for i in source_ids if i in tracked}
        useful = []
        for entry in entries:
            for t in entry[1]:
                if id(t) in reach:
                    useful.append(entry)
                    for o in entry[3]:
                        reach.add(id(o))
                    break

        grads: dict[int, Tensor] = {}
        for i, t in enumerate(targets):
            g = output_gradients[i] if output_gradients is not None else None
            if g is None:
                if getattr(t, "_is_symbolic", False):  # a traced function's gradient graph
                    g = creation_ops.ones_like(t)
                else:
                    # a leaf: nothing flows back into the seed, so no op is recorded for it
                    v = t._value
                    g = Tensor(_backend.backend_of(v).xp.ones(v.shape, v.dtype))
            elif not isinstance(g, Tensor):
                g = creation_ops.convert_to_tensor(g, dtype=t.dtype)
            prev = grads.get(id(t))
            grads[id(t)] = g if prev is None else math_ops.add(prev, g)  # a target listed twice

        was_recording = self._recording
        self._recording = False  # the backward ops of this tape are recorded by outer tapes only
        try:
            add = math_ops.add
            for prim, inputs, attrs, outputs in reversed(useful):
                if prim.num_outputs == 1:
                    oid = id(outputs[0])
                    g = grads.get(oid) if oid in source_ids else grads.pop(oid, None)
                    if g is None:
                        continue
                    if prim.vjp_takes_needed:
                        in_grads = prim.vjp_fn(g, outputs[0], *inputs,
                                               needed=tuple(id(t) in reach for t in inputs),
                                               **attrs)
                    else:
                        in_grads = prim.vjp_fn(g, outputs[0], *inputs, **attrs)
                else:
                    gs = [grads.get(id(o)) if id(o) in source_ids else grads.pop(id(o), None)
                          for o in outputs]
                    if all(g is None for g in gs):
                        continue
                    gs = tuple(creation_ops.zeros_like(o) if g is None else g
                               for g, o in zip(gs, outputs))
                    in_grads = prim.vjp_fn(gs, outputs, *inputs, **attrs)
                for t, g in zip(inputs, in_grads):
                    if g is not None:
                        key = id(t)
                        if key in reach:
                            prev = grads.get(key)
                            grads[key] = g if prev is None else add(prev, g)
        finally:
            self._recording = was_recording
        return [grads.get(id(s)) for s in sources]

    def jacobian(self, target, sources, unconnected_gradients=UnconnectedGradients.NONE,
                 parallel_iterations=None, experimental_use_pfor=True):
        """d target[i...] / d source[j...] for every element pair: shape target + source."""
        from dtf.ops import array_ops

        self._check_usable("jacobian")
        unconnected = UnconnectedGradients(unconnected_gradients)
        target = _as_tensor_target(target)
        flat_sources = nest.flatten(sources)
        _check_sources(flat_sources)
        n = int(np.prod(target.shape.as_list(), dtype=np.int64))
        rows = [[] for _ in flat_sources]
        connected = [False] * len(flat_sources)
        eye = np.eye(n, dtype=target.dtype.as_numpy_dtype)
        for i in range(n):
            og = creation_ops.constant(eye[i].reshape(target.shape.as_list()))
            raw = self._backprop([target], [og], flat_sources)
            connected = [c or g is not None for c, g in zip(connected, raw)]
            for r, g in zip(rows, _finish(raw, flat_sources, UnconnectedGradients.ZERO)):
                r.append(g)
        if not self._persistent:
            self._release()
        out = []
        for src, r, is_connected in zip(flat_sources, rows, connected):
            shape = target.shape.as_list() + list(_shape_of(src))
            if n == 0:
                out.append(creation_ops.zeros(shape, dtype=src.dtype))
                continue
            jac = array_ops.reshape(array_ops.stack(r, axis=0), shape)
            out.append(jac if unconnected is UnconnectedGradients.ZERO or is_connected
                       else None)
        return nest.pack_sequence_as(sources, out)

    def batch_jacobian(self, target, source, unconnected_gradients=UnconnectedGradients.NONE,
                       parallel_iterations=None, experimental_use_pfor=True):
        """Per-example Jacobians: target (B, ...) and source (B, ...) give (B, t..., s...).

        Example b of the target must depend on example b of the source only.
        """
        from dtf.ops import array_ops

        self._check_usable("batch_jacobian")
        target = _as_tensor_target(target)
        tshape = target.shape.as_list()
        sshape = list(_shape_of(source))
        if not tshape or not sshape or tshape[0] != sshape[0]:
            raise ValueError(f"batch_jacobian needs target and source with the same first "
                             f"(batch) dimension, got shapes {tshape} and {sshape}.")
        batch = tshape[0]
        m = int(np.prod(tshape[1:], dtype=np.int64))
        cols = []
        connected = False
        for j in range(m):
            og = np.zeros([batch, m], dtype=target.dtype.as_numpy_dtype)
            og[:, j] = 1
            og = creation_ops.constant(og.reshape(tshape))
            raw = self._backprop([target], [og], [source])
            connected = connected or raw[0] is not None
            (g,) = _finish(raw, [source], UnconnectedGradients.ZERO)
            cols.append(g)
        if not self._persistent:
            self._release()
        if m == 0:
            return creation_ops.zeros(tshape + sshape[1:], dtype=source.dtype)
        jac = array_ops.stack(cols, axis=1)
        if UnconnectedGradients(unconnected_gradients) is UnconnectedGradients.NONE \
                and not connected:
            return None
        return array_ops.reshape(jac, tshape + sshape[1:])


def _flat_targets(target):
    if target is None:
        raise TypeError("GradientTape.gradient got None as its target: the target must be a "
                        "Tensor (or a nested structure of Tensors). Was it the gradient of an "
                        "expression that did not depend on the watched values?")
    return [_as_tensor_target(t) for t in nest.flatten(target)]


def _as_tensor_target(t):
    if t is None:
        raise TypeError("A gradient target is None; every target must be a Tensor.")
    if getattr(t, "_is_dtf_variable", False):
        return t  # d v / d v: the variable itself is the node
    if not isinstance(t, Tensor):
        return creation_ops.convert_to_tensor(t)
    return t


def _check_sources(flat_sources):
    for s in flat_sources:
        if type(s) is not Tensor and not (isinstance(s, Tensor) or
                                          getattr(s, "_is_dtf_variable", False) or
                                          getattr(s, "_is_symbolic", False)):
            raise ValueError(f"GradientTape sources must be Tensors or Variables, got "
                             f"{type(s).__name__}: {s!r}")


def _shape_of(x):
    return tuple(x.shape.as_list())


def _finish(grads, sources, unconnected):
    if unconnected is UnconnectedGradients.NONE:
        return grads
    return [creation_ops.zeros_like(s) if g is None else g for g, s in zip(grads, sources)]


@contextlib.contextmanager
def stop_recording():
    """Pauses every open tape (used by `custom_gradient` and by optimizers)."""
    paused = [t for t in state.current_thread_tapes() if t._recording]
    for t in paused:
        t._recording = False
    try:
        yield
    finally:
        for t in paused:
            t._recording = True


def custom_gradient(f=None):
    """Decorates `f(*x) -> (y, grad_fn)` so that tapes use `grad_fn(*dy)` as the gradient of y.

    `grad_fn` returns one gradient per input tensor. If `f` reads trainable Variables, `grad_fn`
    must accept `variables=` and return `(input_grads, variable_grads)`, as in TensorFlow.

    Example:
        >>> @dtf.custom_gradient
        ... def clip_grad_identity(x):
        ...     return dtf.identity(x), lambda dy: dtf.clip_by_value(dy, -1., 1.)
    """
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        if not state.active_tapes:
            result, _ = f(*args, **kwargs)
            return result
        with stop_recording():
            watcher = GradientTape(persistent=True)
            with watcher:
                result, grad_fn = f(*args, **kwargs)
        flat_out = nest.flatten(result)
        symbolic = any(getattr(o, "_is_symbolic", False) for o in flat_out)
        if symbolic:  # a traced function: fresh graph tensors the custom entry can produce
            from dtf.ops.creation_ops import identity

            with stop_recording():
                outputs = tuple(identity(o) if getattr(o, "_is_symbolic", False) else o
                                for o in flat_out)
        else:
            outputs = tuple(Tensor(o._value) if isinstance(o, Tensor) else o for o in flat_out)
        arg_inputs = [a for a in nest.flatten((args, kwargs))
                      if isinstance(a, Tensor) or getattr(a, "_is_dtf_variable", False)
                      or getattr(a, "_is_symbolic", False)]
        variables = [v for v in watcher.watched_variables()
                     if not any(v is a for a in arg_inputs)]
        takes_variables = "variables" in inspect.signature(grad_fn).parameters or any(
            p.kind is inspect.Parameter.VAR_KEYWORD
            for p in inspect.signature(grad_fn).parameters.values())
        if variables and not takes_variables:
            raise TypeError(
                f"@custom_gradient function {f.__name__!r} reads the trainable Variables "
                f"{[v.name for v in variables]}, so its grad_fn must accept a `variables` keyword "
                "argument and return (input_gradients, variable_gradients).")
        n_args = len(arg_inputs)

        def vjp(g, out, *inputs):
            gs = g if isinstance(g, tuple) else (g,)
            if variables:
                in_grads, var_grads = grad_fn(*gs, variables=variables)
            else:
                in_grads, var_grads = grad_fn(*gs), []
            in_grads = list(in_grads) if isinstance(in_grads, (list, tuple)) else [in_grads]
            if len(in_grads) != n_args:
                raise ValueError(f"custom_gradient {f.__name__!r}: grad_fn returned "
                                 f"{len(in_grads)} gradients for {n_args} inputs.")
            return tuple(in_grads) + tuple(var_grads)

        prim = registry.Primitive(f"custom_gradient:{f.__name__}", None, None,
                                  num_outputs=len(outputs))
        prim.vjp_fn = vjp
        all_inputs = tuple(arg_inputs) + tuple(variables)
        for tape in state.current_thread_tapes():
            if tape._recording and tape._watch_accessed_variables:
                for v in variables:
                    if v.trainable:
                        tape._watch_variable(v)
        if symbolic:
            state.record_symbolic(prim, all_inputs, {}, outputs)
        else:
            state.record(prim, all_inputs, {}, outputs if len(outputs) > 1 else outputs[0])
        return nest.pack_sequence_as(result, list(outputs))

    return wrapped
