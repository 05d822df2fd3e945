"""Reading the portable file format of `dtf.compile.export`: every field checked.

The reader trusts nothing in a file. Each field's type, each index and reference (a node may
read only graph inputs, constants, Variables and earlier nodes, so graphs are acyclic), each
array's byte length against its dtype and shape, each op name (looked up in the op table only;
ops acting on Python objects are refused) and each node's attributes (the op's own shape rule
must accept them and agree with the declared outputs) is checked before anything is built, and
any problem raises `ExportFormatError` naming the field. Nesting is bounded, declared sizes are
checked against the bytes actually present before any allocation, and nothing from the file is
executed, imported or unpickled.

Example:
    >>> from dtf.compile.export import program_to_bytes
    >>> from dtf.saved_model.save import build_program
    >>> f = dtf.function(lambda x: -x, input_signature=[dtf.TensorSpec([2], dtf.float32)])
    >>> data = program_to_bytes(build_program(f))
    >>> [f.name for f in program_from_bytes(data).functions]
    ['<lambda>', 'serving_default']
    >>> program_from_bytes(data[:-3])
    Traceback (most recent call last):
    ...
    dtf.compile.export.ExportFormatError: Invalid dtf saved model: the file is not valid msgpack (truncated or corrupt): ...
"""

from __future__ import annotations

import math

import msgpack
import numpy as np

from dtf import backend as _backend
from dtf import dtypes, nest
from dtf.compile.export import (
    _ATTR_TAGS,
    _FUNCTION_KEYS,
    _GRAPH_KEYS,
    _INPUT_TAGS,
    _INT_MAX,
    _NODE_CHECKS,
    _NODE_KEYS,
    _OUTPUT_COUNT_ATTRS,
    _OUTPUT_TAGS,
    _TOP_KEYS,
    _VARIABLE_KEYS,
    FORMAT_NAME,
    MAX_DIM,
    MAX_GRAPH_DEPTH,
    MAX_RANK,
    MAX_VALUE_DEPTH,
    SUPPORTED_VERSIONS,
    UNEXPORTABLE_PRIMS,
    ExportedFunction,
    ExportFormatError,
    OutputSlot,
    Program,
    _attr_names,
    _is_symbolic,
    _short_repr,
    input_specs,
)
from dtf.compile.graph import Graph
from dtf.compile.symbolic import OpNode, SymbolicTensor
from dtf.ops import registry
from dtf.tensor import Tensor
from dtf.tensor_shape import TensorShape
from dtf.tensor_spec import TensorSpec

__all__ = ["program_from_bytes"]

_DTYPES = {d.name: d for d in dtypes.ALL_DTYPES}
_DTYPES[dtypes.string.name] = dtypes.string


def _fail(where: str, what: str):
    raise ExportFormatError(f"Invalid dtf saved model: {where}: {what}")


def _type_name(x) -> str:
    return {type(None): "nil", dict: "map", list: "array"}.get(type(x), type(x).__name__)


def _expect(x, types, where, what):
    if not isinstance(x, types) or (isinstance(x, bool) and bool not in _as_tuple(types)):
        _fail(where, f"expected {what}, found {_type_name(x)} {_short_repr(x)}")
    return x


def _as_tuple(types):
    return types if isinstance(types, tuple) else (types,)


def _expect_map(x, keys, where):
    _expect(x, dict, where, "a map")
    missing = [k for k in keys if k not in x]
    extra = [k for k in x if k not in keys]
    if missing or extra:
        _fail(where, f"expected the fields {list(keys)}; missing {missing}, unknown {extra}")
    return x


def _expect_int(x, where, low, high, what="an integer"):
    _expect(x, int, where, what)
    if not low <= x <= high:
        _fail(where, f"{what} {x} is out of range [{low}, {high}]")
    return x


def _read_dtype(x, where) -> dtypes.DType:
    _expect(x, str, where, "a dtype name")
    d = _DTYPES.get(x)
    if d is None:
        _fail(where, f"unknown dtype {_short_repr(x)}; dtf knows {sorted(_DTYPES)}")
    return d


