"""The parameter server's state machine: Variables, their optimizer, and the step protocol.

A `ParameterServer` holds named arrays (a model's Variables, or this server's share of them),
versions them, and applies the gradients workers push with a Keras optimizer (the update rules
of `dtf.keras.optimizers`, slots living beside their variables). It knows nothing of Ray or gRPC:
the Ray actor and the gRPC service of `dtf.cluster` wrap one, and the local (single-process)
mode calls it directly, so every mode shares this logic.

Modes, as `dtf.distribute.ParameterServerStrategy(mode=...)`:
- "sync": step `s` is applied once every expected worker pushed its gradient for `s`; the
  gradients are averaged weighted by the workers' shard sizes (the mean over the global batch).
- "async": each gradient is applied as it arrives.
- "bounded": async, but a worker may push step `s` only while `s - slowest <= max_staleness`
  (the slowest worker's last pushed step); otherwise `push` answers `Push.WAIT`.

Every push names its worker, step and shard; a second push of the same (worker, step) is
rejected and counted, so a worker restarted after a failure cannot apply a step twice.

Example:
    >>> ps = ParameterServer({"w": np.ones(2, np.float32)}, keras.optimizers.SGD(0.5),
    ...                      num_workers=2, mode="sync")
    >>> ps.push(worker=0, step=0, shard_size=1, gradients={"w": np.ones(2, np.float32)})
    <Push.PENDING: 'pending'>
    >>> ps.push(worker=1, step=0, shard_size=3, gradients={"w": np.zeros(2, np.float32)})
    <Push.APPLIED: 'applied'>
    >>> ps.pull()[0]["w"]
    array([0.875, 0.875], dtype=float32)
"""

from __future__ import annotations

import enum
import threading

import numpy as np

__all__ = ["ParameterServer", "Push"]

_MODES = ("sync", "async", "bounded")


class Push(enum.Enum):
    """What happened to a pushed gradient."""

    APPLIED = "applied"  # the update ran (async, or the last gradient of a sync step)
    PENDING = "pending"  # sync: stored until the step's other workers push
    DUPLICATE = "duplicate"  # this (worker, step) was pushed before: ignored, counted
    STALE = "stale"  # sync: the step was already applied (a late or replayed push): ignored
    WAIT = "wait"  # bounded: too far ahead of the slowest worker; push again later


