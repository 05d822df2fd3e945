"""`model.fit` under a `ParameterServerStrategy`: the driver's loop.

The call is the single-process one. The driver splits every global batch (`batch_size`) over
the workers as evenly as rows allow, so worker `i` owns the same rows of every batch; each
worker gets its rows once, through the object store (a `dtf.data.Dataset` is read on the driver
and sent once per epoch), with the compiled model. Then, per step, every worker pulls what
changed, computes its shard's gradient with a compiled step and pushes it; the parameter
servers apply the step (sync: once all shards arrived, weighted by shard size). The driver keeps
a few steps in flight per worker and, as each step's shards come back, updates the loss and
the compiled metrics (from the shards' predictions and its own copy of the targets), the
progress bar, `History` and the callbacks, exactly as in one process. With `shuffle=True` each
worker permutes its own rows every epoch (the driver knows the permutation).

Faults (Ray): a worker that dies is replaced by Ray and replays its set-up, then redoes its
outstanding steps (a push the server already has is rejected as a duplicate). A parameter
server that dies comes back from the newest checkpoint all servers share; the workers are
restarted and the loop goes back to that step (metrics too), so in sync mode the result is the
one of an undisturbed run and no step is applied twice.

Per-step timings (pull, compute, push, wait), bytes moved and the step time are in
`history.timing` (per epoch) and `history.steps` (per step).
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
from dtf.cluster.job import ServersRestored
from dtf.cluster.runtime import ActorDied, CallTimeout, RemoteFailure
from dtf.cluster.servers import ServerUnavailable

from dtf import nest

__all__ = ["fit"]

logger = logging.getLogger("dtf.cluster")


def check_model(strategy, model) -> None:
    """Raises before any actor starts when `model` cannot train under `strategy`."""
    from dtf.cluster.variables import PSVariable

    from dtf.keras.trainers.trainer import Trainer

    model._assert_compiled("fit")
    outside = [w.name for w in model.weights
               if not (isinstance(w, PSVariable) and w._strategy is strategy)]
    if outside or not model.weights:
        raise ValueError(
            f"fit() under ParameterServerStrategy needs the model's variables created inside "
            f"strategy.scope(), but {outside[:5] if outside else 'the model has none: build it'}"
            f"{' ...' if len(outside) > 5 else ''} "
            f"{'were' if len(outside) != 1 else 'was'} created outside it. Build (and compile) "
            "the model inside `with strategy.scope():`.")
    if type(model).train_step is not Trainer.train_step:
        raise NotImplementedError(
            f"{type(model).__name__} overrides train_step; fit() under ParameterServerStrategy "
            "runs the compiled loss on the workers. Write the step as a function and run it "
            "with dtf.distribute.coordinator.ClusterCoordinator.schedule.")


class _Plan:
    """Which rows of the data each worker handles at each step of an epoch."""

    def __init__(self, num_samples, batch_size, num_workers, steps_per_epoch=None):
        if num_samples < num_workers:
            raise ValueError(
                f"The data has {num_samples} samples and cannot be split across "
                f"{num_workers} workers: give at least one sample per worker.")
        if batch_size < num_workers:
            raise ValueError(
                f"batch_size={batch_size} is the global batch, split across {num_workers} "
                f"workers: it must be at least {num_workers} so that every worker gets rows.")
        steps = math.ceil(num_samples / batch_size)
        if steps_per_epoch is not None:
            steps = min(steps, int(steps_per_epoch))
        self.steps = steps
        self.batch_size = batch_size
        # rows[w] = the sample indices of worker w, in step order; sizes[w][k] its rows at step k
        self.rows = [[] for _ in range(num_workers)]
        self.sizes = [[] for _ in range(num_workers)]
        for k in range(steps):
            lo, hi = k * batch_size, min((k + 1) * batch_size, num_samples)
            for w, part in enumerate(np.array_split(np.arange(lo, hi), num_workers)):
                self.rows[w].append(part)
                self.sizes[w].append(len(part))
        self.rows = [np.concatenate(r) if r else np.zeros(0, np.int64) for r in self.rows]
        self.offsets = [np.concatenate([[0], np.cumsum(s)]) for s in self.sizes]


def _take(structure, rows):
    return nest.map_structure(lambda a: None if a is None else np.ascontiguousarray(a[rows]),
                              structure)


class _Data:
    """The training data as arrays, per epoch (arrays once; a Dataset read each epoch)."""

    def __init__(self, x, y, sample_weight, batch_size, shuffle, class_weight, steps_per_epoch,
                 num_workers):
        from dtf.keras.trainers.data_adapter import DataAdapter

        adapter = DataAdapter(x, y, sample_weight, batch_size, steps_per_epoch, shuffle=False,
                              class_weight=class_weight)
        self.kind = adapter.kind
        self.num_workers = num_workers
        self.shuffle = bool(shuffle) and shuffle != "batch" and self.kind == "arrays"
        self.steps_per_epoch = steps_per_epoch
        self._adapter = adapter
        if self.kind == "iterator":
            raise ValueError(
                "fit() under ParameterServerStrategy cannot split a Python generator across "
                "workers: pass arrays or a finite dtf.data.Dataset.")
        self.arrays = self._collect_arrays() if self.kind == "arrays" else None
        self.batch_size = adapter.batch_size if self.kind == "arrays" else None

    def split(self, validation_split):
        """Holds out the last `validation_split` of the arrays (as Keras does); returns it."""
        if self.kind != "arrays":
            raise ValueError("validation_split needs array data; pass validation_data for a "
                             "dataset.")
        held_out = self._adapter.split(validation_split)
        self.arrays = self._collect_arrays()
        return held_out

    def _collect_arrays(self):
        adapter = self._adapter
        if not adapter.num_samples:
            raise ValueError("fit() got no data: the arrays are empty.")
        if adapter.class_weight is None:
            # The adapter already holds NumPy arrays. They are not copied here: the shards
            # are put (a snapshot: Ray's object store copies, the local runtime copies) before
            # fit returns to any user code. Copying 48 MB here took 130 ms of a 1.9 s fit.
            return (adapter.x, adapter.y, adapter.sample_weight)
        batch_size = adapter.batch_size
        adapter.batch_size = adapter.num_samples
        try:
            (whole,) = list(adapter.epoch())
        finally:
            adapter.batch_size = batch_size
        return _as_numpy(whole)

    def epoch_arrays(self, epoch):
        """`((x, y, sample_weight), batch_size)` for `epoch`; a Dataset is read again."""
        if self.arrays is not None:
            return self.arrays, self.batch_size
        batches = [_as_numpy(b) for b in self._adapter.epoch()]
        if not batches:
            raise ValueError("fit() got an empty dataset: it yields no batches.")
        sizes = [len(nest.flatten(b[0])[0]) for b in batches]
        if any(s != sizes[0] for s in sizes[:-1]):
            raise ValueError(f"The dataset's batches have different sizes {sorted(set(sizes))} "
                             "before the last one; batch it with a fixed batch size.")
        joined = tuple(None if batches[0][i] is None else nest.map_structure(
            lambda *parts: np.concatenate(parts, axis=0), *[b[i] for b in batches])
            for i in range(3))
        return joined, sizes[0]


def _as_numpy(batch):
    from dtf.keras.trainers.data_adapter import unpack_x_y_sample_weight

    x, y, sample_weight = unpack_x_y_sample_weight(batch)
    convert = lambda a: None if a is None else (a.numpy() if hasattr(a, "numpy")
                                                 else np.asarray(a))
    return (nest.map_structure(convert, x), None if y is None else
            nest.map_structure(convert, y),
            None if sample_weight is None else nest.map_structure(convert, sample_weight))


def _num_samples(arrays):
    return len(nest.flatten(arrays[0])[0])


class _Metrics:
    """The driver's loss tracker and compiled metrics, with snapshots to go back to a step."""

    def __init__(self, model):
        self.model = model
        self.variables = [v for m in model.metrics for v in m.variables]
        self.snapshots: dict = {}
        self.needs_predictions = bool(_has_compiled_metrics(model))

    def snapshot(self, step) -> None:
        self.snapshots[step] = [np.array(v.numpy(), copy=True) for v in self.variables]

    def restore(self, step) -> None:
        for v, value in zip(self.variables, self.snapshots[step]):
            v.assign(value)
        self.snapshots = {s: v for s, v in self.snapshots.items() if s <= step}

    def update(self, loss, size, y, y_pred, sample_weight):
        model = self.model
        model._loss_tracker.update_state(loss, sample_weight=size)
        if self.needs_predictions and y is not None:
            model.compiled_metrics.update_state(y, y_pred, sample_weight)
        return model.get_metrics_result()


