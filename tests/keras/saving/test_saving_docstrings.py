"""The examples in the docstrings of keras.saving's saving modules run as shown."""

import doctest
import importlib
import os
import tempfile

import numpy as np
import pytest

import dtf

MODULES = ["dtf.keras.saving.object_graph", "dtf.keras.saving.h5_store",
           "dtf.keras.saving.weights_io", "dtf.keras.saving.saving_lib",
           "dtf.keras.saving.saving_api"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    from dtf import keras

    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"dtf": dtf, "keras": keras, "np": np,
                                                 "os": os, "tempfile": tempfile},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
