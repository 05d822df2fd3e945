"""Reading checkpoints without restoring them: `load_checkpoint`, `list_variables`,
`load_variable`.

Example:
    >>> directory = tempfile.mkdtemp()
    >>> path = dtf.train.Checkpoint(step=dtf.Variable(7)).save(os.path.join(directory, "c"))
    >>> dtf.train.list_variables(directory)
    [('save_counter', []), ('step', [])]
    >>> int(dtf.train.load_variable(directory, "step"))
    7
"""

from __future__ import annotations

import os

from dtf import errors
from dtf.train import checkpoint_io

__all__ = ["CheckpointReader", "list_variables", "load_checkpoint", "load_variable"]


def _prefix(ckpt_dir_or_file):
    from dtf.train.checkpoint_management import latest_checkpoint

    path = os.fspath(ckpt_dir_or_file)
    if os.path.isdir(path):
        latest = latest_checkpoint(path)
        if latest is None:
            raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given "
                             f"directory {path}")
        return latest
    return path


class CheckpointReader:
    """The values of one checkpoint, by key (the object-graph path of each Variable)."""

    def __init__(self, prefix):
        self._prefix = prefix
        self._values, _ = checkpoint_io.read(prefix)

    def get_variable_to_shape_map(self):
        return {key: list(value.shape) for key, value in self._values.items()}

    def get_variable_to_dtype_map(self):
        from dtf import dtypes

        return {key: dtypes.as_dtype(value.dtype) for key, value in self._values.items()}

    def has_tensor(self, name):
        return name in self._values

    def get_tensor(self, name):
        """The value of `name`, a NumPy array."""
        if name not in self._values:
            raise errors.NotFoundError(
                None, None, f"Key {name} not found in checkpoint '{self._prefix}'. Its keys: "
                            f"{sorted(self._values)[:20]}")
        return self._values[name].copy()


def load_checkpoint(ckpt_dir_or_file):
    """A `CheckpointReader` of a checkpoint (or of the latest one in a folder)."""
    return CheckpointReader(_prefix(ckpt_dir_or_file))


def list_variables(ckpt_dir_or_file):
    """`[(key, shape), ...]` of a checkpoint's values, sorted by key."""
    reader = load_checkpoint(ckpt_dir_or_file)
    return sorted(reader.get_variable_to_shape_map().items())


def load_variable(ckpt_dir_or_file, name):
    """The value saved under `name` in a checkpoint, as a NumPy array."""
    return load_checkpoint(ckpt_dir_or_file).get_tensor(name)