def _has_compiled_metrics(model) -> bool:
    """Whether `compile(metrics=..., weighted_metrics=...)` named any metric (the driver then
    needs the shards' predictions)."""
    compiled = getattr(model, "compiled_metrics", None)
    if compiled is None:
        return False
    return any(compiled._specs(config) != [[] for _ in compiled.output_names]
               for config in (compiled._metrics_config, compiled._weighted_config))


def _shard_slices(arrays, plan, worker):
    return _take(arrays, plan.rows[worker])


def fit(strategy, model, x=None, y=None, batch_size=None, epochs=1, verbose="auto",
        callbacks=None, validation_split=0.0, validation_data=None, shuffle=True,
        class_weight=None, sample_weight=None, initial_epoch=0, steps_per_epoch=None,
        validation_steps=None, validation_batch_size=None, validation_freq=1):
    """`model.fit` on `strategy`'s parameter servers and workers (see the module docstring)."""
    from dtf.cluster.shipping import dumps

    from dtf.keras.trainers.data_adapter import DataAdapter, unpack_x_y_sample_weight
    from dtf.keras.trainers.trainer import _python_logs, _verbose

    check_model(strategy, model)
    verbose = _verbose(verbose)
    data = _Data(x, y, sample_weight, batch_size, shuffle, class_weight, steps_per_epoch,
                 strategy.num_workers)
    if validation_split and validation_data is None:
        validation_data = data.split(validation_split)
    val_adapter = None
    if validation_data is not None:
        vx, vy, vsw = unpack_x_y_sample_weight(validation_data)
        val_adapter = DataAdapter(vx, vy, vsw, validation_batch_size or batch_size,
                                  validation_steps)
    arrays, global_batch = data.epoch_arrays(initial_epoch)
    plan = _Plan(_num_samples(arrays), global_batch, strategy.num_workers, steps_per_epoch)

    callbacks = model._callbacks(callbacks, verbose, epochs, plan.steps, True)
    object.__setattr__(model, "stop_training", False)
    callbacks.on_train_begin()  # BackupAndRestore may set the driver's weights first

    job = strategy._job
    job.host(model.weights, model.optimizer)
    job.push_optimizer_state(model.optimizer, model.trainable_weights)
    blob, _, _ = dumps(model, strategy)
    runtime = job.runtime
    blob_ref = runtime.put(blob)
    seed = int(np.random.SeedSequence().entropy % (2**31)) if data.shuffle else None
    metrics = _Metrics(model)
    set_up = [job.setup_worker(w, "setup_fit", blob_ref,
                               runtime.put(_shard_slices(arrays, plan, w)), plan.sizes[w], seed,
                               metrics.needs_predictions) for w in range(strategy.num_workers)]
    for future in set_up:
        future.result(strategy.start_timeout_s)

    loop = _Loop(strategy, job, model, plan, metrics, seed)
    loop.base = loop.first_step()
    start = model.__dict__.pop("_initial_epoch_from_backup", None)
    initial_epoch = initial_epoch if start is None else max(initial_epoch, start)
    epoch_logs = {}
    history = next((c for c in callbacks if type(c).__name__ == "History"), None)
    timing: dict = {}
    step_records: list = []
    try:
        for epoch in range(initial_epoch, epochs):
            if epoch != initial_epoch and data.arrays is None:
                arrays, global_batch = data.epoch_arrays(epoch)
                plan = _Plan(_num_samples(arrays), global_batch, strategy.num_workers,
                             steps_per_epoch)
                set_up = [job.setup_worker(w, "set_data",
                                           runtime.put(_shard_slices(arrays, plan, w)),
                                           plan.sizes[w], seed)
                          for w in range(strategy.num_workers)]
                for future in set_up:
                    future.result(strategy.start_timeout_s)
                loop.plan = plan
            model.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            logs, records = loop.run_epoch(epoch, arrays, callbacks)
            step_records.extend(records)
            _add_timing(timing, records)
            if records:
                logger.info(
                    "epoch %d: %d steps; per step pull %.2f ms, compute %.2f ms, push %.2f ms, "
                    "wait %.2f ms; %.1f kB pulled, %.1f kB pushed", epoch + 1, len(records),
                    *(1000 * timing[k][-1] / len(records)
                      for k in ("pull", "compute", "push", "wait")),
                    timing["bytes_pulled"][-1] / 1e3, timing["bytes_pushed"][-1] / 1e3)
            job.refresh()
            epoch_logs = _python_logs(logs) if logs else _python_logs(model.get_metrics_result())
            if val_adapter is not None and model._should_validate(epoch, validation_freq):
                val_logs = model._evaluate_adapter(val_adapter, callbacks=callbacks, verbose=0)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            job.pull_optimizer_state(model.optimizer, model.trainable_weights)
            callbacks.on_epoch_end(epoch, epoch_logs)
            if model.stop_training:
                break
    finally:
        job.refresh()
    callbacks.on_train_end(logs=epoch_logs)
    if history is not None:
        history.timing = timing
        history.steps = step_records
    object.__setattr__(model, "history", history)
    return history


