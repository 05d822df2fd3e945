"""Parameter-server training on an embedded local Ray: throughput, scaling and the PS's memory.

One run measures (issue 6, item 10):

(b) steps/s of `model.fit` under `dtf.distribute.ParameterServerStrategy` for the seeds' MNIST
    MLP (784-32(relu)-32(relu)-10, Adam 1e-3, sparse categorical cross-entropy from logits,
    batch 64, `shuffle=False`, `verbose=0`), sync and async, 1 and 2 workers, one PS, Ray
    transport, against the single-process compiled step (`model.fit` without a strategy) timed
    in the same rounds: the ratio is the median of the rounds' ratios. The time breakdown is
    the median per step of what `history.steps` records (pull, compute, push, wait: the
    slowest worker's; driver_wait: the driver waiting for the step's results).
(c) scaling with a synthetic 20 ms of compute per step: the same MLP with a `py_function`
    that sleeps 20 ms on a branch that leaves the result unchanged (`h + 0-valued py_function`
    after the first Dense). Each worker's shard is 64 rows, so N workers train a global batch
    of 64 N; the figure is samples/s with 4 workers over samples/s with 1 worker (median of
    paired rounds, both strategies warm). Targets: async >= 3.6x, sync >= 3.2x. The CPU
    time each role used per step (from /proc: the PS, all workers, this driver, Ray's raylet)
    shows whether the machine's cores, rather than the 20 ms, bound the step.
(d) the PS's memory: a model of ~42 MB of float32 variables (2048-4096(relu)-512(relu)-10,
    Adam) trained for some steps by N workers (async: every worker's gradient may be in the
    server at once). The PS process's resident memory growth (VmRSS / peak VmHWM from
    /proc, private and shared pages) from before the model's variables arrive to after
    training, against variables + optimizer slots + one gradient buffer per worker (from the
    server's `stats()`). Target: peak growth <= that budget.

MNIST is `keras.datasets.mnist.load_data()` (DTF_DATASETS_DIR, default ../shared/data beside
the checkout: the 10k official test images, re-split 8k/2k); without it, random images.
OPENBLAS_NUM_THREADS=1 is set for every process (the machine's cores are shared).

Usage: python scripts/bench/distributed.py [--quick] [--rounds 5] [--transport ray|grpc|auto]
       [--ray-inline-bytes 1048576] [--steps-per-execution 1] [--parts bcd] [--json FILE]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads, inherited by actors
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")

import argparse
import json
import statistics
import sys
import time

import numpy as np

SCALING_TARGETS = {"async": 3.6, "sync": 3.2}
SLEEP_S = 0.020
BATCH = 64
_MIRROR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared",
                       "data")


# -- set-up ------------------------------------------------------------------------------------
def start_ray(num_cpus, inline_bytes=None):
    """An embedded local Ray, started here so that its start-up is not in any figure.
    `inline_bytes`: Ray's `max_direct_call_object_size` (arguments and results up to this size
    travel inside the call's message instead of through the object store; Ray's default is
    100 KiB)."""
    import ray

    if __name__ != "__main__":  # imported: workers cannot import this script's functions
        from ray import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])
    started = time.perf_counter()
    system = {} if inline_bytes is None else {
        "_system_config": {"max_direct_call_object_size": int(inline_bytes)}}
    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=True, namespace="dtf",
             runtime_env={"env_vars": {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}},
             **system)
    return time.perf_counter() - started


def load_mnist():
    from dtf import keras

    if "DTF_DATASETS_DIR" not in os.environ and os.path.exists(os.path.join(_MIRROR,
                                                                            "mnist.npz")):
        os.environ["DTF_DATASETS_DIR"] = os.path.abspath(_MIRROR)
    try:
        (x, y), _ = keras.datasets.mnist.load_data()
        source = "MNIST (10k official test images, re-split 8k/2k)"
    except Exception as e:  # noqa: BLE001 - no mirror, no network: timing needs no pixels
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, size=(8000, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=8000, dtype=np.uint8)
        source = f"random images (MNIST unavailable: {type(e).__name__})"
    return x.reshape(-1, 784).astype("float32") / 255, y.astype("int64"), source


def _sleep_20ms(t):
    time.sleep(SLEEP_S)
    return np.float32(0.0)


def _synthetic_compute(h):
    """`h` unchanged, after 20 ms of 'compute' in a py_function that runs every step."""
    import dtf
    from dtf.ops.py_func_ops import py_function

    return h + dtf.ensure_shape(py_function(_sleep_20ms, [h], dtf.float32), [])


STEPS_PER_EXECUTION = [1]  # --steps-per-execution


def mlp(sleep=False):
    """The seeds' MNIST MLP (scripts/examples/mnist_mlp.py), optionally with the 20 ms
    branch."""
    from dtf import keras

    layers = [keras.Input((784,)), keras.layers.Dense(32, activation="relu")]
    if sleep:
        layers.append(keras.layers.Lambda(_synthetic_compute))
    layers += [keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)]
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=STEPS_PER_EXECUTION[0])
    return model


def big_model(width_in=2048):
    """~42 MB of float32 variables: 2048-4096(relu)-512(relu)-10 with biases."""
    from dtf import keras

    model = keras.Sequential([keras.Input((width_in,)),
                              keras.layers.Dense(4096, activation="relu"),
                              keras.layers.Dense(512, activation="relu"),
                              keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


TRANSPORT = ["auto"]  # --transport (the strategy's default)


def strategy_for(num_workers, mode):
    import dtf

    return dtf.distribute.ParameterServerStrategy(num_workers=num_workers, mode=mode,
                                                  cluster="ray", transport=TRANSPORT[0])


def transport_used(strategy):
    """What carried the parameters: the transport, and for "auto" the size it chose by."""
    routing = getattr(strategy, "_auto_routing", None)
    if strategy.transport != "auto" or routing is None:
        return strategy.transport
    return f"auto: {routing}"


def take_rows(x, y, rows):
    """The first `rows` rows, the data repeated when it has fewer."""
    index = np.arange(rows) % len(x)
    return x[index], y[index]


def timed_fit(model, x, y, batch_size):
    """`(seconds, history)` of one epoch of `model.fit` over `x`."""
    started = time.perf_counter()
    history = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return time.perf_counter() - started, history


def breakdown(history):
    """Median per step, in ms, of the recorded timings (the first step of a fit excluded:
    it fills the pipeline)."""
    steps = history.steps[1:] or history.steps
    keys = ("pull", "compute", "push", "wait", "driver_wait")
    return {k: 1000 * statistics.median(s[k] for s in steps) for k in keys}


def _fmt_breakdown(parts):
    return " ".join(f"{k} {v:5.2f}" for k, v in parts.items())


# -- (b) MNIST MLP steps/s against one process --------------------------------------------------
def bench_mlp(x, y, rounds, steps, warm_steps):
    x, y = take_rows(x, y, steps * BATCH)
    single = mlp()
    single.fit(x[:warm_steps * BATCH], y[:warm_steps * BATCH], batch_size=BATCH, epochs=1,
               shuffle=False, verbose=0)
    configs = [(mode, workers) for mode in ("sync", "async") for workers in (1, 2)]
    results = {}
    for mode, workers in configs:
        strategy = strategy_for(workers, mode)
        try:
            with strategy.scope():
                model = mlp()
            model.fit(x[:warm_steps * BATCH], y[:warm_steps * BATCH], batch_size=BATCH,
                      epochs=1, shuffle=False, verbose=0)  # starts the actors, traces the steps
            ratios, rates, single_rates, parts = [], [], [], []
            for _ in range(rounds):
                seconds_single, _ = timed_fit(single, x, y, BATCH)
                seconds, history = timed_fit(model, x, y, BATCH)
                rates.append(steps / seconds)
                single_rates.append(steps / seconds_single)
                ratios.append(seconds_single / seconds)
                parts.append(breakdown(history))
            results[f"{mode}/{workers}"] = {
                "transport": transport_used(strategy),
                "steps_per_s": statistics.median(rates),
                "single_steps_per_s": statistics.median(single_rates),
                "ratio": statistics.median(ratios),
                "breakdown_ms": {k: statistics.median(p[k] for p in parts) for k in parts[0]},
                "bytes_per_step": {
                    "pulled": float(np.sum(history.timing["bytes_pulled"])) / steps,
                    "pushed": float(np.sum(history.timing["bytes_pushed"])) / steps}}
        finally:
            strategy.shutdown()
        r = results[f"{mode}/{workers}"]
        print(f"  {mode:5s} {workers} worker{'s' if workers > 1 else ' '}: "
              f"{r['steps_per_s']:7.1f} steps/s vs one process {r['single_steps_per_s']:7.1f}"
              f" = {r['ratio']:.4f}x | per step (ms): {_fmt_breakdown(r['breakdown_ms'])}"
              f" | {r['transport']}", flush=True)
    return results


# -- (c) scaling with 20 ms of compute per step ------------------------------------------------
def _cpu_seconds(pid):
    """User + system CPU time of process `pid` (Linux /proc), 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _raylet_pids():
    """The raylet(s) of this driver's Ray session (other Ray clusters on the machine, and
    raylets that come and go with them, are not ours to count)."""
    from ray._private import worker as ray_worker

    session = ray_worker._global_node.get_session_dir_path() + "/"
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() != "raylet":
                        continue
                with open(f"/proc/{entry}/cmdline") as f:
                    if session in f.read():
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def cpu_by_role(strategy):
    """`{role: [pids]}` of the processes a fit under `strategy` keeps busy: the parameter
    server(s), the workers, this driver and Ray's raylet (which moves objects of over 100 KiB
    through the shared-memory object store)."""
    roles = {"ps": [], "workers": [], "driver": [os.getpid()], "raylet": _raylet_pids()}
    for actor in strategy.cluster_info():
        roles["ps" if actor["role"] == "ps" else "workers"].append(actor["pid"])
    return roles


