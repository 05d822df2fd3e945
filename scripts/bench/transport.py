"""A worker's step (push_pull; and push + pull) to a ParameterServer over Ray actor calls and
over gRPC, against a bare gRPC echo and an in-memory copy (issue 6, item 10(a)).

One parameter-server actor (``ray.remote`` of a `ParameterServer` with SGD, async mode) runs on
a local Ray started here (``ray.init(num_cpus=2)``). In its process it also serves itself over
gRPC (``serve_parameter_server``) and runs a bare gRPC server, so every column talks to the
same process. For each size (4 KB, 400 KB, 4 MB, 40 MB: one float32 variable each) the driver
times:

  grpc push_pull     ``GrpcServerClient.push_pull``: a worker's step in one call, S bytes of
                     gradients up and the S bytes of the parameter they changed back (encode,
                     decode with full validation, the server's push_pull, the reply), on the
                     client's open ``Steps`` stream (token checked when it opened): the shape
                     of an echo
  ray push_pull      ``ray.get(actor.push_pull.remote(...))`` with numpy arrays
  ray push / pull    ``ray.get(actor.push.remote(...))`` / ``actor.pull.remote(...)``
  grpc push / pull   ``GrpcServerClient.push`` / ``.pull``: the two-call step
  bare put / get     the same bytes on a bare generic-handler gRPC server: ``Put`` (S bytes up,
                     nothing back) and ``Get`` (nothing up, S bytes back): the floor for two
                     unary calls moving these bytes; ``echo`` (S up and back in one call);
                     ``stream echo`` (S up and back on an open bidirectional stream)
  memcpy             ``np.copyto`` of the S bytes into a preallocated array
  ps push_pull,      the same ParameterServer's push_pull / push / pull called in this
  push / pull        process: the server's own work (the SGD update), which no transport can
                     avoid, back to back
  served             the server's push_pull as the gRPC push_pulls arrive, timed in the
                     server's process: the same work with the caches a round trip leaves

A pull asks for one variable (the others' versions are given as known). Each round times every
column at every size in three groups: the gRPC columns (push_pull, bare echo, push, pull, bare
put, get), the Ray columns, and the in-process ones (memcpy, the server's own work). Within a
group the columns are interleaved call by call (`--block N` for blocks of N), so
push_pull and the echo it is judged against see the same background load; the Ray calls run
in a group of their own because they execute in the same actor process as the gRPC servers
and would flush its caches before every gRPC call. Ratios are taken per round, medians
reported.

Targets (issue 6, 10(a)), judged on push_pull, the one call a worker makes per step: 4 KB and
400 KB: gRPC push_pull at most 1.3x the bare gRPC echo of the same bytes (S up, S back, one
call), raw (the server's SGD update included) and transport only (``served`` subtracted);
40 MB: gRPC push_pull at least 10% of memcpy
bandwidth both ways (2 S bytes moved per call against memcpy's S). Also printed: Ray's
push_pull against the same echo, gRPC push_pull against the stream echo, the two-call step (push + pull against Put + Get and against
one echo; push and pull each against memcpy), and the routing
``transport.selection.choose_routing`` picks between Ray and gRPC echoes.

Both processes call ``dtf.cluster.transport.memory.tune_allocator()`` first, as parameter
server and worker processes should (without it every 40 MB buffer is fresh mmap'd pages).

Usage: OPENBLAS_NUM_THREADS=1 python scripts/bench/transport.py [--rounds 7] [--quick]
       [--json FILE] [--sizes "4 KB,400 KB"]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent import futures

import grpc
import numpy as np
from dtf.cluster.parameter_server import ParameterServer
from dtf.cluster.transport.grpc_service import (
    GrpcServerClient,
    generate_token,
    serve_parameter_server,
)
from dtf.cluster.transport.memory import tune_allocator
from dtf.cluster.transport.selection import choose_routing

from dtf import keras

SIZES = {"4 KB": 4 * 1024, "400 KB": 400 * 1024, "4 MB": 4 * 1024**2, "40 MB": 40 * 1024**2}
# Back-to-back calls of one column before the next column's turn. 1: every call interleaved
# with the other columns' (the closest pairing of background load). Blocks of 10 were tried on
# the thought that a worker's back-to-back push_pulls keep their code hot; the bare echo gains
# more from that than push_pull does (4 KB: 1.57-1.69x the echo in blocks, 1.45x interleaved,
# same machine, same minutes), so the default stays interleaved.
BLOCK = 1
CALLS = {"4 KB": 100, "400 KB": 25, "4 MB": 6, "40 MB": 2}  # calls per column per round
BANDWIDTH_TARGET = 0.10  # of memcpy bandwidth, 40 MB
OVERHEAD_TARGET = 1.3  # x bare gRPC, 4 KB and 400 KB
MAX_MESSAGE = 64 * 1024 * 1024
BARE_SERVICE = "dtf.bench.Bare"
HUGE_VERSION = 2**62
# The columns timed together, call by call (see Bench.round).
GROUPS = (
    ("grpc_pp", "bare_echo", "stream_echo", "grpc_push", "grpc_pull", "bare_put", "bare_get"),
    ("ray_pp", "ray_push", "ray_pull"),
    ("memcpy", "ps_pp", "ps_push", "ps_pull"),
)


def _variables():
    return {name: np.zeros(size // 4, "float32") for name, size in SIZES.items()}


class BenchServer(ParameterServer):
    """The parameter server under test, plus what the benchmark needs in its process: the
    gRPC service on itself, a bare gRPC server, and an echo method for Ray."""

    def serve(self, token):
        self._served_s, self._served_calls = 0.0, 0
        tune_allocator()
        self._grpc = serve_parameter_server(self, token, max_message_bytes=MAX_MESSAGE)
        payloads = {size: np.ones(size, np.uint8).tobytes() for size in SIZES.values()}
        self._bare = grpc.server(
            futures.ThreadPoolExecutor(max_workers=8),
            options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                     ("grpc.max_send_message_length", MAX_MESSAGE)])
        handlers = {
            "Put": grpc.unary_unary_rpc_method_handler(lambda request, context: b""),
            "Get": grpc.unary_unary_rpc_method_handler(
                lambda request, context: payloads[int.from_bytes(request, "little")]),
            "Echo": grpc.unary_unary_rpc_method_handler(lambda request, context: request),
            "StreamEcho": grpc.stream_stream_rpc_method_handler(_stream_echo),
        }
        self._bare.add_registered_method_handlers(BARE_SERVICE, handlers)
        port = self._bare.add_insecure_port("127.0.0.1:0")
        self._bare.start()
        return self._grpc.address, f"127.0.0.1:{port}", os.getpid()

    def echo(self, payload):
        return payload

    def push_pull(self, *args, **kwargs):
        # Timed here, in the server's process, as the calls arrive: the server's own work in
        # the conditions of the call (caches cold after a round trip), which "transport"
        # takes off; the same work timed back to back in the driver ("ps pp") is a fraction.
        start = time.perf_counter()
        try:
            return super().push_pull(*args, **kwargs)
        finally:
            self._served_s += time.perf_counter() - start
            self._served_calls += 1

    def take_served(self):
        """Mean seconds of the push_pulls served since the last call, and their count."""
        seconds, calls = self._served_s, self._served_calls
        self._served_s, self._served_calls = 0.0, 0
        return (seconds / calls if calls else float("nan")), calls


def _stream_echo(requests, context):
    yield from requests


class _StreamEcho:
    """A bidirectional stream on the bare server, each message echoed: the floor for a
    round trip on an open stream, as the client's ``Steps`` stream makes one."""

    def __init__(self, channel):
        import queue

        self._requests = queue.SimpleQueue()
        method = channel.stream_stream(f"/{BARE_SERVICE}/StreamEcho", _registered_method=True)
        self._replies = method(iter(self._requests.get, None))

    def __call__(self, payload):
        self._requests.put(payload)
        return next(self._replies)

    def close(self):
        self._requests.put(None)
        self._replies.cancel()


