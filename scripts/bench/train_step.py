"""One eager training step of the seeds' MLP: dtf against a hand-written NumPy step.

The model is seed 004's: Dense(32, relu) -> Dense(32, relu) -> Dense(10), batch 64, Adam
(lr 1e-3), sparse categorical cross-entropy from logits, on MNIST (10k official test images,
re-split 8k/2k) from DTF_DATASETS_DIR.

  dtf        keras.Sequential + GradientTape + loss_fn + optimizer.apply_gradients
  reference  the same step written by hand in NumPy: forward, backward and Adam on plain arrays

Both train from the same initial weights on the same batches; the script checks that their
losses agree before timing. Each round times the reference and dtf back to back over the same
batches, and the ratio reported is the median of the rounds' ratios (these machines are noisy).

Target (issue 3): the dtf step costs at most 2x the NumPy step.

Usage: DTF_DATASETS_DIR=../shared/data python scripts/bench/train_step.py [--repeat 15]
           [--steps 50] [--json FILE]
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
from dtf import keras

TARGET = 2.0
BATCH = 64
SIZES = (784, 32, 32, 10)


def load_batches(n_batches):
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
    x = x.reshape(-1, 784).astype("float32") / 255
    y = y.astype("int64")
    batches = [(x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH])
               for i in range(n_batches)]
    return batches, source


class NumpyMLP:
    """The reference: the seeds' MLP, its backward pass and Adam, by hand in NumPy."""

    def __init__(self, params, lr=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.params = [p.copy() for p in params]
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.lr, self.b1, self.b2, self.eps = lr, beta_1, beta_2, epsilon
        self.t = 0

    def step(self, x, y):
        w1, b1, w2, b2, w3, b3 = self.params
        h1 = np.maximum(x @ w1 + b1, 0)
        h2 = np.maximum(h1 @ w2 + b2, 0)
        logits = h2 @ w3 + b3
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        n = len(y)
        rows = np.arange(n)
        loss = np.mean(np.log(total[:, 0]) - shifted[rows, y])
        d_logits = exp / total
        d_logits[rows, y] -= 1
        d_logits /= n
        d_h2 = (d_logits @ w3.T) * (h2 > 0)
        d_h1 = (d_h2 @ w2.T) * (h1 > 0)
        grads = [x.T @ d_h1, d_h1.sum(0), h1.T @ d_h2, d_h2.sum(0), h2.T @ d_logits,
                 d_logits.sum(0)]
        self.t += 1
        lr_t = self.lr * np.sqrt(1 - self.b2 ** self.t) / (1 - self.b1 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p -= (lr_t * m / (np.sqrt(v) + self.eps)).astype(p.dtype)
        return loss


def make_dtf_step(sizes=SIZES):
    """(model, step): the seeds' training step for an MLP of `sizes` (Dense + ReLU layers)."""
    model = keras.Sequential([keras.Input(shape=(sizes[0],))] + [
        keras.layers.Dense(n, activation="relu") for n in sizes[1:-1]] + [
        keras.layers.Dense(sizes[-1])])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)

    def step(x, y):
        with dtf.GradientTape() as tape:
            logits = model(x)
            loss = loss_fn(y, logits)
        gradients = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(gradients, model.trainable_weights))
        return loss

    return model, step


def run(repeat, steps):
    batches, source = load_batches(steps)
    tensor_batches = [(dtf.constant(x), dtf.constant(y)) for x, y in batches]
    model, dtf_step = make_dtf_step()
    reference = NumpyMLP(model.get_weights())

    # Both start from the same weights: their losses must agree step by step.
    for (x, y), (tx, ty) in zip(batches[:5], tensor_batches[:5]):
        ref_loss = reference.step(x, y)
        our_loss = float(dtf_step(tx, ty))
        if not np.isclose(ref_loss, our_loss, rtol=1e-4, atol=1e-5):
            raise SystemExit(f"dtf and the NumPy reference disagree: loss {our_loss} vs "
                             f"{ref_loss}")

    t_ours, t_ref, ratios = [], [], []
    for _ in range(repeat):
        start = time.perf_counter()
        for x, y in batches:
            reference.step(x, y)
        r = (time.perf_counter() - start) / len(batches) * 1e6
        start = time.perf_counter()
        for x, y in tensor_batches:
            dtf_step(x, y)
        o = (time.perf_counter() - start) / len(batches) * 1e6
        t_ref.append(r)
        t_ours.append(o)
        ratios.append(o / r)
    return {"benchmark": "train step (MLP 784-32-32-10, batch 64, Adam)", "data": source,
            "dtf_us": statistics.median(t_ours), "reference": "hand-written NumPy step",
            "reference_us": statistics.median(t_ref), "ratio": statistics.median(ratios),
            "target": TARGET}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--json", help="also write the row to this file")
    args = parser.parse_args(argv)
    row = run(args.repeat, args.steps)
    print(f"dtf train-step benchmark (python {sys.version.split()[0]}, numpy {np.__version__}); "
          f"data: {row['data']}")
    print(f"{row['benchmark']}: dtf {row['dtf_us']:.0f} us/step, NumPy {row['reference_us']:.0f}"
          f" us/step, ratio {row['ratio']:.2f}x (target <= {TARGET:.0f}x)")
    ok = row["ratio"] <= TARGET
    print("target met" if ok else "TARGET MISSED")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(row, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
