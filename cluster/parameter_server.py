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

Every push names its worker, step and shard; each worker pushes its steps in increasing order,
so a push of a step the worker already pushed (a retry, or a replacement worker replaying a
step) is rejected and counted: no gradient is applied twice.

State survives a crash through checkpoints: with `checkpoint_dir`, the server writes its
variables, the optimizer's slots and step counter, and the per-worker step record atomically
every `checkpoint_every` applied steps (and at steps the driver asks for), and a server built
again on the same directory starts from the newest one. Every construction or restore draws a
new `generation`: a worker whose cached versions come from another generation pulls everything.

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
import os
import threading
import time
import uuid

import numpy as np

__all__ = ["ParameterServer", "Push", "ServerRestored"]

_NONE: dict = {}  # no assigns (never written to)

_MODES = ("sync", "async", "bounded")


class ServerRestored(RuntimeError):
    """The server went back to a checkpoint while a call waited: the caller's step is void."""


class Push(enum.Enum):
    """What happened to a pushed gradient."""

    APPLIED = "applied"  # the update ran (async, or the last gradient of a sync step)
    PENDING = "pending"  # sync: stored until the step's other workers push
    DUPLICATE = "duplicate"  # this worker pushed this step before: ignored, counted
    STALE = "stale"  # sync: the step was already applied (a late or replayed push): ignored
    WAIT = "wait"  # bounded: too far ahead of the slowest worker; push again later


_VALUES = {push: push.value for push in Push}  # (an enum's .value is two Python calls)


def _on_host():
    """A server's variables, slots and step count live in host memory, as the arrays the
    transports carry do, also on a machine whose default device is a GPU."""
    import dtf

    return dtf.device("/CPU:0")


def _build_optimizer(optimizer):
    """An optimizer object from itself or its `serialize_keras_object` config, updating its
    slots in place: a server's slots are never handed out (reads copy them), so their old
    arrays need not survive an update, and a large variable's update needs fewer temporaries."""
    if isinstance(optimizer, dict):
        from dtf.keras import optimizers

        with _on_host():
            optimizer = optimizers.deserialize(optimizer)
    optimizer._slots_in_place = True
    return optimizer


def _extended_optimizer(optimizer, variables):
    """A copy of built `optimizer` built on `variables` (its old variables first, then new
    ones): the old variables keep their slots and the step count carries over (Keras
    optimizers cannot add variables once built)."""
    from dtf.keras.saving import serialize_keras_object

    extended = _build_optimizer(serialize_keras_object(optimizer))
    with _on_host():
        extended.build(variables)
    for old_slots, new_slots in zip(optimizer._slot_table, extended._slot_table):
        for old, new in zip(old_slots, new_slots):
            if old is not None and new is not None:
                new.assign(old._value)
    extended.iterations.assign(optimizer.iterations.numpy())
    return extended


