"""Custom training loops across the cluster: `ClusterCoordinator`, as
`tf.distribute.coordinator.ClusterCoordinator`.

`schedule(fn, args)` sends `fn` to a free worker and returns a `RemoteValue` at once. The
worker pulls the Variables that changed, runs `fn` (a `dtf.function` or plain Python) on its
replicas, and sends back what it did: the gradients given to `optimizer.apply_gradients` go to
the parameter servers, whose optimizer applies them there, and any other change to a Variable
(a metric's `assign_add`) is added to the server's value, so every worker's changes count. An
exception in `fn` reaches the driver when the value is fetched (or at `join()`), with the
worker's traceback.

Datasets are made on the workers: `create_per_worker_dataset(dataset_fn)` runs `dataset_fn` on
each worker, and an iterator over the result, passed to `schedule`, is each worker's own
iterator. When it runs out, the function's `RemoteValue` raises `OutOfRangeError`.

Example:
    >>> coordinator = ClusterCoordinator(strategy)
    >>> per_worker = coordinator.create_per_worker_dataset(dataset_fn)
    >>> iterator = iter(per_worker)
    >>> for _ in range(steps):
    ...     loss = coordinator.schedule(train_step, args=(iterator,))
    >>> coordinator.join()
    >>> loss.fetch()
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import pickle
import weakref

from dtf.cluster.runtime import ActorDied, CallTimeout, RemoteFailure

__all__ = ["ClusterCoordinator", "PerWorkerValues", "RemoteValue"]

logger = logging.getLogger("dtf.cluster")
_coordinators: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_ids = itertools.count()


class RemoteValue:
    """The eventual result of a scheduled function."""

    def __init__(self, coordinator, worker, function_id, args_blob, sequence, future):
        self._coordinator = coordinator
        self._worker = worker
        self._function_id = function_id
        self._args_blob = args_blob
        self._sequence = sequence
        self._future = future
        self._outcome = None

    def _settle(self):
        if self._outcome is None:
            self._outcome = self._coordinator._wait(self)
        return self._outcome

    def done(self) -> bool:
        return self._outcome is not None or self._future.done()

    def fetch(self):
        """The function's return value, as NumPy (waits for it); raises the function's error."""
        kind, value = self._settle()
        if kind == "ok":
            return value
        if kind == "end":
            from dtf.errors import OutOfRangeError

            raise OutOfRangeError(None, None, "End of sequence: the per-worker iterator of "
                                  f"worker {self._worker} ran out of data.")
        raise value

    def get(self):
        """Same as `fetch()`."""
        return self.fetch()


class PerWorkerValues:
    """One value per worker (a per-worker dataset or iterator), resolved on each worker."""

    def __init__(self, values):
        self._values = tuple(values)


class PerWorkerDataset:
    """A dataset made on every worker by `create_per_worker_dataset`; `iter()` gives a
    per-worker iterator to pass to `schedule`."""

    def __init__(self, coordinator, dataset_id):
        self._coordinator = coordinator
        self.dataset_id = dataset_id

    def __iter__(self):
        return PerWorkerIterator(self.dataset_id, next(_ids))

    def __reduce__(self):
        from dtf.cluster.worker import PerWorkerDatasetRef

        return PerWorkerDatasetRef, (self.dataset_id,)


class PerWorkerIterator:
    """Each worker's own iterator over its per-worker dataset."""

    def __init__(self, dataset_id, iterator_id):
        self.dataset_id = dataset_id
        self.iterator_id = iterator_id

    def __next__(self):
        raise TypeError("A per-worker iterator is read on the workers: pass it to "
                        "coordinator.schedule(fn, args=(iterator,)) and call next() in fn.")

    def __reduce__(self):
        from dtf.cluster.worker import PerWorkerIteratorRef

        return PerWorkerIteratorRef, (self.dataset_id, self.iterator_id)


