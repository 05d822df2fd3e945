"""A GPU worker's traffic between host and device, in as few copies as possible.

A worker that computes on a GPU receives its parameters from the parameter servers as host
arrays and sends its gradients back as host arrays. Copying each array on its own would cost
one synchronous transfer per parameter per step; instead:

- `to_variables_devices`: the pulled arrays destined for replicas on the GPU are packed into
  one host buffer and cross in one host-to-device copy; each Variable then holds a view of it;
- `to_host_per_server`: the gradients (and changed state) are packed on the device into one
  buffer per parameter server (a device-side copy each) and cross in one device-to-host copy per
  server; the host arrays handed to the servers are views of those buffers.

Offsets inside a buffer are aligned (256 bytes on the device, as CUDA's allocator aligns), so
every view is a properly aligned array of its dtype.

Example:
    >>> worker_device() is None  # on a machine without a GPU
    True
"""

from __future__ import annotations

import contextlib

import numpy as np

__all__ = ["as_tensors", "host_scope", "scope", "to_device", "to_host_per_server",
           "to_variables_devices", "worker_device"]

_ALIGN = 256


def _cupy():
    from dtf.backend import cupy_backend

    backend = cupy_backend.installed()
    return None if backend is None else backend.xp


def worker_device() -> str | None:
    """`"/GPU:0"` when this process sees a CUDA device (Ray's `CUDA_VISIBLE_DEVICES` for a
    worker with `{"GPU": 1}`), registering the GPU backend; None on a CPU-only process."""
    from dtf import backend

    backend.install_accelerators()
    if _cupy() is None or not backend.gpu_visible():
        return None
    return "/GPU:0"


def scope(device):
    """`dtf.device(device)` when `device`, else no scope."""
    if device is None:
        return contextlib.nullcontext()
    import dtf

    return dtf.device(device)


def host_scope(device):
    """The CPU scope for work a GPU worker keeps on the host (custom loops); no scope on a
    CPU worker (its placement is the CPU anyway)."""
    return scope(None if device is None else "/CPU:0")


def to_device(structure, device):
    """`structure` with its NumPy arrays copied onto `device` (unchanged when None)."""
    if device is None:
        return structure
    from dtf import backend, nest

    spec = backend.DeviceSpec.parse(device)

    def move(a):
        if isinstance(a, np.ndarray) and a.dtype.kind not in "OUS":
            return backend.to_device(a, spec)
        return a

    return nest.map_structure(move, structure)


def as_tensors(structure, device):
    """The step's `(x, y, sample_weight)`: device arrays wrapped as Tensors for `dtf.function`
    (on the CPU the arrays go in as they are, as before)."""
    if device is None:
        return structure
    from dtf import nest
    from dtf.tensor import Tensor

    cupy = _cupy()
    return nest.map_structure(
        lambda a: Tensor(a) if cupy is not None and isinstance(a, cupy.ndarray) else a,
        structure)


def _layout(arrays, align):
    offsets, total = [], 0
    for a in arrays:
        total = -(-total // align) * align
        offsets.append(total)
        total += a.nbytes
    return offsets, total


def _fetch_buffer(share):
    """`{part_key: device array}` -> `{part_key: host array}` in one device-to-host copy."""
    cupy = _cupy()
    keys = list(share)
    arrays = [share[k] for k in keys]
    offsets, total = _layout(arrays, _ALIGN)
    with cupy.cuda.Device(arrays[0].device.id):
        flat = cupy.empty(max(total, 1), dtype=cupy.uint8)
        for a, off in zip(arrays, offsets):
            if a.nbytes:
                flat[off:off + a.nbytes] = cupy.ascontiguousarray(a).reshape(-1).view(cupy.uint8)
        host = flat.get()  # the one copy
    layout = [(off, a.nbytes, a.dtype, a.shape) for a, off in zip(arrays, offsets)]
    return dict(zip(keys, _views(host, layout)))


def _pack(values):
    """Host arrays -> (one uint8 buffer holding them at aligned offsets, their layout:
    `[(offset, nbytes, dtype, shape)]` for `_views`)."""
    flat_values = [np.ascontiguousarray(v).reshape(-1) for v in values]
    offsets, total = _layout(flat_values, _ALIGN)
    staging = np.empty(max(total, 1), dtype=np.uint8)
    for a, off in zip(flat_values, offsets):
        staging[off:off + a.nbytes] = a.view(np.uint8)
    return staging, [(off, a.nbytes, a.dtype, np.shape(v))
                     for a, off, v in zip(flat_values, offsets, values)]


def _views(flat, layout):
    """The arrays of `layout` as views of the uint8 buffer `flat` (NumPy's or CuPy's), each
    with its own shape (0-d values stay 0-d)."""
    return [flat[off:off + nbytes].view(dtype).reshape(shape)
            for off, nbytes, dtype, shape in layout]


def _fetch(placement, arrays):
    host_parts = {}
    for share in placement.split(arrays):
        if share:
            host_parts.update(_fetch_buffer(share))
    out = {}
    for key in arrays:
        parts = placement.parts(key)
        if len(parts) == 1:
            out[key] = host_parts[parts[0][0]]
        else:
            out[key] = np.concatenate([host_parts[p] for p, _ in parts], axis=0)
    return out


def to_host_per_server(placement, *dicts):
    """Each `{key: array}` of `dicts` with its device arrays on the host; the device arrays of
    all of them leave in one buffer per parameter server (host arrays pass through).

    Args:
        placement: the variables' `dtf.cluster.sharding.Placement` (which server holds what).
        *dicts: `{key: array}` dicts (gradients, assigned state, deltas).

    Returns:
        A tuple with one dict per argument.
    """
    cupy = _cupy()
    if cupy is None:
        return dicts
    device_items = [(k, v) for d in dicts for k, v in d.items() if isinstance(v, cupy.ndarray)]
    if not device_items:
        return dicts
    keys = [k for k, _ in device_items]
    if len(set(keys)) != len(keys):  # a key in two dicts: one transfer per dict
        return tuple(to_host_per_server(placement, d)[0] for d in dicts)
    host = _fetch(placement, dict(device_items))
    return tuple({k: host[k] if isinstance(v, cupy.ndarray) else v for k, v in d.items()}
                 for d in dicts)


def to_variables_devices(values, variables):
    """Pulled `{key: host array}` with the arrays of Variables that live on a GPU moved there,
    all of one device in one host-to-device copy (each value then a view of that buffer)."""
    cupy = _cupy()
    if cupy is None:
        return values
    by_device: dict = {}
    for key, value in values.items():
        variable = variables.get(key)
        if variable is None or not isinstance(variable._value, cupy.ndarray):
            continue
        if isinstance(value, cupy.ndarray):
            continue  # already on a device (a server in this process): nothing to copy
        value = np.asarray(value)
        if value.dtype.kind in "OUS":
            continue
        by_device.setdefault(variable._value.device.id, []).append((key, value))
    if not by_device:
        return values
    out = dict(values)
    for device_id, items in by_device.items():
        staging, layout = _pack([v for _, v in items])
        with cupy.cuda.Device(device_id):
            flat = cupy.asarray(staging)  # the one copy
        out.update(zip([key for key, _ in items], _views(flat, layout)))
    return out
