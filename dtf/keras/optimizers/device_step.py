"""An optimizer's step on the GPU without a host synchronisation.

On NumPy, `Optimizer` reads its step count on the host (`int(iterations)`) and computes the
step's scalars (Adam's bias-corrected step size, Nadam's momentum schedule, a learning-rate
schedule's value) as NumPy scalars. On the GPU that read would wait for the device, and a
compiled step captured into a CUDA graph (`dtf.compile.cuda_graph`) could not contain it: the
capture refuses a host synchronisation, and a value read on the host while capturing would be
frozen into every replay. So when the optimizer's variables are device arrays, its step is
computed here from the device `iterations` counter instead:

- the 1-based step `iterations + 1` (`iterations // gradient_accumulation_steps + 1`) is a 0-d
  device array, which `updates`' scalar functions (`adam_step_size`, `nadam_coefficients`, ...)
  turn into 0-d device scalars of each variable's dtype; the fused kernels
  (`dtf.kernels.optimizers`) read such a rate from device memory;
- the learning rate is the device value of its Variable, or the schedule's value at the device
  `iterations` (the built-in schedules compute on the step's array module);
- decisions that depend on the step (gradient accumulation's "update now?", the moving
  averages' first step and overwrite frequency) become device selects (`xp.where`);
- `iterations` is incremented on the device (`Optimizer._apply_arrays`).

Python-level decisions still use host values fixed when the step runs (or is captured):
hyperparameters such as `beta_1` or `amsgrad`, which are plain Python attributes.

What cannot be computed on the device makes a capture fall back to plain execution (the
capture raises `HostValueInCapture`, which `cuda_graph` turns into a plain run): a learning
rate given as a zero-argument callable or a schedule returning host values (the value would
be frozen), or an `iterations` or learning-rate Variable on the host. Outside a capture these
still work, reading the host values as the NumPy path does.

Nothing in this module converts a device value to a host one (`tests/gpu/
test_optimizer_capture_gpu.py` scans it for `int()`, `float()`, `.item()`, `.get()`, ...).

Example (on a GPU: `iterations` and the variables live on the device)::

    opt = keras.optimizers.Adam(1e-3)
    opt.apply_gradients(zip(grads, variables))  # alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)
                                                # computed on the device, no host wait
"""

from __future__ import annotations

import numpy as np

from dtf.tensor import Tensor

__all__ = [
    "HostValueInCapture",
    "accumulate_or_update",
    "as_rate",
    "cast_rate",
    "learning_rate",
    "step",
    "update_moving_averages",
]

# Values that live on the host: a step or rate of one of these types is a host scalar.
_HOST_TYPES = (int, float, np.ndarray, np.generic)


class HostValueInCapture(RuntimeError):
    """A step-dependent value of an optimizer lives on the host while a CUDA graph is being
    captured: a replay would reuse the value read at capture time."""


def _refuse_in_capture(what: str) -> None:
    """Raises `HostValueInCapture` while this thread captures a CUDA graph (the capture then
    falls back to plain execution, where the host value is read afresh every step)."""
    from dtf.backend import cupy_backend

    if cupy_backend._captures[0] and cupy_backend.capturing():
        raise HostValueInCapture(
            f"{what} is a host value: a CUDA graph would replay the value it had when it was "
            "captured. Keep it in a Variable on the GPU or use a built-in "
            "keras.optimizers.schedules schedule (computed on the device).")


def step(optimizer, xp):
    """The 1-based step the update is for, as a 0-d int64 array of `xp` (the device's module);
    a Python int when `iterations` lives on the host."""
    iterations = optimizer._iterations._value
    if not isinstance(iterations, xp.ndarray):
        _refuse_in_capture(f"{optimizer.name}'s `iterations`")
        return optimizer._current_step() + 1
    steps = optimizer.gradient_accumulation_steps
    return (iterations // steps if steps else iterations) + 1


def as_rate(value, xp, what="the learning rate"):
    """A learning rate (Tensor, Variable, device or host scalar) as a 0-d device array when it
    is one, else as the host scalar `Optimizer` uses on NumPy."""
    if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False):
        value = value._value
    if not isinstance(value, xp.ndarray):
        _refuse_in_capture(what)
        if isinstance(value, (np.ndarray, np.generic)):
            return value.dtype.type(value)
        return np.float64(value)  # Python numbers stay exact until cast to each dtype
    return value


