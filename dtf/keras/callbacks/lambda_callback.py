"""`keras.callbacks.LambdaCallback`: a callback made of plain functions."""

from __future__ import annotations

from dtf.keras.callbacks.callback import HOOKS, Callback

__all__ = ["LambdaCallback"]


class LambdaCallback(Callback):
    """A callback whose hooks are the functions given.

    `on_epoch_begin`/`on_epoch_end` take `(epoch, logs)`, the batch hooks `(batch, logs)`,
    `on_train_begin`/`on_train_end` `(logs)`. Any other hook (`on_test_batch_end`,
    `on_batch_end`, ...) may be given by name as a keyword argument.

    Example:
        >>> from dtf import keras
        >>> print_batch = keras.callbacks.LambdaCallback(
        ...     on_train_batch_begin=lambda batch, logs: print(batch))
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                 "on_train_begin": on_train_begin, "on_train_end": on_train_end,
                 "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end}
        for name, value in kwargs.items():
            if name.startswith("on_") and name not in HOOKS:
                raise ValueError(f"LambdaCallback got {name}=..., which is no callback hook; "
                                 f"the hooks are {', '.join(HOOKS)}.")
            if name in HOOKS:
                hooks[name] = value
            else:
                setattr(self, name, value)  # Keras keeps other keywords as attributes
        for name, function in hooks.items():
            if function is None:
                continue
            if not callable(function):
                raise TypeError(f"LambdaCallback {name} must be a function; got {function!r}.")
            setattr(self, name, function)
