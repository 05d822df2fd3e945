"""The examples in the docstrings of dtf.train run as shown."""

import doctest
import importlib
import os
import tempfile

import numpy as np
import pytest

import dtf
import dtf.train

MODULES = ["dtf.train", "dtf.train.checkpoint", "dtf.train.checkpoint_io",
           "dtf.train.checkpoint_management", "dtf.train.checkpoint_reader", "dtf.train.graph",
           "dtf.train.restore"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    from dtf import keras

    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"dtf": dtf, "keras": keras, "np": np,
                                                 "os": os, "tempfile": tempfile},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
