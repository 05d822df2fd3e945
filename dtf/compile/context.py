"""Which graph, if any, the ops of this thread are being traced into.

`dtf.function` traces a Python function by running it on symbolic tensors while a
`GraphBuilder` is current: every op node made in the meantime (`symbolic._build_node`) is
appended to the builder in program order, Variable reads and assignments become nodes,
random ops become nodes that draw on every run, and Variables may be created only while the
builder allows it. Control-flow ops (`dtf.cond`, `dtf.while_loop`) trace their branches and
bodies into nested builders, so the builders form a per-thread stack and only the innermost one
sees a node.

`init_scope()` steps out of every builder for a while (TensorFlow's `tf.init_scope`): a
Variable's initial value, a Keras layer's `build`, are computed eagerly even inside a trace.

Example:
    >>> builder = GraphBuilder("f")
    >>> with building(builder):
    ...     y = placeholder((2,)) * 2.0
    >>> [n.prim.name for n in builder.nodes]
    ['mul']
"""

from __future__ import annotations

import contextlib
import threading

__all__ = ["GraphBuilder", "building", "current", "executing_eagerly", "init_scope",
           "is_tracing"]

_local = threading.local()


def _stack() -> list:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


class GraphBuilder:
    """Collects the op nodes made while it is current, in program order.

    Attributes:
        name: what errors call the graph (the traced function's name).
        nodes: the `OpNode`s, in the order they were made (which is the order they run in).
        allow_variable_creation: whether `dtf.Variable(...)` may be called while tracing (only
            on a function's first trace, as TensorFlow rules).
        created_variables: the Variables created while this builder was current.
    """

    def __init__(self, name: str = "graph", allow_variable_creation: bool = True):
        self.name = name
        self.nodes: list = []
        self.allow_variable_creation = allow_variable_creation
        self.created_variables: list = []

    def add_node(self, node) -> None:
        self.nodes.append(node)

    def produced(self) -> set:
        """ids of the symbolic tensors the collected nodes make."""
        return {id(o) for n in self.nodes for o in n.outputs}

    def __repr__(self):
        return f"<GraphBuilder {self.name}: {len(self.nodes)} nodes>"


def current():
    """The innermost builder of this thread, or None (eager, or inside `init_scope`)."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


def is_tracing() -> bool:
    stack = getattr(_local, "stack", None)
    return bool(stack) and stack[-1] is not None


def executing_eagerly() -> bool:
    """False while a `dtf.function` is being traced (TensorFlow's `tf.executing_eagerly`)."""
    return not is_tracing()


@contextlib.contextmanager
def building(builder: GraphBuilder):
    """Makes `builder` the current one for the `with` block."""
    stack = _stack()
    stack.append(builder)
    try:
        yield builder
    finally:
        stack.pop()


@contextlib.contextmanager
def init_scope():
    """Runs the block eagerly, outside any graph being traced (TensorFlow's `init_scope`)."""
    stack = _stack()
    stack.append(None)
    try:
        yield
    finally:
        stack.pop()
