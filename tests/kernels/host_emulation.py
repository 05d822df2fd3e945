"""The CUDA kernels' source compiled for the host (g++) and run block by block, sequentially.

This checks the kernels' *arithmetic* where no GPU is: the formulas, their order of operations,
the rounding of float16 and of the host-computed scalars, the indexing and the Python wrappers
of `dtf.kernels` (run with NumPy as `xp`). It is no GPU: threads of a block never run at once,
so what depends on the device itself (shared-memory reductions across threads, memory ordering,
CuPy's allocation and launch) is checked only by the `gpu`-marked tests.

How a launch is emulated: kernels with a one-dimensional block run with `blockDim.x = 1`, each
block of the grid in turn (grid-stride loops then cover every element, and the one-block-per-row
kernels reduce their row in their single thread); kernels with a two-dimensional block (the
per-channel reductions, whose threads along x are independent) run each x-thread in turn with
`blockDim.y = 1`. `__syncthreads()` is a no-op; dynamic shared memory is one static buffer.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess

import numpy as np
from dtf.kernels import _cuda

__all__ = ["available", "host_function"]

SHIM = r"""
#include <math.h>
#include <string.h>
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__
struct dtf_dim3 { unsigned x, y, z; };
static dtf_dim3 blockIdx = {0, 0, 0}, threadIdx = {0, 0, 0};
static dtf_dim3 blockDim = {1, 1, 1}, gridDim = {1, 1, 1};
static inline void __syncthreads() {}
unsigned char dtf_smem[1 << 20];
static inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
static inline double __longlong_as_double(long long i) { double d; memcpy(&d, &i, 8); return d; }
extern "C" void dtf_emulate(unsigned bx, unsigned gx, unsigned tx, unsigned bdx) {
    blockIdx.x = bx; gridDim.x = gx; threadIdx.x = tx; blockDim.x = bdx;
}
"""

_CTYPES = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double,
           np.dtype(np.int32): ctypes.c_int, np.dtype(np.int64): ctypes.c_longlong}
_libraries: dict = {}


def available() -> bool:
    """Whether a host C++ compiler with `_Float16` is here."""
    return shutil.which("g++") is not None


def _library(source, directory):
    code = SHIM + source.full_code
    digest = hashlib.sha1(code.encode()).hexdigest()[:16]
    lib = _libraries.get(digest)
    if lib is None:
        path = os.path.join(directory, f"{source.name}_{digest}.so")
        cpp = path[:-3] + ".cpp"
        with open(cpp, "w") as f:
            f.write(code)
        # -ffp-contract=off: no multiply-add contraction, as the kernels' --fmad=false
        subprocess.run(["g++", "-std=c++17", "-O1", "-shared", "-fPIC", "-ffp-contract=off",
                        "-o", path, cpp], check=True, capture_output=True, text=True)
        lib = _libraries[digest] = ctypes.CDLL(path)
    return lib


class HostKernel:
    """One entry point, called as CuPy's RawKernel is: ``kernel(grid, block, args)``."""

    def __init__(self, lib, symbol):
        self.lib = lib
        self.fn = getattr(lib, symbol)
        self.fn.restype = None

    def __call__(self, grid, block, args, shared_mem=0):
        converted = [self._convert(a) for a in args]
        blocks = grid[0]
        threads = block[0] if len(block) > 1 else 1
        for bx in range(blocks):
            for tx in range(threads):
                self.lib.dtf_emulate(bx, blocks, tx, threads)
                self.fn(*converted)

    @staticmethod
    def _convert(a):
        if isinstance(a, np.ndarray):
            if not a.flags.c_contiguous:
                raise ValueError("a kernel was handed a non-contiguous array")
            return ctypes.c_void_p(a.ctypes.data)
        return _CTYPES[np.dtype(type(a))](a)


def host_function(directory):
    """A replacement for `CudaSource.function` that runs the source on the host."""

    def function(self, base, dtype):
        dtype = np.dtype(dtype)
        if dtype not in self.dtypes:
            raise TypeError(f"kernel {base!r} has no {dtype.name} instantiation")
        return HostKernel(_library(self, directory), f"{base}_{_cuda.suffix(dtype)}")

    return function
