"""Recording state shared by the op table and GradientTape.

`active_tapes` is the list of tapes inside their `with` block, in every thread; the op table
checks it once per op (`if active_tapes:`) and calls `record` only when it is non-empty, which
keeps the eager path thin when no tape is open. Tapes belong to the thread that opened them, as
in TensorFlow: `record` appends only to the current thread's tapes, so workers computing
gradients in threads of one process do not see each other's ops.

A tape entry is `(prim, inputs, attrs, outputs)`: enough to call `prim.vjp_fn` later.
"""

from __future__ import annotations

from threading import get_ident

active_tapes: list = []

_DIFFERENTIABLE_KINDS = frozenset("fc")


def record(prim, inputs, attrs, result) -> None:
    """Appends an executed op to every recording tape that tracks one of its inputs."""
    outputs = result if type(result) is tuple else (result,)
    # Gradients do not flow through integer or boolean results (TensorFlow's rule).
    if outputs[0]._value.dtype.kind not in _DIFFERENTIABLE_KINDS and not any(
            o._value.dtype.kind in _DIFFERENTIABLE_KINDS for o in outputs[1:]):
        return
    thread = get_ident()
    for tape in active_tapes:
        if not tape._recording or tape._thread != thread:
            continue
        tracked = tape._tracked
        for t in inputs:
            if id(t) in tracked:
                break
        else:
            continue
        tape._entries.append((prim, inputs, attrs, outputs))
        for o in outputs:
            tracked[id(o)] = o


def record_variable_read(variable, read_tensor, read_prim) -> None:
    """Links a Variable to the Tensor read from it, on tapes that watch the Variable."""
    if read_tensor._value.dtype.kind not in _DIFFERENTIABLE_KINDS:
        return
    thread = get_ident()
    for tape in active_tapes:
        if not tape._recording or tape._thread != thread:
            continue
        tracked = tape._tracked
        if id(variable) not in tracked:
            if not (tape._watch_accessed_variables and variable.trainable):
                continue
            tape._watch_variable(variable)
        tape._entries.append((read_prim, (variable,), {}, (read_tensor,)))
        tracked[id(read_tensor)] = read_tensor


def record_symbolic(prim, inputs, attrs, outputs) -> None:
    """`record` for an op node built on symbolic tensors (a traced function's GradientTape):
    the same entry, dtypes read from the symbolic outputs, and trainable Variables among the
    inputs watched as reading them eagerly would."""
    if not any(o.dtype.is_floating or o.dtype.is_complex for o in outputs):
        return
    thread = get_ident()
    for tape in active_tapes:
        if not tape._recording or tape._thread != thread:
            continue
        tracked = tape._tracked
        hit = False
        for t in inputs:
            if id(t) in tracked:
                hit = True
            elif getattr(t, "_is_dtf_variable", False) and tape._watch_accessed_variables \
                    and t.trainable and t.dtype.is_floating:
                tape._watch_variable(t)
                hit = True
        if not hit:
            continue
        tape._entries.append((prim, tuple(inputs), attrs, tuple(outputs)))
        for o in outputs:
            tracked[id(o)] = o


def current_thread_tapes() -> list:
    """The open tapes of the calling thread, innermost last."""
    thread = get_ident()
    return [t for t in active_tapes if t._thread == thread]
