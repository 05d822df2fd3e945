"""How a worker (or the driver) reaches the parameter servers.

`RemoteServer` is one parameter-server Ray actor with the `pull`/`push` of a local
`ParameterServer` (each a call with a timeout, so a dead or stuck server raises an error naming
it); the gRPC client of `dtf.cluster.transport` has the same interface, and the local mode uses
`ParameterServer` objects themselves. `ShardedServer` puts `num_ps` of them behind one
`pull`/`push` over whole variables: it splits gradients by the placement (whole variables on one
server, partitioned ones by rows over several), pushes to every server each step (an empty push
still moves that server's step on), and merges pulled parts, fetching only the parts whose
version changed.

Example:
    >>> server = ShardedServer([RemoteServer(ps0, "dtf:job:ps:0"), ...], placement)
    >>> values = server.pull(after_step=3)        # {key: array} of what changed
    >>> server.push(worker=0, step=3, shard_size=16, gradients={key: grad})
"""

from __future__ import annotations

import time

import numpy as np
from dtf.cluster.parameter_server import Push
from dtf.cluster.runtime import ActorDied, CallTimeout

__all__ = ["RemoteServer", "ServerUnavailable", "ShardedServer"]

DEFAULT_TIMEOUT_S = 120.0
_WAIT_SLEEP_S = 0.002


class ServerUnavailable(RuntimeError):
    """A parameter server died or stopped answering during a worker's call."""


class RemoteServer:
    """A parameter-server Ray actor with the `pull`/`push` of a local `ParameterServer`.

    Args:
        actor: the actor handle.
        name: the actor's name, for errors.
        timeout_s: how long a call may wait for the actor's reply.
    """

    def __init__(self, actor, name="parameter server", timeout_s=DEFAULT_TIMEOUT_S):
        self._actor = actor
        self.name = name
        self._timeout_s = float(timeout_s)

    def _get(self, ref, what):
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        try:
            return ray.get(ref, timeout=self._timeout_s + 5.0)
        except GetTimeoutError:
            raise ServerUnavailable(str(CallTimeout(self.name, what, self._timeout_s))) \
                from None
        except RayActorError as e:
            raise ServerUnavailable(str(ActorDied(self.name, what, str(e).splitlines()[0]))) \
                from None

    def pull_async(self, known_versions=None, after_step=None, generation=None):
        return self._actor.pull.remote(known_versions, after_step, self._timeout_s, generation)

    def push_async(self, worker, step, shard_size, gradients, assigns=None):
        return self._actor.push.remote(worker, step, shard_size, gradients, assigns)

    def push_pull_async(self, worker, step, shard_size, gradients, assigns=None,
                        known_versions=None, generation=None):
        return self._actor.push_pull.remote(worker, step, shard_size, gradients, assigns,
                                            known_versions, generation, self._timeout_s)

    def finish(self, ref, what):
        return self._get(ref, what)

    def pull(self, known_versions=None, after_step=None, generation=None):
        return self.finish(self.pull_async(known_versions, after_step, generation),
                           f"pull before step {after_step}")

    def push(self, worker, step, shard_size, gradients, assigns=None):
        return self.finish(self.push_async(worker, step, shard_size, gradients, assigns),
                           f"push of worker {worker}, step {step}")

    def apply_update_async(self, worker, sequence, gradients, deltas):
        return self._actor.apply_update.remote(worker, sequence, gradients, deltas)

    def __reduce__(self):
        return RemoteServer, (self._actor, self.name, self._timeout_s)


def _start(server, method, *args, **kwargs):
    """Starts a call: an in-flight reference for async-capable clients, else the result."""
    start = getattr(server, f"{method}_async", None)
    if start is not None:
        return ("ref", start(*args, **kwargs))
    return ("value", getattr(server, method)(*args, **kwargs))


def _finish(server, started, what):
    kind, value = started
    return server.finish(value, what) if kind == "ref" else value


