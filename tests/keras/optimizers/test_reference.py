"""Optimizers and schedules against values recorded from TensorFlow 2.21 / Keras 3
(`fixtures/make_reference.py` made `fixtures/reference.json`).

Most cases agree bit for bit: dtf follows Keras' order of operations and its float32 casts.
Where TensorFlow's transcendental kernels (pow, and sums in a different order) round
differently from NumPy's, results differ in the last bits only.
"""

import json
import pathlib

import numpy as np
import pytest

import dtf
from dtf.keras import optimizers

REFERENCE = json.loads(
    (pathlib.Path(__file__).parent / "fixtures" / "reference.json").read_text())
# cases whose float32 results may differ from Keras' by a few ulps (see the module docstring);
# Ftrl with learning_rate_power=-0.7 amplifies them where its result cancels to near zero
ULPS = {"nadam": 1e-6, "adamax": 1e-6, "adam_clipnorm": 1e-6, "adam_schedule": 1e-6,
        "ftrl_regularized": 1e-5}


def make_optimizer(record):
    kwargs = dict(record["kwargs"])
    if "schedule" in kwargs:
        name, schedule_kwargs = kwargs.pop("schedule")
        kwargs["learning_rate"] = getattr(optimizers.schedules, name)(**schedule_kwargs)
    return getattr(optimizers, record["class_name"])(**kwargs)


@pytest.mark.parametrize("case", sorted(REFERENCE["optimizers"]))
def test_optimizer_matches_keras(case):
    record = REFERENCE["optimizers"][case]
    dtype = record["dtype"]
    optimizer = make_optimizer(record)
    variables = [dtf.Variable(np.array(v, dtype), name=f"v{i}")
                 for i, v in enumerate(record["init"])]
    atol = ULPS.get(case, 0.0) if dtype == "float32" else 1e-12
    for step, grads in enumerate(record["grads"]):
        optimizer.apply_gradients(zip([dtf.constant(np.array(g, dtype)) for g in grads],
                                      variables))
        for variable, expected in zip(variables, record["history"][step]):
            assert variable.dtype.name == dtype
            np.testing.assert_allclose(variable.numpy(), np.array(expected, dtype), rtol=0,
                                       atol=atol, err_msg=f"{case}, step {step + 1}")
    assert int(optimizer.iterations.numpy()) == record["iterations"]
    ours = optimizer.variables
    assert len(ours) == len(record["optimizer_variables"])
    for variable, expected, name in zip(ours, record["optimizer_variables"],
                                        record["optimizer_variable_names"]):
        if name != "variable" and not name.startswith("variable_"):  # Nadam's momentum cache
            assert variable.name == f"{name}:0"
        np.testing.assert_allclose(np.asarray(variable.numpy(), np.float64),
                                   np.array(expected, np.float64), rtol=1e-6,
                                   atol=max(atol, 1e-12), err_msg=f"{case}: {name}")


@pytest.mark.parametrize("case", sorted(REFERENCE["schedules"]))
def test_schedule_matches_keras(case):
    record = REFERENCE["schedules"][case]
    schedule = getattr(optimizers.schedules, record["class_name"])(**record["kwargs"])
    expected = np.array(record["values"], np.float32)
    one_by_one = np.array([schedule(dtf.constant(s, dtf.int64)).numpy()
                           for s in record["steps"]])
    assert one_by_one.dtype == np.float32
    np.testing.assert_allclose(one_by_one, expected, rtol=0, atol=1e-8)
    # a vector of steps gives the same values
    np.testing.assert_array_equal(schedule(np.array(record["steps"])).numpy(), one_by_one)
    assert schedule.get_config() == record["config"]
