"""The seeds' input pipeline: dtf.data against plain NumPy loops, in batches per second.

The pipeline is seed 004's, `Dataset.from_tensor_slices((x, y)).shuffle(1024).batch(64)`,
iterated for whole epochs over MNIST (10k official test images, re-split 8k/2k: the 8,000
training images, flattened to 784 float32) from DTF_DATASETS_DIR (random images otherwise).

  dtf            the pipeline above; every batch is a pair of dtf Tensors
  numpy buffer   the same work by hand: TensorFlow's shuffle-buffer algorithm (the ring of
                 1024 slots, written plainly with NumPy draws) on indices, then one fancy
                 index per batch and array
  numpy perm     the least a shuffled epoch can cost: `rng.permutation` and fancy indexing
                 (a uniform shuffle, not TensorFlow's buffer semantics)
  dtf map        `.map(lambda x, y: (x, y))` before the shuffle: the element-by-element path
                 (a map cannot be gathered), for scale

Each round times the references and dtf back to back; the ratio reported is the median of the
rounds' throughput ratios dtf / reference (these machines switch speed mid-run).
Target (brief): the pipeline costs about what the hand-written loop costs (ratio near 1).

Usage: DTF_DATASETS_DIR=../shared/data python scripts/bench/data.py [--repeat 15]
           [--epochs 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

import dtf

BATCH = 64
BUFFER = 1024


def load():
    directory = os.environ.get("DTF_DATASETS_DIR")
    if directory and os.path.exists(os.path.join(directory, "mnist.npz")):
        with np.load(os.path.join(directory, "mnist.npz")) as data:
            x, y = data["x_train"], data["y_train"]
        source = "MNIST (10k official test images, re-split 8k/2k), 8000 training images"
    else:
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, size=(8000, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=8000, dtype=np.uint8)
        source = "8000 random images (DTF_DATASETS_DIR not set)"
    return x.reshape(len(x), 784).astype("float32") / 255, y, source


def buffer_shuffle_indices(n, buffer_size, rng):
    """TensorFlow's shuffle buffer over 0..n-1, written plainly: fill a ring of slots, emit a
    uniformly drawn occupied slot, move the oldest element into it, refill the oldest slot."""
    b = min(buffer_size, n)
    draws = rng.random(n).tolist()
    ring = list(range(b))
    out = []
    for t in range(n):
        head = t % b
        j = (head + int(draws[t] * min(b, n - t))) % b
        out.append(ring[j])
        ring[j] = ring[head]
        if t + b < n:
            ring[head] = t + b
    return np.array(out)


def numpy_buffer_epoch(x, y, rng):
    order = buffer_shuffle_indices(len(x), BUFFER, rng)
    n = 0
    for s in range(0, len(x), BATCH):
        idx = order[s:s + BATCH]
        x[idx], y[idx]  # the batch, gathered as the pipeline gathers it
        n += 1
    return n


def numpy_perm_epoch(x, y, rng):
    order = rng.permutation(len(x))
    n = 0
    for s in range(0, len(x), BATCH):
        idx = order[s:s + BATCH]
        x[idx], y[idx]  # the batch, gathered as the pipeline gathers it
        n += 1
    return n


def dtf_epoch(ds):
    n = 0
    for xb, yb in ds:
        n += 1
    return n


def _time(fn, epochs):
    start = time.perf_counter()
    batches = 0
    for _ in range(epochs):
        batches += fn()
    return batches / (time.perf_counter() - start)


def run(repeat, epochs):
    x, y, source = load()
    rng = np.random.default_rng(0)
    pipeline = dtf.data.Dataset.from_tensor_slices((x, y)).shuffle(BUFFER).batch(BATCH)
    mapped = dtf.data.Dataset.from_tensor_slices((x, y)).map(lambda a, b: (a, b)) \
        .shuffle(BUFFER).batch(BATCH)

    # sanity: every epoch yields each image once, in batches of 64
    seen = np.concatenate([b.numpy() for _, b in pipeline])
    assert np.array_equal(np.sort(seen), np.sort(y)) and len(seen) == len(x)

    cases = {
        "dtf": lambda: dtf_epoch(pipeline),
        "numpy buffer": lambda: numpy_buffer_epoch(x, y, rng),
        "numpy perm": lambda: numpy_perm_epoch(x, y, rng),
        "dtf map": lambda: dtf_epoch(mapped),
    }
    for fn in cases.values():
        fn()  # warm up
    rates = {name: [] for name in cases}
    ratios = {"numpy buffer": [], "numpy perm": []}
    for _ in range(repeat):
        round_rates = {name: _time(fn, epochs if name != "dtf map" else 1)
                       for name, fn in cases.items()}
        for name, r in round_rates.items():
            rates[name].append(r)
        for ref, values in ratios.items():
            values.append(round_rates["dtf"] / round_rates[ref])
    med = {name: statistics.median(v) for name, v in rates.items()}
    rows = [
        {"benchmark": "shuffle(1024).batch(64)", "dtf_batches_per_s": med["dtf"],
         "reference": ref, "reference_batches_per_s": med[ref],
         "throughput_ratio": statistics.median(ratios[ref])}
        for ref in ratios
    ]
    rows.append({"benchmark": "map, shuffle(1024).batch(64)",
                 "dtf_batches_per_s": med["dtf map"], "reference": "numpy buffer",
                 "reference_batches_per_s": med["numpy buffer"],
                 "throughput_ratio": med["dtf map"] / med["numpy buffer"]})
    return rows, source


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per timing")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    rows, source = run(args.repeat, args.epochs)
    print(f"dtf.data benchmark on {source} "
          f"(python {sys.version.split()[0]}, numpy {np.__version__})")
    print(f"{'pipeline':<30} {'dtf (batch/s)':>14} {'reference':<13} {'ref (batch/s)':>14} "
          f"{'dtf/ref':>8}")
    for r in rows:
        print(f"{r['benchmark']:<30} {r['dtf_batches_per_s']:>14.0f} {r['reference']:<13} "
              f"{r['reference_batches_per_s']:>14.0f} {r['throughput_ratio']:>7.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
