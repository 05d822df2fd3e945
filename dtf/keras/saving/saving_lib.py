"""The `.keras` archive and `.weights.h5` files: writing them, and reading them back checked.

A `.keras` file is a zip archive, as Keras 3 writes it:

- `metadata.json`: `{"keras_version": "dtf <version>", "date_saved": ...}`;
- `config.json`: `serialize_keras_object(model)`, with the model's `compile_config` (the
  arguments of `compile()`) and `build_config` (the input shape a subclassed model was built
  with, so that loading can create its weights before filling them);
- `model.weights.h5`: every Variable of the model and of its optimizer, in Keras 3's HDF5
  layout (`layers/dense/vars/0`, `optimizer/vars/3`; see `object_graph`).

Loading reads the whole archive into memory and checks it (a zip, with a config, holding
Keras weights) before it builds anything; loading weights into a model checks every shape
before it assigns any. Files are written to a temporary file next to the target and renamed
over it at the end, so a save that fails leaves the previous file as it was.

Example:
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> save_model(model, path)
    >>> restored = load_model(path)
    >>> np.array_equal(restored.get_weights()[0], model.get_weights()[0])
    True
"""

from __future__ import annotations

import datetime
import io
import json
import os
import uuid
import warnings
import zipfile
import zlib

from dtf.keras.saving import h5_store, weights_io
from dtf.keras.saving.serialization import (
    CustomObjectScope,
    SafeModeScope,
    deserialize_keras_object,
    serialize_keras_object,
)

__all__ = ["build_from_config", "get_build_config", "load_model", "load_weights_only",
           "save_model", "save_weights_only"]

CONFIG_FILENAME = "config.json"
METADATA_FILENAME = "metadata.json"
WEIGHTS_FILENAME = "model.weights.h5"

# A member that declares more than this many bytes and more than 100 times its stored size is
# a "zip bomb", not a model (Keras' guard: archives are written stored, about 1:1).
_BOMB_FLOOR_BYTES = 1 << 32
_BOMB_MAX_EXPANSION = 100


# -- build config ---------------------------------------------------------------------------
def get_build_config(layer):
    """`{"input_shape": ...}`: the shape `layer` was built with (Keras 3's `build_config`), or
    None when it is not built or the shape is unknown. A layer's own `get_build_config()`
    wins."""
    method = getattr(layer, "get_build_config", None)
    if callable(method):
        return method()
    if not getattr(layer, "built", False):
        return None
    shapes = layer.__dict__.get("_build_shapes")
    if shapes is None:
        return None
    return {"input_shape": _shape_to_json(shapes)}


def build_from_config(layer, config):
    """Builds `layer` from `get_build_config()`'s dict (a layer's own `build_from_config()`
    wins), creating its weights so that saved values can be loaded into them."""
    method = getattr(layer, "build_from_config", None)
    if callable(method):
        method(config)
        return
    if not config:
        return
    shape = config.get("input_shape")
    if shape is None and config.get("shapes_dict"):  # Keras 3: {"<arg>_shape": shape}
        shapes = list(config["shapes_dict"].values())
        shape = shapes[0] if len(shapes) == 1 else shapes
    if shape is None:
        return
    layer.build(_shape_from_json(shape))
    object.__setattr__(layer, "built", True)


def _shape_to_json(shape):
    if hasattr(shape, "as_list"):
        return shape.as_list() if shape.rank is not None else None
    if isinstance(shape, dict):
        return {k: _shape_to_json(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)):
        return [_shape_to_json(d) if isinstance(d, (list, tuple, dict)) or hasattr(d, "as_list")
                else (None if d is None else int(d)) for d in shape]
    return shape


def _shape_from_json(shape):
    if isinstance(shape, dict):
        return {k: _shape_from_json(v) for k, v in shape.items()}
    if isinstance(shape, list):
        if all(d is None or isinstance(d, int) for d in shape):
            return tuple(shape)
        return [_shape_from_json(s) for s in shape]
    return shape


# -- writing ----------------------------------------------------------------------------------
def _metadata():
    import dtf

    return {"keras_version": f"dtf {dtf.__version__}",
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}


