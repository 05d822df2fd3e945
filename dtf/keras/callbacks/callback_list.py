"""`keras.callbacks.CallbackList`: calls each hook on every callback, in order.

Two things beyond Keras' container:

- hooks that no callback implements cost one dict look-up (the batch hooks of a `fit` with
  `verbose=0` and no callbacks of the user's do nothing at all), and logs are converted to
  Python floats once per hook call, only when some callback will read them;
- a hook that raises is re-raised as an exception of the same type whose message starts with
  `Callback <ClassName>.<hook> raised: `, chained to the original, so a failing callback is
  named in the traceback's last line.
"""

from __future__ import annotations

from dtf.keras.callbacks.callback import HOOKS, Callback
from dtf.keras.callbacks.history import History
from dtf.keras.callbacks.progbar_logger import ProgbarLogger

__all__ = ["CallbackList"]

# The Keras 3 batch hooks that fall back on a Keras 2 alias in the base class.
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}
_DISPATCHED = tuple(h for h in HOOKS if h not in ("on_batch_begin", "on_batch_end"))


def _implements(callback, hook):
    """Whether `hook` does anything on `callback` (its class or the instance overrides it)."""
    method = getattr(callback, hook)
    if getattr(method, "__func__", method) is not getattr(Callback, hook):
        return True
    alias = _ALIASES.get(hook)
    return alias is not None and _implements(callback, alias)


def _python_logs(logs):
    """A new dict of the logs with scalar tensors and arrays as floats and nested dicts (a
    custom step's metric groups) flattened, as Keras gives its callbacks."""
    out = {}
    if not logs:
        return out
    for key, value in logs.items():
        if type(value) is float:
            out[key] = value
        elif isinstance(value, dict):
            out.update(_python_logs(value))
        else:
            out[key] = _scalar_or_value(value)
    return out


def _scalar_or_value(value):
    if hasattr(value, "numpy") and hasattr(value, "shape"):
        value = value.numpy()
    if getattr(value, "ndim", None) == 0 or isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except (TypeError, ValueError):
            return value
    return value


def _flatten(callbacks):
    """Nested lists and tuples of callbacks, in order, as Keras accepts them."""
    for item in callbacks:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item


def _named_error(callback, hook, error):
    """`error` re-made with the callback's name in front of its message, same type."""
    # A KeyError's str() is the repr of its message: the message itself reads better.
    text = error.args[0] if len(error.args) == 1 and isinstance(error.args[0], str) \
        else str(error)
    message = f"Callback {type(callback).__name__}.{hook} raised: {text}"
    error_type = type(error)
    try:
        named = error_type(message)
        if str(named) != message:
            raise TypeError
    except Exception:  # noqa: BLE001  (whatever the constructor raises)
        # A constructor that takes other arguments, or a str() that is not the message
        # (KeyError): an instance of a subclass made for the occasion keeps `except ThatType`
        # working.
        named_type = type(error_type.__name__, (error_type,), {
            "__str__": lambda self: message, "__module__": error_type.__module__})
        named = named_type.__new__(named_type)
        named.args = (message,)
        named.__dict__.update(getattr(error, "__dict__", {}))
    named._dtf_callback_named = True
    return named


