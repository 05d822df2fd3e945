"""Managing numbered checkpoints in a folder: `CheckpointManager`, `latest_checkpoint` and the
folder's `checkpoint` state file.

The state file is TensorFlow's `CheckpointState` in protobuf text format, paths relative to
the folder:

    model_checkpoint_path: "ckpt-3"
    all_model_checkpoint_paths: "ckpt-2"
    all_model_checkpoint_paths: "ckpt-3"
    all_model_checkpoint_timestamps: 1700000000.5
    all_model_checkpoint_timestamps: 1700000060.5
    last_preserved_timestamp: 1699999990.0

Example:
    >>> directory = tempfile.mkdtemp()
    >>> ckpt = dtf.train.Checkpoint(v=dtf.Variable(1.0))
    >>> manager = dtf.train.CheckpointManager(ckpt, directory, max_to_keep=2)
    >>> for _ in range(3):
    ...     _ = manager.save()
    >>> [os.path.basename(p) for p in manager.checkpoints]
    ['ckpt-2', 'ckpt-3']
    >>> dtf.train.latest_checkpoint(directory) == manager.latest_checkpoint
    True
"""

from __future__ import annotations

import collections
import json
import os
import re
import time
import uuid
import warnings

from dtf.train import checkpoint_io

__all__ = ["CheckpointManager", "CheckpointState", "get_checkpoint_state",
           "latest_checkpoint", "update_checkpoint_state"]

_STATE_FILENAME = "checkpoint"


class CheckpointState:
    """The contents of a folder's `checkpoint` file, paths made absolute-or-as-given by
    joining relative ones with the folder."""

    def __init__(self, model_checkpoint_path, all_model_checkpoint_paths=(),
                 all_model_checkpoint_timestamps=(), last_preserved_timestamp=0.0):
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths)
        self.all_model_checkpoint_timestamps = list(all_model_checkpoint_timestamps)
        self.last_preserved_timestamp = last_preserved_timestamp

    def __repr__(self):
        return (f"CheckpointState(model_checkpoint_path={self.model_checkpoint_path!r}, "
                f"all_model_checkpoint_paths={self.all_model_checkpoint_paths!r})")


def _quote(text):
    return json.dumps(text)  # the text-proto escapes of a path are JSON's for these characters


def _relative(path, directory):
    if directory and os.path.dirname(os.path.abspath(path)) == os.path.abspath(directory):
        return os.path.basename(path)
    return path


def update_checkpoint_state(save_dir, model_checkpoint_path, all_model_checkpoint_paths=None,
                            all_model_checkpoint_timestamps=None,
                            last_preserved_timestamp=None, latest_filename=None):
    """Writes the folder's `checkpoint` file (atomically: a reader sees the old or the new)."""
    save_dir = save_dir or "."
    paths = list(all_model_checkpoint_paths or [model_checkpoint_path])
    if model_checkpoint_path not in paths:
        paths.append(model_checkpoint_path)
    lines = [f"model_checkpoint_path: {_quote(_relative(model_checkpoint_path, save_dir))}"]
    lines += [f"all_model_checkpoint_paths: {_quote(_relative(p, save_dir))}" for p in paths]
    lines += [f"all_model_checkpoint_timestamps: {t!r}"
              for t in all_model_checkpoint_timestamps or ()]
    if last_preserved_timestamp is not None:
        lines.append(f"last_preserved_timestamp: {last_preserved_timestamp!r}")
    os.makedirs(save_dir, exist_ok=True)
    target = os.path.join(save_dir, latest_filename or _STATE_FILENAME)
    temporary = f"{target}.{uuid.uuid4().hex[:12]}.tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(temporary, target)


_LINE = re.compile(r'^\s*(\w+)\s*:\s*(".*"|[-+0-9.eE]+|inf|nan)\s*$')


