"""An LSTM layer forward + backward: dtf against PyTorch's CPU implementation.

Shapes (issue 7): batch 32, 50 steps, 128 input features, 128 units; the loss is the sum of
the whole output sequence, and the backward pass computes the gradients of the weights (and,
with --input-grad, of the inputs too).

  dtf      keras.layers.LSTM(128, return_sequences=True) under a GradientTape
  PyTorch  torch.nn.LSTM(128, 128, batch_first=True) with .backward(), the same weights

PyTorch is not a dependency of dtf: where it is not installed the script says so and reports
dtf alone. Where it is, the script first checks that both compute the same outputs and
gradients from the same weights. Each round times PyTorch and dtf back to back, and the ratio
reported is the median of the rounds' ratios (these machines change speed mid-run).

Target (issue 7): within 2x of PyTorch.

Usage: python scripts/bench/rnn.py [--repeat 15] [--iters 5] [--layer lstm|gru] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

import dtf
from dtf.keras.layers.rnn import GRU, LSTM

TARGET = 2.0
BATCH, STEPS, FEATURES, UNITS = 32, 50, 128, 128


def make_dtf(kind, x):
    layer = (LSTM if kind == "lstm" else GRU)(UNITS, return_sequences=True)
    layer(x)
    return layer


def dtf_step(layer, x, input_grad):
    with dtf.GradientTape() as tape:
        if input_grad:
            tape.watch(x)
        loss = dtf.reduce_sum(layer(x))
    sources = layer.trainable_weights + ([x] if input_grad else [])
    grads = tape.gradient(loss, sources)
    return loss, grads


def make_torch(kind, layer):
    """A torch.nn.LSTM/GRU holding the dtf layer's weights (Keras and PyTorch order gates
    differently, and PyTorch keeps two biases)."""
    import torch

    kernel, recurrent, bias = (w.numpy() for w in layer.weights)
    u = UNITS
    if kind == "lstm":
        module = torch.nn.LSTM(FEATURES, UNITS, batch_first=True)
        order = [0, 1, 2, 3]  # both i, f, g(c), o
        w_ih, w_hh = kernel.T, recurrent.T
        b_ih, b_hh = bias, np.zeros_like(bias)
    else:
        module = torch.nn.GRU(FEATURES, UNITS, batch_first=True)
        order = [1, 0, 2]  # PyTorch r, z, n; Keras z, r, h
        w_ih, w_hh = kernel.T, recurrent.T
        b_ih, b_hh = bias[0], bias[1]

    def reorder(a):
        blocks = [a[i * u:(i + 1) * u] for i in range(len(order))]
        return np.concatenate([blocks[i] for i in order])

    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.from_numpy(reorder(w_ih).copy()))
        module.weight_hh_l0.copy_(torch.from_numpy(reorder(w_hh).copy()))
        module.bias_ih_l0.copy_(torch.from_numpy(reorder(b_ih).copy()))
        module.bias_hh_l0.copy_(torch.from_numpy(reorder(b_hh).copy()))
    return module


def torch_step(module, x, input_grad):
    module.zero_grad(set_to_none=True)
    if input_grad:
        x.grad = None
    out, _ = module(x)
    loss = out.sum()
    loss.backward()
    return loss


def time_it(fn, iters):
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - start) / iters


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed rounds")
    parser.add_argument("--iters", type=int, default=5, help="steps per round")
    parser.add_argument("--layer", choices=["lstm", "gru"], default="lstm")
    parser.add_argument("--input-grad", action="store_true",
                        help="also compute the gradient of the inputs")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x_np = rng.normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)
    x = dtf.constant(x_np)
    layer = make_dtf(args.layer, x)
    try:
        import torch
    except ImportError:
        torch = None
        print("PyTorch is not installed (it is not a dtf dependency): timing dtf alone. "
              "`pip install torch` to compare.")

    result = {"layer": args.layer, "shape": [BATCH, STEPS, FEATURES, UNITS]}
    if torch is not None:
        torch.manual_seed(0)
        module = make_torch(args.layer, layer)
        x_torch = torch.from_numpy(x_np).requires_grad_(args.input_grad)
        loss_d, grads = dtf_step(layer, x, args.input_grad)
        loss_t = torch_step(module, x_torch, args.input_grad)
        assert np.isclose(float(loss_d), float(loss_t.detach()), rtol=1e-4), (float(loss_d),
                                                                     float(loss_t.detach()))
        grad_t = module.weight_hh_l0.grad.numpy()
        assert np.isclose(np.abs(grads[1].numpy()).sum(), np.abs(grad_t).sum(), rtol=1e-3)
        for _ in range(2):  # warm up
            dtf_step(layer, x, args.input_grad)
            torch_step(module, x_torch, args.input_grad)
        dtf_ms, torch_ms, ratios = [], [], []
        for _ in range(args.repeat):
            t_ref = time_it(lambda: torch_step(module, x_torch, args.input_grad), args.iters)
            t_dtf = time_it(lambda: dtf_step(layer, x, args.input_grad), args.iters)
            torch_ms.append(t_ref * 1e3)
            dtf_ms.append(t_dtf * 1e3)
            ratios.append(t_dtf / t_ref)
        ratio = statistics.median(ratios)
        result.update({"dtf_ms": statistics.median(dtf_ms),
                       "torch_ms": statistics.median(torch_ms), "ratio": ratio,
                       "torch_threads": torch.get_num_threads(), "target": TARGET})
        print(f"{args.layer.upper()} fwd+bwd, batch {BATCH}, {STEPS} steps, {FEATURES} -> "
              f"{UNITS}: dtf {result['dtf_ms']:.2f} ms, PyTorch {result['torch_ms']:.2f} ms "
              f"({torch.get_num_threads()} threads), ratio {ratio:.2f}x (target <= "
              f"{TARGET:.0f}x)")
    else:
        dtf_step(layer, x, args.input_grad)
        times = [time_it(lambda: dtf_step(layer, x, args.input_grad), args.iters) * 1e3
                 for _ in range(args.repeat)]
        result["dtf_ms"] = statistics.median(times)
        print(f"{args.layer.upper()} fwd+bwd, batch {BATCH}, {STEPS} steps, {FEATURES} -> "
              f"{UNITS}: dtf {result['dtf_ms']:.2f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
