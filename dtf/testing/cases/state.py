"""Cases for the stateful graph ops of `dtf.compile.state_ops`, run eagerly: an assignment
gives (and stores) the new value, an optimizer step updates its variables, `print` prints and
returns True. Their behaviour inside traced functions is tested in tests/compile."""

from __future__ import annotations

import numpy as np

import dtf
from dtf.compile import state_ops
from dtf.data.iterator_ops import iterator_get_next  # registered before any case runs
from dtf.testing.op_cases import OpCase


def _assign_case(op, reference):
    def fn(x):
        v = dtf.Variable(np.full(3, 2.0), dtype=dtf.float64)
        return state_ops.assign_variable(x, variable=v, op=op)

    return OpCase(f"assign_variable/{op}", fn, [np.array([1.0, -2.0, 0.5])],
                  lambda x: reference(np.full(3, 2.0), x), grad=False)


def _optimizer_step(g):
    from dtf import keras

    v = dtf.Variable(np.array([1.0, 2.0]), dtype=dtf.float64)
    opt = keras.optimizers.SGD(learning_rate=0.5)
    opt.build([v])
    state_ops.optimizer_apply(g, optimizer=opt, variables=(v,), writes=tuple(opt.variables))
    return v.read_value()


def _print(x):
    return state_ops.print_values(x, template="value: {}", stream="stdout", end="\n",
                                  summarize=3)


def _iterator_next(x):
    it = iter(dtf.data.Dataset.from_tensor_slices(x))
    next(it)
    return iterator_get_next(iterator=it)[0]  # the second element


CASES = [
    _assign_case("assign", lambda v, x: x),
    _assign_case("add", lambda v, x: v + x),
    _assign_case("sub", lambda v, x: v - x),
    OpCase("optimizer_apply/sgd", _optimizer_step, [np.array([0.5, -1.0])],
           lambda g: np.array([1.0, 2.0]) - 0.5 * g, grad=False),
    OpCase("iterator_get_next", _iterator_next, [np.array([[1.0, 2.5], [3.0, 4.0]])],
           lambda x: x[1], grad=False),
    OpCase("print", _print, [np.array([1.0, 2.5])], lambda x: np.asarray(True), grad=False),
]
