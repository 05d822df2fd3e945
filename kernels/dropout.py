"""Dropout with its mask in one pass: the `dropout` primitive on GPU.

The uniform draw comes from CuPy's generator with exactly the generic implementation's seeding
(dtf's seed rules, the same counters as `random.uniform`); one kernel then writes both the
mask (``1 / (1 - rate)`` where ``u >= rate``, else 0) and ``x * mask``, where the generic path
runs four array passes. Results are bit-identical to the generic path on the same draw. A
``noise_shape`` that broadcasts (dropping whole channels) takes the generic path.

Example (on a GPU)::

    y, mask = kernels.get("dropout")(cupy, x, 0.5, None, seed=None)
"""

from __future__ import annotations

import numpy as np
from dtf.kernels import register
from dtf.kernels._cuda import BLOCK, CudaSource, contiguous, grid, scalar

__all__ = ["SOURCE", "dropout"]

SOURCE = CudaSource("dropout", r"""
template <typename T>
__device__ __forceinline__ void dropout_body(const T* x, const T* u, T* y, T* mask,
                                             typename Io<T>::C rate, typename Io<T>::C scale,
                                             long long n) {
    typedef typename Io<T>::C C;
    DTF_GRID_LOOP(i, n) {
        C m = Io<T>::load(u[i]) >= rate ? scale : (C)0;  // keep.astype(dtype) * scale
        mask[i] = Io<T>::store(m);
        y[i] = Io<T>::store(Io<T>::r(Io<T>::load(x[i]) * m));
    }
}

#define DTF_DROPOUT(T, S)                                                                   \
extern "C" __global__ void dtf_dropout_##S(const T* x, const T* u, T* y, T* mask,          \
                                           Io<T>::C rate, Io<T>::C scale, long long n) {    \
    dropout_body<T>(x, u, y, mask, rate, scale, n);                                         \
}
DTF_FOR_FLOATS(DTF_DROPOUT)
""", entries=("dtf_dropout",))


def dropout(xp, x, rate, noise_shape, seed, reservation=None):
    """The `dropout` primitive's implementation: ``(x * mask, mask)``."""
    from dtf import dtypes
    from dtf.ops import nn_ops, random_ops

    shape = nn_ops._noise_dims(x.shape, noise_shape)
    if tuple(shape) != tuple(x.shape) or x.dtype not in SOURCE.dtypes:
        return nn_ops._dropout.impl(xp, x, rate, noise_shape, seed, reservation)
    dtype = dtypes.from_numpy(x.dtype)
    # The draw exactly as the generic implementation makes it (same seed counters).
    gp, gen = random_ops._generator(xp, random_ops.entropy_for(("uniform", dtype.name), seed,
                                                               reservation))
    u = contiguous(xp, 
        random_ops._to_module(xp, random_ops._unit_uniform(gp, gen, shape, dtype)))
    x = contiguous(xp, x)
    y, mask = xp.empty_like(x), xp.empty_like(x)
    # rate rounded to the dtype as `x.dtype.type(rate)`, the scale as `x.dtype.type(1/(1-rate))`
    SOURCE.function("dtf_dropout", x.dtype)(
        grid(x.size), (BLOCK,),
        (x, u, y, mask, scalar(x.dtype, rate), scalar(x.dtype, 1.0 / (1.0 - rate)),
         np.int64(x.size)))
    return y, mask


@register("dropout")
def _build_dropout():
    return dropout
