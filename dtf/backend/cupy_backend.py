"""The GPU backend: CuPy arrays on NVIDIA devices, found without importing CuPy first.

`detect_devices()` asks the CUDA driver itself (ctypes on `libcuda.so.1`: `cuInit`,
`cuDeviceGetCount`) how many devices this process sees (the driver honours
`CUDA_VISIBLE_DEVICES`, which Ray sets for a worker with `{"GPU": 1}`, and to "" for an actor
without GPUs). Only when that count is positive is CuPy imported, so `import dtf` on a machine
without a GPU never loads CuPy, and a missing driver, a CuPy that fails to import, or a driver
error all mean "no GPU", never a crash. `DTF_DISABLE_GPU=1` in the environment keeps dtf on the
CPU even where a GPU is.

The driver reads `CUDA_VISIBLE_DEVICES` once, in `cuInit`: set it before importing dtf (Ray
sets it before it loads an actor's class). A value that hides every device ("", "-1") is read
without calling `cuInit`, so such a process can still be given a GPU later; once the driver
is initialised, a changed value cannot take effect and dtf warns.

CuPy 14 finds the CUDA libraries (cuBLAS, cuRAND, cuSOLVER) at run time; where they are
missing (`pip install cupy-cuda12x` without `[ctk]` and no CUDA toolkit), dtf warns and stays
on the CPU, as TensorFlow skips a GPU whose libraries it cannot load.

With a device, `install()` registers a `CupyBackend` with `dtf.backend` (placement then puts
ops on `GPU:0` by default, as TensorFlow does), and hands the random ops a cuRAND generator
that follows dtf's seed rules (`dtf.random.set_seed` + op seeds give the same stream
structure as on the CPU; the numbers differ from NumPy's, as TensorFlow's CPU and GPU kernels
differ).

Example:
    >>> from dtf.backend import cupy_backend
    >>> cupy_backend.detect_devices() >= 0
    True
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import warnings

import numpy as np

from dtf.backend import Backend, DeviceSpec

__all__ = ["CupyBackend", "HostTransferInCapture", "capture_guard", "capturing",
           "detect_devices", "generator_factory", "install", "installed"]

_CUDA_SUCCESS = 0
# [(count, CUDA_VISIBLE_DEVICES then, whether cuInit ran)] once detection ran
_detected: list = []
_installed: list = []  # [CupyBackend] once registered
_warned: set = set()  # warnings given once per process
# The libraries CuPy loads at run time that dtf's ops need: matmul/conv (cuBLAS), random ops
# (cuRAND), linalg (cuSOLVER).
REQUIRED_LIBRARIES = ("cublas", "curand", "cusolver")


def _driver_device_count() -> int:
    """Devices the CUDA driver reports to this process; 0 when there is no driver or it fails
    (no `libcuda.so.1`, `cuInit` error such as "no device" or "insufficient driver")."""
    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        return 0
    try:
        if lib.cuInit(0) != _CUDA_SUCCESS:
            return 0
        count = ctypes.c_int(0)
        if lib.cuDeviceGetCount(ctypes.byref(count)) != _CUDA_SUCCESS:
            return 0
        return max(int(count.value), 0)
    except (AttributeError, OSError):
        return 0


def hides_all_devices(visible: str | None) -> bool:
    """Whether a `CUDA_VISIBLE_DEVICES` value leaves no device visible: the driver lists the
    devices up to the first entry that is neither an index nor a GPU/MIG UUID, so "", "-1" or
    "NoDevFiles" hide them all. None (unset) hides nothing.

    Example:
        >>> hides_all_devices(""), hides_all_devices("1,0"), hides_all_devices(None)
        (True, False, False)
    """
    if visible is None:
        return False
    first = visible.split(",")[0].strip()
    return not (first.isdigit() or first.upper().startswith(("GPU-", "MIG-")))


def detect_devices() -> int:
    """How many CUDA devices dtf can use: 0 without a driver, a device, or `DTF_DISABLE_GPU`.

    Asks the driver through ctypes; never imports CuPy. The answer is kept for the process; a
    later call sees a changed `CUDA_VISIBLE_DEVICES` only while the driver was not initialised
    (the first value hid every device), and warns that the change has no effect otherwise.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if _detected:
        count, seen, initialised = _detected[0]
        if visible == seen:
            return count
        if initialised:
            if "visible" not in _warned:
                _warned.add("visible")
                warnings.warn(
                    f"CUDA_VISIBLE_DEVICES changed from {seen!r} to {visible!r} after dtf "
                    "initialised the CUDA driver, which keeps the devices it saw then. Set "
                    "CUDA_VISIBLE_DEVICES before importing dtf.", RuntimeWarning, stacklevel=2)
            return count
        _detected.clear()  # nothing initialised yet: look again with the new value
    disabled = os.environ.get("DTF_DISABLE_GPU", "").strip().lower() in ("1", "true", "yes")
    if disabled or hides_all_devices(visible):
        _detected.append((0, visible, False))
    else:
        _detected.append((_driver_device_count(), visible, True))
    return _detected[0][0]