class ShardedServer:
    """`num_ps` parameter servers as one (see the module docstring).

    Args:
        servers: one client per parameter server (`RemoteServer`, the gRPC client, or a
            `ParameterServer`).
        placement: a `dtf.cluster.sharding.Placement` (or its `to_dict()`).
    """

    def __init__(self, servers, placement):
        from dtf.cluster.sharding import Placement

        if isinstance(placement, dict):
            placement = Placement.from_dict(placement)
        self.servers = list(servers)
        self.placement = placement
        for i, server in enumerate(self.servers):
            if hasattr(server, "pull_bytes"):  # transport="auto" routes pulls by their size,
                server.pull_bytes = placement.bytes_on(i)  # which grows with the placement
        self._parts: dict = {}  # part key -> its newest array
        self._owner: dict = {}  # part key -> variable key
        self._versions = [{} for _ in self.servers]
        self._generations = [None] * len(self.servers)
        self.bytes_pulled = 0
        self.bytes_pushed = 0
        self.wait_s = 0.0

    def forget(self) -> None:
        """Drops the cached versions: the next pull fetches everything."""
        self._parts.clear()
        self._versions = [{} for _ in self.servers]
        self._generations = [None] * len(self.servers)

    def pull(self, after_step=None) -> dict:
        """`{key: array}` of the variables with a part that changed since the last pull (in sync
        mode, once the steps before `after_step` are applied)."""
        started = [_start(s, "pull", self._versions[i] or None, after_step,
                          generation=self._generations[i]) for i, s in enumerate(self.servers)]
        changed_keys = set()
        for i, server in enumerate(self.servers):
            self._take(i, *_finish(server, started[i], f"pull before step {after_step}"),
                       changed_keys)
        return {key: self._merged(key) for key in changed_keys}

    def _take(self, i, values, versions, generation, changed_keys) -> None:
        """Caches server `i`'s pulled parts; adds their variables' keys to `changed_keys`."""
        if generation != self._generations[i]:
            self._versions[i] = {}
            self._generations[i] = generation
        self._versions[i].update(versions)
        for part_key, value in values.items():
            self._parts[part_key] = value
            self.bytes_pulled += value.nbytes
            changed_keys.add(self._key_of(part_key))

    def push_pull(self, worker, step, shard_size, gradients, assigns=None):
        """`push`, then the values changed once the step is applied, in one call per server:
        `(result, {key: array})`; `(result, None)` when a client cannot (a server object of the
        local mode, which must not block its caller): then only the push is made."""
        if not all(hasattr(s, "push_pull_async") for s in self.servers):
            return self.push(worker, step, shard_size, gradients, assigns), None
        changed_keys: set = set()

        def take(i, reply):
            result, values, versions, generation = reply
            if Push(result) is not Push.WAIT:
                self._take(i, values, versions, generation, changed_keys)
            return result

        result = self._push_each("push_pull", worker, step, shard_size, gradients, assigns,
                                 take, lambda i: (self._versions[i] or None,
                                                  self._generations[i]))
        return result, {key: self._merged(key) for key in changed_keys}

    def _key_of(self, part_key):
        key = self._owner.get(part_key)
        if key is None:
            self._owner = {p: k for k in self.placement
                           for p, _ in self.placement.parts(k)}
            key = self._owner[part_key]
        return key

    def _merged(self, key):
        parts = self.placement.parts(key)
        if len(parts) == 1:
            return self._parts[parts[0][0]]
        return np.concatenate([self._parts[p] for p, _ in parts], axis=0)

    def push(self, worker, step, shard_size, gradients, assigns=None) -> Push:
        """Pushes every server its share (retrying the ones that answer WAIT); returns
        APPLIED, PENDING, DUPLICATE or STALE (the first server's answer when they differ)."""
        return self._push_each("push", worker, step, shard_size, gradients, assigns,
                               lambda i, reply: reply, lambda i: ())

    def _push_each(self, method, worker, step, shard_size, gradients, assigns, take, extra):
        """Calls `method` on every server with its share of the gradients (and `extra(i)`
        arguments), all in flight together; `take(i, reply)` gives the reply's push result.
        Servers that answer WAIT are asked again after a short sleep (counted in `wait_s`)."""
        per_ps = self.placement.split(gradients)
        assigns_per_ps = self.placement.split(assigns or {})
        for share in per_ps:
            self.bytes_pushed += sum(g.nbytes for g in share.values())
        todo = list(range(len(self.servers)))
        results: dict = {}
        what = f"push of worker {worker}, step {step}"
        while todo:
            started = {i: _start(self.servers[i], method, worker, step, shard_size, per_ps[i],
                                 assigns_per_ps[i] or None, *extra(i)) for i in todo}
            waiting = []
            for i in todo:
                result = Push(take(i, _finish(self.servers[i], started[i], what)))
                if result is Push.WAIT:
                    waiting.append(i)
                else:
                    results[i] = result
            if waiting:
                start = time.perf_counter()
                time.sleep(_WAIT_SLEEP_S)
                self.wait_s += time.perf_counter() - start
            todo = waiting
        return results[0]

    def apply_update(self, worker, sequence, gradients, deltas) -> None:
        """A custom-loop step's changes, applied on arrival in every mode: `gradients` through
        the servers' optimizer, `deltas` added to the variables. A `(worker, sequence)` seen
        before is ignored (a replayed step)."""
        grads_per_ps = self.placement.split(gradients)
        deltas_per_ps = self.placement.split(deltas)
        started = [_start(s, "apply_update", worker, sequence, grads_per_ps[i],
                          deltas_per_ps[i]) for i, s in enumerate(self.servers)]
        for i, server in enumerate(self.servers):
            _finish(server, started[i], f"update {sequence} of worker {worker}")
