"""Bias + activation in one pass, forward and backward, and the `fused_dense` primitive on GPU.

Forward, ``bias_<act>(xp, x, bias)`` is ``act(x + bias)`` over ``x`` of shape ``[..., C]`` and
``bias`` of shape ``[C]``; backward, ``bias_<act>_grad(xp, g, saved)`` returns ``(dz, dbias)``,
the gradient of the pre-activation and of the bias (``dz`` summed over all rows). ``saved``
is the forward output for ``none``, ``relu``, ``sigmoid`` and ``tanh`` (their derivatives are
functions of it, as TensorFlow's ReluGrad/SigmoidGrad/TanhGrad) and the pre-activation for
``gelu`` and ``gelu_tanh`` (the tanh approximation): call the forward with
``return_preactivation=True`` to keep it. Activations are computed in float32 for float16.

``fused_dense(xp, x, kernel, bias, activation)`` (the primitive's signature) is CuPy's matmul
followed by the bias + activation kernel written into the matmul's result.

Example (on a GPU)::

    y, z = kernels.get("bias_gelu")(cupy, x, b, return_preactivation=True)
    dz, db = kernels.get("bias_gelu_grad")(cupy, g, z)
"""

from __future__ import annotations

import numpy as np
from dtf.kernels import register
from dtf.kernels._cuda import BLOCK, CudaSource, contiguous, grid

__all__ = ["ACTIVATIONS", "SOURCE", "bias_activation", "bias_activation_grad", "fused_dense"]

# Activation name -> the code the kernels switch on.
ACTIVATIONS = {"none": 0, "relu": 1, "sigmoid": 2, "tanh": 3, "gelu": 4, "gelu_tanh": 5}

SOURCE = CudaSource("bias_activation", r"""
template <typename C>
__device__ __forceinline__ C activate(int kind, C z) {
    switch (kind) {
        case 1: return z > (C)0 ? z : (C)0;
        case 2: {  // sigmoid, without overflow for large |z|
            if (z >= (C)0) return (C)1 / ((C)1 + dtf_exp(-z));
            C e = dtf_exp(z);
            return e / ((C)1 + e);
        }
        case 3: return dtf_tanh(z);
        case 4: return (C)0.5 * z * ((C)1 + dtf_erf(z * (C)0.7071067811865476));
        case 5: {
            C inner = (C)0.7978845608028654 * (z + (C)0.044715 * (z * z * z));
            return (C)0.5 * z * ((C)1 + dtf_tanh(inner));
        }
        default: return z;
    }
}

// The derivative times g, from the output (relu, sigmoid, tanh) or the pre-activation (gelu).
template <typename C>
__device__ __forceinline__ C activate_grad(int kind, C g, C saved) {
    switch (kind) {
        case 1: return saved > (C)0 ? g : g * (C)0;  // g * (out > 0): NaN gradients pass
        case 2: return g * (saved * ((C)1 - saved));
        case 3: return g * ((C)1 - saved * saved);
        case 4: {
            C cdf = (C)0.5 * ((C)1 + dtf_erf(saved * (C)0.7071067811865476));
            C pdf = dtf_exp((C)-0.5 * saved * saved) * (C)0.3989422804014327;
            return g * (cdf + saved * pdf);
        }
        case 5: {
            C z = saved;
            C inner = (C)0.7978845608028654 * (z + (C)0.044715 * (z * z * z));
            C t = dtf_tanh(inner);
            C d_inner = (C)0.7978845608028654 * ((C)1 + (C)0.134145 * z * z);
            return g * ((C)0.5 * ((C)1 + t) + (C)0.5 * z * ((C)1 - t * t) * d_inner);
        }
        default: return g;
    }
}

template <typename T>
__device__ __forceinline__ void bias_act_body(const T* x, const T* bias, T* y, T* z_out,
                                              int write_z, int kind, long long cols,
                                              long long n) {
    typedef typename Io<T>::C C;
    DTF_GRID_LOOP(i, n) {
        // x + bias is rounded to the dtype first, as the unfused `x + bias` is.
        C z = Io<T>::r(Io<T>::load(x[i]) + Io<T>::load(bias[i % cols]));
        if (write_z) z_out[i] = Io<T>::store(z);
        y[i] = Io<T>::store(activate<C>(kind, z));
    }
}

template <typename T>
__device__ __forceinline__ void act_grad_body(const T* g, const T* saved, T* dz, int kind,
                                              long long n) {
    typedef typename Io<T>::C C;
    DTF_GRID_LOOP(i, n) {
        dz[i] = Io<T>::store(activate_grad<C>(kind, Io<T>::load(g[i]), Io<T>::load(saved[i])));
    }
}

#define DTF_BIAS_ACT(T, S)                                                                  \
extern "C" __global__ void dtf_bias_act_##S(const T* x, const T* bias, T* y, T* z_out,     \
                                            int write_z, int kind, long long cols,          \
                                            long long n) {                                  \
    bias_act_body<T>(x, bias, y, z_out, write_z, kind, cols, n);                            \
}                                                                                           \
extern "C" __global__ void dtf_act_grad_##S(const T* g, const T* saved, T* dz, int kind,   \
                                            long long n) {                                  \
    act_grad_body<T>(g, saved, dz, kind, n);                                                \
}
DTF_FOR_FLOATS(DTF_BIAS_ACT)
""", entries=("dtf_bias_act", "dtf_act_grad"))


