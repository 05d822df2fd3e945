"""Every op of the table on CuPy against the same op on NumPy: the same inputs, values equal
within float tolerance; the op's impls see CuPy arrays; gradients computed on the GPU."""

import contextlib

import numpy as np
import pytest
from gpu_helpers import GPU, assert_close, require_gpu

require_gpu()

import cupy

import dtf
from dtf.ops import registry
from dtf.testing.gradcheck import check_gradients
from dtf.testing.op_cases import all_cases

pytestmark = pytest.mark.gpu
CASES = all_cases()


def _run(case, device):
    with dtf.device(device):
        args = [dtf.constant(a) if isinstance(a, np.ndarray) else a for a in case.inputs]
        return case.fn(*args)


def _flat(result):
    return list(result) if isinstance(result, (list, tuple)) else [result]


@contextlib.contextmanager
def _observe(calls):
    """Records (primitive name, array module) of every impl call."""
    saved = {}
    for name, prim in registry.all_primitives().items():
        saved[name] = prim.impl

        def observed(xp, *arrays, _name=name, _impl=prim.impl, **attrs):
            calls.append((_name, xp))
            return _impl(xp, *arrays, **attrs)

        prim.impl = observed
    try:
        yield
    finally:
        for name, prim in registry.all_primitives().items():
            prim.impl = saved.get(name, prim.impl)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_op_on_gpu_equals_cpu(case):
    cpu = _flat(_run(case, "/CPU:0"))
    calls = []
    with _observe(calls):
        gpu = _flat(_run(case, "/GPU:0"))
    device_calls = [(n, xp) for n, xp in calls if not registry.get(n).host_only]
    assert all(xp is cupy for _, xp in device_calls), \
        f"{case.name}: ran on NumPy under /GPU:0: {[n for n, xp in device_calls if xp is not cupy]}"
    assert len(cpu) == len(gpu)
    if case.reference is None:  # random ops: the shapes and dtypes agree, the values differ
        for c, g in zip(cpu, gpu):
            if hasattr(c, "shape"):
                assert tuple(c.shape) == tuple(g.shape) and c.dtype == g.dtype
        return
    for i, (c, g) in enumerate(zip(cpu, gpu)):
        if not isinstance(c, dtf.Tensor):
            continue  # composite results (ragged, sparse) are compared by their own tests
        if g.dtype != dtf.string and not any(registry.get(n).host_only for n, _ in calls):
            assert g.device == GPU, f"{case.name}: output {i} on {g.device}"
        assert_close(g, c, rtol=max(case.rtol, 2e-5), atol=max(case.atol, 1e-5),
                     what=f"{case.name}[{i}]")


GRAD_CASES = [c for c in CASES if c.grad]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.name for c in GRAD_CASES])
def test_gradients_on_gpu(case):
    with dtf.device("/GPU:0"):
        check_gradients(case.fn, case.inputs, grad_inputs=case.grad_inputs,
                        second_order=case.second_order and case.name.startswith(("math/", "nn/")),
                        atol=case.grad_atol, rtol=case.grad_rtol, name=case.name)