def learning_rate(optimizer, xp):
    """The step's learning rate on the device: its Variable's device value, or the schedule's
    (callable's) value at the device `iterations`."""
    from dtf.keras.optimizers.schedules.learning_rate_schedule import LearningRateSchedule

    lr = optimizer._learning_rate
    if getattr(lr, "_is_dtf_variable", False):
        return as_rate(lr, xp, f"{optimizer.name}'s learning-rate Variable")
    if isinstance(lr, LearningRateSchedule):
        return as_rate(lr(optimizer._iterations), xp,
                       f"the value of {optimizer.name}'s schedule {type(lr).__name__}")
    return as_rate(lr(), xp, f"the value of {optimizer.name}'s learning-rate callable")


def cast_rate(value, dtype):
    """A rate in the NumPy `dtype`: a host scalar cast on the host, a device one on the device
    (no synchronisation)."""
    if isinstance(value, _HOST_TYPES):
        return dtype.type(value)
    return value.astype(dtype)


def _step_dependent_variables(optimizer, variables):
    """The Variables an update may write: the trainable ones and the optimizer's own, but not
    `iterations` and the gradient accumulators (which the callers write)."""
    skip = {id(optimizer._iterations)}
    skip.update(id(a) for a in getattr(optimizer, "_accumulated_gradients", ()))
    out = list(variables)
    seen = {id(v) for v in out}
    for v in optimizer._variables:
        if id(v) not in skip and id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def accumulate_or_update(optimizer, xp, grads, variables, steps) -> None:
    """Gradient accumulation with the "update now?" decision on the device.

    Every micro-step computes the update from the mean of the accumulated gradients, and a
    device select keeps it on the steps where `(iterations + 1) % steps == 0` and the old
    values otherwise (what the host path decides with an `if`; the values agree).
    """
    index = optimizer._index
    accumulators = [optimizer._accumulated_gradients[index[id(v)]] for v in variables]
    apply_now = (optimizer._iterations._value + 1) % steps == 0
    summed = [g + acc._value for g, acc in zip(grads, accumulators)]
    written = _step_dependent_variables(optimizer, variables)
    # an update may write the slots' arrays in place (a parameter server's optimizer): keep
    # copies then, so that the select can restore them
    copy = optimizer._slots_in_place
    before = [v._value.copy() if copy else v._value for v in written]
    optimizer._update([s / steps for s in summed], variables)
    for variable, old in zip(written, before):
        new = variable._value
        if new is not old:
            variable._value = xp.where(apply_now, new, old)
    all_accumulators = optimizer._accumulated_gradients
    kept = [acc._value for acc in all_accumulators]
    for variable, new_sum in zip(variables, summed):
        kept[index[id(variable)]] = new_sum
    for acc, value in zip(all_accumulators, kept):
        acc._value = xp.where(apply_now, xp.zeros_like(value), value)


def update_moving_averages(optimizer, xp) -> None:
    """The moving averages of `use_ema`, with the first step's momentum of 0 and the
    overwrite every `ema_overwrite_frequency` steps as device selects."""
    iterations = optimizer._iterations._value
    steps = optimizer.gradient_accumulation_steps
    current = iterations // steps if steps else iterations
    first_step = current == 0
    for variable, average in zip(optimizer._trainable_variables,
                                 optimizer._model_variables_moving_average):
        value = variable._value
        dtype = value.dtype.type
        momentum = xp.where(first_step, dtype(0.0), dtype(optimizer.ema_momentum))
        momentum = momentum.astype(value.dtype)
        average._value = momentum * average._value + (1 - momentum) * value
    frequency = optimizer.ema_overwrite_frequency
    if frequency:
        overwrite = (current + 1) % frequency == 0
        for variable, average in zip(optimizer._trainable_variables,
                                     optimizer._model_variables_moving_average):
            variable._value = xp.where(overwrite, average._value, variable._value)
