"""`dtf serve` throughput and latency for the MNIST MLP, against in-process predict (issue 9,
item 6).

The model is the MNIST MLP (784-32-32-10, relu, relu, softmax; random weights: speed does not
depend on them), exported with ``model.export`` to a temporary folder. Its inputs are MNIST
test images (``keras.datasets.mnist``, which honours ``DTF_DATASETS_DIR``), scaled to [0, 1],
or random images with ``--random`` or where the data set cannot be had.

For batch 1 and batch 64 this script times, with 8 concurrent clients (threads of this
process, each with its own `PredictClient` and channel, all started together):

  served       `PredictClient.predict` against a `dtf serve` server in its own process
               (`dtf.serving.serve`): encoding, gRPC on loopback, the server's validation,
               the model, the reply and its decoding
  in-process   the loaded ``serving_default`` signature called directly
               (``dtf.saved_model.load(path).signatures["serving_default"](x)``) by 8 threads,
               and by 1 thread
  grpc echo    the floor of the transport: a bare gRPC server (generic handler, in its own
               process, same thread pool) answering each served request's bytes unchanged

and prints requests/s, examples/s, p50 and p99 latency per request, and the ratios served /
in-process and served / echo. Every served reply is checked against the in-process output for its request (bit
for bit) before anything is timed.

Both sides run with one BLAS thread (``OPENBLAS_NUM_THREADS=1`` and the like, unless set
already): with 8 concurrent requests, per-call BLAS thread pools only fight each other.

Rounds (3; ``--quick``: 1, with fewer requests) run every mode in turn; medians are printed.

Usage: python scripts/bench/serve.py [--quick] [--random] [--requests N] [--clients 8]
       [--rounds 3] [--server-workers 8] [--json FILE]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import grpc
import numpy as np

import dtf
from dtf import keras
from dtf.serving import PredictClient, messages

BATCHES = (1, 64)
SERVER_PROGRAM = """
import sys
from dtf.serving import serve
serve(sys.argv[1], port=0, max_workers=int(sys.argv[2]))
"""


def mnist_mlp():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def load_images(use_random: bool) -> tuple[np.ndarray, str]:
    if not use_random:
        try:
            (_, _), (x_test, _) = keras.datasets.mnist.load_data()
            return (x_test.reshape(-1, 784) / np.float32(255)).astype(np.float32), \
                f"MNIST test images ({len(x_test)})"
        except OSError as e:
            print(f"MNIST unavailable ({e}); using random images", file=sys.stderr)
    return np.random.default_rng(0).random((10_000, 784), dtype=np.float32), "random images"


ECHO_PROGRAM = """
import sys, threading
from concurrent import futures
import grpc
server = grpc.server(futures.ThreadPoolExecutor(max_workers=int(sys.argv[2])))
server.add_registered_method_handlers(
    "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(lambda request, context: request)})
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(f"echo on 127.0.0.1:{port},", flush=True)
threading.Event().wait()
"""


def start_server(program: str, path: str, workers: int):
    process = subprocess.Popen([sys.executable, "-c", program, path, str(workers)],
                               stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    line = process.stdout.readline()
    match = re.search(r" on (\S+:\d+),", line)
    if match is None:
        process.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    return process, match.group(1)


def run_clients(make_call, clients: int, requests: int, batches: list) -> dict:
    """Runs `requests` calls in each of `clients` threads at once; returns the timings."""
    latencies = [[] for _ in range(clients)]
    errors = []
    barrier = threading.Barrier(clients + 1)

    def work(k):
        try:
            call = make_call()
            clock = time.perf_counter
            barrier.wait()
            mine = latencies[k]
            for i in range(requests):
                x = batches[(k * requests + i) % len(batches)]
                start = clock()
                call(x)
                mine.append(clock() - start)
        except Exception as e:  # noqa: BLE001 - reported after the run
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    flat = np.array([t for per in latencies for t in per])
    total = clients * requests
    return {
        "requests_per_s": total / elapsed,
        "examples_per_s": total * len(batches[0]) / elapsed,
        "p50_ms": float(np.percentile(flat, 50) * 1e3),
        "p99_ms": float(np.percentile(flat, 99) * 1e3),
        "requests": total,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument("--random", action="store_true", help="random images, not MNIST")
    parser.add_argument("--requests", type=int, default=None,
                        help="requests per client at batch 1 (batch 64: a quarter)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--server-workers", type=int, default=8,
                        help="threads of the served and the echo server (max_workers)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds of every mode, medians reported (default 3, --quick 1)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    per_client = args.requests or (100 if args.quick else 1000)
    args.rounds = args.rounds or (1 if args.quick else 3)
    images, source = load_images(args.random)

    folder = tempfile.mkdtemp(prefix="dtf-serve-bench-")
    path = os.path.join(folder, "mnist_mlp")
    mnist_mlp().export(path, verbose=False)
    signature = dtf.saved_model.load(path).signatures["serving_default"]
    workers = args.server_workers
    process, address = start_server(SERVER_PROGRAM, path, workers)
    echo_process, echo_address = start_server(ECHO_PROGRAM, path, workers)
    results = {"source": source, "clients": args.clients, "cpus": os.cpu_count(), "rows": []}
    print(f"dtf serve benchmark: MNIST MLP 784-32-32-10, {source}, {args.clients} concurrent "
          f"clients, {os.cpu_count()} CPUs; server {address}")
    header = (f"{'batch':>5} {'mode':<14} {'req/s':>9} {'examples/s':>11} {'p50 ms':>8} "
              f"{'p99 ms':>8}")
    try:
        for batch in BATCHES:
            requests = per_client if batch == 1 else max(per_client // 4, 10)
            batches = [images[i:i + batch] for i in range(0, 64 * batch * 4, batch)]
            batches = [b for b in batches if len(b) == batch]
            with PredictClient(address) as client:  # correctness first, and warm-up
                for x in batches[:16]:
                    want = signature(x)["output_0"].numpy()
                    np.testing.assert_array_equal(client.predict(x)["output_0"], want)

            def served(first=batches[0]):
                client = PredictClient(address)
                client.predict(first)  # its channel connected before the clock starts
                return client.predict

            def in_process():
                return signature

            requests_of = {id(x): messages.encode_predict(1, {"sequential_input": x})
                           for x in batches}

            def echo(requests_of=requests_of):
                channel = grpc.insecure_channel(echo_address)
                call = channel.unary_unary("/bench.Echo/Echo", _registered_method=True)
                call(b"")
                return lambda array: call(requests_of[id(array)], timeout=30)

            modes = {  # mode -> (what a client calls, clients, requests per client)
                "served": (served, args.clients, requests),
                f"in-process x{args.clients}": (in_process, args.clients, requests),
                "in-process x1": (in_process, 1, requests * args.clients),
                "grpc echo": (echo, args.clients, requests),
            }
            # Rounds run every mode in turn, so all see the same background load; each figure
            # is the median over rounds, each ratio the median of the rounds' ratios.
            rounds = [{mode: run_clients(make_call, clients, n, batches)
                       for mode, (make_call, clients, n) in modes.items()}
                      for _ in range(args.rounds)]
            print(f"\nbatch {batch}: {requests} requests per client, median of {args.rounds} "
                  f"round(s)\n{header}")
            for mode in modes:
                row = {key: statistics.median(r[mode][key] for r in rounds)
                       for key in rounds[0][mode]}
                print(f"{batch:>5} {mode:<14} {row['requests_per_s']:>9.0f} "
                      f"{row['examples_per_s']:>11.0f} {row['p50_ms']:>8.3f} "
                      f"{row['p99_ms']:>8.3f}")
                results["rows"].append({"batch": batch, "mode": mode, **row})
            for mode in list(modes)[1:]:
                throughput, p50, p99 = (
                    statistics.median(r["served"][key] / r[mode][key] for r in rounds)
                    for key in ("requests_per_s", "p50_ms", "p99_ms"))
                print(f"      served / {mode}: throughput {throughput:.3f}x, p50 {p50:.1f}x, "
                      f"p99 {p99:.1f}x")
    finally:
        for server in (process, echo_process):
            server.terminate()
            server.wait(30)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
