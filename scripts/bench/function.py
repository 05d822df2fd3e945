"""The seeds' MLP training step compiled with dtf.function, against eager dtf and NumPy by hand.

Two configurations, each on MNIST (10k official test images, re-split 8k/2k) from
DTF_DATASETS_DIR, Adam (lr 1e-3), sparse categorical cross-entropy from logits:

  small  784-32-32-10, batch 64 (seed 004's MLP)
  large  784-256-256-10, batch 128

  compiled   `dtf.function` of the seeds' step: keras.Sequential + GradientTape + loss_fn +
             optimizer.apply_gradients
  eager      the same step, not compiled
  reference  the hand-written NumPy step of scripts/bench/train_step.py (`NumpyMLP`): forward,
             backward and Adam on plain arrays

All three start from the same weights on the same batches; the script checks that their losses
agree before timing. Each round times the three back to back over the same batches; the ratios
reported are the medians of the rounds' ratios (these machines are noisy). Speed is reported as
reference time / compiled time (above 1: the compiled step is faster). Peak memory per step is
measured with tracemalloc (which sees NumPy's buffers), as the peak above the memory held before
the step, compiled against the reference.

Targets (issue 5): compiled small step >= 1.0x the NumPy step's speed, large >= 0.95x; compiled
peak memory <= 1.5x the NumPy step's.

Usage: DTF_DATASETS_DIR=../shared/data python scripts/bench/function.py [--repeat 15]
           [--steps 40] [--only small|large] [--json FILE]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import train_step  # the reference NumPy step and the data

import dtf

CONFIGS = {"small": ((784, 32, 32, 10), 64), "large": ((784, 256, 256, 10), 128)}
SPEED_TARGETS = {"small": 1.0, "large": 0.95}
MEMORY_TARGET = 1.5


def load_batches(n_batches, batch):
    """`n_batches` batches of `batch` rows, from train_step's batches of 64."""
    per = batch // train_step.BATCH
    small, source = train_step.load_batches(n_batches * per)
    batches = []
    for i in range(n_batches):
        parts = small[i * per:(i + 1) * per]
        batches.append((np.concatenate([x for x, _ in parts]),
                        np.concatenate([y for _, y in parts])))
    return batches, source


def _time_per_step(step, batches):
    start = time.perf_counter()
    for x, y in batches:
        step(x, y)
    return (time.perf_counter() - start) / len(batches) * 1e6


def _peak_bytes(step, batches):
    """The largest tracemalloc peak of one step above the memory held before it."""
    peaks = []
    tracemalloc.start()
    try:
        for x, y in batches:
            gc.collect()
            tracemalloc.reset_peak()
            held = tracemalloc.get_traced_memory()[0]
            step(x, y)
            peaks.append(tracemalloc.get_traced_memory()[1] - held)
    finally:
        tracemalloc.stop()
    return max(peaks)


def run(name, repeat, steps):
    sizes, batch = CONFIGS[name]
    batches, source = load_batches(steps, batch)
    tensor_batches = [(dtf.constant(x), dtf.constant(y)) for x, y in batches]
    eager_model, eager_step = train_step.make_dtf_step(sizes)
    compiled_model, step = train_step.make_dtf_step(sizes)
    compiled_model.set_weights(eager_model.get_weights())
    compiled_step = dtf.function(step)
    reference = train_step.NumpyMLP(eager_model.get_weights())

    # All three start from the same weights: their losses must agree step by step.
    for (x, y), (tx, ty) in zip(batches[:5], tensor_batches[:5]):
        ref_loss = reference.step(x, y)
        losses = float(eager_step(tx, ty)), float(compiled_step(tx, ty))
        if not np.allclose(losses, ref_loss, rtol=1e-4, atol=1e-5):
            raise SystemExit(f"{name}: losses disagree: NumPy {ref_loss}, eager {losses[0]}, "
                             f"compiled {losses[1]}")

    rows = {"reference": [], "eager": [], "compiled": []}
    speed, speedup = [], []
    for _ in range(repeat):
        r = _time_per_step(reference.step, batches)
        e = _time_per_step(eager_step, tensor_batches)
        c = _time_per_step(compiled_step, tensor_batches)
        rows["reference"].append(r)
        rows["eager"].append(e)
        rows["compiled"].append(c)
        speed.append(r / c)
        speedup.append(e / c)

    few = batches[:5]
    memory = {"reference": _peak_bytes(reference.step, few),
              "compiled": _peak_bytes(compiled_step, tensor_batches[:5])}
    concrete = compiled_step.get_concrete_function(*tensor_batches[0])
    return {
        "benchmark": f"MLP train step {'-'.join(map(str, sizes))}, batch {batch}, Adam",
        "config": name, "data": source,
        "compiled_us": statistics.median(rows["compiled"]),
        "eager_us": statistics.median(rows["eager"]),
        "reference_us": statistics.median(rows["reference"]),
        "speed_vs_numpy": statistics.median(speed),
        "speed_target": SPEED_TARGETS[name],
        "compiled_over_eager_speedup": statistics.median(speedup),
        "peak_bytes_compiled": memory["compiled"],
        "peak_bytes_reference": memory["reference"],
        "memory_ratio": memory["compiled"] / memory["reference"],
        "memory_target": MEMORY_TARGET,
        "graph_nodes": len(concrete.graph.nodes),
        "tracing_count": compiled_step.experimental_get_tracing_count(),
    }


def _met(row):
    return row["speed_vs_numpy"] >= row["speed_target"] and \
        row["memory_ratio"] <= row["memory_target"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--only", choices=sorted(CONFIGS))
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    names = [args.only] if args.only else list(CONFIGS)
    rows = [run(name, args.repeat, args.steps) for name in names]
    print(f"dtf.function benchmark (python {sys.version.split()[0]}, numpy {np.__version__}); "
          f"data: {rows[0]['data']}")
    for row in rows:
        print(f"{row['benchmark']}: compiled {row['compiled_us']:.0f} us/step, eager "
              f"{row['eager_us']:.0f}, NumPy {row['reference_us']:.0f}; speed vs NumPy "
              f"{row['speed_vs_numpy']:.2f}x (target >= {row['speed_target']}x), compiled/eager "
              f"{row['compiled_over_eager_speedup']:.2f}x faster; peak memory per step "
              f"{row['peak_bytes_compiled'] / 1024:.0f} KiB vs NumPy "
              f"{row['peak_bytes_reference'] / 1024:.0f} KiB = {row['memory_ratio']:.2f}x "
              f"(target <= {row['memory_target']}x)")
    ok = all(_met(row) for row in rows)
    print("targets met" if ok else "TARGET MISSED")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
