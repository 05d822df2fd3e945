"""CuPy kernels for dtf's GPU backend, installed as ``dtf.kernels``.

A kernel is keyed by the name of the op it implements (``"add"``, ``"softmax"``) or of the
fused pattern it replaces (a name chosen by the graph compiler's fusion pass). The GPU backend
asks :func:`get` for the op it is about to run and uses the kernel if one is registered; where
none is, it runs the op's generic implementation over CuPy. Each kernel is tested against the
NumPy implementation of its op. The kernels (CUDA C++ in `_cuda.CudaSource`s, compiled by CuPy
on first use, and offline by NVRTC in the tests) live in the modules imported at the end:
`optimizers` (fused SGD/Adam/RMSprop updates), `activations` (bias + activation, `fused_dense`),
`xent` (softmax, log-softmax, softmax cross-entropy), `dropout`, `normalization` (layer and batch norm); the fusion
pass of `dtf.function` generates further kernels for elementwise chains
(`dtf.compile.gpu_fusion`).

What is registered is a *factory*: a function of no arguments that builds the kernel (compiles a
``cupy.RawKernel``, an ``ElementwiseKernel``, ...) and returns a callable. The factory runs on the
first :func:`get` of its name and its result is kept, so importing this package, or a module
that registers kernels, never imports CuPy and never compiles anything.

Example (in a kernel module; the GPU backend then finds it as ``kernels.get("square")``)::

    from dtf import kernels

    @kernels.register("square")
    def _build_square():
        import cupy

        return cupy.ElementwiseKernel("T x", "T y", "y = x * x", "dtf_square")
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["get", "names", "register"]

KernelFactory = Callable[[], Any]

_factories: dict[str, KernelFactory] = {}
_built: dict[str, Any] = {}
_build_lock = threading.Lock()


def register(name: str) -> Callable[[KernelFactory], KernelFactory]:
    """Registers the decorated function as the factory of the kernel called ``name``.

    Args:
        name: the op or fused-pattern name the kernel implements.

    Returns:
        A decorator that records the factory and returns it unchanged.

    Raises:
        ValueError: if a kernel is already registered under ``name``.

    Example::

        @register("relu")
        def _build_relu():
            import cupy

            return cupy.ElementwiseKernel("T x", "T y", "y = x > 0 ? x : (T)0", "dtf_relu")
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"kernel name must be a non-empty str, got {name!r}")

    def decorator(factory: KernelFactory) -> KernelFactory:
        if not callable(factory):
            raise TypeError(f"kernel factory for {name!r} must be callable, got {factory!r}")
        if name in _factories:
            raise ValueError(
                f"a kernel is already registered as {name!r} (by {_factories[name]!r}); "
                "choose another name"
            )
        _factories[name] = factory
        return factory

    return decorator


def get(name: str) -> Any | None:
    """Returns the kernel registered as ``name``, building it on first use, or None.

    Example:
        >>> kernel = get("no_such_op")
        >>> kernel is None
        True
    """
    try:
        return _built[name]
    except KeyError:
        pass
    factory = _factories.get(name)
    if factory is None:
        return None
    with _build_lock:
        # Another thread may have built it while this one waited for the lock.
        if name not in _built:
            _built[name] = factory()
        return _built[name]


def names() -> list[str]:
    """Returns the names of all registered kernels, sorted.

    Example:
        >>> isinstance(names(), list)
        True
    """
    return sorted(_factories)


# The kernel modules register their factories on import (no CuPy import, nothing compiled).
from dtf.kernels import activations, dropout, normalization, optimizers, xent  # noqa: F401
