"""Atomic checkpoints of a parameter server's arrays on disk.

A checkpoint is one file, `<directory>/ckpt-<step>.npz`: a NumPy `.npz` archive (written
without pickle, read with `allow_pickle=False`) holding the arrays under positional names and a
JSON header with their real names, the step and the caller's `meta`. It is written to a
temporary file in the same directory, flushed and fsynced, then `os.replace`d into place, so a
reader sees either the whole file or none; `<directory>/latest` (the step, as text) is then
updated the same way. A crash at any point leaves at most a temporary file (`.tmp-*`, ignored
by readers, removed by the next write) and every complete checkpoint readable; the zip CRCs
catch a truncated or damaged file, reported as `CheckpointError`.

One writer per directory: each parameter server writes its own directory; `common_step`
finds the newest step every server has, to restore them consistently.

Example:
    >>> import tempfile, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> write_checkpoint(d, 10, {"dense/kernel:0": np.ones((2, 2), np.float32)}, {"epoch": 1})
    >>> arrays, meta = read_checkpoint(d)
    >>> latest_step(d), meta, float(arrays["dense/kernel:0"].sum())
    (10, {'epoch': 1}, 4.0)
"""

from __future__ import annotations

import contextlib
import json
import numbers
import os
import re
import tempfile

import numpy as np

__all__ = [
    "CheckpointError",
    "available_steps",
    "common_step",
    "latest_step",
    "read_checkpoint",
    "write_checkpoint",
]

_FORMAT = "dtf.ps_checkpoint"
_VERSION = 1
_HEADER = "header"
_NAME_RE = re.compile(r"^ckpt-(\d+)\.npz$")
_LATEST = "latest"
_TMP_PREFIX = ".tmp-"


class CheckpointError(Exception):
    """A checkpoint is missing, truncated or not a checkpoint this version can read."""


def checkpoint_path(directory, step):
    """The path of the checkpoint of `step` in `directory`."""
    return os.path.join(os.fspath(directory), f"ckpt-{_check_step(step)}.npz")


def write_checkpoint(directory, step, arrays, meta=None, keep=3):
    """Writes the checkpoint of `step` atomically and makes it the latest.

    Args:
        directory: the checkpoint directory (created if missing).
        step: the step, a non-negative int.
        arrays: `{name: array}`: any names (they may contain "/" and ":"), arrays of any
            shape (0-d and empty included) and any non-object dtype.
        meta: a JSON-able dict stored beside the arrays (None: `{}`).
        keep: how many checkpoints to keep (the newest steps), or None to keep all. Steps
            newer than `step` are removed too: they belong to a run that was rolled back.

    Returns:
        None.

    Raises:
        ValueError: for a bad step, keep, array (object dtype) or a meta that is not JSON-able.
        TypeError: for an array name that is not a string.
        OSError: if the file cannot be written (the directory is left as it was).
    """
    step = _check_step(step)
    if keep is not None and (
        isinstance(keep, bool) or not isinstance(keep, numbers.Integral) or keep < 1
    ):
        raise ValueError(f"keep must be a positive int or None (keep all); received {keep!r}.")
    directory = os.fspath(directory)
    names = list(arrays)
    values = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"Checkpoint array names must be strings; received {name!r}.")
        value = np.asarray(arrays[name])
        if value.dtype.hasobject:
            raise ValueError(
                f"Array {name!r} has dtype {value.dtype}, which cannot be stored without "
                "pickle; convert it to a numeric, bool or fixed-width string dtype."
            )
        values.append(value)
    header = {"format": _FORMAT, "version": _VERSION, "step": step, "names": names,
              "meta": {} if meta is None else meta}
    try:
        header_bytes = json.dumps(header, allow_nan=True).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise ValueError(f"Checkpoint meta must be JSON-able: {e}") from e

    os.makedirs(directory, exist_ok=True)
    payload = {f"a{i}": value for i, value in enumerate(values)}
    payload[_HEADER] = np.frombuffer(header_bytes, dtype=np.uint8)
    _atomic_write(directory, f"ckpt-{step}.npz", lambda f: np.savez(f, **payload))
    _atomic_write(directory, _LATEST, lambda f: f.write(f"{step}\n".encode("ascii")))
    _prune(directory, step, keep)


