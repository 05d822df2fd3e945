"""Weights in HDF5, in Keras 3's layout: a group per saveable object, `<path>/vars`, holding
its Variables as datasets "0", "1", ... and the object's name as the group's `name` attribute.

Reading loads the whole file into memory first (`read_weights`), so that a loader can check
every shape against the model before it assigns anything. Only plain numeric datasets stored
inside the file are read: external storage and virtual datasets (which make HDF5 read other
files) are refused, as Keras does.

Example:
    >>> import io
    >>> buffer = io.BytesIO()
    >>> write_weights(buffer, [StoredGroup("layers/dense", {"name": "dense"},
    ...                                    [np.ones((2, 3), np.float32)])])
    >>> stored = read_weights(io.BytesIO(buffer.getvalue()), "buffer")
    >>> stored["layers/dense"].values[0].shape
    (2, 3)
"""

from __future__ import annotations

import numpy as np

__all__ = ["StoredGroup", "WeightsFileError", "read_weights", "write_weights"]


class WeightsFileError(ValueError):
    """A weights file that cannot be read: not HDF5, or not laid out as Keras weights."""


class StoredGroup:
    """The Variables of one saved object: `values[i]` is `<path>/vars/<i>`; `attrs` are the
    group's attributes (`name`, and `built_with` for an optimizer)."""

    __slots__ = ("attrs", "path", "values")

    def __init__(self, path, attrs, values):
        self.path = path
        self.attrs = dict(attrs)
        self.values = list(values)

    def __repr__(self):
        return f"<StoredGroup {self.path!r} {len(self.values)} values>"


def _h5py():
    try:
        import h5py
    except ImportError as e:  # a dependency of dtf: only a broken install lacks it
        raise ImportError("Reading and writing Keras weights files needs h5py: "
                          "pip install h5py") from e
    return h5py


def write_weights(target, groups):
    """Writes `groups` (StoredGroups) as an HDF5 file to `target` (a path or a binary file
    object). Every group is created, empty ones too, as Keras writes a named object's group."""
    h5py = _h5py()
    with h5py.File(target, "w") as f:
        for group in groups:
            node = f.create_group(f"{group.path}/vars" if group.path else "vars")
            for key, value in group.attrs.items():
                node.attrs[key] = value
            for i, value in enumerate(group.values):
                node.create_dataset(str(i), data=np.asarray(value))


def read_weights(source, label):
    """Reads every `.../vars` group of an HDF5 file into memory.

    Args:
        source: a path or a binary file object.
        label: how to name the file in errors (its path).

    Returns:
        `{path: StoredGroup}`, with path "" for the root's own `vars`.

    Raises:
        WeightsFileError: the file is not HDF5, holds no Keras 3 weights, or holds a dataset
            that is not a plain numeric array.
    """
    h5py = _h5py()
    try:
        f = h5py.File(source, "r")
    except (OSError, ValueError) as e:
        raise WeightsFileError(
            f"Cannot read the weights file '{label}': it is not an HDF5 file ({e}). Pass a file "
            "written by save_weights() ('.weights.h5') or model.save() ('.keras').") from None
    try:
        with f:
            if "layer_names" in f.attrs or "model_weights" in f:
                raise WeightsFileError(
                    f"'{label}' is a Keras 2 (legacy HDF5) weights file, laid out by layer "
                    "names; dtf reads the Keras 3 layout written by save_weights('*.weights.h5')"
                    ". Load it in the program that wrote it and save it again with Keras 3.")
            stored = {}
            _collect(h5py, f, "", stored, label)
    except WeightsFileError:
        raise
    except (OSError, KeyError, RuntimeError) as e:  # a truncated or damaged file
        raise WeightsFileError(f"Cannot read the weights file '{label}': it is damaged "
                               f"({type(e).__name__}: {e}).") from None
    if not stored:
        raise WeightsFileError(
            f"'{label}' is an HDF5 file but holds no Keras weights (no 'vars' groups): it was "
            "not written by save_weights() or model.save().")
    return stored


def _collect(h5py, group, path, stored, label):
    for name in group:
        node = group.get(name, getlink=True)
        if not isinstance(node, h5py.HardLink):
            raise WeightsFileError(f"'{label}': '{group.name}/{name}' is a link to elsewhere; "
                                   "Keras weights files hold only groups and datasets.")
        child = group[name]
        child_path = f"{path}/{name}" if path else name
        if name == "vars" and isinstance(child, h5py.Group):
            stored[path] = StoredGroup(path, _attrs(child), _values(h5py, child, label))
        elif isinstance(child, h5py.Group):
            _collect(h5py, child, child_path, stored, label)


def _attrs(group):
    out = {}
    for key, value in group.attrs.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


def _values(h5py, group, label):
    keys = list(group)
    expected = [str(i) for i in range(len(keys))]
    if sorted(keys, key=lambda k: (len(k), k)) != expected:
        raise WeightsFileError(
            f"'{label}': the group '{group.name}' should hold datasets named 0..{len(keys) - 1}"
            f", found {sorted(keys)}.")
    values = []
    for key in expected:
        dataset = group[key]
        if not isinstance(dataset, h5py.Dataset):
            raise WeightsFileError(f"'{label}': '{dataset.name}' is not a dataset.")
        if dataset.external or dataset.is_virtual:
            raise WeightsFileError(
                f"'{label}': the dataset '{dataset.name}' reads its data from other files "
                "(external or virtual storage); refusing to load it.")
        if dataset.dtype.kind not in "biufc":
            raise WeightsFileError(
                f"'{label}': the dataset '{dataset.name}' has dtype {dataset.dtype}, not a "
                "number type; it cannot be a Variable's value.")
        values.append(np.asarray(dataset[()]))
    return values
