"""`keras.callbacks.History`: the per-epoch logs that `fit` returns."""

from __future__ import annotations

from dtf.keras.callbacks.callback import Callback

__all__ = ["History"]


class History(Callback):
    """Records each epoch's logs; `fit` adds one to every run and returns it.

    Attributes:
        history: `{name: [value of epoch 0, value of epoch 1, ...]}`.
        epoch: the indices of the epochs recorded.

    Example:
        >>> import numpy as np
        >>> from dtf import keras
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> history = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=2, verbose=0)
        >>> len(history.history["loss"]), history.epoch
        (2, [0, 1])
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)
        if self.model is not None:
            self.model.history = self
