"""Eager-mode overhead: dtf against bare NumPy on the same arrays, in one process.

Three measurements, each as a ratio to a NumPy reference timed in the same run, round by
round (these machines are noisy and switch speed mid-run: each round times dtf and NumPy back
to back, and the ratio reported is the median of the rounds' ratios):

  add          dtf `a + b` on 2x2 float32 tensors          vs NumPy `a + b`
  expression   dtf `sqrt(square(a) + square(b))`           vs the same in NumPy
  tape step    that expression and its gradient w.r.t. a   vs NumPy's plain expression

Targets (issue 2): add <= 5x, tape step <= 25x.

Usage: python scripts/bench/eager.py [--repeat 15] [--number 10000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import timeit

import numpy as np

import dtf

TARGETS = {"add": 5.0, "tape step": 25.0}


def _paired(ours, ref, n_ours, n_ref, repeat):
    """Times `ours` and `ref` back to back in each of `repeat` rounds, so both see the same
    machine state; returns (median us per call of ours, of ref, median of per-round ratios)."""
    t_ours, t_ref, ratios = [], [], []
    for _ in range(repeat):
        r = timeit.timeit(ref, number=n_ref) / n_ref * 1e6
        o = timeit.timeit(ours, number=n_ours) / n_ours * 1e6
        t_ref.append(r)
        t_ours.append(o)
        ratios.append(o / r)
    return statistics.median(t_ours), statistics.median(t_ref), statistics.median(ratios)


def run(number: int, repeat: int) -> list[dict]:
    rng = np.random.default_rng(0)
    an = rng.standard_normal((2, 2)).astype(np.float32)
    bn = rng.standard_normal((2, 2)).astype(np.float32)
    a, b = dtf.constant(an), dtf.constant(bn)

    def np_add():
        return an + bn

    def np_expr():
        return np.sqrt(np.square(an) + np.square(bn))

    def dtf_add():
        return a + b

    def dtf_expr():
        return dtf.sqrt(dtf.square(a) + dtf.square(b))

    def dtf_tape():
        with dtf.GradientTape() as tape:
            tape.watch(a)
            c = dtf.sqrt(dtf.square(a) + dtf.square(b))
        return tape.gradient(c, a)

    # warm up, and check the gradient is right before timing it
    expected = an / np.sqrt(an ** 2 + bn ** 2)
    np.testing.assert_allclose(dtf_tape().numpy(), expected, rtol=1e-5)

    rows = []
    for name, ours, ref, ref_name in [
        ("add", dtf_add, np_add, "numpy a + b"),
        ("expression", dtf_expr, np_expr, "numpy expression"),
        ("tape step", dtf_tape, np_expr, "numpy expression"),
    ]:
        n = number if name != "tape step" else max(number // 10, 100)
        t_ours, t_ref, ratio = _paired(ours, ref, n, number, repeat)
        rows.append({"benchmark": name, "dtf_us": t_ours, "reference": ref_name,
                     "reference_us": t_ref, "ratio": ratio, "target": TARGETS.get(name)})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    rows = run(args.number, args.repeat)
    print(f"dtf eager benchmark (python {sys.version.split()[0]}, numpy {np.__version__})")
    print(f"{'benchmark':<12} {'dtf (us)':>10} {'reference':<18} {'ref (us)':>9} "
          f"{'ratio':>7} {'target':>7}")
    ok = True
    for r in rows:
        target = f"<= {r['target']:.0f}x" if r["target"] else ""
        if r["target"] and r["ratio"] > r["target"]:
            ok = False
        print(f"{r['benchmark']:<12} {r['dtf_us']:>10.2f} {r['reference']:<18} "
              f"{r['reference_us']:>9.2f} {r['ratio']:>6.1f}x {target:>7}")
    print("all targets met" if ok else "TARGET MISSED")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
