"""dtf's losses against values recorded from Keras 3 (fixtures/make_losses.py)."""

import json
import os
import warnings

import numpy as np
import pytest

import dtf
from dtf.keras import losses

with open(os.path.join(os.path.dirname(__file__), "fixtures", "losses_reference.json")) as f:
    REFERENCE = json.load(f)["cases"]


def _array(spec):
    return np.asarray(spec["value"], dtype=spec["dtype"])


@pytest.mark.parametrize("case", REFERENCE, ids=[c["name"] for c in REFERENCE])
def test_matches_keras(case):
    y_true, y_pred = _array(case["y_true"]), _array(case["y_pred"])
    expected = _array(case["expected"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # Keras' one-class warning
        if case["kind"] == "class":
            loss = getattr(losses, case["loss"])(**case["kwargs"])
            sw = None if case["sample_weight"] is None else _array(case["sample_weight"])
            got = loss(dtf.constant(y_true), dtf.constant(y_pred), sample_weight=sw)
        else:
            got = getattr(losses, case["loss"])(dtf.constant(y_true), dtf.constant(y_pred),
                                                 **case["kwargs"])
    value = np.asarray(got.numpy())
    assert value.shape == expected.shape
    assert got.dtype.name == case["expected"]["dtype"]
    assert np.all(np.isfinite(value)) == np.all(np.isfinite(expected))
    tol = 1e-5 if expected.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(value, expected, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("case", [c for c in REFERENCE if c["kind"] == "class"][:60],
                         ids=[c["name"] for c in REFERENCE if c["kind"] == "class"][:60])
def test_numpy_inputs_match(case):
    """Plain NumPy inputs (no dtf.constant) give the same values."""
    loss = getattr(losses, case["loss"])(**case["kwargs"])
    sw = None if case["sample_weight"] is None else _array(case["sample_weight"])
    got = loss(_array(case["y_true"]), _array(case["y_pred"]), sample_weight=sw)
    np.testing.assert_allclose(np.asarray(got.numpy()), _array(case["expected"]), rtol=1e-5,
                               atol=1e-4)