def _read_shape(x, where, allow_unknown=True):
    """A shape: a list of dims (ints >= 0, or nil for unknown ones), or nil (unknown rank)."""
    if x is None and allow_unknown:
        return None
    _expect(x, list, where, "a shape (a list of dimensions)")
    if len(x) > MAX_RANK:
        _fail(where, f"rank {len(x)} is more than {MAX_RANK}")
    dims = []
    for i, d in enumerate(x):
        if d is None and allow_unknown:
            dims.append(None)
        else:
            dims.append(_expect_int(d, f"{where}[{i}]", 0, MAX_DIM, "a dimension"))
    return tuple(dims)


def _read_array(x, where) -> np.ndarray:
    _expect(x, list, where, "an array [dtype, shape, bytes]")
    if len(x) != 3:
        _fail(where, f"an array is [dtype, shape, bytes]; found {len(x)} items")
    dtype = _read_dtype(x[0], f"{where} dtype")
    shape = _read_shape(x[1], f"{where} shape", allow_unknown=False)
    if dtype is dtypes.string:
        return _read_string_array(x[2], shape, where)
    data = _expect(x[2], bytes, f"{where} data", "bytes")
    expected = math.prod(shape) * dtype.size  # exact: Python ints do not overflow
    if len(data) != expected:
        _fail(where, f"a {dtype.name} array of shape {list(shape)} needs {expected} bytes, "
                     f"found {len(data)}")
    np_dtype = np.dtype(dtype.as_numpy_dtype)
    flat = np.frombuffer(data, dtype=np_dtype.newbyteorder("<"))
    if dtype is dtypes.bool and flat.view(np.uint8).max(initial=0) > 1:
        _fail(where, "a bool array holds bytes other than 0 and 1")
    try:
        return flat.astype(np_dtype).reshape(shape)  # a native-order copy the array owns
    except ValueError as e:  # a zero-size array with dims NumPy cannot index
        _fail(where, f"shape {list(shape)} is not a valid array shape: {e}")


def _read_string_array(items, shape, where) -> np.ndarray:
    """A string array: its elements as a list of byte strings, in C order."""
    _expect(items, list, f"{where} data", "a list of byte strings")
    if len(items) != math.prod(shape):
        _fail(where, f"a string array of shape {list(shape)} needs {math.prod(shape)} "
                     f"elements, found {len(items)}")
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = _expect(item, bytes, f"{where} data[{i}]", "bytes")
    return out.reshape(shape)


def _read_shape_dtype(x, where):
    _expect(x, list, where, "[shape, dtype]")
    if len(x) != 2:
        _fail(where, f"expected [shape, dtype]; found {len(x)} items")
    return _read_shape(x[0], f"{where} shape"), _read_dtype(x[1], f"{where} dtype")


def _read_spec(x, where):
    _expect(x, list, where, "a spec [name, shape, dtype]")
    if len(x) != 3:
        _fail(where, f"a spec is [name, shape, dtype]; found {len(x)} items")
    name = _expect(x[0], (str, type(None)), f"{where} name", "a name or nil")
    return name, _read_shape(x[1], f"{where} shape"), _read_dtype(x[2], f"{where} dtype")


