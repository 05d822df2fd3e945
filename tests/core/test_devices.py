"""Devices, placement and the backend seam, as far as they can be checked without a GPU.

(The same behaviours on a real device are in tests/gpu/, marked `gpu`.)
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import dtf
from dtf import backend
from dtf.backend import cupy_backend
from dtf.compile import cuda_graph

HAS_GPU = bool(dtf.config.list_physical_devices("GPU"))
CPU_NAME = "/job:localhost/replica:0/task:0/device:CPU:0"


def _python(code, **env):
    """Runs `code` in a fresh interpreter (what `import dtf` imports must not depend on what
    other tests in this worker imported), returns its stdout."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_physical_devices_list_the_cpu():
    devices = dtf.config.list_physical_devices()
    assert devices[0].name == "/physical_device:CPU:0" and devices[0].device_type == "CPU"
    assert dtf.config.list_physical_devices("CPU") == devices[:1]
    assert dtf.config.list_logical_devices("CPU")[0].name == CPU_NAME


def test_device_context_places_tensors():
    with dtf.device("/CPU:0"):
        t = dtf.ones((2,))
        v = dtf.Variable([1.0, 2.0])
        r = dtf.random.uniform([3], seed=1)
    assert t.device == CPU_NAME and v.device == CPU_NAME and r.device == CPU_NAME
    if not HAS_GPU:
        assert dtf.constant(1.0).device.endswith("device:CPU:0")


@pytest.mark.parametrize("text, kind, index", [
    ("/job:localhost/replica:0/task:0/device:CPU:0", "CPU", 0),
    ("/CPU:0", "CPU", 0), ("cpu:0", "CPU", 0), ("gpu:1", "GPU", 1), ("/device:GPU:3", "GPU", 3),
    ("/GPU:*", "GPU", 0), ("/job:worker/task:1/device:gpu:2", "GPU", 2), ("GPU", "GPU", 0),
])
def test_device_names_are_parsed(text, kind, index):
    assert backend.DeviceSpec.parse(text) == backend.DeviceSpec(kind, index)
    assert backend.DeviceSpec(kind, index).name.endswith(f"device:{kind}:{index}")


@pytest.mark.parametrize("text", ["/TPU:0", "", "/job:localhost", "/GPU:x", "/GPU:-1"])
def test_bad_device_names_say_what_to_write(text):
    with pytest.raises(ValueError, match="Unknown device.*'/CPU:0'|device index"):
        backend.DeviceSpec.parse(text)
    with pytest.raises(TypeError, match="string like '/CPU:0'"):
        backend.DeviceSpec.parse(0)


@pytest.mark.skipif(HAS_GPU, reason="checks the CPU-only machine's errors")
def test_gpu_placement_without_a_gpu_names_the_fix():
    with pytest.raises(ValueError, match=r"install CuPy \(pip install dtf\[cuda12x\]\).*"
                                         r"'/CPU:0'"):
        dtf.device("/GPU:0")
    with pytest.raises(ValueError, match="install CuPy"):
        dtf.constant([1.0]).gpu()
    with pytest.raises(ValueError, match="does not exist: this machine has 1 CPU"):
        dtf.device("/CPU:1")


@pytest.mark.skipif(HAS_GPU, reason="checks the CPU-only machine's fallback")
def test_soft_device_placement_runs_on_the_cpu():
    dtf.config.set_soft_device_placement(True)
    try:
        assert dtf.config.get_soft_device_placement()
        with dtf.device("/GPU:0"):
            t = dtf.constant([1.0, 2.0]) * 2.0
        assert t.device == CPU_NAME
        np.testing.assert_allclose(t.numpy(), [2.0, 4.0])
    finally:
        dtf.config.set_soft_device_placement(False)


def test_cpu_copy_keeps_values_and_gradients():
    x = dtf.constant([1.0, 2.0])
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = dtf.reduce_sum(x.cpu() * 3.0)
    assert x.cpu().device == CPU_NAME
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [3.0, 3.0])


def test_numpy_returns_host_values():
    assert isinstance(dtf.constant(2.5).numpy(), np.float32)
    a = dtf.constant([[1, 2]]).numpy()
    assert type(a) is np.ndarray and a.tolist() == [[1, 2]]


def test_visible_devices_and_memory_growth_calls_are_accepted():
    cpus = dtf.config.list_physical_devices("CPU")
    dtf.config.set_visible_devices(cpus)  # hides GPUs where there are any
    try:
        assert dtf.config.get_visible_devices("GPU") == []
        assert backend.default_device() == backend.DeviceSpec("CPU", 0)
        assert dtf.zeros((1,)).device == CPU_NAME
    finally:
        dtf.config.set_visible_devices(dtf.config.list_physical_devices())
    for gpu in dtf.config.list_physical_devices("GPU"):
        dtf.config.experimental.set_memory_growth(gpu, True)
    with pytest.raises(TypeError, match="PhysicalDevice"):
        dtf.config.experimental.set_memory_growth("GPU:0", True)


