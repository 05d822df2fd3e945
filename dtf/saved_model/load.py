"""`dtf.saved_model.load`: a saved file back as an object of callables.

The file's graphs run on the op table alone (through the compiled plan of `dtf.function`, or op
by op under a GradientTape, so gradients flow through loaded functions); the Python code that
traced them is not needed. Each callable checks its arguments against the stored input specs.
"""

from __future__ import annotations

import os

from dtf import nest
from dtf.compile import export
from dtf.compile.export import ExportFormatError, OutputSlot
from dtf.saved_model.save import file_path
from dtf.tensor import Tensor
from dtf.tensor_spec import TensorSpec

__all__ = ["LoadedFunction", "LoadedObject", "load", "load_bytes"]


def load(export_dir, tags=None, options=None):
    """Loads what `dtf.saved_model.save` wrote.

    Args:
        export_dir: the export directory, or the file.
        tags, options: accepted for TensorFlow compatibility; ignored.

    Returns:
        A `LoadedObject`: the saved object's functions as callable attributes (the object
        itself is callable when it was a function or had `__call__`), `signatures`, and
        `variables` / `trainable_variables` / `non_trainable_variables`.

    Raises:
        FileNotFoundError: nothing was saved there.
        ExportFormatError: the file is corrupt, truncated, not a dtf saved model, or of an
            unsupported version.

    Example:
        >>> f = dtf.function(lambda x: x + 1.0,
        ...                  input_signature=[dtf.TensorSpec([None], dtf.float32)])
        >>> dtf.saved_model.save(f, "plus_one")
        >>> dtf.saved_model.load("plus_one")(dtf.constant([1.0])).numpy()
        array([2.], dtype=float32)
    """
    del tags, options
    path = file_path(export_dir)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"No dtf saved model at {os.fspath(export_dir)!r} (looked for {path!r}). Save one "
            "with dtf.saved_model.save(obj, path).")
    with open(path, "rb") as f:
        data = f.read()
    return load_bytes(data)


def load_bytes(data) -> LoadedObject:
    """`load` from the contents of a file."""
    return _build(export.program_from_bytes(data))


class LoadedFunction:
    """A loaded function: calls the stored graph whose input specs match the arguments."""

    def __init__(self, name, concretes, arg_names):
        self.__name__ = name
        self._concretes = concretes
        self._arg_names = arg_names  # per concrete function

    @property
    def concrete_functions(self) -> list:
        return list(self._concretes)

    def get_concrete_function(self, *args, **kwargs):
        """The traced function these arguments (Tensors or TensorSpecs) would call; with no
        arguments, the only one."""
        if not args and not kwargs:
            if len(self._concretes) == 1:
                return self._concretes[0]
            raise ValueError(f"{self.__name__!r} holds {len(self._concretes)} traced functions; "
                             "pass arguments or specs to choose one.")
        for cf, names in zip(self._concretes, self._arg_names):
            bound = _bind(args, kwargs, names, cf)
            if bound is not None and _structure_accepts(cf.structured_input_signature,
                                                        bound, specs_ok=True):
                return cf
        raise self._no_match(args, kwargs)

    def __call__(self, *args, **kwargs):
        if len(self._concretes) == 1:
            cf = self._concretes[0]
            bound = _bind(args, kwargs, self._arg_names[0], cf)
            if bound is None:
                return cf(*args, **kwargs)  # its error names what is missing or extra
            return cf(*bound[0], **bound[1])
        for cf, names in zip(self._concretes, self._arg_names):
            bound = _bind(args, kwargs, names, cf)
            if bound is not None and _structure_accepts(cf.structured_input_signature, bound):
                return cf(*bound[0], **bound[1])
        raise self._no_match(args, kwargs)

    def _no_match(self, args, kwargs):
        options = "\n".join(f"  Option {i + 1}: {_signature_text(cf)}"
                            for i, cf in enumerate(self._concretes))
        return TypeError(
            f"Could not find a traced function of {self.__name__!r} in the saved model that "
            f"matches the arguments {_given_text(args, kwargs)}. The file holds these "
            f"{len(self._concretes)} option(s):\n{options}\nCall it with matching tensors, or "
            "trace the function for these inputs before saving.")

    def __repr__(self):
        return f"<LoadedFunction {self.__name__} ({len(self._concretes)} traced)>"


class LoadedObject:
    """What `load` returns: attributes as saved, plus `signatures` and the Variables."""

    def __init__(self):
        self.signatures = {}
        self.variables = []
        self.trainable_variables = []
        self.non_trainable_variables = []

    def __call__(self, *args, **kwargs):
        call = self.__dict__.get("__call__")
        if call is None:
            raise TypeError("This loaded object is not callable: the saved object had no "
                            f"__call__ function. Its functions: {self._function_names()}.")
        return call(*args, **kwargs)

    def _function_names(self):
        return sorted(k for k, v in vars(self).items() if isinstance(v, LoadedFunction))

    def __repr__(self):
        kind = getattr(self, "_metadata", {}).get("class_name", "object")
        return f"<LoadedObject of a saved {kind}: {self._function_names()}>"


