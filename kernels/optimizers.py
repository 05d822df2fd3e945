"""Fused optimizer updates: one kernel reads a variable, its gradient and its slots once and
writes the new variable and slots, where the NumPy rule runs five to twelve array passes.

Each kernel has the signature of its rule in `dtf.keras.optimizers.updates` (`sgd_update`,
`adam_update`, `rmsprop_update`), which calls it for CuPy arrays, and computes the same
formula in the same order of operations, rounding after every operation as NumPy does (float16
computed in float32 and rounded per operation); compiled with ``--fmad=false`` so that nothing
is contracted into a multiply-add, the results agree with NumPy's bit for bit. Constant scalars
(``1 - beta``) are computed on the host in the variable's dtype, as the NumPy rule computes
them; the rates that depend on the step (the learning rate, Adam's bias-corrected step size) are
device scalars on the GPU, computed from the device step counter
(`dtf.keras.optimizers.device_step`), so a captured step replays with each step's value.

Like the NumPy rules, the kernels never write into an array they were given, except Adam's
slots with ``in_place=True`` (the parameter server's optimizer owns them). The rate (``lr``,
Adam's ``alpha``) may be a CuPy scalar (a learning rate held in a GPU Variable): the kernel then
reads it from device memory, so the host never waits for the device.

Example (on a GPU)::

    import cupy
    from dtf import kernels
    adam = kernels.get("adam_update")
    var, grad = cupy.ones(4, cupy.float32), cupy.full(4, 0.5, cupy.float32)
    m, v = cupy.zeros_like(var), cupy.zeros_like(var)
    new_var, (m, v) = adam(cupy, var, grad, (m, v), numpy.float32(1e-3), 0.9, 0.999, 1e-7)
"""

from __future__ import annotations

import numpy as np
from dtf.kernels import register
from dtf.kernels._cuda import _COMPUTE, BLOCK, CudaSource, contiguous, grid, scalar

__all__ = ["SOURCE", "adam_update", "rmsprop_update", "sgd_update"]

