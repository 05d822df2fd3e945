"""Optimizer step cost: `apply_gradients` on the seeds' MLP (784-32-32-10: 6 variables).

For each optimizer, one `apply_gradients(zip(grads, variables))` call in dtf against the same
update written by hand in NumPy on the same arrays (Keras' formula, the new arrays assigned
back, as dtf's copy-on-write Variables do), timed back to back in each round; the ratio is the
median of the rounds' ratios (these machines switch speed mid-run).

The hand-written NumPy step is the floor: dtf adds the per-call work of an optimizer (gradient
checks, the learning rate, slots lookup, `iterations`).

Both sides run as in training: each call takes the next of 8 sets of gradients (a constant
gradient drives Adam's moments to fixed points no training reaches), and the process has freed
an array over glibc's mmap threshold before timing, as every training process has by its first
step (loading data, a batch's temporaries). glibc then raises its heap trim threshold from
128 KiB to twice that array's size; at the default, whether the heap top is handed back to the
OS after a call and faulted in again on the next (about 33 page faults and 65 us per Adam call
here) depended on the order of the arrays' allocations and frees, not on the arithmetic: that
made Adam's ratio jump from 1.3x to 2.4x at ff799e1 in this bench, while a training loop of the
same model saw no fault. The faults/call columns show whether either side still pays for it.

Usage: python scripts/bench/optimizers.py [--repeat 15] [--number 2000] [--json FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import statistics
import sys
import timeit

import numpy as np

import dtf
from dtf.keras import optimizers

SHAPES = [(784, 32), (32,), (32, 32), (32,), (32, 10), (10,)]
GRADIENT_SETS = 8


def _minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _allocator_as_in_training():
    """Frees one 4 MiB array (over glibc's 128 KiB mmap threshold), as loading data does in a
    training process: glibc's malloc then keeps up to twice that size free at the heap top
    instead of returning it to the OS after each call (see the module docstring)."""
    block = np.ones(1 << 20, np.float32)
    del block


def _paired(ours, ref, number, repeat):
    t_ours, t_ref, ratios = [], [], []
    faults_ours = faults_ref = 0
    for _ in range(repeat):
        start = _minor_faults()
        r = timeit.timeit(ref, number=number) / number * 1e6
        middle = _minor_faults()
        o = timeit.timeit(ours, number=number) / number * 1e6
        faults_ours += _minor_faults() - middle
        faults_ref += middle - start
        t_ref.append(r)
        t_ours.append(o)
        ratios.append(o / r)
    calls = number * repeat
    return (statistics.median(t_ours), statistics.median(t_ref), statistics.median(ratios),
            faults_ours / calls, faults_ref / calls)


class NumpySGD:
    """`w = w - lr * g`, by hand."""

    def __init__(self, params, lr=0.01):
        self.params, self.lr = params, np.float32(lr)

    def step(self, grads):
        params = self.params
        for i, g in enumerate(grads):
            params[i] = params[i] - g * self.lr


class NumpyAdam:
    """Keras' Adam, by hand."""

    def __init__(self, params, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.params, self.lr = params, np.float32(lr)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        t = np.float32(self.t)
        alpha = self.lr * np.sqrt(1 - np.float32(self.beta_2) ** t) \
            / (1 - np.float32(self.beta_1) ** t)
        params, ms, vs = self.params, self.m, self.v
        for i, g in enumerate(grads):
            ms[i] = ms[i] + (g - ms[i]) * (1 - self.beta_1)
            vs[i] = vs[i] + (np.square(g) - vs[i]) * (1 - self.beta_2)
            params[i] = params[i] - ms[i] * alpha / (np.sqrt(vs[i]) + self.epsilon)


class NumpyRMSprop:
    """Keras' RMSprop (no momentum, not centered), by hand."""

    def __init__(self, params, lr=0.001, rho=0.9, epsilon=1e-7):
        self.params, self.lr, self.rho, self.epsilon = params, np.float32(lr), rho, epsilon
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads):
        params, vs, rho = self.params, self.v, self.rho
        for i, g in enumerate(grads):
            vs[i] = rho * vs[i] + (1 - rho) * np.square(g)
            params[i] = params[i] - self.lr * g / np.sqrt(vs[i] + self.epsilon)


def run(number: int, repeat: int) -> list[dict]:
    _allocator_as_in_training()
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) * 0.1 for s in SHAPES]
    grad_sets_np = [[rng.standard_normal(s).astype(np.float32) * 1e-3 for s in SHAPES]
                    for _ in range(GRADIENT_SETS)]
    grad_sets = [[dtf.constant(g) for g in grads] for grads in grad_sets_np]
    rows = []
    cases = [("SGD", optimizers.SGD(0.01), NumpySGD),
             ("Adam", optimizers.Adam(0.001), NumpyAdam),
             ("RMSprop", optimizers.RMSprop(0.001), NumpyRMSprop)]
    for name, optimizer, numpy_class in cases:
        variables = [dtf.Variable(a) for a in arrays]
        next_pairs = itertools.cycle([list(zip(grads, variables)) for grads in grad_sets])
        next_grads = itertools.cycle(grad_sets_np)
        by_hand = numpy_class([a.copy() for a in arrays])

        def ours(optimizer=optimizer, next_pairs=next_pairs.__next__):
            optimizer.apply_gradients(next_pairs())

        def ref(by_hand=by_hand, next_grads=next_grads.__next__):
            by_hand.step(next_grads())

        ours()  # builds the slots
        t_ours, t_ref, ratio, faults_ours, faults_ref = _paired(ours, ref, number, repeat)
        rows.append({"optimizer": name, "dtf_us": t_ours, "numpy_us": t_ref, "ratio": ratio,
                     "dtf_faults_per_call": faults_ours, "numpy_faults_per_call": faults_ref})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    rows = run(args.number, args.repeat)
    print(f"apply_gradients on the 784-32-32-10 MLP, 6 variables (python "
          f"{sys.version.split()[0]}, numpy {np.__version__})")
    print(f"{'optimizer':<10} {'dtf (us)':>9} {'numpy (us)':>11} {'ratio':>7} "
          f"{'faults/call dtf':>16} {'numpy':>6}")
    for r in rows:
        print(f"{r['optimizer']:<10} {r['dtf_us']:>9.1f} {r['numpy_us']:>11.1f} "
              f"{r['ratio']:>6.2f}x {r['dtf_faults_per_call']:>16.1f} "
              f"{r['numpy_faults_per_call']:>6.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
