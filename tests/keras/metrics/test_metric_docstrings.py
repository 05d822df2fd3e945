"""The examples in the docstrings of keras.metrics run as shown."""

import doctest
import importlib

import pytest

import dtf

MODULES = ["dtf.keras.metrics", "dtf.keras.metrics.metric", "dtf.keras.metrics.reduction_metrics",
           "dtf.keras.metrics.accuracy_metrics", "dtf.keras.metrics.regression_metrics",
           "dtf.keras.metrics.confusion_metrics", "dtf.keras.metrics.iou_metrics",
           "dtf.keras.metrics.metrics_utils", "dtf.keras.metrics._fused"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    from dtf import keras

    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"dtf": dtf, "keras": keras},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
