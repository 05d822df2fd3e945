"""Each seed program runs as if it were a fresh process: default Variable names start again at
`Variable:0` (dtf numbers default names per process: Variable:0, Variable_1:0, ...)."""

import pytest

import dtf


@pytest.fixture(autouse=True)
def fresh_program_names():
    dtf.variables.reset_default_names()
    yield
