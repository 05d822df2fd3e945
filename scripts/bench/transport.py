"""Push + pull over the gRPC parameter transport, against bare gRPC and an in-memory copy.

Issue 6 item 10(a), the gRPC and in-memory columns. For each size (4 KB, 400 KB, 4 MB, 40 MB
of float32) one tensor is pushed to and pulled from a parameter store served by
``dtf.cluster.transport.grpc_service`` in a child process (as a parameter server would be), and
the same bytes are moved by:

  bare gRPC   the same two unary calls on a bare generic-handler gRPC server in that child:
              ``Put`` (S bytes up, nothing back) and ``Get`` (nothing up, S bytes back) -- the
              floor for any message format on gRPC; ``echo`` (S up, S back in one call) is
              printed beside it for reference
  memcpy      ``np.copyto`` of the S bytes into a preallocated array, once for each direction

The transport's push includes encoding, authentication, decoding with full validation and the
store applying it (``np.copyto`` into the variable); its pull includes encoding the snapshot
under the store's lock and decoding on the client.

Both processes call ``dtf.cluster.transport.memory.tune_allocator()`` first (as parameter
server and worker processes should; ``--no-tune-allocator`` to compare): without it every 40 MB
buffer is fresh mmap'd pages, and page faults dominate the large sizes.

Each round times every column at every size, the columns interleaved call by call (several
calls each for the small sizes); ratios are computed per round and the medians reported.

Targets (issue 6, 10(a)): 40 MB push and pull each at least 10% of memcpy bandwidth; 4 KB and
400 KB push + pull at most 1.3x the bare gRPC Put + Get.

Usage: python scripts/bench/transport.py [--rounds 7] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from concurrent import futures

import grpc
import numpy as np
from dtf.cluster.transport.grpc_service import (
    ParameterStore,
    TransportClient,
    TransportServer,
    generate_token,
)
from dtf.cluster.transport.memory import tune_allocator

SIZES = {"4 KB": 4 * 1024, "400 KB": 400 * 1024, "4 MB": 4 * 1024**2, "40 MB": 40 * 1024**2}
CALLS = {"4 KB": 200, "400 KB": 50, "4 MB": 10, "40 MB": 3}  # calls per column per round
BANDWIDTH_TARGET = 0.10  # of memcpy bandwidth, 40 MB
OVERHEAD_TARGET = 1.3  # x bare gRPC, 4 KB and 400 KB
MAX_MESSAGE = 64 * 1024 * 1024
BARE_SERVICE = "dtf.bench.Bare"


def _assign(name, value, gradient):
    np.copyto(value, gradient)


def _serve(token, connection, tune):
    """The child process: the transport server and the bare server, until told to stop."""
    if tune:
        tune_allocator()
    store = ParameterStore(
        {name: np.zeros(size // 4, "float32") for name, size in SIZES.items()}, update_fn=_assign
    )
    transport = TransportServer(store, token, max_message_bytes=MAX_MESSAGE).start()
    payloads = {size: np.ones(size, np.uint8).tobytes() for size in SIZES.values()}
    bare = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                 ("grpc.max_send_message_length", MAX_MESSAGE)],
    )
    handlers = {
        "Put": grpc.unary_unary_rpc_method_handler(lambda request, context: b""),
        "Get": grpc.unary_unary_rpc_method_handler(
            lambda request, context: payloads[int.from_bytes(request, "little")]),
        "Echo": grpc.unary_unary_rpc_method_handler(lambda request, context: request),
    }
    bare.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(BARE_SERVICE, handlers),))
    bare_port = bare.add_insecure_port("127.0.0.1:0")
    bare.start()
    connection.send((transport.port, bare_port))
    connection.recv()  # blocks until the parent is done
    transport.stop()
    bare.stop(None)


def _timed(columns, calls):
    """Seconds per call of each column, the columns interleaved call by call.

    Interleaving puts every column under the same background load (this machine is shared),
    which a block of calls per column would not.
    """
    totals = dict.fromkeys(columns, 0.0)
    clock = time.perf_counter
    for _ in range(calls):
        for key, fn in columns.items():
            start = clock()
            fn()
            totals[key] += clock() - start
    return {key: total / calls for key, total in totals.items()}


_BUFFERS = {}


def _buffers(size):
    """Arrays made and touched once per size, so no column pays for first-touch page faults."""
    if size not in _BUFFERS:
        source, target = np.ones(size, np.uint8), np.zeros(size, np.uint8)
        _BUFFERS[size] = np.full(size // 4, 0.5, "float32"), source, target, source.tobytes()
    return _BUFFERS[size]


def _columns(name, size, client, channel):
    """One round's seconds per call for every column at one size."""
    grad, source, target, payload = _buffers(size)
    size_key = size.to_bytes(8, "little")
    put = channel.unary_unary(f"/{BARE_SERVICE}/Put")
    get = channel.unary_unary(f"/{BARE_SERVICE}/Get")
    echo = channel.unary_unary(f"/{BARE_SERVICE}/Echo")
    step = iter(range(1 << 62))
    calls = CALLS[name]

    def push():
        client.push(0, next(step), 0, {name: grad})

    def pull():
        reply = client.pull({name: 0})
        assert reply.tensors[name].nbytes == size

    def bare_get():
        assert len(get(size_key, timeout=60)) == size

    return _timed({
        "push": push,
        "pull": pull,
        "bare_put": lambda: put(payload, timeout=60),
        "bare_get": bare_get,
        "echo": lambda: echo(payload, timeout=60),
        "memcpy": lambda: np.copyto(target, source),
    }, calls)


