"""Keras object (de)serialization: the registry of custom objects and the config format.

Every Keras object (initializer, layer, loss, ...) describes itself with `get_config()` and is
rebuilt with `cls.from_config(config)`. `serialize_keras_object` wraps that config in Keras 3's
envelope:

    {"module": "keras.initializers", "class_name": "GlorotUniform",
     "config": {"seed": None}, "registered_name": None}

and `deserialize_keras_object` reads that envelope back, as well as Keras 2's
`{"class_name", "config"}` and plain names ("relu", "glorot_uniform").

Names resolve, first match wins, through: the active `custom_object_scope`s, the objects
registered with `register_keras_serializable` (as "package>name"), the `custom_objects`
argument, the caller's `module_objects` (e.g. the initializers module's names), and last the
public dtf Keras modules named by the config's "module" ("keras.layers" -> `dtf.keras.layers`).

Example:
    >>> @register_keras_serializable(package="my_pkg")
    ... class Scale:
    ...     def __init__(self, factor=1.0):
    ...         self.factor = factor
    ...     def get_config(self):
    ...         return {"factor": self.factor}
    ...     @classmethod
    ...     def from_config(cls, config):
    ...         return cls(**config)
    >>> config = serialize_keras_object(Scale(2.0))
    >>> config["registered_name"]
    'my_pkg>Scale'
    >>> deserialize_keras_object(config).factor
    2.0
"""

from __future__ import annotations

import base64
import importlib
import inspect
import marshal
import threading
import types
import warnings

import numpy as np

__all__ = [
    "CustomObjectScope",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "register_keras_serializable",
    "serialize_keras_object",
]

# "package>name" -> object, and object -> "package>name"
_GLOBAL_CUSTOM_OBJECTS: dict = {}
_GLOBAL_CUSTOM_NAMES: dict = {}

# Modules searched for a function saved by bare name (Keras 3 saves built-in functions with
# module "builtins"), in Keras' order.
_BUILTIN_FUNCTION_MODULES = ("activations", "constraints", "initializers", "losses", "metrics",
                             "optimizers", "regularizers")

_PLAIN_TYPES = (str, int, float, bool)


class _ScopeState(threading.local):
    """The custom objects of the active `custom_object_scope`s of this thread."""

    def __init__(self):
        self.objects: dict = {}
        self.safe_mode = None  # set by SafeModeScope: overrides the `safe_mode` arguments


_scope = _ScopeState()