def get_checkpoint_state(checkpoint_dir, latest_filename=None):
    """The folder's `CheckpointState`, or None when it has no (readable) `checkpoint` file.

    Example:
        >>> get_checkpoint_state(tempfile.mkdtemp()) is None
        True
    """
    checkpoint_dir = os.fspath(checkpoint_dir)
    path = os.path.join(checkpoint_dir, latest_filename or _STATE_FILENAME)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as e:
        warnings.warn(f"Cannot read the checkpoint state file '{path}': {e}", stacklevel=2)
        return None
    fields = collections.defaultdict(list)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
            warnings.warn(f"'{path}' is not a checkpoint state file (line {number}: "
                          f"{line[:80]!r}); ignoring it.", stacklevel=2)
            return None
        key, raw = match.groups()
        fields[key].append(json.loads(raw) if raw.startswith('"') else float(raw))
    if not fields.get("model_checkpoint_path"):
        warnings.warn(f"'{path}' names no model_checkpoint_path; ignoring it.", stacklevel=2)
        return None

    def absolute(p):
        return p if os.path.isabs(p) else os.path.join(checkpoint_dir, p)

    return CheckpointState(
        absolute(fields["model_checkpoint_path"][-1]),
        [absolute(p) for p in fields.get("all_model_checkpoint_paths", [])],
        list(fields.get("all_model_checkpoint_timestamps", [])),
        (fields.get("last_preserved_timestamp") or [0.0])[-1])


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """The path of the newest checkpoint saved in `checkpoint_dir` (by `Checkpoint.save` or a
    `CheckpointManager`), or None when there is none.

    Example:
        >>> directory = tempfile.mkdtemp()
        >>> latest_checkpoint(directory) is None
        True
        >>> path = dtf.train.Checkpoint(v=dtf.Variable(1.0)).save(os.path.join(directory, "c"))
        >>> latest_checkpoint(directory) == path
        True
    """
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is None or not checkpoint_io.exists(state.model_checkpoint_path):
        return None
    return state.model_checkpoint_path


