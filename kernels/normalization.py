"""Layer and batch normalization (training-mode statistics), forward and backward.

Layer normalization normalizes each row (the last axis): one thread block per row computes the
row's mean and variance (two passes over the row, in registers and shared memory) and writes
the normalized, scaled and shifted row. Batch normalization normalizes each channel (the last
axis) over all other axes: a block of 32 channels x 16 row-groups reduces a slice of columns,
reading them coalesced. Statistics are computed in float32 for float16 inputs; the variance is
the biased one (``mean((x - mean)^2)``), as Keras' layers use in training.

Pattern names and signatures:

- ``layer_norm(xp, x, gamma, beta, epsilon)`` -> ``(y, mean, rstd)`` (``gamma``/``beta`` may be
  None; ``mean``/``rstd`` of shape ``x.shape[:-1]`` in the compute dtype);
- ``layer_norm_grad(xp, g, x, gamma, mean, rstd)`` -> ``(dx, dgamma, dbeta)``;
- ``batch_norm(xp, x, gamma, beta, epsilon)`` -> ``(y, mean, variance)`` (per channel);
- ``batch_norm_grad(xp, g, x, gamma, mean, variance, epsilon)`` -> ``(dx, dgamma, dbeta)``.

Example (on a GPU)::

    y, mean, rstd = kernels.get("layer_norm")(cupy, x, gamma, beta, 1e-3)
"""

from __future__ import annotations

import numpy as np
from dtf.kernels import register
from dtf.kernels._cuda import BLOCK, CudaSource, contiguous, grid

__all__ = ["SOURCE", "batch_norm", "batch_norm_grad", "layer_norm", "layer_norm_grad"]

