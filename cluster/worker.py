"""A worker: a model replica that turns its shard of each global batch into a gradient push,
and runs the functions a `ClusterCoordinator` schedules.

A `Worker` holds replica Variables (`shipping.Replicas`) for what the driver shipped to it: a
compiled model for `fit`, or functions and the objects they close over for custom loops. Before
each step it pulls only the parameters that changed (versioned, from every parameter server);
it then computes its shard's loss and gradients with a compiled step (`dtf.function`) and pushes
them with its worker id, the step and its shard size. The server's sync mode averages the
shards' gradients weighted by their sizes: the gradient of the mean loss over the global batch,
so N workers train exactly as one process on the same global batches.

The same class runs as a Ray actor (`dtf:<job>:worker:<i>`) or, in the local mode, as an object
of the driver's process.

On a GPU (a worker actor started with `worker_resources={"GPU": 1}`: Ray sets its
`CUDA_VISIBLE_DEVICES`, so its GPU is `GPU:0`), a `fit` worker keeps its model replica and its
data shard on the device (`dtf.cluster.device_transfer`): the parameters pulled before a step go
onto the device in one host-to-device copy, and the step's gradients (and changed state) leave
it in one device-to-host copy per parameter server, then go out as on the CPU. Custom-loop
functions (`run_function`) compute on the CPU, as before.

Example:
    >>> worker = Worker(0, mode="sync")
    >>> worker.connect([ps], placement)
    >>> worker.setup_fit(model_blob, shard, sizes=[16, 16], shuffle_seed=None)
    >>> worker.fit_step(step=0, epoch=0, index=0)["loss"]
"""

from __future__ import annotations

import pickle
import time
import traceback

import numpy as np
from dtf.cluster import device_transfer
from dtf.cluster.servers import ShardedServer
from dtf.cluster.shipping import Replicas

from dtf import nest

__all__ = ["Worker", "current_worker_id"]


def _numpy(value):
    if value is None:
        return None
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


