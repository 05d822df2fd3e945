"""Ops on values known only when a traced graph runs: `dtf.shape(x)` of unknown dims, and the
ops that take it (range, zeros/ones/fill, reshape, broadcast_to, eye, tile, slicing with
symbolic bounds, scatter_nd, conv transposes), built into a graph with a GraphBuilder and run
with `Graph.run`, against the same calls made eagerly. Random ops inside a trace become nodes
that draw on every run."""

import numpy as np
import numpy.testing as npt
import pytest

import dtf
from dtf import nest
from dtf.compile import context
from dtf.compile.graph import Graph
from dtf.compile.symbolic import placeholder
from dtf.ops.dynamic_shapes import static_value


def _trace(fn, *arrays, known=False):
    """(graph, placeholders, traced outputs) of `fn` on placeholders of `arrays`' dtypes (and
    unknown dims unless `known`)."""
    symbols = [placeholder(a.shape if known else (None,) * a.ndim, dtf.as_dtype(a.dtype))
               for a in arrays]
    builder = context.GraphBuilder("test")
    with context.building(builder):
        out = fn(*symbols)
    outs = nest.flatten(out)
    return Graph(symbols, outs, nodes=builder.nodes), symbols, outs


def _check(fn, *arrays, known=False):
    """Runs `fn` traced and eagerly; asserts equal values, shapes and dtypes; returns the
    traced outputs (to look at their static shapes)."""
    graph, _, outs = _trace(fn, *arrays, known=known)
    got = graph.run(*[dtf.constant(a) for a in arrays])
    expected = nest.flatten(fn(*[dtf.constant(a) for a in arrays]))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype
        assert g.shape == e.shape, f"graph gives {g.shape}, eager {e.shape}"
        npt.assert_allclose(g.numpy(), e.numpy(), rtol=1e-6)
    return outs


def _names(fn, *arrays, known=False):
    graph, _, _ = _trace(fn, *arrays, known=known)
    return [n.prim.name for n in graph.nodes]


_X = np.arange(12, dtype=np.float32).reshape(3, 4)
_V = np.array([1.0, 2.0, 3.0, 4.0], np.float32)


# -- shape, size, rank -------------------------------------------------------------------------
def test_shape_size_rank_of_unknown_dims_are_nodes():
    _check(lambda x: (dtf.shape(x), dtf.size(x), dtf.rank(x), dtf.shape(x, out_type=dtf.int64)),
           _X)
    assert _names(lambda x: dtf.shape(x), _X) == ["shape"]


def test_shape_size_rank_of_known_dims_are_constants():
    outs = _check(lambda x: (dtf.shape(x), dtf.size(x), dtf.rank(x)), _X, known=True)
    assert all(isinstance(o, dtf.Tensor) for o in outs)
    assert _names(lambda x: dtf.shape(x) + 1, _X, known=True) == []  # computed now


def test_static_value_of_shape_expressions():
    x = placeholder((None, 3))
    assert static_value(dtf.shape(x)) == [None, 3]
    assert static_value(dtf.shape(x)[1]) == 3
    assert static_value(dtf.stack([dtf.shape(x)[0], 2 * dtf.shape(x)[1]])) == [None, 6]
    assert static_value(dtf.concat([dtf.shape(x), [5]], 0)) == [None, 3, 5]
    assert static_value(dtf.shape(placeholder(None))) is None


# -- range, zeros, ones, fill, eye -------------------------------------------------------------
def test_range_of_a_symbolic_limit():
    outs = _check(lambda x: (dtf.range(dtf.shape(x)[0]),
                             dtf.range(1, dtf.shape(x)[1] + 3, 2),
                             dtf.range(dtf.shape(x)[0], dtype=dtf.float32),
                             dtf.range(dtf.size(x), 0, -3)), _X)
    assert outs[0].shape.as_list() == [None]
    assert outs[2].dtype == dtf.float32


def test_range_with_float_symbolic_bounds():
    _check(lambda v: dtf.range(v[0], v[3], v[1] / 2.0), _V)