class _Reader:
    """Validates plain msgpack data field by field and rebuilds Graphs, constants and
    Variables from it."""

    def __init__(self, constants, variables):
        self.constants = constants  # Tensors
        self.variables = variables  # Variables

    # -- values ---------------------------------------------------------------------------
    def value(self, x, where, tags, depth=0, graph_depth=0):
        if x is None or isinstance(x, (bool, int, float, str, bytes)):
            return x
        if not isinstance(x, list) or len(x) != 2 or not isinstance(x[0], str):
            _fail(where, f"expected a value (nil, bool, number, string, bytes or a [tag, "
                         f"payload] pair), found {_type_name(x)} {_short_repr(x)}")
        if depth > MAX_VALUE_DEPTH:
            _fail(where, f"values nest more than {MAX_VALUE_DEPTH} levels deep")
        tag, payload = x
        at = f"{where} ({tag})"
        if tag in ("tuple", "list"):
            items = [self.value(v, f"{where}[{i}]", tags, depth + 1, graph_depth)
                     for i, v in enumerate(_expect(payload, list, at, "a list of values"))]
            return tuple(items) if tag == "tuple" else items
        if tag == "dict":
            out = {}
            for i, pair in enumerate(_expect(payload, list, at, "a list of [key, value]")):
                if not isinstance(pair, list) or len(pair) != 2:
                    _fail(f"{where}[{i}]", "a dict item is a [key, value] pair")
                key = self.value(pair[0], f"{where} key {i}", tags, depth + 1, graph_depth)
                try:
                    hash(key)
                except TypeError:
                    _fail(f"{where} key {i}", f"a dict key must be hashable, found {key!r}")
                out[key] = self.value(pair[1], f"{where}[{key!r}]", tags, depth + 1,
                                      graph_depth)
            return out
        if tag == "dtype":
            return _read_dtype(payload, at)
        if tag == "shape":
            return TensorShape(None if payload is None else list(_read_shape(payload, at)))
        if tag == "array":
            return _read_array(payload, at)
        if tag == "scalar":
            a = _read_array(payload, at)
            if a.ndim != 0:
                _fail(at, f"a scalar has shape [], found {list(a.shape)}")
            return a[()]
        if tag == "complex":
            _expect(payload, list, at, "[real, imag]")
            if len(payload) != 2 or not all(isinstance(p, float) for p in payload):
                _fail(at, "a complex number is [real, imag] floats")
            return complex(payload[0], payload[1])
        if tag == "slice":
            parts = _expect(payload, list, at, "[start, stop, step]")
            if len(parts) != 3 or not all(p is None or (isinstance(p, int)
                                                        and not isinstance(p, bool))
                                          for p in parts):
                _fail(at, "a slice is [start, stop, step], each an integer or nil")
            return slice(*parts)
        if tag == "ellipsis" and payload is None:
            return Ellipsis
        if tag == "spec" and "spec" in tags:
            name, shape, dtype = _read_spec(payload, at)
            return TensorSpec(None if shape is None else list(shape), dtype, name)
        if tag == "out" and "out" in tags:
            return OutputSlot(_expect_int(payload, at, 0, _INT_MAX, "an output index"))
        if "graph" in tags:
            if tag == "graph":
                return self.graph(payload, at, graph_depth + 1)
            if tag == "var":
                return self.variables[self.index(payload, len(self.variables), at, "variable")]
            if tag == "tensor":
                return self.constants[self.index(payload, len(self.constants), at, "constant")]
        _fail(where, f"unknown or misplaced tag {_short_repr(tag)}")

    @staticmethod
    def index(x, n, where, what):
        _expect(x, int, where, f"a {what} index")
        if not 0 <= x < n:
            _fail(where, f"{what} index {x} is out of range (the file has {n})")
        return x

    # -- graphs ---------------------------------------------------------------------------
    def graph(self, x, where, depth=0) -> Graph:
        if depth > MAX_GRAPH_DEPTH:
            _fail(where, f"sub-graphs nest more than {MAX_GRAPH_DEPTH} levels deep")
        _expect_map(x, _GRAPH_KEYS, where)
        name = _expect(x["name"], str, f"{where} name", "a string")
        where = f"{where} (graph {name!r})"
        inputs = self.placeholders(x["inputs"], f"{where} inputs")
        captures = self.placeholders(x["captures"], f"{where} captures")
        values = inputs + captures
        nodes = []
        for k, node in enumerate(_expect(x["nodes"], list, f"{where} nodes", "a list")):
            nodes.append(self.node(node, f"{where} node {k}", values, nodes, depth))
        outputs = [self.ref(r, f"{where} output {i}", values, nodes)
                   for i, r in enumerate(_expect(x["outputs"], list, f"{where} outputs",
                                                 "a list"))]
        g = Graph(inputs, outputs, nodes=nodes, name=name)
        g.captures = captures  # in the file's order: callers pass captures in that order
        return g

    @staticmethod
    def placeholders(x, where):
        out = []
        for i, spec in enumerate(_expect(x, list, where, "a list of specs")):
            name, shape, dtype = _read_spec(spec, f"{where}[{i}]")
            out.append(SymbolicTensor(None if shape is None else list(shape), dtype,
                                      name=name))
        return out

    def ref(self, x, where, values, nodes):
        if not isinstance(x, list) or not x or not isinstance(x[0], str):
            _fail(where, f"expected a reference [kind, index...], found {_short_repr(x)}")
        kind = x[0]
        if kind == "node" and len(x) == 3:
            k = self.index(x[1], len(nodes), f"{where} node", "earlier node")
            j = self.index(x[2], len(nodes[k].outputs), f"{where} output", "node output")
            return nodes[k].outputs[j]
        if len(x) != 2:
            _fail(where, f"a reference is [\"in\"|\"const\"|\"var\", i] or [\"node\", k, j]; "
                         f"found {_short_repr(x)}")
        if kind == "in":
            return values[self.index(x[1], len(values), where, "graph input")]
        if kind == "const":
            return self.constants[self.index(x[1], len(self.constants), where, "constant")]
        if kind == "var":
            return self.variables[self.index(x[1], len(self.variables), where, "variable")]
        _fail(where, f"unknown reference kind {_short_repr(kind)}")

    def node(self, x, where, values, nodes, depth) -> OpNode:
        _expect_map(x, _NODE_KEYS, where)
        op = _expect(x["op"], str, f"{where} op", "an op name")
        prim = _table_op(op)
        if prim is None:
            _fail(where, f"unknown op {_short_repr(op)}: it is not in dtf's op table (a file "
                         "from a newer dtf, or not a dtf file)")
        where = f"{where} ({op})"
        if op in UNEXPORTABLE_PRIMS:
            _fail(where, f"the op cannot be loaded: {UNEXPORTABLE_PRIMS[op]}")
        inputs = [self.ref(r, f"{where} input {i}", values, nodes)
                  for i, r in enumerate(_expect(x["inputs"], list, f"{where} inputs", "a list"))]
        attrs = {}
        for name, v in _expect(x["attrs"], dict, f"{where} attrs", "a map").items():
            _expect(name, str, f"{where} attribute name", "a string")
            attrs[name] = self.value(v, f"{where} attribute {name!r}", _ATTR_TAGS,
                                     graph_depth=depth)
        declared = [_read_shape_dtype(o, f"{where} output {j}")
                    for j, o in enumerate(_expect(x["outputs"], list, f"{where} outputs",
                                                  "a list"))]
        known = _attr_names(prim)
        unknown = sorted(set(attrs) - known) if known is not None else []
        if unknown:
            _fail(where, f"unknown attributes {unknown}; the op takes {sorted(known)}")
        check = _NODE_CHECKS.get(op)
        problem = check(attrs, len(inputs)) if check else None
        if problem:
            _fail(where, f"the node cannot be loaded: {problem}")
        specs = self.check_outputs(prim, inputs, attrs, declared, where)
        node = OpNode(prim, inputs, attrs)
        node.outputs = tuple(SymbolicTensor(None if s is None else list(s), d, node, j)
                             for j, (s, d) in enumerate(specs))
        return node

    @staticmethod
    def check_outputs(prim, inputs, attrs, declared, where):
        """The declared output (shape, dtype)s, checked against the op's shape rule."""
        n = len(declared)
        if (prim.num_outputs is not None and n != prim.num_outputs) or n == 0:
            _fail(where, f"declares {n} outputs; the op makes "
                         f"{prim.num_outputs if prim.num_outputs else 'at least 1'}")
        count_attr = _OUTPUT_COUNT_ATTRS.get(prim.name)
        if count_attr is not None and attrs.get(count_attr) not in (None, n):
            _fail(where, f"attribute {count_attr}={_short_repr(attrs.get(count_attr))} does not "
                         f"match its {n} declared outputs")
        if prim.name == "split" and attrs.get("sizes") is not None and \
                (not isinstance(attrs["sizes"], tuple) or len(attrs["sizes"]) != n):
            _fail(where, f"attribute sizes does not match its {n} declared outputs")
        in_specs = [_spec_of(t) for t in inputs]
        try:
            inferred = prim.infer(*in_specs, **attrs)
        except Exception as e:  # noqa: BLE001 - the rule ran on untrusted attributes
            _fail(where, f"the op rejects its inputs or attributes "
                         f"({type(e).__name__}: {_short_repr(str(e))})")
        inferred = [inferred] if isinstance(inferred, registry.Spec) else inferred
        if not isinstance(inferred, (list, tuple)) or len(inferred) != n:
            _fail(where, f"declares {n} outputs; its inputs and attributes do not give that")
        for j, (spec, (shape, dtype)) in enumerate(zip(inferred, declared)):
            if not isinstance(spec, registry.Spec) or spec.dtype != dtype or \
                    not _shapes_agree(shape, spec.shape):
                _fail(where, f"output {j} is declared {dtype.name}{_dims_text(shape)} but the op "
                             f"makes {_dtype_text(getattr(spec, 'dtype', spec))}"
                             f"{_dims_text(getattr(spec, 'shape', None))}")
        return declared


