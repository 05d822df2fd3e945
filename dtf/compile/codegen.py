"""Lowering a Graph to a plan: generated straight-line Python that calls the backend directly.

`lower(graph)` runs the graph passes (`dtf.compile.passes`: simplification, constant folding,
common subexpressions, dead code), then writes one Python function for the whole graph, one line
per op, and compiles it. Running it costs almost no Python per op: no Tensor wrapping, no
op-table dispatch, no tape checks. Elementwise ops, matmuls, sums and the fused dense layer call
the array module (`xp`: NumPy, or CuPy for device arrays) directly; other ops call their
primitive's `impl` with their attributes bound as constants.

The generated code manages memory as a hand-written NumPy step would:

- fusion of elementwise chains: an elementwise op whose input is a temporary that only it reads
  computes into that temporary (`out=`), so `relu(x @ w + b)` becomes
  `t = xp.matmul(x, w); xp.add(t, b, out=t); xp.maximum(t, 0, out=t)`;
- buffer reuse: likewise an elementwise op at the last use of any temporary of its shape and
  dtype that the plan allocated (never an input, a constant, a Variable's array, a view of one,
  a graph output or a value handed to a stateful op);
- temporaries are released (`del`) right after their last use, so peak memory stays low.

Variables are read (`var._value`) at their node's place in program order, and stateful nodes
(assignments, optimizer steps, prints, random draws) run in program order. An error raised
inside the plan names the op that failed and its inputs' shapes and dtypes.

The generator itself is `dtf.compile.generator` (with the per-op `templates`); loss/gradient
fusion is `dtf.compile.fusion`, optimizer steps on flat arrays `dtf.compile.flat_apply`.

Example:
    >>> x = placeholder((2, 3))
    >>> plan = lower(Graph([x], [dtf.nn.relu(x * 2.0 + 1.0)]))
    >>> plan(np.ones((2, 3), np.float32))[0]
    array([[3., 3., 3.],
           [3., 3., 3.]], dtype=float32)
    >>> print(plan.source)  # doctest: +SKIP
"""

from __future__ import annotations

from dtf import backend as _backend
from dtf.compile import passes as _passes
from dtf.compile.generator import Generator

__all__ = ["Plan", "PlanReport", "lower"]

# the errors the op table turns into InvalidArgumentError (registry._op_error); the plan too
_WRAPPED = (ValueError, IndexError, TypeError, ZeroDivisionError)
_ATTR_TEXT_LIMIT = 60


def _is_symbolic(x):
    return getattr(x, "_is_symbolic", False)


def _is_variable(x):
    return getattr(x, "_is_dtf_variable", False)


class PlanReport(dict):
    """What each pass did: pass name -> `PassResult` (its count, the nodes before and after it,
    and a line of detail). Prints one pass per line."""

    def __str__(self):
        return "\n".join(str(r) for r in self.values())


