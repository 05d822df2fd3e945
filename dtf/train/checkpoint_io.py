"""dtf's checkpoint files: `<prefix>.index` (JSON) and `<prefix>.data-00000-of-00001` (NumPy
npz), named as TensorFlow names its checkpoint files.

The index says what the checkpoint holds:

    {"format": "dtf.train.Checkpoint", "version": 1,
     "values": {"net/l1/vars/0": {"member": "0", "shape": [3, 5], "dtype": "float32"}, ...},
     "objects": {"optimizer": {"kind": "optimizer", "built_with": ["net/l1/vars/0", ...]}}}

`values` maps each key (the object-graph path of a Variable) to its array in the data file;
`objects` carries what restoring an object needs besides values (the variables an optimizer
was built with, so that its slots go back to the right variables). The data file is written
first and the index last, each to a temporary file renamed into place, so a checkpoint whose
index exists is complete.

Example:
    >>> prefix = os.path.join(tempfile.mkdtemp(), "ckpt-1")
    >>> write(prefix, {"step": np.array(3)}, {})
    >>> values, objects = read(prefix)
    >>> int(values["step"])
    3
"""

from __future__ import annotations

import glob
import json
import os
import uuid
import zipfile

import numpy as np

from dtf import errors

__all__ = ["DATA_SUFFIX", "FORMAT", "INDEX_SUFFIX", "delete", "exists", "read", "write"]

FORMAT = "dtf.train.Checkpoint"
VERSION = 1
INDEX_SUFFIX = ".index"
DATA_SUFFIX = ".data-00000-of-00001"


def exists(prefix):
    """Whether a complete checkpoint (its index) exists at `prefix`."""
    return os.path.isfile(os.fspath(prefix) + INDEX_SUFFIX)


def _replace_atomically(path, write):
    temporary = f"{path}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        with open(temporary, "xb") as f:
            write(f)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write(prefix, values, objects):
    """Writes `values` (`{key: ndarray}`) and `objects` (`{path: dict}`) at `prefix`."""
    prefix = os.fspath(prefix)
    directory = os.path.dirname(prefix)
    if directory:
        os.makedirs(directory, exist_ok=True)
    arrays = {}
    index = {}
    for i, (key, value) in enumerate(values.items()):
        array = np.asarray(value)
        arrays[str(i)] = array
        index[key] = {"member": str(i), "shape": list(array.shape), "dtype": array.dtype.name}
    _replace_atomically(prefix + DATA_SUFFIX, lambda f: np.savez(f, **arrays))
    document = {"format": FORMAT, "version": VERSION, "values": index, "objects": objects}
    text = json.dumps(document, indent=1).encode("utf-8")
    _replace_atomically(prefix + INDEX_SUFFIX, lambda f: f.write(text))


def read(prefix):
    """Reads the checkpoint at `prefix` into memory: `(values, objects)`.

    Raises:
        dtf.errors.NotFoundError: there is no checkpoint at `prefix`.
        dtf.errors.DataLossError: its files are damaged, or are not a dtf checkpoint.
    """
    prefix = os.fspath(prefix)
    index_path = prefix + INDEX_SUFFIX
    if not os.path.isfile(index_path):
        hint = ""
        if os.path.isdir(prefix):
            hint = (" It is a folder: pass the checkpoint's prefix, e.g. "
                    "dtf.train.latest_checkpoint(folder).")
        elif prefix.endswith(INDEX_SUFFIX) or ".data-" in prefix:
            hint = " Pass the prefix, without the '.index' or '.data-...' suffix."
        raise errors.NotFoundError(
            None, None, f"Failed to find a checkpoint at '{prefix}': no file '{index_path}'.{hint}")
    try:
        with open(index_path, "rb") as f:
            document = json.loads(f.read().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _data_loss(prefix, f"its index '{index_path}' is not a dtf checkpoint index "
                                 f"({e})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _data_loss(prefix, f"'{index_path}' is not a dtf checkpoint index (no "
                                 f"\"format\": \"{FORMAT}\")")
    if document.get("version") != VERSION:
        raise _data_loss(prefix, f"its index has version {document.get('version')!r}; this "
                                 f"dtf reads version {VERSION}")
    index = document.get("values")
    objects = document.get("objects") or {}
    if not isinstance(index, dict) or not isinstance(objects, dict):
        raise _data_loss(prefix, "its index lacks the 'values' table")
    return _read_data(prefix, index), objects


def _read_data(prefix, index):
    data_path = prefix + DATA_SUFFIX
    if not os.path.isfile(data_path):
        raise _data_loss(prefix, f"its data file '{data_path}' is missing")
    values = {}
    try:
        with np.load(data_path, allow_pickle=False) as data:
            members = set(data.files)
            for key, spec in index.items():
                member = spec.get("member") if isinstance(spec, dict) else None
                if member not in members:
                    raise _data_loss(prefix, f"the value of '{key}' is missing from "
                                             f"'{data_path}'")
                array = data[member]
                if list(array.shape) != list(spec.get("shape", [])) or \
                        array.dtype.name != spec.get("dtype"):
                    raise _data_loss(
                        prefix, f"the value of '{key}' in '{data_path}' is {array.dtype} "
                                f"{list(array.shape)}, but the index says {spec.get('dtype')} "
                                f"{spec.get('shape')}")
                values[key] = array
    except errors.DataLossError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise _data_loss(prefix, f"its data file '{data_path}' is damaged ({e})") from None
    return values


def _data_loss(prefix, what):
    return errors.DataLossError(None, None, f"Cannot read the checkpoint '{prefix}': {what}.")


def delete(prefix):
    """Removes the files of the checkpoint at `prefix` (those that exist)."""
    prefix = os.fspath(prefix)
    paths = [prefix + INDEX_SUFFIX] + glob.glob(glob.escape(prefix) + ".data-?????-of-?????")
    for path in paths:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
