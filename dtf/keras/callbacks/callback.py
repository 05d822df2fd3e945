"""`keras.callbacks.Callback`: the base class of the hooks `fit`, `evaluate` and `predict` call."""

from __future__ import annotations

__all__ = ["HOOKS", "Callback"]

# Every hook a training loop may call, with the Keras 2 aliases last.
HOOKS = (
    "on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
    "on_predict_begin", "on_predict_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_batch_begin", "on_predict_batch_end", "on_batch_begin", "on_batch_end",
)


class Callback:
    """Base class of callbacks: override the hooks you need; every hook does nothing here.

    `fit` calls `set_params` with `{"verbose", "epochs", "steps"}` and `set_model` with the
    model being trained before any hook. The `logs` of epoch and batch hooks hold the loss and
    metrics as Python floats (validation ones prefixed with `val_` at epoch end).

    Example:
        >>> from dtf import keras
        >>> class Stop(keras.callbacks.Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         if logs["loss"] < 0.1:
        ...             self.model.stop_training = True
    """

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        """Keeps the loop's parameters (`verbose`, `epochs`, `steps`) in `self.params`."""
        self.params = params

    def set_model(self, model):
        """Keeps the model the hooks act on; read it back as `self.model`."""
        self._model = model

    @property
    def model(self):
        """The model this callback acts on (None before `set_model`)."""
        return self._model

    @model.setter
    def model(self, model):
        # Keras 2 callbacks assign `self.model` themselves.
        self._model = model

    # Keras 2 names for the training batch hooks; the Keras 3 hooks call them, so callbacks
    # written against either API work.
    def on_batch_begin(self, batch, logs=None):
        """Alias of `on_train_batch_begin` kept for Keras 2 callbacks."""

    def on_batch_end(self, batch, logs=None):
        """Alias of `on_train_batch_end` kept for Keras 2 callbacks."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of each training epoch (`epoch` counts from 0)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of each training epoch with the epoch's metrics, validation ones
        prefixed with `val_`."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before each training batch (`batch` counts from 0 in each epoch)."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after each training batch with the running metrics of the epoch."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Called before each batch of `evaluate` (and of validation in `fit`)."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after each batch of `evaluate` with the running metrics."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before each batch of `predict`."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after each batch of `predict`; `logs["outputs"]` holds the batch's outputs."""

    def on_train_begin(self, logs=None):
        """Called once when `fit` starts."""

    def on_train_end(self, logs=None):
        """Called once when `fit` ends, with the last epoch's logs."""

    def on_test_begin(self, logs=None):
        """Called once when `evaluate` (or a validation pass) starts."""

    def on_test_end(self, logs=None):
        """Called once when `evaluate` ends, with its results."""

    def on_predict_begin(self, logs=None):
        """Called once when `predict` starts."""

    def on_predict_end(self, logs=None):
        """Called once when `predict` ends."""