class CheckpointManager:
    """Saves numbered checkpoints of `checkpoint` in `directory` and deletes old ones.

    Args:
        checkpoint: the `dtf.train.Checkpoint` to save and restore.
        directory: the folder of the checkpoints (created when needed).
        max_to_keep: how many checkpoints to keep, the newest; None keeps all.
        keep_checkpoint_every_n_hours: also keep one checkpoint per this many hours.
        checkpoint_name: the checkpoints' file prefix ("ckpt" -> `ckpt-1`, `ckpt-2`...).
        step_counter: a Variable counting steps, for `checkpoint_interval`.
        checkpoint_interval: save only when `step_counter` has advanced this much since the
            last save (`save(check_interval=False)` saves regardless).
        init_fn: called by `restore_or_initialize` when there is no checkpoint.

    Raises:
        ValueError: `max_to_keep` is not positive, or `checkpoint_interval` has no
            `step_counter`.

    Example:
        >>> ckpt = dtf.train.Checkpoint(step=dtf.Variable(1))
        >>> manager = dtf.train.CheckpointManager(ckpt, tempfile.mkdtemp(), max_to_keep=3)
        >>> manager.latest_checkpoint is None
        True
        >>> os.path.basename(manager.save())
        'ckpt-1'
    """

    def __init__(self, checkpoint, directory, max_to_keep, keep_checkpoint_every_n_hours=None,
                 checkpoint_name="ckpt", step_counter=None, checkpoint_interval=None,
                 init_fn=None):
        from dtf.train.checkpoint import Checkpoint

        if not isinstance(checkpoint, Checkpoint):
            raise TypeError(f"CheckpointManager manages a dtf.train.Checkpoint, got "
                            f"{type(checkpoint).__name__}: {checkpoint!r}.")
        if max_to_keep is not None and (not isinstance(max_to_keep, int) or max_to_keep <= 0):
            raise ValueError(f"Expected a positive integer or `None` for `max_to_keep`, got "
                             f"{max_to_keep!r}.")
        if checkpoint_interval is not None and step_counter is None:
            raise ValueError("`step_counter` should be passed if `checkpoint_interval` is not "
                             "None.")
        self._checkpoint = checkpoint
        self._directory = os.fspath(directory)
        self._max_to_keep = max_to_keep
        self._keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self._prefix = os.path.join(self._directory, checkpoint_name)
        self._step_counter = step_counter
        self._checkpoint_interval = checkpoint_interval
        self._init_fn = init_fn
        self._last_checkpoint_step = None
        self._maybe_delete = collections.OrderedDict()
        self._latest_checkpoint = None
        self._last_preserved_timestamp = time.time()
        state = get_checkpoint_state(self._directory)
        if state is not None:
            now = time.time()
            timestamps = state.all_model_checkpoint_timestamps
            if len(timestamps) != len(state.all_model_checkpoint_paths):
                timestamps = [now] * len(state.all_model_checkpoint_paths)
            for path, stamp in zip(state.all_model_checkpoint_paths, timestamps):
                if checkpoint_io.exists(path):
                    self._maybe_delete[path] = min(stamp, now)
            if checkpoint_io.exists(state.model_checkpoint_path):
                self._latest_checkpoint = state.model_checkpoint_path
            self._last_preserved_timestamp = min(state.last_preserved_timestamp or now, now)

    @property
    def directory(self):
        return self._directory

    @property
    def checkpoint(self):
        return self._checkpoint

    @property
    def checkpoint_interval(self):
        return self._checkpoint_interval

    @property
    def latest_checkpoint(self):
        """The newest checkpoint's path, or None."""
        return self._latest_checkpoint

    @property
    def checkpoints(self):
        """The managed checkpoints' paths, oldest first."""
        return list(self._maybe_delete)

    def save(self, checkpoint_number=None, check_interval=True, options=None):
        """Saves a checkpoint, `<directory>/<checkpoint_name>-<n>`, and deletes the oldest
        beyond `max_to_keep`.

        Args:
            checkpoint_number: n (an int or an integer Variable); default: the checkpoint's
                `save_counter` after incrementing it (or the step, with
                `checkpoint_interval`).
            check_interval: with `checkpoint_interval`, skip the save when the step has not
                advanced enough.

        Returns:
            The checkpoint's path, or None when the interval skipped it.
        """
        if self._checkpoint_interval is not None:
            current_step = _as_int(self._step_counter)
            if self._last_checkpoint_step is not None and check_interval and \
                    current_step < self._last_checkpoint_step + self._checkpoint_interval:
                return None
            if checkpoint_number is None:
                checkpoint_number = current_step
            self._last_checkpoint_step = current_step
        counter = self._checkpoint.save_counter
        counter.assign_add(1)
        if checkpoint_number is None:
            checkpoint_number = counter
        number = _as_int(checkpoint_number)
        save_path = self._checkpoint.write(f"{self._prefix}-{number}")
        self._maybe_delete.pop(save_path, None)  # overwritten: it becomes the newest
        self._maybe_delete[save_path] = time.time()
        self._latest_checkpoint = save_path
        # The state names the new checkpoint before old ones are deleted, and again after: a
        # run stopped in between still finds its newest checkpoint.
        self._record_state()
        self._sweep()
        self._record_state()
        return save_path

    def _sweep(self):
        if self._max_to_keep is None:
            return
        while len(self._maybe_delete) > self._max_to_keep:
            path, stamp = self._maybe_delete.popitem(last=False)
            hours = self._keep_checkpoint_every_n_hours
            if hours and stamp - hours * 3600.0 >= self._last_preserved_timestamp:
                self._last_preserved_timestamp = stamp
                continue
            checkpoint_io.delete(path)

    def _record_state(self):
        update_checkpoint_state(self._directory, self._latest_checkpoint,
                                list(self._maybe_delete), list(self._maybe_delete.values()),
                                self._last_preserved_timestamp)

    def restore_or_initialize(self):
        """Restores the latest checkpoint and returns its path; with none, calls `init_fn`
        (if given) and returns None."""
        if self._latest_checkpoint is not None:
            self._checkpoint.restore(self._latest_checkpoint)
            return self._latest_checkpoint
        if self._init_fn is not None:
            self._init_fn()
        return None


def _as_int(value):
    if hasattr(value, "numpy"):
        value = value.numpy()
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TypeError(f"Expected an integer checkpoint number or step, got {value!r}.") \
            from None
