"""`dtf.distribute.ParameterServerStrategy`: Variables on parameter-server actors, gradients
from worker actors, on Ray or in one process.

Under `strategy.scope()`, Variables (a model's, an optimizer's, a metric's) are made as
`PSVariable`s: once training uses them, the parameter servers hold them, spread over `num_ps`
servers by size, large ones cut along axis 0 by `variable_partitioner`; the optimizer's slots
live beside their variable and the update runs there. `model.fit` is the same call as in one
process (see `dtf.cluster.training`), and custom loops use
`dtf.distribute.coordinator.ClusterCoordinator`. The driver's model can still `predict`,
`evaluate`, `summary`, `save` and `get_weights`: values are fetched from the servers on demand.

Example:
    >>> strategy = dtf.distribute.ParameterServerStrategy(num_workers=2, cluster="local")
    >>> with strategy.scope():
    ...     model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10)])
    ...     model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> model.fit(x, y, batch_size=64, epochs=1)   # sync: the same weights as one process
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import uuid
import weakref

from dtf.distribute import distribute_lib

__all__ = ["ParameterServerStrategy"]

_MODES = ("sync", "async", "bounded")
_TRANSPORTS = ("auto", "ray", "grpc")
_jobs = itertools.count()


class ParameterServerStrategy:
    """Parameter-server training across worker actors (see the module docstring).

    Args:
        num_workers: worker actors computing gradients (each a model replica and a shard of
            every global batch).
        num_ps: parameter-server actors holding the Variables.
        mode: "sync" (each step applied once every worker's gradient arrived, weighted by
            shard size: N workers train as one process), "async" (each gradient applied as it
            arrives) or "bounded" (async, but no worker more than `max_staleness` steps ahead
            of the slowest).
        max_staleness: the bound of "bounded", in steps.
        cluster: "ray" (connect to `address` or `RAY_ADDRESS`, else start an embedded local Ray)
            or "local" (the same servers and workers as objects of this process; no Ray).
        address: a Ray cluster's address.
        worker_resources: Ray resources per worker actor (`{"num_cpus": 1, "num_gpus": 1,
            "resources": {...}}`).
        ps_resources: Ray resources per parameter-server actor.
        transport: how parameters and gradients move: "ray" (actor calls through the object
            store), "grpc" (each server's gRPC service, msgpack messages), or "auto" (per
            message size, by a measurement at start).
        checkpoint_dir: where the servers write checkpoints (variables, slots, step counter),
            atomically; a server that dies restarts from the newest one. Without it a server
            failure ends training with an error.
        variable_partitioner: e.g.
            `dtf.distribute.experimental.partitioners.MinSizePartitioner(max_shards=num_ps)`.
        checkpoint_every_steps: a checkpoint every this many applied steps (and at each epoch's
            start).
        checkpoint_every_s: a checkpoint at least this often, in seconds.
        steps_in_flight: steps the driver queues ahead on each worker.
        step_timeout_s: how long a step may take before the stall is reported as an error
            naming the actor and the step.
        start_timeout_s: how long starting (or restarting) an actor may take.
        job: the job's name in actor names (`dtf:<job>:ps:<i>`); default a fresh one.
        namespace: the Ray namespace of the actors.
    """

    def __init__(self, num_workers=1, num_ps=1, mode="sync", max_staleness=None, cluster="ray",
                 address=None, worker_resources=None, ps_resources=None, transport="auto",
                 checkpoint_dir=None, variable_partitioner=None, checkpoint_every_steps=None,
                 checkpoint_every_s=None, steps_in_flight=None, step_timeout_s=300.0,
                 start_timeout_s=120.0, job=None, namespace="dtf"):
        from dtf.cluster.job import Job

        for name, value in (("num_workers", num_workers), ("num_ps", num_ps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}.")
        if mode == "bounded" and (max_staleness is None or int(max_staleness) < 0):
            raise ValueError("mode='bounded' needs max_staleness >= 0: how many steps a worker "
                             "may run ahead of the slowest one.")
        if cluster not in ("ray", "local"):
            raise ValueError(f"cluster must be 'ray' or 'local', got {cluster!r}.")
        if transport not in _TRANSPORTS:
            raise ValueError(f"transport must be one of {_TRANSPORTS}, got {transport!r}.")
        for name, resources in (("worker_resources", worker_resources),
                                ("ps_resources", ps_resources)):
            if resources is not None and (not isinstance(resources, dict) or set(resources) -
                                          {"num_cpus", "num_gpus", "memory", "resources"}):
                raise ValueError(f"{name} must be a dict with keys among num_cpus, num_gpus, "
                                 f"memory, resources; got {resources!r}.")
        if variable_partitioner is not None and not callable(variable_partitioner):
            raise ValueError("variable_partitioner must be callable as partitioner(shape, "
                             f"dtype, axis=0), got {variable_partitioner!r}.")
        self.num_workers = num_workers
        self.num_ps = num_ps
        self.mode = mode
        self.max_staleness = None if max_staleness is None else int(max_staleness)
        self.cluster = cluster
        self.address = address
        self.worker_resources = worker_resources
        self.ps_resources = ps_resources
        self.transport = "ray" if cluster == "local" else transport
        self.checkpoint_dir = None if checkpoint_dir is None else str(checkpoint_dir)
        self.variable_partitioner = variable_partitioner
        self.checkpoint_every_steps = checkpoint_every_steps
        self.checkpoint_every_s = checkpoint_every_s
        if steps_in_flight is None:
            steps_in_flight = 2 if mode == "sync" else \
                (self.max_staleness + 2 if mode == "bounded" else 4)
        self.steps_in_flight = max(1, int(steps_in_flight))
        self.step_timeout_s = float(step_timeout_s)
        self.start_timeout_s = float(start_timeout_s)
        self.job = job or f"job{next(_jobs)}-{uuid.uuid4().hex[:6]}"
        self.namespace = namespace
        self._token = uuid.uuid4().hex + uuid.uuid4().hex
        self._auto_routing = None
        self._variables = weakref.WeakValueDictionary()
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._job = Job(self)

    # -- the tf.distribute.Strategy API -------------------------------------------------------
    @property
    def num_replicas_in_sync(self) -> int:
        """1, as TensorFlow's ParameterServerStrategy: each worker runs one replica and the
        global batch is what `fit` splits across workers."""
        return 1

    @property
    def extended(self):
        return self

    @contextlib.contextmanager
    def scope(self):
        """Variables made inside live on this strategy's parameter servers."""
        from dtf.cluster.variables import PSVariable
        from dtf.variables import variable_creator_scope

        def creator(*args, **kwargs):
            return PSVariable(*args, _strategy=self, **kwargs)

        distribute_lib.push(self)
        try:
            with variable_creator_scope(creator):
                yield self
        finally:
            distribute_lib.pop(self)

    def run(self, fn, args=(), kwargs=None):
        """Runs `fn` as this worker's one replica (inside a scheduled function)."""
        return fn(*args, **(kwargs or {}))

    def reduce(self, reduce_op, value, axis=None):
        """The one replica's `value`, reduced along `axis` when given ("SUM" or "MEAN")."""
        return distribute_lib._reduce_one_replica(reduce_op, value, axis)

    def distribute_datasets_from_function(self, dataset_fn, options=None):
        """Per-worker datasets from `dataset_fn` (use with a `ClusterCoordinator`)."""
        from dtf.distribute.coordinator import ClusterCoordinator

        return ClusterCoordinator.of(self).create_per_worker_dataset(dataset_fn)

    # -- operations ---------------------------------------------------------------------------
    def cluster_info(self) -> list:
        """`[{name, role, index, pid, host, node_id}]` of the running actors (empty before
        training starts them)."""
        return self._job.cluster_info()

    def shutdown(self) -> None:
        """Fetches the final values into the driver's Variables and stops every actor."""
        self._job.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()

    # -- internals ----------------------------------------------------------------------------
    def _register_variable(self, variable) -> str:
        with self._lock:
            key = f"v{next(self._counter)}/{variable.name.split(':')[0]}"
        self._variables[key] = variable
        return key

    def _fit(self, model, **kwargs):
        from dtf.cluster.training import fit

        return fit(self, model, **kwargs)

    def __repr__(self):
        return (f"ParameterServerStrategy(num_workers={self.num_workers}, num_ps={self.num_ps}, "
                f"mode={self.mode!r}, cluster={self.cluster!r}, job={self.job!r})")