def _cpu_snapshot(roles):
    return {role: sum(_cpu_seconds(p) for p in pids) for role, pids in roles.items()}


def bench_scaling(x, y, rounds, steps, warm_steps, workers=4):
    results = {}
    for mode in ("async", "sync"):
        runs = {}
        try:
            for n in (1, workers):
                strategy = strategy_for(n, mode)
                with strategy.scope():
                    model = mlp(sleep=True)
                batch = BATCH * n
                model.fit(*take_rows(x, y, warm_steps * batch), batch_size=batch, epochs=1,
                          shuffle=False, verbose=0)
                runs[n] = (strategy, model, batch, take_rows(x, y, steps * batch),
                           cpu_by_role(strategy))
            carried = {n: transport_used(runs[n][0]) for n in runs}
            ratios, rates, parts = [], {1: [], workers: []}, {1: [], workers: []}
            cpu = {1: [], workers: []}
            for r in range(rounds):
                order = (1, workers) if r % 2 == 0 else (workers, 1)  # paired, alternated
                seconds = {}
                for n in order:
                    _, model, batch, (xs, ys), roles = runs[n]
                    cpu_before = _cpu_snapshot(roles)
                    seconds[n], history = timed_fit(model, xs, ys, batch)
                    cpu_after = _cpu_snapshot(roles)
                    cpu[n].append({role: 1000 * (cpu_after[role] - cpu_before[role]) / steps
                                   for role in roles})
                    assert len(history.steps) == steps, "a fit ran fewer steps than counted"
                    rates[n].append(steps * batch / seconds[n])
                    parts[n].append(breakdown(history))
                ratios.append((steps * runs[workers][2] / seconds[workers]) /
                              (steps * runs[1][2] / seconds[1]))
        finally:
            for strategy, *_ in runs.values():
                strategy.shutdown()
        ratio = statistics.median(ratios)
        target = SCALING_TARGETS[mode]
        results[mode] = {
            "transport": {str(n): t for n, t in carried.items()},
            "samples_per_s": {str(n): statistics.median(v) for n, v in rates.items()},
            "ratio": ratio, "ratios": ratios, "target": target, "pass": ratio >= target,
            "breakdown_ms": {str(n): {k: statistics.median(p[k] for p in v) for k in v[0]}
                             for n, v in parts.items()},
            "cpu_ms_per_step": {str(n): {k: statistics.median(c[k] for c in v) for k in v[0]}
                                for n, v in cpu.items()}}
        res = results[mode]
        for n in (1, workers):
            used = res["cpu_ms_per_step"][str(n)]
            print(f"  {mode:5s} {n} worker{'s' if n > 1 else ' '}: "
                  f"{res['samples_per_s'][str(n)]:7.0f} samples/s | per step (ms): "
                  f"{_fmt_breakdown(res['breakdown_ms'][str(n)])}\n"
                  f"{'':17s}CPU per step (ms): {_fmt_breakdown(used)} = "
                  f"{sum(used.values()):.1f} on {os.cpu_count()} cores | "
                  f"{res['transport'][str(n)]}", flush=True)
        print(f"  {mode:5s} scaling {workers} vs 1 worker: {ratio:.2f}x (rounds: "
              f"{', '.join(f'{v:.2f}' for v in ratios)}), target >= {target}x: "
              f"{'PASS' if ratio >= target else 'MISS'}", flush=True)
    return results


