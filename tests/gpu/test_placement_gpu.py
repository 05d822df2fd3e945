"""Placement and copies on a real GPU: the default device, scopes, mixing devices, Variables,
host copies, random ops with dtf's seed rules, kernels from dtf.kernels."""

import numpy as np
import pytest
from gpu_helpers import CPU, GPU, require_gpu

require_gpu()

import cupy

import dtf
from dtf import kernels

pytestmark = pytest.mark.gpu


def test_gpu_is_listed_and_default():
    assert dtf.config.list_physical_devices("GPU")[0].name == "/physical_device:GPU:0"
    x = dtf.constant([1.0, 2.0])
    assert x.device == GPU and isinstance(x._value, cupy.ndarray)
    assert (x * 2.0).device == GPU
    assert dtf.zeros((2, 3)).device == GPU and dtf.ones(()).device == GPU
    assert dtf.range(4).device == GPU and dtf.eye(2).device == GPU
    assert dtf.constant(np.ones((2, 2))).device == GPU


def test_numpy_copies_to_the_host():
    x = dtf.constant([[1.0, 2.0]])
    a = x.numpy()
    assert type(a) is np.ndarray and a.tolist() == [[1.0, 2.0]]
    a[0, 0] = 9.0
    assert x.numpy()[0, 0] == 1.0
    assert isinstance(dtf.constant(3.0).numpy(), np.float32)
    assert float(dtf.constant(3.5)) == 3.5 and int(dtf.constant(4)) == 4
    assert np.asarray(x).tolist() == [[1.0, 2.0]]


def test_scopes_choose_and_mixed_inputs_are_copied():
    with dtf.device("/CPU:0"):
        h = dtf.constant([1.0, 2.0])
    g = dtf.constant([10.0, 20.0])
    assert h.device == CPU
    mixed = h + g  # no scope: the accelerator wins, the host input is copied there
    assert mixed.device == GPU
    np.testing.assert_allclose(mixed.numpy(), [11.0, 22.0])
    with dtf.device("/CPU:0"):
        on_host = g * h  # the scope wins: the GPU input is copied to the host
    assert on_host.device == CPU and type(on_host._value) is np.ndarray
    with dtf.device("/GPU:0"):
        on_gpu = h * h  # host inputs, GPU scope: runs on the GPU
    assert on_gpu.device == GPU
    assert h.gpu().device == GPU and g.cpu().device == CPU


def test_gradients_flow_across_copies():
    x = dtf.constant([1.0, 2.0])
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = dtf.reduce_sum(dtf.square(x.cpu()) + x)
    grad = tape.gradient(y, x)
    np.testing.assert_allclose(grad.numpy(), [3.0, 5.0])


def test_variables_live_on_their_device():
    v = dtf.Variable([1.0, 2.0])
    assert v.device == GPU
    with dtf.device("/CPU:0"):
        w = dtf.Variable(dtf.constant([1.0, 2.0]).gpu())  # a GPU value, a CPU Variable
        v.assign([5.0, 6.0])  # assigned under a CPU scope: stays on the GPU
    assert w.device == CPU and v.device == GPU
    v.assign_add(np.array([1.0, 1.0], np.float32))
    w.assign(dtf.constant([3.0, 4.0]))  # a GPU tensor: copied to the CPU Variable
    assert v.device == GPU and w.device == CPU
    np.testing.assert_allclose(v.numpy(), [6.0, 7.0])
    np.testing.assert_allclose(w.numpy(), [3.0, 4.0])
    v[0].assign(0.0)
    v.scatter_nd_add([[1]], [1.0])
    np.testing.assert_allclose(v.numpy(), [0.0, 8.0])
    assert v.device == GPU


def test_random_ops_follow_the_seed_rules_on_the_gpu():
    dtf.random.set_seed(7)
    a = dtf.random.uniform([1000])
    b = dtf.random.normal([3], seed=1)
    c = dtf.random.normal([3], seed=1)
    dtf.random.set_seed(7)
    a2 = dtf.random.uniform([1000])
    b2 = dtf.random.normal([3], seed=1)
    assert a.device == GPU and b.device == GPU
    np.testing.assert_array_equal(a.numpy(), a2.numpy())  # global seed: same sequence
    np.testing.assert_array_equal(b.numpy(), b2.numpy())
    assert not np.array_equal(b.numpy(), c.numpy())  # op seed: a counter per kernel
    values = a.numpy()
    assert values.min() >= 0.0 and values.max() < 1.0 and abs(values.mean() - 0.5) < 0.05
    with dtf.device("/CPU:0"):
        dtf.random.set_seed(7)
        on_cpu = dtf.random.uniform([1000])
    assert not np.array_equal(on_cpu.numpy(), values)  # as TF: CPU and GPU streams differ
    ints = dtf.random.uniform([500], 3, 9, dtype=dtf.int32, seed=3).numpy()
    assert ints.min() >= 3 and ints.max() <= 8
    s = dtf.random.stateless_normal([4], seed=[1, 2])
    np.testing.assert_array_equal(s.numpy(), dtf.random.stateless_normal([4], seed=[1, 2]).numpy())
    shuffled = dtf.random.shuffle(dtf.range(10), seed=4)
    assert shuffled.device == GPU and sorted(shuffled.numpy().tolist()) == list(range(10))
    t = dtf.random.truncated_normal([1000], seed=5).numpy()
    assert np.abs(t).max() <= 2.0


def test_a_registered_kernel_replaces_the_impl_on_the_gpu(monkeypatch):
    calls = []

    def build():
        def kernel(xp, x):
            calls.append(xp)
            return x * x

        return kernel

    monkeypatch.setitem(kernels._factories, "square", build)
    monkeypatch.delitem(kernels._built, "square", raising=False)
    try:
        out = dtf.square(dtf.constant([3.0]))
        with dtf.device("/CPU:0"):
            host = dtf.square(dtf.constant([3.0]))
    finally:
        kernels._built.pop("square", None)
    assert calls == [cupy] and out.numpy().tolist() == [9.0] and host.device == CPU


def test_string_tensors_stay_on_the_host():
    s = dtf.constant(["ab", "c"])
    assert s.device == CPU
    n = dtf.strings.length(s)
    assert n.numpy().tolist() == [2, 1]
    assert dtf.strings.as_string(dtf.constant([1, 2])).numpy().tolist() == [b"1", b"2"]