def serialize_model(model):
    """The model's config as `config.json` holds it (with build and compile configs)."""
    config = serialize_keras_object(model)
    if "build_config" not in config:
        build_config = get_build_config(model)
        if build_config is not None:
            config["build_config"] = build_config
    return config


def _to_json(config, what, model):
    try:
        return json.dumps(config)
    except (TypeError, ValueError) as e:
        raise TypeError(f"Cannot save {type(model).__name__} '{model.name}': its {what} is not "
                        f"JSON data ({e}). Make get_config() return plain values (numbers, "
                        "strings, lists, dicts) or serialized Keras objects.") from None


def _weights_bytes(model, include_optimizer=True):
    buffer = io.BytesIO()
    h5_store.write_weights(buffer, weights_io.collect_groups(model, include_optimizer))
    return buffer.getvalue()


def _write_atomically(filepath, write):
    """Calls `write(file)` on a temporary file next to `filepath`, then renames it over
    `filepath`: a failure leaves the previous file untouched."""
    if hasattr(filepath, "write"):
        write(filepath)
        return
    filepath = os.fspath(filepath)
    temporary = f"{filepath}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        with open(temporary, "xb") as f:
            write(f)
        os.replace(temporary, filepath)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def save_model(model, filepath, include_optimizer=True):
    """Writes `model` as a `.keras` archive to `filepath` (a path or a binary file object)."""
    if not getattr(model, "built", True):
        warnings.warn("You are saving a model that has not yet been built. It might not "
                      "contain any weights yet. Consider building the model first by calling "
                      "it on some data.", stacklevel=3)
    config = serialize_model(model)
    if not include_optimizer:
        config.pop("compile_config", None)
    config_json = _to_json(config, "config", model)
    metadata_json = json.dumps(_metadata())
    weights = _weights_bytes(model, include_optimizer)

    def write(f):
        with zipfile.ZipFile(f, "w") as archive:
            archive.writestr(METADATA_FILENAME, metadata_json)
            archive.writestr(CONFIG_FILENAME, config_json)
            archive.writestr(WEIGHTS_FILENAME, weights)

    _write_atomically(filepath, write)


def save_weights_only(model, filepath):
    """Writes the model's (and its optimizer's) Variables as an HDF5 `.weights.h5` file."""
    if not getattr(model, "built", True):
        raise ValueError(f"You are saving the weights of model '{model.name}', which has not "
                         "yet been built. Try building the model first by calling it on some "
                         "data or by using `build()`.")
    data = _weights_bytes(model)
    _write_atomically(filepath, lambda f: f.write(data))


# -- reading ----------------------------------------------------------------------------------
def _label(filepath):
    """How errors name the file: its path (a file object's name when it has one)."""
    if hasattr(filepath, "read"):
        name = getattr(filepath, "name", None)
        return name if isinstance(name, str) else "<file object>"
    return os.fspath(filepath)


def _open_archive(filepath, label):
    try:
        return zipfile.ZipFile(filepath, "r")
    except FileNotFoundError:
        raise ValueError(f"File not found: filepath={label}. Please ensure the file is an "
                         "accessible `.keras` zip file.") from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(f"Cannot load '{label}': it is not a valid `.keras` archive (not a "
                         f"readable zip file: {e}). The file may be damaged or truncated, or "
                         "another kind of file.") from None


def _read_member(archive, name, label):
    info = archive.getinfo(name)
    if info.file_size > _BOMB_FLOOR_BYTES and \
            info.file_size > _BOMB_MAX_EXPANSION * max(info.compress_size, 1):
        raise ValueError(f"Cannot load '{label}': its member '{name}' declares "
                         f"{info.file_size} bytes but stores only {info.compress_size}; "
                         "refusing to expand a potential decompression bomb.")
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise ValueError(f"Cannot load '{label}': its member '{name}' is damaged ({e}).") \
            from None


