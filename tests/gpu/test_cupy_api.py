"""The GPU backend against the CuPy installed here, checked without a device.

CuPy imports, constructs its host-side objects and answers introspection on a machine without
a GPU; these tests check every CuPy attribute and keyword dtf's GPU code uses exists in that
CuPy, the semantics dtf relies on where they can be read off (capture mode, ufunc types), and
the parts of the backend that need no device (library probe, capture guard, transfer layout,
scatter-add dtypes). They run wherever CuPy is importable, GPU or not; they never fake one.
"""

import ast
import inspect
import pathlib
import threading

import numpy as np
import pytest

cupy = pytest.importorskip("cupy")
cupyx = pytest.importorskip("cupyx")

from dtf.cluster import device_transfer

import dtf
from dtf.backend import cupy_backend
from dtf.compile import cuda_graph
from dtf.ops import array_utils

ROOT = pathlib.Path(__file__).resolve().parents[2]
# where dtf calls CuPy: `cupy.*` / `xp.*` / `gp.*` (the array module of device arrays)
SOURCES = sorted([*ROOT.joinpath("dtf").rglob("*.py"), *ROOT.joinpath("kernels").glob("*.py"),
                  *ROOT.joinpath("cluster").glob("*.py")])
MODULE_NAMES = ("cupy", "xp", "gp")


