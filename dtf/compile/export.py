"""A portable file format for traced dtf graphs: msgpack, versioned, validated when read.

A file holds a `Program`: functions (each a `Graph` with the structure of its inputs and
outputs), the constants and Variables the graphs read, signatures, and which functions and
Variables are attributes of the saved object. Nothing in a file is code: ops are named and
looked up in the op table (`dtf.ops.registry`) only, and attributes are plain data. Reading a
file checks every field (types, ranges, references, byte lengths, each node's shape rule) and
raises `ExportFormatError` for anything wrong, so a corrupt, truncated, wrong-version or hostile
file is rejected with one clear error and never runs anything from the file.

Layout (msgpack map):

    format: "dtf.saved_model"      version: 1
    constants: [array]             array = [dtype name, shape (list of ints), raw little-endian bytes]
    variables: [{name, dtype, shape (ints or nil), trainable, value: array}]
    functions: [{name, graph, arg_names, inputs: value, outputs: value}]
    signatures: {name: function index}     attributes: {name: [function index]}
    variable_attributes: {name: variable index}       metadata: {str: scalar}

    graph = {name, inputs: [[name, shape, dtype]], captures: [[name, shape, dtype]],
             nodes: [{op, inputs: [ref], attrs: {name: value}, outputs: [[shape, dtype]]}],
             outputs: [ref]}
    ref   = ["in", i] | ["node", k, j] | ["const", c] | ["var", v]

A graph's "in" refs count its inputs, then its captures (a `dtf.cond` branch's values from the
enclosing graph); "node" refs may only name earlier nodes, so a graph is acyclic by construction.
A value (attribute, signature structure) is nil, a bool, int, float, str or bytes, or a tagged
pair [tag, payload]: tuple, list, dict (key/value pairs), dtype, array, scalar (NumPy scalar),
complex, slice, ellipsis, shape, graph (a sub-graph, e.g. a cond branch), var (a Variable
index), tensor (a constant index), spec (a TensorSpec, in input structures) and out (the k-th
graph output, in output structures).

Example:
    >>> from dtf.compile.symbolic import placeholder
    >>> x = placeholder((None, 3))
    >>> g = Graph([x], [x * 2.0])
    >>> f = ExportedFunction("double", g, ((TensorSpec((None, 3)),), {}), OutputSlot(0))
    >>> program = program_from_bytes(program_to_bytes(Program([f])))
    >>> program.functions[0].graph.run(dtf.ones((1, 3)))[0].numpy()
    array([[2., 2., 2.]], dtype=float32)
"""

from __future__ import annotations

import functools
import inspect
import string
from dataclasses import dataclass, field

import msgpack
import numpy as np

from dtf import backend as _backend
from dtf import dtypes, nest
from dtf.compile.graph import Graph
from dtf.ops import registry
from dtf.tensor import Tensor
from dtf.tensor_shape import TensorShape
from dtf.tensor_spec import TensorSpec

__all__ = [
    "UNEXPORTABLE_PRIMS",
    "ExportFormatError",
    "ExportedFunction",
    "OutputSlot",
    "Program",
    "input_specs",
    "program_from_bytes",
    "program_to_bytes",
]

FORMAT_NAME = "dtf.saved_model"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)

MAX_RANK = 64  # NumPy's own limit on dimensions
MAX_DIM = 2 ** 62
MAX_VALUE_DEPTH = 32  # nesting of attribute values and signature structures
MAX_GRAPH_DEPTH = 8  # sub-graphs (cond branches) inside sub-graphs
_INT_MIN, _INT_MAX = -(2 ** 63), 2 ** 64 - 1  # what msgpack can store

