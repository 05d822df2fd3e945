"""The examples in the docstrings of keras.losses run as shown."""

import doctest
import importlib

import pytest

import dtf

MODULES = ["dtf.keras.losses", "dtf.keras.losses.loss", "dtf.keras.losses.losses",
           "dtf.keras.losses.functions", "dtf.keras.losses._fused"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    from dtf import keras

    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"dtf": dtf, "keras": keras},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
