"""`model.fit()` throughput against the hand-written NumPy training loop, in one process.

The model is seed 004's MLP: Dense(32, relu) -> Dense(32, relu) -> Dense(10), batch 64, Adam
(lr 1e-3), sparse categorical cross-entropy from logits, `verbose=0`, on MNIST (10k official
test images, re-split 8k/2k) from DTF_DATASETS_DIR.

  dtf        model.fit(x, y, batch_size=64, epochs=1, shuffle=True, verbose=0)
  reference  one epoch of the hand-written NumPy step of scripts/bench/train_step.py over the
             same arrays, shuffled each epoch the same way (a permutation and batch slices)

Each round runs one epoch of each back to back; the figure is samples per second, and the ratio
reported (dtf throughput / reference throughput) is the median of the rounds' ratios.

Target (issue 4): at least 0.8x the hand-written loop's throughput.

Usage: DTF_DATASETS_DIR=../shared/data python scripts/bench/fit.py [--repeat 7] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import train_step  # the reference step lives there

from dtf import keras

TARGET = 0.8
BATCH = 64


def load_arrays():
    directory = os.environ.get("DTF_DATASETS_DIR")
    if directory and os.path.exists(os.path.join(directory, "mnist.npz")):
        with np.load(os.path.join(directory, "mnist.npz")) as data:
            x, y = data["x_train"], data["y_train"]
        source = "MNIST (10k official test images, re-split 8k/2k)"
    else:
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, size=(8000, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=8000, dtype=np.uint8)
        source = "random images (DTF_DATASETS_DIR not set)"
    return x.reshape(-1, 784).astype("float32") / 255, y.astype("int64"), source


def run(repeat):
    x, y, source = load_arrays()
    model = keras.Sequential([
        keras.Input(shape=(784,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    reference = train_step.NumpyMLP(model.get_weights())
    rng = np.random.default_rng(0)
    n = len(x)

    def reference_epoch():
        order = rng.permutation(n)
        for start in range(0, n, BATCH):
            index = order[start:start + BATCH]
            reference.step(x[index], y[index])

    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)  # warm up
    reference_epoch()
    ours, refs, ratios = [], [], []
    for _ in range(repeat):
        start = time.perf_counter()
        reference_epoch()
        r = n / (time.perf_counter() - start)
        start = time.perf_counter()
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        o = n / (time.perf_counter() - start)
        refs.append(r)
        ours.append(o)
        ratios.append(o / r)
    final_loss = model.evaluate(x, y, batch_size=1024, verbose=0)
    return {"benchmark": "fit() of the MLP 784-32-32-10, batch 64, Adam", "data": source,
            "dtf_samples_per_s": statistics.median(ours),
            "reference": "hand-written NumPy loop",
            "reference_samples_per_s": statistics.median(refs),
            "ratio": statistics.median(ratios), "target": TARGET,
            "final_loss": float(final_loss)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", help="also write the row to this file")
    args = parser.parse_args(argv)
    row = run(args.repeat)
    print(f"dtf fit benchmark (python {sys.version.split()[0]}, numpy {np.__version__}); "
          f"data: {row['data']}")
    print(f"{row['benchmark']}: dtf {row['dtf_samples_per_s']:.0f} samples/s, NumPy "
          f"{row['reference_samples_per_s']:.0f} samples/s, ratio {row['ratio']:.2f}x "
          f"(target >= {TARGET}x); loss after training {row['final_loss']:.3f}")
    ok = row["ratio"] >= TARGET
    print("target met" if ok else "TARGET MISSED")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(row, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
