"""Learning-rate schedules: callables from the optimizer's step to a learning rate.

A schedule is called with a step (a Python int, a NumPy integer or array, a Tensor or the
optimizer's `iterations` Variable) and returns a Tensor of the initial learning rate's dtype
(float32 for Python numbers). Steps may be arrays: `schedule(np.arange(100))` gives the
schedule's 100 values (for plotting).

The formulas are Keras 3's, computed in the schedule's dtype and in Keras' order of
operations, so that values agree with Keras to the last bits. An optimizer evaluates its
schedule once per step, at `iterations`. A step on the host is computed with NumPy; a step held
on the GPU (the `iterations` of an optimizer whose variables live there) is computed on the
device with the step's array module, without a host synchronisation, so that a training step
captured as a CUDA graph sees the schedule's value of each step it replays.

Example:
    >>> schedule = CosineDecay(0.1, decay_steps=100)
    >>> round(float(schedule(50)), 4)
    0.05
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from dtf.tensor import Tensor

__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "deserialize",
    "serialize",
]

_PUBLIC_MODULE = "keras.optimizers.schedules"


def _step_array(step):
    """The step's value: a NumPy array (or scalar) for a step on the host, the device array of
    a step held on the GPU (the schedule then computes on the device)."""
    if isinstance(step, Tensor) or getattr(step, "_is_dtf_variable", False):
        if getattr(step, "_is_symbolic", False):
            raise TypeError("Learning-rate schedules are evaluated on concrete steps (ints, "
                            f"Tensors, the optimizer's iterations), got the symbolic {step!r}.")
        step = step._value
    if isinstance(step, (np.ndarray, np.generic)) or not hasattr(step, "astype"):
        return np.asarray(step)  # on the host (a Python number, NumPy data)
    return step  # a device array


def _module(array):
    """The array module to compute with: NumPy for host values, the array's own (CuPy) for a
    device array."""
    if isinstance(array, (np.ndarray, np.generic)):
        return np
    from dtf import backend

    return backend.backend_of(array).xp


def _float_dtype(value):
    """The dtype a schedule computes in: the initial learning rate's (float32 for Python
    numbers, as Keras' `convert_to_tensor`)."""
    if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False):
        return np.dtype(value.dtype.as_numpy_dtype)
    if isinstance(value, (np.ndarray, np.generic)) and np.issubdtype(value.dtype, np.floating):
        return value.dtype
    return np.dtype(np.float32)


def _value_dtype(value):
    """The dtype Keras' `convert_to_tensor` gives a value: Python ints int32, floats float32,
    NumPy data and Tensors their own."""
    if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False):
        return np.dtype(value.dtype.as_numpy_dtype)
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype
    return np.dtype(np.int32 if isinstance(value, int) and not isinstance(value, bool)
                    else np.float32)


def _cast(value, dtype):
    """`value` in `dtype`: a host value as a NumPy scalar (or array), which combines with host
    and device arrays alike; a device array cast on its device."""
    if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False):
        value = value._value
    if isinstance(value, (np.ndarray, np.generic)) or not hasattr(value, "astype"):
        return np.asarray(value).astype(dtype)[()]
    return value.astype(dtype)


def _result(array) -> Tensor:
    if not isinstance(array, (np.ndarray, np.generic)):
        return Tensor(array)  # a device array (0-d arrays stay arrays there)
    array = np.asarray(array)
    return Tensor(array[()] if array.ndim == 0 else array)


def _check_positive(name, value):
    if value <= 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value}")


