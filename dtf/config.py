"""`dtf.config`: the devices dtf can place ops on."""

from __future__ import annotations

from typing import NamedTuple

from dtf import backend as _backend

__all__ = ["LogicalDevice", "PhysicalDevice", "functions_run_eagerly", "list_logical_devices",
           "list_physical_devices", "run_functions_eagerly"]


class PhysicalDevice(NamedTuple):
    name: str
    device_type: str


class LogicalDevice(NamedTuple):
    name: str
    device_type: str


def list_physical_devices(device_type=None) -> list[PhysicalDevice]:
    """The devices of this machine: `PhysicalDevice(name='/physical_device:CPU:0', ...)`."""
    return [PhysicalDevice(f"/physical_device:{d.device_type}:{d.index}", d.device_type)
            for d in _backend.physical_devices(device_type)]


def list_logical_devices(device_type=None) -> list[LogicalDevice]:
    return [LogicalDevice(d.name, d.device_type)
            for d in _backend.physical_devices(device_type)]


def run_functions_eagerly(run_eagerly: bool) -> None:
    """Makes every `dtf.function` run its Python function eagerly (for debugging)."""
    from dtf.compile.function import run_functions_eagerly as set_eager

    set_eager(run_eagerly)


def functions_run_eagerly() -> bool:
    from dtf.compile.function import functions_run_eagerly as eager

    return eager()
