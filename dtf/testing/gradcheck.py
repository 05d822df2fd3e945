"""Gradient checks against central differences, first and second order.

`check_gradients(fn, arrays)` compares what GradientTape computes for `sum(fn(x) * c)` (random
fixed cotangents `c`) with central differences of the same scalar, and then does the same for the
directional second derivative `sum(grad(x) * v)`, whose analytic value needs the VJPs to be
differentiable themselves.
"""

from __future__ import annotations

import numpy as np

import dtf
from dtf import nest

__all__ = ["GradientMismatch", "check_gradients"]


class GradientMismatch(AssertionError):
    pass


def _outputs(result):
    flat = [r for r in nest.flatten(result) if r is not None]
    return [r for r in flat if r.dtype.is_floating or r.dtype.is_complex]


def _to_inputs(arrays, grad_idx, watched=None):
    out = []
    for i, a in enumerate(arrays):
        if i in grad_idx:
            out.append(watched[i] if watched is not None else dtf.constant(a))
        elif isinstance(a, np.ndarray):
            out.append(dtf.constant(a))
        else:
            out.append(a)
    return out


def _scalar(fn, arrays, grad_idx, cotangents):
    outs = _outputs(fn(*_to_inputs(arrays, grad_idx)))
    return float(sum(np.sum(np.asarray(o.numpy(), dtype=np.float64) * c)
                     for o, c in zip(outs, cotangents)))


def _analytic_first(fn, arrays, grad_idx, cotangents, tape=None):
    """Gradients of sum(fn(x) * c) w.r.t. the grad inputs, computed under a (new) tape."""
    xs = {i: dtf.constant(arrays[i]) for i in grad_idx}
    with dtf.GradientTape() as inner:
        for x in xs.values():
            inner.watch(x)
            if tape is not None:
                tape.watch(x)
        outs = _outputs(fn(*_to_inputs(arrays, grad_idx, xs)))
        s = dtf.add_n([dtf.reduce_sum(o * dtf.constant(c.astype(o.dtype.as_numpy_dtype)))
                       for o, c in zip(outs, cotangents)])
    grads = inner.gradient(s, [xs[i] for i in grad_idx],
                           unconnected_gradients="zero")
    return xs, grads


def _numeric(f_scalar, arrays, grad_idx, eps):
    result = []
    for i in grad_idx:
        base = arrays[i]
        g = np.zeros(base.shape, dtype=np.float64)
        for j in np.ndindex(*base.shape):
            plus = [a.copy() if k == i else a for k, a in enumerate(arrays)]
            minus = [a.copy() if k == i else a for k, a in enumerate(arrays)]
            plus[i][j] += eps
            minus[i][j] -= eps
            g[j] = (f_scalar(plus) - f_scalar(minus)) / (2 * eps)
        result.append(g)
    return result


def _compare(name, analytic, numeric, atol, rtol, what):
    for k, (a, n) in enumerate(zip(analytic, numeric)):
        a = np.zeros_like(n) if a is None else np.asarray(a.numpy(), dtype=np.float64)
        if a.shape != n.shape:
            raise GradientMismatch(f"{name}: {what} gradient of input {k} has shape {a.shape}, "
                                   f"expected {n.shape}")
        if not np.allclose(a, n, atol=atol, rtol=rtol):
            worst = np.max(np.abs(a - n))
            raise GradientMismatch(
                f"{name}: {what} gradient of input {k} differs from central differences "
                f"(max abs error {worst:.3g}):\nanalytic=\n{a}\nnumeric=\n{n}")


def check_gradients(fn, arrays, grad_inputs=None, second_order=True, eps=1e-6, atol=1e-5,
                    rtol=1e-4, name="op", seed=0):
    """Checks first (and second) order gradients of `fn` at `arrays` (float64 for grads)."""
    arrays = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in arrays]
    if grad_inputs is None:
        grad_inputs = tuple(i for i, a in enumerate(arrays)
                            if isinstance(a, np.ndarray) and a.dtype.kind in "fc")
    grad_idx = tuple(grad_inputs)
    if not grad_idx:
        return
    rng = np.random.default_rng(seed)
    outs = _outputs(fn(*_to_inputs(arrays, grad_idx)))
    cotangents = [rng.uniform(0.5, 1.5, size=o.shape.as_list()) for o in outs]

    # first order
    _, analytic = _analytic_first(fn, arrays, grad_idx, cotangents)
    numeric = _numeric(lambda arrs: _scalar(fn, arrs, grad_idx, cotangents), arrays, grad_idx,
                       eps)
    _compare(name, analytic, numeric, atol, rtol, "first-order")
    if not second_order:
        return

    # second order: h(x) = sum_i <grad_i(x), v_i>
    directions = [rng.uniform(-1, 1, size=arrays[i].shape) for i in grad_idx]

    def h_numeric(arrs):
        _, grads = _analytic_first(fn, arrs, grad_idx, cotangents)
        return float(sum(np.sum(np.asarray(g.numpy(), dtype=np.float64) * v)
                         for g, v in zip(grads, directions) if g is not None))

    with dtf.GradientTape() as outer:
        xs, grads = _analytic_first(fn, arrays, grad_idx, cotangents, tape=outer)
        terms = [dtf.reduce_sum(g * dtf.constant(v.astype(g.dtype.as_numpy_dtype)))
                 for g, v in zip(grads, directions) if g is not None]
        h = dtf.add_n(terms) if terms else None
    if h is None:
        return
    analytic2 = outer.gradient(h, [xs[i] for i in grad_idx], unconnected_gradients="zero")
    numeric2 = _numeric(h_numeric, arrays, grad_idx, eps * 10)
    _compare(name, analytic2, numeric2, atol * 10, rtol * 10, "second-order")