# -- registration -----------------------------------------------------------------------------
def register_keras_serializable(package="Custom", name=None):
    """Registers a class or function under "package>name" so configs can name it.

    Classes must have a `get_config()` method. `name` defaults to the object's `__name__`.

    Args:
        package: the package part of the registered name.
        name: the name part; None for the object's `__name__`.

    Returns:
        A decorator that registers its argument and returns it unchanged.

    Example:
        >>> @register_keras_serializable("my_pkg")
        ... def scaled_relu(x):
        ...     return 2.0 * dtf.nn.relu(x)
        >>> get_registered_name(scaled_relu)
        'my_pkg>scaled_relu'
    """

    def decorator(arg):
        class_name = name if name is not None else arg.__name__
        registered_name = f"{package}>{class_name}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(
                f"Cannot register the class {arg.__name__!r} as {registered_name!r}: it has no "
                "get_config() method. Define get_config() (returning the constructor's "
                "arguments as a dict) so that the class can be serialized.")
        _GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        _GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_registered_name(obj):
    """The name `obj` was registered under ("package>name"), else its `__name__`.

    Example:
        >>> get_registered_name(dtf.keras.initializers.Zeros)
        'Zeros'
    """
    try:
        return _GLOBAL_CUSTOM_NAMES[obj]
    except (KeyError, TypeError):  # TypeError: an unhashable object is never registered
        return obj.__name__


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered (or in scope) under `name`, or None.

    Looked up in: the active `custom_object_scope`s, the objects registered with
    `register_keras_serializable`, `custom_objects`, then `module_objects`.

    Example:
        >>> get_registered_object("x", custom_objects={"x": abs}) is abs
        True
    """
    if name in _scope.objects:
        return _scope.objects[name]
    if name in _GLOBAL_CUSTOM_OBJECTS:
        return _GLOBAL_CUSTOM_OBJECTS[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def get_custom_objects():
    """The global dict of registered objects ("package>name" -> object); it may be edited.

    Example:
        >>> get_custom_objects()["my_abs"] = abs
        >>> deserialize_keras_object("my_abs") is abs
        True
        >>> del get_custom_objects()["my_abs"]
    """
    return _GLOBAL_CUSTOM_OBJECTS


class CustomObjectScope:
    """Makes custom objects known by name to deserialization inside a `with` block.

    Args:
        custom_objects: a dict `{name: object}` (several dicts may be given, later ones win).

    Example:
        >>> def my_activation(x):
        ...     return x
        >>> with custom_object_scope({"my_activation": my_activation}):
        ...     fn = deserialize_keras_object("my_activation")
        >>> fn is my_activation
        True
    """

    def __init__(self, *custom_objects):
        self.custom_objects = {}
        for objects in custom_objects:
            if objects:
                self.custom_objects.update(objects)
        self._backup = None

    def __enter__(self):
        self._backup = _scope.objects
        _scope.objects = {**self._backup, **self.custom_objects}
        return self

    def __exit__(self, *exc_info):
        _scope.objects = self._backup
        return False


custom_object_scope = CustomObjectScope


class SafeModeScope:
    """Sets `safe_mode` for every deserialization inside the `with` block, nested ones too
    (a Lambda layer's config inside a Sequential's), as Keras' `SafeModeScope`.

    Example:
        >>> with SafeModeScope(False):
        ...     in_safe_mode()
        False
    """

    def __init__(self, safe_mode=True):
        self.safe_mode = safe_mode
        self._backup = None

    def __enter__(self):
        self._backup = _scope.safe_mode
        _scope.safe_mode = self.safe_mode
        return self

    def __exit__(self, *exc_info):
        _scope.safe_mode = self._backup
        return False


def in_safe_mode():
    """The `safe_mode` of the innermost active SafeModeScope (None outside any)."""
    return _scope.safe_mode


# -- serialization ----------------------------------------------------------------------------
def serialize_keras_object(obj):
    """The config of `obj` in Keras 3's format, built from its `get_config()`.

    None, strings, numbers and booleans pass through; lists, tuples and dicts are serialized
    item by item; NumPy scalars become Python numbers, arrays and tensors
    `{"class_name": "__numpy__" | "__tensor__", ...}`; dtypes their name; shapes a list;
    functions `{"class_name": "function", "config": <registered name>, ...}`; other objects
    `{"module", "class_name", "config", "registered_name"}`.

    Raises:
        TypeError: `obj` has no `get_config()` and is none of the above.

    Example:
        >>> serialize_keras_object(dtf.keras.initializers.Constant(3.0))["config"]
        {'value': 3.0}
    """
    if obj is None or isinstance(obj, _PLAIN_TYPES):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [serialize_keras_object(x) for x in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return _serialize_dict(obj)
    special = _serialize_special(obj)
    if special is not _NOT_SPECIAL:
        return special
    if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        warnings.warn("The object being serialized includes a `lambda`. Loading it back needs "
                      "`safe_mode=False`; use a named function (registered with "
                      "register_keras_serializable) instead.", stacklevel=2)
        return {"class_name": "__lambda__", "config": {"value": _func_dump(obj)}}
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        # Keras 3's form for every function: the name (registered name when registered)
        return {"module": "builtins", "class_name": "function",
                "config": get_registered_name(obj), "registered_name": "function"}
    if inspect.isclass(obj):
        # a class is saved by name, like a function (Keras: `_get_class_or_fn_config`)
        return {"module": "builtins", "class_name": "type",
                "config": get_registered_name(obj), "registered_name": None}
    if not hasattr(obj, "get_config"):
        raise TypeError(f"Cannot serialize object {obj!r} of type {type(obj).__name__}: to be "
                        "serializable, a class must implement the `get_config()` method.")
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"The `get_config()` method of {obj!r} should return a dict. It "
                        f"returned: {config!r}")
    cls = type(obj)
    public_module = _public_module(cls)
    if public_module is not None and cls not in _GLOBAL_CUSTOM_NAMES:
        module, registered_name = public_module, None
    else:
        module = None if cls.__module__ == "__main__" else cls.__module__
        registered_name = get_registered_name(cls)
    result = {"module": module, "class_name": cls.__name__, "config": _serialize_dict(config),
              "registered_name": registered_name}
    for key, getter in (("build_config", "get_build_config"),
                        ("compile_config", "get_compile_config")):
        if hasattr(obj, getter):
            extra = getattr(obj, getter)()
            if extra is not None:
                result[key] = _serialize_dict(extra)
    return result


_NOT_SPECIAL = object()


def _serialize_special(obj):
    """Values Keras writes in a tagged form (or as plain data), else _NOT_SPECIAL."""
    from dtf import dtypes
    from dtf.tensor import Tensor
    from dtf.tensor_shape import TensorShape

    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):
        return {"class_name": "__slice__",
                "config": {"start": serialize_keras_object(obj.start),
                           "stop": serialize_keras_object(obj.stop),
                           "step": serialize_keras_object(obj.step)}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, TensorShape):
        return obj.as_list() if obj.rank is not None else None
    if isinstance(obj, dtypes.DType):
        return obj.name
    if isinstance(obj, Tensor) or getattr(obj, "_is_dtf_variable", False):
        if getattr(obj, "_is_symbolic", False):
            raise TypeError(f"Cannot serialize the symbolic tensor {obj!r}: it has no value. "
                            "Serialize the model or layer that produces it instead.")
        return {"class_name": "__tensor__",
                "config": {"value": np.asarray(obj.numpy()).tolist(), "dtype": obj.dtype.name}}
    if isinstance(obj, np.ndarray) and obj.ndim > 0:
        return {"class_name": "__numpy__",
                "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.item()
    if isinstance(obj, np.dtype):
        return obj.name
    return _NOT_SPECIAL


def _serialize_dict(config):
    return {key: serialize_keras_object(value) for key, value in config.items()}


_public_modules: dict = {}


def _public_module(cls):
    """"keras.<family>" when `cls` is public dtf Keras API (`dtf.keras.<family>.<Name>` is
    `cls`), else None. A class may name its public module in `_keras_api_module`."""
    try:
        return _public_modules[cls]
    except KeyError:
        pass
    result = cls.__dict__.get("_keras_api_module")
    if result is None:
        parts = cls.__module__.split(".")
        if len(parts) >= 3 and parts[:2] == ["dtf", "keras"]:
            try:
                family = importlib.import_module(f"dtf.keras.{parts[2]}")
            except ImportError:
                family = None
            if family is not None and getattr(family, cls.__name__, None) is cls:
                result = f"keras.{parts[2]}"
    _public_modules[cls] = result
    return result


# -- deserialization --------------------------------------------------------------------------
def deserialize_keras_object(config, module_objects=None, custom_objects=None,
                             printable_module_name="object", safe_mode=True):
    """Rebuilds the object that `config` describes.

    Args:
        config: a Keras 3 config (`{"module", "class_name", "config", "registered_name"}`), a
            Keras 2 config (`{"class_name", "config"}`), a name, or plain data (None, numbers,
            lists, dicts of configs).
        module_objects: a dict of the names the caller's module offers (e.g. every
            initializer by class and function name).
        custom_objects: a dict `{name: class or function}` of user objects.
        printable_module_name: what the objects are, for error messages ("initializer").
        safe_mode: refuse to load serialized lambdas (they could run arbitrary code).

    Returns:
        The object: `cls.from_config(config["config"])` for a class, the function for a
        function; a name that is a class gives `cls.from_config({})`.

    Raises:
        ValueError: a name cannot be resolved (pass it in `custom_objects`, or register it
            with `register_keras_serializable`).

    Example:
        >>> from dtf.keras import initializers
        >>> init = deserialize_keras_object(
        ...     {"class_name": "RandomNormal", "config": {"stddev": 0.1}},
        ...     module_objects=vars(initializers))
        >>> init.stddev
        0.1
    """
    if _scope.safe_mode is not None:
        safe_mode = _scope.safe_mode
    if config is None:
        return None
    if isinstance(config, str):
        return _deserialize_name(config, module_objects, custom_objects, printable_module_name)
    if isinstance(config, _PLAIN_TYPES):
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, module_objects, custom_objects,
                                         printable_module_name, safe_mode) for x in config]
    if not isinstance(config, dict):
        raise TypeError(f"Could not parse {printable_module_name} config {config!r} of type "
                        f"{type(config).__name__}: expected a dict, a name or plain data.")
    if "class_name" not in config or "config" not in config:
        return {key: deserialize_keras_object(value, None, custom_objects,
                                              printable_module_name, safe_mode)
                for key, value in config.items()}
    class_name = config["class_name"]
    inner = config["config"] if config["config"] is not None else {}
    special = _deserialize_special(class_name, inner, custom_objects, safe_mode)
    if special is not _NOT_SPECIAL:
        return special
    if class_name in ("function", "type"):
        if not isinstance(inner, str):
            raise TypeError(f"Expected 'config' to be the name of the {class_name} (a str), "
                            f"got {inner!r}. Full config: {config}")
        obj = _resolve(inner, None, config.get("module"), module_objects, custom_objects)
        if obj is None:
            raise _unknown(printable_module_name, inner, config)
        return obj
    registered_name = config.get("registered_name") or class_name
    cls = _resolve(class_name, registered_name, config.get("module"), module_objects,
                   custom_objects)
    if cls is None:
        raise _unknown(printable_module_name, registered_name, config)
    if isinstance(cls, types.FunctionType):
        return cls
    if not hasattr(cls, "from_config"):
        raise TypeError(f"Unable to reconstruct an instance of {class_name!r}: the class has "
                        f"no `from_config()` method. Full config: {config}")
    if not isinstance(inner, dict):
        raise TypeError(f"Expected 'config' to be a dict for {class_name}, got {inner!r}. "
                        f"Full config: {config}")
    # Inside a scope, so that objects the config refers to (a custom activation of a custom
    # layer, ...) resolve when from_config deserializes them.
    with CustomObjectScope(custom_objects), SafeModeScope(safe_mode):
        try:
            instance = _from_config(cls, inner, safe_mode)
        except TypeError as e:
            raise TypeError(f"{cls.__name__} could not be rebuilt from its config: {e}. Make "
                            "sure get_config() returns the constructor's arguments, and that "
                            "from_config() deserializes the objects in it (layers, "
                            f"initializers, ...). Config: {inner}") from e
        build_config = config.get("build_config")
        if build_config and hasattr(instance, "build_from_config") and \
                not getattr(instance, "built", False):
            instance.build_from_config(build_config)
        compile_config = config.get("compile_config")
        if compile_config and hasattr(instance, "compile_from_config"):
            instance.compile_from_config(compile_config)
    return instance


def _from_config(cls, inner, safe_mode):
    """`cls.from_config(inner)`, passing `safe_mode` to a from_config that takes it (Lambda)."""
    try:
        takes_safe_mode = "safe_mode" in inspect.signature(cls.from_config).parameters
    except (TypeError, ValueError):
        takes_safe_mode = False
    if takes_safe_mode:
        return cls.from_config(inner, safe_mode=safe_mode)
    return cls.from_config(inner)


def _deserialize_name(name, module_objects, custom_objects, printable_module_name):
    obj = get_registered_object(name, custom_objects, module_objects)
    if obj is None:
        if module_objects is None:
            return name  # plain string data (a dtype name, a padding mode, ...)
        raise _unknown(printable_module_name, name, None)
    if inspect.isclass(obj) and hasattr(obj, "from_config") and module_objects is not None \
            and name in module_objects:
        return obj.from_config({})  # "glorot_uniform"-style names of classes: an instance
    return obj


def _deserialize_special(class_name, inner, custom_objects, safe_mode):
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__tensor__":
        from dtf.ops.creation_ops import constant

        return constant(np.array(inner["value"], dtype=inner["dtype"]))
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        return slice(*(deserialize_keras_object(inner[k], custom_objects=custom_objects)
                       for k in ("start", "stop", "step")))
    if class_name == "__lambda__":
        if safe_mode:
            raise ValueError("Requested the deserialization of a Python lambda. This can run "
                             "arbitrary code, so it is refused by default; if you trust the "
                             "source of the config, pass `safe_mode=False`.")
        return _func_load(inner["value"])
    return _NOT_SPECIAL


def _resolve(name, registered_name, module, module_objects, custom_objects):
    """The class or function a config names, or None."""
    for key in (registered_name, name) if registered_name not in (None, name) else (name,):
        obj = get_registered_object(key, custom_objects, module_objects)
        if obj is not None:
            return obj
    if not module:
        return None
    if module == "builtins":
        for family in _BUILTIN_FUNCTION_MODULES:
            obj = _public_attr(family, name)
            if obj is not None:
                return obj
        # Keras <= 3.6 saved registered functions by bare name, not "package>name"
        for key, obj in {**_GLOBAL_CUSTOM_OBJECTS, **(custom_objects or {})}.items():
            if key.endswith(f">{name}"):
                return obj
        return None
    if module == "keras" or module.startswith("keras."):
        return _public_attr(module[len("keras."):], name)
    return None


def _public_attr(family, name):
    """`dtf.keras.<family>.<name>` (`dtf.keras.<name>` for an empty family), or None."""
    module_name = f"dtf.keras.{family}" if family else "dtf.keras"
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None  # that family is not part of dtf (yet): the name is unknown
    obj = getattr(module, name, None)
    if inspect.isclass(obj) or callable(obj):
        return obj
    return None


def _unknown(printable_module_name, name, config):
    shown = f" Full config: {config}" if config is not None else ""
    return ValueError(
        f"Unknown {printable_module_name}: {name!r}. If it is a custom class or function, pass "
        f"it to the loading function in `custom_objects={{{name!r}: ...}}`, use a "
        "`keras.saving.custom_object_scope`, or register it with "
        f"`@keras.saving.register_keras_serializable()`.{shown}")


# -- lambdas (Keras' func_dump format: base64 of the marshalled code, defaults, closure) -----
def _func_dump(func):
    code = base64.encodebytes(marshal.dumps(func.__code__)).decode("ascii")
    closure = tuple(c.cell_contents for c in func.__closure__) if func.__closure__ else None
    return code, func.__defaults__, closure


def _func_load(dumped, globs=None):
    code, defaults, closure = dumped
    if isinstance(defaults, list):
        defaults = tuple(defaults)
    if closure is not None:
        closure = tuple(types.CellType(value) for value in closure)
    code = marshal.loads(base64.decodebytes(code.encode("ascii")))
    return types.FunctionType(code, globs if globs is not None else {"__builtins__": __builtins__},
                              name=code.co_name, argdefs=defaults, closure=closure)
