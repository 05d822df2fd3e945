"""`keras.utils.Progbar`: the progress bar that `fit`, `evaluate` and `predict` print.

The format is Keras' (the one the seeds show):

    1875/1875 [==============================] - 2s 999us/step - loss: 0.0838 - accuracy: 0.9741

On a terminal (or in a notebook) the bar is redrawn in place with a carriage return; when the
output is a file or a pipe, each drawn update is a line of its own, so logs stay readable.
`verbose=2` prints one line when the bar finishes:

    1875/1875 - 2s - loss: 0.0838 - accuracy: 0.9741 - 2s/epoch - 999us/step
"""

from __future__ import annotations

import math
import os
import sys
import time

__all__ = ["Progbar"]


def _as_float(value):
    """A metric value (float, NumPy scalar, 0-d array or dtf scalar Tensor) as a float."""
    if isinstance(value, float):
        return value
    if hasattr(value, "numpy"):
        value = value.numpy()
    try:
        return float(value)
    except (TypeError, ValueError):
        # Keras averages array-valued metrics for display
        import numpy as np

        return float(np.mean(value))


def _format_value(value):
    return f" {value:.4f}" if abs(value) > 1e-3 else f" {value:.4e}"


def format_duration(seconds, unit_name):
    """Keras' per-unit time: `' 2s/epoch'`, `' 12ms/step'`, `' 999us/step'`."""
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit_name}"
    return f" {seconds * 1e6:.0f}us/{unit_name}"


def _format_eta(eta):
    eta = int(eta)
    if eta > 3600:
        return f"{eta // 3600}:{(eta % 3600) // 60:02d}:{eta % 60:02d}"
    if eta > 60:
        return f"{eta // 60}:{eta % 60:02d}"
    return f"{eta}s"


def _is_dynamic_display(stream):
    isatty = getattr(stream, "isatty", None)
    try:
        tty = bool(isatty and isatty())
    except ValueError:  # a closed stream
        tty = False
    return tty or "ipykernel" in sys.modules or "PYCHARM_HOSTED" in os.environ