# Ops that act on Python objects outside the graph: a file cannot name their targets, so they
# are refused when saving and when reading.
# Each says why, then what to export instead.
UNEXPORTABLE_PRIMS = {
    "optimizer_apply": "it updates Variables through a Python optimizer object. Export a "
                       "function that does not train, e.g. the model's __call__ or a serving "
                       "function, rather than a training step",
    "py_func": "it calls a Python function (dtf.py_function / dtf.numpy_function), which a "
               "saved file cannot hold. Export a function without it",
    "py_func_stateless": "it calls a Python function (dtf.numpy_function), which a saved file "
                         "cannot hold. Export a function without it",
    "iterator_get_next": "it reads a Python dataset iterator. Export a function that takes the "
                         "batch as its input instead",
    **dict.fromkeys(("queue_enqueue", "queue_dequeue", "queue_size", "queue_is_closed",
                     "queue_close"),
                    "it uses a dtf.queue, a Python object that a saved file cannot hold. "
                    "Export a function that takes the values as its inputs instead"),
}

# Multi-output ops whose shape rule makes one output per unit of an int attribute: the
# attribute must match the declared outputs before the rule runs (a hostile num=10**12 would
# otherwise build a huge tuple).
_OUTPUT_COUNT_ATTRS = {"unstack": "num", "split": "num_split"}


def _print_problem(attrs, n_inputs):
    """Why a `print` node may not be in a file, or None: it must write to stdout or stderr
    (a file path would let a file write anywhere) with a plain `{}` template."""
    stream = attrs.get("stream")
    if stream not in ("stdout", "stderr"):
        return (f"it prints to {_short_repr(stream)}; a saved dtf.print may only write to "
                "sys.stdout or sys.stderr")
    template = attrs.get("template")
    if not isinstance(template, str):
        return "its template is not a string"
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template)
                  if f is not None]
    except ValueError as e:
        return f"its template is malformed ({e})"
    if len(fields) != n_inputs or any(f != "" or spec or conv for f, spec, conv in fields):
        return f"its template must hold exactly {n_inputs} plain '{{}}' fields"
    if not isinstance(attrs.get("end"), str):
        return "its end is not a string"
    summarize = attrs.get("summarize")
    if summarize is not None and (not isinstance(summarize, int) or isinstance(summarize, bool)):
        return "its summarize is not an integer"
    return None


# op name -> check(attrs, number of inputs) -> None, or why the node cannot be in a file
_NODE_CHECKS = {"print": _print_problem}


@functools.cache
def _attr_names(prim):
    """The keyword parameters an op's implementation takes (None: any)."""
    try:
        params = list(inspect.signature(prim.impl).parameters.values())[1:]  # after xp
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params if p.kind is not p.VAR_POSITIONAL)


_TOP_KEYS = ("format", "version", "constants", "variables", "functions", "signatures",
             "attributes", "variable_attributes", "metadata")
_FUNCTION_KEYS = ("name", "graph", "arg_names", "inputs", "outputs")
_GRAPH_KEYS = ("name", "inputs", "captures", "nodes", "outputs")
_NODE_KEYS = ("op", "inputs", "attrs", "outputs")
_VARIABLE_KEYS = ("name", "dtype", "shape", "trainable", "value")


class ExportFormatError(ValueError):
    """A saved dtf file is corrupt, truncated, hostile, or of a version this dtf cannot read."""