def test_cuda_graph_switch():
    assert dtf.config.cuda_graphs_enabled()
    dtf.config.set_cuda_graphs(False)
    try:
        assert not dtf.config.cuda_graphs_enabled()
    finally:
        dtf.config.set_cuda_graphs(True)


@pytest.mark.skipif(HAS_GPU, reason="the CPU path")
def test_compiled_functions_keep_their_plain_plan_on_the_cpu():
    @dtf.function
    def f(x):
        return x * 2.0 + 1.0

    x = dtf.constant([1.0, 2.0])
    f(x)
    concrete = f.get_concrete_function(x)
    assert not isinstance(concrete._plan, cuda_graph.GraphPlan)
    assert cuda_graph.wrap(concrete._plan, concrete.graph) is concrete._plan


def test_random_and_print_nodes_are_not_captured():
    @dtf.function
    def noisy(x):
        return dtf.nn.dropout(x, 0.5, seed=1) + dtf.random.normal([2], seed=2)

    @dtf.function
    def update(v, x):
        v.assign_add(x)
        return v.read_value() * 2.0

    x = dtf.constant([1.0, 2.0])
    v = dtf.Variable([0.0, 0.0])
    noisy(x)
    update(v, x)
    refused = cuda_graph.uncapturable_nodes(noisy.get_concrete_function(x).graph)
    assert refused and all(name in ("dropout", "random_draw") for name in refused)
    assert cuda_graph.uncapturable_nodes(update.get_concrete_function(v, x).graph) == []


@pytest.mark.skipif(HAS_GPU, reason="this machine has no GPU")
def test_detection_finds_no_gpu_here():
    assert cupy_backend.detect_devices() == 0
    assert cupy_backend.installed() is None
    assert dtf.config.list_physical_devices("GPU") == []
    assert not backend.accelerated[0]


@pytest.mark.skipif(HAS_GPU, reason="this machine has no GPU")
def test_import_dtf_does_not_import_cupy():
    out = _python("import sys, dtf; x = dtf.constant([1.0]) + 1.0; "
                  "import dtf.keras, dtf.compile.cuda_graph; "
                  "print('cupy' in sys.modules, len(dtf.config.list_physical_devices('GPU')))")
    assert out == "False 0"


def test_disabling_the_gpu_by_environment():
    out = _python("import sys, dtf; from dtf.backend import cupy_backend; "
                  "print(cupy_backend.detect_devices(), 'cupy' in sys.modules, "
                  "dtf.constant(1.0).device)", DTF_DISABLE_GPU="1")
    assert out == f"0 False {CPU_NAME}"


def test_driver_probe_never_raises(monkeypatch):
    import ctypes

    def no_library(name, *args, **kwargs):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", no_library)
    assert cupy_backend._driver_device_count() == 0

    class FailingDriver:
        def cuInit(self, flags):
            return 35  # CUDA_ERROR_INSUFFICIENT_DRIVER

    monkeypatch.setattr(ctypes, "CDLL", lambda name, *a, **k: FailingDriver())
    assert cupy_backend._driver_device_count() == 0


def test_string_tensors_and_host_only_ops_stay_on_the_host():
    s = dtf.constant(["a", "bc"])
    assert s.device == CPU_NAME
    assert dtf.strings.length(s).device == CPU_NAME


def test_variable_assign_keeps_its_device():
    with dtf.device("/CPU:0"):
        v = dtf.Variable([1.0, 2.0])
    v.assign([3.0, 4.0])
    v.assign_add(dtf.constant([1.0, 1.0]))
    assert v.device == CPU_NAME
    np.testing.assert_allclose(v.numpy(), [4.0, 5.0])


@pytest.mark.parametrize("value, hidden", [
    (None, False), ("", True), ("-1", True), ("NoDevFiles", True), (" ", True), ("0", False),
    ("1,0", False), (" 2", False), ("GPU-8a1b2c3d", False), ("MIG-GPU-1/0/0", False),
])
def test_visible_devices_values_that_hide_every_gpu(value, hidden):
    assert cupy_backend.hides_all_devices(value) is hidden


def test_hidden_devices_skip_the_driver_so_a_later_value_is_seen():
    code = """
import os, warnings
import dtf
from dtf.backend import cupy_backend as cb
first = (cb.detect_devices(), cb._detected[0][2])
os.environ['CUDA_VISIBLE_DEVICES'] = '0'
cb.detect_devices()
second = cb._detected[0][2]
os.environ['CUDA_VISIBLE_DEVICES'] = '1'
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    cb.detect_devices()
print(first, second, [str(w.message)[:40] for w in caught])
"""
    out = _python(code, CUDA_VISIBLE_DEVICES="")
    # "" hides every device: no cuInit, so "0" is looked up; after that the driver is
    # initialised and a change only warns
    assert out == "(0, False) True [\"CUDA_VISIBLE_DEVICES changed from '0' to\"]"
