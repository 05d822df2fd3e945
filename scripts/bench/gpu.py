"""dtf on an NVIDIA GPU: training steps against PyTorch eager, and fused Adam against the
memory-bandwidth bound. One run prints one table.

  small MLP   the seeds' step: 784-32-32-10, batch 64, Adam (lr 1e-3), sparse categorical
              cross-entropy from logits. dtf compiled (`dtf.function`: a CUDA graph when the
              step can be captured) and dtf eager, against PyTorch's eager step (nn.Sequential,
              CrossEntropyLoss, torch.optim.Adam) on the same GPU.
  large MLP   784-4096-4096-10 at batch 4096, the same step: dtf compiled against PyTorch eager.
  Adam 100M   one Adam update of a 100M-parameter float32 variable: dtf's fused kernel
              (`dtf.kernels`, one pass) and the unfused rule (the NumPy formulas on CuPy, 8
              passes), against the bandwidth bound: the bytes the update must move (read var,
              grad, m, v; write var, m, v: 28 bytes a parameter) at the device-to-device copy
              bandwidth measured here (a 1 GiB `b[...] = a`, counted as read + write).

All models start from the same weights on the same (random, MNIST-shaped) batches; the script
checks that dtf's and PyTorch's first losses agree before timing. Times come from CUDA events
around a run of steps, after warm-up steps (which also let dtf capture its CUDA graph); each
figure is the median of `--repeat` runs. Float32 throughout, TF32 off on both sides.

Targets (issue 8): the small compiled step at least 2x faster than PyTorch eager; the large
MLP within 10% of PyTorch; fused Adam at least 70% of the bandwidth bound.

Usage (on a machine with a GPU, CuPy and PyTorch): python scripts/bench/gpu.py [--repeat 5]
    [--steps 50] [--json FILE]
Without CuPy or a device it says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

import numpy as np

TARGETS = {"small_speedup": 2.0, "large_ratio": 1.10, "adam_fraction": 0.70}
ADAM_PARAMS = 100_000_000
ADAM_BYTES_PER_PARAM = 7 * 4  # float32: read var, grad, m, v; write var, m, v


def gpu_or_exit():
    """The cupy module, or exit with a message saying what is missing."""
    try:
        import cupy
    except ImportError:
        raise SystemExit(_no_gpu("CuPy is not installed (pip install cupy-cuda12x)")) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # noqa: BLE001  (no driver, an old driver, no device: all say no)
        raise SystemExit(_no_gpu(f"CUDA reports no usable device ({e})")) from None
    if count < 1:
        raise SystemExit(_no_gpu("CUDA reports no device"))
    return cupy


def _no_gpu(reason):
    print(f"scripts/bench/gpu.py needs an NVIDIA GPU: {reason}. Nothing was measured.",
          file=sys.stderr)
    return 2


def time_steps(cupy, fn, steps, warmup):
    """Microseconds per call of `fn`, by CUDA events on the current stream, after `warmup`
    calls."""
    for _ in range(warmup):
        fn()
    cupy.cuda.get_current_stream().synchronize()
    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    start.record()
    for _ in range(steps):
        fn()
    end.record()
    end.synchronize()
    return cupy.cuda.get_elapsed_time(start, end) * 1e3 / steps


def make_batches(sizes, batch, count, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((count, batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], size=(count, batch)).astype(np.int64)
    return x, y


# -- dtf ----------------------------------------------------------------------------------------
def dtf_step(sizes):
    """(model, step): the seeds' training step for an MLP of `sizes` (train_step.py's, which
    imports dtf: so here, not at the top, where this script first checks for a GPU)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import train_step

    return train_step.make_dtf_step(sizes)


