"""Tracing a Python function into a graph, and matching calls against a traced signature.

`trace` runs the function once on placeholders while a `GraphBuilder` is current (see
`dtf.compile.context`), with every GradientTape opened outside the function paused (they see
the function's call, not its insides), and turns what it made into a `ConcreteFunction`:

- tensor arguments become placeholders, other Python arguments are passed as they are;
- each Variable assignment becomes an `assign_variable` node (the interceptor below);
- the outputs may mix tensors, Variables (read at the end of the function) and Python values;
- the graph goes through constant folding, CSE and dead-code elimination.

Example:
    >>> concrete = trace(lambda x: x + 1.0, "f", (None,), {}, [dtf.TensorSpec([2])],
    ...                  from_specs=True)
    >>> [n.prim.name for n in concrete.graph.nodes]
    ['add']
"""

from __future__ import annotations

from dtf import nest
from dtf.autodiff import state as _tape_state
from dtf.compile import context, state_ops, symbolic
from dtf.compile.graph import Graph
from dtf.ops import registry
from dtf.tensor import Tensor
from dtf.tensor_spec import TensorSpec

__all__ = ["CompositeLeaves", "graph_variables", "lower", "match_arguments", "trace"]


class CompositeLeaves(tuple):
    """The `_Leaf`s of one composite argument (a SparseTensor's components), with the spec it
    was traced for when that came from a signature (a SparseTensorSpec; None when traced from
    a value, whose type spec is then part of the call key)."""

    spec = None


def trace(python_function, name, args, kwargs, specs, allow_variable_creation=True,
          from_specs=False):
    """Traces `python_function(*args, **kwargs)` with its tensor arguments (Tensors and arrays,
    or TensorSpecs when `from_specs`) replaced by placeholders of `specs`."""
    from dtf.compile.function import ConcreteFunction, _arg_names, _Leaf

    specs = list(specs)
    names = _arg_names(python_function, len(args))
    placeholders, leaves = [], []
    position = iter(range(len(specs)))

    def is_leaf(x):
        if from_specs:
            return isinstance(x, TensorSpec)
        return isinstance(x, Tensor) or type(x).__name__ == "ndarray"

    def substitute(x, path):
        if is_leaf(x):
            i = next(position)
            spec = specs[i]
            label = spec.name or path
            placeholders.append(symbolic.placeholder(spec.shape, spec.dtype, name=label))
            leaves.append(_Leaf(TensorSpec(spec.shape, spec.dtype, label)))
            return placeholders[-1], leaves[-1]
        if not from_specs and hasattr(x, "_dtf_components"):
            # A composite (RaggedTensor, SparseTensor): its component tensors become
            # placeholders, and it is rebuilt over them with its type spec's metadata.
            metadata = x._dtf_type_spec()
            pairs = [substitute(c, f"{path}_{i}") for i, c in enumerate(x._dtf_components())]
            return (type(x)._dtf_from_components([p for p, _ in pairs], metadata),
                    tuple(q for _, q in pairs))
        if from_specs and hasattr(x, "_dtf_component_specs") and \
                not hasattr(x, "_dtf_components"):
            # A composite's spec (RaggedTensorSpec in an input_signature): the same, from the
            # TensorSpecs of its components.
            pairs = [substitute(c, f"{path}_{i}")
                     for i, c in enumerate(x._dtf_component_specs())]
            leaves_of_x = CompositeLeaves(q for _, q in pairs)
            leaves_of_x.spec = x  # checked against each call, shown in the signature
            return (x.value_type._dtf_from_components([p for p, _ in pairs],
                                                      x._dtf_type_spec()), leaves_of_x)
        if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
            pairs = [substitute(v, f"{path}_{i}") for i, v in enumerate(x)]
            return type(x)(p for p, _ in pairs), type(x)(q for _, q in pairs)
        if isinstance(x, tuple):  # a namedtuple
            pairs = [substitute(v, f"{path}_{f}") for f, v in zip(x._fields, x)]
            return type(x)(*[p for p, _ in pairs]), type(x)(*[q for _, q in pairs])
        if isinstance(x, dict):
            pairs = {k: substitute(v, f"{path}_{k}") for k, v in x.items()}
            return ({k: p for k, (p, _) in pairs.items()},
                    {k: q for k, (_, q) in pairs.items()})
        return x, x

    traced_args, arg_leaves = [], []
    for i, a in enumerate(args):
        p, q = substitute(a, names[i] if i < len(names) else f"arg_{i}")
        traced_args.append(p)
        arg_leaves.append(q)
    traced_kwargs, kwarg_leaves = {}, {}
    for k, v in kwargs.items():
        traced_kwargs[k], kwarg_leaves[k] = substitute(v, k)

    builder = context.GraphBuilder(name, allow_variable_creation=allow_variable_creation)
    paused = [t for t in _tape_state.current_thread_tapes() if t._recording]
    for t in paused:
        t._recording = False
    try:
        with context.building(builder):
            result = python_function(*traced_args, **traced_kwargs)
            flat = nest.flatten(result)
            # Variables returned are read at the end of the function (a node, in order).
            flat = [registry.run(_read_prim(), (x,)) if getattr(x, "_is_dtf_variable", False)
                    else x for x in flat]
    finally:
        for t in paused:
            t._recording = True

    graph_outputs, output_leaves = [], []
    for x in flat:
        if getattr(x, "_is_symbolic", False) or isinstance(x, Tensor):
            output_leaves.append(("graph", len(graph_outputs)))
            graph_outputs.append(x)
        elif hasattr(x, "_dtf_components"):  # RaggedTensor, SparseTensor: its tensors
            parts = x._dtf_components()
            positions = list(range(len(graph_outputs), len(graph_outputs) + len(parts)))
            output_leaves.append(("composite", (type(x), x._dtf_type_spec(), positions)))
            graph_outputs.extend(parts)
        else:
            output_leaves.append(("python", x))
    graph = Graph(placeholders, graph_outputs, nodes=builder.nodes, name=name)
    if graph.captures:
        outside = ", ".join(f"{t.name} (shape {t.shape})" for t in graph.captures[:3])
        raise ValueError(
            f"dtf.function {name!r} uses symbolic tensors made outside it: {outside}. A "
            "traced function can only use its arguments, Variables and constants; pass the "
            "tensor as an argument (keras.Input tensors belong to a Functional model, not a "
            "function).")
    report = {"nodes_traced": len(graph.nodes)}
    report.update(graph.optimize())
    report["nodes"] = len(graph.nodes)
    structure = result if not getattr(result, "_is_dtf_variable", False) else flat[0]
    if nest.is_nested(result):
        structure = nest.pack_sequence_as(result, flat)
    return ConcreteFunction(name, graph, [leaf.spec for leaf in leaves],
                            (tuple(arg_leaves), kwarg_leaves), structure, output_leaves,
                            report)


