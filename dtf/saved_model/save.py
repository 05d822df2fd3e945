"""`dtf.saved_model.save`: what of an object goes into a file, and writing it.

A saved object is described by a `dtf.compile.export.Program`: every traced graph of the
`dtf.function`s it holds (each becomes a callable attribute of the loaded object), signatures
(flat, named inputs; a dict of outputs, as TensorFlow's serving signatures), and the Variables
reachable from it, each stored once however many graphs read it.

- a `dtf.function`: its traced concrete functions (traced now from its `input_signature` when
  it has one), loaded as a callable object;
- a Keras model: a `serve` function tracing `model(x, training=False)` on the model's input
  specs with the batch dimension None, also the `serving_default` signature;
- any other object (a module): its `dtf.function` attributes, methods included, and those of
  the objects it holds, under the same names.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import types

import numpy as np

from dtf import nest
from dtf.compile import export
from dtf.compile.export import ExportedFunction, OutputSlot, Program
from dtf.tensor import Tensor
from dtf.tensor_spec import TensorSpec

__all__ = ["FILE_NAME", "build_program", "export_keras_model", "file_path",
           "keras_serving_function", "save"]

FILE_NAME = "saved_model.dtf"  # inside an export directory
DEFAULT_SIGNATURE = "serving_default"
_MAX_OBJECT_DEPTH = 8  # how deep attributes are searched for functions and Variables


def save(obj, export_dir, signatures=None, options=None):
    """Saves `obj`'s traced functions and Variables to one portable file.

    Args:
        obj: a `dtf.function`, a Keras model, or an object whose attributes (methods included)
            are `dtf.function`s.
        export_dir: a directory (created; the file is `saved_model.dtf` inside it), or a file
            path with an extension.
        signatures: a `dtf.function` with an `input_signature`, a ConcreteFunction, or a dict
            of name -> either; by default the Keras model's `serve` function, or the single
            `dtf.function` with an `input_signature`, as `"serving_default"`.
        options: accepted for TensorFlow compatibility; ignored.

    Raises:
        ValueError: something cannot be exported (a training step's optimizer, a Python
            callable in the graph, ...): the message names the function, op and attribute.

    Example:
        >>> class Scale:
        ...     def __init__(self):
        ...         self.w = dtf.Variable(2.0)
        ...     @dtf.function(input_signature=[dtf.TensorSpec([None], dtf.float32)])
        ...     def __call__(self, x):
        ...         return x * self.w
        >>> dtf.saved_model.save(Scale(), "scale")
        >>> dtf.saved_model.load("scale")(dtf.constant([1.0, 2.0])).numpy()
        array([2., 4.], dtype=float32)
    """
    del options
    _write(export.program_to_bytes(build_program(obj, signatures)), export_dir)


def export_keras_model(model, filepath, input_signature=None, verbose=True):
    """What Keras' `Model.export(filepath)` does: saves a `serve` endpoint (also the
    `serving_default` signature) running `model(inputs, training=False)`.

    Args:
        model: a built Keras model.
        filepath: the export directory (or a file path with an extension).
        input_signature: a TensorSpec (or a structure of them, or a one-item list holding it)
            for the inputs; by default the model's input specs with the batch dimension None.
        verbose: print where it went and the endpoint's specs, as Keras does.

    Example:
        >>> model = dtf.keras.Sequential([dtf.keras.Input((3,)), dtf.keras.layers.Dense(2)])
        >>> export_keras_model(model, "exported_dense")
        Saved artifact at 'exported_dense'. The following endpoints are available:
        <BLANKLINE>
        * Endpoint 'serve'
          inputs: TensorSpec(shape=(None, 3), dtype=dtf.float32, name='...')
          outputs: TensorSpec(shape=(None, 2), dtype=dtf.float32, name='output_0')
    """
    program = _keras_program(model, input_signature)
    _write(export.program_to_bytes(program), filepath)
    if verbose:
        serve = program.functions[program.attributes["serve"][0]]
        args, _ = serve.inputs
        slots = [s for s in nest.flatten(serve.outputs) if isinstance(s, OutputSlot)]
        outputs = [_spec_text(serve.graph.outputs[s.index], f"output_{i}")
                   for i, s in enumerate(slots)]
        print(f"Saved artifact at '{os.fspath(filepath)}'. The following endpoints are "
              f"available:\n\n* Endpoint 'serve'\n  inputs: "
              f"{', '.join(_spec_text(a) for a in export.input_specs(args))}\n"
              f"  outputs: {', '.join(outputs)}")


def _spec_text(t, name=None) -> str:
    dims = t.shape.dims
    shape = "<unknown>" if dims is None else "(" + ", ".join(
        "None" if d is None else str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"
    name = name or getattr(t, "name", None)
    return f"TensorSpec(shape={shape}, dtype=dtf.{t.dtype.name}, name={name!r})"


def _write(data: bytes, export_dir) -> str:
    path = file_path(export_dir, writing=True)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".saved_model.", dir=folder)
    try:  # written aside, then renamed: a reader never sees half a file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def file_path(export_dir, writing=False) -> str:
    """The file of an export: `export_dir/saved_model.dtf` for a directory (or a path without
    an extension), else the path itself."""
    path = os.fspath(export_dir)
    if os.path.isdir(path) or not os.path.splitext(os.path.basename(path.rstrip("/\\")))[1]:
        if writing:
            os.makedirs(path, exist_ok=True)
        return os.path.join(path, FILE_NAME)
    if writing and os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


# -- what an object holds ----------------------------------------------------------------------
def _function_types():
    from dtf.compile.function import ConcreteFunction, Function

    return Function, ConcreteFunction


def _is_keras_model(obj) -> bool:
    from dtf.keras.models.model import Model

    return isinstance(obj, Model)


def build_program(obj, signatures=None) -> Program:
    """The Program `save` writes for `obj` (see `save`)."""
    function_type, concrete_type = _function_types()
    builder = _ProgramBuilder()
    if isinstance(obj, (function_type, concrete_type)):
        builder.program.metadata["kind"] = "function"
        builder.add_attribute("__call__", obj)
        if signatures is None and _has_signature(obj):
            signatures = obj
    elif _is_keras_model(obj):
        return _keras_program(obj, None, signatures)
    else:
        builder.program.metadata["kind"] = "object"
        found = builder.add_object(obj)
        if signatures is None:
            with_signature = [f for f in found if _has_signature(f)]
            if len(with_signature) == 1:
                signatures = with_signature[0]
    builder.program.metadata["class_name"] = type(obj).__name__
    builder.add_signatures(signatures)
    if not builder.program.functions:
        raise ValueError(
            f"Nothing to save in {type(obj).__name__}: it holds no traced dtf.function. Give "
            "its functions an input_signature, call them once before saving, or pass "
            "signatures=.")
    return builder.program


def _has_signature(fn) -> bool:
    function_type, _ = _function_types()
    return isinstance(fn, function_type) and fn.input_signature is not None


class _ProgramBuilder:
    def __init__(self):
        self.program = Program(functions=[])
        self._exported: dict = {}  # id(ConcreteFunction) -> index

    def concrete_functions(self, fn, what):
        function_type, concrete_type = _function_types()
        if isinstance(fn, concrete_type):
            return [fn]
        if not isinstance(fn, function_type):
            raise TypeError(f"{what} must be a dtf.function or a ConcreteFunction, got "
                            f"{type(fn).__name__}.")
        concretes = fn._list_all_concrete_functions()
        if not concretes and fn.input_signature is not None:
            concretes = [fn.get_concrete_function()]
        return concretes

    def add_concrete(self, cf, python_function=None) -> int:
        k = self._exported.get(id(cf))
        if k is None:
            k = self._exported[id(cf)] = len(self.program.functions)
            self.program.functions.append(_exported_function(cf, python_function))
        return k

    def add_attribute(self, name, fn):
        concretes = self.concrete_functions(fn, f"attribute {name!r}")
        if concretes:
            python_function = getattr(fn, "python_function", None)
            self.program.attributes[name] = [self.add_concrete(cf, python_function)
                                             for cf in concretes]

    def add_signatures(self, signatures):
        if signatures is None:
            return
        if not isinstance(signatures, dict):
            signatures = {DEFAULT_SIGNATURE: signatures}
        for name, fn in signatures.items():
            self.add_signature(str(name), fn)

    def add_signature(self, name, fn):
        concretes = self.concrete_functions(fn, f"signature {name!r}")
        if len(concretes) != 1:
            raise ValueError(
                f"Signature {name!r} needs exactly one traced function; {fn!r} has "
                f"{len(concretes)}. Give the dtf.function an input_signature, or pass "
                "fn.get_concrete_function(...).")
        self.program.signatures[name] = len(self.program.functions)
        self.program.functions.append(_signature_function(concretes[0], name))

    def add_object(self, obj) -> list:
        """Adds the dtf.function attributes of `obj` and of the objects it holds; returns the
        Functions found at the top level."""
        function_type, concrete_type = _function_types()
        found = []
        seen = set()

        def visit(o, prefix, depth):
            if id(o) in seen or depth > _MAX_OBJECT_DEPTH:
                return
            seen.add(id(o))
            for name, value in _attributes(o):
                path = prefix + name
                if isinstance(value, (function_type, concrete_type)):
                    self.add_attribute(path, value)
                    if depth == 0:
                        found.append(value)
                elif getattr(value, "_is_dtf_variable", False):
                    if depth == 0:
                        self.program.variable_attributes[path] = value
                elif _is_container_object(value):
                    visit(value, path + ".", depth + 1)

        visit(obj, "", 0)
        from dtf.module import Module

        # a dtf.Module knows its Variables (in TensorFlow's order); other objects are walked
        self.program.variables.extend(
            obj.variables if isinstance(obj, Module) else _reachable_variables(obj))
        return found


def _attributes(obj):
    """(name, value) of an object's instance attributes and of its class's dtf.function
    methods (bound to it)."""
    function_type, _ = _function_types()
    names = {}
    for cls in reversed(type(obj).__mro__):
        for name, value in vars(cls).items():
            if isinstance(value, function_type):
                names[name] = None
    out = [(name, getattr(obj, name)) for name in sorted(names)]
    state = getattr(obj, "__dict__", None)
    if isinstance(state, dict):
        out.extend((k, v) for k, v in state.items()
                   if isinstance(k, str) and not k.startswith("__") and k not in names)
    return out


_LEAF_TYPES = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType,
               types.MethodType, Tensor, np.ndarray, str, bytes, int, float, bool)


def _is_container_object(value) -> bool:
    """An object whose attributes may hold more dtf.functions (a submodule)."""
    return (hasattr(value, "__dict__") and not isinstance(value, _LEAF_TYPES)
            and not _is_keras_model_or_layer(value) and not callable(getattr(value, "numpy",
                                                                               None)))


def _is_keras_model_or_layer(value) -> bool:
    from dtf.keras.layers.layer import Layer

    return isinstance(value, Layer)


def _reachable_variables(obj) -> list:
    """Variables reachable through attributes, lists, tuples and dicts (Keras layers: their
    `variables`), each once."""
    from dtf.keras.layers.layer import Layer

    out, seen = [], set()
    stack = [(obj, 0)]
    while stack:
        o, depth = stack.pop()
        if id(o) in seen or depth > _MAX_OBJECT_DEPTH or isinstance(o, _LEAF_TYPES):
            continue
        seen.add(id(o))
        if getattr(o, "_is_dtf_variable", False):
            out.append(o)
        elif isinstance(o, Layer):
            stack.extend((v, depth + 1) for v in reversed(o.variables))
        elif isinstance(o, (list, tuple)):
            stack.extend((v, depth + 1) for v in reversed(o))
        elif isinstance(o, dict):
            stack.extend((v, depth + 1) for v in reversed(list(o.values())))
        elif _is_container_object(o):
            stack.extend((v, depth + 1) for _, v in reversed(list(vars(o).items())))
    return out


# -- concrete functions -> file functions ------------------------------------------------------
def _exported_function(cf, python_function=None) -> ExportedFunction:
    graph = cf.graph
    inputs = cf.structured_input_signature
    position = {}
    for i, t in enumerate(graph.outputs):
        position.setdefault(id(t), i)

    def slot(leaf):
        if getattr(leaf, "_is_symbolic", False) or isinstance(leaf, Tensor):
            if id(leaf) not in position:
                raise ValueError(f"function {cf.name!r}: an output is not among its graph's "
                                 "outputs.")
            return OutputSlot(position[id(leaf)])
        return leaf

    outputs = _map_leaves(slot, cf.structured_outputs)
    return ExportedFunction(cf.name, graph, inputs, outputs,
                            _arg_names(python_function, len(inputs[0])))


def _map_leaves(fn, structure):
    if isinstance(structure, dict):
        return {k: _map_leaves(fn, v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map_leaves(fn, v) for v in structure) \
            if not hasattr(structure, "_fields") else tuple(_map_leaves(fn, v)
                                                            for v in structure)
    return fn(structure)


def _arg_names(python_function, n) -> list:
    names = []
    if python_function is not None:
        try:
            params = inspect.signature(python_function).parameters.values()
            names = [p.name for p in params
                     if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            names = []
    return [names[i] if i < len(names) else f"arg_{i}" for i in range(n)]


def _signature_function(cf, name) -> ExportedFunction:
    """A serving signature of `cf`: its tensor inputs flat and named (positional or by
    keyword), its tensor outputs in a dict (`output_0`, ... unless it returns a dict)."""
    exported = _exported_function(cf)
    specs, used = [], set()
    for i, spec in enumerate(export.input_specs(exported.inputs)):
        label = _identifier(spec.name or f"input_{i}")
        base, k = label, 1
        while label in used:
            label, k = f"{base}_{k}", k + 1
        used.add(label)
        specs.append(TensorSpec(spec.shape, spec.dtype, label))
    outputs = exported.outputs
    if isinstance(outputs, dict) and all(isinstance(k, str) for k in outputs):
        named = {k: v for k, v in outputs.items() if isinstance(v, OutputSlot)}
    else:
        slots = [s for s in nest.flatten(outputs) if isinstance(s, OutputSlot)]
        named = {f"output_{i}": s for i, s in enumerate(slots)}
    if not named:
        raise ValueError(f"Signature {name!r}: {cf.name!r} returns no tensors.")
    return ExportedFunction(name, cf.graph, (tuple(specs), {}), named,
                            [s.name for s in specs])


def _identifier(text: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in text)
    return out if out and not out[0].isdigit() else f"input_{out}"


# -- Keras ---------------------------------------------------------------------------------------
def _keras_program(model, input_signature=None, signatures=None) -> Program:
    serve = keras_serving_function(model, input_signature)
    builder = _ProgramBuilder()
    builder.program.metadata.update(kind="keras_model", class_name=type(model).__name__)
    builder.add_attribute("serve", serve)
    builder.program.attributes["__call__"] = builder.program.attributes["serve"]
    builder.program.variables.extend(model.variables)
    builder.add_signatures(serve if signatures is None else signatures)
    return builder.program


def keras_serving_function(model, input_signature=None):
    """A `dtf.function` running `model(inputs, training=False)` for inputs of the model's specs
    (batch dimension None), or of `input_signature` (a TensorSpec or structure of them)."""
    from dtf.compile.function import function

    if input_signature is None:
        input_signature = _keras_input_specs(model)
    elif isinstance(input_signature, (list, tuple)) and len(input_signature) == 1:
        input_signature = input_signature[0]

    def serve(inputs):
        return model(inputs, training=False)

    return function(serve, input_signature=[input_signature], name="serve")


def _keras_input_specs(model):
    inputs = getattr(model, "input", None) if hasattr(type(model), "input") else None
    if inputs is None:
        listed = getattr(model, "inputs", None)
        if listed:
            inputs = listed[0] if len(listed) == 1 else list(listed)
    if inputs is not None:
        return _map_leaves(lambda t: TensorSpec([None] + list(t.shape.dims[1:]), t.dtype,
                                                _identifier(t.name)), inputs)
    shapes = getattr(model, "_build_shapes", None)
    if shapes is None:
        raise ValueError(
            f"Cannot export Keras model {model.name!r}: its input shape is unknown. Call it "
            "on data or build it first, or give the specs: model.export(path, "
            "input_signature=[dtf.TensorSpec(...)]) (dtf.saved_model.export_keras_model).")
    dtype = getattr(model, "compute_dtype", None) or "float32"

    def spec(shape):
        dims = list(shape.dims) if hasattr(shape, "dims") else list(shape)
        return TensorSpec([None] + dims[1:], dtype, "inputs")

    if isinstance(shapes, (list, tuple)) and shapes and \
            all(isinstance(d, int) or d is None for d in shapes):
        return spec(shapes)
    return _map_leaves(spec, shapes) if not hasattr(shapes, "dims") else spec(shapes)
