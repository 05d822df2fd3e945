"""Shared by the GPU tests: the module-level skip, and comparing results across devices."""

import numpy as np
import pytest

import dtf

HAS_GPU = bool(dtf.config.list_physical_devices("GPU"))
GPU = "/job:localhost/replica:0/task:0/device:GPU:0"
CPU = "/job:localhost/replica:0/task:0/device:CPU:0"


def require_gpu():
    """Skips the calling test module where no CUDA device is (never fakes one)."""
    if not HAS_GPU:
        pytest.skip("needs CuPy and a CUDA device", allow_module_level=True)


def host(x):
    """A result's value on the host, as a NumPy array (None for None)."""
    if x is None:
        return None
    if hasattr(x, "numpy"):
        return np.asarray(x.numpy())
    return np.asarray(x)


def assert_close(got, want, rtol=1e-5, atol=1e-6, what=""):
    got, want = host(got), host(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    if got.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)