def read_archive(filepath, need_config=True):
    """Reads a `.keras` archive into memory: `(config, metadata, weights)`, with weights as
    `{path: StoredGroup}`. Raises ValueError naming the file when it is not a readable Keras
    archive."""
    label = _label(filepath)
    with _open_archive(filepath, label) as archive:
        names = set(archive.namelist())
        if CONFIG_FILENAME not in names or WEIGHTS_FILENAME not in names:
            if "model.weights.npz" in names:
                raise ValueError(f"Cannot load '{label}': its weights are in the NumPy format "
                                 "(model.weights.npz); dtf reads archives whose weights are "
                                 "in HDF5 (model.weights.h5), Keras 3's default.")
            raise ValueError(
                f"Cannot load '{label}': it is a zip file but not a Keras model archive (a "
                f"`.keras` file holds {CONFIG_FILENAME}, {METADATA_FILENAME} and "
                f"{WEIGHTS_FILENAME}; this one holds {sorted(names)[:10]}).")
        config = metadata = None
        if need_config:
            config = _parse_json(_read_member(archive, CONFIG_FILENAME, label),
                                 CONFIG_FILENAME, label)
            if not isinstance(config, dict) or "class_name" not in config:
                raise ValueError(f"Cannot load '{label}': its {CONFIG_FILENAME} does not "
                                 "describe a model (expected a dict with a 'class_name').")
            if METADATA_FILENAME in names:
                metadata = _parse_json(_read_member(archive, METADATA_FILENAME, label),
                                       METADATA_FILENAME, label)
        weights_bytes = _read_member(archive, WEIGHTS_FILENAME, label)
    weights = h5_store.read_weights(io.BytesIO(weights_bytes), f"{label}/{WEIGHTS_FILENAME}")
    return config, metadata, weights


def _parse_json(data, name, label):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"Cannot load '{label}': its {name} is not valid JSON ({e}).") \
            from None


def _model_classes():
    from dtf.keras.models.functional import Functional
    from dtf.keras.models.model import Model
    from dtf.keras.models.sequential import Sequential, _layer_classes

    return {**_layer_classes(), "Functional": Functional, "Model": Model,
            "Sequential": Sequential}


def model_from_config(config, custom_objects=None, compile=True, safe_mode=True, label=None):
    """Rebuilds the model `config.json` describes: deserializes it, builds it from its
    `build_config` when its config alone does not, then compiles it from `compile_config`."""
    config = dict(config)
    compile_config = config.pop("compile_config", None)
    build_config = config.pop("build_config", None)
    where = f" in '{label}'" if label else ""
    with SafeModeScope(safe_mode), CustomObjectScope(custom_objects):
        try:
            model = deserialize_keras_object(config, module_objects=_model_classes(),
                                             custom_objects=custom_objects,
                                             printable_module_name="model",
                                             safe_mode=safe_mode)
        except (TypeError, ValueError) as e:
            raise type(e)(f"Cannot rebuild the model{where} from its config: {e}") from e
        if not getattr(model, "built", True) and build_config:
            try:
                build_from_config(model, build_config)
            except Exception as e:
                raise ValueError(f"Cannot build the model{where} from its build config "
                                 f"{build_config}: {e}") from e
        if compile and compile_config and hasattr(model, "compile_from_config"):
            model.compile_from_config(compile_config)
    return model


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a `.keras` archive: the model, its weights and (when compiled and `compile`) its
    optimizer's state."""
    label = _label(filepath)
    config, _, weights = read_archive(filepath)
    model = model_from_config(config, custom_objects, compile, safe_mode, label)
    weights_io.restore(model, weights, label, include_optimizer=compile)
    return model


def load_weights_only(model, filepath, skip_mismatch=False):
    """Loads the Variables of a `.weights.h5` file, or of a `.keras` archive, into `model`."""
    label = _label(filepath)
    if not getattr(model, "built", True):
        raise ValueError(f"You are loading weights into model '{model.name}', which has not "
                         "yet been built. Try building the model first by calling it on some "
                         "data or by using `build()`.")
    name = label if isinstance(label, str) else ""
    if name.endswith(".keras"):
        _, _, weights = read_archive(filepath, need_config=False)
    else:
        if not hasattr(filepath, "read") and not os.path.exists(filepath):
            raise ValueError(f"File not found: filepath={label}. Please ensure the file "
                             "exists and is a `.weights.h5` file written by save_weights().")
        weights = h5_store.read_weights(filepath, label)
    weights_io.restore(model, weights, label, skip_mismatch=skip_mismatch)
