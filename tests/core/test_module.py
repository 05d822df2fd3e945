"""dtf.Module: names, variables found through attributes and containers, sub-modules."""

import numpy as np
import pytest

import dtf


class Dense(dtf.Module):
    def __init__(self, n_in, n_out, name=None):
        super().__init__(name=name)
        self.w = dtf.Variable(np.ones((n_in, n_out), np.float32), name="w")
        self.b = dtf.Variable(np.zeros(n_out, np.float32), name="b")

    def __call__(self, x):
        return dtf.matmul(x, self.w) + self.b


class MLP(dtf.Module):
    def __init__(self):
        super().__init__()
        self.layers = [Dense(3, 4, name="first"), Dense(4, 2, name="second")]
        self.counter = dtf.Variable(0, trainable=False, name="counter")
        self.shared = self.layers[0]  # reachable twice, listed once

    @dtf.function
    def __call__(self, x):
        self.counter.assign_add(1)
        for layer in self.layers:
            x = layer(x)
        return x


def test_variables_and_submodules_are_found_once_in_attribute_order():
    mlp = MLP()
    assert mlp.name == "mlp"
    assert [m.name for m in mlp.submodules] == ["first", "second"]
    assert [v.name for v in mlp.variables] == ["counter:0", "b:0", "w:0", "b:0", "w:0"]
    assert len(mlp.trainable_variables) == 4 and len(mlp.non_trainable_variables) == 1
    out = mlp(dtf.ones([1, 3]))
    np.testing.assert_allclose(out.numpy(), [[12.0, 12.0]])
    assert int(mlp.counter.numpy()) == 1


def test_invalid_names_are_rejected():
    with pytest.raises(ValueError, match="not a valid module name"):
        dtf.Module(name="has space")
