"""Learning-rate schedules: values against their formulas, argument checks, configs."""

import math

import numpy as np
import pytest

import dtf
from dtf.keras.optimizers import schedules

STEPS = [0, 1, 7, 10, 25, 100, 101, 300]


def values(schedule, steps=STEPS):
    return np.array([float(schedule(s)) for s in steps])


def test_exponential_decay():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.9)
    np.testing.assert_allclose(values(schedule), [0.1 * 0.9 ** (s / 10) for s in STEPS],
                               rtol=1e-6)
    stairs = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.9, staircase=True)
    np.testing.assert_allclose(values(stairs), [0.1 * 0.9 ** (s // 10) for s in STEPS],
                               rtol=1e-6)


def test_piecewise_constant_decay():
    schedule = schedules.PiecewiseConstantDecay([10, 100], [1.0, 0.5, 0.1])
    np.testing.assert_allclose(values(schedule), [1, 1, 1, 1, 0.5, 0.5, 0.1, 0.1], rtol=1e-7)
    assert schedule(5).dtype == dtf.float32
    with pytest.raises(ValueError, match="1 less than the length of values"):
        schedules.PiecewiseConstantDecay([10, 100], [1.0, 0.5])


def test_polynomial_decay():
    schedule = schedules.PolynomialDecay(0.1, 100, end_learning_rate=0.01, power=0.5)
    expected = [(0.1 - 0.01) * (1 - min(s, 100) / 100) ** 0.5 + 0.01 for s in STEPS]
    np.testing.assert_allclose(values(schedule), expected, rtol=1e-6)
    cycle = schedules.PolynomialDecay(0.1, 100, end_learning_rate=0.01, power=2.0, cycle=True)
    expected = []
    for s in STEPS:
        decay_steps = 100 * (math.ceil(s / 100) if s else 1)
        expected.append((0.1 - 0.01) * (1 - s / decay_steps) ** 2 + 0.01)
    np.testing.assert_allclose(values(cycle), expected, rtol=1e-6)


def test_inverse_time_decay():
    schedule = schedules.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5)
    np.testing.assert_allclose(values(schedule), [0.1 / (1 + 0.5 * s / 10) for s in STEPS],
                               rtol=1e-6)
    stairs = schedules.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    np.testing.assert_allclose(values(stairs), [0.1 / (1 + 0.5 * (s // 10)) for s in STEPS],
                               rtol=1e-6)


def test_cosine_decay():
    schedule = schedules.CosineDecay(0.1, decay_steps=100, alpha=0.1)
    expected = [0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi * min(s, 100) / 100)) + 0.1)
                for s in STEPS]
    np.testing.assert_allclose(values(schedule), expected, rtol=1e-6, atol=1e-8)


def test_cosine_decay_with_warmup():
    schedule = schedules.CosineDecay(0.0, decay_steps=100, warmup_target=0.2, warmup_steps=20)
    expected = []
    for s in STEPS:
        s = min(s, 120)
        if s < 20:
            expected.append(0.2 * s / 20)
        else:
            expected.append(0.2 * 0.5 * (1 + math.cos(math.pi * (s - 20) / 100)))
    np.testing.assert_allclose(values(schedule), expected, rtol=1e-6, atol=1e-8)


def test_cosine_decay_restarts():
    schedule = schedules.CosineDecayRestarts(0.1, first_decay_steps=10, t_mul=2.0, m_mul=0.5)
    expected = []
    for s in STEPS:
        period, start, i = 10, 0, 0
        while s >= start + period:  # periods of 10, 20, 40, ... steps
            start += period
            period *= 2
            i += 1
        fraction = (s - start) / period
        expected.append(0.1 * 0.5 ** i * 0.5 * (1 + math.cos(math.pi * fraction)))
    np.testing.assert_allclose(values(schedule), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("cls,args", [(schedules.ExponentialDecay, (0.1, 0, 0.5)),
                                      (schedules.PolynomialDecay, (0.1, -1)),
                                      (schedules.InverseTimeDecay, (0.1, 0, 0.5)),
                                      (schedules.CosineDecay, (0.1, 0)),
                                      (schedules.CosineDecayRestarts, (0.1, 0))])
def test_decay_steps_must_be_positive(cls, args):
    with pytest.raises(ValueError, match="must be > 0"):
        cls(*args)


def test_steps_as_tensors_variables_and_arrays():
    schedule = schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    assert float(schedule(dtf.constant(2))) == 0.25
    assert float(schedule(dtf.Variable(3, dtype=dtf.int64))) == 0.125
    assert float(schedule(np.int64(1))) == 0.5
    out = schedule(np.arange(3))
    assert isinstance(out, dtf.Tensor) and out.shape == (3,) and out.dtype == dtf.float32
    np.testing.assert_array_equal(out.numpy(), [1.0, 0.5, 0.25])


def test_dtype_follows_the_initial_learning_rate():
    schedule = schedules.ExponentialDecay(np.float64(0.1), decay_steps=3, decay_rate=0.5)
    out = schedule(1)
    assert out.dtype == dtf.float64
    assert float(out) == 0.1 * 0.5 ** (1 / 3)


ALL = [schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True, name="e"),
       schedules.PiecewiseConstantDecay([5, 10], [0.3, 0.2, 0.1]),
       schedules.PolynomialDecay(0.1, 10, 0.001, power=2.0, cycle=True),
       schedules.InverseTimeDecay(0.1, 10, 0.5),
       schedules.CosineDecay(0.1, 10, alpha=0.2, warmup_target=0.3, warmup_steps=4),
       schedules.CosineDecayRestarts(0.1, 10, t_mul=1.5, m_mul=0.9, alpha=0.01)]


@pytest.mark.parametrize("schedule", ALL, ids=lambda s: type(s).__name__)
def test_config_round_trip(schedule):
    config = schedule.get_config()
    rebuilt = type(schedule).from_config(config)
    assert rebuilt.get_config() == config
    np.testing.assert_array_equal(values(rebuilt), values(schedule))
    serialized = schedules.serialize(schedule)
    assert serialized["module"] == "keras.optimizers.schedules"
    assert serialized["class_name"] == type(schedule).__name__
    assert schedules.deserialize(serialized).get_config() == config
    keras2 = {"class_name": type(schedule).__name__, "config": config}
    assert schedules.deserialize(keras2).get_config() == config


def test_custom_schedule_with_an_optimizer():
    from dtf.keras import optimizers

    class Halving(schedules.LearningRateSchedule):
        def __call__(self, step):
            return 1.0 / (2.0 ** dtf.cast(step, dtf.float32))

    w = dtf.Variable([0.0])
    opt = optimizers.SGD(Halving())
    for _ in range(3):
        opt.apply_gradients([(dtf.constant([1.0]), w)])
    assert float(w[0]) == -1.75
    with pytest.raises(NotImplementedError, match="must override `get_config"):
        Halving().get_config()
    with pytest.raises(NotImplementedError, match="must override `__call__"):
        schedules.LearningRateSchedule()(0)


def test_unknown_schedule_name():
    with pytest.raises(ValueError, match="Unknown decay"):
        schedules.deserialize({"class_name": "NoSuchDecay", "config": {}})