def _timed(columns, calls, block=1):
    """Seconds per call of each column, the columns interleaved in blocks of `block`
    back-to-back calls (1: call by call)."""
    totals = dict.fromkeys(columns, 0.0)
    clock = time.perf_counter
    done = 0
    while done < calls:
        n = min(block, calls - done)
        for key, fn in columns.items():
            start = clock()
            for _ in range(n):
                fn()
            totals[key] += clock() - start
        done += n
    return {key: total / calls for key, total in totals.items()}


class Bench:
    def __init__(self, ray, actor, client, channel, local, block=1):
        self.block = block
        self.ray, self.actor, self.client, self.local = ray, actor, client, local
        self.put = channel.unary_unary(f"/{BARE_SERVICE}/Put", _registered_method=True)
        self.get = channel.unary_unary(f"/{BARE_SERVICE}/Get", _registered_method=True)
        self.echo = channel.unary_unary(f"/{BARE_SERVICE}/Echo", _registered_method=True)
        self.stream_echo = _StreamEcho(channel)
        self.generation = ray.get(actor.pull.remote({n: HUGE_VERSION for n in SIZES}))[2]
        self.steps = {"ray": 0, "grpc": 0, "local": 0, "ray_pp": 0, "grpc_pp": 0,
                      "local_pp": 0}
        self.buffers = {}

    def _buffers(self, size):
        """Arrays made and touched once per size, so no column pays first-touch faults."""
        if size not in self.buffers:
            source, target = np.ones(size, np.uint8), np.zeros(size, np.uint8)
            self.buffers[size] = (np.full(size // 4, 0.5, "float32"), source, target,
                                  source.tobytes())
        return self.buffers[size]

    def _step(self, key):
        self.steps[key] += 1
        return self.steps[key]

    def round(self, name, calls):
        """One round's seconds per call of every column at one size."""
        size = SIZES[name]
        grad, source, target, payload = self._buffers(size)
        size_key = size.to_bytes(8, "little")
        known = {n: HUGE_VERSION for n in SIZES}
        known[name] = -1
        ray, actor, client, local = self.ray, self.actor, self.client, self.local

        def check(values):
            assert values[name].nbytes == size, (name, list(values))

        generation = self.generation
        columns = {
            # Each column is its own worker with its own increasing steps (async mode).
            "grpc_pp": lambda: check(client.push_pull(
                2, self._step("grpc_pp"), 1, {name: grad}, None, known, generation)[1]),
            "ray_pp": lambda: check(ray.get(actor.push_pull.remote(
                3, self._step("ray_pp"), 1, {name: grad}, None, known, generation, 60.0))[1]),
            "ps_pp": lambda: check(local.push_pull(
                2, self._step("local_pp"), 1, {name: grad}, None, known, local.generation,
                60.0)[1]),
            "ray_push": lambda: ray.get(actor.push.remote(0, self._step("ray"), 1, {name: grad})),
            "ray_pull": lambda: check(ray.get(actor.pull.remote(
                known, None, 60.0, self.generation))[0]),
            "grpc_push": lambda: client.push(1, self._step("grpc"), 1, {name: grad}),
            "grpc_pull": lambda: check(client.pull(known, generation=self.generation)[0]),
            "bare_put": lambda: self.put(payload, timeout=60),
            "bare_get": lambda: self.get(size_key, timeout=60),
            "bare_echo": lambda: self.echo(payload, timeout=60),
            "stream_echo": lambda: self.stream_echo(payload),
            "memcpy": lambda: np.copyto(target, source),
            "ps_push": lambda: local.push(0, self._step("local"), 1, {name: grad}),
            "ps_pull": lambda: check(local.pull(known, None, 60.0, local.generation)[0]),
        }
        # Columns are interleaved call by call within their group, and the groups run one
        # after the other: Ray's calls run in the same actor process as the gRPC servers and
        # would otherwise leave every gRPC call to start on caches Ray's task machinery just
        # flushed, a cost of sharing one process that neither transport has on its own.
        times = {}
        for group in GROUPS:
            serving = "grpc_pp" in group  # the group's only push_pull on the server
            if serving:
                ray.get(actor.take_served.remote())
            times.update(_timed({key: columns[key] for key in group}, calls, self.block))
            if serving:
                times["served_pp"], served = ray.get(actor.take_served.remote())
                assert served == calls, (served, calls)
        return times


def _summarise(name, rounds):
    size = SIZES[name]

    def median(fn):
        return statistics.median(fn(r) for r in rounds)

    row = {"size": name, "bytes": size}
    row.update({f"{key}_us": median(lambda r, k=key: r[k]) * 1e6 for key in rounds[0]})
    # The step in one call: push_pull against one bare echo of the same bytes.
    for way in ("grpc", "ray"):
        row[f"{way}_pp_over_echo"] = median(lambda r, w=way: r[f"{w}_pp"] / r["bare_echo"])
        # Both ways: 2 S bytes per call against memcpy's S.
        row[f"{way}_pp_of_memcpy"] = median(lambda r, w=way: 2 * r["memcpy"] / r[f"{w}_pp"])
    # Against a bare stream's echo: the floor of the mechanism push_pull runs on.
    row["grpc_pp_over_stream_echo"] = median(lambda r: r["grpc_pp"] / r["stream_echo"])
    row["stream_echo_over_echo"] = median(lambda r: r["stream_echo"] / r["bare_echo"])
    # The transport alone: the server's own push_pull, timed in its process during the same
    # calls, taken off.
    row["grpc_pp_transport_over_echo"] = median(
        lambda r: (r["grpc_pp"] - r["served_pp"]) / r["bare_echo"])
    row["grpc_pp_transport_of_memcpy"] = median(
        lambda r: 2 * r["memcpy"] / max(r["grpc_pp"] - r["served_pp"], 1e-9))
    row["bare_echo_of_memcpy"] = median(lambda r: 2 * r["memcpy"] / r["bare_echo"])
    # The two-call step, as before push_pull.
    for way in ("grpc", "ray"):
        row[f"{way}_over_bare"] = median(
            lambda r, w=way: (r[f"{w}_push"] + r[f"{w}_pull"]) / (r["bare_put"] + r["bare_get"]))
        row[f"{way}_over_echo"] = median(
            lambda r, w=way: (r[f"{w}_push"] + r[f"{w}_pull"]) / r["bare_echo"])
        for call in ("push", "pull"):
            row[f"{way}_{call}_of_memcpy"] = median(
                lambda r, w=way, c=call: r["memcpy"] / r[f"{w}_{c}"])
    for call in ("put", "get"):
        row[f"bare_{call}_of_memcpy"] = median(lambda r, c=call: r["memcpy"] / r[f"bare_{c}"])
    row["grpc_transport_over_bare"] = median(
        lambda r: (r["grpc_push"] + r["grpc_pull"] - r["ps_push"] - r["ps_pull"])
        / (r["bare_put"] + r["bare_get"]))
    if size >= 40 * 1024**2:
        row["target"] = (f"gRPC push_pull >= {BANDWIDTH_TARGET:.0%} of memcpy bandwidth, "
                         "both ways")
        row["met"] = row["grpc_pp_of_memcpy"] >= BANDWIDTH_TARGET
        row["transport_met"] = row["grpc_pp_transport_of_memcpy"] >= BANDWIDTH_TARGET
    elif size <= 400 * 1024:
        row["target"] = f"gRPC push_pull <= {OVERHEAD_TARGET}x the bare gRPC echo"
        row["met"] = row["grpc_pp_over_echo"] <= OVERHEAD_TARGET
        row["transport_met"] = row["grpc_pp_transport_over_echo"] <= OVERHEAD_TARGET
    return row


def run(rounds, quick=False, sizes=tuple(SIZES), block=BLOCK):
    import ray

    tune_allocator()
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR",
             log_to_driver=False, configure_logging=False)
    token = generate_token()
    optimizer = keras.optimizers.SGD(0.01)
    actor = ray.remote(BenchServer).options(max_concurrency=4).remote(
        _variables(), optimizer, num_workers=4, mode="async", name="bench ps")
    grpc_address, bare_address, _ = ray.get(actor.serve.remote(token))
    setup_s = time.perf_counter() - started
    client = GrpcServerClient(grpc_address, token, name="bench ps", timeout_s=60,
                              max_message_bytes=MAX_MESSAGE)
    options = [("grpc.max_receive_message_length", MAX_MESSAGE),
               ("grpc.max_send_message_length", MAX_MESSAGE)]
    channel = grpc.insecure_channel(bare_address, options=options)
    local = ParameterServer(_variables(), keras.optimizers.SGD(0.01), num_workers=4,
                            mode="async")
    calls = {name: max(1, n // (5 if quick else 1)) for name, n in CALLS.items()}
    bench = None
    try:
        bench = Bench(ray, actor, client, channel, local, block)
        for name in sizes:  # warm-up: connections, first allocations
            bench.round(name, 1)
        samples = {name: [] for name in sizes}
        for _ in range(rounds):
            for name in sizes:
                samples[name].append(bench.round(name, calls[name]))
        threshold_sizes = [4 << 10, 64 << 10, 1 << 20, 16 << 20] if quick else \
            [4 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20]
        # The Ray echo carries a uint8 array, as Ray moves the parameters (zero-copy from its
        # object store); bytes would be pickled, a slower path no push or pull takes.
        routing = choose_routing(
            lambda b: ray.get(actor.echo.remote(np.frombuffer(b, np.uint8))), client.echo,
            threshold_sizes, repeats=3 if quick else 7)
    finally:
        if bench is not None:
            bench.stream_echo.close()
        client.close()
        channel.close()
        ray.shutdown()
    return [_summarise(name, samples[name]) for name in sizes], routing, setup_s


def _print(rows, routing, rounds, setup_s):
    print(f"transport benchmark: {rounds} paired rounds, medians; Ray and the PS actor "
          f"started in {setup_s:.1f} s")
    print("A worker's step in one call (push_pull: S bytes of gradients up, the S bytes of "
          "parameters they changed back)")
    print(f"{'size':>7} | {'grpc pp':>8} {'ray pp':>8} {'ps pp':>6} {'served':>6} | {'bare echo':>9} "
          f"{'memcpy':>7} | {'gRPC/echo':>9} {'transport':>9} {'Ray/echo':>9} | "
          f"{'share of memcpy bandwidth, both ways':^37}")
    print(f"{'':>7} | {'(us)':>8} {'(us)':>8} {'(us)':>6} {'(us)':>6} | {'(us)':>9} {'(us)':>7} | "
          f"{'':>9} {'/echo':>9} {'':>9} | {'gRPC':>8} {'transport':>9} {'echo':>8} {'Ray':>8}")
    for r in rows:
        print(f"{r['size']:>7} | {r['grpc_pp_us']:8.0f} {r['ray_pp_us']:8.0f} "
              f"{r['ps_pp_us']:6.0f} {r['served_pp_us']:6.0f} | {r['bare_echo_us']:9.0f} "
              f"{r['memcpy_us']:7.0f} | "
              f"{r['grpc_pp_over_echo']:8.2f}x {r['grpc_pp_transport_over_echo']:8.2f}x "
              f"{r['ray_pp_over_echo']:8.2f}x | {r['grpc_pp_of_memcpy']:8.1%} "
              f"{r['grpc_pp_transport_of_memcpy']:9.1%} {r['bare_echo_of_memcpy']:8.1%} "
              f"{r['ray_pp_of_memcpy']:8.1%}")
    print()
    print("push_pull runs on the client's open Steps stream; against a bare stream's echo of "
          "the same bytes:")
    print(f"{'size':>7} | {'stream echo':>11} {'/ echo':>7} | {'gRPC pp / stream echo':>21}")
    for r in rows:
        print(f"{r['size']:>7} | {r['stream_echo_us']:9.0f}us {r['stream_echo_over_echo']:6.2f}x"
              f" | {r['grpc_pp_over_stream_echo']:20.2f}x")
    print()
    print("The two-call step (push, then pull)")
    print(f"{'size':>7} | {'grpc push':>9} {'pull':>7} | {'ray push':>9} {'pull':>7} | "
          f"{'bare put':>8} {'get':>7} | {'ps push':>7} {'pull':>5}   (microseconds per call)")
    for r in rows:
        print(f"{r['size']:>7} | {r['grpc_push_us']:9.0f} {r['grpc_pull_us']:7.0f} | "
              f"{r['ray_push_us']:9.0f} {r['ray_pull_us']:7.0f} | {r['bare_put_us']:8.0f} "
              f"{r['bare_get_us']:7.0f} | {r['ps_push_us']:7.0f} {r['ps_pull_us']:5.0f}")
    print()
    print(f"{'':>7} | {'gRPC push + pull over':^30} | "
          f"{'share of memcpy bandwidth: push, pull (put, get)':^47} |")
    print(f"{'size':>7} | {'bare put+get':>12} {'1 echo':>7} {'transport':>9} | "
          f"{'gRPC':>15} {'bare gRPC':>15} {'Ray':>15} | {'Ray / bare':>10}")

    def pair(r, key):
        return f"{r[f'{key}_push_of_memcpy']:6.1%} {r[f'{key}_pull_of_memcpy']:7.1%}"

    for r in rows:
        bare = f"{r['bare_put_of_memcpy']:6.1%} {r['bare_get_of_memcpy']:7.1%}"
        print(f"{r['size']:>7} | {r['grpc_over_bare']:11.2f}x {r['grpc_over_echo']:6.2f}x "
              f"{r['grpc_transport_over_bare']:8.2f}x | {pair(r, 'grpc'):>15} "
              f"{bare:>15} {pair(r, 'ray'):>15} | {r['ray_over_bare']:9.2f}x")
    print()
    print("ps pp: the server's push_pull (with the SGD update) timed back to back in this "
          "process; served: the same, timed in the server's process as the gRPC push_pulls "
          "arrive")
    print("transport: gRPC push_pull minus served; the two-call step minus ps push and pull")
    print("bare echo: S bytes up and back in one unary gRPC call (the reference of the targets); "
          "stream echo: the same on an open stream")
    print("Targets judged on push_pull (one call per step), raw and transport only:")
    for r in rows:
        if "target" in r:
            print(f"{'PASS' if r['met'] else 'MISS'} raw, "
                  f"{'PASS' if r['transport_met'] else 'MISS'} transport  {r['size']:>6}: "
                  f"{r['target']}")
    print(f"choose_routing (Ray echo vs gRPC echo, fastest of paired calls, least total time): "
          f"{routing}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true",
                        help="a fast smoke run: 2 rounds, a fifth of the calls")
    parser.add_argument("--block", type=int, default=BLOCK,
                        help="back-to-back calls per column before switching (1: call by call)")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--sizes", default=",".join(SIZES),
                        help=f"comma-separated sizes among {', '.join(SIZES)}")
    args = parser.parse_args(argv)
    sizes = tuple(name.strip() for name in args.sizes.split(","))
    unknown = [name for name in sizes if name not in SIZES]
    if unknown:
        parser.error(f"unknown sizes {unknown}; choose among {list(SIZES)}")
    rounds = 2 if args.quick else args.rounds
    rows, routing, setup_s = run(rounds, args.quick, sizes, max(1, args.block))
    _print(rows, routing, rounds, setup_s)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "routing": {"below": routing.below, "above": routing.above,
                                                  "threshold": routing.threshold}}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
