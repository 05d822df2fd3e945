"""Softmax cross-entropy, forward and backward, one thread block per row.

Each row's max, sum of exponentials and loss (or gradient) are computed in one kernel that
reads the row's logits from global memory two or three times and keeps everything else in
registers and shared memory, where the NumPy implementation runs six to eight array passes.
Numerically stable as the NumPy ops are (the row's max is subtracted before ``exp``), computed
in float32 for float16 logits.

Labels outside ``[0, classes)`` give NaN for their row's loss and gradient, as TensorFlow's GPU
kernels do (its CPU kernels raise): checking on the host would synchronise the device on every
step and make a compiled step impossible to capture as a CUDA graph.

Registered under the primitives' names, with their implementations' signatures:

- ``sparse_softmax_cross_entropy_with_logits(xp, logits, labels)``: the per-row loss;
- ``sparse_xent_reduce(xp, logits, labels, divisor)``: the summed loss divided by ``divisor``
  (the mean reduction of ``SparseCategoricalCrossentropy(from_logits=True)``);
- ``sparse_xent_reduce_grad(xp, g, logits, labels, divisor)``: its gradient
  ``(softmax(logits) - one_hot(labels)) * g / divisor``;

- ``softmax(xp, x, axis)`` and ``log_softmax(xp, x, axis)`` over the last axis (another axis:
  the primitive's impl);

and for one-hot (or any probability) labels of the logits' shape, under pattern names:

- ``xent_forward(xp, logits, labels)``: ``-sum(labels * log_softmax(logits), axis=-1)``;
- ``xent_backward(xp, g, logits, labels)``: its gradient for the per-row upstream gradient
  ``g``: ``g[..., None] * (softmax(logits) * sum(labels, -1) - labels)``.

Example (on a GPU)::

    loss = kernels.get("sparse_xent_reduce")(cupy, logits, labels, float(len(labels)))
"""

from __future__ import annotations

import numpy as np
from dtf.kernels import register
from dtf.kernels._cuda import CudaSource, contiguous

from dtf.errors import InvalidArgumentError

__all__ = ["SOURCE", "log_softmax", "softmax", "softmax_xent", "softmax_xent_grad",
           "sparse_xent", "sparse_xent_reduce", "sparse_xent_reduce_grad"]

