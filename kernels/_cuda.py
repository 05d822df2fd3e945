"""CUDA C++ sources of dtf's kernels, compiled by CuPy on a device or by NVRTC offline.

Every kernel module declares its source once, as a :class:`CudaSource`: CUDA C++ whose entry
points are ``extern "C"`` functions named ``<base>_<suffix>`` for each dtype it supports
(``dtf_adam_f32``, ``dtf_adam_f16``, ...). On a device, :meth:`CudaSource.function` builds a
``cupy.RawModule`` from it (once) and returns the entry point; offline, :func:`compile_ptx`
compiles the very same text with NVRTC (no GPU needed), which is how the tests check that every
kernel builds for every dtype.

The shared preamble gives kernels one way to handle the three float dtypes: ``Io<T>`` loads a
stored value into its compute type (``float`` for float32 and float16, ``double`` for float64),
stores it back, and ``Io<T>::r`` rounds a computed value to the storage precision. float16 is
stored as ``unsigned short`` and converted with the PTX ``cvt`` instructions, so the preamble
needs no CUDA header. Kernels that must match NumPy bit for bit (the optimizer updates) round
after every operation, as NumPy's float16 arithmetic does, and are compiled with
``--fmad=false`` so that no multiply-add is contracted into an FMA.

Example::

    SOURCE = CudaSource("scale", r'''
    #define DTF_SCALE(T, S) extern "C" __global__ void dtf_scale_##S(
        const T* x, T* y, typename Io<T>::C c, long long n) {
        DTF_GRID_LOOP(i, n) y[i] = Io<T>::store(Io<T>::load(x[i]) * c); }
    DTF_FOR_FLOATS(DTF_SCALE)
    ''', entries=("dtf_scale",))
    fn = SOURCE.function("dtf_scale", numpy.float32)   # on a device
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

__all__ = ["FLOAT_DTYPES", "PREAMBLE", "CudaSource", "compile_ptx", "contiguous", "grid", "scalar",
           "sources", "suffix"]

FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
_SUFFIX = {np.dtype(np.float16): "f16", np.dtype(np.float32): "f32",
           np.dtype(np.float64): "f64", np.dtype(np.bool_): "b8"}
# The dtype of the scalars a kernel of each storage dtype takes by value (its compute type).
_COMPUTE = {np.dtype(np.float16): np.float32, np.dtype(np.float32): np.float32,
            np.dtype(np.float64): np.float64}

# Threads per block for elementwise kernels, and the most blocks a grid-stride loop launches
# (enough to fill any current GPU several times over).
BLOCK = 256
MAX_BLOCKS = 65535

PREAMBLE = r"""
typedef unsigned short dtf_half;

template <typename T> struct Io;
template <> struct Io<float> {
    typedef float C;
    static __device__ __forceinline__ float load(float x) { return x; }
    static __device__ __forceinline__ float store(float x) { return x; }
    static __device__ __forceinline__ float r(float x) { return x; }
};
template <> struct Io<double> {
    typedef double C;
    static __device__ __forceinline__ double load(double x) { return x; }
    static __device__ __forceinline__ double store(double x) { return x; }
    static __device__ __forceinline__ double r(double x) { return x; }
};
template <> struct Io<dtf_half> {
    typedef float C;
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
    static __device__ __forceinline__ float load(dtf_half h) {
        float f;
        asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
        return f;
    }
    static __device__ __forceinline__ dtf_half store(float f) {
        dtf_half h;
        asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
        return h;
    }
#else  // the tests' host emulation (tests/kernels/host_emulation.py): C++ _Float16
    static inline float load(dtf_half bits) {
        _Float16 h;
        __builtin_memcpy(&h, &bits, 2);
        return (float)h;
    }
    static inline dtf_half store(float f) {
        _Float16 h = (_Float16)f;
        dtf_half bits;
        __builtin_memcpy(&bits, &h, 2);
        return bits;
    }
#endif
    // NumPy computes each float16 operation in float32 and rounds the result to float16.
    static __device__ __forceinline__ float r(float x) { return load(store(x)); }
};

