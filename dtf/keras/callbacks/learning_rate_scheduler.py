"""`keras.callbacks.LearningRateScheduler`: sets the learning rate from a function of the
epoch."""

from __future__ import annotations

import inspect
import sys

import numpy as np

from dtf.keras.callbacks.callback import Callback
from dtf.keras.callbacks.reduce_lr_on_plateau import learning_rate_of, optimizers_of

__all__ = ["LearningRateScheduler"]


def _takes_learning_rate(schedule):
    """Whether `schedule` accepts a second positional argument (the current rate); asked of
    its signature rather than by catching a TypeError, which would hide the schedule's own."""
    try:
        parameters = inspect.signature(schedule).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature
        return True
    positional = 0
    for parameter in parameters:
        if parameter.kind == parameter.VAR_POSITIONAL:
            return True
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2


class LearningRateScheduler(Callback):
    """At the start of each epoch, sets the learning rate to `schedule(epoch, lr)` (or
    `schedule(epoch)` for a one-argument function).

    Args:
        schedule: a function of the epoch index (from 0) and the current learning rate that
            returns the new learning rate as a float.
        verbose: 1 prints the rate set at each epoch.

    The epoch's `logs` get the current `learning_rate`, so `History` records it.

    Example:
        >>> from dtf import keras
        >>> def scheduler(epoch, lr):
        ...     return lr if epoch < 10 else lr * 0.9
        >>> callback = keras.callbacks.LearningRateScheduler(scheduler)
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler needs a callable schedule(epoch, lr); got "
                            f"{schedule!r}.")
        self.schedule = schedule
        self.verbose = verbose

    def _update(self, optimizer, epoch):
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        if _takes_learning_rate(self.schedule):
            learning_rate = self.schedule(epoch, learning_rate_of(optimizer))
        else:  # a schedule of the epoch alone (Keras 1 style)
            learning_rate = self.schedule(epoch)
        if hasattr(learning_rate, "numpy") and getattr(learning_rate, "ndim", 0) == 0:
            learning_rate = float(learning_rate.numpy())
        if not isinstance(learning_rate, (float, np.floating)):
            raise ValueError(  # noqa: TRY004  (Keras raises a ValueError here)
                "The output of the `schedule` function should be a float. Got: "
                f"{learning_rate!r} of type {type(learning_rate).__name__} at epoch {epoch}.")
        optimizer.learning_rate = float(learning_rate)
        return float(learning_rate)

    def on_epoch_begin(self, epoch, logs=None):
        for name, optimizer in optimizers_of(self.model):
            learning_rate = self._update(optimizer, epoch)
            if self.verbose > 0:
                which = f" {name}" if name else ""
                sys.stdout.write(f"\nEpoch {epoch + 1}: LearningRateScheduler setting{which} "
                                 f"learning rate to {learning_rate}.\n")
                sys.stdout.flush()

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for name, optimizer in optimizers_of(self.model):
            logs[f"learning_rate_{name}" if name else "learning_rate"] = \
                learning_rate_of(optimizer)
