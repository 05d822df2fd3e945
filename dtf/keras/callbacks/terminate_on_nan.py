"""`keras.callbacks.TerminateOnNaN`: stops training when the loss becomes NaN or infinite."""

from __future__ import annotations

import math
import sys

from dtf.keras.callbacks.callback import Callback

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """Stops training at the first batch whose loss is NaN or infinite.

    Args:
        raise_error: raise a `RuntimeError` instead of stopping quietly (the run then ends
            with an error a script or a scheduler sees).

    Example:
        >>> from dtf import keras
        >>> callback = keras.callbacks.TerminateOnNaN()
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if math.isnan(loss) or math.isinf(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: "
                                   f"{loss}. Terminating training immediately.")
            sys.stdout.write(f"Batch {batch}: Invalid loss, terminating training\n")
            sys.stdout.flush()
            self.model.stop_training = True
