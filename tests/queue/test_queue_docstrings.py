"""The examples in dtf.queue's docstrings run as shown."""

import doctest
import importlib

import pytest

import dtf

MODULES = ["dtf.queue", "dtf.queue.queue_base", "dtf.queue.queues"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, monkeypatch):
    from dtf import queue

    monkeypatch.setattr(dtf, "queue", queue, raising=False)  # until dtf exports it lazily
    result = doctest.testmod(importlib.import_module(name), extraglobs={"dtf": dtf},
                             optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
