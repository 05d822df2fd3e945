"""Cases for elementwise math, comparisons, logic, where, cast and creation primitives."""

from __future__ import annotations

import math

import numpy as np

import dtf
from dtf.testing.op_cases import OpCase, positive, rand

_erf = np.vectorize(math.erf)


def _binary(name, fn, ref, x, y, **kw):
    return OpCase(name, fn, [x, y], ref, **kw)


CASES = [
    # arithmetic, with broadcasting in both directions
    _binary("add/same", dtf.add, np.add, rand(2, 3), rand(2, 3, seed=1)),
    _binary("add/broadcast", dtf.add, np.add, rand(2, 3), rand(3, seed=1)),
    _binary("add/broadcast_both", lambda x, y: x + y, np.add, rand(2, 1), rand(1, 3, seed=1)),
    _binary("add/int32", dtf.add, np.add, np.array([1, 2], np.int32), np.array([3, 4], np.int32),
            grad=False),
    _binary("subtract/broadcast", dtf.subtract, np.subtract, rand(3), rand(2, 3, seed=2)),
    _binary("multiply/broadcast", dtf.multiply, np.multiply, rand(2, 3), rand(2, 1, seed=3)),
    _binary("multiply/complex", dtf.multiply, np.multiply,
            (rand(2) + 1j * rand(2, seed=5)).astype(np.complex128),
            (rand(2, seed=6) + 1j * rand(2, seed=7)).astype(np.complex128), grad=False),
    _binary("divide/float", dtf.divide, np.divide, rand(2, 3), positive(2, 3)),
    _binary("truediv/int32_gives_float64", dtf.truediv, np.true_divide,
            np.array([3, 4], np.int32), np.array([2, 8], np.int32), grad=False),
    _binary("floordiv/float", lambda x, y: x // y, np.floor_divide,
            rand(2, 3, low=-5, high=5), positive(2, 3), second_order=False),
    _binary("floordiv/int", dtf.floordiv, np.floor_divide, np.array([7, -7], np.int32),
            np.array([2, 2], np.int32), grad=False),
    _binary("floormod/float", dtf.math.floormod, np.mod, rand(2, 3, low=-5, high=5),
            positive(2, 3)),
    _binary("floormod/int_sign_of_divisor", lambda x, y: x % y, np.mod,
            np.array([7, -7, 7], np.int32), np.array([3, 3, -3], np.int32), grad=False),
    _binary("pow/float", dtf.pow, np.power, positive(2, 3), rand(2, 3, seed=4)),
    _binary("pow/int", lambda x, y: x ** y, np.power, np.array([2, 3], np.int32),
            np.array([3, 2], np.int32), grad=False),
    _binary("maximum", dtf.maximum, np.maximum, rand(2, 3), rand(2, 3, seed=8)),
    _binary("minimum/broadcast", dtf.minimum, np.minimum, rand(2, 3), rand(3, seed=9)),
    _binary("squared_difference", dtf.math.squared_difference,
            lambda x, y: np.square(x - y), rand(2, 3), rand(3, seed=10)),
    OpCase("add_n", lambda a, b, c: dtf.add_n([a, b, c]), [rand(2), rand(2, seed=1),
                                                           rand(2, seed=2)],
           lambda a, b, c: a + b + c),
    # y == 0 is a discontinuity of x / y: central differences hold only w.r.t. x there
    OpCase("divide_no_nan/zero", dtf.math.divide_no_nan, [rand(3), np.array([2.0, 0.0, -1.5])],
           lambda x, y: np.where(y == 0, 0.0, x / np.where(y == 0, 1, y)), grad_inputs=(0,)),
    OpCase("divide_no_nan/nonzero", dtf.math.divide_no_nan, [rand(3), positive(3)],
           np.divide),
    # unary
    OpCase("negative", dtf.negative, [rand(2, 3)], np.negative),
    OpCase("negative/operator_int", lambda x: -x, [np.array([1, -2], np.int32)], np.negative,
           grad=False),
    OpCase("abs", dtf.abs, [rand(2, 3)], np.abs),
    # Complex inputs: forward only (the central-difference checker perturbs real parts only).
    OpCase("abs/complex", dtf.abs, [np.array([3 + 4j, 1 - 1j])], np.abs, grad=False),
    OpCase("sign", dtf.sign, [rand(2, 3)], np.sign),
    OpCase("square", dtf.square, [rand(2, 3)], np.square),
    OpCase("sqrt", dtf.sqrt, [positive(2, 3)], np.sqrt),
    OpCase("rsqrt", dtf.math.rsqrt, [positive(2, 3)], lambda x: 1 / np.sqrt(x)),
    OpCase("exp", dtf.exp, [rand(2, 3)], np.exp),
    OpCase("exp/float32", dtf.exp, [rand(2, 3, dtype=np.float32)], np.exp, atol=1e-6, grad=False),
    OpCase("log", dtf.math.log, [positive(2, 3)], np.log),
    OpCase("log1p", dtf.math.log1p, [positive(2, 3)], np.log1p),
    OpCase("expm1", dtf.math.expm1, [rand(2, 3)], np.expm1),
    OpCase("sin", dtf.sin, [rand(2, 3)], np.sin),
    OpCase("cos", dtf.cos, [rand(2, 3)], np.cos),
    OpCase("tan", dtf.tan, [rand(2, 3)], np.tan),
    OpCase("tanh", dtf.tanh, [rand(2, 3)], np.tanh),
    OpCase("sigmoid", dtf.sigmoid, [rand(2, 3, low=-5, high=5)], lambda x: 1 / (1 + np.exp(-x))),
    OpCase("sigmoid/extreme", dtf.sigmoid, [np.array([-800.0, 0.0, 800.0])],
           lambda x: np.array([0.0, 0.5, 1.0]), grad=False),
    OpCase("erf", dtf.math.erf, [rand(2, 3, low=-3, high=3)], _erf),
    OpCase("reciprocal", dtf.math.reciprocal, [positive(2, 3)], np.reciprocal),
    OpCase("round/half_to_even", dtf.round, [np.array([0.5, 1.5, 2.5, -0.5, 1.2])], np.round,
           grad=False),
    OpCase("floor", dtf.floor, [rand(2, 3, low=-3, high=3)], np.floor, grad=False),
    OpCase("ceil", dtf.math.ceil, [rand(2, 3, low=-3, high=3)], np.ceil, grad=False),
    OpCase("real", dtf.math.real, [np.array([1 + 2j, 3 - 4j])], np.real,
           grad=False),
    OpCase("imag", dtf.math.imag, [np.array([1 + 2j, 3 - 4j])], np.imag,
           grad=False),
    OpCase("conj", dtf.math.conj, [np.array([1 + 2j, 3 - 4j])], np.conj,
           grad=False),
    OpCase("is_nan", dtf.math.is_nan, [np.array([1.0, np.nan, np.inf])], np.isnan, grad=False),
    OpCase("is_inf", dtf.math.is_inf, [np.array([1.0, np.nan, -np.inf])], np.isinf, grad=False),
    OpCase("is_finite", dtf.math.is_finite, [np.array([1.0, np.nan, np.inf])], np.isfinite,
           grad=False),
    OpCase("clip_by_value", lambda x: dtf.clip_by_value(x, -0.5, 0.5), [rand(2, 3)],
           lambda x: np.clip(x, -0.5, 0.5)),
    # comparisons and logic
    *[_binary(f"{n}/broadcast", getattr(dtf, n), ref, rand(2, 3), rand(3, seed=11), grad=False)
      for n, ref in [("equal", np.equal), ("not_equal", np.not_equal), ("less", np.less),
                     ("less_equal", np.less_equal), ("greater", np.greater),
                     ("greater_equal", np.greater_equal)]],
    _binary("equal/int", lambda x, y: x == y, np.equal, np.array([1, 2], np.int32),
            np.array([1, 3], np.int32), grad=False),
    *[_binary(n, getattr(dtf.math, n), ref, np.array([True, True, False, False]),
              np.array([True, False, True, False]), grad=False)
      for n, ref in [("logical_and", np.logical_and), ("logical_or", np.logical_or),
                     ("logical_xor", np.logical_xor)]],
    _binary("logical_and/operator", lambda x, y: x & y, np.logical_and,
            np.array([True, False]), np.array([True, True]), grad=False),
    *[_binary(f"{n}/operator", fn, ref, np.array([12, 5, -3], np.int32),
              np.array([10, 3, 1], np.int32), grad=False)
      for n, fn, ref in [("bitwise_and", lambda x, y: x & y, np.bitwise_and),
                         ("bitwise_or", lambda x, y: x | y, np.bitwise_or),
                         ("bitwise_xor", lambda x, y: x ^ y, np.bitwise_xor),
                         ("left_shift", dtf.bitwise.left_shift, np.left_shift),
                         ("right_shift", dtf.bitwise.right_shift, np.right_shift)]],
    OpCase("invert/operator", lambda x: ~x, [np.array([0, 5, -1], np.int32)], np.invert,
           grad=False),
    OpCase("read_variable", lambda x: dtf.Variable(x).read_value(), [rand(2, 3)], lambda x: x,
           grad=False),
    OpCase("logical_not", lambda x: ~x, [np.array([True, False])], np.logical_not, grad=False),
    OpCase("where/select", lambda c, x, y: dtf.where(c, x, y),
           [np.array([[True, False, True]]), rand(2, 3), rand(3, seed=12)],
           lambda c, x, y: np.where(c, x, y)),
    OpCase("where/indices", lambda c: dtf.where(c), [np.array([[True, False], [False, True]])],
           lambda c: np.argwhere(c).astype(np.int64), grad=False),
    # cast and creation primitives
    OpCase("cast/float_to_int_truncates", lambda x: dtf.cast(x, dtf.int32),
           [np.array([1.7, -1.7, 2.5])], lambda x: np.trunc(x).astype(np.int32), grad=False),
    OpCase("cast/float64_to_float32", lambda x: dtf.cast(x, "float32"), [rand(2, 3)],
           lambda x: x.astype(np.float32), atol=1e-7, grad=False),
    OpCase("cast/float64_to_float64_via_float32_roundtrip_grad",
           lambda x: dtf.cast(dtf.cast(x, dtf.complex128), dtf.float64) * x, [rand(2, 3)],
           lambda x: x * x),
    OpCase("cast/complex_to_float", lambda x: dtf.cast(x, dtf.float64),
           [np.array([1 + 2j, -3 + 1j])], lambda x: x.real, grad=False),
    OpCase("identity", dtf.identity, [rand(2, 3)], lambda x: x),
    OpCase("zeros_like", dtf.zeros_like, [rand(2, 3)], np.zeros_like, grad=False),
    OpCase("ones_like/dtype", lambda x: dtf.ones_like(x, dtype=dtf.int32), [rand(2, 3)],
           lambda x: np.ones_like(x, dtype=np.int32), grad=False),
    OpCase("stop_gradient", lambda x: dtf.stop_gradient(x) * x, [rand(2, 3)],
           lambda x: x * x, second_order=False,
           # d/dx [sg(x) * x] = sg(x) = x: central differences see 2x, so only the forward runs
           grad=False),
]
