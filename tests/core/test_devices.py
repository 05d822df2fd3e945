"""Devices and the backend seam (CPU here; the CuPy backend registers itself on a GPU)."""

import pytest

import dtf
from dtf import backend


def test_physical_devices_list_the_cpu():
    devices = dtf.config.list_physical_devices()
    assert devices[0].name == "/physical_device:CPU:0" and devices[0].device_type == "CPU"
    assert dtf.config.list_physical_devices("CPU") == devices[:1]


def test_device_context_places_tensors():
    with dtf.device("/CPU:0"):
        t = dtf.ones((2,))
    assert t.device == "/job:localhost/replica:0/task:0/device:CPU:0"
    assert dtf.constant(1.0).device.endswith("device:CPU:0")


def test_device_names_are_parsed_and_checked():
    assert backend.DeviceSpec.parse("/job:localhost/replica:0/task:0/device:CPU:0") == \
        backend.DeviceSpec("CPU", 0)
    assert backend.DeviceSpec.parse("gpu:1") == backend.DeviceSpec("GPU", 1)
    with pytest.raises(ValueError, match="Unknown device"):
        dtf.device("/TPU:0")
    if not dtf.config.list_physical_devices("GPU"):
        with pytest.raises(ValueError, match="CuPy"):
            dtf.device("/GPU:0")


def test_numpy_backend_is_the_default_and_cupy_is_not_imported():
    import sys

    assert backend.backend_of(dtf.ones((1,)).numpy()) is backend.numpy_backend
    if not dtf.config.list_physical_devices("GPU"):
        assert "cupy" not in sys.modules