def test_zeros_ones_fill_of_runtime_shapes():
    outs = _check(lambda x: (dtf.zeros(dtf.shape(x)), dtf.ones([dtf.shape(x)[0], 3]),
                             dtf.fill(dtf.shape(x), 2.5), dtf.zeros([2, dtf.size(x)], dtf.int32),
                             dtf.ones(dtf.shape(x)[:1], dtype=dtf.float64)), _X)
    assert outs[1].shape.as_list() == [None, 3]
    assert outs[3].shape.as_list() == [2, None]
    assert outs[3].dtype == dtf.int32


def test_fill_with_a_symbolic_value_has_its_gradient():
    def fn(x, v):
        with dtf.GradientTape() as tape:
            tape.watch(v)
            y = dtf.reduce_sum(dtf.fill(dtf.shape(x), v[0]) * x)
        return y, tape.gradient(y, v)

    _check(fn, _X, _V)


def test_zeros_of_a_shape_known_statically_is_a_constant():
    _, _, outs = _trace(lambda x: dtf.zeros([dtf.shape(x)[1], 2]),
                        np.zeros((2, 4), np.float32), known=True)
    assert isinstance(outs[0], dtf.Tensor) and tuple(outs[0].shape) == (4, 2)
    x = placeholder((None, 4))
    assert dtf.zeros([dtf.shape(x)[1], 2]).shape.as_list() == [4, 2]


def test_eye_of_runtime_sizes():
    outs = _check(lambda x: (dtf.eye(dtf.shape(x)[0]), dtf.eye(dtf.shape(x)[0], dtf.shape(x)[1]),
                             dtf.eye(2, batch_shape=dtf.shape(x)[:1], dtype=dtf.int32)), _X)
    assert outs[2].dtype == dtf.int32


# -- reshape, broadcast_to, tile ---------------------------------------------------------------
def test_reshape_to_runtime_shapes():
    outs = _check(lambda x, v: (dtf.reshape(x, [dtf.shape(x)[0], 2, -1]),
                                dtf.reshape(x, dtf.shape(v)),
                                dtf.reshape(x, dtf.stack([dtf.size(x)])),
                                dtf.reshape(x, [-1]),
                                dtf.reshape(x, [dtf.shape(x)[1], dtf.shape(x)[0]])),
                  _X, np.zeros((6, 2), np.float32))
    assert outs[0].shape.as_list() == [None, 2, None]


def test_reshape_keeps_static_dims_it_can_infer():
    x = placeholder((5, 3, 4))
    assert dtf.reshape(x, [dtf.shape(x)[0], -1]).shape.as_list() == [5, 12]
    y = placeholder((None, 3, 4))
    assert dtf.reshape(y, [dtf.shape(y)[0], 12]).shape.as_list() == [None, 12]
    # TensorFlow's rule: the -1 is what the dims not taken from y's own shape leave
    assert dtf.reshape(y, [dtf.shape(y)[0], -1]).shape.as_list() == [None, 12]
    assert dtf.reshape(y, [-1, dtf.shape(y)[0], 2]).shape.as_list() == [6, None, 2]
    assert dtf.reshape(y, dtf.stack([dtf.shape(y)[0], 2, -1])).shape.as_list() == [None, 2, 6]
    z = placeholder((None, 3))
    assert dtf.reshape(y, [dtf.shape(z)[0], -1]).shape.as_list() == [None, None]
    assert dtf.reshape(y, [dtf.shape(y)[0], dtf.shape(y)[0], -1]).shape.as_list() == \
        [None, None, None]


def test_reshape_gradient_through_a_runtime_shape():
    def fn(x):
        with dtf.GradientTape() as tape:
            tape.watch(x)
            y = dtf.reduce_sum(dtf.reshape(x, [-1, dtf.shape(x)[0]]) * dtf.range(3.0))
        return tape.gradient(y, x)

    _check(fn, _X)


def test_broadcast_to_a_runtime_shape_and_back():
    def fn(v, x):
        with dtf.GradientTape() as tape:
            tape.watch(v)
            y = dtf.broadcast_to(v, dtf.shape(x))
            loss = dtf.reduce_sum(y * x)
        return y, tape.gradient(loss, v)

    _check(fn, _V, _X)


