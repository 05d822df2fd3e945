"""Cases for `dtf.py_function` / `dtf.numpy_function` (`dtf.ops.py_func_ops`), run eagerly:
the Python function's result converted to Tout. `Tout` as `dtf.TensorSpec`s gives the outputs
static shapes, so the shape rules are checked against known shapes too. Their behaviour inside
traced functions (run on every call) is tested in tests/ops/test_py_func_ops.py."""

from __future__ import annotations

import numpy as np

import dtf
from dtf.ops import py_func_ops
from dtf.testing.op_cases import OpCase, rand


def _affine(x, y):
    return x * 2.0 + y


def _two_outputs(x):
    return [x + 1.0, dtf.reduce_sum(x)]


CASES = [
    OpCase("py_function/tensors",
           lambda x, y: py_func_ops.py_function(_affine, [x, y],
                                                dtf.TensorSpec([2, 3], dtf.float64)),
           [rand(2, 3), rand(2, 3, seed=1)], lambda x, y: x * 2.0 + y, grad=False),
    OpCase("py_function/two_outputs",
           lambda x: py_func_ops.py_function(
               _two_outputs, [x], [dtf.TensorSpec([3], dtf.float64),
                                   dtf.TensorSpec([], dtf.float64)]),
           [rand(3)], lambda x: [x + 1.0, np.sum(x)], grad=False),
    OpCase("numpy_function/stateless",
           lambda x: py_func_ops.numpy_function(np.sort, [x], dtf.TensorSpec([4], dtf.int32),
                                                stateful=False),
           [np.array([3, 1, 4, 2], np.int32)], np.sort, grad=False),
]
