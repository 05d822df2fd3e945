"""Cases for the control-flow primitives (`cond`, `stateful_cond`, `while_loop`,
`stateful_while_loop`, `case_index`) and for `dtf.TensorArray`'s graph storage
(`tensor_array_write`, `_read`, `_read_grad`, `_mask`, `_stack`, `_size`).

Eagerly `dtf.cond` and friends just run Python, so each case builds its function into a graph
(`in_graph`: placeholders, a GraphBuilder, `Graph.run` on the inputs) to exercise the graph ops;
on symbolic inputs (the symbolic-gradient test) the function is applied to them directly.
"""

from __future__ import annotations

import numpy as np

import dtf
from dtf import nest
from dtf.compile import context
from dtf.compile.graph import Graph
from dtf.compile.symbolic import placeholder
from dtf.ops import control_flow
from dtf.testing.op_cases import OpCase, rand


def in_graph(f):
    """`f` run as a traced graph: on Tensors, traces it on placeholders of the same specs and
    runs the graph on them; on symbolic tensors, just applies it."""

    def call(*args):
        if any(getattr(a, "_is_symbolic", False) for a in args):
            return f(*args)
        holders = [placeholder(a.shape, a.dtype) if isinstance(a, dtf.Tensor) else a
                   for a in args]
        builder = context.GraphBuilder(f.__name__)
        with context.building(builder):
            result = f(*holders)
        flat = nest.flatten(result)
        graph = Graph([h for h in holders if getattr(h, "_is_symbolic", False)], flat,
                      nodes=builder.nodes)
        graph.optimize()
        values = graph.run(*[a for a in args if isinstance(a, dtf.Tensor)])
        return nest.pack_sequence_as(result, values)

    return call


def _cond_mul_add(x, y):
    return dtf.cond(dtf.reduce_sum(x) > 0, lambda: x * y, lambda: x + y)


def _cond_nested(x, y):
    def outer():
        return dtf.cond(dtf.reduce_max(y) > 0.5, lambda: dtf.sin(x) * y, lambda: x / (1 + y * y))
    return dtf.cond(dtf.reduce_sum(x) < 0, outer, lambda: dtf.exp(x))


def _cond_structure(x, y):
    out = dtf.cond(dtf.reduce_sum(y) > 0, lambda: {"a": x * 2.0, "b": (y, x * y)},
                   lambda: {"a": x - y, "b": (y * y, x)})
    return out["a"], out["b"][0], out["b"][1]


def _draw(x):
    return dtf.random.uniform((), dtype=x.dtype)


def _cond_stateful(x):
    # the random draw makes the branch stateful; times zero keeps the result deterministic
    return dtf.cond(dtf.reduce_sum(x) > 0, lambda: dtf.tanh(x) + 0.0 * _draw(x), lambda: x * x)


def _switch(x, index):
    return dtf.switch_case(index, [lambda: x * 2.0, lambda: dtf.square(x), lambda: -x])


def _case(x):
    s = dtf.reduce_sum(x)
    return dtf.case([(s < -1.0, lambda: x * 3.0), (s < 1.0, lambda: dtf.sin(x))],
                    default=lambda: x * x)


def _while_power(x):
    _, y = dtf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * x),
                          (dtf.constant(0), dtf.ones_like(x)))
    return y


def _while_rnn(h, w):
    _, out = dtf.while_loop(lambda i, h: i < 3, lambda i, h: (i + 1, dtf.tanh(h @ w)),
                            (dtf.constant(0), h))
    return out


def _while_data_dependent(x):
    # runs until the value passes 4: the iteration count depends on x
    return dtf.while_loop(lambda v: dtf.reduce_max(v) < 4.0, lambda v: v * 1.5 + 0.1, [x])[0]


def _while_stateful(x):
    return dtf.while_loop(lambda i, a: i < 2,
                          lambda i, a: (i + 1, dtf.sin(a) * x + 0.0 * _draw(x)),
                          (0, x))[1]


def _while_max_iterations(x):
    return dtf.while_loop(lambda v: dtf.reduce_sum(v) < 1e6, lambda v: v * x,
                          [x], maximum_iterations=2)[0]


def _history(h, k):
    return control_flow._history_read(h, k)  # a while_loop VJP's read of its iterations


def _ta_write_read(x):
    # rows written in reverse order, one read back, the whole array stacked
    ta = dtf.TensorArray(x.dtype, size=3)
    for i in range(3):
        ta = ta.write(2 - i, x[i] * float(i + 1))
    return ta.stack(), ta.read(1)


def _ta_scatter_gather(x):
    ta = dtf.TensorArray(x.dtype, size=4, element_shape=[2], clear_after_read=False)
    ta = ta.scatter([3, 0], x)
    return ta.gather([0, 3, 0]), ta.stack()  # row 0 read twice: gradients add up


