"""`keras.callbacks.BackupAndRestore`: resumes an interrupted `fit` where it stopped.

How `fit` resumes: `on_train_begin` loads the latest backup (model weights through
`model.load_weights`, optimizer slots and step count, the epoch) and sets
`model._initial_epoch_from_backup` to the epoch to start from (None when there is no backup);
`fit` reads that attribute right after `on_train_begin` and starts there.

The backup folder holds one complete checkpoint folder (`ckpt-<n>/` with `model.weights.h5`
and `optimizer.npz`) and `training_metadata.json` naming it. A new checkpoint is written in full
before the metadata is switched to it (an atomic rename), so a run killed at any moment leaves
the previous backup usable.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np

from dtf.keras.callbacks.callback import Callback

__all__ = ["BackupAndRestore"]

_METADATA = "training_metadata.json"
_WEIGHTS = "model.weights.h5"
_OPTIMIZER = "optimizer.npz"


class BackupAndRestore(Callback):
    """Backs up the training state at the end of each epoch (or every `save_freq` batches) and
    restores it when `fit` starts again, so that a run killed midway resumes from its last
    backup instead of from scratch.

    The state is the model's weights, the optimizer's variables (its step count and slots) and
    the epoch. A run restarted from a mid-epoch backup starts that epoch over from its first
    batch, with the weights of the backup.

    Args:
        backup_dir: the folder of the backups (it should belong to this training run alone).
        save_freq: `"epoch"`, or back up every this many batches as well.
        double_checkpoint: accepted for Keras' API; the previous backup is always kept until a
            new one is complete.
        delete_checkpoint: whether to delete the backup folder when training finishes.

    Example:
        >>> import numpy as np
        >>> from dtf import keras
        >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> backup = keras.callbacks.BackupAndRestore(backup_dir="backup")
        >>> history = model.fit(np.ones((4, 1)), np.ones((4, 1)), epochs=2, callbacks=[backup],
        ...                     verbose=0)
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool)
                                     or save_freq <= 0):
            raise ValueError("Invalid value for argument `save_freq`. Received: save_freq="
                             f"{save_freq}. Expected either 'epoch' or a positive integer.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._metadata_path = os.path.join(self.backup_dir, _METADATA)
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0
        self._saves = 0

    # -- restoring ------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        model = self.model
        if not getattr(model, "built", True):
            raise ValueError(
                "To use the BackupAndRestore callback, you model must be built before you call "
                f"`fit()`. Model {getattr(model, 'name', model)} is unbuilt. You can build it "
                "beforehand by calling it on a batch of data.")
        metadata = self._read_metadata()
        if metadata is None:
            model._initial_epoch_from_backup = None
            return
        checkpoint = os.path.join(self.backup_dir, metadata["checkpoint"])
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            # Built first, as Keras does, so that weights files holding optimizer state load
            optimizer.build(model.trainable_variables)
        model.load_weights(os.path.join(checkpoint, _WEIGHTS))
        self._restore_optimizer(os.path.join(checkpoint, _OPTIMIZER))
        self._current_epoch = metadata["epoch"]
        self._saves = metadata.get("saves", 0)
        model._initial_epoch_from_backup = metadata["epoch"]

    def _read_metadata(self):
        if not os.path.exists(self._metadata_path):
            return None
        try:
            with open(self._metadata_path, encoding="utf-8") as f:
                metadata = json.load(f)
            int(metadata["epoch"])
            checkpoint = metadata["checkpoint"]
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"BackupAndRestore: {self._metadata_path} is not a backup's metadata ({error}). "
                "The folder may hold something else; give BackupAndRestore a folder of its own, "
                "or delete that file to start training from scratch.") from error
        if not os.path.isdir(os.path.join(self.backup_dir, checkpoint)):
            raise ValueError(
                f"BackupAndRestore: {self._metadata_path} names checkpoint {checkpoint!r}, which "
                f"is not in {self.backup_dir}. Delete the folder to start from scratch.")
        return metadata

    def _restore_optimizer(self, path):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not os.path.exists(path):
            return
        with np.load(path) as stored:
            arrays = [stored[f"arr_{i}"] for i in range(len(stored.files))]
        if not arrays:
            return
        if not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        current = optimizer.get_weights()
        shapes = [a.shape for a in arrays]
        if len(current) != len(arrays) or [c.shape for c in current] != shapes:
            raise ValueError(
                f"BackupAndRestore: the backup's optimizer state ({len(arrays)} variables) does "
                f"not fit optimizer {optimizer.name!r} ({len(current)} variables). The backup "
                "was made with another optimizer or model; delete "
                f"{self.backup_dir} to start from scratch.")
        optimizer.set_weights(arrays)

    # -- backing up -----------------------------------------------------------------------------
    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save_model()

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(batch)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        if batch <= self._last_batch_seen:
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _save_model(self, batch=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        previous = self._read_metadata()
        self._saves += 1
        name = f"ckpt-{self._saves}"
        checkpoint = os.path.join(self.backup_dir, name)
        shutil.rmtree(checkpoint, ignore_errors=True)  # a leftover of a killed run
        os.makedirs(checkpoint)
        self.model.save_weights(os.path.join(checkpoint, _WEIGHTS), overwrite=True)
        optimizer = getattr(self.model, "optimizer", None)
        arrays = optimizer.get_weights() if optimizer is not None and optimizer.built else []
        np.savez(os.path.join(checkpoint, _OPTIMIZER), *arrays)
        metadata = {"epoch": self._current_epoch, "batch": batch, "checkpoint": name,
                    "saves": self._saves}
        staging = self._metadata_path + ".tmp"
        with open(staging, "w", encoding="utf-8") as f:
            json.dump(metadata, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(staging, self._metadata_path)  # the switch to the new backup
        if previous is not None and previous["checkpoint"] != name:
            shutil.rmtree(os.path.join(self.backup_dir, previous["checkpoint"]),
                          ignore_errors=True)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