class CallbackList(Callback):
    """The callbacks of one `fit`, `evaluate` or `predict` call, called as one.

    Args:
        callbacks: a list of `Callback`s (None for none).
        add_history: whether to add a `History` if the list has none.
        add_progbar: whether to add a `ProgbarLogger` if the list has none (only when the
            `verbose` parameter is not 0).
        model: the model the callbacks act on.
        **params: the loop's parameters (`verbose`, `epochs`, `steps`), given to every
            callback's `set_params`.

    Example:
        >>> from dtf import keras
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> callbacks = keras.callbacks.CallbackList(
        ...     [], add_history=True, model=model, verbose=0, epochs=1, steps=1)
        >>> callbacks.on_train_begin()
        >>> callbacks.on_epoch_begin(0)
        >>> callbacks.on_epoch_end(0, {"loss": 0.5})
        >>> callbacks.on_train_end()
        >>> model.history.history
        {'loss': [0.5]}
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        super().__init__()
        if isinstance(callbacks, Callback) and not isinstance(callbacks, CallbackList):
            callbacks = [callbacks]
        self.callbacks = []
        for callback in _flatten(callbacks or []):
            self._check(callback)
            self.callbacks.append(callback)
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self._progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if add_history and self._history is None:
            self._history = History()
            self.callbacks.append(self._history)
        if add_progbar and self._progbar is None and params.get("verbose", 1) != 0:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self._refresh()
        self.set_model(model)
        self.set_params(params)

    @staticmethod
    def _check(callback):
        missing = [hook for hook in _DISPATCHED if not callable(getattr(callback, hook, None))]
        if missing or not callable(getattr(callback, "set_model", None)):
            raise TypeError(
                f"Callbacks must be keras.callbacks.Callback instances (or have all its hooks); "
                f"got {callback!r} of type {type(callback).__name__}, which has no "
                f"{', '.join(missing) or 'set_model'}. Subclass keras.callbacks.Callback.")

    def _refresh(self):
        """Which callbacks implement each hook (recomputed when the list or a loop starts, so
        hooks assigned to an instance after construction count too)."""
        self._active = {hook: [c for c in self.callbacks if _implements(c, hook)]
                        for hook in _DISPATCHED}
        self._needs_python_logs = {
            hook: any(not getattr(c, "_handles_raw_logs", False) for c in active)
            for hook, active in self._active.items()}

    # -- the container --------------------------------------------------------------------------
    def append(self, callback):
        """Adds a callback at the end (it gets the list's model and params)."""
        self._check(callback)
        self.callbacks.append(callback)
        if isinstance(callback, History) and self._history is None:
            self._history = callback
        if isinstance(callback, ProgbarLogger) and self._progbar is None:
            self._progbar = callback
        if self.params:
            callback.set_params(self.params)
        if self._model is not None:
            callback.set_model(self._model)
        self._refresh()

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)

    def __getitem__(self, index):
        return self.callbacks[index]

    def set_params(self, params):
        """Gives `params` to every callback (an empty dict changes nothing)."""
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model):
        """Gives `model` to every callback and makes the list's `History` its `history`."""
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    # Hooks that no callback implements return before any work: these run on every batch.
    @property
    def _should_call_train_batch_hooks(self):
        """Whether any callback acts on training batches (a loop may skip building logs)."""
        return bool(self._active["on_train_batch_begin"] or self._active["on_train_batch_end"])

    @property
    def _should_call_test_batch_hooks(self):
        return bool(self._active["on_test_batch_begin"] or self._active["on_test_batch_end"])

    @property
    def _should_call_predict_batch_hooks(self):
        return bool(self._active["on_predict_batch_begin"]
                    or self._active["on_predict_batch_end"])

    def _dispatch(self, hook, args, logs):
        active = self._active[hook]
        if not active:
            return
        logs = _python_logs(logs) if self._needs_python_logs[hook] else (logs or {})
        for callback in active:
            try:
                getattr(callback, hook)(*args, logs)
            except Exception as error:
                if getattr(error, "_dtf_callback_named", False):
                    raise
                raise _named_error(callback, hook, error) from error

    # -- hooks ----------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._refresh()
        self._dispatch("on_train_begin", (), logs)

    def on_train_end(self, logs=None):
        self._dispatch("on_train_end", (), logs)

    def on_test_begin(self, logs=None):
        self._refresh()
        self._dispatch("on_test_begin", (), logs)

    def on_test_end(self, logs=None):
        self._dispatch("on_test_end", (), logs)

    def on_predict_begin(self, logs=None):
        self._refresh()
        self._dispatch("on_predict_begin", (), logs)

    def on_predict_end(self, logs=None):
        self._dispatch("on_predict_end", (), logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._dispatch("on_epoch_begin", (epoch,), logs)

    def on_epoch_end(self, epoch, logs=None):
        self._dispatch("on_epoch_end", (epoch,), logs)

    def on_train_batch_begin(self, batch, logs=None):
        if self._active["on_train_batch_begin"]:
            self._dispatch("on_train_batch_begin", (batch,), logs)

    def on_train_batch_end(self, batch, logs=None):
        if self._active["on_train_batch_end"]:
            self._dispatch("on_train_batch_end", (batch,), logs)

    def on_test_batch_begin(self, batch, logs=None):
        if self._active["on_test_batch_begin"]:
            self._dispatch("on_test_batch_begin", (batch,), logs)

    def on_test_batch_end(self, batch, logs=None):
        if self._active["on_test_batch_end"]:
            self._dispatch("on_test_batch_end", (batch,), logs)

    def on_predict_batch_begin(self, batch, logs=None):
        if self._active["on_predict_batch_begin"]:
            self._dispatch("on_predict_batch_begin", (batch,), logs)

    def on_predict_batch_end(self, batch, logs=None):
        if self._active["on_predict_batch_end"]:
            self._dispatch("on_predict_batch_end", (batch,), logs)

    # The Keras 2 names act on training batches.
    def on_batch_begin(self, batch, logs=None):
        self.on_train_batch_begin(batch, logs)

    def on_batch_end(self, batch, logs=None):
        self.on_train_batch_end(batch, logs)