SOURCE = CudaSource("softmax_xent", r"""
#define DTF_SCRATCH(C) extern __shared__ unsigned char dtf_smem[]; \
    C* scratch = reinterpret_cast<C*>(dtf_smem)

template <typename C> __device__ __forceinline__ C dtf_nan();
template <> __device__ __forceinline__ float dtf_nan<float>() { return __int_as_float(0x7fc00000); }
template <> __device__ __forceinline__ double dtf_nan<double>() {
    return __longlong_as_double(0x7ff8000000000000LL);
}

// The row's max and log(sum(exp(x - max))), every thread of the block getting both.
template <typename T>
__device__ __forceinline__ void row_stats(const T* x, long long classes,
                                          typename Io<T>::C* scratch,
                                          typename Io<T>::C* max_out,
                                          typename Io<T>::C* sum_out) {
    typedef typename Io<T>::C C;
    C mx = Io<T>::load(x[0]);
    for (long long j = threadIdx.x; j < classes; j += blockDim.x)
        mx = dtf_max(mx, Io<T>::load(x[j]));
    mx = dtf_block_max<C>(mx, scratch);
    C s = 0;
    for (long long j = threadIdx.x; j < classes; j += blockDim.x)
        s += dtf_exp(Io<T>::load(x[j]) - mx);
    *sum_out = dtf_block_sum<C>(s, scratch);
    *max_out = mx;
}

template <typename T>
__device__ __forceinline__ void sparse_xent_body(const T* logits, const long long* labels,
                                                 T* loss, long long classes) {
    typedef typename Io<T>::C C;
    DTF_SCRATCH(C);
    const T* x = logits + (long long)blockIdx.x * classes;
    C mx, s;
    row_stats<T>(x, classes, scratch, &mx, &s);
    if (threadIdx.x == 0) {
        long long label = labels[blockIdx.x];
        C value = dtf_nan<C>();  // a label out of range: NaN, as TensorFlow's GPU kernel
        if (label >= 0 && label < classes) value = dtf_log(s) - (Io<T>::load(x[label]) - mx);
        loss[blockIdx.x] = Io<T>::store(value);
    }
}

template <typename T>
__device__ __forceinline__ void sparse_xent_grad_body(
        const typename Io<T>::C* scale, const T* logits, const long long* labels, T* grad,
        long long classes) {
    typedef typename Io<T>::C C;
    DTF_SCRATCH(C);
    long long offset = (long long)blockIdx.x * classes;
    const T* x = logits + offset;
    C mx, s;
    row_stats<T>(x, classes, scratch, &mx, &s);
    long long label = labels[blockIdx.x];
    bool valid = label >= 0 && label < classes;
    C c = *scale;
    for (long long j = threadIdx.x; j < classes; j += blockDim.x) {
        C p = dtf_exp(Io<T>::load(x[j]) - mx) / s;
        if (j == label) p -= (C)1;
        grad[offset + j] = Io<T>::store(valid ? p * c : dtf_nan<C>());
    }
}

template <typename T>
__device__ __forceinline__ void xent_body(const T* logits, const T* labels, T* loss,
                                          long long classes) {
    typedef typename Io<T>::C C;
    DTF_SCRATCH(C);
    long long offset = (long long)blockIdx.x * classes;
    C mx, s;
    row_stats<T>(logits + offset, classes, scratch, &mx, &s);
    C log_s = dtf_log(s);
    C acc = 0;
    for (long long j = threadIdx.x; j < classes; j += blockDim.x) {
        C y = Io<T>::load(labels[offset + j]);
        if (y != (C)0) acc += y * (log_s - (Io<T>::load(logits[offset + j]) - mx));
    }
    acc = dtf_block_sum<C>(acc, scratch);
    if (threadIdx.x == 0) loss[blockIdx.x] = Io<T>::store(acc);
}

template <typename T>
__device__ __forceinline__ void xent_grad_body(const T* g, const T* logits, const T* labels,
                                               T* grad, long long classes) {
    typedef typename Io<T>::C C;
    DTF_SCRATCH(C);
    long long offset = (long long)blockIdx.x * classes;
    C mx, s;
    row_stats<T>(logits + offset, classes, scratch, &mx, &s);
    C total = 0;
    for (long long j = threadIdx.x; j < classes; j += blockDim.x)
        total += Io<T>::load(labels[offset + j]);
    total = dtf_block_sum<C>(total, scratch);
    C gr = Io<T>::load(g[blockIdx.x]);
    for (long long j = threadIdx.x; j < classes; j += blockDim.x) {
        C p = dtf_exp(Io<T>::load(logits[offset + j]) - mx) / s;
        grad[offset + j] = Io<T>::store(gr * (p * total - Io<T>::load(labels[offset + j])));
    }
}

// softmax (log_softmax when `log`) of each row, as the `softmax`/`log_softmax` primitives.
template <typename T>
__device__ __forceinline__ void softmax_body(const T* x, T* out, int log, long long classes) {
    typedef typename Io<T>::C C;
    DTF_SCRATCH(C);
    long long offset = (long long)blockIdx.x * classes;
    C mx, s;
    row_stats<T>(x + offset, classes, scratch, &mx, &s);
    C log_s = dtf_log(s);
    for (long long j = threadIdx.x; j < classes; j += blockDim.x) {
        C shifted = Io<T>::load(x[offset + j]) - mx;
        out[offset + j] = Io<T>::store(log ? shifted - log_s : dtf_exp(shifted) / s);
    }
}

#define DTF_XENT(T, S)                                                                       \
extern "C" __global__ void dtf_sparse_xent_##S(const T* logits, const long long* labels,    \
                                               T* loss, long long classes) {                \
    sparse_xent_body<T>(logits, labels, loss, classes);                                      \
}                                                                                            \
extern "C" __global__ void dtf_sparse_xent_grad_##S(const Io<T>::C* scale, const T* logits, \
                                                    const long long* labels, T* grad,        \
                                                    long long classes) {                     \
    sparse_xent_grad_body<T>(scale, logits, labels, grad, classes);                          \
}                                                                                            \
extern "C" __global__ void dtf_xent_##S(const T* logits, const T* labels, T* loss,          \
                                        long long classes) {                                 \
    xent_body<T>(logits, labels, loss, classes);                                             \
}                                                                                            \
extern "C" __global__ void dtf_xent_grad_##S(const T* g, const T* logits, const T* labels,  \
                                             T* grad, long long classes) {                   \
    xent_grad_body<T>(g, logits, labels, grad, classes);                                     \
}                                                                                            \
extern "C" __global__ void dtf_softmax_##S(const T* x, T* out, int log, long long classes) {  \
    softmax_body<T>(x, out, log, classes);                                                   \
}
DTF_FOR_FLOATS(DTF_XENT)
""", entries=("dtf_sparse_xent", "dtf_sparse_xent_grad", "dtf_xent", "dtf_xent_grad",
              "dtf_softmax"))