class LearningRateSchedule:
    """The base class of learning-rate schedules.

    Subclasses implement `__call__(self, step)` (returning the learning rate at `step`) and
    `get_config()`; `from_config(config)` calls the constructor with the config.

    Example:
        >>> class InverseStep(LearningRateSchedule):
        ...     def __init__(self, initial_learning_rate):
        ...         self.initial_learning_rate = initial_learning_rate
        ...     def __call__(self, step):
        ...         return self.initial_learning_rate / (dtf.cast(step, "float32") + 1)
        ...     def get_config(self):
        ...         return {"initial_learning_rate": self.initial_learning_rate}
        >>> optimizer = keras.optimizers.SGD(learning_rate=InverseStep(0.1))
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override "
            "`__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` in "
            "order to be serializable.")

    @classmethod
    def from_config(cls, config):
        """A schedule from the dict `get_config()` returned."""
        return cls(**config)


class _StepDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: their arguments, their config and the
    decay progress `step / decay_steps` (floored when `staircase`)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def _progress(self, step):
        dtype = _float_dtype(self.initial_learning_rate)
        step = _step_array(step)
        xp = _module(step)
        p = _cast(step, dtype) / _cast(self.decay_steps, dtype)
        return xp, dtype, (xp.floor(p) if self.staircase else p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_StepDecay):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)`.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: the number of steps over which the rate is multiplied by `decay_rate`.
        decay_rate: the decay factor.
        staircase: decay at discrete intervals (`step // decay_steps`).
        name: the schedule's name.

    Example:
        >>> schedule = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
        >>> schedule(19)
        <dtf.Tensor: shape=(), dtype=float32, numpy=0.05>
    """

    _keras_api_module = _PUBLIC_MODULE

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        xp, dtype, p = self._progress(step)
        return _result(_cast(self.initial_learning_rate, dtype)
                       * xp.power(_cast(self.decay_rate, dtype), p))


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while `step <= boundaries[0]`, `values[1]` while `step <= boundaries[1]`,
    ..., and `values[-1]` after the last boundary.

    Args:
        boundaries: strictly increasing step numbers.
        values: one more value than boundaries (their dtype is the result's: Python floats
            give float32).
        name: the schedule's name.

    Example:
        >>> schedule = PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
        >>> schedule(np.array([100, 101, 201])).numpy()
        array([1. , 0.5, 0.1], dtype=float32)
    """

    _keras_api_module = _PUBLIC_MODULE

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                f"values={values} of length {len(values)}.")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        step = _step_array(step)
        xp = _module(step)
        dtype = _value_dtype(self.values[0])
        boundaries = [_cast(b, step.dtype) for b in self.boundaries]
        values = [_cast(v, dtype) for v in self.values]
        conditions = [step <= boundaries[0]]
        conditions += [(step > low) & (step <= high)
                       for low, high in itertools.pairwise(boundaries)]
        conditions.append(step > boundaries[-1])
        # np.select as nested selects (the first true condition wins), which a device array
        # computes on its device too
        result = xp.where(conditions[-1], values[-1], dtype.type(0))
        for condition, value in zip(conditions[-2::-1], values[-2::-1]):
            result = xp.where(condition, value, result)
        return _result(result.astype(dtype))

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """`(initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end`.

    With `cycle`, `decay_steps` grows to the first multiple of itself above `step` instead.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: the number of steps to reach `end_learning_rate`.
        end_learning_rate: the final rate.
        power: the polynomial's power.
        cycle: restart the decay every `decay_steps` (from a lower rate each time).
        name: the schedule's name.

    Example:
        >>> schedule = PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.0)
        >>> round(float(schedule(5)), 6)
        0.05
    """

    _keras_api_module = _PUBLIC_MODULE

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        dtype = _float_dtype(self.initial_learning_rate)
        initial = _cast(self.initial_learning_rate, dtype)
        end = _cast(self.end_learning_rate, dtype)
        power = _cast(self.power, dtype)
        step = _cast(_step_array(step), dtype)
        xp = _module(step)
        decay_steps = _cast(self.decay_steps, dtype)
        if self.cycle:
            multiplier = xp.where(step == 0, dtype.type(1.0),
                                  xp.ceil(step / dtype.type(self.decay_steps)))
            decay_steps = decay_steps * multiplier
        else:
            step = xp.minimum(step, decay_steps)
        p = step / decay_steps
        return _result((initial - end) * xp.power(1 - p, power) + end)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class InverseTimeDecay(_StepDecay):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)`.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: how often the decay applies.
        decay_rate: the decay rate.
        staircase: decay at discrete intervals (`floor(step / decay_steps)`).
        name: the schedule's name.

    Example:
        >>> schedule = InverseTimeDecay(0.1, decay_steps=1.0, decay_rate=0.5)
        >>> round(float(schedule(2)), 6)
        0.05
    """

    _keras_api_module = _PUBLIC_MODULE

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        _, dtype, p = self._progress(step)
        denominator = dtype.type(1) + _cast(self.decay_rate, dtype) * p
        return _result(_cast(self.initial_learning_rate, dtype) / denominator)


def _cosine_decay(xp, step, decay_steps, decay_from_lr, alpha, dtype):
    completed_fraction = step / decay_steps
    cosine_decayed = 0.5 * (1.0 + xp.cos(dtype.type(math.pi) * completed_fraction))
    decayed = (1 - alpha) * cosine_decayed + alpha
    return decay_from_lr * decayed