def _read_prim():
    from dtf import variables

    return variables._read_variable


def match_arguments(concrete, args, kwargs):
    """The tensor leaves of a call of `concrete`, converted to Tensors and checked against its
    signature; a mismatch raises an error naming the function, the argument, and the expected
    and received specs."""
    from dtf.compile.function import _Leaf
    from dtf.ops.creation_ops import convert_to_tensor

    arg_structure, kwarg_structure = concrete._arg_structure
    if len(args) > len(arg_structure):
        raise TypeError(f"{concrete.name}: takes {len(arg_structure)} positional argument(s) "
                        f"but {len(args)} were given.")
    if len(args) < len(arg_structure):  # the rest by keyword, in the traced order
        names = [leaf.spec.name if isinstance(leaf, _Leaf) else None for leaf in arg_structure]
        extra = []
        for i in range(len(args), len(arg_structure)):
            key = names[i]
            if key not in kwargs:
                raise TypeError(f"{concrete.name}: missing argument {i} "
                                f"({key or 'positional'}); expected "
                                f"{_describe(arg_structure[i])}.")
            extra.append(kwargs.pop(key))
        args = tuple(args) + tuple(extra)
    leaves = []

    def walk(expected, given, path):
        spec = getattr(expected, "spec", None)
        if isinstance(expected, CompositeLeaves) and spec is not None and \
                not spec.is_compatible_with(given):
            raise TypeError(f"{concrete.name}: argument {path!r} expected {spec!r}, received "
                            f"{given!r}. Call the function with a matching value, or trace "
                            "another concrete function for this one.")
        if isinstance(expected, tuple) and hasattr(given, "_dtf_components"):
            given = tuple(given._dtf_components())  # a composite: its component tensors
        if isinstance(expected, _Leaf):
            spec = expected.spec
            try:
                t = given if isinstance(given, Tensor) else convert_to_tensor(
                    given, dtype=spec.dtype)
            except (TypeError, ValueError) as e:
                raise TypeError(f"{concrete.name}: argument {path!r} expected {spec}, received "
                                f"{given!r}: {e}") from None
            if t.dtype != spec.dtype or not spec.shape.is_compatible_with(t.shape):
                raise TypeError(
                    f"{concrete.name}: argument {path!r} expected {_spec_text(spec)}, received "
                    f"{_spec_text(TensorSpec(t.shape, t.dtype))}. Call the function with a "
                    "matching tensor, or trace another concrete function for this one.")
            leaves.append(t)
            return
        if isinstance(expected, (list, tuple)):
            if not isinstance(given, (list, tuple)) or len(given) != len(expected):
                raise TypeError(f"{concrete.name}: argument {path!r} expected a sequence of "
                                f"{len(expected)} items, received {given!r}.")
            for i, (e, g) in enumerate(zip(expected, given)):
                walk(e, g, f"{path}[{i}]")
            return
        if isinstance(expected, dict):
            if not isinstance(given, dict) or set(given) != set(expected):
                raise TypeError(f"{concrete.name}: argument {path!r} expected a dict with keys "
                                f"{sorted(expected)}, received {given!r}.")
            for k in expected:
                walk(expected[k], given[k], f"{path}[{k!r}]")

    for i, (expected, given) in enumerate(zip(arg_structure, args)):
        name = expected.spec.name if isinstance(expected, _Leaf) and expected.spec.name \
            else f"args[{i}]"
        walk(expected, given, name)
    for k, expected in kwarg_structure.items():
        if k not in kwargs:
            raise TypeError(f"{concrete.name}: missing keyword argument {k!r}.")
        walk(expected, kwargs[k], k)
    return leaves