class Progbar:
    """Displays a progress bar.

    Values given to `update` are averaged over the steps seen (weighted by the steps each
    covers), except those named in `stateful_metrics`, which are shown as given.

    Args:
        target: total number of steps expected, None if unknown.
        width: width of the bar, in characters.
        verbose: 0 (silent), 1 (a bar redrawn at most every `interval` seconds), 2 (one line
            when the bar finishes).
        interval: minimum time between two redraws, in seconds.
        stateful_metrics: names of values shown as given instead of averaged.
        unit_name: what a step is called in the time per step (`"step"`, `"sample"`).

    Example:
        >>> from dtf import keras
        >>> bar = keras.utils.Progbar(3, verbose=0)
        >>> for step in range(3):
        ...     bar.update(step + 1, values=[("loss", 1.0 / (step + 1))])
    """

    def __init__(self, target, width=30, verbose=1, interval=0.05, stateful_metrics=None,
                 unit_name="step"):
        if target is not None and (not isinstance(target, (int, float)) or target < 0):
            raise ValueError(f"Progbar target must be a non-negative number of steps or None; "
                             f"got target={target!r}.")
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar verbose must be 0, 1 or 2; got verbose={verbose!r}.")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics) if stateful_metrics else set()
        # Every name is stateful: the training loop's logs are already running averages, so
        # ProgbarLogger shows them as they are (and never converts values it does not draw).
        self._all_stateful = False
        self._dynamic_display = _is_dynamic_display(sys.stdout)
        self._total_width = 0
        self._seen_so_far = 0
        # name -> [sum, count] for averaged values; name -> value for stateful ones
        self._values = {}
        self._values_order = []
        self._start = time.time()
        self._last_update = 0.0
        self._time_at_epoch_start = self._start
        self._time_at_epoch_end = None
        self._time_after_first_step = None

    def update(self, current, values=None, finalize=None):
        """Moves the bar to step `current`.

        Args:
            current: index of the current step (1-based: the number of steps done).
            values: list of `(name, value_for_last_step)` pairs.
            finalize: whether this is the bar's last update; defaults to
                `current >= target` (never when the target is unknown).
        """
        if finalize is None:
            finalize = False if self.target is None else current >= self.target
        if values:
            self._record(current, values)
        self._seen_so_far = current
        now = time.time()
        if current == self.target:
            self._time_at_epoch_end = now
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._draw(current, now, finalize)
        elif self.verbose == 2 and finalize:
            self._print_summary_line(current, now)
        self._last_update = now

    def add(self, n, values=None):
        """Moves the bar `n` steps forward."""
        self.update(self._seen_so_far + n, values)

    # -- internals ----------------------------------------------------------------------------
    def _redraw_due(self):
        """Whether `interval` has passed since the last redraw."""
        return time.time() - self._last_update >= self.interval

    def _record(self, current, values):
        order = self._values_order
        for name, value in values:
            if name not in self._values:
                order.append(name)
            if self._all_stateful or name in self.stateful_metrics:
                self._values[name] = value  # converted when drawn
                continue
            # On an unknown target both the last batch and the epoch end may report the same
            # step; count at least one step so the average stays finite.
            steps = max(current - self._seen_so_far, 1)
            value = _as_float(value)
            entry = self._values.get(name)
            if entry is None:
                self._values[name] = [value * steps, steps]
            else:
                entry[0] += value * steps
                entry[1] += steps

    def _average(self, name):
        entry = self._values[name]
        if isinstance(entry, list):
            return entry[0] / max(1, entry[1])
        return _as_float(entry)

    def _bar(self, current):
        if self.target is None or self.target == 0:
            return f"{int(current):7d}/Unknown"
        digits = int(math.log10(self.target)) + 1
        bar = f"{int(current):{digits}d}/{int(self.target)} ["
        filled = int(self.width * min(current / self.target, 1.0))
        if filled > 0:
            bar += "=" * (filled - 1) + (">" if current < self.target else "=")
        return bar + "." * (self.width - filled) + "]"

    def _draw(self, current, now, finalize):
        previous_width = self._total_width
        bar = self._bar(current)
        time_per_unit = self._estimate_step_duration(current, now)
        if self.target is None or finalize:
            info = f" - {now - self._start:.0f}s" + format_duration(time_per_unit, self.unit_name)
        else:
            info = f" - ETA: {_format_eta(time_per_unit * (self.target - current))}"
        for name in self._values_order:
            info += f" - {name}:" + _format_value(self._average(name))
        self._total_width = len(bar) + len(info)
        if previous_width > self._total_width:
            info += " " * (previous_width - self._total_width)
        if self._dynamic_display:
            message = "\b" * previous_width + "\r" + bar + info
            if finalize:
                message += "\n"
        else:
            message = bar + info.rstrip(" ") + "\n"
        _write(message)

    def _print_summary_line(self, current, now):
        if self.target:
            digits = int(math.log10(self.target)) + 1
            line = f"{int(current):{digits}d}/{int(self.target)}"
        else:
            line = f"{int(current)}/Unknown"
        line += f" - {now - self._start:.0f}s"
        for name in self._values_order:
            line += f" - {name}:" + _format_value(self._average(name))
        if self._time_at_epoch_end is not None and self.target:
            epoch_time = self._time_at_epoch_end - self._time_at_epoch_start
            line += " -" + format_duration(epoch_time, "epoch")
            line += " -" + format_duration(epoch_time / self.target, self.unit_name)
            self._time_at_epoch_start = now
            self._time_at_epoch_end = None
        _write(line + "\n")

    def _estimate_step_duration(self, current, now):
        """Seconds per step; the first step (often slow: building, tracing) is left out once
        there are others."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_unit


def _write(message):
    stream = sys.stdout
    stream.write(message)
    stream.flush()