def _table_op(name):
    """The op table's primitive of this name, or None: the only way a file names code."""
    try:
        return registry.get(name)
    except KeyError:
        return None


def _shapes_agree(declared, inferred) -> bool:
    """Whether a declared shape fits what a shape rule inferred (None: unknown), the inferred
    one checked too (a rule fed hostile attributes may give anything)."""
    if inferred is None:
        return True
    if not isinstance(inferred, tuple) or any(
            d is not None and (not isinstance(d, int) or isinstance(d, bool) or d < 0)
            for d in inferred):
        return False
    if declared is None:
        return True
    return len(declared) == len(inferred) and all(
        a is None or b is None or a == b for a, b in zip(declared, inferred))


def _dtype_text(dtype) -> str:
    return dtype.name if isinstance(dtype, dtypes.DType) else _short_repr(dtype)


def _dims_text(shape) -> str:
    if not isinstance(shape, tuple):
        return "[?]" if shape is None else f"[{_short_repr(shape)}]"
    return str(["?" if d is None else d for d in shape])


def _spec_of(t) -> registry.Spec:
    if _is_symbolic(t):
        return t.spec
    if isinstance(t, Tensor):
        return registry.Spec(tuple(t._value.shape), t.dtype)
    dims = t.shape.dims  # a Variable
    return registry.Spec(None if dims is None else tuple(dims), t.dtype)