class ClusterCoordinator:
    """Schedules functions on a `ParameterServerStrategy`'s workers (see the module
    docstring).

    Args:
        strategy: the `ParameterServerStrategy`.
        max_in_flight: scheduled functions queued per worker before `schedule` waits.
    """

    def __init__(self, strategy, max_in_flight=4):
        from dtf.distribute.parameter_server_strategy import ParameterServerStrategy

        if not isinstance(strategy, ParameterServerStrategy):
            raise TypeError("ClusterCoordinator needs a ParameterServerStrategy, got "
                             f"{type(strategy).__name__}.")
        self.strategy = strategy
        self._job = strategy._job
        self._max_in_flight = max(1, int(max_in_flight))
        self._functions: dict = {}  # id(fn) -> (fn, function id, blob, set of workers loaded)
        self._sequences: dict = {}
        self._outstanding: list = []
        self._next_worker = 0
        _coordinators[strategy] = self

    @classmethod
    def of(cls, strategy):
        """The strategy's coordinator (made on first use)."""
        return _coordinators.get(strategy) or cls(strategy)

    @property
    def strategy_(self):
        return self.strategy

    # -- datasets -----------------------------------------------------------------------------
    def create_per_worker_dataset(self, dataset_fn):
        """Makes `dataset_fn()` (or `dataset_fn(input_context)`, or a dataset itself) on every
        worker; returns a `PerWorkerDataset`."""
        from dtf.cluster.shipping import dumps

        blob, variables, optimizers = dumps(dataset_fn, self.strategy)
        self._ensure_started(variables, optimizers)
        dataset_id = next(_ids)
        futures = [self._job.setup_worker(w, "make_dataset", dataset_id, blob)
                   for w in range(self.strategy.num_workers)]
        for w, future in enumerate(futures):
            self._check_setup(future, w, "making its dataset")
        return PerWorkerDataset(self, dataset_id)

    # -- scheduling ---------------------------------------------------------------------------
    def _ensure_started(self, variables, optimizers) -> None:
        if len(optimizers) > 1:
            raise ValueError(f"A scheduled function uses {len(optimizers)} optimizers; the "
                             "parameter servers apply one optimizer per strategy.")
        self._job.host(list(variables.values()), optimizers[0] if optimizers else None)

    def _check_setup(self, future, worker, what):
        try:
            future.result(self.strategy.start_timeout_s)
        except RemoteFailure as failure:
            raise RuntimeError(f"worker {worker} failed {what}:\n{failure}") from None

    def _function(self, fn):
        from dtf.cluster.shipping import dumps

        entry = self._functions.get(id(fn))
        if entry is None or entry[0] is not fn:
            blob, variables, optimizers = dumps(fn, self.strategy)
            self._ensure_started(variables, optimizers)
            entry = (fn, next(_ids), self._job.runtime.put(blob), set())
            self._functions[id(fn)] = entry
        return entry

    def _pick_worker(self) -> int:
        """The worker with the fewest functions in flight (waits when all are full)."""
        while True:
            self._outstanding = [v for v in self._outstanding if not v.done()]
            load = [0] * self.strategy.num_workers
            for value in self._outstanding:
                load[value._worker] += 1
            order = [(self._next_worker + i) % len(load) for i in range(len(load))]
            best = min(order, key=lambda w: load[w])
            if load[best] < self._max_in_flight:
                self._next_worker = (best + 1) % len(load)
                return best
            self._outstanding[0]._settle()

    def schedule(self, fn, args=None, kwargs=None) -> RemoteValue:
        """Runs `fn(*args, **kwargs)` on a worker; returns its `RemoteValue` at once."""
        from dtf.cluster.shipping import dumps

        fn_entry = self._function(fn)
        args_blob, variables, optimizers = dumps((tuple(args or ()), dict(kwargs or {})),
                                                 self.strategy)
        self._ensure_started(variables, optimizers)
        self._job.flush()
        worker = self._pick_worker()
        _, function_id, blob_ref, loaded = fn_entry
        if worker not in loaded:
            self._check_setup(self._job.setup_worker(worker, "load_function", function_id,
                                                     blob_ref), worker, "loading the function")
            loaded.add(worker)
        sequence = self._sequences.get(worker, 0)
        self._sequences[worker] = sequence + 1
        future = self._job.workers[worker].call("run_function", function_id, args_blob,
                                                sequence, what=f"scheduled function {sequence}")
        value = RemoteValue(self, worker, function_id, args_blob, sequence, future)
        self._outstanding.append(value)
        self._job.stale = True
        self._job.in_flight = len(self._outstanding)
        return value

    def _wait(self, value):
        """`(kind, value)` of a scheduled function; a worker that died is replaced and the
        function runs again there (its updates, if they arrived, are not applied twice)."""
        while True:
            try:
                kind, result = value._future.result(self.strategy.step_timeout_s)
                break
            except ActorDied:
                self._job.revive_worker(value._worker)
                for entry in self._functions.values():
                    entry[3].discard(value._worker)
                fn_entry = next(e for e in self._functions.values() if e[1] == value._function_id)
                self._check_setup(self._job.setup_worker(value._worker, "load_function",
                                                         value._function_id, fn_entry[2]),
                                  value._worker, "loading the function")
                fn_entry[3].add(value._worker)
                value._future = self._job.workers[value._worker].call(
                    "run_function", value._function_id, value._args_blob, value._sequence)
            except CallTimeout as e:
                raise TimeoutError(f"{e.actor} did not finish scheduled function "
                                   f"{value._sequence} within "
                                   f"{self.strategy.step_timeout_s:.0f} s.") from None
        self._job.stale = True
        if kind == "error":
            pickled, type_name, message, remote_traceback = result
            error = _Remote(type_name, message)
            if pickled is not None:
                with contextlib.suppress(Exception):  # its class may not import here
                    error = pickle.loads(pickled)
            worker = self._job.workers[value._worker].name
            return ("error", RemoteFailure(worker, f"scheduled function {value._sequence}",
                                           error, remote_traceback).user_error())
        return (kind, result)

    def join(self) -> None:
        """Waits for every scheduled function; raises the first error among them."""
        first_error = None
        for value in list(self._outstanding):
            kind, result = value._settle()
            if kind == "error" and first_error is None:
                first_error = result
        self._outstanding = []
        self._job.in_flight = 0
        self._job.stale = True
        if first_error is not None:
            raise first_error

    def done(self) -> bool:
        """Whether every scheduled function has finished."""
        return all(v.done() for v in self._outstanding)

    def fetch(self, values):
        """`fetch()` of each `RemoteValue` in a structure."""
        from dtf import nest

        return nest.map_structure(
            lambda v: v.fetch() if isinstance(v, RemoteValue) else v, values)


class _Remote(Exception):
    """An exception raised on a worker, by its type name and message."""

    def __init__(self, type_name, message):
        super().__init__(message)
        self.type_name = type_name

    def __str__(self):
        return f"{self.type_name}: {super().__str__()}"
