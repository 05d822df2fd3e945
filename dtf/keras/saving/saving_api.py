"""The public saving API: `save_model` / `load_model` (`.keras` archives) and `save_weights` /
`load_weights` (`.weights.h5` files), as functions of the model.

`keras.Model.save`, `save_weights` and `load_weights` delegate to these; `keras.models.
load_model` is `load_model`.

Example:
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> directory = tempfile.mkdtemp()
    >>> save_model(model, os.path.join(directory, "model.keras"))
    >>> restored = load_model(os.path.join(directory, "model.keras"))
    >>> save_weights(model, os.path.join(directory, "model.weights.h5"))
    >>> load_weights(restored, os.path.join(directory, "model.weights.h5"))
    >>> np.array_equal(restored.predict(np.ones((1, 3)), verbose=0),
    ...                model.predict(np.ones((1, 3)), verbose=0))
    True
"""

from __future__ import annotations

import os
import sys

from dtf.keras.saving import saving_lib

__all__ = ["load_model", "load_weights", "save_model", "save_weights"]


def _path_string(filepath):
    return None if hasattr(filepath, "write") or hasattr(filepath, "read") else \
        os.fspath(filepath)


def _proceed_with_overwrite(filepath):
    """Whether to overwrite an existing file when `overwrite=False`: Keras asks on a
    terminal; elsewhere the answer cannot be given, so the call fails."""
    if not os.path.exists(filepath):
        return True
    if not sys.stdin or not sys.stdin.isatty():
        raise FileExistsError(f"'{filepath}' exists and overwrite=False. Pass overwrite=True "
                              "to replace it, or choose another file name.")
    while True:
        answer = input(f"[WARNING] {filepath} already exists - overwrite? [y/n]").strip().lower()
        if answer in ("y", "n"):
            return answer == "y"
        print('Please answer "y" (yes) or "n" (no).')


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Saves a model as a `.keras` archive: its config, its weights and its optimizer's
    state (see `saving_lib`).

    Args:
        model: the Keras model.
        filepath: a path ending in `.keras`, or a binary file object.
        overwrite: replace an existing file (False: ask on a terminal, else fail).
        zipped: only True (or None) is supported: the `.keras` archive is a zip.
        **kwargs: `include_optimizer` (default True; False leaves out the optimizer's state
            and the compile config), or `save_format="keras"`.

    Raises:
        ValueError: the path does not end in `.keras`, or an unsupported argument was given.

    Example:
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> save_model(model, os.path.join(tempfile.mkdtemp(), "m.keras"))
    """
    include_optimizer = kwargs.pop("include_optimizer", True)
    save_format = kwargs.pop("save_format", None)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {sorted(kwargs)}. "
                         "save_model takes filepath, overwrite, zipped and include_optimizer.")
    if zipped is False:
        raise ValueError("zipped=False (a folder instead of a `.keras` zip archive) is not "
                         "supported by dtf; save to a `.keras` file.")
    path = _path_string(filepath)
    if save_format not in (None, "keras") or (path is not None and not path.endswith(".keras")):
        shown = path if path is not None else filepath
        if save_format in ("tf", "h5") or (path and path.endswith((".h5", ".hdf5"))):
            raise ValueError(
                f"Cannot save to {shown!r} (save_format={save_format!r}): dtf saves whole "
                "models only in the native Keras format. Use a path ending in `.keras`, or "
                "`model.save_weights('<name>.weights.h5')` to save only the weights.")
        raise ValueError(
            f"Invalid filepath extension for saving: {shown!r}. Please add a `.keras` "
            "extension for the native Keras format, e.g. model.save('my_model.keras').")
    if path is not None and not overwrite and not _proceed_with_overwrite(path):
        return
    saving_lib.save_model(model, filepath, include_optimizer=include_optimizer)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a model saved with `save_model` (or Keras 3's `model.save`) from a `.keras`
    archive.

    Args:
        filepath: the `.keras` file (a path or a binary file object).
        custom_objects: `{name: class or function}` for the custom layers, losses, metrics
            and functions the config names (registered objects need not be listed).
        compile: compile the model again as it was when saved (optimizer state included).
        safe_mode: refuse to load Python lambdas (they could run arbitrary code).

    Returns:
        The model, with its weights (and, compiled, its optimizer's state) restored.

    Raises:
        ValueError: the file is missing, not a `.keras` archive, damaged, or its config names
            unknown classes (pass them in `custom_objects`), or its weights do not fit.

    Example:
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "m.keras")
        >>> save_model(model, path)
        >>> [layer.name for layer in load_model(path).layers] == [l.name for l in model.layers]
        True
    """
    path = _path_string(filepath)
    if path is not None and not path.endswith(".keras"):
        if path.endswith((".h5", ".hdf5")):
            raise ValueError(
                f"Cannot load {path!r}: legacy HDF5 whole-model files are not supported by "
                "dtf. A `.weights.h5` file holds only weights: build the model and call "
                "model.load_weights(path).")
        if os.path.isdir(path):
            raise ValueError(
                f"Cannot load {path!r}: it is a folder (a TensorFlow SavedModel?); dtf loads "
                "models saved in the native Keras format, `.keras` files.")
        raise ValueError(f"File format not supported: filepath={path}. dtf loads `.keras` "
                         "files (written by model.save('name.keras')).")
    return saving_lib.load_model(filepath, custom_objects=custom_objects, compile=compile,
                                 safe_mode=safe_mode)


