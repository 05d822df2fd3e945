"""The docstring examples of the op modules run and print what they show (conv_ops and pool_ops
have theirs in test_conv_semantics)."""

import doctest
import importlib

import pytest

import dtf
from dtf.compile.symbolic import placeholder

MODULES = ["array_ops", "creation_ops", "dynamic_shapes", "indexing_ops", "linalg_ops",
           "matrix_ops", "random_ops", "repeat_ops", "slicing_ops", "sort_ops"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"dtf.ops.{name}")
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    globs = {**vars(module), "dtf": dtf, "placeholder": placeholder}
    for test in finder.find(module, globs=globs):
        runner.run(test)
    assert runner.failures == 0, f"{name}: a docstring example failed (see the output above)"
    assert runner.tries >= 2
