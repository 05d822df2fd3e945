"""The backend seam: which array module (`xp`) holds a tensor's values, and on which device.

dtf computes on NumPy arrays on the CPU. A GPU backend (CuPy) plugs in by calling
`register_backend` with its device type and array module; the op table then runs the same `xp`
implementations on that module's arrays. Nothing here imports CuPy.

Placement follows TensorFlow's eager placement, and is only consulted once an accelerator is
registered (`accelerated[0]`; the NumPy-only path pays nothing for it):

- tensors made from host data (`dtf.constant`, `dtf.zeros`, random draws, Variables) go to the
  current device: the innermost `dtf.device(...)`, else the default (`GPU:0` when a GPU is
  present, else the CPU);
- an op runs on the device of the innermost `dtf.device(...)` scope when there is one; else on
  the device its inputs live on; when they live on different devices, the accelerator wins
  (the first input's GPU). Inputs elsewhere are copied to that device explicitly
  (`Backend.to_device` / `to_host`), as TensorFlow's eager runtime copies them;
- string tensors (object arrays) have no GPU form: ops on them run on the CPU.

The GPU backend itself (CuPy) is `dtf.backend.cupy_backend`; it is imported and registered
here only when the CUDA driver reports a device, so without a GPU nothing imports CuPy.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Backend",
    "DeviceSpec",
    "accelerated",
    "backend_of",
    "current_device",
    "device",
    "numpy_backend",
    "physical_devices",
    "place_inputs",
    "register_backend",
    "to_device",
]


@dataclass(frozen=True)
class DeviceSpec:
    """A logical device: its type (`"CPU"`, `"GPU"`) and index."""

    device_type: str
    index: int = 0

    @property
    def name(self) -> str:
        return f"/job:localhost/replica:0/task:0/device:{self.device_type}:{self.index}"

    @classmethod
    def parse(cls, spec: str) -> DeviceSpec:
        """Parses `"/CPU:0"`, `"GPU:1"`, `"/device:GPU:0"`, `"/job:localhost/.../device:CPU:0"`."""
        if isinstance(spec, DeviceSpec):
            return spec
        if not isinstance(spec, str):
            raise TypeError(f"A device name must be a string like '/CPU:0', got {spec!r}.")
        parts = [p for p in spec.strip("/").split("/") if p]
        kind, index = None, 0
        for part in parts:
            fields = part.split(":")
            if fields[0] in ("job", "replica", "task"):
                continue
            if fields[0] == "device":
                fields = fields[1:]
            if not fields or fields[0].upper() not in ("CPU", "GPU"):
                raise ValueError(f"Unknown device {spec!r}: use '/CPU:0' or '/GPU:<index>'.")
            kind = fields[0].upper()
            if len(fields) > 1 and fields[1] not in ("", "*"):
                try:
                    index = int(fields[1])
                except ValueError:
                    raise ValueError(f"Unknown device {spec!r}: the index {fields[1]!r} is not "
                                     "a number; use '/CPU:0' or '/GPU:<index>'.") from None
        if kind is None:
            raise ValueError(f"Unknown device {spec!r}: use '/CPU:0' or '/GPU:<index>'.")
        if index < 0:
            raise ValueError(f"Unknown device {spec!r}: a device index is >= 0.")
        return cls(kind, index)

    def to_string(self) -> str:
        return self.name


class Backend:
    """An array module on one device type.

    Subclasses for accelerators override `to_device` and `to_host`; `xp` is the array module
    whose functions the op table calls (NumPy's API).
    """

    device_type = "CPU"
    xp = np
    array_types: tuple = (np.ndarray, np.generic)

    def device_count(self) -> int:
        return 1

    def device_of(self, array) -> DeviceSpec:
        return CPU0

    def to_device(self, array, device: DeviceSpec):
        """Copies a NumPy array or this backend's array onto `device`."""
        return np.asarray(array) if not isinstance(array, self.array_types) else array

    def to_host(self, array) -> np.ndarray:
        return array


CPU0 = DeviceSpec("CPU", 0)
numpy_backend = Backend()
_backends: dict[str, Backend] = {"CPU": numpy_backend}
# type(array) -> backend, filled lazily; NumPy's types are known up front (the eager hot path).
_by_array_type: dict[type, Backend] = {np.ndarray: numpy_backend}
# accelerated[0]: an accelerator backend is registered, so ops consult placement (the op table
# reads this one flag; while it is False the eager path is NumPy's, untouched).
accelerated = [False]


def register_backend(backend: Backend) -> None:
    """Makes an accelerator backend available to placement (the CuPy backend calls this)."""
    _backends[backend.device_type] = backend
    for t in backend.array_types:
        _by_array_type[t] = backend
    if backend.device_type != "CPU" and backend.device_count() > 0:
        accelerated[0] = True


def backend_of(array) -> Backend:
    """The backend whose module holds `array` (NumPy for host arrays and scalars)."""
    b = _by_array_type.get(type(array))
    if b is not None:
        return b
    for backend in _backends.values():
        if isinstance(array, backend.array_types):
            _by_array_type[type(array)] = backend
            return backend
    return numpy_backend


def physical_devices(device_type: str | None = None) -> list[DeviceSpec]:
    out = []
    for kind, backend in _backends.items():
        if device_type is None or device_type.upper() == kind:
            out.extend(DeviceSpec(kind, i) for i in range(backend.device_count()))
    return out


_local = threading.local()


def current_device() -> DeviceSpec:
    """The device new tensors are placed on: `dtf.device`'s, else the default."""
    stack = getattr(_local, "stack", None)
    if stack:
        return stack[-1]
    return default_device()


def default_device() -> DeviceSpec:
    """TensorFlow's rule: the first GPU when one is present (and visible), else the CPU."""
    gpu = _backends.get("GPU")
    if gpu is not None and _gpu_visible[0] and gpu.device_count() > 0:
        return DeviceSpec("GPU", 0)
    return CPU0


_gpu_visible = [True]
# soft_placement[0]: `dtf.device` of a device this machine lacks places on the CPU instead of
# raising (`dtf.config.set_soft_device_placement`).
soft_placement = [False]


def gpu_visible() -> bool:
    return _gpu_visible[0]


def set_gpu_visible(visible: bool) -> None:
    """Hides the GPUs from default placement (`dtf.config.set_visible_devices([], "GPU")`)."""
    _gpu_visible[0] = bool(visible)


def backend_for(device: DeviceSpec) -> Backend:
    try:
        return _backends[device.device_type]
    except KeyError:
        raise ValueError(
            f"No backend for device {device.name}: install CuPy (pip install dtf[cuda12x]) on a "
            "machine with an NVIDIA GPU, or place the op on '/CPU:0'.") from None


def place(array):
    """Moves a freshly made host array onto the current device (a no-op on the CPU)."""
    if not accelerated[0]:
        return array
    return to_device(array, current_device())


def to_device(array, device: DeviceSpec):
    """`array` (of any backend) on `device`: itself when it is there already, else a copy.

    String arrays (NumPy object dtype) stay on the host: no accelerator holds them.
    """
    source = _by_array_type.get(type(array)) or backend_of(array)
    if device.device_type == "CPU":
        return array if source is numpy_backend else source.to_host(array)
    if source is not numpy_backend and source.device_of(array) == device:
        return array
    return backend_for(device).to_device(array, device)


def _is_string(array) -> bool:
    dtype = getattr(array, "dtype", None)
    return dtype is not None and dtype.kind == "O"


def op_device(arrays, host_only: bool = False) -> DeviceSpec:
    """The device an op on `arrays` runs on (see the module docstring for the rule);
    `host_only` ops (strings, Python callbacks) run on the CPU."""
    if host_only:
        return CPU0
    stack = getattr(_local, "stack", None)
    if stack:
        target = stack[-1]
    elif not arrays:
        target = default_device()
    else:
        target = CPU0
        for a in arrays:
            b = _by_array_type.get(type(a)) or backend_of(a)
            if b is not numpy_backend:
                target = b.device_of(a)
                break
    if target.device_type != "CPU" and any(_is_string(a) for a in arrays):
        return CPU0  # string ops run on the host, as in TensorFlow
    return target


def place_inputs(arrays, host_only: bool = False):
    """(device, backend, arrays moved there) for an op on `arrays`."""
    target = op_device(arrays, host_only)
    backend = backend_for(target)
    # one device of this kind: an array of the backend's type is on it, no need to ask
    single = backend is numpy_backend or backend.device_count() == 1
    moved = arrays
    for i, a in enumerate(arrays):
        b = _by_array_type.get(type(a)) or backend_of(a)
        if b is backend and (single or b.device_of(a) == target):
            continue
        if moved is arrays:
            moved = list(arrays)
        moved[i] = to_device(a, target)
    return target, backend, moved


class device:
    """Context manager that places the ops and tensors created inside it on a device.

    Example:
        >>> with dtf.device("/CPU:0"):
        ...     x = dtf.ones((2, 2))
    """

    def __init__(self, name):
        self._spec = None if name is None else DeviceSpec.parse(name)
        if self._spec is not None:
            backend = _backends.get(self._spec.device_type)
            if soft_placement[0] and (backend is None or self._spec.index >= backend.device_count()
                                      or (self._spec.device_type == "GPU"
                                          and not _gpu_visible[0])):
                self._spec = CPU0  # soft placement: run where it can run
                return
            backend = backend_for(self._spec)
            if self._spec.index >= backend.device_count():
                raise ValueError(f"Device {name!r} does not exist: this machine has "
                                 f"{backend.device_count()} {self._spec.device_type} device(s). "
                                 "Use an index below that, or '/CPU:0'.")

    def __enter__(self):
        stack = getattr(_local, "stack", None)
        if stack is None:
            stack = _local.stack = []
        spec = self._spec if self._spec is not None else default_device()
        stack.append(spec)
        self._host_paths_off = spec.device_type != "CPU"
        if self._host_paths_off:
            _host_fast_paths(False)
        return self

    def __exit__(self, *exc):
        _local.stack.pop()
        if self._host_paths_off:
            _host_fast_paths(True)
        return False


_accelerator_scopes = [0, True]  # [open accelerator scopes, the fast-path flag saved at 0]
_scopes_lock = threading.Lock()


def _host_fast_paths(enable: bool) -> None:
    """Inside an accelerator scope, an op on host tensors must run on the accelerator, so the
    op functions' NumPy shortcut (`registry.fast_paths`) is switched off while any is open."""
    from dtf.ops import registry

    with _scopes_lock:
        if not enable:
            if _accelerator_scopes[0] == 0:
                _accelerator_scopes[1] = registry.fast_paths[0]
            _accelerator_scopes[0] += 1
            registry.fast_paths[0] = False
        else:
            _accelerator_scopes[0] -= 1
            if _accelerator_scopes[0] == 0:
                registry.fast_paths[0] = _accelerator_scopes[1]


def install_accelerators() -> None:
    """Registers the GPU backend when this process sees a CUDA device (imports CuPy only
    then); a no-op otherwise. Runs when `dtf.backend` is imported; a Ray worker whose
    `CUDA_VISIBLE_DEVICES` was set after that may call it again."""
    from dtf.backend import cupy_backend

    cupy_backend.install()


install_accelerators()