def save_weights(model, filepath, overwrite=True, **kwargs):
    """Saves the model's weights (and its optimizer's state) to an HDF5 `.weights.h5` file,
    in Keras 3's layout: one group per layer path (`layers/dense/vars`) holding datasets
    "0", "1", ...

    Args:
        model: the model (built).
        filepath: a path ending in `.weights.h5`.
        overwrite: replace an existing file (False: ask on a terminal, else fail).

    Example:
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> save_weights(model, os.path.join(tempfile.mkdtemp(), "m.weights.h5"))
    """
    if kwargs.pop("max_shard_size", None) is not None:
        raise ValueError("max_shard_size (sharded weights) is not supported by dtf: save to "
                         "one `.weights.h5` file.")
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {sorted(kwargs)}.")
    path = _path_string(filepath)
    if path is None or not path.endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath="
                         f"{path if path is not None else filepath}")
    if not overwrite and not _proceed_with_overwrite(path):
        return
    saving_lib.save_weights_only(model, path)


def load_weights(model, filepath, skip_mismatch=False, **kwargs):
    """Loads weights into a built model from a `.weights.h5` file or a `.keras` archive,
    matching them by their place in the model (layer paths), not by Variable names.

    Every count and shape is checked before any weight changes: on a mismatch nothing is
    loaded and a ValueError lists what does not fit.

    Args:
        model: the model (built, with the architecture the weights were saved from).
        filepath: a `.weights.h5` or `.keras` file.
        skip_mismatch: skip (with a warning) the layers whose weights do not fit, instead of
            failing.

    Example:
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "m.weights.h5")
        >>> save_weights(model, path)
        >>> load_weights(model, path)
    """
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {sorted(kwargs)}.")
    path = _path_string(filepath)
    if path is not None and not path.endswith((".keras", ".weights.h5", ".h5", ".hdf5")):
        if os.path.exists(path + ".index"):
            raise ValueError(
                f"{path!r} is a checkpoint written by dtf.train.Checkpoint; restore it with "
                "dtf.train.Checkpoint(model=model).restore(path).")
        raise ValueError(f"File format not supported: filepath={path}. dtf loads weights "
                         "from `.weights.h5` files (model.save_weights) and `.keras` files "
                         "(model.save).")
    saving_lib.load_weights_only(model, filepath, skip_mismatch=skip_mismatch)
