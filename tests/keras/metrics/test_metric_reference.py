"""dtf's metrics against results recorded from Keras 3 (fixtures/make_metrics.py): the same
batches through update_state, result() after each; then reset_state starts over."""

import json
import os
import warnings

import numpy as np
import pytest

from dtf.keras import metrics

with open(os.path.join(os.path.dirname(__file__), "fixtures", "metrics_reference.json")) as f:
    REFERENCE = json.load(f)["cases"]


def _array(spec):
    return None if spec is None else np.asarray(spec["value"], dtype=spec["dtype"])


def _run(metric, batches):
    results = []
    for y_true, y_pred, sw in batches:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # IoU's int-weights warning
            if y_pred is None:
                metric.update_state(_array(y_true), sample_weight=_array(sw))
            else:
                metric.update_state(_array(y_true), _array(y_pred), sample_weight=_array(sw))
        results.append(np.asarray(metric.result().numpy()))
    return results


@pytest.mark.parametrize("case", REFERENCE, ids=[c["name"] for c in REFERENCE])
def test_matches_keras(case):
    metric = getattr(metrics, case["metric"])(**case["kwargs"])
    got = _run(metric, case["batches"])
    for step, (value, expected) in enumerate(zip(got, case["results"])):
        expected = _array(expected)
        assert value.shape == expected.shape, f"batch {step}"
        np.testing.assert_allclose(value, expected, rtol=2e-5, atol=2e-6,
                                   err_msg=f"{case['name']} after batch {step}")
    # reset: the same batches give the same results again
    metric.reset_state()
    again = _run(metric, case["batches"])
    for a, b in zip(got, again):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