def _describe(x):
    from dtf.compile.function import _Leaf

    return _spec_text(x.spec) if isinstance(x, _Leaf) else repr(x)


def _spec_text(spec):
    dims = spec.shape.dims
    shape = "<unknown>" if dims is None else "(" + ", ".join(
        "None" if d is None else str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"
    return f"TensorSpec(shape={shape}, dtype=dtf.{spec.dtype.name})"


def graph_variables(graph):
    """The Variables a graph's nodes read (as inputs) or write (in attrs), in first-use order."""
    seen, out = set(), []

    def add(v):
        if getattr(v, "_is_dtf_variable", False) and id(v) not in seen:
            seen.add(id(v))
            out.append(v)

    for node in graph.nodes:
        for t in node.inputs:
            add(t)
        for value in node.attrs.values():
            for v in value if isinstance(value, (tuple, list)) else (value,):
                add(v)
    return out


def lower(graph):
    """The executable plan of a graph: the code generator's when it is available, else an
    interpreter over the op table."""
    try:
        from dtf.compile.codegen import lower as generate
    except ImportError:
        return _Interpreter(graph)
    return generate(graph)


class _Interpreter:
    """Runs a graph node by node through the op table, on arrays in and out."""

    def __init__(self, graph):
        self.graph = graph
        self.report = {"executor": "interpreter"}

    def __call__(self, *arrays):
        outs = self.graph.run(*[Tensor(a) for a in arrays])
        return [o._value if isinstance(o, Tensor) else o for o in outs]


# -- Variable updates inside a trace ----------------------------------------------------------
_UPDATE_OPS = {"assign": "assign", "assign_add": "add", "assign_sub": "sub"}


def _record_update(variable, op, value):
    """`Variable.assign*` while tracing: an `assign_variable` node, run in program order."""
    if not registry.is_tracing():
        return False
    from dtf.ops.creation_ops import convert_to_tensor

    if not getattr(value, "_is_symbolic", False):
        value = convert_to_tensor(value, dtype=variable.dtype)
    elif value.dtype != variable.dtype:
        from dtf.errors import InvalidArgumentError

        raise InvalidArgumentError(
            f"Cannot {op} a {value.dtype.name} tensor to variable '{variable.name}' of dtype "
            f"{variable.dtype.name}; cast it first (dtf.cast).")
    registry.run(state_ops.assign_variable, (value,), variable=variable, op=_UPDATE_OPS[op])
    return True


def _install():
    from dtf import variables

    if _record_update not in variables.update_interceptors:
        variables.update_interceptors.insert(0, _record_update)


_install()
