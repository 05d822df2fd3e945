"""A strategy's running job, seen from the driver: its parameter servers and workers, the
Variables they host, and recovery when an actor dies.

The `Job` starts the actors on first use (lazily: a strategy whose scope only built a model
starts nothing): parameter server `i` with its share of the Variables (by the `Placement`:
balanced by bytes, large ones cut into row blocks), the optimizer's config and, with a
`checkpoint_dir`, `<checkpoint_dir>/ps-<i>` to write its checkpoints to; then the workers, each
with a client per server (Ray actor calls, gRPC, or the objects themselves in the local mode).
Variables created later are added to the servers without moving the others.

Every call that sets a worker up (its model, data, functions, datasets) is kept in a log, so a
worker Ray restarts after its process died gets the same set-up replayed before it takes over
its shard. A parameter server Ray restarts comes back from its newest checkpoint; the job then
restores every server to the newest checkpoint they all have, so their states agree, and the
caller replays the steps after it (`ServersRestored`).

Example:
    >>> job = Job(strategy)
    >>> job.host(model.weights, model.optimizer)   # starts the actors
    >>> job.workers[0].call("stats").result()
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np
from dtf.cluster.runtime import ActorDied, CallTimeout, RemoteFailure
from dtf.cluster.servers import ServerUnavailable

__all__ = ["Job", "ServersRestored"]

logger = logging.getLogger("dtf.cluster")


# Set-up calls that accumulate, one per id (their first argument), rather than replace.
_KEYED_SETUP = ("load_function", "make_dataset")


class ServersRestored(Exception):
    """Parameter servers came back from checkpoint `step`: replay the steps after it."""

    def __init__(self, step, stats):
        super().__init__(f"parameter servers restored to checkpoint step {step}")
        self.step = step
        self.stats = stats


class Job:
    """The actors and hosted Variables of one strategy (see the module docstring)."""

    def __init__(self, strategy):
        self.strategy = strategy
        self.runtime = None
        self.placement = None
        self.servers: list = []
        self.workers: list = []
        self.hosted: dict = {}  # key -> PSVariable
        self.optimizer = None
        self.stale = False
        self.refreshing = False
        self.in_flight = 0
        self._writes: dict = {}
        self._driver_view = None
        self._setup_log: list = []  # per worker: {(method, id): args}, in call order
        self._placeholder_optimizer = False
        self.generations: list = []  # each server's generation when last known healthy
        self.barrier_step = None  # sync: the step every server had applied at the last barrier

    @property
    def started(self) -> bool:
        return bool(self.servers)

    # -- starting -----------------------------------------------------------------------------
    def host(self, variables, optimizer=None) -> None:
        """Makes the parameter servers hold `variables` (PSVariables of this strategy), starting
        the servers and workers first if they are not running."""

        new = {v._key: v for v in variables if v._key not in self.hosted}
        if optimizer is not None:
            self._check_optimizer(optimizer)
        if not new and self.started:
            return
        specs = {k: (tuple(v.shape.as_list()), np.dtype(v.dtype.as_numpy_dtype))
                 for k, v in new.items()}
        if not self.started:
            self._start(new, specs)
        else:
            self.flush()
            self.placement.extend(specs)
            per_ps = self.placement.split({k: v.__dict__["_cached_value"] for k, v in new.items()})
            trainable = {p: new[k].trainable for k in new for p, _ in self.placement.parts(k)}
            futures = [s.call("add_variables", share, {p: trainable[p] for p in share})
                       for s, share in zip(self.servers, per_ps) if share]
            for f in futures:
                f.result(self.strategy.step_timeout_s)
            self._attach(new)
            self._broadcast_placement()

    def _check_optimizer(self, optimizer) -> None:
        if self.optimizer is None or self.optimizer is optimizer:
            self.optimizer = optimizer
            return
        if self._placeholder_optimizer:  # started before any optimizer was known
            from dtf.keras.saving import serialize_keras_object

            config = serialize_keras_object(optimizer)
            for f in [s.call("set_optimizer", config) for s in self.servers]:
                f.result(self.strategy.step_timeout_s)
            self.optimizer = optimizer
            self._placeholder_optimizer = False
            return
        raise ValueError(
            "This ParameterServerStrategy's parameter servers already apply updates with "
            f"optimizer {self.optimizer.name!r}; one optimizer per strategy is supported, and "
            f"{optimizer.name!r} is another. Use the same optimizer object, or another strategy.")

    def _start(self, new, specs) -> None:
        from dtf.cluster.runtime import make_runtime
        from dtf.cluster.sharding import plan_placement
        from dtf.cluster.worker import Worker

        from dtf.keras import optimizers
        from dtf.keras.saving import serialize_keras_object

        strategy = self.strategy
        if self.optimizer is None:  # nothing trains yet: replaced when an optimizer comes
            self.optimizer = optimizers.SGD()
            self._placeholder_optimizer = True
        self.placement = plan_placement(specs, strategy.num_ps, strategy.variable_partitioner)
        self.runtime = make_runtime(strategy.cluster, strategy.job, strategy.address,
                                    strategy.namespace)
        if self.runtime.kind == "ray":
            self.runtime.check_resources(strategy.num_workers, strategy.worker_resources)
            self.runtime.check_resources(strategy.num_ps, strategy.ps_resources)
        config = serialize_keras_object(self.optimizer)
        per_ps = self.placement.split({k: v.__dict__["_cached_value"] for k, v in new.items()})
        trainable = {p: new[k].trainable for k in new for p, _ in self.placement.parts(k)}
        try:
            for i in range(strategy.num_ps):
                directory = None if strategy.checkpoint_dir is None else \
                    os.path.join(strategy.checkpoint_dir, f"ps-{i}")
                self.servers.append(self.runtime.start(
                    _server_class(self.runtime), "ps", i, per_ps[i], config,
                    strategy.num_workers, mode=strategy.mode,
                    max_staleness=strategy.max_staleness,
                    trainable={p: trainable[p] for p in per_ps[i]}, checkpoint_dir=directory,
                    checkpoint_every=strategy.checkpoint_every_steps,
                    name=f"dtf:{strategy.job}:ps:{i}",
                    grpc_token=strategy._token if strategy.transport != "ray" else None,
                    tune_allocator=strategy.transport == "grpc",
                    resources=strategy.ps_resources, restartable=directory is not None,
                    concurrency=max(8, 4 * strategy.num_workers)))
            clients = self._clients()
            for i in range(strategy.num_workers):
                self.workers.append(self.runtime.start(
                    Worker, "worker", i, i, mode=strategy.mode,
                    resources=strategy.worker_resources))
                self._setup_log.append({})
            placement = self.placement.to_dict()
            connected = [self.setup_worker(i, "connect", clients, placement)
                         for i in range(strategy.num_workers)]
            for future in connected:  # fail here, not mid-step, if one cannot start
                future.result(strategy.start_timeout_s)
            self.generations = [s["generation"] for s in self.server_states()]
        except BaseException:
            self.shutdown()
            raise
        self._attach(new)

    def push_optimizer_state(self, optimizer, weights) -> None:
        """Gives the servers the driver optimizer's step count and slots for `weights` (a
        driver that `BackupAndRestore` restored resumes with them), split as the variables
        are."""
        if not getattr(optimizer, "built", False) or int(optimizer.iterations.numpy()) == 0:
            return
        per_ps = [{} for _ in self.servers]
        for weight in weights:
            index = optimizer._index.get(id(weight))
            if index is None or weight._key not in self.hosted:
                continue
            slots = [None if s is None else s.numpy() for s in optimizer._slot_table[index]]
            for part, rows in self.placement.parts(weight._key):
                per_ps[self.placement.server_of(part)][part] = [
                    None if s is None else s[rows] for s in slots]
        iterations = int(optimizer.iterations.numpy())
        for f in [s.call("set_optimizer_slots", iterations, share)
                  for s, share in zip(self.servers, per_ps)]:
            f.result(self.strategy.step_timeout_s)

    def pull_optimizer_state(self, optimizer, weights) -> None:
        """Sets the driver optimizer's step count and slots for `weights` from the servers'
        (parts joined), for saving and `BackupAndRestore`."""
        states = [f.result(self.strategy.step_timeout_s)
                  for f in [s.call("optimizer_slots") for s in self.servers]]
        slots = {}
        for _, share in states:
            slots.update(share)
        if not optimizer.built:
            optimizer.build(weights)
        for weight in weights:
            index = optimizer._index.get(id(weight))
            parts = self.placement.parts(weight._key) if weight._key in self.hosted else []
            if index is None or not parts or any(p not in slots for p, _ in parts):
                continue
            for k, slot in enumerate(optimizer._slot_table[index]):
                blocks = [slots[p][k] for p, _ in parts]
                if slot is not None and blocks[0] is not None:
                    slot.assign(blocks[0] if len(blocks) == 1 else np.concatenate(blocks))
        optimizer.iterations.assign(states[0][0])

    def _clients(self):
        """One client per server, as workers reach them with the strategy's transport."""
        strategy = self.strategy
        if self.runtime.kind == "local":
            return [s.instance for s in self.servers]
        ray_clients = self._control_clients()
        if strategy.transport == "ray":
            return ray_clients
        from dtf.cluster.transport.grpc_service import GrpcServerClient

        addresses = [s.call("grpc_address").result(strategy.start_timeout_s)
                     for s in self.servers]
        grpc_clients = [GrpcServerClient(a, strategy._token, name=s.name,
                                         timeout_s=strategy.step_timeout_s)
                        for a, s in zip(addresses, self.servers)]
        if strategy.transport == "grpc":
            return grpc_clients
        from dtf.cluster.transport.selection import AutoServerClient

        routing = self._auto_routing(ray_clients[0], grpc_clients[0])
        return [AutoServerClient(r, g, routing,
                                 pull_bytes=self.placement.bytes_on(i))
                for i, (r, g) in enumerate(zip(ray_clients, grpc_clients))]

    def _auto_routing(self, ray_client, grpc_client):
        """`transport="auto"`: which transport carries which message sizes here, measured once
        per strategy."""
        from dtf.cluster.transport.selection import choose_routing

        if self.strategy._auto_routing is None:
            server = self.servers[0]
            self.strategy._auto_routing = choose_routing(
                # as an array: Ray moves parameters through shared memory, bytes are pickled
                lambda payload: server.call("echo", np.frombuffer(payload, np.uint8)).result(60),
                lambda payload: grpc_client.echo(payload))
            logger.info("transport='auto': %s", self.strategy._auto_routing)
        return self.strategy._auto_routing

    def _attach(self, new) -> None:
        from dtf.cluster.servers import ShardedServer

        for key, variable in new.items():
            self.hosted[key] = variable
            variable.__dict__["_strategy_host"] = self
        servers = [s.instance for s in self.servers] if self.runtime.kind == "local" else \
            self._control_clients()
        self._driver_view = ShardedServer(servers, self.placement)

    def _control_clients(self):
        from dtf.cluster.servers import RemoteServer

        return [RemoteServer(s.handle, s.name, self.strategy.step_timeout_s)
                for s in self.servers]

    def _broadcast_placement(self) -> None:
        placement = self.placement.to_dict()
        for i, worker in enumerate(self.workers):
            self.call_worker(i, "set_placement", placement)

    # -- worker set-up ------------------------------------------------------------------------
    def setup_worker(self, index, method, *args):
        """Calls a set-up method on worker `index` and logs it for replay after a restart."""
        log = self._setup_log[index]
        # A later call of the same set-up replaces the earlier one (a new fit's model and
        # data): a replacement worker replays only what is in force, and old data is freed.
        key = (method, args[0] if method in _KEYED_SETUP else None)
        log.pop(key, None)
        if method == "setup_fit":
            log.pop(("set_data", None), None)
        log[key] = args
        return self.workers[index].call(method, *args)

    def call_worker(self, index, method, *args):
        return self.setup_worker(index, method, *args).result(self.strategy.start_timeout_s)

    def revive_worker(self, index) -> None:
        """Worker `index` died: waits for Ray's replacement, then replays its set-up."""
        worker = self.workers[index]
        logger.warning("%s died; a replacement takes over its shard", worker.name)
        deadline = time.monotonic() + self.strategy.start_timeout_s
        while True:
            try:
                worker.call("stats").result(max(1.0, deadline - time.monotonic()))
                break
            except (ActorDied, CallTimeout):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{worker.name} died and no replacement started within "
                        f"{self.strategy.start_timeout_s:.0f} s (Ray restarts it at most "
                        f"{self.runtime.max_restarts} times).") from None
                time.sleep(0.2)
        for (method, _), args in list(self._setup_log[index].items()):
            worker.call(method, *args).result(self.strategy.start_timeout_s)
        if self.runtime.kind == "ray" and self.strategy.transport != "ray":
            # a restarted server listens on a new port
            worker.call("set_servers", self._clients()).result(self.strategy.start_timeout_s)

    # -- parameter-server failures ------------------------------------------------------------
    def server_states(self, timeout_s=None):
        """Each server's `stats()`; raises `ActorDied`/`CallTimeout` for one that is down."""
        timeout_s = timeout_s or self.strategy.step_timeout_s
        return [s.call("stats").result(timeout_s) for s in self.servers]

    def check_servers(self, generations) -> None:
        """Raises `ServersRestored` when a server came back (from a checkpoint) since
        `generations` were read: every server is then put back to the newest checkpoint they
        all have. Raises a clear error when a server is gone for good."""
        from dtf.cluster import checkpoint

        states = self._wait_for_servers()
        if [s["generation"] for s in states] == list(generations):
            return
        strategy = self.strategy
        if strategy.checkpoint_dir is None:
            raise RuntimeError(
                "A parameter server died and there is no checkpoint_dir to restore it from; "
                "pass ParameterServerStrategy(checkpoint_dir=...) to survive this.")
        dirs = [os.path.join(strategy.checkpoint_dir, f"ps-{i}") for i in range(len(states))]
        step = checkpoint.common_step(dirs)
        if step is None:
            raise RuntimeError(f"A parameter server restarted but the servers have no common "
                               f"checkpoint in {strategy.checkpoint_dir}.")
        logger.warning("parameter server restarted: every server goes back to checkpoint step "
                       "%d and the steps after it run again", step)
        for s in self.servers:
            s.call("restore", step).result(strategy.step_timeout_s)
        self.stale = True
        states = self.server_states()
        self.generations = [s["generation"] for s in states]
        if self._driver_view is not None:
            self._driver_view.forget()
        raise ServersRestored(step, states)

    def stop_workers(self, pending=()) -> None:
        """Kills every worker (Ray starts replacements) and waits until their calls in
        `pending` ended, so nothing stale reaches a server restored after this."""
        for worker in self.workers:
            worker.kill(restart=True)
        for future in pending:
            try:
                future.result(self.strategy.step_timeout_s)
            except (ActorDied, CallTimeout, RemoteFailure):
                pass

    def recover(self, error) -> None:
        """A server call failed (`error`) outside the training steps: restores the servers
        (they must come back at the last barrier's step: no step to replay) and the workers.
        Raises `error` where nothing can be restarted (the local mode)."""
        if self.runtime is None or self.runtime.kind != "ray":
            raise error
        self.stop_workers()
        try:
            self.check_servers(self.generations)
        except ServersRestored as restored:
            for index in range(len(self.workers)):
                self.revive_worker(index)
            if self.barrier_step is not None and restored.step != self.barrier_step:
                raise RuntimeError(
                    f"The parameter servers came back at checkpoint step {restored.step}, but "
                    f"training had reached step {self.barrier_step}; the steps between are "
                    "lost. Run fit again (BackupAndRestore resumes it).") from None
            return
        for index in range(len(self.workers)):
            self.revive_worker(index)

    def _wait_for_servers(self):
        deadline = time.monotonic() + self.strategy.start_timeout_s
        while True:
            try:
                return self.server_states(timeout_s=max(1.0, deadline - time.monotonic()))
            except (ActorDied, CallTimeout):
                if time.monotonic() > deadline or self.strategy.checkpoint_dir is None:
                    raise RuntimeError(
                        "A parameter server is down and did not come back within "
                        f"{self.strategy.start_timeout_s:.0f} s"
                        + ("" if self.strategy.checkpoint_dir else
                           " (without checkpoint_dir it is not restarted; pass "
                           "ParameterServerStrategy(checkpoint_dir=...) to survive this)")
                        + ".") from None
                time.sleep(0.2)

    def request_checkpoint(self, step) -> None:
        for s in self.servers:
            s.call("request_checkpoint", step).result(self.strategy.step_timeout_s)

    # -- the driver's view of hosted Variables -------------------------------------------------
    def refresh(self, recover=True) -> None:
        """Fetches every hosted value that changed on the servers (restoring a server that
        died, with `recover`)."""
        if self.refreshing:
            return
        self.refreshing = True
        try:
            self.flush()
            try:
                values = self._driver_view.pull()
            except ServerUnavailable as error:
                if not recover:
                    raise
                self.recover(error)
                values = self._driver_view.pull()
            for key, value in values.items():
                variable = self.hosted.get(key)
                if variable is not None:
                    variable._set_fetched(value)
            self.stale = self.in_flight > 0
        finally:
            self.refreshing = False

    def written(self, variable) -> None:
        """The driver assigned a hosted Variable: its value goes to the servers."""
        self._writes[variable._key] = variable.__dict__["_cached_value"]

    def flush(self) -> None:
        """Sends the driver's writes to the servers."""
        if not self._writes:
            return
        writes, self._writes = self._writes, {}
        per_ps = self.placement.split(writes)
        futures = [s.call("assign", share) for s, share in zip(self.servers, per_ps) if share]
        for f in futures:
            f.result(self.strategy.step_timeout_s)
        self._driver_view.forget()

    # -- operations ---------------------------------------------------------------------------
    def cluster_info(self) -> list:
        out = []
        for actor in self.servers + self.workers:
            try:
                out.append(actor.info())
            except (ActorDied, CallTimeout, RemoteFailure) as e:
                out.append({"name": actor.name, "role": actor.role, "index": actor.index,
                            "error": str(e)})
        return out

    def shutdown(self) -> None:
        if self.hosted and self.servers:
            try:
                self.refresh()  # the driver keeps the trained values
            except Exception:  # noqa: BLE001 - a dead server: keep the last fetched values
                logger.warning("could not fetch the final values before shutdown")
        for variable in self.hosted.values():
            variable.__dict__["_strategy_host"] = None
        if self.runtime is not None:
            self.runtime.shutdown(self.workers + self.servers)
        self.servers, self.workers, self.hosted = [], [], {}
        self._setup_log = []
        self.placement = None


def _server_class(runtime):
    from dtf.cluster.ps_actor import ParameterServerActor

    return ParameterServerActor
