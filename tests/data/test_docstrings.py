"""The examples in the docstrings of dtf.data, dtf.TensorSpec and keras.datasets run as shown."""

import doctest
import importlib
import os

import pytest

import dtf
from dtf.tensor_spec import TensorSpec

MODULES = ["dtf.data", "dtf.data.dataset", "dtf.data.options", "dtf.data.experimental",
           "dtf.tensor_spec"]
HAS_MIRROR = os.path.isfile(os.path.join(os.environ.get("DTF_DATASETS_DIR", "-"), "mnist.npz"))


def _run(name, monkeypatch):
    from dtf import keras

    if not hasattr(dtf, "TensorSpec"):  # exported from dtf/__init__ by the lead
        monkeypatch.setattr(dtf, "TensorSpec", TensorSpec, raising=False)
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"dtf": dtf, "keras": keras},
                             optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, monkeypatch):
    _run(name, monkeypatch)


@pytest.mark.skipif(not HAS_MIRROR, reason="needs DTF_DATASETS_DIR with mnist.npz")
def test_mnist_docstring_example(monkeypatch):
    _run("dtf.keras.datasets.mnist", monkeypatch)