SOURCE = CudaSource("normalization", r"""
#define DTF_SCRATCH(C) extern __shared__ unsigned char dtf_smem[]; \
    C* scratch = reinterpret_cast<C*>(dtf_smem)
#define LD(p, i) Io<T>::load((p)[i])

template <typename T>
__device__ __forceinline__ void layer_norm_body(
        const T* x, const T* gamma, const T* beta, T* y, typename Io<T>::C* mean_out,
        typename Io<T>::C* rstd_out, typename Io<T>::C epsilon, int has_gamma, int has_beta,
        long long cols) {
    typedef typename Io<T>::C C;
    DTF_SCRATCH(C);
    long long offset = (long long)blockIdx.x * cols;
    C s = 0;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) s += LD(x, offset + j);
    C mean = dtf_block_sum<C>(s, scratch) / (C)cols;
    C ss = 0;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        C d = LD(x, offset + j) - mean;
        ss += d * d;
    }
    C rstd = (C)1 / dtf_sqrt(dtf_block_sum<C>(ss, scratch) / (C)cols + epsilon);
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        C v = (LD(x, offset + j) - mean) * rstd;
        if (has_gamma) v *= LD(gamma, j);
        if (has_beta) v += LD(beta, j);
        y[offset + j] = Io<T>::store(v);
    }
    if (threadIdx.x == 0) {
        mean_out[blockIdx.x] = mean;
        rstd_out[blockIdx.x] = rstd;
    }
}

// dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = g * gamma.
template <typename T>
__device__ __forceinline__ void layer_norm_grad_body(
        const T* g, const T* x, const T* gamma, const typename Io<T>::C* mean,
        const typename Io<T>::C* rstd, T* dx, int has_gamma, long long cols) {
    typedef typename Io<T>::C C;
    DTF_SCRATCH(C);
    long long offset = (long long)blockIdx.x * cols;
    C mu = mean[blockIdx.x], r = rstd[blockIdx.x];
    C a = 0, b = 0;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        C dxhat = LD(g, offset + j) * (has_gamma ? LD(gamma, j) : (C)1);
        a += dxhat;
        b += dxhat * (LD(x, offset + j) - mu) * r;
    }
    a = dtf_block_sum<C>(a, scratch) / (C)cols;
    b = dtf_block_sum<C>(b, scratch) / (C)cols;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        C xhat = (LD(x, offset + j) - mu) * r;
        C dxhat = LD(g, offset + j) * (has_gamma ? LD(gamma, j) : (C)1);
        dx[offset + j] = Io<T>::store(r * (dxhat - a - xhat * b));
    }
}

// Column sums over rows by a (32 columns) x (blockDim.y row groups) block: sum(g) and
// sum(g * xhat) per column, xhat from per-row (layer norm) or per-column (batch norm) stats.
template <typename T>
__device__ __forceinline__ void column_sums_body(
        const T* g, const T* x, const typename Io<T>::C* mean, const typename Io<T>::C* rstd,
        int per_row, typename Io<T>::C* sum_g, typename Io<T>::C* sum_gxhat, long long rows,
        long long cols) {
    typedef typename Io<T>::C C;
    DTF_SCRATCH(C);
    long long col = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    C a = 0, b = 0;
    if (col < cols) {
        for (long long row = threadIdx.y; row < rows; row += blockDim.y) {
            long long k = row * cols + col;
            long long s = per_row ? row : col;
            C gv = LD(g, k);
            a += gv;
            b += gv * (LD(x, k) - mean[s]) * rstd[s];
        }
    }
    C* sa = scratch;
    C* sb = scratch + blockDim.x * blockDim.y;
    unsigned t = threadIdx.y * blockDim.x + threadIdx.x;
    sa[t] = a;
    sb[t] = b;
    __syncthreads();
    for (unsigned s = blockDim.y / 2; s > 0; s >>= 1) {
        if (threadIdx.y < s) {
            sa[t] += sa[t + s * blockDim.x];
            sb[t] += sb[t + s * blockDim.x];
        }
        __syncthreads();
    }
    if (threadIdx.y == 0 && col < cols) {
        sum_g[col] = sa[threadIdx.x];
        sum_gxhat[col] = sb[threadIdx.x];
    }
}

// Per-channel mean and biased variance (two passes), then rstd = 1 / sqrt(var + epsilon).
template <typename T>
__device__ __forceinline__ void batch_stats_body(
        const T* x, typename Io<T>::C* mean_out, typename Io<T>::C* var_out,
        typename Io<T>::C* rstd_out, typename Io<T>::C epsilon, long long rows,
        long long cols) {
    typedef typename Io<T>::C C;
    DTF_SCRATCH(C);
    long long col = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    unsigned t = threadIdx.y * blockDim.x + threadIdx.x;
    C total[2];
    C mean = 0;
    for (int pass = 0; pass < 2; ++pass) {
        C acc = 0;
        if (col < cols) {
            for (long long row = threadIdx.y; row < rows; row += blockDim.y) {
                C v = LD(x, row * cols + col);
                if (pass == 0) acc += v;
                else acc += (v - mean) * (v - mean);
            }
        }
        scratch[t] = acc;
        __syncthreads();
        for (unsigned s = blockDim.y / 2; s > 0; s >>= 1) {
            if (threadIdx.y < s) scratch[t] += scratch[t + s * blockDim.x];
            __syncthreads();
        }
        total[pass] = scratch[threadIdx.x] / (C)rows;
        __syncthreads();
        mean = total[0];
    }
    if (threadIdx.y == 0 && col < cols) {
        mean_out[col] = total[0];
        var_out[col] = total[1];
        rstd_out[col] = (C)1 / dtf_sqrt(total[1] + epsilon);
    }
}

// y = (x - mean) * rstd * gamma + beta per channel, or (grad mode) the batch-norm dx:
// gamma * rstd * (g - sum_g / N - xhat * sum_gxhat / N).
template <typename T>
__device__ __forceinline__ void batch_apply_body(
        const T* x, const T* g, const T* gamma, const T* beta, const typename Io<T>::C* mean,
        const typename Io<T>::C* rstd, const typename Io<T>::C* sum_g,
        const typename Io<T>::C* sum_gxhat, T* out, int grad_mode, int has_gamma,
        int has_beta, long long rows, long long cols) {
    typedef typename Io<T>::C C;
    long long n = rows * cols;
    DTF_GRID_LOOP(i, n) {
        long long c = i % cols;
        C xhat = (LD(x, i) - mean[c]) * rstd[c];
        C scale = has_gamma ? LD(gamma, c) : (C)1;
        C v;
        if (grad_mode) {
            v = scale * rstd[c] * (LD(g, i) - sum_g[c] / (C)rows - xhat * sum_gxhat[c] / (C)rows);
        } else {
            v = xhat * scale;
            if (has_beta) v += LD(beta, c);
        }
        out[i] = Io<T>::store(v);
    }
}

#define DTF_NORM(T, S)                                                                       \
extern "C" __global__ void dtf_layer_norm_##S(                                               \
        const T* x, const T* gamma, const T* beta, T* y, Io<T>::C* mean, Io<T>::C* rstd,     \
        Io<T>::C epsilon, int has_gamma, int has_beta, long long cols) {                     \
    layer_norm_body<T>(x, gamma, beta, y, mean, rstd, epsilon, has_gamma, has_beta, cols);   \
}                                                                                            \
extern "C" __global__ void dtf_layer_norm_grad_##S(                                          \
        const T* g, const T* x, const T* gamma, const Io<T>::C* mean, const Io<T>::C* rstd,  \
        T* dx, int has_gamma, long long cols) {                                              \
    layer_norm_grad_body<T>(g, x, gamma, mean, rstd, dx, has_gamma, cols);                   \
}                                                                                            \
extern "C" __global__ void dtf_column_sums_##S(                                              \
        const T* g, const T* x, const Io<T>::C* mean, const Io<T>::C* rstd, int per_row,     \
        Io<T>::C* sum_g, Io<T>::C* sum_gxhat, long long rows, long long cols) {              \
    column_sums_body<T>(g, x, mean, rstd, per_row, sum_g, sum_gxhat, rows, cols);            \
}                                                                                            \
extern "C" __global__ void dtf_batch_stats_##S(                                              \
        const T* x, Io<T>::C* mean, Io<T>::C* var, Io<T>::C* rstd, Io<T>::C epsilon,         \
        long long rows, long long cols) {                                                    \
    batch_stats_body<T>(x, mean, var, rstd, epsilon, rows, cols);                            \
}                                                                                            \
extern "C" __global__ void dtf_batch_apply_##S(                                              \
        const T* x, const T* g, const T* gamma, const T* beta, const Io<T>::C* mean,         \
        const Io<T>::C* rstd, const Io<T>::C* sum_g, const Io<T>::C* sum_gxhat, T* out,      \
        int grad_mode, int has_gamma, int has_beta, long long rows, long long cols) {        \
    batch_apply_body<T>(x, g, gamma, beta, mean, rstd, sum_g, sum_gxhat, out, grad_mode,     \
                        has_gamma, has_beta, rows, cols);                                    \
}
DTF_FOR_FLOATS(DTF_NORM)
""", entries=("dtf_layer_norm", "dtf_layer_norm_grad", "dtf_column_sums", "dtf_batch_stats",
              "dtf_batch_apply"))