# -- building ----------------------------------------------------------------------------------
def _build(program) -> LoadedObject:
    concretes = [_concrete(f) for f in program.functions]
    obj = LoadedObject()
    obj._metadata = dict(program.metadata)
    obj.variables = list(program.variables)
    obj.trainable_variables = [v for v in program.variables if v.trainable]
    obj.non_trainable_variables = [v for v in program.variables if not v.trainable]
    for path, indices in sorted(program.attributes.items()):
        name = path.rsplit(".", 1)[-1]
        if name == "__call__" and indices:  # a saved function: errors use its own name
            name = concretes[indices[0]].name
        fn = LoadedFunction(name, [concretes[i] for i in indices],
                            [program.functions[i].arg_names for i in indices])
        _set_path(obj, path, fn)
    for path, index in sorted(program.variable_attributes.items()):
        _set_path(obj, path, program.variables[index])
    for name, index in program.signatures.items():
        obj.signatures[name] = LoadedFunction(name, [concretes[index]],
                                              [program.functions[index].arg_names])
    return obj


_RESERVED = frozenset({"signatures", "variables", "trainable_variables",
                       "non_trainable_variables", "_metadata"})


def _set_path(obj, path, value):
    parts = path.split(".")
    if any(not p for p in parts) or parts[0] in _RESERVED:
        raise ExportFormatError(f"Invalid dtf saved model: attribute name {path!r} is not "
                                "allowed.")
    for part in parts[:-1]:
        child = obj.__dict__.get(part)
        if child is None:
            child = LoadedObject()
            obj.__dict__[part] = child
        elif not isinstance(child, LoadedObject):
            raise ExportFormatError(f"Invalid dtf saved model: attribute {path!r} goes through "
                                    f"{part!r}, which is not an object.")
        obj = child
    if parts[-1] in obj.__dict__:
        raise ExportFormatError(f"Invalid dtf saved model: attribute {path!r} is given twice.")
    obj.__dict__[parts[-1]] = value


def _concrete(exported):
    """A `ConcreteFunction` over a loaded graph: called exactly as a freshly traced one."""
    from dtf.compile.function import ConcreteFunction, _Leaf

    graph = exported.graph

    def leaf(x):
        return _Leaf(x) if isinstance(x, TensorSpec) else x

    args, kwargs = exported.inputs
    arg_structure = (tuple(_map(leaf, a) for a in args),
                     {k: _map(leaf, v) for k, v in kwargs.items()})
    structure = _map(lambda s: graph.outputs[s.index] if isinstance(s, OutputSlot) else s,
                     exported.outputs)
    output_leaves = [("graph", s.index) if isinstance(s, OutputSlot) else ("python", s)
                     for s in nest.flatten(exported.outputs)]
    return ConcreteFunction(exported.name, graph, export.input_specs(exported.inputs),
                            arg_structure, structure, output_leaves, {"loaded": True})


def _map(fn, structure):
    if isinstance(structure, dict):
        return {k: _map(fn, v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map(fn, v) for v in structure)
    return fn(structure)


# -- matching calls ----------------------------------------------------------------------------
def _bind(args, kwargs, arg_names, cf):
    """(args, kwargs) with keyword arguments that name positional parameters moved into
    place; None when they cannot be (a missing or doubled argument)."""
    expected_args = cf.structured_input_signature[0]
    if not kwargs or len(args) >= len(expected_args):
        return tuple(args), dict(kwargs)
    kwargs = dict(kwargs)
    args = list(args)
    for i in range(len(args), len(expected_args)):
        name = arg_names[i] if i < len(arg_names) else None
        spec = expected_args[i]
        spec_name = spec.name if isinstance(spec, TensorSpec) else None
        if name in kwargs:
            args.append(kwargs.pop(name))
        elif spec_name in kwargs:
            args.append(kwargs.pop(spec_name))
        else:
            return None
    return tuple(args), kwargs


def _structure_accepts(expected, given, specs_ok=False) -> bool:
    """Whether `given` has `expected`'s structure, tensors matching its specs and equal
    Python values."""
    if isinstance(expected, TensorSpec):
        if specs_ok and isinstance(given, TensorSpec):
            return given.dtype == expected.dtype and expected.shape.is_compatible_with(
                given.shape)
        return _tensor_accepts(expected, given)
    if isinstance(expected, dict):
        return isinstance(given, dict) and set(given) == set(expected) and all(
            _structure_accepts(expected[k], given[k], specs_ok) for k in expected)
    if isinstance(expected, (list, tuple)):
        return isinstance(given, (list, tuple)) and len(given) == len(expected) and all(
            _structure_accepts(e, g, specs_ok) for e, g in zip(expected, given))
    try:
        return bool(expected == given) and type(expected) is type(given)
    except (TypeError, ValueError):
        return False


def _tensor_accepts(spec, value) -> bool:
    """As the call will check it: a Tensor or Variable as it is, other data converted to the
    spec's dtype."""
    from dtf.ops.creation_ops import convert_to_tensor

    if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False):
        return value.dtype == spec.dtype and spec.shape.is_compatible_with(value.shape)
    try:
        t = convert_to_tensor(value, dtype=spec.dtype)
    except (TypeError, ValueError):
        return False
    return spec.shape.is_compatible_with(t.shape)


def _signature_text(cf) -> str:
    args, kwargs = cf.structured_input_signature
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{cf.name}({', '.join(parts)})"


def _given_text(args, kwargs) -> str:
    def describe(x):
        if hasattr(x, "shape") and hasattr(x, "dtype"):
            dims = getattr(x.shape, "dims", x.shape)
            dtype = getattr(x.dtype, "name", x.dtype)
            return f"{dtype}{list(dims) if dims is not None else '[?]'}"
        if isinstance(x, (list, tuple)):
            inner = ", ".join(describe(v) for v in x)
            return f"[{inner}]" if isinstance(x, list) else f"({inner})"
        if isinstance(x, dict):
            return "{" + ", ".join(f"{k!r}: {describe(v)}" for k, v in x.items()) + "}"
        return repr(x)

    parts = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return f"({', '.join(parts)})"