def _read_variables(x, where) -> list:
    from dtf.compile import context
    from dtf.variables import Variable

    out = []
    for i, v in enumerate(_expect(x, list, where, "a list")):
        at = f"{where}[{i}]"
        _expect_map(v, _VARIABLE_KEYS, at)
        name = _expect(v["name"], str, f"{at} name", "a string")
        dtype = _read_dtype(v["dtype"], f"{at} dtype")
        shape = _read_shape(v["shape"], f"{at} shape")
        trainable = _expect(v["trainable"], bool, f"{at} trainable", "a bool")
        value = _read_array(v["value"], f"{at} value")
        if value.dtype != dtype.as_numpy_dtype:
            _fail(at, f"variable {name!r} is {dtype.name} but its value is "
                      f"{dtypes.from_numpy(value.dtype).name}")
        static = TensorShape(None if shape is None else list(shape))
        if not static.is_compatible_with(TensorShape(list(value.shape))):
            _fail(at, f"variable {name!r} has shape {static} but its value has shape "
                      f"{list(value.shape)}")
        with context.init_scope():  # a load inside a traced function still makes real ones
            out.append(Variable(Tensor(_backend.place(value)), trainable=trainable, name=name,
                                shape=static))
    return out


def _read_index_map(x, n, where, what, many=False) -> dict:
    out = {}
    for key, value in _expect(x, dict, where, "a map").items():
        at = f"{where}[{key!r}]"
        _expect(key, str, f"{where} key", "a string")
        if many:
            out[key] = [_Reader.index(i, n, f"{at}[{j}]", what)
                        for j, i in enumerate(_expect(value, list, at, "a list of indices"))]
        else:
            out[key] = _Reader.index(value, n, at, what)
    return out