class ParameterServer:
    """Named Variables, their optimizer, and the push/pull protocol (see the module docstring).

    Args:
        values: `{name: array}` initial values (copied).
        optimizer: a Keras optimizer, or its serialized config (built here on the Variables).
        num_workers: how many workers push (sync mode waits for all of them).
        mode: "sync", "async" or "bounded".
        max_staleness: bounded mode's limit, in steps.
        trainable: `{name: bool}`; non-trainable values are only assigned, never updated by the
            optimizer.
        checkpoint_dir: where checkpoints go; a server built on a directory that has one
            starts from the newest.
        checkpoint_every: write a checkpoint every this many applied steps (None: only when
            asked, see `request_checkpoint`).
        optimizer_state: the optimizer's variables (`optimizer.get_weights()` order) to start
            from, e.g. restored by the driver.
        name: how errors and logs name this server.
    """

    def __init__(self, values, optimizer, num_workers, mode="sync", max_staleness=None,
                 trainable=None, checkpoint_dir=None, checkpoint_every=None,
                 optimizer_state=None, name="parameter server"):
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}.")
        if mode == "bounded" and (max_staleness is None or int(max_staleness) < 0):
            raise ValueError("mode='bounded' needs max_staleness >= 0 (steps a worker may run "
                             "ahead of the slowest one).")
        if int(num_workers) < 1:
            raise ValueError(f"num_workers must be at least 1, got {num_workers}.")
        self.name = name
        self.mode = mode
        self.max_staleness = None if max_staleness is None else int(max_staleness)
        self.num_workers = int(num_workers)
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = None if not checkpoint_every else int(checkpoint_every)
        self._lock = threading.Lock()
        self._step_applied = threading.Condition(self._lock)
        self.variables: dict = {}
        self.versions: dict = {}
        self.optimizer = _build_optimizer(optimizer)
        self._version_clock = 0
        self._add(values, trainable or {})
        self._reset_progress()
        self.duplicates = 0
        self.stale = 0
        self.waits = 0
        self.max_lead = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.checkpoints_written = 0
        self.restored_from = None
        self._checkpoint_requests: set = set()
        if optimizer_state is not None:
            self.optimizer.set_weights(list(optimizer_state))
        if checkpoint_dir is not None:
            from dtf.cluster import checkpoint

            if checkpoint.latest_step(checkpoint_dir) is not None:
                with self._lock:
                    self._restore(None)

    # -- variables ---------------------------------------------------------------------------
    def _add(self, values, trainable) -> None:
        import dtf

        fresh = {}
        for name, value in values.items():
            if name in self.variables:
                raise ValueError(f"{self.name} already holds a variable named {name!r}.")
            with _on_host():
                fresh[name] = dtf.Variable(np.array(value, copy=True),
                                           name=name.replace(":", "_"),
                                           trainable=trainable.get(name, True))
        self.variables.update(fresh)
        # what every update looks up per variable, kept beside it: (trainable, numpy dtype)
        self._kinds = {n: (v.trainable, np.dtype(v.dtype.as_numpy_dtype))
                       for n, v in self.variables.items()}
        self._version_clock += 1
        self.versions.update(dict.fromkeys(fresh, self._version_clock))
        trainable_vars = [v for v in self.variables.values() if v.trainable]
        if self.optimizer.built and any(v.trainable for v in fresh.values()):
            self.optimizer = _extended_optimizer(self.optimizer, trainable_vars)
        else:
            with _on_host():
                self.optimizer.build(trainable_vars)

    def add_variables(self, values, trainable=None) -> None:
        """Takes more variables (`{name: array}`) to hold, e.g. created after training began.
        Their optimizer slots are added beside them."""
        with self._lock:
            self._add(values, trainable or {})

    def set_optimizer(self, optimizer) -> None:
        """Replaces the optimizer (object or config); only before any update was applied."""
        with self._lock:
            if self.applied_steps or self._last_sequence:
                raise ValueError(f"{self.name} already applied updates with its optimizer.")
            self.optimizer = _build_optimizer(optimizer)
            with _on_host():
                self.optimizer.build([v for v in self.variables.values() if v.trainable])

    def _reset_progress(self) -> None:
        self.generation = uuid.uuid4().hex
        self.applied_steps = 0
        self._pending: dict = {}  # sync: step -> {"workers", "total", "sums", "assigns"}
        self._last_step = dict.fromkeys(range(self.num_workers), -1)
        self._last_sequence: dict = {}  # custom loops: worker -> last applied sequence

    # -- workers -----------------------------------------------------------------------------
    def push(self, worker, step, shard_size, gradients, assigns=None) -> Push:
        """Takes `worker`'s gradients `{name: array}` for `step` (computed on `shard_size`
        examples), and `assigns`: new values of non-trainable variables the step computed
        (BatchNormalization's moving statistics): averaged like the gradients in sync mode,
        the newest wins otherwise."""
        worker, step, shard_size = int(worker), int(step), int(shard_size)
        if not 0 <= worker < self.num_workers:
            raise ValueError(f"worker {worker} is not one of the {self.num_workers} workers of "
                             f"{self.name}.")
        variables = self.variables
        for name in gradients:
            if name not in variables:
                self._unknown(gradients, assigns)
        if assigns:
            for name in assigns:
                if name not in variables:
                    self._unknown(gradients, assigns)
        else:
            assigns = _NONE
        nbytes = 0
        for gradient in gradients.values():
            nbytes += gradient.nbytes if type(gradient) is np.ndarray else \
                np.asarray(gradient).nbytes
        with self._lock:
            self.bytes_in += nbytes
            last_step = self._last_step
            if step <= last_step[worker]:
                self.duplicates += 1
                return Push.DUPLICATE
            mode = self.mode
            if mode == "sync":
                if step < self.applied_steps:
                    self.stale += 1
                    return Push.STALE
                last_step[worker] = step
                return self._accumulate(worker, step, shard_size, gradients, assigns)
            if len(last_step) > 1:  # how far this worker is ahead of the slowest other one
                slowest = step
                for other, other_step in last_step.items():
                    if other_step < slowest and other != worker:
                        slowest = other_step
                if mode == "bounded" and step - 1 - slowest > self.max_staleness:
                    self.waits += 1
                    return Push.WAIT
                self.max_lead = max(self.max_lead, step - 1 - slowest)
            last_step[worker] = step
            self._apply(gradients, assigns)
            return Push.APPLIED

    def _unknown(self, gradients, assigns):
        unknown = [n for n in (*gradients, *(assigns or ())) if n not in self.variables]
        raise KeyError(f"{self.name} holds no variables named {unknown}; it holds "
                       f"{sorted(self.variables)}.")

    def _accumulate(self, worker, step, shard_size, gradients, assigns) -> Push:
        """Adds one worker's share to step `step`'s sums (one buffer per variable, not one per
        worker); applies the step when the last worker's share arrives.

        While every share has the same size (the usual case) the sums are plain sums, added in
        place with no temporary, and scaled once at the end; a share of another size turns them
        into sums weighted by shard size."""
        entry = self._pending.setdefault(step, {"workers": set(), "total": 0, "sums": {},
                                                "assigns": {}, "common": shard_size})
        entry["workers"].add(worker)
        entry["total"] += shard_size
        if entry["common"] is not None and shard_size != entry["common"]:
            for target in (entry["sums"], entry["assigns"]):
                for value in target.values():
                    if value.dtype.kind == "f":
                        value *= np.asarray(entry["common"], value.dtype)
            entry["common"] = None
        weight = None if entry["common"] is not None else shard_size
        for target, arrays in ((entry["sums"], gradients), (entry["assigns"], assigns)):
            for name, value in arrays.items():
                value = np.asarray(value)
                dtype = self.variables[name].dtype.as_numpy_dtype
                if np.dtype(dtype).kind != "f":  # integer state (a counter): the newest wins
                    target[name] = np.array(value, dtype=dtype)
                elif name not in target:  # the running sum: an array of our own
                    target[name] = np.array(value, dtype=dtype, copy=True) if weight is None \
                        else np.multiply(value, np.asarray(weight, dtype), dtype=dtype)
                elif weight is None:
                    target[name] += value
                else:
                    target[name] += value * np.asarray(weight, dtype)
        if len(entry["workers"]) < self.num_workers:
            return Push.PENDING
        del self._pending[step]
        total = entry["total"]
        if total <= 0:
            raise ValueError(f"{self.name}: the workers' shard sizes for step {step} add up to "
                             "zero: nothing to average.")
        scale = total if entry["common"] is None else total / entry["common"]
        for target in (entry["sums"], entry["assigns"]):
            for value in target.values():
                if value.dtype.kind == "f":
                    value /= np.asarray(scale, value.dtype)
        self._apply(entry["sums"], entry["assigns"])
        return Push.APPLIED

    def apply_update(self, worker, sequence, gradients, deltas) -> bool:
        """A custom-loop step of `worker` (its `sequence`-th scheduled function), applied on
        arrival whatever the mode: `gradients` through the optimizer (when there are any) and
        `deltas` added to variables (what the step changed by itself, e.g. a metric's
        `assign_add`), so concurrent workers' changes all count. A sequence number the worker
        sent before is rejected and counted; returns whether it was applied."""
        worker, sequence = int(worker), int(sequence)
        with self._lock:
            if sequence <= self._last_sequence.get(worker, -1):
                self.duplicates += 1
                return False
            self._last_sequence[worker] = sequence
            self.bytes_in += sum(np.asarray(g).nbytes for g in gradients.values())
            if gradients:
                names = [n for n in gradients if self.variables[n].trainable]
                self.optimizer._apply_arrays(
                    [np.asarray(gradients[n], self.variables[n].dtype.as_numpy_dtype)
                     for n in names], [self.variables[n] for n in names])
                for n in names:
                    self._bump(n)
            for name, delta in deltas.items():
                variable = self.variables[name]
                variable.assign(variable._value + np.asarray(delta, variable._value.dtype))
                self._bump(name)
            return True

    def pull(self, known_versions=None, after_step=None, timeout_s=120.0, generation=None):
        """`({name: array}, {name: version}, generation)` of the values newer than
        `known_versions` (all of them when None, or when `generation` is not this server's:
        the caller's versions came from before a restore). The arrays are the server's current
        ones: treat them as read-only (the server replaces, never mutates, an array it handed
        out).

        In sync mode, `after_step=s` first waits until steps 0..s-1 are applied (a worker about
        to compute step s needs their result), at most `timeout_s` seconds."""
        with self._lock:
            if after_step is not None and self.mode == "sync":
                began = self.generation
                if not self._step_applied.wait_for(
                        lambda: self.applied_steps >= after_step or self.generation != began,
                        timeout_s):
                    missing = sorted(w for w, s in self._last_step.items() if s < after_step - 1)
                    raise TimeoutError(
                        f"{self.name}: step {after_step - 1} was not applied within "
                        f"{timeout_s:.0f} s (waiting for the pushes of workers {missing}).")
                if self.generation != began:
                    raise ServerRestored(f"{self.name} was restored from a checkpoint while this "
                                         f"pull waited for step {after_step - 1}.")
            variables = self.variables
            if generation != self.generation or known_versions is None:
                versions = dict(self.versions)
                values = {n: variables[n]._value for n in versions}
            else:
                values, versions = {}, {}
                get = known_versions.get
                for name, version in self.versions.items():
                    if get(name, -1) < version:
                        values[name] = variables[name]._value
                        versions[name] = version
            nbytes = 0
            for value in values.values():
                nbytes += value.nbytes
            self.bytes_out += nbytes
            return values, versions, self.generation

    def push_pull(self, worker, step, shard_size, gradients, assigns=None,
                  known_versions=None, generation=None, timeout_s=120.0):
        """`push`, then `pull` of what changed once the step is applied (sync) or at once: one
        call per step instead of two. Returns `(Push value, values, versions, generation)`;
        nothing is pulled when the push must WAIT."""
        result = self.push(worker, step, shard_size, gradients, assigns)
        if result is Push.WAIT:
            return "wait", {}, {}, self.generation
        values, versions, generation = self.pull(
            known_versions, after_step=step + 1 if self.mode == "sync" else None,
            timeout_s=timeout_s, generation=generation)
        return _VALUES[result], values, versions, generation

    def assign(self, values) -> None:
        """Sets values by name (the driver setting weights, or a restore)."""
        with self._lock:
            for name, value in values.items():
                self.variables[name].assign(np.asarray(value))
                self._bump(name)

    def wait_for_step(self, step, timeout_s=120.0) -> int:
        """Blocks until `step` steps are applied; returns the applied count."""
        with self._lock:
            if not self._step_applied.wait_for(lambda: self.applied_steps >= step, timeout_s):
                raise TimeoutError(f"{self.name}: {step} steps were not applied within "
                                   f"{timeout_s:.0f} s (applied: {self.applied_steps}).")
            return self.applied_steps

    # -- checkpoints -------------------------------------------------------------------------
    def request_checkpoint(self, step) -> None:
        """Asks for a checkpoint when `step` steps are applied (now, if they are)."""
        with self._lock:
            if self.applied_steps == int(step):
                self._save()
            elif self.applied_steps < int(step):
                self._checkpoint_requests.add(int(step))

    def save_checkpoint(self) -> int:
        """Writes a checkpoint of the current state now; returns its step."""
        with self._lock:
            return self._save()

    def restore(self, step=None) -> int:
        """Goes back to checkpoint `step` (None: the newest); returns the restored step."""
        with self._lock:
            return self._restore(step)

    def _save(self) -> int:
        from dtf.cluster import checkpoint

        if self.checkpoint_dir is None:
            raise ValueError(f"{self.name} has no checkpoint_dir to write checkpoints to.")
        arrays = {f"var/{n}": v._value for n, v in self.variables.items()}
        arrays.update({f"opt/{i}": w for i, w in enumerate(self.optimizer.get_weights())})
        from dtf.keras.saving import serialize_keras_object

        meta = {"applied_steps": self.applied_steps, "mode": self.mode,
                "optimizer": serialize_keras_object(self.optimizer),
                "last_step": {str(w): (min(s, self.applied_steps - 1) if self.mode == "sync"
                                       else s) for w, s in self._last_step.items()},
                "last_sequence": {str(w): s for w, s in self._last_sequence.items()},
                "trainable": {n: bool(v.trainable) for n, v in self.variables.items()},
                "time": time.time()}
        checkpoint.write_checkpoint(self.checkpoint_dir, self.applied_steps, arrays, meta)
        self.checkpoints_written += 1
        return self.applied_steps

    def _restore(self, step) -> int:
        from dtf.cluster import checkpoint

        if self.checkpoint_dir is None:
            raise ValueError(f"{self.name} has no checkpoint_dir to restore from.")
        arrays, meta = checkpoint.read_checkpoint(self.checkpoint_dir, step)
        values = {k[4:]: a for k, a in arrays.items() if k.startswith("var/")}
        missing = {n: a for n, a in values.items() if n not in self.variables}
        if missing:  # variables added after this server was first built
            self._add(missing, {n: meta["trainable"].get(n, True) for n in missing})
        for name, value in values.items():
            self.variables[name].assign(value)
        weights = [arrays[f"opt/{i}"] for i in range(sum(k.startswith("opt/") for k in arrays))]
        if meta.get("optimizer") is not None:
            self.optimizer = _build_optimizer(meta["optimizer"])
            with _on_host():
                self.optimizer.build([v for v in self.variables.values() if v.trainable])
        if weights:
            self.optimizer.set_weights(weights)
        self._reset_progress()
        self._version_clock += 1
        self.versions = dict.fromkeys(self.variables, self._version_clock)
        self.applied_steps = int(meta["applied_steps"])
        for worker, last in meta["last_step"].items():
            if int(worker) in self._last_step:
                self._last_step[int(worker)] = int(last)
        self._last_sequence = {int(w): int(s) for w, s in meta.get("last_sequence", {}).items()}
        self._checkpoint_requests = {s for s in self._checkpoint_requests
                                     if s > self.applied_steps}
        self.restored_from = self.applied_steps
        self._step_applied.notify_all()
        return self.applied_steps

    # -- operations --------------------------------------------------------------------------
    def stats(self) -> dict:
        """Counters and memory: steps applied, duplicates rejected, bytes moved, and the bytes
        held in variables, optimizer slots and pending gradient sums."""
        with self._lock:
            pending = sum(a.nbytes for e in self._pending.values()
                          for part in (e["sums"], e["assigns"]) for a in part.values())
            return {"applied_steps": self.applied_steps, "duplicates": self.duplicates,
                    "stale": self.stale, "waits": self.waits, "max_lead": self.max_lead,
                    "bytes_in": self.bytes_in,
                    "bytes_out": self.bytes_out,
                    "variable_bytes": sum(v._value.nbytes for v in self.variables.values()),
                    "slot_bytes": sum(np.asarray(w).nbytes
                                      for w in self.optimizer.get_weights()),
                    "pending_bytes": pending, "last_step": dict(self._last_step),
                    "checkpoints_written": self.checkpoints_written,
                    "restored_from": self.restored_from, "generation": self.generation}

    def optimizer_slots(self):
        """`(iterations, {name: [slot array or None, ...]})`: the optimizer's step count and
        each trainable variable's slots, in the optimizer's slot order."""
        with self._lock:
            optimizer = self.optimizer
            slots = {}
            for name, variable in self.variables.items():
                index = optimizer._index.get(id(variable)) if variable.trainable else None
                if index is not None:
                    slots[name] = [None if slot is None else np.array(slot._value, copy=True)
                                   for slot in optimizer._slot_table[index]]
            return int(optimizer.iterations.numpy()), slots

    def set_optimizer_slots(self, iterations, slots) -> None:
        """Sets the optimizer's step count and slots (as `optimizer_slots` gives them)."""
        with self._lock:
            optimizer = self.optimizer
            for name, arrays in slots.items():
                index = optimizer._index[id(self.variables[name])]
                for slot, value in zip(optimizer._slot_table[index], arrays):
                    if slot is not None and value is not None:
                        slot.assign(np.asarray(value))
            optimizer.iterations.assign(int(iterations))

    def info(self) -> dict:
        """Where this server runs: its process id and host."""
        import socket

        return {"pid": os.getpid(), "host": socket.gethostname()}

    # -- internals ---------------------------------------------------------------------------
    def _bump(self, name) -> None:
        self._version_clock += 1
        self.versions[name] = self._version_clock

    def _apply(self, gradients, assigns) -> None:
        kinds = self._kinds
        variables = self.variables
        names, grads = [], []
        for name, gradient in gradients.items():
            trainable, dtype = kinds[name]
            if trainable:
                names.append(name)
                grads.append(gradient.astype(dtype, copy=False)
                             if type(gradient) is np.ndarray else np.asarray(gradient, dtype))
        if names:
            self.optimizer._apply_arrays(grads, [variables[n] for n in names])
        else:  # a step with no gradient here still counts (schedules stay in step)
            self.optimizer.iterations.assign_add(1)
        versions = self.versions
        for name in names:
            self._version_clock += 1
            versions[name] = self._version_clock
        for name, value in assigns.items():
            variables[name].assign(np.asarray(value))
            self._bump(name)
        self.applied_steps += 1
        if self.applied_steps in self._checkpoint_requests or (
                self.checkpoint_every and self.applied_steps % self.checkpoint_every == 0):
            self._checkpoint_requests.discard(self.applied_steps)
            self._save()
        if self._step_applied._waiters:  # (a sync pull waiting for this step)
            self._step_applied.notify_all()