def torch_step(torch, weights):
    """The same step in PyTorch eager, from dtf's initial `weights` (kernels transposed)."""
    layers = []
    for i in range(0, len(weights), 2):
        w, b = weights[i], weights[i + 1]
        linear = torch.nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1]).cuda()
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)

    def step(x, y):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def compare_mlp(cupy, torch, sizes, batch, steps, repeat, eager):
    import dtf

    xs, ys = make_batches(sizes, batch, 4)
    with dtf.device("/GPU:0"):
        model, step = dtf_step(sizes)
        compiled = dtf.function(step)
        batches = [(dtf.constant(x), dtf.constant(y)) for x, y in zip(xs, ys)]
    weights = model.get_weights()
    t_step = torch_step(torch, weights)
    t_batches = [(torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()) for x, y in zip(xs, ys)]

    # same weights, same batch: the first losses agree (before any timing)
    ours = float(compiled(*batches[0]))
    theirs = float(t_step(*t_batches[0]))
    if not np.isclose(ours, theirs, rtol=1e-4, atol=1e-5):
        raise SystemExit(f"MLP {sizes}: dtf and PyTorch disagree on the first loss: {ours} vs "
                         f"{theirs}")

    def cycle(fn, data):
        state = {"i": 0}

        def call():
            fn(*data[state["i"] % len(data)])
            state["i"] += 1
        return call

    rows = {"compiled": [], "eager": [], "torch": []}
    eager_step = None
    if eager:
        with dtf.device("/GPU:0"):
            eager_model, eager_step = dtf_step(sizes)
            eager_model.set_weights(weights)
    for _ in range(repeat):
        rows["compiled"].append(time_steps(cupy, cycle(compiled, batches), steps, warmup=3))
        if eager_step is not None:
            rows["eager"].append(time_steps(cupy, cycle(eager_step, batches), steps, warmup=3))
        rows["torch"].append(time_steps(cupy, cycle(t_step, t_batches), steps, warmup=3))
    plan = compiled.get_concrete_function(*batches[0])._plan
    return {name: statistics.median(v) for name, v in rows.items() if v} | {
        "cuda_graph": dict(getattr(plan, "stats", {}) or {"captured": "n/a (no CUDA graphs)"})}


# -- Adam over 100M parameters ------------------------------------------------------------------
def copy_bandwidth(cupy, repeat):
    """Device-to-device bytes per second of a 1 GiB copy (read + write counted)."""
    n = (1 << 30) // 4
    a, b = cupy.ones(n, cupy.float32), cupy.empty(n, cupy.float32)

    def copy():
        b[...] = a
    times = [time_steps(cupy, copy, 10, warmup=2) for _ in range(repeat)]
    return 2 * n * 4 / (statistics.median(times) * 1e-6)


def adam_rates(cupy, repeat):
    from dtf import kernels
    from dtf.keras.optimizers import updates

    n = ADAM_PARAMS
    rng = cupy.random.default_rng(0)
    var, grad = rng.random(n, dtype=cupy.float32), rng.random(n, dtype=cupy.float32)
    m, v = cupy.zeros(n, cupy.float32), cupy.zeros(n, cupy.float32)
    alpha = updates.adam_step_size(np.float32, np.float32(1e-3), 1, 0.9, 0.999)
    fused_kernel = kernels.get("adam_update")

    def fused():
        fused_kernel(cupy, var, grad, (m, v), alpha, 0.9, 0.999, 1e-7, in_place=True)

    # the unfused rule: the NumPy formulas on CuPy arrays (the kernel lookup switched off)
    lookup = updates._fused
    updates._fused = lambda *args: None
    try:
        def unfused():
            updates.adam_update(cupy, var, grad, (m, v), alpha, 0.9, 0.999, 1e-7, in_place=True)
        # both compute the same numbers
        got = fused_kernel(cupy, var, grad, (m.copy(), v.copy()), alpha, 0.9, 0.999, 1e-7)[0]
        want = updates.adam_update(cupy, var, grad, (m.copy(), v.copy()), alpha, 0.9, 0.999,
                                   1e-7)[0]
        differ = int((got != want).sum())
        if differ:
            print(f"warning: the fused Adam kernel and the unfused rule differ in {differ} of "
                  f"{n} values (max {float(abs(got - want).max()):.3g})", file=sys.stderr)
        t_unfused = statistics.median(time_steps(cupy, unfused, 10, warmup=2)
                                      for _ in range(repeat))
    finally:
        updates._fused = lookup
    t_fused = statistics.median(time_steps(cupy, fused, 10, warmup=2) for _ in range(repeat))
    return t_fused, t_unfused