class Plan:
    """A graph lowered to generated code.

    Call it with one backend array per graph input (then one per capture); it returns a list of
    arrays, one per graph output. The function is generated once and compiled once per array
    module (NumPy, CuPy) the plan is called with.

    Attributes:
        graph: the Graph after the passes.
        source: the generated Python source.
        report: a `PlanReport` of every pass.

    Example:
        >>> x = placeholder((3,))
        >>> plan = lower(Graph([x], [dtf.exp(x) + 1.0]))
        >>> plan(np.zeros(3, np.float32))
        [array([2., 2., 2.], dtype=float32)]
        >>> print(plan.report["fuse_elementwise"])
        fuse_elementwise: 1 (2 -> 2 nodes); 1 chains computed in one buffer (out=)
    """

    def __init__(self, graph, source, bindings, node_of_line, node_args, function_name, report):
        self.graph = graph
        self.source = source
        self.report = report
        self._bindings = bindings
        self._node_of_line = node_of_line
        self._node_args = node_args
        self._function_name = function_name
        self._functions: dict = {}  # type of the first array -> compiled function

    def __call__(self, *arrays):
        fn = self._functions.get(type(arrays[0]) if arrays else None)
        if fn is None:
            fn = self._compile(arrays)
        return fn(*arrays)

    def _compile(self, arrays):
        if arrays:
            xp = _backend.backend_of(arrays[0]).xp
        else:
            xp = _backend.backend_for(_backend.current_device()).xp
        if xp.__name__ == "cupy" and not getattr(self, "_device_fused", False):
            # CuPy: elementwise chains fused into generated kernels (`gpu_fusion`)
            from dtf.compile import gpu_fusion

            fn = self._functions[type(arrays[0]) if arrays else None] = \
                gpu_fusion.device_plan(self)._compile(arrays)
            return fn
        namespace: dict = {}
        code = compile(self.source, f"<dtf plan {self._function_name}>", "exec")
        exec(code, namespace)  # noqa: S102  (our own generated source, no user text in it)
        fn = namespace["_make"](xp=xp, _fail=self._fail, **self._bindings)
        self._functions[type(arrays[0]) if arrays else None] = fn
        return fn

    def _fail(self, error):
        """The exception to raise for `error`, raised inside the plan: a wrapped op error
        naming the op and its inputs (ValueError & co, as the op table wraps them), or the
        error itself with a note naming the op."""
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_name != self._function_name:
            tb = tb.tb_next
        if tb is None:
            return error
        index = self._node_of_line.get(tb.tb_lineno)
        if index is None:
            return error
        node = self.graph.nodes[index]
        local = tb.tb_frame.f_locals
        described = ", ".join(_describe(kind, ref, local) for kind, ref in self._node_args[index])
        attrs = "".join(f", {k}={_short_repr(v)}" for k, v in node.attrs.items())
        where = f"node n{index} of the compiled graph {self.graph.name!r}"
        if isinstance(error, _WRAPPED):
            from dtf.errors import InvalidArgumentError

            wrapped = InvalidArgumentError(
                f"{node.prim.name}: cannot compute on inputs ({described}){attrs}: {error} "
                f"[Op:{node.prim.name}] ({where})")
            wrapped.__cause__ = error
            wrapped.__suppress_context__ = True
            return wrapped
        error.add_note(f"raised by op {node.prim.name} on inputs ({described}) ({where})")
        return error

    def __str__(self):
        return f"{self.source}\n# passes:\n" + "\n".join(f"#   {r}" for r in
                                                        self.report.values())

    def __repr__(self):
        return f"<Plan {self._function_name}: {len(self.graph.nodes)} nodes>"


def _short_repr(value):
    text = repr(value)
    return text if len(text) <= _ATTR_TEXT_LIMIT else text[:_ATTR_TEXT_LIMIT - 3] + "..."


def _describe(kind, ref, local):
    from dtf import dtypes

    if kind == "local":
        value = local.get(ref)
    elif kind == "variable":
        value = ref._value
    else:
        value = ref
    if value is None or not hasattr(value, "shape"):
        return "?"
    try:
        name = dtypes.from_numpy(value.dtype).name
    except (TypeError, KeyError, ValueError):
        name = str(value.dtype)
    return f"{name}{list(value.shape)}"


def _copy_graph(graph):
    """A Graph sharing `graph`'s nodes, whose node list and replacements the passes may
    change without touching `graph`'s."""
    copied = object.__new__(type(graph))
    copied.__dict__.update(graph.__dict__)
    copied.nodes = list(graph.nodes)
    copied._replace = dict(graph._replace)
    return copied


def lower(graph, optimize: bool = True, copy: bool = False) -> Plan:
    """Runs the passes on `graph` and lowers it to a Plan.

    Args:
        graph: a `dtf.compile.graph.Graph` (a traced program, or a graph between symbolic
            inputs and outputs).
        optimize: run simplification, constant folding, CSE and dead-code elimination first.
            They change `graph` itself (its node list shrinks: node indices move), unless
            `copy`.
        copy: run the passes on a copy of `graph` (`plan.graph`), leaving `graph` as it was.

    Returns:
        A `Plan`: `plan(*arrays)` -> list of output arrays; `plan.source`, `plan.report`.

    Example:
        >>> x = placeholder((4,))
        >>> lower(Graph([x], [dtf.exp(x) * 1.0])).report["simplify"].count
        1
    """
    if copy:
        graph = _copy_graph(graph)
    report = PlanReport()
    if optimize:
        for result in _passes.run_passes(graph):
            report[result.name] = result
    generator = Generator(graph)
    generator.generate()
    report.update(generator.report())
    return Plan(graph, generator.source, generator.bindings, generator.node_of_line,
                generator.node_args, generator.function_name, report)