def run(rounds, tune=True):
    if tune:
        tune_allocator()
    token = generate_token()
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(token, child, tune), daemon=True)
    process.start()
    transport_port, bare_port = parent.recv()
    options = [("grpc.max_receive_message_length", MAX_MESSAGE),
               ("grpc.max_send_message_length", MAX_MESSAGE)]
    client = TransportClient(f"127.0.0.1:{transport_port}", token, timeout=60,
                             max_message_bytes=MAX_MESSAGE)
    channel = grpc.insecure_channel(f"127.0.0.1:{bare_port}", options=options)
    try:
        for name, size in SIZES.items():  # warm-up: connections, first allocations
            _columns(name, size, client, channel)
        samples = {name: [] for name in SIZES}
        for _ in range(rounds):
            for name, size in SIZES.items():
                samples[name].append(_columns(name, size, client, channel))
    finally:
        client.close()
        channel.close()
        parent.send("stop")
        process.join(30)
    return [_summarise(name, SIZES[name], samples[name]) for name in SIZES]


def _summarise(name, size, rounds):
    def median(key):
        return statistics.median(r[key] for r in rounds)

    def median_ratio(fn):
        return statistics.median(fn(r) for r in rounds)

    row = {"size": name, "bytes": size}
    row.update({f"{key}_us": median(key) * 1e6 for key in rounds[0]})
    row["push_gb_s"] = size / median("push") / 1e9
    row["pull_gb_s"] = size / median("pull") / 1e9
    row["memcpy_gb_s"] = size / median("memcpy") / 1e9
    row["push_of_memcpy"] = median_ratio(lambda r: r["memcpy"] / r["push"])
    row["pull_of_memcpy"] = median_ratio(lambda r: r["memcpy"] / r["pull"])
    row["over_bare"] = median_ratio(
        lambda r: (r["push"] + r["pull"]) / (r["bare_put"] + r["bare_get"]))
    if size >= 40 * 1024**2:
        row["target"] = f"push and pull >= {BANDWIDTH_TARGET:.0%} of memcpy"
        row["met"] = min(row["push_of_memcpy"], row["pull_of_memcpy"]) >= BANDWIDTH_TARGET
    elif size <= 400 * 1024:
        row["target"] = f"push + pull <= {OVERHEAD_TARGET}x bare Put + Get"
        row["met"] = row["over_bare"] <= OVERHEAD_TARGET
    return row


def _print(rows):
    print(f"{'size':>7} {'push us':>9} {'pull us':>9} {'bare put':>9} {'bare get':>9} "
          f"{'echo us':>9} {'memcpy':>8} {'push GB/s':>9} {'pull GB/s':>9} {'memcpy GB/s':>11} "
          f"{'vs bare':>7}  target")
    for r in rows:
        target = f"{r['target']}: {'met' if r['met'] else 'NOT MET'}" if "target" in r else ""
        if "of memcpy" in target:
            target += f" ({r['push_of_memcpy']:.1%} / {r['pull_of_memcpy']:.1%})"
        print(f"{r['size']:>7} {r['push_us']:9.0f} {r['pull_us']:9.0f} {r['bare_put_us']:9.0f} "
              f"{r['bare_get_us']:9.0f} {r['echo_us']:9.0f} {r['memcpy_us']:8.0f} "
              f"{r['push_gb_s']:9.2f} {r['pull_gb_s']:9.2f} {r['memcpy_gb_s']:11.2f} "
              f"{r['over_bare']:6.2f}x  {target}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--no-tune-allocator", action="store_true",
                        help="leave glibc's mmap threshold as it is (see transport.memory)")
    args = parser.parse_args(argv)
    tune = not args.no_tune_allocator
    rows = run(args.rounds, tune)
    print(f"allocator tuned (dtf.cluster.transport.memory.tune_allocator): {tune}")
    _print(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