class ParameterServer:
    """Named Variables, their optimizer, and the push/pull protocol (see the module docstring).

    Args:
        values: `{name: array}` initial values (copied).
        optimizer: a Keras optimizer (built here on the Variables).
        num_workers: how many workers push (sync mode waits for all of them).
        mode: "sync", "async" or "bounded".
        max_staleness: bounded mode's limit, in steps.
        trainable: `{name: bool}`; non-trainable values are only assigned, never updated by the
            optimizer.
    """

    def __init__(self, values, optimizer, num_workers, mode="sync", max_staleness=None,
                 trainable=None):
        import dtf

        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}.")
        if mode == "bounded" and (max_staleness is None or int(max_staleness) < 0):
            raise ValueError("mode='bounded' needs max_staleness >= 0 (steps a worker may run "
                             "ahead of the slowest one).")
        if int(num_workers) < 1:
            raise ValueError(f"num_workers must be at least 1, got {num_workers}.")
        trainable = trainable or {}
        self.mode = mode
        self.max_staleness = None if max_staleness is None else int(max_staleness)
        self.num_workers = int(num_workers)
        self.variables = {name: dtf.Variable(np.array(value, copy=True), name=name,
                                             trainable=trainable.get(name, True))
                          for name, value in values.items()}
        self.optimizer = optimizer
        optimizer.build([v for v in self.variables.values() if v.trainable])
        self.versions = dict.fromkeys(self.variables, 0)
        self._lock = threading.Lock()
        self._step_applied = threading.Condition(self._lock)
        self._pending: dict = {}  # sync: step -> {worker: (shard_size, gradients)}
        self._seen: set = set()  # (worker, step) pushed
        self._last_step = dict.fromkeys(range(self.num_workers), -1)
        self.applied_steps = 0
        self.duplicates = 0

    # -- workers -----------------------------------------------------------------------------
    def push(self, worker, step, shard_size, gradients) -> Push:
        """Takes `worker`'s gradients `{name: array}` for `step` (computed on `shard_size`
        examples)."""
        worker, step = int(worker), int(step)
        if not 0 <= worker < self.num_workers:
            raise ValueError(f"worker {worker} is not one of the {self.num_workers} workers.")
        unknown = [n for n in gradients if n not in self.variables]
        if unknown:
            raise KeyError(f"gradients for unknown variables {unknown}; this server holds "
                           f"{sorted(self.variables)}.")
        with self._lock:
            if (worker, step) in self._seen:
                self.duplicates += 1
                return Push.DUPLICATE
            if self.mode == "sync" and step < self.applied_steps:
                self.duplicates += 1
                return Push.STALE
            if self.mode == "bounded":
                others = [s for w, s in self._last_step.items() if w != worker]
                slowest = min(others) if others else step
                if step - slowest > self.max_staleness + 1:
                    return Push.WAIT
            self._seen.add((worker, step))
            self._last_step[worker] = max(self._last_step[worker], step)
            if self.mode != "sync":
                self._apply({n: np.asarray(g) for n, g in gradients.items()})
                return Push.APPLIED
            waiting = self._pending.setdefault(step, {})
            waiting[worker] = (int(shard_size), gradients)
            if len(waiting) < self.num_workers:
                return Push.PENDING
            del self._pending[step]
            self._apply(_weighted_mean(waiting.values()))
            return Push.APPLIED

    def pull(self, known_versions=None, after_step=None, timeout_s=120.0):
        """`({name: array}, {name: version})` of the values newer than `known_versions`
        (all of them when None). The arrays are the server's current ones: treat them as
        read-only (the server replaces, never mutates, an array it handed out).

        In sync mode, `after_step=s` first waits until steps 0..s-1 are applied (a worker about
        to compute step s needs their result), at most `timeout_s` seconds."""
        with self._lock:
            if after_step is not None and self.mode == "sync" and not \
                    self._step_applied.wait_for(lambda: self.applied_steps >= after_step,
                                                timeout_s):
                raise TimeoutError(
                    f"parameter server: step {after_step - 1} was not applied within "
                    f"{timeout_s:.0f} s (waiting for the pushes of workers "
                    f"{sorted(set(range(self.num_workers)) - set(self._pending.get(after_step - 1, {})))}"
                    ").")
            names = [n for n, v in self.versions.items()
                     if known_versions is None or known_versions.get(n, -1) < v]
            return ({n: self.variables[n]._value for n in names},
                    {n: self.versions[n] for n in names})

    def assign(self, values) -> None:
        """Sets values by name (non-trainable state a worker computed, or a restore)."""
        with self._lock:
            for name, value in values.items():
                self.variables[name].assign(np.asarray(value))
                self.versions[name] += 1

    # -- internals ---------------------------------------------------------------------------
    def _apply(self, gradients) -> None:
        names = [n for n in gradients if self.variables[n].trainable]
        self.optimizer._apply_arrays([gradients[n].astype(self.variables[n].dtype.as_numpy_dtype,
                                                          copy=False) for n in names],
                                     [self.variables[n] for n in names])
        for n in names:
            self.versions[n] += 1
        self.applied_steps += 1
        self._step_applied.notify_all()


def _weighted_mean(contributions):
    """The gradients averaged over workers, weighted by their shard sizes."""
    contributions = list(contributions)
    total = sum(size for size, _ in contributions)
    if total <= 0:
        raise ValueError("the workers' shard sizes add up to zero: nothing to average.")
    names = contributions[0][1].keys()
    return {n: sum(np.asarray(g[n], dtype=np.float64) * (size / total)
                   for size, g in contributions) for n in names}