_COMPUTE = {np.dtype(np.float16): np.float32, np.dtype(np.float32): np.float32,
            np.dtype(np.float64): np.float64}


def _block(classes: int) -> int:
    """Threads per row: a power of two from 32 to 256, no more than the row needs."""
    threads = 32
    while threads < classes and threads < 256:
        threads *= 2
    return threads


def _launch(base, logits, classes, args):
    rows = logits.size // classes
    threads = _block(classes)
    shared = threads * np.dtype(_COMPUTE[logits.dtype]).itemsize
    SOURCE.function(base, logits.dtype)((rows,), (threads,), (*args, np.int64(classes)),
                                        shared_mem=shared)


def _sparse_rows(xp, logits, labels, op):
    """(logits, labels as contiguous int64 rows); no range check on the host (see above)."""
    classes = logits.shape[-1]
    flat = contiguous(xp, labels.reshape(-1)).astype(np.int64, copy=False)
    if flat.size != logits.size // max(classes, 1):
        raise InvalidArgumentError(f"{op}: labels of shape {tuple(labels.shape)} do not match "
                                   f"logits of shape {tuple(logits.shape)}: one label per row")
    return contiguous(xp, logits), flat


def _generic(name):
    """The primitive's own implementation (for dtypes no kernel here is instantiated for)."""
    from dtf.ops import registry

    return registry.get(name).impl


def sparse_xent(xp, logits, labels):
    """Per-row ``-log_softmax(logits)[label]`` (the primitive
    `sparse_softmax_cross_entropy_with_logits`), of shape ``labels.shape``."""
    if logits.dtype not in SOURCE.dtypes:
        return _generic("sparse_softmax_cross_entropy_with_logits")(xp, logits, labels)
    labels = xp.asarray(labels)
    out_shape = logits.shape[:-1]
    if logits.size == 0:
        return xp.zeros(labels.shape, dtype=logits.dtype)
    logits, flat = _sparse_rows(xp, logits, labels,
                                "sparse_softmax_cross_entropy_with_logits")
    loss = xp.empty(flat.size, dtype=logits.dtype)
    _launch("dtf_sparse_xent", logits, logits.shape[-1], (logits, flat, loss))
    return loss.reshape(labels.shape if labels.size == loss.size else out_shape)


def sparse_xent_reduce(xp, logits, labels, divisor):
    """``sum(per-row loss) / divisor`` (the primitive `sparse_xent_reduce`)."""
    if logits.dtype not in SOURCE.dtypes:
        return _generic("sparse_xent_reduce")(xp, logits, labels, divisor)
    if logits.size == 0 or labels.size == 0:
        return xp.asarray(0.0, dtype=logits.dtype)[()]
    logits, flat = _sparse_rows(xp, logits, labels, "sparse_categorical_crossentropy")
    loss = xp.empty(flat.size, dtype=logits.dtype)
    _launch("dtf_sparse_xent", logits, logits.shape[-1], (logits, flat, loss))
    return loss.sum() / logits.dtype.type(divisor)