SOURCE = CudaSource("optimizers", r"""
#define R(x) Io<T>::r(x)
#define LD(p, i) Io<T>::load((p)[i])
#define ST(x) Io<T>::store(x)

template <typename T>
__device__ __forceinline__ void sgd_body(const T* var, const T* grad, T* var_out,
                                         typename Io<T>::C lr, long long n) {
    typedef typename Io<T>::C C;
    DTF_GRID_LOOP(i, n) {
        C scaled = R(LD(grad, i) * lr);          // var - grad * lr
        var_out[i] = ST(R(LD(var, i) - scaled));
    }
}

template <typename T>
__device__ __forceinline__ void sgd_momentum_body(
        const T* var, const T* grad, const T* m, T* var_out, T* m_out,
        typename Io<T>::C lr, typename Io<T>::C momentum, int nesterov, long long n) {
    typedef typename Io<T>::C C;
    DTF_GRID_LOOP(i, n) {
        C scaled = R(LD(grad, i) * lr);          // scaled_grad = grad * lr
        C mi = R(LD(m, i) * momentum);           // m = m * momentum
        mi = R(mi - scaled);                     // m -= scaled_grad
        C step = mi;
        if (nesterov) {
            step = R(mi * momentum);             // step = m * momentum
            step = R(step - scaled);             // step -= scaled_grad
        }
        m_out[i] = ST(mi);
        var_out[i] = ST(R(LD(var, i) + step));
    }
}

template <typename T>
__device__ __forceinline__ void adam_body(
        const T* var, const T* grad, const T* m, const T* v, const T* v_hat,
        T* var_out, T* m_out, T* v_out, T* v_hat_out,
        typename Io<T>::C alpha, typename Io<T>::C one_minus_beta_1,
        typename Io<T>::C one_minus_beta_2, typename Io<T>::C epsilon, int amsgrad,
        long long n) {
    typedef typename Io<T>::C C;
    DTF_GRID_LOOP(i, n) {
        C g = LD(grad, i);
        C mi = LD(m, i);
        C vi = LD(v, i);
        C delta = R(g - mi);                     // delta = grad - m
        delta = R(delta * one_minus_beta_1);     // delta *= 1 - beta_1
        mi = R(mi + delta);                      // m += delta
        delta = R(g * g);                        // square(grad)
        delta = R(delta - vi);                   // delta -= v
        delta = R(delta * one_minus_beta_2);     // delta *= 1 - beta_2
        vi = R(vi + delta);                      // v += delta
        m_out[i] = ST(mi);
        v_out[i] = ST(vi);
        if (amsgrad) {                           // v_hat = maximum(v_hat, v); divide by it
            C vh = LD(v_hat, i);
            vi = vh >= vi || vh != vh ? vh : vi; // NumPy's maximum propagates NaN
            v_hat_out[i] = ST(vi);
        }
        delta = R(mi * alpha);                   // delta = m * alpha
        C denominator = R(dtf_sqrt(vi));         // sqrt(v)
        denominator = R(denominator + epsilon);  // += epsilon
        delta = R(delta / denominator);          // delta /= denominator
        var_out[i] = ST(R(LD(var, i) - delta));
    }
}

template <typename T>
__device__ __forceinline__ void rmsprop_body(
        const T* var, const T* grad, const T* velocity, const T* momentum_slot,
        const T* average_grad, T* var_out, T* velocity_out, T* momentum_out,
        T* average_grad_out, typename Io<T>::C lr, typename Io<T>::C rho,
        typename Io<T>::C one_minus_rho, typename Io<T>::C momentum,
        typename Io<T>::C epsilon, int centered, int use_momentum, long long n) {
    typedef typename Io<T>::C C;
    DTF_GRID_LOOP(i, n) {
        C g = LD(grad, i);
        // velocity = rho * velocity + (1 - rho) * square(grad)
        C vel = R(R(rho * LD(velocity, i)) + R(one_minus_rho * R(g * g)));
        velocity_out[i] = ST(vel);
        C denominator;
        if (centered) {
            C avg = R(R(rho * LD(average_grad, i)) + R(one_minus_rho * g));
            average_grad_out[i] = ST(avg);
            denominator = R(vel - R(avg * avg));
            denominator = R(denominator + epsilon);
        } else {
            denominator = R(vel + epsilon);
        }
        C increment = R(lr * g);
        increment = R(increment / R(dtf_sqrt(denominator)));
        if (use_momentum) {
            C mom = R(R(momentum * LD(momentum_slot, i)) + increment);
            momentum_out[i] = ST(mom);
            increment = mom;
        }
        var_out[i] = ST(R(LD(var, i) - increment));
    }
}

// A rate (learning rate, Adam's step size) comes by value from the host, or from device memory
// when it is a device scalar (a learning rate held in a GPU Variable: no host synchronisation,
// and a CUDA graph replay reads its current value).
#define DTF_RATE(T, name) const Io<T>::C* name##_dev, Io<T>::C name, int name##_on_device
#define DTF_RATE_VALUE(name) (name##_on_device ? name##_dev[0] : name)

#define DTF_OPTIMIZERS(T, S)                                                                 \
extern "C" __global__ void dtf_sgd_##S(const T* var, const T* grad, T* var_out,              \
                                       DTF_RATE(T, lr), long long n) {                       \
    sgd_body<T>(var, grad, var_out, DTF_RATE_VALUE(lr), n);                                  \
}                                                                                            \
extern "C" __global__ void dtf_sgd_momentum_##S(                                             \
        const T* var, const T* grad, const T* m, T* var_out, T* m_out, DTF_RATE(T, lr),      \
        Io<T>::C momentum, int nesterov, long long n) {                                      \
    sgd_momentum_body<T>(var, grad, m, var_out, m_out, DTF_RATE_VALUE(lr), momentum,         \
                         nesterov, n);                                                       \
}                                                                                            \
extern "C" __global__ void dtf_adam_##S(                                                     \
        const T* var, const T* grad, const T* m, const T* v, const T* v_hat, T* var_out,     \
        T* m_out, T* v_out, T* v_hat_out, DTF_RATE(T, alpha), Io<T>::C one_minus_beta_1,     \
        Io<T>::C one_minus_beta_2, Io<T>::C epsilon, int amsgrad, long long n) {             \
    adam_body<T>(var, grad, m, v, v_hat, var_out, m_out, v_out, v_hat_out,                   \
                 DTF_RATE_VALUE(alpha),                                                      \
                 one_minus_beta_1, one_minus_beta_2, epsilon, amsgrad, n);                   \
}                                                                                            \
extern "C" __global__ void dtf_rmsprop_##S(                                                  \
        const T* var, const T* grad, const T* velocity, const T* momentum_slot,              \
        const T* average_grad, T* var_out, T* velocity_out, T* momentum_out,                 \
        T* average_grad_out, DTF_RATE(T, lr), Io<T>::C rho, Io<T>::C one_minus_rho,          \
        Io<T>::C momentum, Io<T>::C epsilon, int centered, int use_momentum, long long n) {  \
    rmsprop_body<T>(var, grad, velocity, momentum_slot, average_grad, var_out, velocity_out, \
                    momentum_out, average_grad_out, DTF_RATE_VALUE(lr), rho, one_minus_rho,  \
                    momentum,                                                                \
                    epsilon, centered, use_momentum, n);                                     \
}
DTF_FOR_FLOATS(DTF_OPTIMIZERS)
""", entries=("dtf_sgd", "dtf_sgd_momentum", "dtf_adam", "dtf_rmsprop"),
    options=("-std=c++17", "--fmad=false"))


