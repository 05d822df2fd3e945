"""`dtf.train.Checkpoint`: saves and restores Variables, Keras models, layers, optimizers and
metrics, and nested Checkpoints, by their place in an object graph (see `graph`).

Example:
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> optimizer = keras.optimizers.Adam()
    >>> ckpt = dtf.train.Checkpoint(step=dtf.Variable(1), model=model, optimizer=optimizer)
    >>> path = ckpt.save(os.path.join(tempfile.mkdtemp(), "ckpt"))
    >>> os.path.basename(path)
    'ckpt-1'
    >>> status = ckpt.restore(path)
    >>> _ = status.assert_existing_objects_matched()
"""

from __future__ import annotations

import os

from dtf.train import checkpoint_io, graph
from dtf.train.restore import CheckpointLoadStatus, InitializationOnlyStatus, Restorer

__all__ = ["Checkpoint"]


class Checkpoint:
    """Groups trackable objects, and saves and restores their values.

    Args:
        root: an object whose own graph is saved at the top level (a model), optional.
        **kwargs: the objects to save, by name (`model=model, optimizer=optimizer,
            step=dtf.Variable(1)`); more can be added later as attributes
            (`ckpt.epoch = dtf.Variable(0)`).

    Raises:
        TypeError: a value is not trackable (a Python number, a tensor, an iterator).

    Example:
        >>> v = dtf.Variable(2.0)
        >>> ckpt = dtf.train.Checkpoint(v=v)
        >>> path = ckpt.write(os.path.join(tempfile.mkdtemp(), "weights"))
        >>> _ = v.assign(5.0)
        >>> _ = ckpt.read(path).assert_consumed()
        >>> float(v.numpy())
        2.0
    """

    def __init__(self, root=None, **kwargs):
        object.__setattr__(self, "_children", {})
        object.__setattr__(self, "_save_counter", None)
        object.__setattr__(self, "_root", None)
        if root is not None:
            graph.check_trackable(root, "root")
            object.__setattr__(self, "_root", root)
        for name, value in kwargs.items():
            setattr(self, name, value)

    # -- the graph ------------------------------------------------------------------------------
    def __setattr__(self, name, value):
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        if name == "save_counter":
            raise AttributeError("`save_counter` is the Checkpoint's own counter of saves; "
                                 "pick another name.")
        graph.check_trackable(value, name)
        self._children[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._children.pop(name, None)
        object.__delattr__(self, name)

    def _dependencies(self):
        """(name, object) of the children, the save counter last once it exists."""
        out = list(self._children.items())
        if self._save_counter is not None:
            out.append(("save_counter", self._save_counter))
        return out

    @property
    def root(self):
        """The object given as `root`, or this Checkpoint."""
        return self._root if self._root is not None else self

    @property
    def save_counter(self):
        """How many times `save()` ran: an int64 Variable (created on first use), saved with
        the checkpoint so numbering continues after a restore."""
        if self._save_counter is None:
            from dtf.variables import Variable

            object.__setattr__(self, "_save_counter", Variable(
                0, dtype="int64", trainable=False, name="save_counter"))
        return self._save_counter

    # -- saving ---------------------------------------------------------------------------------
    def _values(self):
        nodes = graph.collect(self)
        keys = graph.variable_keys(nodes)
        values = {}
        objects = {}
        for node in nodes:
            for i, variable in enumerate(node.variables):
                values.setdefault(node.key(i), variable.numpy())
            if node.kind == "optimizer" and node.obj.built:
                built_with = [keys.get(id(v)) for v in node.obj._trainable_variables]
                if all(k is not None for k in built_with):
                    objects[node.path] = {"kind": "optimizer", "built_with": built_with}
        return values, objects

    def write(self, file_prefix, options=None):
        """Writes the checkpoint at `file_prefix` exactly (`<prefix>.index` and
        `<prefix>.data-00000-of-00001`), without numbering it or recording it as the latest
        checkpoint of its folder; returns `file_prefix`. Read it back with `read`."""
        file_prefix = os.fspath(file_prefix)
        values, objects = self._values()
        checkpoint_io.write(file_prefix, values, objects)
        return file_prefix

    def save(self, file_prefix, options=None):
        """Saves a numbered checkpoint, `<file_prefix>-<n>` with n = `save_counter` + 1, and
        records it as the latest in its folder's `checkpoint` file (what
        `dtf.train.latest_checkpoint` reads). Returns the checkpoint's path.

        Example:
            >>> ckpt = dtf.train.Checkpoint(v=dtf.Variable(1.0))
            >>> prefix = os.path.join(tempfile.mkdtemp(), "ckpt")
            >>> os.path.basename(ckpt.save(prefix)), os.path.basename(ckpt.save(prefix))
            ('ckpt-1', 'ckpt-2')
        """
        from dtf.train import checkpoint_management

        file_prefix = os.fspath(file_prefix)
        counter = self.save_counter
        counter.assign_add(1)
        path = self.write(f"{file_prefix}-{int(counter.numpy())}")
        checkpoint_management.update_checkpoint_state(
            os.path.dirname(file_prefix), path, [path])
        return path

    # -- restoring ------------------------------------------------------------------------------
    def read(self, save_path, options=None):
        """Restores the values of a checkpoint written by `write` (or `save`); returns a
        `CheckpointLoadStatus`. See `restore`."""
        if save_path is None:
            raise ValueError("Checkpoint.read needs the path of a checkpoint, got None.")
        values, objects = checkpoint_io.read(save_path)
        if "save_counter" in values:
            self.save_counter  # noqa: B018  (created so that the saved count is restored)
        restorer = Restorer(self, os.fspath(save_path), values, objects)
        restorer.restore_now()
        return CheckpointLoadStatus(restorer)

    def restore(self, save_path, options=None):
        """Restores the values of the checkpoint at `save_path` (as `save` returned it, or
        `dtf.train.latest_checkpoint(folder)`).

        Values go into the objects that exist at once, after checking every shape (a mismatch
        raises ValueError and changes nothing). A layer or model not built yet, or an
        optimizer without slots, gets its values when it is built (its first call, its first
        `apply_gradients`).

        Args:
            save_path: the checkpoint's path, or None to restore nothing (then the status's
                `assert_*` methods raise).

        Returns:
            A `CheckpointLoadStatus` (`assert_consumed()`, `assert_existing_objects_matched()`,
            `assert_nontrivial_match()`, `expect_partial()`).

        Raises:
            dtf.errors.NotFoundError: there is no checkpoint at `save_path`.
            dtf.errors.DataLossError: the checkpoint's files are damaged or foreign.
            ValueError: a value does not fit its variable (nothing was changed).
        """
        if save_path is None:
            return InitializationOnlyStatus()
        return self.read(save_path, options)

    def __repr__(self):
        names = ", ".join(self._children)
        return f"<dtf.train.Checkpoint ({names})>"