def sparse_xent_reduce_grad(xp, g, logits, labels, divisor):
    """``(softmax(logits) - one_hot(labels)) * g / divisor`` (the primitive
    `sparse_xent_reduce_grad`); ``g`` is the scalar upstream gradient, kept on the device."""
    if logits.dtype not in SOURCE.dtypes:
        return _generic("sparse_xent_reduce_grad")(xp, g, logits, labels, divisor)
    shape = logits.shape
    logits, flat = _sparse_rows(xp, logits, labels, "sparse_categorical_crossentropy")
    grad = xp.empty_like(logits)
    if grad.size == 0:
        return grad.reshape(shape)
    compute = _COMPUTE[logits.dtype]
    scale = xp.asarray(g / logits.dtype.type(divisor)).astype(compute).reshape(1)
    _launch("dtf_sparse_xent_grad", logits, shape[-1], (scale, logits, flat, grad))
    return grad.reshape(shape)


def softmax_xent(xp, logits, labels):
    """Per-row ``-sum(labels * log_softmax(logits), -1)`` for labels of the logits' shape."""
    if labels.shape != logits.shape or labels.dtype != logits.dtype:
        raise ValueError(f"xent_forward: labels must have the logits' shape and dtype, got "
                         f"{labels.dtype.name}{tuple(labels.shape)} and "
                         f"{logits.dtype.name}{tuple(logits.shape)}")
    logits, labels = contiguous(xp, logits), contiguous(xp, labels)
    loss = xp.empty(logits.shape[:-1], dtype=logits.dtype)
    if loss.size and logits.shape[-1]:
        _launch("dtf_xent", logits, logits.shape[-1], (logits, labels, loss))
    else:
        loss[...] = 0
    return loss


def softmax_xent_grad(xp, g, logits, labels):
    """The gradient of `softmax_xent` with respect to the logits, for the per-row ``g``."""
    if g.shape != logits.shape[:-1]:
        raise ValueError(f"xent_backward: g must have one value per row, shape "
                         f"{tuple(logits.shape[:-1])}, got {tuple(g.shape)}")
    logits, labels = contiguous(xp, logits), contiguous(xp, labels)
    g = contiguous(xp, g.astype(logits.dtype, copy=False))
    grad = xp.empty_like(logits)
    if grad.size:
        _launch("dtf_xent_grad", logits, logits.shape[-1], (g, logits, labels, grad))
    return grad


def _softmax(xp, x, axis, log):
    name = "log_softmax" if log else "softmax"
    last = axis is None or axis == -1 or axis == x.ndim - 1
    if x.dtype not in SOURCE.dtypes or not last or x.ndim == 0 or x.size == 0:
        return _generic(name)(xp, x, axis)
    x = contiguous(xp, x)
    out = xp.empty_like(x)
    _launch("dtf_softmax", x, x.shape[-1], (x, out, np.int32(log)))
    return out


def softmax(xp, x, axis):
    """The `softmax` primitive over the last axis, one block per row (other axes: its impl)."""
    return _softmax(xp, x, axis, log=False)


def log_softmax(xp, x, axis):
    """The `log_softmax` primitive over the last axis, one block per row."""
    return _softmax(xp, x, axis, log=True)


for _name, _fn in (("softmax", softmax), ("log_softmax", log_softmax),
                   ("sparse_softmax_cross_entropy_with_logits", sparse_xent),
                   ("sparse_xent_reduce", sparse_xent_reduce),
                   ("sparse_xent_reduce_grad", sparse_xent_reduce_grad),
                   ("xent_forward", softmax_xent), ("xent_backward", softmax_xent_grad)):
    register(_name)(lambda _f=_fn: _f)