def available_steps(directory):
    """The steps of the complete checkpoints in `directory`, ascending (`[]` if none)."""
    try:
        entries = os.listdir(os.fspath(directory))
    except FileNotFoundError:
        return []
    return sorted(int(m.group(1)) for m in map(_NAME_RE.match, entries) if m)


def latest_step(directory):
    """The latest checkpoint's step in `directory`, or None when it holds none.

    That is the step `latest` names when its file is there; otherwise (a crash between writing
    a checkpoint and updating `latest`, or `latest` lost) the newest step present.
    """
    directory = os.fspath(directory)
    try:
        with open(os.path.join(directory, _LATEST), encoding="ascii") as f:
            step = int(f.read().strip())
        if os.path.exists(os.path.join(directory, f"ckpt-{step}.npz")):
            return step
    except (OSError, ValueError):
        pass
    steps = available_steps(directory)
    return steps[-1] if steps else None


def read_checkpoint(directory, step=None):
    """Reads a checkpoint.

    Args:
        directory: the checkpoint directory.
        step: the step to read; None reads the latest.

    Returns:
        `(arrays, meta)`: `{name: np.ndarray}` in the order written, and the meta dict.

    Raises:
        CheckpointError: if there is no such checkpoint, or its file is truncated or damaged;
            the message names the path.
    """
    directory = os.fspath(directory)
    if step is None:
        step = latest_step(directory)
        if step is None:
            raise CheckpointError(f"No checkpoint in {directory!r} (no ckpt-<step>.npz file).")
    path = checkpoint_path(directory, step)
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(bytes(archive[_HEADER]).decode("utf-8"))
            if header.get("format") != _FORMAT or header.get("version") != _VERSION:
                raise CheckpointError(
                    f"{path!r} is not a version-{_VERSION} dtf parameter-server checkpoint."
                )
            if header.get("step") != step:
                raise CheckpointError(
                    f"{path!r} holds step {header.get('step')!r}, not {step} (renamed file?)."
                )
            names = header["names"]
            # archive[...] reads each member to its end, so the zip CRC of every array is checked.
            arrays = {name: archive[f"a{i}"] for i, name in enumerate(names)}
            if len(archive.files) != len(names) + 1:
                raise CheckpointError(
                    f"{path!r} holds {len(archive.files) - 1} arrays but names {len(names)}."
                )
            return arrays, header["meta"]
    except CheckpointError:
        raise
    except FileNotFoundError:
        available = available_steps(directory)
        raise CheckpointError(
            f"No checkpoint of step {step} in {directory!r}: {path!r} does not exist "
            f"(steps available: {available})."
        ) from None
    except Exception as e:  # zipfile, numpy and json each raise their own kinds
        raise CheckpointError(
            f"Checkpoint {path!r} is truncated or damaged and cannot be read: "
            f"{type(e).__name__}: {e}"
        ) from e


def common_step(directories):
    """The newest step with a checkpoint in every one of `directories`, or None.

    Use it to restore several parameter servers to the same step.

    Raises:
        ValueError: if `directories` is empty.
    """
    directories = list(directories)
    if not directories:
        raise ValueError("common_step needs at least one directory.")
    common = set(available_steps(directories[0]))
    for directory in directories[1:]:
        common &= set(available_steps(directory))
    return max(common) if common else None


def _check_step(step):
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise ValueError(f"A checkpoint step must be a non-negative int; received {step!r}.")
    return int(step)


def _atomic_write(directory, name, write):
    """Writes `name` in `directory` through a fsynced temporary file and `os.replace`."""
    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=f"-{name}", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(directory, name))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    # Makes the rename itself durable; not every platform can open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _prune(directory, step, keep):
    """Removes checkpoints beyond the newest `keep` up to `step`, newer ones, and temp files."""
    steps = available_steps(directory)
    stale = [s for s in steps if s > step]
    older = [s for s in steps if s <= step]
    if keep is not None:
        stale += older[:-keep]
    for s in stale:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(directory, f"ckpt-{s}.npz"))
    for entry in os.listdir(directory):
        if entry.startswith(_TMP_PREFIX):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(directory, entry))