# -- (d) the PS's memory -------------------------------------------------------------------------
def process_memory(pid):
    """Resident memory of process `pid` in bytes, from /proc (Linux): rss, peak (VmHWM), private
    (anonymous pages: the process's own arrays) and shared (file and shared-memory pages, such
    as Ray's object store mapped in to read arguments and write results)."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                fields[key] = int(value.split()[0]) * 1024
    return {"rss": fields["VmRSS"], "peak": fields["VmHWM"], "private": fields["RssAnon"],
            "shared": fields["RssFile"] + fields["RssShmem"]}


class _Sampler:
    """Polls a process's memory every `interval_s` in a thread: the peak of its private pages
    (the kernel keeps a peak only for the whole RSS)."""

    def __init__(self, pid, interval_s=0.002):
        import threading

        self.pid = pid
        self.interval_s = interval_s
        self.peak_private = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak_private = max(self.peak_private, process_memory(self.pid)["private"])
            self._stop.wait(self.interval_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def bench_memory(workers, steps, mode):
    import dtf

    strategy = strategy_for(workers, mode)
    try:
        with strategy.scope():
            anchor = dtf.Variable(0.0, name="anchor")  # starts the actors with ~nothing hosted
            model = big_model()
        strategy._job.host([anchor])
        server = strategy._job.servers[0]
        pid = next(a["pid"] for a in strategy.cluster_info() if a["role"] == "ps")
        before = process_memory(pid)
        rng = np.random.default_rng(0)
        rows = steps * BATCH * workers
        x = rng.standard_normal((rows, 2048), dtype=np.float32)
        y = rng.integers(0, 10, rows)
        with _Sampler(pid) as sampler:
            started = time.perf_counter()
            model.fit(x, y, batch_size=BATCH * workers, epochs=1, shuffle=False, verbose=0)
            seconds = time.perf_counter() - started
        after = process_memory(pid)
        stats = server.call("stats").result(60)
        carried = transport_used(strategy)
    finally:
        strategy.shutdown()
    trainable = sum(int(np.prod(w.shape)) * 4 for w in model.trainable_weights)
    budget = stats["variable_bytes"] + stats["slot_bytes"] + workers * trainable
    growth = {k: after[k] - before[k] for k in ("rss", "peak", "private", "shared")}
    growth["peak_private"] = sampler.peak_private - before["private"]
    ratio = growth["peak_private"] / budget
    mb = 1 / 2**20
    print(f"  {mode:5s} {workers} workers, {steps} steps ({steps / seconds:.1f} steps/s): "
          f"variables {stats['variable_bytes'] * mb:.1f} MB + slots "
          f"{stats['slot_bytes'] * mb:.1f} MB + {workers} x gradient {trainable * mb:.1f} MB = "
          f"budget {budget * mb:.1f} MB | {carried}", flush=True)
    print(f"        PS process RSS {before['rss'] * mb:.0f} -> {after['rss'] * mb:.0f} MB; "
          f"growth: private {growth['private'] * mb:.1f} MB (peak {growth['peak_private'] * mb:.1f}"
          f"), shared object-store pages {growth['shared'] * mb:.1f} MB, whole RSS peak "
          f"{growth['peak'] * mb:.1f} MB ({growth['peak'] / budget:.2f}x budget)", flush=True)
    print(f"        private peak growth = {ratio:.2f}x budget: "
          f"{'PASS' if ratio <= 1.0 else 'MISS'}", flush=True)
    return {"workers": workers, "mode": mode, "steps": steps, "transport": carried,
            "before": before, "after": after,
            "growth": growth, "budget": budget, "stats_bytes": {
                k: stats[k] for k in ("variable_bytes", "slot_bytes", "pending_bytes")},
            "ratio": ratio, "pass": ratio <= 1.0}


# -- main ------------------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (about a minute)")
    parser.add_argument("--rounds", type=int, default=None, help="paired rounds per figure")
    parser.add_argument("--num-cpus", type=int, default=8,
                        help="Ray's logical CPUs (actors hold none while running)")
    parser.add_argument("--transport", default="auto", choices=("ray", "grpc", "auto"),
                        help="how parameters and gradients move (the strategy's transport; "
                        "default auto, the strategy's own default: measured at start)")
    parser.add_argument("--ray-inline-bytes", type=int, default=1 << 20,
                        help="Ray's max_direct_call_object_size (default 1 MiB, what dtf's "
                             "embedded Ray uses; Ray's own default is 100 KiB)")
    parser.add_argument("--steps-per-execution", type=int, default=1,
                        help="the models' compile(steps_per_execution=): steps per worker call")
    parser.add_argument("--parts", default="bcd", help="which figures: any of b, c, d")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    TRANSPORT[0] = args.transport
    STEPS_PER_EXECUTION[0] = args.steps_per_execution
    quick = args.quick
    rounds = args.rounds or (1 if quick else 5)

    x, y, source = load_mnist()
    ray_s = start_ray(args.num_cpus, args.ray_inline_bytes)
    import dtf

    print(f"dtf {dtf.__version__}, Ray embedded ({args.num_cpus} logical CPUs, started in "
          f"{ray_s:.1f} s), {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}, one PS, transport={args.transport!r}, Ray inline limit "
          f"{args.ray_inline_bytes or 'default'}, data: {source}", flush=True)
    out = {"source": source, "rounds": rounds, "quick": quick, "transport": args.transport}
    if "b" in args.parts:
        steps_b = 40 if quick else 125
        print(f"(b) MNIST MLP, batch {BATCH}, {steps_b} steps per fit, {rounds} round(s):")
        out["mlp"] = bench_mlp(x, y, rounds, steps_b, warm_steps=4)
    if "c" in args.parts:
        steps_c = 25 if quick else 60
        print(f"(c) scaling, 20 ms py_function per step, 64 rows per worker, {steps_c} steps, "
              f"{rounds} paired round(s):")
        out["scaling"] = bench_scaling(x, y, rounds, steps_c, warm_steps=3)
    if "d" in args.parts:
        print("(d) parameter-server memory:")
        out["memory"] = {mode: bench_memory(workers=2 if quick else 4,
                                            steps=4 if quick else 10, mode=mode)
                         for mode in ("async", "sync")}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return out


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - started:.0f} s", file=sys.stderr)