def _import_cupy():
    """CuPy, or None when it is not installed or cannot talk to the device."""
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() <= 0:
            return None
        return cupy
    except Exception:  # noqa: BLE001  (ImportError, CUDARuntimeError, a broken install: no GPU)
        return None


def missing_libraries(names=REQUIRED_LIBRARIES) -> dict:
    """`{name: error}` for each CUDA library of `names` CuPy cannot load (CuPy 14 looks for
    them when first used: in the `nvidia-*` wheels of `cupy-cuda12x[ctk]`, or a CUDA toolkit).
    Needs no device."""
    from cupy_backends.cuda import libs

    missing = {}
    for name in names:
        try:
            getattr(libs, name)
        except ImportError as error:
            missing[name] = str(error).splitlines()[0]
    return missing


class CupyBackend(Backend):
    """CuPy arrays on CUDA devices `GPU:0 ... GPU:n-1`.

    Args:
        cupy: the imported `cupy` module.
        count: how many devices this process sees.
    """

    device_type = "GPU"

    def __init__(self, cupy, count: int):
        self.xp = cupy
        self.array_types = (cupy.ndarray,)
        self._count = count
        self._cupy = cupy
        # 0-d host scalars (`x * 2.0`, the 1.0 that seeds a gradient) go to the device once and
        # are shared afterwards: tensors are immutable, so a shared 0-d array is safe, and each
        # avoids a synchronous host-to-device copy per op.
        self._scalars: dict = {}
        self._scalars_lock = threading.Lock()

    def device_count(self) -> int:
        return self._count

    def device_of(self, array) -> DeviceSpec:
        return DeviceSpec("GPU", array.device.id)

    def to_device(self, array, device: DeviceSpec):
        """Copies a host array (or a CuPy array on another device) onto GPU `device.index`.

        String tensors (NumPy object arrays) have no GPU form: they stay on the host, as
        TensorFlow keeps string tensors on the CPU.
        """
        cupy = self._cupy
        if isinstance(array, cupy.ndarray):
            if array.device.id == device.index:
                return array
            with cupy.cuda.Device(device.index):
                return array.copy()
        if getattr(array, "dtype", None) is not None and array.dtype.kind in "OUS":
            return array
        if isinstance(array, np.generic) or (type(array) is np.ndarray and array.ndim == 0):
            return self._scalar(array, device.index)
        with cupy.cuda.Device(device.index):
            return cupy.asarray(array)

    def _scalar(self, value, index):
        value = np.asarray(value)
        if _captures[0] and capturing():
            # Inside a CUDA-graph capture the fill is only recorded (it runs at each replay)
            # in the graph's memory, so such an array must not enter the cache; nor may the
            # graph read a cached one, which the cache may drop (and the pool reuse) later.
            with self._cupy.cuda.Device(index):
                return self._cupy.asarray(value)
        key = (index, value.dtype.str, value.tobytes())
        cached = self._scalars.get(key)
        if cached is None:
            with self._cupy.cuda.Device(index):
                cached = self._cupy.asarray(value)
            with self._scalars_lock:
                if len(self._scalars) > 4096:  # a loop over many distinct scalars: start over
                    self._scalars.clear()
                self._scalars[key] = cached
        return cached

    def to_host(self, array):
        """A NumPy array with the values of a CuPy array (a device-to-host copy)."""
        if isinstance(array, self._cupy.ndarray):
            return array.get()
        return array


class _CurandGenerator:
    """NumPy `Generator`'s methods that dtf's samplers call, over a cuRAND Philox generator.

    One cuRAND generator per device and thread is re-seeded for every draw with the draw's
    entropy (the tuple dtf's seed rules make), so a draw depends only on its seeds, as on the
    CPU; fresh draws (no seeds anywhere) use a second generator seeded from the OS.
    """

    def __init__(self, cupy, state):
        self._cupy = cupy
        self._state = state

    def random(self, size=None, dtype=np.float64):
        return self._state.random_sample(size=size, dtype=dtype)

    def standard_normal(self, size=None, dtype=np.float64):
        return self._state.standard_normal(size=size, dtype=dtype)

    def integers(self, low, high=None, size=None, dtype=np.int64):
        if high is None:
            low, high = 0, low
        return self._state.randint(low, high, size=size, dtype=dtype)  # [low, high), as NumPy

    def permutation(self, n):
        return self._state.permutation(n)