def run(steps, repeat):
    cupy = gpu_or_exit()
    try:
        import torch
    except ImportError:
        raise SystemExit("scripts/bench/gpu.py compares against PyTorch: install torch") from None
    import dtf

    if not dtf.config.list_physical_devices("GPU"):
        raise SystemExit(_no_gpu("dtf lists no GPU (its CuPy backend did not start)"))
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    dtf.keras.utils.set_random_seed(0)

    small = compare_mlp(cupy, torch, (784, 32, 32, 10), 64, steps, repeat, eager=True)
    large = compare_mlp(cupy, torch, (784, 4096, 4096, 10), 4096, max(steps // 5, 5), repeat,
                        eager=False)
    bandwidth = copy_bandwidth(cupy, repeat)
    t_fused, t_unfused = adam_rates(cupy, repeat)
    bound_us = ADAM_PARAMS * ADAM_BYTES_PER_PARAM / bandwidth * 1e6
    props = cupy.cuda.runtime.getDeviceProperties(0)
    return {
        "device": props["name"].decode() if isinstance(props["name"], bytes) else props["name"],
        "small": small, "large": large,
        "small_speedup": small["torch"] / small["compiled"],
        "small_eager_speedup": small["torch"] / small["eager"],
        "large_ratio": large["compiled"] / large["torch"],
        "copy_bandwidth_gbs": bandwidth / 1e9,
        "adam_fused_us": t_fused, "adam_unfused_us": t_unfused, "adam_bound_us": bound_us,
        "adam_fraction": bound_us / t_fused, "adam_fused_speedup": t_unfused / t_fused,
        "targets": TARGETS,
    }


def _line(label, ours, theirs=None, ratio="", note=""):
    theirs = "" if theirs is None else f"{theirs:.1f}"
    return f"{label:<44}{ours:>14.1f}{theirs:>14}{ratio:>10}  {note}"


def report(row):
    s, big = row["small"], row["large"]
    bound = (f"bandwidth bound: {ADAM_BYTES_PER_PARAM} B/param at "
             f"{row['copy_bandwidth_gbs']:.0f} GB/s (1 GiB device copy) = "
             f"{row['adam_bound_us']:.0f} us")
    lines = [
        f"dtf GPU benchmark on {row['device']} (CUDA events, medians)",
        f"{'benchmark':<44}{'dtf':>14}{'PyTorch':>14}{'ratio':>10}  target",
        _line("small MLP step, compiled (us/step)", s["compiled"], s["torch"],
              f"{row['small_speedup']:.2f}x", f">= {TARGETS['small_speedup']:.1f}x faster"),
        _line("small MLP step, eager (us/step)", s["eager"], s["torch"],
              f"{row['small_eager_speedup']:.2f}x"),
        _line("784-4096-4096-10 @4096, compiled (us/step)", big["compiled"], big["torch"],
              f"{row['large_ratio']:.2f}x", f"<= {TARGETS['large_ratio']:.2f}x the time"),
        _line("Adam 100M params, fused (us)", row["adam_fused_us"], None,
              f"{row['adam_fraction']:.0%}", f">= {TARGETS['adam_fraction']:.0%} of the bound"),
        _line("Adam 100M params, unfused (us)", row["adam_unfused_us"], None,
              f"{row['adam_fused_speedup']:.2f}x", "(the fused kernel's speedup)"),
        bound,
        f"CUDA graph of the small compiled step: {s['cuda_graph']}",
        f"CUDA graph of the large compiled step: {big['cuda_graph']}",
    ]
    met = {"small_speedup": row["small_speedup"] >= TARGETS["small_speedup"],
           "large_ratio": row["large_ratio"] <= TARGETS["large_ratio"],
           "adam_fraction": row["adam_fraction"] >= TARGETS["adam_fraction"]}
    lines.append("targets: " + ", ".join(f"{k} {'met' if ok else 'MISSED'}"
                                         for k, ok in met.items()))
    return "\n".join(lines), all(met.values())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    row = run(args.steps, args.repeat)
    text, ok = report(row)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(row, f, indent=2, default=str)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