def _add_timing(timing, records) -> None:
    totals = {}
    for record in records:
        for key, value in record.items():
            if key != "step":
                totals[key] = totals.get(key, 0.0) + value
    for key, value in totals.items():
        timing.setdefault(key, []).append(value)


class _Loop:
    """Runs an epoch's steps on the workers with a few in flight, and recovers from faults."""

    def __init__(self, strategy, job, model, plan, metrics, seed):
        self.strategy = strategy
        self.job = job
        self.model = model
        self.plan = plan
        self.metrics = metrics
        self.seed = seed
        self.num_workers = strategy.num_workers
        self.window = strategy.steps_in_flight
        # steps_per_execution steps per worker call; one in the local mode, whose calls run
        # one after another (a sync worker's next step waits for the others' pushes)
        self.chunk = 1 if job.runtime.kind == "local" else \
            max(1, int(model.__dict__.get("_steps_per_execution", 1)))

    def first_step(self):
        states = self._guarded(self.job.server_states)
        if self.strategy.mode == "sync":
            return states[0]["applied_steps"]
        return max(max(s["last_step"].values()) for s in states) + 1

    def _dispatch(self, pending, epoch, index):
        """Sends every worker the steps from `index` on, `steps_per_execution` of them in one
        call; returns how many."""
        indices = range(index, min(index + self.chunk, self.plan.steps))
        for w in range(self.num_workers):
            self._send(pending, epoch, list(indices), w)
        return len(indices)

    def _send(self, pending, epoch, indices, w):
        """Worker `w` runs steps `indices` in one call; each index maps to the shared call."""
        first = self.epoch_base + indices[0]
        items = [(self.epoch_base + i, epoch, i) for i in indices]
        call = _Call(self.job.workers[w].call("fit_steps", items, what=f"step {first}"),
                     indices[0])
        for i in indices:
            pending[(i, w)] = call

    def run_epoch(self, epoch, arrays, callbacks):
        from dtf.keras.trainers.trainer import _python_logs

        self.epoch_base = self.base
        self._epoch = epoch
        plan = self.plan
        self.metrics.snapshots = {}
        self.metrics.snapshot(0)
        if self.strategy.checkpoint_dir is not None and self.job.barrier_step != self.base:
            self._guarded(lambda: self.job.request_checkpoint(
                self.base if self.strategy.mode == "sync" else
                self.job.server_states()[0]["applied_steps"]))
        _, y_all, sw_all = arrays
        pending: dict = {}
        records = []
        logs = {}
        index = 0
        dispatched = 0
        batch_hooks = getattr(callbacks, "_should_call_train_batch_hooks", True)
        while True:
            if index >= plan.steps or self.model.stop_training:
                index, dispatched, done = self._barrier(pending, epoch, index, dispatched)
                if done:
                    break
                continue
            while dispatched < min(index + max(self.window, self.chunk), plan.steps):
                dispatched += self._dispatch(pending, epoch, dispatched)
            self.job.in_flight = len(pending)
            self.job.stale = True
            if batch_hooks:
                callbacks.on_train_batch_begin(index)
            started = time.perf_counter()
            try:
                results = self._results(pending, index)
            except _ServerTrouble as trouble:
                index, dispatched = self._recover_servers(trouble.failure, pending, epoch)
                continue
            for w in range(self.num_workers):
                del pending[(index, w)]
            self.job.in_flight = len(pending)
            logs, record = self._record(index, epoch, results, y_all, sw_all)
            record["driver_wait"] = time.perf_counter() - started
            records.append(record)
            self.metrics.snapshot(index + 1)
            if batch_hooks:
                logs = _python_logs(logs)
                callbacks.on_train_batch_end(index, logs)
            index += 1
        self.job.in_flight = 0
        self.base = self.epoch_base + dispatched
        return logs, records

    def _guarded(self, call):
        """`call()`, restoring a server that died since the last barrier first."""
        try:
            return call()
        except (ServerUnavailable, ActorDied, CallTimeout) as error:
            self.job.recover(error)
            return call()

    def _barrier(self, pending, epoch, index, dispatched):
        """The epoch's end: the queued steps finish, every server has applied them (and, with
        a checkpoint_dir, writes a checkpoint of exactly this point), and the driver fetches the
        values. A server lost meanwhile sends the loop back to its checkpoint:
        `(index, dispatched, done)`."""
        job = self.job
        try:
            for call in _unique(pending.values()):  # stopped early: the queued steps finish
                try:
                    call.future.result(self.strategy.step_timeout_s)
                except (ActorDied, CallTimeout, RemoteFailure) as e:
                    if isinstance(e, RemoteFailure) and _server_trouble(e):
                        raise _ServerTrouble(e) from None
            pending.clear()
            end = self.epoch_base + dispatched
            if self.strategy.mode == "sync":
                for server in job.servers:
                    server.call("wait_for_step", end, self.strategy.step_timeout_s).result(
                        self.strategy.step_timeout_s + 5)
                job.barrier_step = end
            if self.strategy.checkpoint_dir is not None:
                job.request_checkpoint(end if self.strategy.mode == "sync" else
                                       job.server_states()[0]["applied_steps"])
            job.refresh(recover=False)
        except (_ServerTrouble, ServerUnavailable, ActorDied, CallTimeout) as trouble:
            failure = trouble.failure if isinstance(trouble, _ServerTrouble) else trouble
            index, dispatched = self._recover_servers(failure, pending, epoch)
            return index, dispatched, False
        return index, dispatched, True

    def _results(self, pending, index):
        """Every worker's result of step `index`. The step's calls are watched together, so a
        worker that died is noticed while the others wait for its push: it is replaced and
        its outstanding steps sent again."""
        step = self.epoch_base + index
        results: dict = {}
        deadline = time.monotonic() + self.strategy.step_timeout_s
        while len(results) < self.num_workers:
            waiting = {w: pending[(index, w)] for w in range(self.num_workers)
                       if w not in results}
            for w, call in list(waiting.items()):
                if call.results is not None:
                    results[w] = call.results[index - call.first]
                    del waiting[w]
            if not waiting:
                break
            ready = self.job.runtime.wait_any([c.future for c in waiting.values()],
                                              max(0.0, deadline - time.monotonic()))
            if not ready:
                late = ", ".join(self.job.workers[w].name for w in waiting)
                raise TimeoutError(f"{late} did not finish step {step} within "
                                   f"{self.strategy.step_timeout_s:.0f} s.")
            for w, call in waiting.items():
                if call.future not in ready:
                    continue
                try:
                    call.results = call.future.result(self.strategy.step_timeout_s)
                    results[w] = call.results[index - call.first]
                except ActorDied:
                    self.job.revive_worker(w)
                    self._redispatch(pending, index, w)
                    deadline = time.monotonic() + self.strategy.step_timeout_s
                except CallTimeout as e:
                    raise TimeoutError(f"{e.actor} did not finish step {step} within "
                                       f"{self.strategy.step_timeout_s:.0f} s.") from None
                except RemoteFailure as failure:
                    if _server_trouble(failure):
                        raise _ServerTrouble(failure) from None
                    raise failure.user_error() from None
        return [results[w] for w in range(self.num_workers)]

    def _redispatch(self, pending, index, w):
        """Sends worker `w` (a replacement) again every step from `index` it had pending, in
        the same groups."""
        groups: dict = {}
        for (i, worker), call in sorted(pending.items()):
            if worker == w and i >= index:
                groups.setdefault(id(call), []).append(i)
        for indices in groups.values():
            self._send(pending, self._epoch, indices, w)

    def _recover_servers(self, failure, pending, epoch):
        """A worker could not reach a parameter server. The workers are restarted first (their
        queued steps dropped, nothing stale pushed after the restore); if a server came back
        from a checkpoint, every server goes back to the newest common one and the loop to
        that step; if the servers are fine, the failure is raised."""
        job = self.job
        if job.runtime.kind != "ray":
            raise failure
        job.stop_workers([c.future for c in _unique(pending.values())])
        pending.clear()
        try:
            job.check_servers(job.generations)
        except ServersRestored as restored:
            for w in range(self.num_workers):
                job.revive_worker(w)
            return self._rewind(restored, epoch)
        raise failure

    def _rewind(self, restored, epoch):
        """Goes back to the step of checkpoint `restored.step` (metrics too)."""
        if self.strategy.mode == "sync":
            resume = restored.step - self.epoch_base
        else:
            last = min(min(s["last_step"].values()) for s in restored.stats)
            resume = last + 1 - self.epoch_base
        resume = max(0, min(resume, max(self.metrics.snapshots)))
        self.metrics.restore(resume)
        logger.warning("replaying steps from %d of epoch %d", resume, epoch)
        return resume, resume

    def _record(self, index, epoch, results, y_all, sw_all):
        sizes = [r["size"] for r in results]
        total = sum(sizes)
        loss = sum(r["loss"] * s for r, s in zip(results, sizes)) / max(total, 1)
        y = sw = y_pred = None
        if self.metrics.needs_predictions and y_all is not None:
            rows = np.concatenate([self._rows(w, epoch, index) for w in range(self.num_workers)])
            y = _take(y_all, rows)
            sw = None if sw_all is None else _take(sw_all, rows)
            parts = [r["y_pred"] for r in results if r["size"]]
            y_pred = nest.map_structure(lambda *p: np.concatenate(p, axis=0), *parts)
        logs = self.metrics.update(np.float32(loss), total, y, y_pred, sw)
        record = {"step": self.epoch_base + index}
        for key in ("pull", "compute", "push", "wait"):
            record[key] = max(r["timing"][key] for r in results)
        record["bytes_pulled"] = float(sum(r["bytes"]["pulled"] for r in results))
        record["bytes_pushed"] = float(sum(r["bytes"]["pushed"] for r in results))
        logger.debug("step %d: %s", record["step"], record)
        return logs, record

    def _rows(self, w, epoch, index):
        from dtf.cluster.worker import shuffle_order

        plan = self.plan
        lo, hi = int(plan.offsets[w][index]), int(plan.offsets[w][index + 1])
        local = np.arange(lo, hi) if self.seed is None else \
            shuffle_order(self.seed, epoch, w, int(plan.offsets[w][-1]))[lo:hi]
        return plan.rows[w][local]


class _Call:
    """One call running several consecutive steps on a worker (`first` is the first step's
    index in the epoch); `results` once fetched."""

    def __init__(self, future, first):
        self.future = future
        self.first = first
        self.results = None


def _unique(calls):
    seen = {}
    for call in calls:
        seen.setdefault(id(call), call)
    return list(seen.values())


class _ServerTrouble(Exception):
    def __init__(self, failure):
        super().__init__(str(failure))
        self.failure = failure


def _server_trouble(failure) -> bool:
    from dtf.cluster.parameter_server import ServerRestored
    from dtf.cluster.servers import ServerUnavailable

    # what the worker raised reaching a server: Ray keeps the exception's class; over gRPC a
    # server's error comes back as a RemoteError carrying its message
    error = failure.error
    return isinstance(error, (ServerUnavailable, ServerRestored, ConnectionError,
                              TimeoutError)) or \
        "ServerRestored" in str(error) or "restored from a checkpoint" in str(error)