class _GeneratorFactory:
    """`factory(entropy)` for `dtf.ops.random_ops.register_generator`."""

    def __init__(self, cupy):
        from cupy_backends.cuda.libs import curand

        self._cupy = cupy
        self._method = curand.CURAND_RNG_PSEUDO_PHILOX4_32_10
        # (device id, thread) -> RandomState: re-seeded per draw, so two threads must not
        # share one (a draw between another thread's seed and its draw would take its numbers)
        self._seeded: dict = {}
        self._fresh: dict = {}  # device id -> RandomState for unseeded draws

    def __call__(self, entropy):
        cupy = self._cupy
        device = cupy.cuda.Device().id
        if entropy is None:
            state = self._fresh.get(device)
            if state is None:
                state = self._fresh[device] = cupy.random.RandomState(method=self._method)
            return _CurandGenerator(cupy, state)
        words = np.random.SeedSequence(entropy).generate_state(2, np.uint32)
        seed = (int(words[0]) << 32 | int(words[1])) & ((1 << 63) - 1)
        key = (device, threading.get_ident())
        state = self._seeded.get(key)
        if state is None:
            state = self._seeded[key] = cupy.random.RandomState(seed, self._method)
        else:
            state.seed(seed)
        return _CurandGenerator(cupy, state)


def _reset_after_fork():
    # a child may be given other devices (CUDA_VISIBLE_DEVICES); it can look again only when
    # the parent never initialised the driver (CUDA cannot be used in a child forked after)
    if _detected and not _detected[0][2]:
        _detected.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def install() -> CupyBackend | None:
    """Registers the GPU backend when a device is present; returns it, or None (no GPU).

    Safe to call more than once (a Ray worker calls it after `CUDA_VISIBLE_DEVICES` is set).
    """
    if _installed:
        return _installed[0]
    count = detect_devices()
    if count <= 0:
        return None
    cupy = _import_cupy()
    if cupy is None:
        return None
    missing = missing_libraries()
    if missing:
        if "libraries" not in _warned:
            _warned.add("libraries")
            details = "; ".join(f"{name}: {error}" for name, error in missing.items())
            warnings.warn(
                f"dtf found {count} CUDA device(s), but CuPy cannot load "
                f"{', '.join(missing)} ({details}); dtf runs on the CPU. Install the CUDA "
                "libraries with `pip install 'cupy-cuda12x[ctk]'` (or put a CUDA 12 toolkit's "
                "lib64 on LD_LIBRARY_PATH), or set DTF_DISABLE_GPU=1 to silence this.",
                RuntimeWarning, stacklevel=2)
        return None
    from dtf import backend as _backend

    backend = CupyBackend(cupy, min(count, cupy.cuda.runtime.getDeviceCount()))
    _backend.register_backend(backend)
    _installed.append(backend)
    return backend


def generator_factory(xp):
    """The random ops' `factory(entropy)` for arrays of module `xp` (the installed CuPy), or
    None. `dtf.ops.random_ops` asks for it on its first draw on a GPU."""
    backend = installed()
    if backend is None or xp is not backend.xp:
        return None
    return _GeneratorFactory(xp)


def installed() -> CupyBackend | None:
    """The registered GPU backend, or None."""
    return _installed[0] if _installed else None


# -- CUDA-graph capture -------------------------------------------------------------------------
_capture_state = threading.local()
_captures = [0]  # captures under way in any thread (the eager path reads only this)


def capturing() -> bool:
    """Whether this thread is capturing a CUDA graph (`capture_guard`)."""
    return getattr(_capture_state, "active", False)


class HostTransferInCapture(RuntimeError):
    """A host-to-device copy was attempted while capturing a CUDA graph."""


class _RefusePinnedInCapture:
    """CuPy's pinned-memory allocator while some thread captures: CuPy stages every
    host-to-device copy of a non-scalar array in a pinned buffer it recycles once the copy is
    done, so a captured copy would read, at each replay, whatever that buffer holds then. A
    capturing thread gets an error instead (its capture falls back to plain execution); other
    threads allocate from the default pool as usual."""

    def __init__(self, malloc):
        self._malloc = malloc

    def __call__(self, size):
        if capturing():
            raise HostTransferInCapture(
                f"a host-to-device copy ({size} bytes) inside a CUDA-graph capture; it would "
                "replay reading a recycled staging buffer")
        return self._malloc(size)


_guard_lock = threading.Lock()


@contextlib.contextmanager
def capture_guard(cupy):
    """The state around one CUDA-graph capture on this thread: `capturing()` is True (0-d host
    scalars are made fresh, not taken from or put in the device cache) and host-to-device
    copies of arrays raise `HostTransferInCapture`. Once no thread captures, CuPy's default
    pinned-memory pool is the allocator again (CuPy offers no way to read the one set before).

    Example:
        >>> with capture_guard(cupy):  # doctest: +SKIP
        ...     stream.begin_capture()
    """
    with _guard_lock:
        if _captures[0] == 0:
            default = cupy.get_default_pinned_memory_pool().malloc
            cupy.cuda.set_pinned_memory_allocator(_RefusePinnedInCapture(default))
        _captures[0] += 1
    _capture_state.active = True
    try:
        yield
    finally:
        _capture_state.active = False
        with _guard_lock:
            _captures[0] -= 1
            if _captures[0] == 0:
                cupy.cuda.set_pinned_memory_allocator(cupy.get_default_pinned_memory_pool().malloc)
