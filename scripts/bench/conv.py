"""Conv2D forward + backward: dtf against PyTorch's CPU implementation of the same shapes, in
one process.

Two layers of an MNIST CNN (padding "same", bias, float32):

  conv1   64x28x28x1 -> 32 filters 3x3   the first layer: gradients of kernel and bias
  conv2   64x14x14x32 -> 64 filters 3x3  a middle layer: gradients of input, kernel, bias

Each step runs the layer forward and back-propagates a fixed output gradient, as one training
step does; PyTorch computes the same gradients (its input requires grad only for conv2).
Each of `--repeat` rounds times dtf and PyTorch back to back and the ratio reported is the
median of the rounds' ratios: these machines switch speed mid-run (and other processes share
the cores), so absolute times drift while paired ratios hold. Target (issue 7): within 2x of
PyTorch. PyTorch is not a dependency of dtf; without it the reference column is skipped
(`pip install torch` to get it).

Usage: python scripts/bench/conv.py [--repeat 15] [--number 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import timeit

import numpy as np

import dtf
from dtf.keras.layers.convolutional import Conv2D

TARGET = 2.0
CASES = [  # name, input shape (NHWC), filters, whether the input's gradient is needed
    ("conv1", (64, 28, 28, 1), 32, False),
    ("conv2", (64, 14, 14, 32), 64, True),
]


def _dtf_step(shape, filters, input_grad, rng):
    layer = Conv2D(filters, 3, padding="same", bias_initializer="random_normal")
    x = dtf.constant(rng.standard_normal(shape).astype(np.float32))
    layer(x)
    grad_out = dtf.constant(rng.standard_normal(shape[:3] + (filters,)).astype(np.float32))
    sources = ([x] if input_grad else []) + layer.trainable_weights

    def step():
        with dtf.GradientTape() as tape:
            if input_grad:
                tape.watch(x)
            y = layer(x)
        return tape.gradient(y, sources, output_gradients=grad_out)

    return step, layer, x, grad_out


def _torch_step(torch, layer, x, grad_out, input_grad):
    """The same convolution in PyTorch (NCHW), on the same weights and data."""
    weight = torch.tensor(np.transpose(layer.kernel.numpy(), (3, 2, 0, 1))).requires_grad_()
    bias = torch.tensor(layer.bias.numpy()).requires_grad_()
    xt = torch.tensor(np.transpose(x.numpy(), (0, 3, 1, 2))).contiguous()
    xt.requires_grad_(input_grad)
    gt = torch.tensor(np.transpose(grad_out.numpy(), (0, 3, 1, 2))).contiguous()
    sources = ([xt] if input_grad else []) + [weight, bias]

    def step():
        y = torch.nn.functional.conv2d(xt, weight, bias, padding=1)
        return torch.autograd.grad(y, sources, gt)

    return step


def _check(dtf_grads, torch_grads, input_grad):
    """The two steps compute the same gradients (the comparison is of equal work)."""
    perms = ([(0, 2, 3, 1)] if input_grad else []) + [(2, 3, 1, 0), (0,)]
    for ours, theirs, perm in zip(dtf_grads, torch_grads, perms):
        np.testing.assert_allclose(ours.numpy(), np.transpose(theirs.numpy(), perm),
                                   rtol=2e-3, atol=2e-3)


def _paired(ours, ref, number, repeat):
    t_ours, t_ref, ratios = [], [], []
    for _ in range(repeat):
        o = timeit.timeit(ours, number=number) / number * 1e3
        r = timeit.timeit(ref, number=number) / number * 1e3 if ref else None
        t_ours.append(o)
        if ref:
            t_ref.append(r)
            ratios.append(o / r)
    median = statistics.median
    return median(t_ours), (median(t_ref) if ref else None), (median(ratios) if ref else None)


def run(number: int, repeat: int) -> list[dict]:
    try:
        import torch
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    rows = []
    for name, shape, filters, input_grad in CASES:
        ours, layer, x, grad_out = _dtf_step(shape, filters, input_grad, rng)
        ref = _torch_step(torch, layer, x, grad_out, input_grad) if torch else None
        if ref:
            _check(ours(), ref(), input_grad)
        ours()
        t_ours, t_ref, ratio = _paired(ours, ref, number, repeat)
        rows.append({"benchmark": f"{name} {'x'.join(map(str, shape))} -> {filters} 3x3",
                     "dtf_ms": t_ours, "torch_ms": t_ref, "ratio": ratio, "target": TARGET})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    rows = run(args.number, args.repeat)
    try:
        import torch

        ref_name = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        ref_name = "PyTorch not installed: reference column skipped"
    print(f"dtf Conv2D forward+backward (python {sys.version.split()[0]}, numpy "
          f"{np.__version__}); reference: {ref_name}")
    print(f"{'benchmark':<36} {'dtf (ms)':>9} {'torch (ms)':>11} {'ratio':>7} {'target':>7}")
    ok = True
    for r in rows:
        torch_ms = f"{r['torch_ms']:.2f}" if r["torch_ms"] is not None else "-"
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-"
        if r["ratio"] is not None and r["ratio"] > r["target"]:
            ok = False
        print(f"{r['benchmark']:<36} {r['dtf_ms']:>9.2f} {torch_ms:>11} {ratio:>7} "
              f"{'<= ' + format(r['target'], '.0f') + 'x':>7}")
    if rows[0]["ratio"] is not None:
        print("all targets met" if ok else "TARGET MISSED")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
