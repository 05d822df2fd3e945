"""Runs every OpCase of dtf.testing.cases: forward vs NumPy, shape rules, gradients; and checks
that every registered primitive has a shape rule, a VJP (or is declared non-differentiable) and
is exercised by a case."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import dtf
from dtf import dtypes
from dtf.ops import registry
from dtf.ops.registry import Spec
from dtf.testing.gradcheck import check_gradients
from dtf.testing.op_cases import all_cases

CASES = all_cases()


@contextlib.contextmanager
def _observe_primitives(calls):
    """Wraps every primitive's impl to log (prim, input arrays, attrs, output)."""
    saved = {}
    registry.fast_paths[0] = False
    for name, prim in registry.all_primitives().items():
        saved[name] = prim.impl

        def observed(xp, *arrays, _prim=prim, _impl=prim.impl, **attrs):
            out = _impl(xp, *arrays, **attrs)
            calls.append((_prim, arrays, attrs, out))
            return out

        prim.impl = observed
    try:
        yield
    finally:
        registry.fast_paths[0] = True
        for name, prim in registry.all_primitives().items():
            prim.impl = saved[name]


def _call(case):
    args = [dtf.constant(a) if isinstance(a, np.ndarray) else a for a in case.inputs]
    return case.fn(*args)


def _as_list(result):
    if isinstance(result, (list, tuple)):
        return list(result)
    return [result]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_forward(case):
    result = _call(case)  # with the eager fast paths on, as users run it
    if case.reference is None:
        return
    expected = case.reference(*case.inputs)
    got, want = _as_list(result), _as_list(expected)
    assert len(got) == len(want), f"{case.name}: {len(got)} outputs, expected {len(want)}"
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert isinstance(g, dtf.Tensor), f"{case.name}: result is {type(g).__name__}"
        assert tuple(g.shape) == w.shape, f"{case.name}: shape {g.shape} != {w.shape}"
        if case.check_dtype:
            assert g.dtype == dtypes.from_numpy(w.dtype), \
                f"{case.name}: dtype {g.dtype.name} != {w.dtype}"
        gv = np.asarray(g.numpy())
        if w.dtype.kind in "fc":
            np.testing.assert_allclose(gv, w, atol=case.atol, rtol=case.rtol, err_msg=case.name)
        else:
            np.testing.assert_array_equal(gv, w, err_msg=case.name)


def _spec_of(array):
    return Spec(tuple(array.shape), dtypes.from_numpy(array.dtype))


def _check_rule(prim, arrays, attrs, out, unknown):
    specs = [Spec(tuple(None for _ in a.shape), dtypes.from_numpy(a.dtype)) if unknown
             else _spec_of(a) for a in arrays]
    inferred = prim.infer(*specs, **attrs)
    outs = list(out) if isinstance(out, tuple) else [out]
    inferred = list(inferred) if isinstance(inferred, (tuple, list)) and inferred and \
        isinstance(inferred[0], Spec) else [inferred]
    if prim.num_outputs is None and unknown:
        return  # the number of outputs depends on dims that are unknown here
    assert len(inferred) == len(outs), f"{prim.name}: rule gives {len(inferred)} outputs"
    for spec, o in zip(inferred, outs):
        assert spec.dtype == dtypes.from_numpy(o.dtype), \
            f"{prim.name}: rule dtype {spec.dtype} != {o.dtype} (attrs {attrs})"
        if spec.shape is None:
            assert unknown, f"{prim.name}: rule lost the rank of known shapes"
            continue
        assert len(spec.shape) == o.ndim, \
            f"{prim.name}: rule rank {spec.shape} != {o.shape} (unknown={unknown})"
        for d_rule, d_real in zip(spec.shape, o.shape):
            if unknown or (prim.data_dependent_shape and d_rule is None):
                assert d_rule is None or d_rule == d_real, f"{prim.name}: {spec.shape} vs {o.shape}"
            else:
                assert d_rule == d_real, f"{prim.name}: rule {spec.shape} != eager {o.shape}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_shape_rules(case):
    calls = []
    with _observe_primitives(calls):
        _call(case)
    assert calls, f"{case.name} ran no primitive"
    for prim, arrays, attrs, out in calls:
        _check_rule(prim, arrays, attrs, out, unknown=False)
        _check_rule(prim, arrays, attrs, out, unknown=True)


GRAD_CASES = [c for c in CASES if c.grad]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.name for c in GRAD_CASES])
def test_gradients(case):
    calls = []
    with _observe_primitives(calls):
        check_gradients(case.fn, case.inputs, grad_inputs=case.grad_inputs,
                        second_order=case.second_order, atol=case.grad_atol,
                        rtol=case.grad_rtol, name=case.name)
    for prim, arrays, attrs, out in calls:  # rules of the primitives the backward pass ran
        _check_rule(prim, arrays, attrs, out, unknown=False)


def test_every_primitive_is_complete():
    """Every primitive: a shape rule, a VJP unless declared non-differentiable, and a case."""
    exercised = set()
    for case in CASES:
        calls = []
        with _observe_primitives(calls):
            _call(case)
            if case.grad:
                check_gradients(case.fn, case.inputs, grad_inputs=case.grad_inputs,
                                second_order=False, name=case.name)
        exercised.update(p.name for p, *_ in calls)
    problems = []
    for name, prim in registry.all_primitives().items():
        if prim.shape_fn is None:
            problems.append(f"{name}: no shape rule")
        if prim.differentiable and prim.vjp_fn is None:
            problems.append(f"{name}: differentiable but has no VJP")
        if not prim.differentiable and prim.vjp_fn is not None:
            problems.append(f"{name}: declared non-differentiable but has a VJP")
        if name not in exercised:
            problems.append(f"{name}: no OpCase runs it")
    assert not problems, "\n".join(problems)