def _rate(xp, dtype, value, placeholder):
    """The three kernel arguments of a rate: (device pointer, host value, on-device flag).
    A device scalar is rounded to the dtype (as the NumPy rule's arithmetic rounds it) and
    read by the kernel; a host scalar goes by value (`placeholder`: any array, never read)."""
    if isinstance(value, xp.ndarray):
        device = value.astype(dtype).astype(_COMPUTE[np.dtype(dtype)]).reshape(1)
        return device, _COMPUTE[np.dtype(dtype)](0), np.int32(1)
    return placeholder, scalar(dtype, value), np.int32(0)


def _launch(base, dtype, n, args):
    SOURCE.function(base, dtype)(grid(n), (BLOCK,), (*args, np.int64(n)))


def _writable(array, in_place):
    """Whether the rule may update `array` in its memory (as `updates._add` decides)."""
    return bool(in_place and array.ndim and getattr(array.flags, "writeable", True)
                and array.flags.c_contiguous)


def sgd_update(xp, var, grad, slots, lr, momentum, nesterov):
    """`updates.sgd_update` in one kernel; `slots` is `(m,)` or `(None,)`."""
    dtype = var.dtype
    var, grad = contiguous(xp, var), contiguous(xp, grad)
    var_out = xp.empty_like(var)
    (m,) = slots
    lr = _rate(xp, dtype, lr, var)
    if m is None:
        _launch("dtf_sgd", dtype, var.size, (var, grad, var_out, *lr))
        return var_out, (None,)
    m = contiguous(xp, m)
    m_out = xp.empty_like(m)
    _launch("dtf_sgd_momentum", dtype, var.size,
            (var, grad, m, var_out, m_out, *lr,
             # as `updates._cast`: Keras casts the Python float to float32 first
             scalar(dtype, np.float32(momentum)), np.int32(bool(nesterov))))
    return var_out, (m_out,)


def adam_update(xp, var, grad, slots, alpha, beta_1, beta_2, epsilon, in_place=False):
    """`updates.adam_update` in one kernel; `slots` is `(m, v)` or `(m, v, v_hat)`."""
    dtype = var.dtype
    var, grad = contiguous(xp, var), contiguous(xp, grad)
    m, v = slots[0], slots[1]
    m_out = m if _writable(m, in_place) else xp.empty_like(var)
    v_out = v if _writable(v, in_place) else xp.empty_like(var)
    m, v = contiguous(xp, m), contiguous(xp, v)
    amsgrad = len(slots) == 3
    if amsgrad:
        v_hat = contiguous(xp, slots[2])
        v_hat_out = xp.empty_like(var)
    else:
        v_hat = v_hat_out = var  # not read nor written: the kernel checks `amsgrad`
    var_out = xp.empty_like(var)
    _launch("dtf_adam", dtype, var.size,
            (var, grad, m, v, v_hat, var_out, m_out, v_out, v_hat_out,
             *_rate(xp, dtype, alpha, var), scalar(dtype, 1 - beta_1), scalar(dtype, 1 - beta_2),
             scalar(dtype, epsilon), np.int32(amsgrad)))
    new_slots = (m_out, v_out, v_hat_out) if amsgrad else (m_out, v_out)
    return var_out, new_slots


def rmsprop_update(xp, var, grad, slots, lr, rho, momentum, epsilon, centered):
    """`updates.rmsprop_update` in one kernel; `slots` is `(velocity, momentum or None,
    average_gradient or None)`."""
    dtype = var.dtype
    var, grad = contiguous(xp, var), contiguous(xp, grad)
    velocity, momentum_slot, average_grad = slots
    velocity = contiguous(xp, velocity)
    use_momentum = momentum > 0
    var_out, velocity_out = xp.empty_like(var), xp.empty_like(var)
    momentum_out = average_out = var  # placeholders the kernel neither reads nor writes
    if use_momentum:
        momentum_slot, momentum_out = contiguous(xp, momentum_slot), xp.empty_like(var)
    else:
        momentum_slot = var
    if centered:
        average_grad, average_out = contiguous(xp, average_grad), xp.empty_like(var)
    else:
        average_grad = var
    _launch("dtf_rmsprop", dtype, var.size,
            (var, grad, velocity, momentum_slot, average_grad, var_out, velocity_out,
             momentum_out, average_out, *_rate(xp, dtype, lr, var), scalar(dtype, rho),
             scalar(dtype, 1 - rho), scalar(dtype, momentum), scalar(dtype, epsilon),
             np.int32(bool(centered)), np.int32(use_momentum)))
    return var_out, (velocity_out,
                     momentum_out if use_momentum else slots[1],
                     average_out if centered else slots[2])


@register("sgd_update")
def _build_sgd():
    return sgd_update


@register("adam_update")
def _build_adam():
    return adam_update


@register("rmsprop_update")
def _build_rmsprop():
    return rmsprop_update
