"""The optimizers' update rules as pure functions of arrays.

Each `*_update(xp, var, grad, <slots>, lr, ...)` takes the current arrays of one variable, its
gradient and its slot variables (momentums, velocities, ...) and returns the new arrays; it
never writes into an array it was given (Variables are copy-on-write: a Tensor read earlier may
share the old array). `xp` is the array module of the arrays (NumPy or CuPy); scalar
coefficients (bias corrections, ...) are computed in the variable's dtype. `lr` is the learning
rate as a scalar of the variable's dtype and `step` the 1-based optimizer step the update is
for (Keras' `iterations + 1`): on NumPy a NumPy scalar and a Python int, with the scalars
computed on the host; on the GPU both may be 0-d device arrays (`device_step`: the step read
from the device `iterations`, so that no host synchronisation happens and a CUDA graph replay
sees each step's values), and the scalars are then computed on the device. Scalars that depend only on
the step (Adam's bias-corrected step size, Nadam's momentum schedule) have their own function,
so that an optimizer computes them once per step rather than once per variable.

The optimizer classes apply these straight onto their Variables (no op-table dispatch, no
tape); the parameter server and `dtf.function` reuse them. On CuPy arrays, SGD, Adam and
RMSprop run as one fused kernel each (`dtf.kernels.optimizers`: the same formulas, bit for bit),
which the rules below hand over to on their first line; NumPy arrays never reach that branch.

Every formula follows Keras 3 to the order of operations, so that float32 results agree with
Keras to the last bits: Keras computes `1 - beta_1` in Python (float64, then rounded to the
variable's dtype) in Adam, but from the cast `beta_1` in Nadam, and so on. Python floats
combine with arrays as TensorFlow's do (NumPy >= 2 treats them as "weak": the array's dtype
wins).

Temporaries created here are updated in place (`x *= c`) to save allocations; inputs never are.

Example:
    >>> var, grad = np.array([1., 2.], np.float32), np.array([.1, .2], np.float32)
    >>> new_var, (momentum,) = sgd_update(np, var, grad, (None,), np.float32(0.1), 0.0, False)
    >>> new_var
    array([0.99, 1.98], dtype=float32)
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "adadelta_update",
    "adagrad_update",
    "adam_step_size",
    "adam_update",
    "adamax_bias_correction",
    "adamax_update",
    "clip_by_global_norm",
    "clip_by_norm",
    "ftrl_update",
    "nadam_coefficients",
    "nadam_u_product",
    "nadam_update",
    "rmsprop_update",
    "sgd_update",
]


# From this many elements SGD writes its result over its temporary (below, `out=` costs more
# than the second array: ~0.3 us a variable).
_WRITE_OVER_MIN_SIZE = 1 << 14


def sgd_update(xp, var, grad, slots, lr, momentum, nesterov):
    """SGD: `var - lr * grad`, or with momentum `m = momentum * m - lr * grad`, `var + m`
    (Nesterov: `var + momentum * m - lr * grad`). `slots` is `(m,)`, `(None,)` when the
    optimizer has no momentum."""
    if xp is not np:
        fused = _fused("sgd_update", xp, var, grad)
        if fused is not None:
            return fused(xp, var, grad, slots, lr, momentum, nesterov)
    (m,) = slots
    if m is None:
        if var.size < _WRITE_OVER_MIN_SIZE:
            return var - grad * lr, (None,)
        scaled = grad * lr
        if scaled.shape == var.shape and scaled.dtype == var.dtype:
            # `var - grad * lr` written over the temporary: one new array instead of two,
            # half the memory a large variable's update writes
            return xp.subtract(var, scaled, out=scaled), (None,)
        return var - scaled, (None,)
    momentum = _cast(var.dtype.type, momentum)
    scaled_grad = grad * lr
    m = m * momentum
    m -= scaled_grad
    if nesterov:
        step = m * momentum
        step -= scaled_grad
        return var + step, (m,)
    return var + m, (m,)


def adam_step_size(dtype, lr, step, beta_1, beta_2):
    """Adam's bias-corrected step size `lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)` in `dtype`
    (a NumPy scalar type), once per step and dtype. With a device `step` (a 0-d array), a
    0-d device array (see the module docstring)."""
    xp = _module_of(step)
    local_step = _as_dtype(step, dtype)
    beta_1_power = xp.power(_cast(dtype, beta_1), local_step)
    beta_2_power = xp.power(_cast(dtype, beta_2), local_step)
    return lr * xp.sqrt(1 - beta_2_power) / (1 - beta_1_power)


def _add(xp, a, b, in_place):
    """`a + b`, into `a`'s array when `in_place` and `a` is a writable array (not a 0-d
    scalar, nor a read-only buffer a restore handed over)."""
    if in_place and getattr(a, "ndim", 0) and getattr(a.flags, "writeable", True):
        a += b
        return a
    return a + b


def adam_update(xp, var, grad, slots, alpha, beta_1, beta_2, epsilon, in_place=False):
    """Adam (and AdamW, whose weight decay the optimizer base applies before this), with the
    step size `alpha` of `adam_step_size`. `slots` is `(m, v)`, or `(m, v, v_hat)` for
    AMSGrad; with `in_place`, `m` and `v` are updated in their arrays (same values)."""
    # Memory: the new m and v are computed in their own fresh arrays and one temporary (the
    # denominator) is allocated before the new value: 4 arrays the size of `var` at the peak
    # instead of 7 for the formula as written. With `in_place` (parameter servers holding
    # large variables), 2: see `_adam_update_in_place`. The inputs stay intact.
    # The new value is the last allocation on purpose. glibc's malloc, at its default 128 KiB
    # trim threshold (a process that has not freed a larger block yet; training has), gives
    # the heap top back to the OS when a free leaves enough there, and the next call faults
    # it in again: ~33 page faults, +65 us per call on the MNIST MLP. With the temporary
    # allocated last and freed at once (ff799e1's order) that happened about twice as often
    # over perturbed heap layouts, and 29 faults per call against 5 in a training loop held
    # at that threshold (see scripts/bench/optimizers.py).
    if xp is not np:
        fused = _fused("adam_update", xp, var, grad)
        if fused is not None:
            return fused(xp, var, grad, slots, alpha, beta_1, beta_2, epsilon, in_place)
    if in_place:
        return _adam_update_in_place(xp, var, grad, slots, alpha, beta_1, beta_2, epsilon)
    m, v = slots[0], slots[1]
    new_m = xp.asarray(grad - m)  # an array also for 0-d variables (NumPy gives a scalar)
    one_minus_beta_1, one_minus_beta_2, epsilon = _adam_scalars(
        new_m.dtype, beta_1, beta_2, epsilon)
    new_m *= one_minus_beta_1
    new_m += m  # Keras' m + (grad - m) * (1 - beta_1): the sum commutes bit for bit
    new_v = xp.asarray(xp.square(grad))
    new_v -= v
    new_v *= one_minus_beta_2
    new_v += v
    new_slots = (new_m, new_v)
    if len(slots) == 3:  # AMSGrad: the update divides by the running maximum of v
        new_v = xp.maximum(slots[2], new_v)
        new_slots = (*new_slots, new_v)
    denominator = xp.sqrt(new_v)
    denominator += epsilon
    new_value = _product(xp, new_m, alpha)
    new_value /= denominator  # Keras' order of operations: bit for bit its results
    return xp.subtract(var, new_value, out=new_value), new_slots


# In-place Adam on NumPy computes its denominator in chunks of _CHUNK elements from
# _CHUNKED_MIN_SIZE elements (4 MB of float32): ~3 ufunc calls a chunk.
_CHUNK = 1 << 16
_CHUNKED_MIN_SIZE = 1 << 20


def _adam_update_in_place(xp, var, grad, slots, alpha, beta_1, beta_2, epsilon):
    """`adam_update` with `m` and `v` updated in their arrays (where writable, see `_add`):
    one scratch array (`delta`, fresh here) carries every temporary and becomes the new value,
    2 arrays the size of `var` at the peak (1 and a chunk from `_CHUNKED_MIN_SIZE`)."""
    m, v = slots[0], slots[1]
    delta = xp.asarray(grad - m)  # an array also for 0-d variables (NumPy gives a scalar)
    one_minus_beta_1, one_minus_beta_2, epsilon = _adam_scalars(
        delta.dtype, beta_1, beta_2, epsilon)
    delta *= one_minus_beta_1
    m = _add(xp, m, delta, True)
    xp.square(grad, out=delta)
    delta -= v
    delta *= one_minus_beta_2
    v = _add(xp, v, delta, True)
    new_slots = (m, v)
    if len(slots) == 3:
        v = xp.maximum(slots[2], v)
        new_slots = (*new_slots, v)
    xp.multiply(m, alpha, out=delta)
    if xp is np and delta.size >= _CHUNKED_MIN_SIZE and v.flags.c_contiguous:
        # the denominator a chunk at a time: one array the size of `var` at the peak instead
        # of two (a parameter server's 32 MB kernel: 32 MB less), same values
        flat_delta, flat_v = delta.reshape(-1), v.reshape(-1)
        denominator = np.empty(_CHUNK, delta.dtype)
        for start in range(0, flat_delta.size, _CHUNK):
            part = flat_v[start:start + _CHUNK]
            chunk = denominator[:part.size]
            np.sqrt(part, out=chunk)
            chunk += epsilon
            flat_delta[start:start + _CHUNK] /= chunk
    else:
        denominator = xp.sqrt(v)
        denominator += epsilon
        delta /= denominator
    del denominator
    return xp.subtract(var, delta, out=delta), new_slots


def _product(xp, array, scalar):
    """`array * scalar` in a fresh array of `array`'s dtype (0-d included), as
    `xp.multiply(array, scalar, out=...)` computes it; the plain product where that is the
    same (a NumPy scalar of the array's dtype, the usual `alpha`), without `empty_like`'s
    ~0.4 us. It reads types only, never values: no host synchronisation on a device."""
    if type(scalar) is array.dtype.type:
        return xp.asarray(array * scalar)
    return xp.multiply(array, scalar, out=xp.empty_like(array))


_ADAM_SCALARS: dict = {}
_PYTHON_NUMBERS = (float, int)


def _adam_scalars(dtype, beta_1, beta_2, epsilon):
    """`(1 - beta_1, 1 - beta_2, epsilon)` as scalars of the float `dtype`: the values NumPy
    (>= 2: Python scalars are "weak") converts the Python numbers to when they meet an array
    of that dtype, so results are the same bit for bit, while an in-place ufunc takes a typed
    scalar ~0.25 us faster, which counts on a model's many small variables. Cached per dtype
    and hyperparameters (a handful of keys). Other dtypes, and hyperparameters that are not
    Python numbers (NumPy scalars are not weak, and equal ones would share a key), are used
    as given."""
    if (type(beta_1) not in _PYTHON_NUMBERS or type(beta_2) not in _PYTHON_NUMBERS
            or type(epsilon) not in _PYTHON_NUMBERS or dtype.kind != "f"):
        return 1 - beta_1, 1 - beta_2, epsilon
    key = (dtype, beta_1, beta_2, epsilon)
    scalars = _ADAM_SCALARS.get(key)
    if scalars is None:
        if len(_ADAM_SCALARS) > 64:  # hyperparameters changed many times: start over
            _ADAM_SCALARS.clear()
        # Keras computes 1 - beta in Python (float64), then the dtype rounds it
        scalars = _ADAM_SCALARS[key] = (
            dtype.type(1 - beta_1), dtype.type(1 - beta_2), dtype.type(epsilon))
    return scalars


def rmsprop_update(xp, var, grad, slots, lr, rho, momentum, epsilon, centered):
    """RMSprop; `slots` is `(velocity, momentum or None, average_gradient or None)`."""
    if xp is not np:
        fused = _fused("rmsprop_update", xp, var, grad)
        if fused is not None:
            return fused(xp, var, grad, slots, lr, rho, momentum, epsilon, centered)
    velocity, momentum_slot, average_grad = slots
    velocity = rho * velocity + (1 - rho) * xp.square(grad)
    if centered:
        average_grad = rho * average_grad + (1 - rho) * grad
        denominator = velocity - xp.square(average_grad)
        denominator += epsilon
    else:
        denominator = velocity + epsilon
    increment = lr * grad
    increment /= xp.sqrt(denominator)
    if momentum > 0:
        momentum_slot = momentum * momentum_slot + increment
        return var - momentum_slot, (velocity, momentum_slot, average_grad)
    return var - increment, (velocity, momentum_slot, average_grad)


def adagrad_update(xp, var, grad, slots, lr, epsilon):
    """Adagrad; `slots` is `(accumulator,)`."""
    (accumulator,) = slots
    accumulator = accumulator + xp.square(grad)
    scaled_grad = lr * grad
    denominator = accumulator + epsilon
    scaled_grad /= xp.sqrt(denominator)
    return var - scaled_grad, (accumulator,)


def adadelta_update(xp, var, grad, slots, lr, rho, epsilon):
    """Adadelta; `slots` is `(accumulated_grad, accumulated_delta_var)`."""
    accumulated_grad, accumulated_delta = slots
    accumulated_grad = rho * accumulated_grad + (1 - rho) * xp.square(grad)
    # delta = -rms(accumulated_delta) * grad / rms(accumulated_grad), rms(x) = sqrt(x + eps)
    delta = xp.sqrt(accumulated_delta + epsilon)
    delta *= grad
    delta /= xp.sqrt(accumulated_grad + epsilon)
    delta = -delta
    accumulated_delta = rho * accumulated_delta + (1 - rho) * xp.square(delta)
    return var + lr * delta, (accumulated_grad, accumulated_delta)


def nadam_u_product(u_product, beta_1, step):
    """Nadam's momentum cache after `step`: `u_product * beta_1 * (1 - 0.5 * 0.96 ** step)`,
    in the cache's dtype (the first variable's). The optimizer updates it once per step, before
    the variables' updates. With a device `step`, `u_product` is the cache's device array."""
    dtype = u_product.dtype.type
    power = _module_of(step).power(dtype(0.96), _as_dtype(step, dtype))
    return u_product * beta_1 * (1.0 - 0.5 * power)


def nadam_coefficients(dtype, step, u_product, beta_1, beta_2):
    """Nadam's scalars for `step` in `dtype`, once per step and dtype: `(u_t, u_{t+1},
    u_product_t, u_product_{t+1}, beta_2^t, 1 - beta_1, 1 - beta_2)`; `u_product` is the
    momentum cache already updated for `step` (see `nadam_u_product`). With a device `step`,
    the step-dependent ones are 0-d device arrays."""
    xp = _module_of(step)
    local_step = _as_dtype(step, dtype)
    next_step = _as_dtype(step + 1, dtype)
    decay = _cast(dtype, 0.96)
    beta_1 = _cast(dtype, beta_1)
    beta_2 = _cast(dtype, beta_2)
    u_t = beta_1 * (1.0 - 0.5 * xp.power(decay, local_step))
    u_t_1 = beta_1 * (1.0 - 0.5 * xp.power(decay, next_step))
    u_product_t = _as_dtype(u_product, dtype)
    u_product_t_1 = u_product_t * u_t_1
    beta_2_power = xp.power(beta_2, local_step)
    # Keras subtracts the cast betas here (Adam uses the Python floats)
    return u_t, u_t_1, u_product_t, u_product_t_1, beta_2_power, 1 - beta_1, 1 - beta_2


def nadam_update(xp, var, grad, slots, lr, coefficients, epsilon):
    """Nadam; `slots` is `(m, v)`, `coefficients` those of `nadam_coefficients`."""
    u_t, u_t_1, u_product_t, u_product_t_1, beta_2_power, one_minus_beta_1, \
        one_minus_beta_2 = coefficients
    m, v = slots
    delta = grad - m
    delta *= one_minus_beta_1
    m = m + delta
    delta = xp.square(grad)
    delta -= v
    delta *= one_minus_beta_2
    v = v + delta
    m_hat = (u_t_1 * m) / (1 - u_product_t_1)
    m_hat += ((1 - u_t) * grad) / (1 - u_product_t)
    v_hat = v / (1 - beta_2_power)
    m_hat *= lr
    denominator = xp.sqrt(v_hat)
    denominator += epsilon
    m_hat /= denominator
    return var - m_hat, (m, v)


def adamax_bias_correction(dtype, step, beta_1):
    """Adamax's `1 - beta_1^t` in `dtype`, once per step and dtype (a 0-d device array for a
    device `step`)."""
    return 1 - _module_of(step).power(_cast(dtype, beta_1), _as_dtype(step, dtype))


def adamax_update(xp, var, grad, slots, lr, bias_correction, beta_1, beta_2, epsilon):
    """Adamax; `slots` is `(m, u)` (u: the exponentially weighted infinity norm),
    `bias_correction` that of `adamax_bias_correction`."""
    m, u = slots
    delta = grad - m
    delta *= 1 - beta_1
    m = m + delta
    u = xp.maximum(beta_2 * u, xp.abs(grad))
    numerator = lr * m
    denominator = u + epsilon
    denominator *= bias_correction
    numerator /= denominator
    return var - numerator, (m, u)


def ftrl_update(xp, var, grad, slots, lr, learning_rate_power, l1_regularization_strength,
                l2_regularization_strength, l2_shrinkage_regularization_strength, beta):
    """FTRL-proximal; `slots` is `(accumulator, linear)`."""
    accumulator, linear = slots
    l2_reg = l2_regularization_strength + beta / (2.0 * lr)
    grad_to_use = grad + (2 * l2_shrinkage_regularization_strength) * var
    new_accumulator = accumulator + xp.square(grad)
    new_power = xp.power(new_accumulator, -learning_rate_power)
    sigma = new_power - xp.power(accumulator, -learning_rate_power)
    sigma /= lr
    sigma *= var
    linear = linear + (grad_to_use - sigma)
    quadratic = new_power / lr
    quadratic += 2 * l2_reg
    l1 = l1_regularization_strength
    new_var = xp.clip(linear, -l1, l1) - linear
    new_var /= quadratic
    return new_var, (new_accumulator, linear)


_FUSED_DTYPES = frozenset(np.dtype(d) for d in (np.float16, np.float32, np.float64))


def _fused(name, xp, var, grad):
    """The fused kernel `name` (`dtf.kernels`) for CuPy arrays of one float dtype, else None
    (the formulas below then run on `xp`)."""
    if (xp.__name__ != "cupy" or not isinstance(grad, xp.ndarray) or var.dtype != grad.dtype
            or var.dtype not in _FUSED_DTYPES):
        return None
    from dtf import kernels

    return kernels.get(name)


# Host values: a step, rate or cache of one of these types is computed with NumPy.
_HOST_TYPES = (int, float, np.ndarray, np.generic)


def _module_of(step):
    """The array module a step-dependent scalar is computed with: NumPy for a host step (a
    Python int), the step's own module for a device step (a 0-d CuPy array)."""
    if isinstance(step, _HOST_TYPES):
        return np
    from dtf import backend

    return backend.backend_of(step).xp


def _as_dtype(value, dtype):
    """`value` (a step or scalar) in the NumPy scalar type `dtype`: cast on the host for a host
    value, on the device (no synchronisation) for a device array."""
    if isinstance(value, _HOST_TYPES):
        return dtype(value)
    return value.astype(dtype)


def _cast(dtype, value):
    """A Python hyperparameter as Keras' `ops.cast(value, variable.dtype)` makes it: Keras
    converts the Python float to a float32 tensor first, so a float64 variable sees
    `float64(float32(0.9))`, not `0.9`."""
    return dtype(np.float32(value))


# -- gradient clipping --------------------------------------------------------------------------
def clip_by_norm(xp, grad, clip_norm):
    """`grad * clip_norm / max(||grad||, clip_norm)`, as `tf.clip_by_norm` (a zero gradient
    stays zero)."""
    l2sum = xp.sum(grad * grad)
    if xp is np:
        l2norm = xp.sqrt(l2sum) if l2sum > 0 else l2sum
    else:  # no host test on the device: sqrt keeps 0 at 0 (and NaN, inf as they are)
        l2norm = xp.sqrt(l2sum)
    scaled = grad * clip_norm
    scaled /= xp.maximum(l2norm, grad.dtype.type(clip_norm))
    return scaled


def clip_by_global_norm(xp, grads, clip_norm):
    """Scales all `grads` by `clip_norm / max(global_norm, clip_norm)` (Keras'
    `clip_by_global_norm`: a non-finite global norm makes every gradient NaN)."""
    if xp is not np:  # on the device: no host round trip per gradient
        squared = xp.stack([xp.sum(xp.square(g)).astype(grads[0].dtype) for g in grads])
        use_norm = xp.sqrt(xp.sum(squared))
        scale = clip_norm * xp.minimum(1.0 / use_norm, 1.0 / clip_norm)
        scale = scale + (use_norm - use_norm)
        return [g * scale.astype(g.dtype) for g in grads]
    dtype = grads[0].dtype.type
    squared = [dtype(xp.sum(xp.square(g))) for g in grads]
    use_norm = np.sqrt(np.sum(np.stack(squared)))
    with np.errstate(divide="ignore"):  # a zero norm gives 1/0 = inf: the scale is then 1
        scale = clip_norm * np.minimum(1.0 / use_norm, 1.0 / clip_norm)
    scale = scale + (use_norm - use_norm)  # NaN for inf/NaN norms, a no-op otherwise
    return [g * g.dtype.type(scale) for g in grads]