__device__ __forceinline__ float dtf_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double dtf_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float dtf_exp(float x) { return expf(x); }
__device__ __forceinline__ double dtf_exp(double x) { return exp(x); }
__device__ __forceinline__ float dtf_log(float x) { return logf(x); }
__device__ __forceinline__ double dtf_log(double x) { return log(x); }
__device__ __forceinline__ float dtf_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double dtf_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float dtf_erf(float x) { return erff(x); }
__device__ __forceinline__ double dtf_erf(double x) { return erf(x); }
__device__ __forceinline__ float dtf_max(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double dtf_max(double a, double b) { return fmax(a, b); }

// A grid-stride loop over n elements.
#define DTF_GRID_LOOP(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

// Instantiates MACRO(storage type, suffix) for the three float dtypes.
#define DTF_FOR_FLOATS(MACRO) MACRO(float, f32) MACRO(double, f64) MACRO(dtf_half, f16)

// Block-wide sum and max of one value per thread (blockDim.x a power of two <= 1024); every
// thread gets the result. `scratch` holds blockDim.x values of the compute type.
template <typename C>
__device__ __forceinline__ C dtf_block_sum(C v, C* scratch) {
    scratch[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) scratch[threadIdx.x] += scratch[threadIdx.x + s];
        __syncthreads();
    }
    C total = scratch[0];
    __syncthreads();
    return total;
}
template <typename C>
__device__ __forceinline__ C dtf_block_max(C v, C* scratch) {
    scratch[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) scratch[threadIdx.x] = dtf_max(scratch[threadIdx.x],
                                                            scratch[threadIdx.x + s]);
        __syncthreads();
    }
    C total = scratch[0];
    __syncthreads();
    return total;
}
"""

_sources: dict[str, CudaSource] = {}


@dataclass
class CudaSource:
    """One CUDA C++ translation unit of kernels, with an entry point per dtype.

    Args:
        name: a unique name for the source (the kernel family, e.g. ``"optimizers"``).
        code: CUDA C++ after the shared :data:`PREAMBLE`.
        entries: the base names of its entry points; each exists as ``<base>_<suffix>`` for
            every dtype in ``dtypes`` (suffixes ``f16``, ``f32``, ``f64``).
        dtypes: the storage dtypes the entries are instantiated for.
        options: NVRTC options beyond the architecture (e.g. ``("--fmad=false",)``).
        declare: list it in :func:`sources` (the kernel modules' sources; the fusion pass's
            generated ones are not).
    """

    name: str
    code: str
    entries: tuple[str, ...]
    dtypes: tuple[np.dtype, ...] = FLOAT_DTYPES
    options: tuple[str, ...] = ("-std=c++17",)
    declare: bool = True
    _module: object = field(default=None, repr=False)
    _functions: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self):
        self.dtypes = tuple(np.dtype(d) for d in self.dtypes)
        if not self.declare:
            return
        if self.name in _sources:
            raise ValueError(f"a CUDA source named {self.name!r} is already declared")
        _sources[self.name] = self

    @property
    def full_code(self) -> str:
        """The translation unit as compiled: the preamble, then the kernels."""
        return PREAMBLE + self.code

    def symbols(self) -> list[str]:
        """Every entry point's symbol, for every dtype."""
        return [f"{base}_{_SUFFIX[d]}" for base in self.entries for d in self.dtypes]

    def function(self, base: str, dtype):
        """The entry point ``base`` for arrays of ``dtype`` (builds the module on first use).

        Raises:
            TypeError: if the kernel has no instantiation for ``dtype``.
        """
        dtype = np.dtype(dtype)
        key = (base, dtype)
        fn = self._functions.get(key)
        if fn is not None:
            return fn
        if dtype not in self.dtypes:
            raise TypeError(f"kernel {base!r} supports dtypes "
                            f"{[d.name for d in self.dtypes]}, got {dtype.name}; cast the "
                            "arrays to one of them")
        with self._lock:
            if self._module is None:
                import cupy

                self._module = cupy.RawModule(code=self.full_code, options=self.options)
            fn = self._functions[key] = self._module.get_function(f"{base}_{_SUFFIX[dtype]}")
        return fn


def sources() -> dict[str, CudaSource]:
    """Every declared CUDA source by name (the kernel modules declare theirs on import)."""
    return dict(_sources)


def compile_ptx(source: CudaSource, arch: str = "compute_90") -> str:
    """Compiles ``source`` with NVRTC (no GPU needed) and returns its PTX.

    Raises:
        RuntimeError: with NVRTC's log when the source does not compile.
    """
    from cupy_backends.cuda.libs import nvrtc

    program = nvrtc.createProgram(source.full_code, f"{source.name}.cu", [], [])
    try:
        try:
            nvrtc.compileProgram(program, [f"-arch={arch}", *source.options])
        except nvrtc.NVRTCError as e:
            log = nvrtc.getProgramLog(program)
            raise RuntimeError(f"CUDA source {source.name!r} does not compile: {e}\n{log}") from e
        ptx = nvrtc.getPTX(program)
        return ptx.decode() if isinstance(ptx, bytes) else ptx
    finally:
        nvrtc.destroyProgram(program)


def contiguous(xp, array):
    """`array` itself when it is C-contiguous (0-d arrays included: `ascontiguousarray` would
    make them 1-d), else a contiguous copy; kernels index their arrays flat."""
    return array if array.flags.c_contiguous else xp.ascontiguousarray(array)


def suffix(dtype) -> str:
    """The entry-point suffix of a dtype (``f16``, ``f32``, ``f64``, ``b8``)."""
    return _SUFFIX[np.dtype(dtype)]


def scalar(dtype, value):
    """``value`` rounded to ``dtype`` (as NumPy rounds a Python float combined with an array of
    that dtype), then held in the kernel's compute type for that dtype."""
    dtype = np.dtype(dtype)
    return _COMPUTE[dtype](dtype.type(value))


def grid(n: int, block: int = BLOCK) -> tuple[int]:
    """The grid of a grid-stride loop over ``n`` elements."""
    return (max(1, min(MAX_BLOCKS, (n + block - 1) // block)),)
