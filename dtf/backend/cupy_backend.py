"""The GPU backend: CuPy arrays on NVIDIA devices, found without importing CuPy first.

`detect_devices()` asks the CUDA driver itself (ctypes on `libcuda.so.1`: `cuInit`,
`cuDeviceGetCount`) how many devices this process sees (the driver honours
`CUDA_VISIBLE_DEVICES`, which Ray sets for a worker with `{"GPU": 1}`). Only when that count is
positive is CuPy imported, so `import dtf` on a machine without a GPU never loads CuPy, and a
missing driver, a CuPy that fails to import, or a driver error all mean "no GPU", never a
crash. `DTF_DISABLE_GPU=1` in the environment keeps dtf on the CPU even where a GPU is.

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

import ctypes
import os
import threading

import numpy as np

from dtf.backend import Backend, DeviceSpec

__all__ = ["CupyBackend", "detect_devices", "generator_factory", "install", "installed"]

_CUDA_SUCCESS = 0
_detected: list = []  # [count] once detection ran
_installed: list = []  # [CupyBackend] once registered


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


def detect_devices() -> int:
    """How many CUDA devices dtf can use: 0 without a driver, a device, or `DTF_DISABLE_GPU`.

    Asks the driver through ctypes; never imports CuPy. The answer is kept for the process.
    """
    if not _detected:
        disabled = os.environ.get("DTF_DISABLE_GPU", "").strip().lower() in ("1", "true", "yes")
        _detected.append(0 if disabled else _driver_device_count())
    return _detected[0]


def _import_cupy():
    """CuPy, or None when it is not installed or cannot talk to the device."""
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() <= 0:
            return None
        return cupy
    except Exception:  # noqa: BLE001  (ImportError, CUDARuntimeError, a broken install: no GPU)
        return None


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

    One cuRAND generator per device is re-seeded for every draw with the draw's entropy (the
    tuple dtf's seed rules make), so a draw depends only on its seeds, as on the CPU; fresh
    draws (no seeds anywhere) use a second generator seeded from the OS.
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
        self._seeded: dict = {}  # device id -> RandomState re-seeded per draw
        self._fresh: dict = {}  # device id -> RandomState for unseeded draws
        self._lock = threading.Lock()

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
        with self._lock:
            state = self._seeded.get(device)
            if state is None:
                state = self._seeded[device] = cupy.random.RandomState(seed, self._method)
            else:
                state.seed(seed)
        return _CurandGenerator(cupy, state)


def _reset_after_fork():
    _detected.clear()  # a child (a Ray worker) may see other devices (CUDA_VISIBLE_DEVICES)


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
