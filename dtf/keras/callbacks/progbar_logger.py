"""`keras.callbacks.ProgbarLogger`: prints `Epoch i/n` and the progress bar during training."""

from __future__ import annotations

import sys

from dtf.keras.callbacks.callback import Callback
from dtf.keras.utils.progbar import Progbar

__all__ = ["ProgbarLogger"]


class ProgbarLogger(Callback):
    """Prints the progress bar of `fit`, `evaluate` and `predict` (added by them when
    `verbose` is not 0).

    Inside `fit`, `Epoch 1/2` is printed before each epoch when there are several, and the
    validation pass prints nothing of its own: its metrics end the epoch's line. The values shown
    are the loop's logs as they are (running means over the epoch).

    Example:
        >>> from dtf import keras
        >>> logger = keras.callbacks.ProgbarLogger()
        >>> logger.set_params({"verbose": 0, "epochs": 1, "steps": 4})
    """

    # The bar reads logs only when it redraws (at most every 50 ms); the CallbackList need not
    # convert them on every batch for it.
    _handles_raw_logs = True

    def __init__(self, count_mode=None, stateful_metrics=None):
        super().__init__()
        if count_mode not in (None, "steps"):
            raise ValueError(f"ProgbarLogger counts steps; count_mode={count_mode!r} is not "
                             "supported (leave it out or pass 'steps').")
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs=None):
        # Validation inside fit is silent; its metrics end the epoch's line.
        self._called_in_fit = True

    def on_train_end(self, logs=None):
        self._called_in_fit = False

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar()
            self._maybe_init_progbar()

    def on_predict_begin(self, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            sys.stdout.write(f"Epoch {epoch + 1}/{self.epochs}\n")
            sys.stdout.flush()

    def on_train_batch_end(self, batch, logs=None):
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update_progbar(batch, None)  # the outputs are no metric

    def on_epoch_end(self, epoch, logs=None):
        self._finalize_progbar(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs=None):
        self._finalize_progbar(logs)

    def _reset_progbar(self):
        self.seen = 0
        self.progbar = None

    def _maybe_init_progbar(self):
        if self.progbar is None:
            self.progbar = Progbar(target=self.target, verbose=self.verbose, unit_name="step")
            self.progbar._all_stateful = True

    def _update_progbar(self, batch, logs):
        self._maybe_init_progbar()
        bar = self.progbar
        self.seen = batch + 1  # batches count from 0, steps from 1
        # Between two redraws only the step count moves: the values shown are the latest logs,
        # which the next redraw brings (this runs on every batch).
        if self.verbose != 1 or not bar._redraw_due():
            bar._seen_so_far = self.seen
            return
        bar.update(self.seen, list(logs.items()) if logs else None, finalize=False)

    def _finalize_progbar(self, logs):
        self._maybe_init_progbar()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.seen
        self.progbar.update(self.target, list(logs.items()) if logs else None, finalize=True)