_COMPUTE = {np.dtype(np.float16): np.float32, np.dtype(np.float32): np.float32,
            np.dtype(np.float64): np.float64}
_COLUMN_BLOCK = (32, 16)  # 32 channels (coalesced) x 16 row groups


def _row_block(cols: int) -> int:
    threads = 32
    while threads < cols and threads < 256:
        threads *= 2
    return threads


def _prepare(xp, name, x, *params):
    """x as contiguous [rows, cols]; each parameter checked to be None or a vector of cols."""
    if x.ndim < 1 or x.size == 0:
        raise ValueError(f"{name}: x must be a non-empty array of rank >= 1, got shape "
                         f"{tuple(x.shape)}")
    cols = x.shape[-1]
    out = [contiguous(xp, x).reshape(-1, cols)]
    for p in params:
        if p is not None and (p.shape != (cols,) or p.dtype != x.dtype):
            raise ValueError(f"{name}: gamma and beta must be {x.dtype.name} vectors of x's last "
                             f"dimension {cols}, got {p.dtype.name}{tuple(p.shape)}")
        out.append(None if p is None else contiguous(xp, p))
    return out


def _column_sums(xp, g2, x2, mean, rstd, per_row):
    rows, cols = x2.shape
    compute = _COMPUTE[x2.dtype]
    sum_g, sum_gxhat = xp.empty(cols, compute), xp.empty(cols, compute)
    bx, by = _COLUMN_BLOCK
    SOURCE.function("dtf_column_sums", x2.dtype)(
        ((cols + bx - 1) // bx,), _COLUMN_BLOCK,
        (g2, x2, mean, rstd, np.int32(per_row), sum_g, sum_gxhat, np.int64(rows),
         np.int64(cols)), shared_mem=2 * bx * by * np.dtype(compute).itemsize)
    return sum_g, sum_gxhat


def layer_norm(xp, x, gamma, beta, epsilon):
    """Normalizes each row of ``x`` (last axis): ``(y, mean, rstd)``."""
    x2, gamma, beta = _prepare(xp, "layer_norm", x, gamma, beta)
    rows, cols = x2.shape
    compute = _COMPUTE[x2.dtype]
    y = xp.empty_like(x2)
    mean, rstd = xp.empty(rows, compute), xp.empty(rows, compute)
    threads = _row_block(cols)
    SOURCE.function("dtf_layer_norm", x2.dtype)(
        (rows,), (threads,),
        (x2, x2 if gamma is None else gamma, x2 if beta is None else beta, y, mean, rstd,
         compute(epsilon), np.int32(gamma is not None), np.int32(beta is not None),
         np.int64(cols)), shared_mem=threads * np.dtype(compute).itemsize)
    return y.reshape(x.shape), mean.reshape(x.shape[:-1]), rstd.reshape(x.shape[:-1])


def layer_norm_grad(xp, g, x, gamma, mean, rstd):
    """``(dx, dgamma, dbeta)`` of `layer_norm` for the upstream gradient ``g``."""
    x2, gamma = _prepare(xp, "layer_norm_grad", x, gamma)
    g2 = contiguous(xp, g).reshape(x2.shape)
    rows, cols = x2.shape
    compute = _COMPUTE[x2.dtype]
    mean = contiguous(xp, mean).reshape(-1).astype(compute, copy=False)
    rstd = contiguous(xp, rstd).reshape(-1).astype(compute, copy=False)
    dx = xp.empty_like(x2)
    threads = _row_block(cols)
    SOURCE.function("dtf_layer_norm_grad", x2.dtype)(
        (rows,), (threads,),
        (g2, x2, x2 if gamma is None else gamma, mean, rstd, dx, np.int32(gamma is not None),
         np.int64(cols)), shared_mem=threads * np.dtype(compute).itemsize)
    dbeta, dgamma = _column_sums(xp, g2, x2, mean, rstd, per_row=True)
    return dx.reshape(x.shape), dgamma.astype(x.dtype), dbeta.astype(x.dtype)


def batch_norm(xp, x, gamma, beta, epsilon):
    """Normalizes each channel (last axis) over all other axes: ``(y, mean, variance)``."""
    x2, gamma, beta = _prepare(xp, "batch_norm", x, gamma, beta)
    rows, cols = x2.shape
    compute = _COMPUTE[x2.dtype]
    mean, var, rstd = (xp.empty(cols, compute) for _ in range(3))
    bx, by = _COLUMN_BLOCK
    SOURCE.function("dtf_batch_stats", x2.dtype)(
        ((cols + bx - 1) // bx,), _COLUMN_BLOCK,
        (x2, mean, var, rstd, compute(epsilon), np.int64(rows), np.int64(cols)),
        shared_mem=bx * by * np.dtype(compute).itemsize)
    y = xp.empty_like(x2)
    _batch_apply(x2, x2, gamma, beta, mean, rstd, mean, mean, y, grad_mode=False)
    return y.reshape(x.shape), mean, var


def batch_norm_grad(xp, g, x, gamma, mean, variance, epsilon):
    """``(dx, dgamma, dbeta)`` of `batch_norm` (training mode) for the upstream gradient."""
    x2, gamma = _prepare(xp, "batch_norm_grad", x, gamma)
    g2 = contiguous(xp, g).reshape(x2.shape)
    compute = _COMPUTE[x2.dtype]
    mean = contiguous(xp, mean).astype(compute, copy=False)
    rstd = 1 / xp.sqrt(xp.asarray(variance).astype(compute) + compute(epsilon))
    sum_g, sum_gxhat = _column_sums(xp, g2, x2, mean, rstd, per_row=False)
    dx = xp.empty_like(x2)
    _batch_apply(x2, g2, gamma, None, mean, rstd, sum_g, sum_gxhat, dx, grad_mode=True)
    return dx.reshape(x.shape), sum_gxhat.astype(x.dtype), sum_g.astype(x.dtype)


def _batch_apply(x2, g2, gamma, beta, mean, rstd, sum_g, sum_gxhat, out, grad_mode):
    rows, cols = x2.shape
    SOURCE.function("dtf_batch_apply", x2.dtype)(
        grid(x2.size), (BLOCK,),
        (x2, g2, x2 if gamma is None else gamma, x2 if beta is None else beta, mean, rstd,
         sum_g, sum_gxhat, out, np.int32(grad_mode), np.int32(gamma is not None),
         np.int32(beta is not None), np.int64(rows), np.int64(cols)))


for _name, _fn in (("layer_norm", layer_norm), ("layer_norm_grad", layer_norm_grad),
                   ("batch_norm", batch_norm), ("batch_norm_grad", batch_norm_grad)):
    register(_name)(lambda _f=_fn: _f)
