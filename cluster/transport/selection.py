"""``transport="auto"``: measure Ray's object store against gRPC, then route each call by size.

Which transport is faster depends on the message size and on the machine: across machines gRPC
tends to win large arrays and Ray's per-call cost small ones; on one machine Ray's shared-memory
object store can win the large arrays while gRPC's cheaper calls win the small ones. So it is
measured: :func:`choose_routing` times an echo of the same bytes over each transport at several
sizes and returns the :class:`Routing` (one transport below a size, the other from there, or one
for everything) that costs least over the measured sizes; :class:`AutoServerClient` then sends
each push (by its arrays' bytes) and each pull (by the server's variable bytes) the way the
routing says. Both transports reach the same `ParameterServer`, so the protocol (duplicates,
sync steps, generations) does not depend on the route.

Example:
    >>> routing = choose_routing(ray_echo, grpc_client.echo)  # doctest: +SKIP
    >>> client = AutoServerClient(ray_client, grpc_client, routing,
    ...                           pull_bytes=sum(v.nbytes for v in values.values()))  # doctest: +SKIP
    >>> client.push(0, 0, 32, gradients)  # doctest: +SKIP
    <Push.PENDING: 'pending'>
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ALWAYS_GRPC",
    "ALWAYS_RAY",
    "DEFAULT_SIZES",
    "AutoServerClient",
    "Routing",
    "choose_routing",
    "measure_round_trip",
    "routing_from_times",
]

# Payload sizes measured by default: 4 KB to 16 MB, four per decade-and-a-bit.
DEFAULT_SIZES = (4 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20)
_WAYS = ("ray", "grpc")
_NAMES = {"ray": "Ray actor calls", "grpc": "gRPC"}


@dataclass(frozen=True)
class Routing:
    """Which transport carries a message: `below` for messages of fewer than `threshold`
    bytes, `above` for the others.

    Example:
        >>> routing = Routing(below="grpc", above="ray", threshold=1 << 20)
        >>> routing.way(4096), routing.way(40 << 20)
        ('grpc', 'ray')
        >>> str(routing)
        'gRPC below 1048576 bytes, Ray actor calls from there'
    """

    below: str
    above: str
    threshold: int = 0

    def __post_init__(self):
        for what, way in (("below", self.below), ("above", self.above)):
            if way not in _WAYS:
                raise ValueError(f"Routing.{what} must be 'ray' or 'grpc', got {way!r}")
        if not isinstance(self.threshold, (int, np.integer)) or self.threshold < 0:
            raise ValueError(f"Routing.threshold must be an int >= 0, got {self.threshold!r}")

    def way(self, nbytes: int) -> str:
        """"ray" or "grpc": the transport for a message of `nbytes` bytes."""
        return self.below if nbytes < self.threshold else self.above

    def __str__(self) -> str:
        if self.below == self.above or self.threshold == 0:
            return f"{_NAMES[self.above]} for every message"
        return (f"{_NAMES[self.below]} below {self.threshold} bytes, "
                f"{_NAMES[self.above]} from there")


ALWAYS_RAY = Routing("ray", "ray")
ALWAYS_GRPC = Routing("grpc", "grpc")


def _payload(nbytes: int) -> bytes:
    if not isinstance(nbytes, (int, np.integer)) or nbytes < 0:
        raise ValueError(f"nbytes must be an int >= 0, got {nbytes!r}")
    return bytes(int(nbytes))


def _timed(call: Callable, payload: bytes) -> float:
    start = time.perf_counter()
    reply = call(payload)
    elapsed = time.perf_counter() - start
    if len(reply) != len(payload):
        raise ValueError(f"the echo of {len(payload)} bytes came back with {len(reply)} bytes: "
                         "the call must return its payload")
    return elapsed


def measure_round_trip(call: Callable, nbytes: int, repeats: int = 5) -> float:
    """The median seconds of `call(payload)` for a `nbytes`-byte payload, after one warm-up.

    Args:
        call: one echo round trip: takes bytes, returns the same bytes (e.g.
            `GrpcServerClient.echo`, or a Ray actor method wrapped in `ray.get`).
        nbytes: the payload size.
        repeats: timed calls (the median is returned).

    Example:
        >>> measure_round_trip(lambda b: b, 1024, repeats=3) < 0.01
        True
    """
    if int(repeats) < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    payload = _payload(nbytes)
    _timed(call, payload)
    return statistics.median(_timed(call, payload) for _ in range(int(repeats)))


def choose_routing(ray_echo: Callable, grpc_echo: Callable,
                   sizes: Sequence[int] = DEFAULT_SIZES, repeats: int = 7) -> Routing:
    """The routing between Ray and gRPC that costs least here, measured.

    At each size both echoes are timed in pairs (alternating which goes first, so both see
    the same background load) and the fastest of each is taken: background load only ever
    adds time, and a measurement taken while a cluster starts (workers importing, Ray
    prestarting processes) sees a lot of it. Then :func:`routing_from_times` picks.

    Args:
        ray_echo: one echo round trip over Ray: takes bytes, returns an object of the same
            length (sending ``np.frombuffer(payload, np.uint8)`` measures Ray as it moves
            arrays, zero-copy; plain bytes are pickled).
        grpc_echo: one echo round trip over gRPC (e.g. `GrpcServerClient.echo`).
        sizes: payload sizes to measure, in bytes.
        repeats: pairs timed per size.

    Returns:
        A `Routing`.

    Example:
        >>> slow_small = lambda b: (time.sleep(0.002), b)[1]
        >>> slow_large = lambda b: (time.sleep(len(b) * 1e-8), b)[1]
        >>> print(choose_routing(slow_large, slow_small, sizes=[1000, 10**7], repeats=3))
        Ray actor calls below 10000000 bytes, gRPC from there
    """
    sizes = sorted(int(s) for s in sizes)
    if not sizes:
        raise ValueError("sizes must name at least one payload size")
    if int(repeats) < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    ray_times, grpc_times = [], []
    for size in sizes:
        payload = _payload(size)
        _timed(ray_echo, payload), _timed(grpc_echo, payload)  # warm-up: connections, buffers
        pairs = []
        for repeat in range(int(repeats)):
            if repeat % 2:
                grpc_time, ray_time = _timed(grpc_echo, payload), _timed(ray_echo, payload)
            else:
                ray_time, grpc_time = _timed(ray_echo, payload), _timed(grpc_echo, payload)
            pairs.append((ray_time, grpc_time))
        ray_times.append(min(r for r, _ in pairs))
        grpc_times.append(min(g for _, g in pairs))
    return routing_from_times(sizes, ray_times, grpc_times)


def routing_from_times(sizes, ray_times, grpc_times) -> Routing:
    """The routing `choose_routing` picks from measured times (seconds per round trip, one
    per size of the ascending `sizes`): of one transport for everything, or one below a
    measured size and the other from it on (either way round), the one with the least total
    time over the sizes; one transport for everything on a tie. When one transport wins every
    size but its time grows faster over the two largest, the other takes the messages from
    where the two lines cross.

    Example:
        >>> print(routing_from_times([4096, 1 << 24], [0.0012, 0.009], [0.0006, 0.02]))
        gRPC below 16777216 bytes, Ray actor calls from there
    """
    times = {"ray": list(ray_times), "grpc": list(grpc_times)}
    candidates = [(sum(times[w]), Routing(w, w)) for w in ("grpc", "ray")]
    for i in range(1, len(sizes)):
        for below, above in (("ray", "grpc"), ("grpc", "ray")):
            cost = sum(times[below][:i]) + sum(times[above][i:])
            candidates.append((cost, Routing(below, above, int(sizes[i]))))
    best = min(cost for cost, _ in candidates)
    routing = next(routing for cost, routing in candidates if cost == best)
    if routing.below == routing.above and len(sizes) >= 2:
        return _beyond_the_sizes(routing.above, sizes, times)
    return routing


def _beyond_the_sizes(way: str, sizes, times) -> Routing:
    """One transport won every size; past the largest, the other may still win. Each way's
    cost per byte is its slope over the two largest sizes: when `way`'s is the steeper, the
    lines cross beyond them and the routing hands the larger messages to the other way from
    there (a message ten times the largest measured would otherwise go the way whose time grows
    faster: gRPC's 40 MB, copied whole into each message on both sides, against Ray's shared
    memory)."""
    other = "ray" if way == "grpc" else "grpc"
    large, span = sizes[-1], sizes[-1] - sizes[-2]
    if span <= 0:
        return Routing(way, way)
    slope = {w: max(0.0, (times[w][-1] - times[w][-2]) / span) for w in (way, other)}
    if slope[way] <= slope[other] * 1.01:  # (equal within rounding: no crossover)
        return Routing(way, way)
    crossover = large + (times[other][-1] - times[way][-1]) / (slope[way] - slope[other])
    return Routing(way, other, int(max(crossover, large)))


def _nbytes(arrays) -> int:
    return sum(getattr(a, "nbytes", None) or np.asarray(a).nbytes for a in arrays.values())


class _Routed:
    """A push_pull started by `AutoServerClient`: the client carrying it and its handle (or,
    for a client that answered at once, the result)."""

    __slots__ = ("client", "inner", "result")

    def __init__(self, client, inner, result):
        self.client, self.inner, self.result = client, inner, result


class AutoServerClient:
    """One parameter server reached over Ray or gRPC, whichever is faster for each call.

    Pushes (and push_pulls) go the way `routing` says for the bytes of their gradients and
    assigns, pulls the way it says for `pull_bytes` (the server's variables, the most a pull can
    carry). Results, errors and generations are the server's, whichever way a call goes.
    Picklable when both clients are.

    Args:
        ray_client: the server over Ray actor calls (e.g. `dtf.cluster.remote.RemoteServer`).
        grpc_client: the server over gRPC (`GrpcServerClient`).
        routing: from `choose_routing` (or `ALWAYS_RAY`, `ALWAYS_GRPC`).
        pull_bytes: the total bytes of the server's variables.

    Attributes:
        routed: how many calls went each way, ``{"ray": n, "grpc": n}`` (in this process).

    Example:
        >>> client = AutoServerClient(ray_client, grpc_client, Routing("grpc", "ray", 1 << 20),
        ...                           pull_bytes=40 << 20)  # doctest: +SKIP
        >>> client.pull()  # 40 MB of variables: over Ray  # doctest: +SKIP
    """

    def __init__(self, ray_client, grpc_client, routing: Routing, pull_bytes: int):
        if not isinstance(routing, Routing):
            raise TypeError(f"routing must be a Routing (from choose_routing), got {routing!r}")
        if not isinstance(pull_bytes, (int, np.integer)) or pull_bytes < 0:
            raise ValueError(f"pull_bytes must be an int >= 0, got {pull_bytes!r}")
        self.ray_client = ray_client
        self.grpc_client = grpc_client
        self.routing = routing
        self.pull_bytes = int(pull_bytes)
        self.routed = {"ray": 0, "grpc": 0}

    def _route(self, nbytes: int):
        way = self.routing.way(nbytes)
        self.routed[way] += 1
        return self.grpc_client if way == "grpc" else self.ray_client

    def push(self, worker, step, shard_size, gradients, assigns=None):
        """Pushes over the transport that is faster for these arrays' bytes; returns the
        server's `Push` result."""
        nbytes = _nbytes(gradients) + (_nbytes(assigns) if assigns else 0)
        client = self._route(nbytes)
        if assigns is None:
            return client.push(worker, step, shard_size, gradients)
        return client.push(worker, step, shard_size, gradients, assigns)

    def apply_update(self, worker, sequence, gradients, deltas) -> bool:
        """A custom-loop step's changes, over the transport that is faster for their bytes;
        returns whether the server applied them."""
        client = self._route(_nbytes(gradients) + _nbytes(deltas))
        return client.apply_update(worker, sequence, gradients, deltas)

    def push_pull(self, worker, step, shard_size, gradients, assigns=None, known_versions=None,
                  generation=None, timeout_s=None):
        """A push and the pull of what the step changed in one call (see
        `ParameterServer.push_pull`), over the transport that is faster for the push's bytes:
        `(Push value, values, versions, generation)`."""
        return self.finish(self.push_pull_async(worker, step, shard_size, gradients, assigns,
                                                known_versions, generation, timeout_s))

    def push_pull_async(self, worker, step, shard_size, gradients, assigns=None,
                        known_versions=None, generation=None, timeout_s=None):
        """Starts a `push_pull` over the transport that is faster for the push's bytes; returns
        a handle for `finish`. A client without ``push_pull_async`` (a local
        `ParameterServer`) answers at once, and the handle holds its answer."""
        nbytes = _nbytes(gradients) + (_nbytes(assigns) if assigns else 0)
        client = self._route(nbytes)
        args = (worker, step, shard_size, gradients, assigns, known_versions, generation)
        # Ray's RemoteServer has its own timeout and takes none per call.
        extra = () if timeout_s is None else (timeout_s,)
        start = getattr(client, "push_pull_async", None)
        if start is None:
            return _Routed(client, None, client.push_pull(*args, *extra))
        return _Routed(client, start(*args, *extra), None)

    def finish(self, handle, what=None):
        """The result of a call started by `push_pull_async`, with the errors of the client
        that carried it. `what` names the call in errors."""
        if not isinstance(handle, _Routed):
            raise TypeError(f"finish takes a handle from push_pull_async, got {handle!r}")
        if handle.inner is None:
            return handle.result
        if what is None:
            return handle.client.finish(handle.inner)
        return handle.client.finish(handle.inner, what)

    def pull(self, known_versions=None, after_step=None, generation=None):
        """`(values, versions, generation)`, over the transport that is faster for
        `pull_bytes`."""
        return self._route(self.pull_bytes).pull(known_versions=known_versions,
                                                 after_step=after_step, generation=generation)

    def __repr__(self) -> str:
        return (f"AutoServerClient(routing={str(self.routing)!r}, "
                f"pull_bytes={self.pull_bytes}, grpc={self.grpc_client!r})")