def test_tile_by_symbolic_counts():
    def fn(x, v):
        with dtf.GradientTape() as tape:
            tape.watch(x)
            y = dtf.tile(x, [dtf.shape(v)[0] // 2, 1])
            loss = dtf.reduce_sum(y * y)
        return y, tape.gradient(loss, x)

    outs = _check(fn, _X, _V)
    assert outs[0].shape.as_list() == [None, None]


def test_tile_by_symbolic_counts_with_known_dims_keeps_the_rest_static():
    x = placeholder((2, 3))
    assert dtf.tile(x, [dtf.shape(placeholder((None,)))[0], 2]).shape.as_list() == [None, 6]


# -- slicing ----------------------------------------------------------------------------------
def test_indexing_with_symbolic_scalars():
    def fn(x):
        n = dtf.shape(x)[0]
        return x[n - 1], x[1:n], x[:, n - 2], x[n - 3:n:2, ::-1], x[..., dtf.shape(x)[1] - 1]

    outs = _check(fn, _X)
    assert outs[0].shape.rank == 1


def test_indexing_gradient_with_symbolic_bounds():
    def fn(x):
        with dtf.GradientTape() as tape:
            tape.watch(x)
            n = dtf.shape(x)[0]
            loss = dtf.reduce_sum(x[1:n, n - 2] * 3.0) + dtf.reduce_sum(x[n - 1])
        return tape.gradient(loss, x)

    _check(fn, _X)


def test_slice_and_strided_slice_with_symbolic_arguments():
    def fn(x):
        n = dtf.shape(x)
        return (dtf.slice(x, [0, 1], [n[0] - 1, -1]),
                dtf.slice(x, [n[0] - 2, 0], [1, n[1]]),
                dtf.strided_slice(x, [0, 0], n, [2, 1]),
                dtf.strided_slice(x, dtf.zeros_like(n), n // 2))

    _check(fn, _X)


def test_a_symbolic_index_must_be_an_int_scalar():
    x = placeholder((None, 3))
    with pytest.raises(TypeError, match="valid indices"):
        x[dtf.cast(dtf.shape(x)[0], dtf.float32)]


# -- scatter_nd, conv2d_transpose, split -------------------------------------------------------
def test_scatter_nd_into_a_runtime_shape():
    indices = np.array([[0, 1], [2, 3]], np.int32)
    _check(lambda x, u: dtf.scatter_nd(indices, u[:2], dtf.shape(x)), _X, _V)


def test_conv2d_transpose_to_a_runtime_output_shape():
    x = np.random.default_rng(0).standard_normal((2, 3, 3, 2)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((3, 3, 4, 2)).astype(np.float32)

    def fn(x, w):
        shape = dtf.stack([dtf.shape(x)[0], 6, 6, 4])
        return dtf.nn.conv2d_transpose(x, w, shape, strides=2, padding="SAME")

    outs = _check(fn, x, w)
    assert outs[0].shape.as_list()[1:] == [6, 6, 4]


def test_one_hot_of_a_runtime_depth():
    labels = np.array([0, 3, 1], np.int32)
    outs = _check(lambda x, y: dtf.one_hot(y, dtf.shape(x)[1]), _X, labels)
    assert outs[0].shape.as_list() == [None, None]
    x = placeholder((None, 4))
    assert dtf.one_hot(placeholder((None,), dtf.int32), dtf.shape(x)[1]).shape.as_list() == \
        [None, 4]


def test_split_by_runtime_sizes():
    def fn(x):
        with dtf.GradientTape() as tape:
            tape.watch(x)
            a, b = dtf.split(x, [1, dtf.shape(x)[1] - 1], axis=1)
            loss = dtf.reduce_sum(a * 2.0) + dtf.reduce_sum(b * b)
        return a, b, tape.gradient(loss, x)

    _check(fn, _X)


def test_unstack_of_an_unknown_dim_needs_num():
    x = placeholder((None, 3))
    with pytest.raises(ValueError, match="num"):
        dtf.unstack(x)
    assert len(dtf.unstack(x, num=2)) == 2


# -- random ops inside a trace -----------------------------------------------------------------
def _random_graph(fn):
    builder = context.GraphBuilder("random")
    with context.building(builder):
        out = fn()
    return Graph([], nest.flatten(out), nodes=builder.nodes), builder


@pytest.mark.parametrize("draw", [
    lambda: dtf.random.normal([3]),
    lambda: dtf.random.uniform([4], 0, 100, dtype=dtf.int32),
    lambda: dtf.random.uniform([2, 2], -1.0, 1.0, dtype=dtf.float64),
    lambda: dtf.random.truncated_normal([5], stddev=0.5),
    lambda: dtf.random.shuffle(dtf.range(10)),
    lambda: dtf.random.categorical(dtf.zeros([2, 5]), 4),
    lambda: dtf.nn.dropout(dtf.ones([16]), 0.5),
], ids=["normal", "uniform_int", "uniform_float64", "truncated_normal", "shuffle",
        "categorical", "dropout"])
def test_random_ops_in_a_trace_are_nodes_that_draw_on_every_run(draw):
    graph, builder = _random_graph(draw)
    assert any(n.prim.stateful for n in builder.nodes)
    graph.optimize()  # constant folding and CSE must keep the draw
    runs = [graph.run()[0].numpy() for _ in range(4)]
    assert any(not np.array_equal(runs[0], r) for r in runs[1:])


@pytest.mark.parametrize("op_seed", [None, 7])
def test_random_nodes_follow_the_eager_seed_sequence(op_seed):
    dtf.random.set_seed(123)
    graph, _ = _random_graph(lambda: (dtf.random.normal([3], seed=op_seed),
                                      dtf.random.uniform([2], 0, 9, dtype=dtf.int64,
                                                         seed=op_seed)))
    traced = [[t.numpy() for t in graph.run()] for _ in range(3)]
    dtf.random.set_seed(123)
    eager = [[dtf.random.normal([3], seed=op_seed).numpy(),
              dtf.random.uniform([2], 0, 9, dtype=dtf.int64, seed=op_seed).numpy()]
             for _ in range(3)]
    for t, e in zip(traced, eager):
        npt.assert_array_equal(t[0], e[0])
        npt.assert_array_equal(t[1], e[1])


def test_random_shape_from_a_symbolic_tensor():
    graph, _, outs = _trace(lambda x: dtf.random.normal([dtf.shape(x)[0], 2]), _X)
    assert outs[0].shape.as_list() == [None, 2]
    assert graph.run(dtf.constant(_X))[0].shape == (3, 2)


def test_stateless_random_ops_stay_constants_in_a_trace():
    graph, builder = _random_graph(lambda: dtf.random.stateless_normal([3], seed=[1, 2]))
    assert not builder.nodes
    npt.assert_array_equal(graph.run()[0].numpy(), graph.run()[0].numpy())


# -- errors -------------------------------------------------------------------------------------
def test_runtime_shape_errors_name_the_op():
    graph, _, _ = _trace(lambda v: dtf.zeros(dtf.cast(v[:2], dtf.int32) - 3), _V)
    with pytest.raises(dtf.errors.InvalidArgumentError, match="fill"):
        graph.run(dtf.constant(_V))
    with pytest.raises(dtf.errors.InvalidArgumentError, match="negative"):
        dtf.zeros([-2, dtf.shape(placeholder((None,)))[0]])
    with pytest.raises(dtf.errors.InvalidArgumentError, match="vector of int32 or int64"):
        dtf.reshape(placeholder((None,)), placeholder((None,), dtf.float32))
    with pytest.raises(dtf.errors.InvalidArgumentError, match="only one dimension may be -1"):
        dtf.reshape(placeholder((None,)), [-1, dtf.shape(placeholder((None,)))[0], -1])


def test_a_shape_vector_argument_adds_no_stray_nodes():
    names = _names(lambda x: (dtf.tile(x, dtf.shape(x) // dtf.shape(x)),
                              dtf.split(x, dtf.stack([1, dtf.shape(x)[0] - 1]))), _X)
    assert names.count("strided_slice") == 1  # shape(x)[0]: nothing unstacks the vectors
