"""`keras.callbacks.SwapEMAWeights`: evaluates and predicts with the optimizer's moving
averages of the weights (`use_ema=True`)."""

from __future__ import annotations

from dtf.keras.callbacks.callback import Callback

__all__ = ["SwapEMAWeights"]


def _ema_optimizers(model):
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    parts = getattr(optimizer, "optimizers", None)
    if parts:
        chosen = [opt for opt in parts if getattr(opt, "use_ema", False)]
        if not chosen:
            raise ValueError("SwapEMAWeights must be used when at least one inner optimizer has "
                             "`use_ema=True` set. Received a MultiOptimizer with all inner "
                             "optimizers having `use_ema=False`.")
        return chosen
    if optimizer is None or not getattr(optimizer, "use_ema", False):
        raise ValueError("SwapEMAWeights must be used when `use_ema=True` is set on the "
                         f"optimizer. Received: use_ema={getattr(optimizer, 'use_ema', None)}")
    return [optimizer]


class SwapEMAWeights(Callback):
    """Puts the exponential moving averages of the weights into the model for `evaluate`,
    `predict` and the validation of `fit`, and the trained weights back afterwards.

    With `swap_on_epoch=True` the averages are also in the model from each epoch's end to the
    next epoch's start (so checkpoints saved at epoch end hold them), and after the last epoch
    they stay. Put this callback before `ModelCheckpoint` in the list.

    Args:
        swap_on_epoch: whether to swap at epoch boundaries too.

    Example:
        >>> from dtf import keras
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile(keras.optimizers.SGD(use_ema=True), "mse")
        >>> callback = keras.callbacks.SwapEMAWeights(swap_on_epoch=True)
    """

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _swap_variables(self):
        for optimizer in _ema_optimizers(self.model):
            if not optimizer.built:
                continue  # nothing trained yet: the averages are the weights
            averages = optimizer._model_variables_moving_average
            for variable, average in zip(optimizer._trainable_variables, averages):
                current = variable.numpy()
                variable.assign(average.numpy())
                average.assign(current)

    def _finalize_ema_values(self):
        """The averages stay in the model for good: the slots get them too, so a later swap
        changes nothing."""
        for optimizer in _ema_optimizers(self.model):
            if not optimizer.built:
                continue
            averages = optimizer._model_variables_moving_average
            for variable, average in zip(optimizer._trainable_variables, averages):
                average.assign(variable.numpy())

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True
            if self.params and epoch == self.params.get("epochs", 0) - 1:
                self._finalize_ema_values()

    def on_test_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True

    def on_test_end(self, logs=None):
        if self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    def on_predict_begin(self, logs=None):
        self.on_test_begin(logs)

    def on_predict_end(self, logs=None):
        self.on_test_end(logs)