class Worker:
    """One worker's replica Variables, data shard and compiled steps.

    Args:
        worker_id: this worker's index (0 .. num_workers - 1).
        mode: the strategy's mode ("sync" waits for the previous step before computing).

    `connect` then gives it the parameter servers (set-up calls, not constructor arguments,
    so that a worker Ray restarts gets them replayed, fresh).
    """

    def __init__(self, worker_id, mode="sync"):
        global _current_worker_id
        self.worker_id = _current_worker_id = int(worker_id)
        self.mode = mode
        self.server = None
        self.replicas = Replicas()
        self._pulled: dict = {}  # key -> the array last pulled (identity tells a local write)
        self._synced_for = None  # the step whose parameters the replicas hold
        self._model = None
        self._fit_step = None
        self._data = None
        self._functions: dict = {}
        self._datasets: dict = {}
        self._iterators: dict = {}
        self.steps_run = 0
        # the GPU this process sees (Ray's CUDA_VISIBLE_DEVICES), or None: fit steps run there
        self.device = device_transfer.worker_device()

    # -- parameters ---------------------------------------------------------------------------
    def connect(self, servers, placement) -> None:
        """Takes one client per parameter server and the variables' placement (a `Placement`
        or its `to_dict()`)."""
        self.server = ShardedServer(servers, placement)
        self._pulled.clear()
        self._synced_for = None
        if any(type(s).__name__ == "GrpcServerClient" for s in servers):
            from dtf.cluster.transport.memory import tune_allocator

            # every message over gRPC: large ones reuse their buffers. Not for "auto", whose
            # routing was measured untuned and sends large arrays the way that won.
            tune_allocator()

    def set_placement(self, placement) -> None:
        """Takes a new placement (variables added since); forgets the cached versions."""
        self.server = ShardedServer(self.server.servers, placement)
        self._pulled.clear()
        self._synced_for = None

    def set_servers(self, servers) -> None:
        """Takes new clients for the parameter servers (one restarted on a new address)."""
        self.server = ShardedServer(servers, self.server.placement)
        self._pulled.clear()
        self._synced_for = None

    def _sync(self, after_step=None) -> None:
        self._store(self.server.pull(after_step))
        self._synced_for = after_step

    def _store(self, values) -> None:
        if self.device is not None:  # replicas on the GPU get theirs in one copy
            values = device_transfer.to_variables_devices(values, self.replicas.variables)
        for key, value in values.items():
            variable = self.replicas.variables.get(key)
            if variable is not None:
                variable._value = value
                self._pulled[key] = value

    def _to_host(self, *dicts):
        """`{key: array}` dicts with device arrays brought to the host: one buffer per
        parameter server (identity when this worker computes on the CPU)."""
        if self.device is None:
            return dicts
        return device_transfer.to_host_per_server(self.server.placement, *dicts)

    def _changed(self, keys) -> dict:
        """`{key: variable}` of the replicas among `keys` written since their last pull."""
        out = {}
        for key in keys:
            variable = self.replicas.variables[key]
            if variable._value is not self._pulled.get(key):
                out[key] = variable
        return out

    # -- fit ----------------------------------------------------------------------------------
    def setup_fit(self, model_blob, shard, sizes, shuffle_seed=None, predictions=False):
        """Takes the compiled model (pickled by `shipping.dumps`), this worker's shard (a
        structure of arrays `(x, y, sample_weight)`, rows in step order) and the shard's rows
        per step. With `shuffle_seed`, each epoch permutes the shard's rows
        (`shuffle_order`)."""
        import dtf

        with device_transfer.scope(self.device):  # the replica's Variables on the GPU
            self._model = self.replicas.loads(model_blob)
        model = self._model
        self._trainable_keys = [self.replicas.key_of(v) for v in model.trainable_weights]
        self._state_keys = [self.replicas.key_of(v) for v in model.non_trainable_weights]
        self._predictions = bool(predictions)
        self.set_data(shard, sizes, shuffle_seed)

        def gradient_step(x, y, sample_weight):
            with dtf.GradientTape() as tape:
                y_pred = model(x, training=True)
                loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                          training=True)
            grads = tape.gradient(loss, model.trainable_weights)
            return loss, y_pred, grads

        self._fit_step = dtf.function(gradient_step, name=f"worker_{self.worker_id}_step")
        return len(self._trainable_keys)

    def set_data(self, shard, sizes, shuffle_seed=None) -> None:
        """This worker's rows, their split into steps, and the shuffling seed (see
        `setup_fit`)."""
        self._data = device_transfer.to_device(shard, self.device)  # once, not per step
        self._synced_for = None  # a new fit: the driver may have set weights meanwhile
        self._sizes = [int(s) for s in sizes]
        self._offsets = np.concatenate([[0], np.cumsum(self._sizes)]).astype(np.int64)
        self._shuffle_seed = shuffle_seed
        self._order_epoch = None

    def _rows(self, epoch, index):
        lo, hi = int(self._offsets[index]), int(self._offsets[index + 1])
        if self._shuffle_seed is None:
            return slice(lo, hi)
        if self._order_epoch != epoch:
            self._order = shuffle_order(self._shuffle_seed, epoch, self.worker_id,
                                        int(self._offsets[-1]))
            self._order_epoch = epoch
        return self._order[lo:hi]

    def fit_step(self, step, epoch, index):
        """Runs global step `step` (batch `index` of `epoch`) on this worker's shard: pull,
        compiled gradient step, push. Returns the loss, the shard size, the predictions (when
        the driver's metrics need them), the push's result, timings (s) and bytes moved."""
        if self._model is None:
            raise RuntimeError(f"worker {self.worker_id} got a fit step before its model.")
        start = time.perf_counter()
        pulled_before = self.server.bytes_pulled
        if self._synced_for != step:  # the last push_pull already brought step's parameters
            self._sync(after_step=step if self.mode == "sync" else None)
        pulled = time.perf_counter()
        rows = self._rows(epoch, index)
        x, y, sample_weight = nest.map_structure(
            lambda a: None if a is None else a[rows], self._data)
        count = len(nest.flatten(x)[0])
        gradients, assigns, loss, y_pred = {}, {}, 0.0, None
        pushed_assigns = assigns = {}
        if count:
            with device_transfer.scope(self.device):
                loss, y_pred, grads = self._fit_step(
                    *device_transfer.as_tensors((x, y, sample_weight), self.device))
            gradients = {k: g._value if self.device is not None else _numpy(g)
                         for k, g in zip(self._trainable_keys, grads) if g is not None}
            assigns = {k: v._value for k, v in self._changed(self._state_keys).items()}
            gradients, pushed_assigns = self._to_host(gradients, assigns)
            loss = float(_numpy(loss))
        computed = time.perf_counter()
        pushed_before, waited_before = self.server.bytes_pushed, self.server.wait_s
        for key, value in assigns.items():  # the server holds these now: not a local write
            self._pulled[key] = value
        result, values = self.server.push_pull(self.worker_id, step, count, gradients,
                                               pushed_assigns)
        if values is not None:  # the next step's parameters came with the push's reply
            self._store(values)
            self._synced_for = step + 1
        done = time.perf_counter()
        self.steps_run += 1
        wait = self.server.wait_s - waited_before
        return {"loss": loss, "size": count, "result": result.value,
                "y_pred": nest.map_structure(_numpy, y_pred) if self._predictions and count
                else None,
                "timing": {"pull": pulled - start, "compute": computed - pulled,
                           "push": done - computed - wait, "wait": wait},
                "bytes": {"pulled": self.server.bytes_pulled - pulled_before,
                          "pushed": self.server.bytes_pushed - pushed_before}}

    def fit_steps(self, items):
        """Runs `fit_step(step, epoch, index)` for each item, in order (a call carrying
        `steps_per_execution` steps); returns their results."""
        return [self.fit_step(*item) for item in items]

    # -- custom loops ------------------------------------------------------------------------
    def load_function(self, function_id, blob) -> None:
        """Takes a function (pickled by `shipping.dumps`) that `run_function` will call."""
        with device_transfer.host_scope(self.device):  # custom loops compute on the CPU
            self._functions[function_id] = self.replicas.loads(blob)

    def make_dataset(self, dataset_id, blob) -> None:
        """Builds this worker's dataset from a pickled `dataset_fn` (called with an
        `InputContext`-like object when it takes an argument) or dataset."""
        import inspect

        from dtf.data import Dataset

        with device_transfer.host_scope(self.device):
            made = self.replicas.loads(blob)
        if not isinstance(made, Dataset) and callable(made):
            takes_context = bool(inspect.signature(made).parameters)
            made = made(_InputContext(self.worker_id)) if takes_context else made()
        self._datasets[dataset_id] = made

    def _resolve(self, value):
        if isinstance(value, PerWorkerIteratorRef):
            key = (value.dataset_id, value.iterator_id)
            iterator = self._iterators.get(key)
            if iterator is None:
                iterator = self._iterators[key] = iter(self._datasets[value.dataset_id])
            return iterator
        if isinstance(value, PerWorkerDatasetRef):
            return self._datasets[value.dataset_id]
        return value

    def run_function(self, function_id, args_blob, sequence):
        """Runs a scheduled function: pull what changed, call it with its arguments (per-worker
        iterators resolved to this worker's), push the gradients its optimizer calls recorded
        and the changes it made to other Variables. Returns `("ok", value)` with NumPy leaves,
        `("end", None)` when an iterator ran out, or `("error", (type name, message, traceback))`
        for the driver to raise."""
        try:
            with device_transfer.host_scope(self.device):
                args, kwargs = self.replicas.loads(args_blob)  # first: it may add replicas
            self._sync()
            args = nest.map_structure(self._resolve, args)
            kwargs = nest.map_structure(self._resolve, kwargs)
            try:
                with device_transfer.host_scope(self.device):
                    value = self._functions[function_id](*args, **kwargs)
            except (StopIteration, _out_of_range()):
                return ("end", None)
            gradients = self.replicas.take_gradients()
            changed = self._changed(self.replicas.variables)
            deltas = {}
            for key, variable in changed.items():
                before = self._pulled.get(key)
                after = variable._value
                deltas[key] = after - before if before is not None else after
            if gradients or deltas:
                gradients, deltas = self._to_host(gradients, deltas)
                self.server.apply_update(self.worker_id, sequence, gradients, deltas)
            self.steps_run += 1
            return ("ok", nest.map_structure(_numpy, value))
        except Exception as e:  # noqa: BLE001 - the driver raises it, with this traceback
            try:
                pickled = pickle.dumps(e)
            except Exception:  # noqa: BLE001 - an exception that does not pickle: by name
                pickled = None
            return ("error", (pickled, type(e).__name__, str(e), traceback.format_exc()))

    def stats(self) -> dict:
        server = self.server
        return {"steps_run": self.steps_run, "connected": server is not None,
                "bytes_pulled": server.bytes_pulled if server else 0,
                "bytes_pushed": server.bytes_pushed if server else 0}


_current_worker_id = None


def current_worker_id():
    """The index of the worker this process runs (in a worker actor), else None."""
    return _current_worker_id


def _out_of_range():
    from dtf.errors import OutOfRangeError

    return OutOfRangeError


def shuffle_order(seed, epoch, worker, rows):
    """The permutation of a worker's `rows` rows in `epoch` (driver and worker agree)."""
    return np.random.default_rng([int(seed), int(epoch), int(worker)]).permutation(rows)


class _InputContext:
    """What `dataset_fn(input_context)` gets, as `tf.distribute.InputContext`."""

    def __init__(self, worker_id):
        self.input_pipeline_id = worker_id
        self.num_input_pipelines = None
        self.num_replicas_in_sync = 1

    def get_per_replica_batch_size(self, global_batch_size):
        return global_batch_size


class PerWorkerDatasetRef:
    """Stands for "this worker's dataset `dataset_id`" in scheduled arguments."""

    def __init__(self, dataset_id):
        self.dataset_id = dataset_id


class PerWorkerIteratorRef:
    """Stands for "this worker's iterator `iterator_id` over dataset `dataset_id`"."""

    def __init__(self, dataset_id, iterator_id):
        self.dataset_id = dataset_id
        self.iterator_id = iterator_id
