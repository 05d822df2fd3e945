"""The examples in the docstrings of the executor's modules run as shown."""

import doctest
import importlib

import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.compile import context
from dtf.compile.graph import Graph
from dtf.compile.symbolic import placeholder

MODULES = ["dtf.compile.codegen", "dtf.compile.passes", "dtf.compile.fusion",
           "dtf.compile.flat_apply"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={
        "dtf": dtf, "np": np, "keras": keras, "Graph": Graph, "placeholder": placeholder,
        "context": context},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
