"""`dtf.config`: the devices dtf can place ops on, and switches for how it runs.

Example:
    >>> [d.device_type for d in dtf.config.list_physical_devices("CPU")]
    ['CPU']
    >>> dtf.config.cuda_graphs_enabled()
    True
"""

from __future__ import annotations

import types
from typing import NamedTuple

from dtf import backend as _backend

__all__ = ["LogicalDevice", "PhysicalDevice", "cuda_graphs_enabled", "experimental",
           "functions_run_eagerly", "get_soft_device_placement", "get_visible_devices",
           "list_logical_devices", "list_physical_devices", "run_functions_eagerly",
           "set_cuda_graphs", "set_soft_device_placement", "set_visible_devices"]


class PhysicalDevice(NamedTuple):
    name: str
    device_type: str


class LogicalDevice(NamedTuple):
    name: str
    device_type: str


def list_physical_devices(device_type=None) -> list[PhysicalDevice]:
    """The devices of this machine: `PhysicalDevice(name='/physical_device:CPU:0', ...)`.

    GPUs are listed when CuPy is installed and the CUDA driver reports a device.

    Example:
        >>> dtf.config.list_physical_devices("CPU")
        [PhysicalDevice(name='/physical_device:CPU:0', device_type='CPU')]
    """
    return [PhysicalDevice(f"/physical_device:{d.device_type}:{d.index}", d.device_type)
            for d in _backend.physical_devices(device_type)]


def list_logical_devices(device_type=None) -> list[LogicalDevice]:
    """The devices ops may be placed on (the visible ones), with their full names."""
    return [LogicalDevice(d.name, d.device_type)
            for d in _backend.physical_devices(device_type)
            if d.device_type == "CPU" or _backend.gpu_visible()]


def set_visible_devices(devices, device_type=None) -> None:
    """Restricts placement to `devices` (TensorFlow's `tf.config.set_visible_devices`).

    dtf honours the one choice that matters on a machine with a GPU: `set_visible_devices([],
    "GPU")` (or a list of CPU devices only) hides the GPUs, so ops are placed on the CPU. Call
    it before creating tensors: tensors and Variables already on a GPU stay there.

    Example:
        >>> dtf.config.set_visible_devices(dtf.config.list_physical_devices("CPU"))
    """
    if isinstance(devices, PhysicalDevice):
        devices = [devices]
    kinds = {d.device_type for d in devices}
    if device_type is not None and str(device_type).upper() != "GPU":
        return  # only the GPUs' visibility is configurable
    if "GPU" in kinds:
        indices = sorted(int(d.name.rsplit(":", 1)[1]) for d in devices if d.device_type == "GPU")
        if indices != list(range(len(indices))):
            raise ValueError(f"dtf can hide all GPUs or none, not pick {indices}: set "
                             "CUDA_VISIBLE_DEVICES before starting the process to choose GPUs.")
    _backend.set_gpu_visible("GPU" in kinds)


def get_visible_devices(device_type=None) -> list[PhysicalDevice]:
    """The physical devices placement may use (see `set_visible_devices`)."""
    return [d for d in list_physical_devices(device_type)
            if d.device_type == "CPU" or _backend.gpu_visible()]


def set_soft_device_placement(enabled: bool) -> None:
    """When enabled, `dtf.device("/GPU:0")` on a machine without that GPU places on the CPU
    instead of raising (TensorFlow enables this by default; dtf raises by default, so a
    program meant for a GPU does not silently run on the CPU).

    Example:
        >>> dtf.config.set_soft_device_placement(False)
    """
    _backend.soft_placement[0] = bool(enabled)


def get_soft_device_placement() -> bool:
    return _backend.soft_placement[0]


_cuda_graphs = [True]


def set_cuda_graphs(enabled: bool) -> None:
    """Turns the capture of `dtf.function` calls on the GPU into CUDA graphs on or off.

    When on (the default), a compiled function called again with inputs of the same shapes
    on the GPU is captured once into a CUDA graph and then replayed (one launch per call);
    see `dtf.compile.cuda_graph`. It has no effect on the CPU.

    Example:
        >>> dtf.config.set_cuda_graphs(False); dtf.config.set_cuda_graphs(True)
    """
    _cuda_graphs[0] = bool(enabled)


def cuda_graphs_enabled() -> bool:
    return _cuda_graphs[0]


def run_functions_eagerly(run_eagerly: bool) -> None:
    """Makes every `dtf.function` run its Python function eagerly (for debugging)."""
    from dtf.compile.function import run_functions_eagerly as set_eager

    set_eager(run_eagerly)


def functions_run_eagerly() -> bool:
    from dtf.compile.function import functions_run_eagerly as eager

    return eager()


def _set_memory_growth(device, enable) -> None:
    """Accepted for TensorFlow compatibility: CuPy's memory pool already grows on demand."""
    if not isinstance(device, PhysicalDevice):
        raise TypeError(f"set_memory_growth expects a PhysicalDevice from "
                        f"dtf.config.list_physical_devices('GPU'), got {device!r}.")


def _get_memory_growth(device) -> bool:
    return True


experimental = types.SimpleNamespace(
    set_memory_growth=_set_memory_growth,
    get_memory_growth=_get_memory_growth,
    list_physical_devices=list_physical_devices,
    list_logical_devices=list_logical_devices,
    set_visible_devices=set_visible_devices,
    get_visible_devices=get_visible_devices,
)
