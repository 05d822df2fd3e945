"""`keras.callbacks.ModelCheckpoint`: saves the model (or its weights) during training."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings

import numpy as np

from dtf.keras.callbacks.monitor_callback import MonitorCallback

__all__ = ["ModelCheckpoint"]


def save_atomically(save, filepath):
    """Calls `save(path)` on a path in a fresh folder beside `filepath`, then moves what it
    wrote into place: a run that dies mid-save leaves the previous file whole, never a
    half-written one."""
    directory = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".tmp-checkpoint-", dir=directory)
    try:
        save(os.path.join(staging, os.path.basename(filepath)))
        for name in os.listdir(staging):
            target = os.path.join(directory, name)
            if os.path.isdir(target) and not os.path.islink(target):
                raise IsADirectoryError(target)
            os.replace(os.path.join(staging, name), target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class ModelCheckpoint(MonitorCallback):
    """Saves the model or its weights at the end of each epoch (or every `save_freq` batches).

    `filepath` may hold format fields filled from the epoch (counted from 1), the batch (with
    an integer `save_freq`) and the logs: `"weights.{epoch:02d}-{val_loss:.2f}.weights.h5"`.

    Args:
        filepath: where to save; ends in `.keras` (the whole model, `model.save`) or, with
            `save_weights_only=True`, in `.weights.h5` (`model.save_weights`).
        monitor: the quantity `save_best_only` compares.
        verbose: 1 prints a line for each save (and each skipped one with `save_best_only`).
        save_best_only: save only when `monitor` improves on the best value so far (the file
            is overwritten unless its path has format fields).
        save_weights_only: save only the weights.
        mode: `"auto"`, `"min"` or `"max"`, for `monitor`.
        save_freq: `"epoch"`, or save every this many batches.
        initial_value_threshold: the value `monitor` must beat before the first save with
            `save_best_only`.

    Each file is written beside its destination and moved into place once complete, so a run
    that dies during a save keeps the previous checkpoint intact.

    Example:
        >>> from dtf import keras
        >>> checkpoint = keras.callbacks.ModelCheckpoint(
        ...     "best.keras", monitor="val_accuracy", mode="max", save_best_only=True)
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool)
                                     or save_freq <= 0):
            raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are "
                             "'epoch' or a positive integer (a number of batches).")
        if save_weights_only:
            if not self.filepath.endswith(".weights.h5"):
                raise ValueError(
                    "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath "
                    "provided must end in `.weights.h5` (Keras weights format). Received: "
                    f"filepath={self.filepath}")
        elif not self.filepath.endswith((".keras", ".h5")):
            raise ValueError("The filepath provided must end in `.keras` (Keras model format). "
                             f"Received: filepath={self.filepath}")

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1  # a new epoch started
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch, logs, filepath):
        if not self.save_best_only:
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=3)
            return True
        if np.ndim(current) > 0:
            warnings.warn("Can save best model only when `monitor` is a scalar value. Received: "
                          f"{current}. Falling back to `save_best_only=False`.", stacklevel=3)
            return True
        current = float(current)
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                       f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch, batch, logs):
        logs = logs or {}
        filepath = self._get_file_path(epoch, batch, logs)
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                "Please specify a non-directory filepath for ModelCheckpoint. Filepath used is "
                f"an existing directory: {filepath}")
        if not self._should_save_model(epoch, logs, filepath):
            return
        if self.save_weights_only:
            save_atomically(lambda path: self.model.save_weights(path, overwrite=True), filepath)
        else:
            save_atomically(lambda path: self.model.save(path, overwrite=True), filepath)
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _get_file_path(self, epoch, batch, logs):
        fields = dict(logs)
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except (KeyError, IndexError) as error:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: field '
                f"{error} is not among those available ({', '.join(sorted(fields))}).") from error
        except ValueError as error:
            raise ValueError(
                f'Failed to format this callback filepath: "{self.filepath}" with '
                f"{fields}: {error}") from error


def _print(message):
    sys.stdout.write(message + "\n")
    sys.stdout.flush()
