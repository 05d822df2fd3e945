"""The strategy in scope, as `tf.distribute.get_strategy` sees it, and small shared types.

Outside any `strategy.scope()` the default strategy is in effect: one process, no replicas to
reduce across. `ReduceOp` names the reductions of `Strategy.reduce`.

Example:
    >>> dtf.distribute.has_strategy()
    False
    >>> with strategy.scope():
    ...     dtf.distribute.get_strategy() is strategy
    True
"""

from __future__ import annotations

import enum
import threading

__all__ = ["ReduceOp", "get_strategy", "has_strategy", "in_cross_replica_context",
           "strategy_of"]

_state = threading.local()


class ReduceOp(enum.Enum):
    """How `Strategy.reduce` combines values: their sum or their mean."""

    SUM = "SUM"
    MEAN = "MEAN"


def _stack() -> list:
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    return stack


def push(strategy) -> None:
    _stack().append(strategy)


def pop(strategy) -> None:
    stack = _stack()
    if stack and stack[-1] is strategy:
        stack.pop()
    elif strategy in stack:
        stack.remove(strategy)


class _DefaultStrategy:
    """The strategy in effect outside any scope: this process, one replica."""

    num_replicas_in_sync = 1

    def scope(self):
        import contextlib

        return contextlib.nullcontext()

    def run(self, fn, args=(), kwargs=None):
        return fn(*args, **(kwargs or {}))

    def reduce(self, reduce_op, value, axis=None):
        return _reduce_one_replica(reduce_op, value, axis)


_DEFAULT = _DefaultStrategy()


def _reduce_one_replica(reduce_op, value, axis):
    import dtf

    op = ReduceOp(reduce_op.value if isinstance(reduce_op, ReduceOp) else str(reduce_op).upper())
    if axis is None:
        return value
    return (dtf.reduce_sum if op is ReduceOp.SUM else dtf.reduce_mean)(value, axis=axis)


def get_strategy():
    """The strategy whose `scope()` is active, else the default (one-process) strategy."""
    stack = _stack()
    return stack[-1] if stack else _DEFAULT


def has_strategy() -> bool:
    """Whether a strategy's `scope()` is active."""
    return bool(_stack())


def in_cross_replica_context() -> bool:
    """True on the driver (where dtf code runs unless a worker runs a scheduled function)."""
    return True


def strategy_of(model):
    """The strategy whose parameter servers hold `model`'s Variables, or the one in scope, or
    None (train in this process)."""
    from dtf.cluster.variables import PSVariable

    for weight in getattr(model, "weights", ()):
        if isinstance(weight, PSVariable):
            return weight._strategy
    stack = _stack()
    return stack[-1] if stack else None