def _ta_dynamic(x):
    ta = dtf.TensorArray(x.dtype, size=1, dynamic_size=True)
    ta = ta.write(0, x).write(2, x * x)
    return ta.stack(), ta.size()


def _ta_rnn(x, w):
    n = dtf.shape(x)[0]
    xs = dtf.TensorArray(x.dtype, size=n).unstack(x)
    out = dtf.TensorArray(x.dtype, size=n, element_shape=x.shape[1:])

    def body(i, h, out):
        h = dtf.tanh(xs.read(i) + dtf.linalg.matvec(w, h))
        return i + 1, h, out.write(i, h)

    return dtf.while_loop(lambda i, h, out: i < n, body, (0, dtf.zeros_like(x[0]), out))[2].stack()


def _ta_rnn_reference(x, w):
    h, rows = np.zeros(x.shape[1]), []
    for row in x:
        h = np.tanh(row + w @ h)
        rows.append(h)
    return np.stack(rows)


_POS = rand(3, seed=11) + 1.5  # sum > 0
_NEG = rand(3, seed=12) - 1.5  # sum < 0

CASES = [
    OpCase("cond/true_branch", in_graph(_cond_mul_add), [_POS, rand(3, seed=13)],
           lambda x, y: x * y),
    OpCase("cond/false_branch", in_graph(_cond_mul_add), [_NEG, rand(3, seed=14)],
           lambda x, y: x + y),
    OpCase("cond/nested", in_graph(_cond_nested), [_NEG, rand(3, seed=15, low=0.6, high=0.9)],
           lambda x, y: np.sin(x) * y),
    OpCase("cond/nested_inner_false", in_graph(_cond_nested),
           [_NEG, rand(3, seed=16, low=-1.0, high=0.4)], lambda x, y: x / (1 + y * y)),
    OpCase("cond/structure", in_graph(_cond_structure), [rand(2, 2, seed=17), _POS[:2]],
           lambda x, y: (x * 2.0, y, x * y)),
    OpCase("stateful_cond", in_graph(_cond_stateful), [_POS], lambda x: np.tanh(x)),
    OpCase("switch_case/branch1", in_graph(_switch), [rand(2, 3, seed=18), np.array(1, np.int32)],
           lambda x, i: x * x),
    OpCase("switch_case/out_of_range_runs_last", in_graph(_switch),
           [rand(2, 3, seed=19), np.array(7, np.int32)], lambda x, i: -x),
    OpCase("case/second_pred", in_graph(_case), [rand(3, seed=20, low=-0.3, high=0.3)],
           lambda x: np.sin(x)),
    OpCase("case/default", in_graph(_case), [_POS], lambda x: x * x),
    OpCase("while_loop/power", in_graph(_while_power), [rand(2, 3, seed=21)],
           lambda x: x ** 3),
    OpCase("while_loop/rnn", in_graph(_while_rnn), [rand(2, 3, seed=22), rand(3, 3, seed=23)],
           lambda h, w: np.tanh(np.tanh(np.tanh(h @ w) @ w) @ w)),
    OpCase("while_loop/data_dependent_count", in_graph(_while_data_dependent),
           [rand(3, seed=24, low=0.5, high=1.0)],
           lambda x: _data_dependent_reference(x)),
    OpCase("while_loop/maximum_iterations", in_graph(_while_max_iterations),
           [rand(3, seed=25)], lambda x: x ** 3),
    OpCase("stateful_while_loop", in_graph(_while_stateful), [rand(3, seed=26)],
           lambda x: np.sin(np.sin(x) * x) * x),
    OpCase("while_loop/history_read", _history, [rand(4, 2, 3, seed=27), np.array(2, np.int32)],
           lambda h, k: h[k]),
    OpCase("tensor_array/write_read_stack", in_graph(_ta_write_read), [rand(3, 2, seed=28)],
           lambda x: (np.stack([x[2] * 3, x[1] * 2, x[0]]), x[1] * 2)),
    OpCase("tensor_array/scatter_gather", in_graph(_ta_scatter_gather), [rand(2, 2, seed=29)],
           lambda x: (np.stack([x[1], x[0], x[1]]), np.stack([x[1], 0 * x[0], 0 * x[0], x[0]]))),
    OpCase("tensor_array/dynamic_size", in_graph(_ta_dynamic), [rand(2, seed=30)],
           lambda x: (np.stack([x, 0 * x, x * x]), np.int32(3))),
    OpCase("tensor_array/rnn_in_while_loop", in_graph(_ta_rnn),
           [rand(4, 3, seed=31), rand(3, 3, seed=32)], lambda x, w: _ta_rnn_reference(x, w)),
]


def _data_dependent_reference(x):
    while x.max() < 4.0:
        x = x * 1.5 + 0.1
    return x
