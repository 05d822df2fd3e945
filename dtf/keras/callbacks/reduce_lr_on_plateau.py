"""`keras.callbacks.ReduceLROnPlateau`: lowers the learning rate when a quantity plateaus."""

from __future__ import annotations

import sys
import warnings

import numpy as np

from dtf.keras.callbacks.monitor_callback import MonitorCallback

__all__ = ["ReduceLROnPlateau"]


def learning_rate_of(optimizer):
    """The optimizer's current learning rate as a float."""
    return float(np.asarray(optimizer.learning_rate))


def optimizers_of(model):
    """The optimizers whose learning rate a callback adjusts: the model's, or the parts of a
    multi-optimizer, as `(name_or_None, optimizer)` pairs."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError(
            f"This callback adjusts the model's learning rate, but model "
            f"{getattr(model, 'name', model)!r} has no optimizer. Call model.compile(optimizer="
            "...) before fit(), or set model.optimizer in a custom loop.")
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    parts = getattr(optimizer, "optimizers", None)
    if parts:
        return [(getattr(opt, "name", f"optimizer_{i}"), opt) for i, opt in enumerate(parts)]
    return [(None, optimizer)]


class ReduceLROnPlateau(MonitorCallback):
    """Multiplies the learning rate by `factor` when `monitor` has not improved for `patience`
    epochs, then waits `cooldown` epochs before watching again.

    Args:
        monitor: the quantity to watch (`"val_loss"` by default).
        factor: the multiplier, below 1.
        patience: epochs without improvement before a reduction.
        verbose: 1 prints each reduction.
        mode: `"auto"`, `"min"` or `"max"`.
        min_delta: the smallest change that counts as an improvement.
        cooldown: epochs after a reduction during which no other happens.
        min_lr: the learning rate is never set below this.

    The epoch's `logs` get the current `learning_rate`, so `History` records it.

    Example:
        >>> from dtf import keras
        >>> reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.2,
        ...                                               patience=5, min_lr=0.001)
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        if "epsilon" in kwargs:  # Keras 2's name for min_delta
            min_delta = kwargs.pop("epsilon")
            warnings.warn("`epsilon` argument is deprecated and will be removed, use "
                          "`min_delta` instead.", stacklevel=2)
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau got unexpected arguments {sorted(kwargs)}.")
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. Received "
                             f"factor={factor}")
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        for name, optimizer in optimizers_of(self.model):
            key = f"learning_rate_{name}" if name else "learning_rate"
            logs[key] = learning_rate_of(optimizer)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          f"which is not available. Available metrics are: {','.join(logs)}.",
                          stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                reduced = False
                for name, optimizer in optimizers_of(self.model):
                    reduced = self._reduce(optimizer, epoch, name) or reduced
                if reduced:
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def _reduce(self, optimizer, epoch, name):
        old_lr = learning_rate_of(optimizer)
        if old_lr <= np.float32(self.min_lr):
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        optimizer.learning_rate = new_lr
        if self.verbose > 0:
            which = f" {name}" if name else ""
            sys.stdout.write(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing{which} learning "
                             f"rate to {new_lr}.\n")
            sys.stdout.flush()
        return True
