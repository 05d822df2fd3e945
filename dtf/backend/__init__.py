"""The backend seam: which array module (`xp`) holds a tensor's values, and on which device.

dtf computes on NumPy arrays on the CPU. A GPU backend (CuPy) plugs in by calling
`register_backend` with its device type and array module; the op table then runs the same `xp`
implementations on that module's arrays. Nothing here imports CuPy.

Placement follows TensorFlow: ops run on the device of `dtf.device(...)` when one is given, else
on the first registered accelerator, else on the CPU; an op's inputs must live on one device.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Backend",
    "DeviceSpec",
    "backend_of",
    "current_device",
    "device",
    "numpy_backend",
    "physical_devices",
    "register_backend",
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
                index = int(fields[1])
        if kind is None:
            raise ValueError(f"Unknown device {spec!r}: use '/CPU:0' or '/GPU:<index>'.")
        return cls(kind, index)


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


def register_backend(backend: Backend) -> None:
    """Makes an accelerator backend available to placement (the CuPy backend calls this)."""
    _backends[backend.device_type] = backend
    for t in backend.array_types:
        _by_array_type[t] = backend


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
    """TensorFlow's rule: the first GPU when one is present, else the CPU."""
    gpu = _backends.get("GPU")
    if gpu is not None and gpu.device_count() > 0:
        return DeviceSpec("GPU", 0)
    return CPU0


def backend_for(device: DeviceSpec) -> Backend:
    try:
        return _backends[device.device_type]
    except KeyError:
        raise ValueError(
            f"No backend for device {device.name}: install CuPy (pip install dtf[cuda12x]) on a "
            "machine with an NVIDIA GPU, or place the op on '/CPU:0'.") from None


def place(array):
    """Moves a freshly made host array onto the current device (a no-op on the CPU)."""
    dev = current_device()
    if dev.device_type == "CPU":
        return array
    return backend_for(dev).to_device(array, dev)


class device:
    """Context manager that places the ops and tensors created inside it on a device.

    Example:
        >>> with dtf.device("/CPU:0"):
        ...     x = dtf.ones((2, 2))
    """

    def __init__(self, name):
        self._spec = None if name is None else DeviceSpec.parse(name)
        if self._spec is not None:
            backend = backend_for(self._spec)
            if self._spec.index >= backend.device_count():
                raise ValueError(f"Device {name!r} does not exist: this machine has "
                                 f"{backend.device_count()} {self._spec.device_type} device(s).")

    def __enter__(self):
        stack = getattr(_local, "stack", None)
        if stack is None:
            stack = _local.stack = []
        stack.append(self._spec if self._spec is not None else default_device())
        return self

    def __exit__(self, *exc):
        _local.stack.pop()
        return False
