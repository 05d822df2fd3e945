"""The code generator's facts about primitives (dtf.compile.prim_table), checked against every op
case: a FRESH primitive never returns memory shared with an input; a UFUNCS primitive's impl
gives exactly its ufunc's result for the dtype kinds listed."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import dtf
from dtf.compile import prim_table
from dtf.ops import registry
from dtf.testing.op_cases import all_cases


@contextlib.contextmanager
def _observe(calls):
    all_cases()  # imports every op family first: some register primitives on import
    saved = {}
    registry.fast_paths[0] = False
    for name, prim in registry.all_primitives().items():
        saved[name] = prim.impl

        def observed(xp, *arrays, _prim=prim, _impl=prim.impl, **attrs):
            out = _impl(xp, *arrays, **attrs)
            calls.append((_prim.name, arrays, attrs, out, _impl))
            return out

        prim.impl = observed
    try:
        yield
    finally:
        registry.fast_paths[0] = True
        table = registry.all_primitives()
        for name, impl in saved.items():
            table[name].impl = impl


def _run_case(case):
    """The case forward, and its gradient with respect to its float inputs (so that the
    backward primitives run too)."""
    args = [dtf.constant(a) if isinstance(a, np.ndarray) else a for a in case.inputs]
    watched = [a for a in args if isinstance(a, dtf.Tensor) and a.dtype.is_floating]
    with dtf.GradientTape() as tape:
        tape.watch(watched)
        out = case.fn(*args)
    targets = [o for o in (out if isinstance(out, (list, tuple)) else [out])
               if isinstance(o, dtf.Tensor) and o.dtype.is_floating]
    if case.grad and watched and targets:
        tape.gradient(targets, watched)


@pytest.fixture(scope="module")
def observed_calls():
    """(primitive name, input arrays, attrs, output, impl) of every primitive call of every op
    case, forward and backward."""
    calls = []
    with _observe(calls):
        for case in all_cases():
            _run_case(case)
    return calls


def _arrays(value):
    values = value if isinstance(value, (tuple, list)) else (value,)
    return [v for v in values if isinstance(v, np.ndarray)]


def test_fresh_primitives_never_share_memory_with_inputs(observed_calls):
    seen = set()
    for name, arrays, attrs, out, impl in observed_calls:
        if name not in prim_table.FRESH:
            continue
        seen.add(name)
        for o in _arrays(out):
            for a in _arrays(arrays):
                assert o is not a and not np.shares_memory(o, a), \
                    f"{name} (attrs {attrs}) returned memory shared with an input"
        # nor memory it keeps: a second call on the same inputs returns other arrays
        for o, again in zip(_arrays(out), _arrays(impl(np, *arrays, **attrs))):
            assert not np.shares_memory(o, again), f"{name} (attrs {attrs}) reuses its output"
    # the table's entries are exercised, not just listed
    missing = {n for n in prim_table.FRESH if n in registry.all_primitives()} - seen
    assert not missing, f"FRESH primitives no op case ran: {sorted(missing)}"


def test_ufunc_primitives_equal_their_ufunc(observed_calls):
    checked = set()
    for name, arrays, attrs, out, _ in observed_calls:
        if name not in prim_table.UFUNCS or attrs or not arrays:
            continue
        kind = np.asarray(arrays[0]).dtype.kind
        ufunc = prim_table.ufunc_for(name, kind)
        if ufunc is None:
            continue
        with np.errstate(all="ignore"):
            expected = getattr(np, ufunc)(*arrays)
        got = np.asarray(out)
        assert got.dtype == np.asarray(expected).dtype, name
        np.testing.assert_array_equal(got, expected, err_msg=name)
        checked.add(name)
    assert {"add", "multiply", "divide", "maximum", "exp", "tanh", "greater"} <= checked
