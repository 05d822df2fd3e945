"""The base of callbacks that watch one logged quantity (`EarlyStopping`, `ModelCheckpoint`,
`ReduceLROnPlateau`): the monitored name, min/max mode and the improvement test."""

from __future__ import annotations

import operator
import warnings

from dtf.keras.callbacks.callback import Callback

__all__ = ["MonitorCallback"]

# Name fragments telling whether a quantity improves upwards or downwards, for mode="auto"
# (Keras 3 reads a `_direction` its metrics carry; names cover metrics without one).
_DOWN = ("loss", "error", "crossentropy", "hinge", "divergence", "poisson", "logcosh",
         "false_positives", "false_negatives")
_UP = ("acc", "auc", "precision", "recall", "iou", "f1", "fbeta", "fmeasure", "r2",
       "true_positives", "true_negatives", "cosine_similarity", "correlation", "sensitivity",
       "specificity")


def _metric_objects(model):
    """The model's metric objects, the compiled metrics' containers opened."""
    found = []
    stack = list(getattr(model, "metrics", None) or [])
    while stack:
        metric = stack.pop(0)
        inner = getattr(metric, "metrics", None)
        if isinstance(inner, (list, tuple)) and inner is not metric:
            stack.extend(inner)
        found.append(metric)
    return found


def _direction_from_name(text):
    text = text.lower()
    if any(part in text for part in _DOWN):
        return "down"
    if any(part in text for part in _UP):
        return "up"
    return None


class MonitorCallback(Callback):
    """A callback that watches `monitor` in the epoch logs.

    Args:
        monitor: the name of the quantity (`"val_loss"`, `"accuracy"`, ...).
        mode: `"min"`, `"max"` or `"auto"` (losses and errors are minimised, accuracies and
            the like maximised; other names need an explicit mode).
        baseline: the value to beat first, or None.
        min_delta: the smallest change that counts as an improvement.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto "
                          "mode.", stacklevel=2)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        direction = {"min": "down", "max": "up"}.get(self.mode) or self._auto_direction()
        if direction == "down":
            self.monitor_op = operator.lt
            self.min_delta = -abs(self.min_delta)
        else:
            self.monitor_op = operator.gt
            self.min_delta = abs(self.min_delta)

    def _auto_direction(self):
        name = self.monitor.removeprefix("val_")
        if name == "loss" or name.endswith("_loss"):
            return "down"
        for metric in _metric_objects(self.model):
            if getattr(metric, "name", None) == name:
                direction = getattr(metric, "_direction", None) or _direction_from_name(
                    f"{type(metric).__name__} {name}")
                if direction:
                    return direction
        direction = _direction_from_name(name)
        if direction:
            return direction
        raise ValueError(
            f"{type(self).__name__} callback received monitor={self.monitor}, but Keras isn't "
            "able to automatically determine whether that metric should be maximized or "
            "minimized. Pass `mode='max'` in order to monitor based on the highest metric "
            "value, or pass `mode='min'` in order to use the lowest value.")

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))