def _check(name, x, bias):
    if x.ndim < 1 or bias.ndim != 1 or x.shape[-1] != bias.shape[0]:
        raise ValueError(f"{name}: bias must be a vector of x's last dimension, got x of shape "
                         f"{tuple(x.shape)} and bias of shape {tuple(bias.shape)}")
    if x.dtype != bias.dtype:
        raise TypeError(f"{name}: x and bias dtypes differ ({x.dtype.name} and "
                        f"{bias.dtype.name}); cast one of them")


def bias_activation(xp, x, bias, activation="none", return_preactivation=False, out=None):
    """``activation(x + bias)`` in one kernel; with ``return_preactivation``, also
    ``x + bias`` (for the gelu gradients). ``out`` may be ``x`` itself (contiguous)."""
    _check(f"bias_{activation}", x, bias)
    kind = ACTIVATIONS[activation]
    x, bias = contiguous(xp, x), contiguous(xp, bias)
    y = xp.empty_like(x) if out is None else out
    z = xp.empty_like(x) if return_preactivation else None
    n = x.size
    SOURCE.function("dtf_bias_act", x.dtype)(
        grid(n), (BLOCK,), (x, bias, y, y if z is None else z, np.int32(z is not None), np.int32(kind),
                            np.int64(bias.size), np.int64(n)))
    return (y, z) if return_preactivation else y


def bias_activation_grad(xp, g, saved, activation="none"):
    """``(dz, dbias)``: the gradient of ``x + bias`` (``g`` times the activation's derivative
    at ``saved``) and its sum over every axis but the last."""
    kind = ACTIVATIONS[activation]
    if kind == 0:
        dz = g
    else:
        g, saved = contiguous(xp, g), contiguous(xp, saved)
        if g.shape != saved.shape or g.dtype != saved.dtype:
            raise ValueError(f"bias_{activation}_grad: g and the saved tensor must match, got "
                             f"{g.dtype.name}{tuple(g.shape)} and "
                             f"{saved.dtype.name}{tuple(saved.shape)}")
        dz = xp.empty_like(g)
        SOURCE.function("dtf_act_grad", g.dtype)(
            grid(g.size), (BLOCK,), (g, saved, dz, np.int32(kind), np.int64(g.size)))
    return dz, dz.reshape(-1, dz.shape[-1]).sum(axis=0)


def fused_dense(xp, x, kernel, bias, activation):
    """The `fused_dense` primitive: ``activation(x @ kernel + bias)``, the bias and activation
    applied by one kernel in the matmul's result."""
    if x.dtype not in SOURCE.dtypes or activation not in ("linear", *ACTIVATIONS):
        from dtf.ops.fused_ops import _fused_dense

        return _fused_dense.impl(xp, x, kernel, bias, activation)  # what no kernel here covers
    z = xp.matmul(x, kernel)
    return bias_activation(xp, z, bias, "none" if activation == "linear" else activation, out=z)


def _forward(activation):
    def kernel(xp, x, bias, return_preactivation=False):
        return bias_activation(xp, x, bias, activation, return_preactivation)

    kernel.__name__ = f"bias_{activation}"
    kernel.__doc__ = f"``{activation}(x + bias)`` in one kernel (see `bias_activation`)."
    return kernel


def _backward(activation):
    def kernel(xp, g, saved):
        return bias_activation_grad(xp, g, saved, activation)

    kernel.__name__ = f"bias_{activation}_grad"
    kernel.__doc__ = f"The gradients of ``bias_{activation}`` (see `bias_activation_grad`)."
    return kernel


for _name in ACTIVATIONS:
    register(f"bias_{_name}")(lambda _a=_name: _forward(_a))
    register(f"bias_{_name}_grad")(lambda _a=_name: _backward(_a))


@register("fused_dense")
def _build_fused_dense():
    return fused_dense