def _attribute_calls():
    """{(dotted name after the module, file:line): (call keywords or None for a bare read)}."""
    uses = {}
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        calls = {id(node.func): node for node in ast.walk(tree) if isinstance(node, ast.Call)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            parts, base = [], node
            while isinstance(base, ast.Attribute):
                parts.append(base.attr)
                base = base.value
            if not (isinstance(base, ast.Name) and base.id in MODULE_NAMES):
                continue
            name = ".".join(reversed(parts))
            call = calls.get(id(node))
            keywords = None if call is None else tuple(k.arg for k in call.keywords if k.arg)
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            uses[(name, where)] = keywords
    return uses


USES = _attribute_calls()


def _resolve(name):
    obj = cupy
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def _is_prefix_of_longer(name):
    # `cupy.cuda` read on its way to `cupy.cuda.Device` is checked as part of the longer name
    return any(other.startswith(name + ".") for other, _ in USES)


def test_the_scan_sees_the_backend():
    names = {name for name, _ in USES}
    assert {"cuda.MemoryPool", "cuda.Stream", "cuda.using_allocator", "copyto", "empty_like",
            "asarray", "cuda.Device", "add.at", "linalg.solve"} <= names, sorted(names)


@pytest.mark.parametrize("name", sorted({n for n, _ in USES}))
def test_every_cupy_attribute_dtf_uses_exists(name):
    if name in ("__name__",):
        return
    where = [w for n, w in USES if n == name]
    try:
        _resolve(name)
    except AttributeError:
        if _is_prefix_of_longer(name):
            return
        pytest.fail(f"cupy.{name} (used at {where}) does not exist in CuPy {cupy.__version__}")


def test_keywords_dtf_passes_are_accepted():
    bad = []
    for (name, where), keywords in USES.items():
        if not keywords:
            continue
        try:
            obj = _resolve(name)
            params = inspect.signature(obj).parameters
        except (AttributeError, TypeError, ValueError):
            continue  # ufuncs and Cython methods: checked by the tests below
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            continue
        bad += [f"{where}: cupy.{name}(..., {k}=)" for k in keywords if k not in params]
    assert not bad, bad


def test_cuda_graph_capture_api():
    stream_init = cupy.cuda.Stream.__init__.__doc__
    assert "non_blocking" in stream_init
    begin = " ".join(cupy.cuda.Stream.begin_capture.__doc__.split())
    # dtf allocates (cudaMalloc from a private pool) during capture: legal in relaxed mode only
    assert "begin_capture(self, mode=None)" in begin
    assert "Default is :data:`~cupy.cuda.runtime.streamCaptureModeRelaxed`" in begin
    assert "end_capture(self)" in cupy.cuda.Stream.end_capture.__doc__
    assert "cupy.cuda.Graph" in cupy.cuda.Stream.end_capture.__doc__
    assert "launch(self, stream=None)" in cupy.cuda.Graph.launch.__doc__
    assert "upload(self, stream=None)" in cupy.cuda.Graph.upload.__doc__
    assert callable(cupy.cuda.MemoryPool().malloc)  # a private pool needs no device to exist
    assert list(inspect.signature(cupy.cuda.using_allocator).parameters) == ["allocator"]
    assert callable(cupy.get_default_pinned_memory_pool().malloc)
    assert "allocator" in cupy.cuda.set_pinned_memory_allocator.__doc__


def test_curand_generator_api():
    state = cupy.random.RandomState
    assert list(inspect.signature(state.__init__).parameters) == ["self", "seed", "method"]
    for method, params in {"random_sample": ["size", "dtype"],
                           "standard_normal": ["size", "dtype"],
                           "randint": ["low", "high", "size", "dtype"],
                           "permutation": ["a"], "seed": ["seed"]}.items():
        got = list(inspect.signature(getattr(state, method)).parameters)[1:]
        assert got == params, (method, got)
    # cuRAND draws floats only as float32/float64: dtf's samplers draw float16 through those
    source = inspect.getsource(cupy.random._generator._check_and_get_dtype)
    assert "('f', 'd')" in source


def test_scatter_add_and_erf_used_by_the_ops():
    assert list(inspect.signature(cupyx.scatter_add).parameters) == ["a", "slices", "value"]
    from cupyx.scipy import special

    assert {"f->f", "d->d"} <= set(special.erf.types)


def test_scatter_add_widens_the_dtypes_cuda_has_no_atomic_add_for():
    header = pathlib.Path(cupy.__file__).parent / "_core/include/cupy/atomics.cuh"
    text = header.read_text()
    assert "long long atomicAdd(long long" in text  # int64 (CUDA has unsigned only)
    assert "float16" in text
    for dtype, wide in [(np.int8, np.int64), (np.uint16, np.int64), (np.bool_, np.int64),
                        (np.int32, np.int32), (np.int64, np.int64), (np.uint64, np.uint64),
                        (np.float16, np.float16), (np.float32, np.float32),
                        (np.float64, np.float64), (np.complex64, np.float32),
                        (np.complex128, np.float64)]:
        assert array_utils.scatter_add_dtype(dtype) == np.dtype(wide), dtype


def test_library_probe_reports_what_cupy_cannot_load():
    missing = cupy_backend.missing_libraries()
    from cupy_backends.cuda import libs

    for name in cupy_backend.REQUIRED_LIBRARIES:
        try:
            getattr(libs, name)
            loads = True
        except ImportError:
            loads = False
        assert (name in missing) is not loads
    assert all(isinstance(error, str) and error for error in missing.values())


def test_a_device_without_its_libraries_leaves_dtf_on_the_cpu(monkeypatch):
    if not cupy_backend.missing_libraries() or cupy_backend.installed() is not None:
        pytest.skip("the CUDA libraries load here (or a GPU backend is registered)")
    # the driver's answer and CuPy's device query stand in for a GPU machine whose CuPy was
    # installed without the CUDA libraries; nothing else of a GPU is pretended
    monkeypatch.setattr(cupy_backend, "detect_devices", lambda: 1)
    monkeypatch.setattr(cupy_backend, "_import_cupy", lambda: cupy)
    monkeypatch.setattr(cupy_backend, "_warned", set())
    with pytest.warns(RuntimeWarning, match=r"cannot load .*cupy-cuda12x\[ctk\].*runs on the "
                                            r"CPU|runs on the CPU.*cupy-cuda12x\[ctk\]"):
        assert cupy_backend.install() is None
    assert cupy_backend.installed() is None and not dtf.backend.accelerated[0]


def test_capture_guard_refuses_host_to_device_staging_on_the_capturing_thread():
    assert not cupy_backend.capturing()
    seen = {}
    with cupy_backend.capture_guard(cupy):
        assert cupy_backend.capturing()
        with pytest.raises(cupy_backend.HostTransferInCapture, match="CUDA-graph capture"):
            cupy.cuda.alloc_pinned_memory(64)  # what cupy.asarray(host array) stages through

        def other_thread():
            seen["capturing"] = cupy_backend.capturing()
            try:
                cupy.cuda.alloc_pinned_memory(64)
                seen["error"] = None
            except Exception as error:  # noqa: BLE001  (no driver here: CUDA's own error)
                seen["error"] = error

        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert seen["capturing"] is False
    assert not isinstance(seen["error"], cupy_backend.HostTransferInCapture)
    assert not cupy_backend.capturing()
    try:
        cupy.cuda.alloc_pinned_memory(64)
    except cupy_backend.HostTransferInCapture:
        pytest.fail("the guard's allocator outlived the capture")
    except Exception:  # noqa: BLE001, S110  (no driver here: the default pool's CUDA error)
        pass


def test_transfer_buffers_keep_each_value_shape_and_alignment():
    values = [np.array(7), np.arange(6, dtype=np.float32).reshape(2, 3),
              np.array([True, False]), np.zeros((0, 3)), np.float64(2.5)]
    staging, layout = device_transfer._pack(values)
    assert staging.dtype == np.uint8
    assert all(offset % 256 == 0 for offset, *_ in layout)
    for value, view in zip(values, device_transfer._views(staging, layout)):
        assert view.shape == np.shape(value) and view.dtype == np.asarray(value).dtype
        np.testing.assert_array_equal(view, value)


def test_graphs_copy_out_every_variable_a_step_writes():
    v = dtf.Variable([1.0, 2.0])
    w = dtf.Variable([0.5, 0.5])
    opt = dtf.keras.optimizers.SGD(0.1, momentum=0.9)

    @dtf.function
    def step(x):
        with dtf.GradientTape() as tape:
            loss = dtf.reduce_sum(v * x * w)
        opt.apply_gradients([(tape.gradient(loss, v), v)])
        w.assign_add(x)
        return loss

    x = dtf.constant([1.0, 1.0])
    step(x)
    graph = step.get_concrete_function(x).graph
    written = {id(u) for u in cuda_graph.written_variables(graph)}
    assert id(v) in written and id(w) in written
    assert all(id(u) in written for u in opt.variables)  # slots and iterations
    assert cuda_graph.uncapturable_nodes(graph) == []


def test_graph_plan_attribute_probes_before_init_raise_attribute_error():
    plan = cuda_graph.GraphPlan.__new__(cuda_graph.GraphPlan)
    assert not hasattr(plan, "source")