class CosineDecay(LearningRateSchedule):
    """Cosine decay from the initial rate to `alpha` times it over `decay_steps`, after an
    optional linear warmup.

    Without `warmup_target`: `initial * ((1 - alpha) * 0.5 * (1 + cos(pi * t)) + alpha)` with
    `t = min(step, decay_steps) / decay_steps`. With it, the rate first rises linearly from
    `initial_learning_rate` to `warmup_target` over `warmup_steps`, then decays from
    `warmup_target`.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: the number of decay steps.
        alpha: the final rate as a fraction of the decay's starting rate.
        name: the schedule's name.
        warmup_target: the rate the warmup reaches (None: no warmup).
        warmup_steps: the number of warmup steps.

    Example:
        >>> schedule = CosineDecay(0.0, decay_steps=100, warmup_target=0.1, warmup_steps=10)
        >>> round(float(schedule(5)), 6), round(float(schedule(10)), 6)
        (0.05, 0.1)
    """

    _keras_api_module = _PUBLIC_MODULE

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def __call__(self, step):
        dtype = _float_dtype(self.initial_learning_rate)
        initial = _cast(self.initial_learning_rate, dtype)
        decay_steps = _cast(self.decay_steps, dtype)
        step = _cast(_step_array(step), dtype)
        xp = _module(step)
        if self.warmup_target is None:
            step = xp.minimum(step, decay_steps)
            return _result(_cosine_decay(xp, step, decay_steps, initial, self.alpha, dtype))
        warmup_target = _cast(self.warmup_target, dtype)
        warmup_steps = _cast(self.warmup_steps, dtype)
        step = xp.minimum(step, decay_steps + warmup_steps)
        with np.errstate(divide="ignore", invalid="ignore"):  # the branch the select drops
            warmup = (warmup_target - initial) * (step / warmup_steps) + initial
        decay = _cosine_decay(xp, step - warmup_steps, decay_steps, warmup_target, self.alpha,
                              dtype)
        return _result(xp.where(step < warmup_steps, warmup, decay))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): the rate decays from the initial rate to
    `alpha` times it over `first_decay_steps`, then restarts; each period is `t_mul` times
    longer and starts `m_mul` times lower than the previous one.

    Args:
        initial_learning_rate: the rate at step 0.
        first_decay_steps: the length of the first period.
        t_mul: the growth factor of the periods' lengths.
        m_mul: the factor of the periods' starting rates.
        alpha: the final rate of each period as a fraction of the initial rate.
        name: the schedule's name.

    Example:
        >>> schedule = CosineDecayRestarts(0.1, first_decay_steps=10)
        >>> round(float(schedule(10)), 6)  # the first restart
        0.1
    """

    _keras_api_module = _PUBLIC_MODULE

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        _check_positive("first_decay_steps", first_decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        dtype = _float_dtype(self.initial_learning_rate)
        initial = _cast(self.initial_learning_rate, dtype)
        alpha = _cast(self.alpha, dtype)
        t_mul = _cast(self._t_mul, dtype)
        m_mul = _cast(self._m_mul, dtype)
        step = _step_array(step)
        xp = _module(step)
        completed_fraction = _cast(step, dtype) / _cast(self.first_decay_steps, dtype)
        if t_mul == 1.0:
            i_restart = xp.floor(completed_fraction)
            completed_fraction = completed_fraction - i_restart
        else:
            i_restart = xp.floor(xp.log(1.0 - completed_fraction * (1.0 - t_mul))
                                 / np.log(t_mul))
            sum_r = (1.0 - xp.power(t_mul, i_restart)) / (1.0 - t_mul)
            completed_fraction = (completed_fraction - sum_r) / xp.power(t_mul, i_restart)
        m_fac = xp.power(m_mul, i_restart)
        cosine_decayed = 0.5 * m_fac * (1.0 + xp.cos(dtype.type(math.pi) * completed_fraction))
        decayed = (1 - alpha) * cosine_decayed + alpha
        return _result(initial * decayed)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self._t_mul,
                "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


_BUILTIN_SCHEDULES = {cls.__name__: cls for cls in (
    CosineDecay, CosineDecayRestarts, ExponentialDecay, InverseTimeDecay, LearningRateSchedule,
    PiecewiseConstantDecay, PolynomialDecay)}


def serialize(learning_rate_schedule):
    """The schedule as a Keras 3 config dict (`{"module", "class_name", "config", ...}`).

    Example:
        >>> serialize(ExponentialDecay(0.1, 1000, 0.96))["class_name"]
        'ExponentialDecay'
    """
    from dtf.keras.saving.serialization import serialize_keras_object

    return serialize_keras_object(learning_rate_schedule)


def deserialize(config, custom_objects=None):
    """The schedule a config describes (Keras 3's or Keras 2's `{"class_name", "config"}`).

    Example:
        >>> schedule = deserialize({"class_name": "PolynomialDecay",
        ...                         "config": {"initial_learning_rate": 0.1, "decay_steps": 10}})
        >>> schedule.decay_steps
        10
    """
    from dtf.keras.saving.serialization import deserialize_keras_object

    return deserialize_keras_object(config, module_objects=_BUILTIN_SCHEDULES,
                                    custom_objects=custom_objects, printable_module_name="decay")
