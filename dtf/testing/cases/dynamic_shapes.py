"""Cases for the primitives of shapes known only when a graph runs (dtf.ops.dynamic_shapes):
`fill`, `range`, `sum_to`, `tile_grad`. Eager calls never need them (eager shapes are exact),
so the cases call them directly; tests/compile runs them on symbolic inputs too."""

from __future__ import annotations

import numpy as np

import dtf
from dtf.ops import dynamic_shapes
from dtf.testing.op_cases import OpCase, rand


def _shape_vector(*dims):
    return dtf.constant(np.asarray(dims, np.int32))


def _tile_grad_reference(g, x, multiples):
    split = tuple(v for m, d in zip(multiples, x.shape) for v in (m, d))
    return g.reshape(split).sum(axis=tuple(range(0, 2 * x.ndim, 2)))


CASES = [
    OpCase("fill/runtime_shape",
           lambda v: dynamic_shapes.fill(_shape_vector(2, 3), v, (None, 3)),
           [np.array(1.5)], lambda v: np.full((2, 3), v)),
    OpCase("fill/scalar",
           lambda v: dynamic_shapes.fill(_shape_vector(), v, ()),
           [np.array(-2.0)], lambda v: np.asarray(v)),
    OpCase("range/int", lambda: dynamic_shapes.range_(
        dtf.constant(1), dtf.constant(8), dtf.constant(2), dtype=dtf.int32), [],
        lambda: np.arange(1, 8, 2, dtype=np.int32), grad=False),
    OpCase("range/float_descending", lambda: dynamic_shapes.range_(
        dtf.constant(1.0), dtf.constant(-1.0), dtf.constant(-0.5), dtype=dtf.float32), [],
        lambda: np.arange(1.0, -1.0, -0.5, dtype=np.float32), grad=False),
    OpCase("sum_to/leading_and_inner", dynamic_shapes.sum_to, [rand(2, 3, 4), rand(3, 1)],
           lambda g, x: g.sum(axis=0).sum(axis=-1, keepdims=True), grad_inputs=(0,)),
    OpCase("sum_to/same_shape", dynamic_shapes.sum_to, [rand(2, 3), rand(2, 3, seed=1)],
           lambda g, x: g, grad_inputs=(0,)),
    OpCase("sum_to/to_scalar", dynamic_shapes.sum_to, [rand(2, 3), np.array(0.5)],
           lambda g, x: g.sum(), grad_inputs=(0,)),
    OpCase("tile_grad", lambda g, x: dynamic_shapes.tile_grad(g, x, (2, 3)),
           [rand(4, 6), rand(2, 2)], lambda g, x: _tile_grad_reference(g, x, (2, 3)),
           grad_inputs=(0,)),
]