class OutputSlot:
    """A leaf of a function's output structure: the function graph's output `index`."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index

    def __eq__(self, other):
        return isinstance(other, OutputSlot) and other.index == self.index

    def __hash__(self):
        return hash(("OutputSlot", self.index))

    def __repr__(self):
        return f"OutputSlot({self.index})"


@dataclass
class ExportedFunction:
    """One traced function of a file.

    Attributes:
        name: the function's name (errors name it).
        graph: its Graph; `graph.inputs` are the TensorSpec leaves of `inputs`, in
            `input_specs` order.
        inputs: `(args, kwargs)`: a structure of TensorSpecs and Python values.
        outputs: a structure of OutputSlots (graph outputs) and Python values.
        arg_names: the names of the positional parameters (lets callers pass them by keyword).
    """

    name: str
    graph: Graph
    inputs: tuple
    outputs: object
    arg_names: list = field(default_factory=list)


@dataclass
class Program:
    """The contents of a file.

    Attributes:
        functions: the ExportedFunctions.
        signatures: signature name -> index into `functions`.
        attributes: attribute name -> indices of the functions it dispatches between.
        variables: Variables to store (those the graphs read are added when writing); when
            read, every Variable of the file, recreated.
        variable_attributes: attribute name -> index into `variables`.
        metadata: str -> scalar (what kind of object was saved, ...).
    """

    functions: list
    signatures: dict = field(default_factory=dict)
    attributes: dict = field(default_factory=dict)
    variables: list = field(default_factory=list)
    variable_attributes: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)


def input_specs(structure) -> list:
    """The TensorSpecs of an input structure in the order of the graph's inputs: depth first,
    dicts in insertion order (the order a traced call's arguments were given in)."""
    if isinstance(structure, TensorSpec):
        return [structure]
    if isinstance(structure, dict):
        return [s for v in structure.values() for s in input_specs(v)]
    if isinstance(structure, (list, tuple)):
        return [s for v in structure for s in input_specs(v)]
    return []


def _is_variable(x) -> bool:
    return getattr(x, "_is_dtf_variable", False)


def _is_symbolic(x) -> bool:
    return getattr(x, "_is_symbolic", False)


# =============================================================================================
# writing
# =============================================================================================
class _Writer:
    """Turns a Program into plain msgpack-able data, collecting constants and Variables."""

    def __init__(self):
        self.constants: list = []
        self._constant_index: dict = {}
        self._kept: list = []  # keeps encoded objects alive, so their ids stay unique
        self.variables: list = []
        self._variable_index: dict = {}
        self._graph_depth = 0

    # -- tables ---------------------------------------------------------------------------
    def constant(self, t) -> int:
        k = self._constant_index.get(id(t))
        if k is None:
            k = self._constant_index[id(t)] = len(self.constants)
            self._kept.append(t)
            self.constants.append(_encode_array(t._value))
        return k

    def variable(self, v) -> int:
        k = self._variable_index.get(id(v))
        if k is None:
            k = self._variable_index[id(v)] = len(self.variables)
            self._kept.append(v)
            dims = v.shape.dims
            self.variables.append({
                "name": str(v.name), "dtype": v.dtype.name,
                "shape": None if dims is None else list(dims),
                "trainable": bool(v.trainable), "value": _encode_array(v._value)})
        return k

    # -- values ---------------------------------------------------------------------------
    def value(self, x, where: str, tags: frozenset, depth: int = 0):
        if depth > MAX_VALUE_DEPTH:
            raise ValueError(f"{where}: nested more than {MAX_VALUE_DEPTH} levels deep; a "
                             "saved value cannot be.")
        if x is None or isinstance(x, (bool, str, bytes)):
            return x
        if isinstance(x, np.generic):  # before int/float: np.float64 is a float subclass
            return ["scalar", _encode_array(np.asarray(x))]
        if isinstance(x, int):
            if not _INT_MIN <= x <= _INT_MAX:
                raise ValueError(f"{where}: the integer {x} does not fit in 64 bits.")
            return x
        if isinstance(x, float):
            return x
        if isinstance(x, complex):
            return ["complex", [x.real, x.imag]]
        if isinstance(x, dtypes.DType):
            return ["dtype", x.name]
        if isinstance(x, TensorShape):
            return ["shape", None if x.dims is None else list(x.dims)]
        if isinstance(x, slice):
            return ["slice", [self.value(p, where, tags, depth + 1)
                              for p in (x.start, x.stop, x.step)]]
        if x is Ellipsis:
            return ["ellipsis", None]
        if isinstance(x, OutputSlot) and "out" in tags:
            return ["out", x.index]
        if isinstance(x, TensorSpec) and "spec" in tags:
            return ["spec", _encode_spec(x.name, x.shape, x.dtype)]
        if isinstance(x, tuple):
            return ["tuple", [self.value(v, where, tags, depth + 1) for v in x]]
        if isinstance(x, list):
            return ["list", [self.value(v, where, tags, depth + 1) for v in x]]
        if isinstance(x, dict):
            return ["dict", [[self.value(k, where, tags, depth + 1),
                              self.value(v, where, tags, depth + 1)] for k, v in x.items()]]
        if isinstance(x, np.ndarray):
            return ["array", _encode_array(x)]
        if "graph" in tags:
            if isinstance(x, Graph):
                return ["graph", self.graph(x, where, top=False)]
            if _is_variable(x):
                return ["var", self.variable(x)]
            if type(x) is Tensor:
                return ["tensor", self.constant(x)]
        raise ValueError(
            f"{where} is a {type(x).__module__}.{type(x).__name__} ({_short_repr(x)}), which "
            "a saved file cannot hold: only tensors, Variables, numbers, strings, dtypes, "
            "shapes and lists, tuples and dicts of them can be exported.")

    # -- graphs ---------------------------------------------------------------------------
    def graph(self, g: Graph, where: str, top: bool = True) -> dict:
        if self._graph_depth >= MAX_GRAPH_DEPTH:
            raise ValueError(f"{where}: sub-graphs nest more than {MAX_GRAPH_DEPTH} levels "
                             "deep; a saved file cannot hold that.")
        self._graph_depth += 1
        try:
            return self._graph(g, where, top)
        finally:
            self._graph_depth -= 1

    def _graph(self, g: Graph, where: str, top: bool) -> dict:
        captures = list(getattr(g, "captures", []))
        if top and captures:
            raise ValueError(
                f"{where} reads symbolic tensors made outside it ({_names(captures)}): a "
                "saved function must compute everything from its own inputs.")
        refs = {id(t): ["in", i] for i, t in enumerate(list(g.inputs) + captures)}
        nodes = []
        for k, node in enumerate(g.nodes):
            prim = node.prim
            at = f"{where}, node {k} ({prim.name})"
            _check_exportable_prim(prim, at)
            inputs = [self.ref(g._resolve(t), refs, at) for t in node.inputs]
            check = _NODE_CHECKS.get(prim.name)
            problem = check(node.attrs, len(node.inputs)) if check else None
            if problem:
                raise ValueError(f"{at} cannot be exported: {problem}.")
            attrs = {}
            for name, v in node.attrs.items():
                attrs[str(name)] = self.value(v, f"{at}, attribute {name!r}", _ATTR_TAGS)
            outputs = [_encode_shape_dtype(o.shape, o.dtype) for o in node.outputs]
            for j, o in enumerate(node.outputs):
                refs[id(o)] = ["node", k, j]
            nodes.append({"op": prim.name, "inputs": inputs, "attrs": attrs, "outputs": outputs})
        return {"name": str(g.name),
                "inputs": [_encode_spec(t.name, t.shape, t.dtype) for t in g.inputs],
                "captures": [_encode_spec(t.name, t.shape, t.dtype) for t in captures],
                "nodes": nodes,
                "outputs": [self.ref(g._resolve(t), refs, f"{where}, output {i}")
                            for i, t in enumerate(g.outputs)]}

    def ref(self, t, refs: dict, where: str):
        if _is_symbolic(t):
            r = refs.get(id(t))
            if r is None:
                raise ValueError(f"{where} reads {t.name}, which neither the graph's inputs nor "
                                 "an earlier node make: the graph is not self-contained.")
            return r
        if _is_variable(t):
            return ["var", self.variable(t)]
        if isinstance(t, Tensor):
            return ["const", self.constant(t)]
        raise ValueError(f"{where} reads a {type(t).__name__} ({_short_repr(t)}), which is "
                         "not a tensor: it cannot be exported.")


_ATTR_TAGS = frozenset({"graph"})
_INPUT_TAGS = frozenset({"spec"})
_OUTPUT_TAGS = frozenset({"out"})


def _check_exportable_prim(prim, where):
    try:
        in_table = registry.get(prim.name) is prim
    except KeyError:
        in_table = False
    if not in_table:
        raise ValueError(
            f"{where} is not an op of dtf's op table (a custom_gradient function or an op "
            "defined at run time): a saved file can only name table ops, so it cannot be "
            "exported. Export a function that does not use it.")
    reason = UNEXPORTABLE_PRIMS.get(prim.name)
    if reason is not None:
        raise ValueError(f"{where} cannot be exported: {reason}.")


def _encode_array(a) -> list:
    a = np.asarray(a if isinstance(a, np.ndarray) else _backend.backend_of(a).to_host(a))
    try:
        dtype = dtypes.as_dtype(a.dtype.type)  # by type: big-endian arrays count too
    except TypeError:
        raise ValueError(f"An array of NumPy dtype {a.dtype} cannot be exported: dtf has no "
                         "such dtype.") from None
    if dtype is dtypes.string:  # objects: the byte strings themselves, in C order
        return [dtype.name, list(a.shape), [bytes(v) for v in a.reshape(-1)]]
    little = a.astype(np.dtype(dtype.as_numpy_dtype).newbyteorder("<"), copy=False)
    return [dtype.name, list(a.shape), np.ascontiguousarray(little).tobytes()]


def _encode_shape_dtype(shape, dtype) -> list:
    dims = TensorShape(shape).dims
    return [None if dims is None else list(dims), dtypes.as_dtype(dtype).name]


def _encode_spec(name, shape, dtype) -> list:
    return [name] + _encode_shape_dtype(shape, dtype)


def _short_repr(x) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def _names(tensors) -> str:
    return ", ".join(getattr(t, "name", "?") for t in tensors)


def program_to_bytes(program: Program) -> bytes:
    """The file contents for `program` (see the module docstring for the layout).

    Raises:
        ValueError: something in it cannot be exported (the message names the function, node
            and attribute, and what to do instead).
    """
    w = _Writer()
    for v in program.variables:
        w.variable(v)
    functions = []
    for f in program.functions:
        where = f"function {f.name!r}"
        specs = input_specs(f.inputs)
        if len(specs) != len(f.graph.inputs):
            raise ValueError(f"{where}: its input structure has {len(specs)} tensors but its "
                             f"graph takes {len(f.graph.inputs)} inputs.")
        slots = [s for s in nest.flatten(f.outputs) if isinstance(s, OutputSlot)]
        if any(not 0 <= s.index < len(f.graph.outputs) for s in slots):
            raise ValueError(f"{where}: an output refers past the graph's "
                             f"{len(f.graph.outputs)} outputs.")
        functions.append({
            "name": str(f.name), "graph": w.graph(f.graph, where),
            "arg_names": [str(n) for n in f.arg_names],
            "inputs": w.value(f.inputs, f"{where}, inputs", _INPUT_TAGS),
            "outputs": w.value(f.outputs, f"{where}, outputs", _OUTPUT_TAGS)})
    data = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION,
        "constants": w.constants, "variables": w.variables, "functions": functions,
        "signatures": {str(k): int(v) for k, v in program.signatures.items()},
        "attributes": {str(k): [int(i) for i in v] for k, v in program.attributes.items()},
        "variable_attributes": {str(k): w.variable(v)
                                for k, v in program.variable_attributes.items()},
        "metadata": {str(k): w.value(v, f"metadata {k!r}", frozenset())
                     for k, v in program.metadata.items()},
    }
    data["variables"] = w.variables  # variable_attributes may have added some
    return msgpack.packb(data, use_bin_type=True)


def program_from_bytes(data) -> Program:
    """Reads a Program from file contents, checking every field (see
    `dtf.saved_model.reader.program_from_bytes`).

    Raises:
        ExportFormatError: the contents are not a valid dtf saved model of a supported version.
    """
    from dtf.saved_model import reader

    return reader.program_from_bytes(data)