def _unpack(data):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ExportFormatError(f"Invalid dtf saved model: expected bytes, got "
                                f"{type(data).__name__}.")
    try:
        # unpackb bounds every declared length by the buffer's size: no giant allocations
        return msgpack.unpackb(bytes(data), raw=False, strict_map_key=True, use_list=True)
    except Exception as e:  # noqa: BLE001 - msgpack raises many types for bad bytes
        raise ExportFormatError(
            f"Invalid dtf saved model: the file is not valid msgpack (truncated or corrupt): "
            f"{type(e).__name__}: {_short_repr(str(e))}") from None


def program_from_bytes(data) -> Program:
    """Reads a Program from file contents, checking every field.

    Variables are recreated (new `dtf.Variable`s holding the stored values); graphs are rebuilt
    on the op table's ops. Nothing from the file is executed.

    Raises:
        ExportFormatError: the contents are not a valid dtf saved model of a supported version.
    """
    top = _unpack(data)
    _expect(top, dict, "the top level", "a map")
    if top.get("format") != FORMAT_NAME:
        _fail("format", f"this is not a dtf saved model (format {_short_repr(top.get('format'))}"
                        f", expected {FORMAT_NAME!r})")
    version = top.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or \
            version not in SUPPORTED_VERSIONS:
        _fail("version", f"version {_short_repr(version)} is not supported; this dtf reads "
                         f"versions {list(SUPPORTED_VERSIONS)}. Load it with the dtf that "
                         "saved it, or save it again with this one.")
    _expect_map(top, _TOP_KEYS, "the top level")
    constants = [Tensor(_backend.place(_read_array(c, f"constants[{i}]")))
                 for i, c in enumerate(_expect(top["constants"], list, "constants", "a list"))]
    variables = _read_variables(top["variables"], "variables")
    reader = _Reader(constants, variables)
    functions = []
    for i, f in enumerate(_expect(top["functions"], list, "functions", "a list")):
        where = f"functions[{i}]"
        _expect_map(f, _FUNCTION_KEYS, where)
        name = _expect(f["name"], str, f"{where} name", "a string")
        where = f"{where} ({name!r})"
        graph = reader.graph(f["graph"], f"{where} graph")
        if graph.captures:
            _fail(where, "a function's graph cannot have captures")
        arg_names = [_expect(a, str, f"{where} arg_names[{j}]", "a string")
                     for j, a in enumerate(_expect(f["arg_names"], list, f"{where} arg_names",
                                                   "a list"))]
        inputs = reader.value(f["inputs"], f"{where} inputs", _INPUT_TAGS)
        if not (isinstance(inputs, tuple) and len(inputs) == 2 and
                isinstance(inputs[0], tuple) and isinstance(inputs[1], dict)):
            _fail(f"{where} inputs", "expected (args tuple, kwargs dict)")
        _check_inputs_match(inputs, graph, f"{where} inputs")
        outputs = reader.value(f["outputs"], f"{where} outputs", _OUTPUT_TAGS)
        for slot in nest.flatten(outputs):
            if isinstance(slot, OutputSlot) and slot.index >= len(graph.outputs):
                _fail(f"{where} outputs", f"output {slot.index} is out of range (the graph "
                                          f"has {len(graph.outputs)})")
        functions.append(ExportedFunction(name, graph, inputs, outputs, arg_names))
    n = len(functions)
    return Program(
        functions=functions,
        signatures=_read_index_map(top["signatures"], n, "signatures", "function"),
        attributes=_read_index_map(top["attributes"], n, "attributes", "function", many=True),
        variables=variables,
        variable_attributes=_read_index_map(top["variable_attributes"], len(variables),
                                            "variable_attributes", "variable"),
        metadata={_expect(k, str, "metadata key", "a string"):
                  reader.value(v, f"metadata[{k!r}]", frozenset())
                  for k, v in _expect(top["metadata"], dict, "metadata", "a map").items()})


def _check_inputs_match(inputs, graph, where):
    specs = input_specs(inputs)
    if len(specs) != len(graph.inputs):
        _fail(where, f"{len(specs)} tensor inputs for a graph of {len(graph.inputs)} inputs")
    for i, (spec, t) in enumerate(zip(specs, graph.inputs)):
        if spec.dtype != t.dtype or not spec.shape.is_compatible_with(t.shape):
            _fail(f"{where}[{i}]", f"spec {spec} does not match the graph input "
                                   f"{t.dtype.name}{t.shape}")
