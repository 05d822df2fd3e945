"""Graphs of op nodes: ordering, execution equal to eager, and the passes."""

import numpy as np
import numpy.testing as npt
import pytest

import dtf
from dtf.compile.graph import Graph
from dtf.compile.symbolic import placeholder


def _f(x, w):
    h = dtf.nn.relu(dtf.matmul(x, w) + 1.0)
    return dtf.reduce_mean(h * h, axis=1), dtf.nn.softmax(h)


def test_run_equals_eager_and_records_on_tapes():
    x, w = placeholder((None, 3)), placeholder((3, 4))
    graph = Graph([x, w], list(_f(x, w)))
    xv = dtf.constant(np.random.default_rng(0).normal(size=(5, 3)).astype("float32"))
    wv = dtf.Variable(np.random.default_rng(1).normal(size=(3, 4)).astype("float32"))
    for got, want in zip(graph.run(xv, wv), _f(xv, wv)):
        npt.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    with dtf.GradientTape() as tape:
        out = graph.run(xv, wv)[0]
    with dtf.GradientTape() as eager_tape:
        expected = _f(xv, wv)[0]
    npt.assert_allclose(tape.gradient(out, wv).numpy(),
                        eager_tape.gradient(expected, wv).numpy(), rtol=1e-6)


def test_constant_folding_cse_and_dead_code():
    x = placeholder((None, 2))
    scale = dtf.constant(2.0) * dtf.constant(3.0)  # eager: already a constant
    a = dtf.exp(x) * scale
    b = dtf.exp(x) * scale  # the same computation again
    unused = dtf.sin(x)  # noqa: F841  (made, never asked for)
    folded = x + dtf.sqrt(dtf.constant(4.0))
    graph = Graph([x], [a + b, folded])
    before = len(graph.nodes)
    counts = graph.optimize()
    assert counts["merged"] == 2  # exp and the multiply
    assert len(graph.nodes) == before - 2
    xv = dtf.constant([[0.0, 1.0]])
    total, plus_two = graph.run(xv)
    npt.assert_allclose(total.numpy(), 12.0 * np.exp([[0.0, 1.0]]), rtol=1e-6)
    npt.assert_allclose(plus_two.numpy(), [[2.0, 3.0]])
    assert "sin" not in repr(graph)


def test_folding_computes_constant_subgraphs_and_keeps_stateful_nodes():
    x = placeholder((4,))
    c = placeholder(())
    graph = Graph([x], [x + 1.0])
    assert graph.fold_constants() == 0
    stateful = Graph([x], [dtf.nn.dropout(x, rate=0.5)])
    assert stateful.eliminate_dead_code() == 0 and stateful.fold_constants() == 0
    with pytest.raises(ValueError, match="not among the graph's inputs"):
        Graph([x], [x + c])


def test_eliminate_dead_code_counts():
    x = placeholder((2,))
    y = dtf.square(x)
    graph = Graph([x], [y])
    graph.nodes.append(dtf.cos(x).node)  # a node nothing reads
    assert graph.eliminate_dead_code() == 1
    npt.assert_array_equal(graph.run(dtf.constant([1.0, 2.0]))[0].numpy(), [1.0, 4.0])


def test_gradient_tape_on_symbolic_tensors_builds_the_gradient_graph():
    """A tape over ops on symbolic tensors records them, and its gradient is more op nodes:
    the graph of loss and gradients runs to the eager values (known shapes here; unknown dims
    need the VJPs' dynamic-shape audit of the dtf.function issue)."""
    from dtf.ops.fused_ops import fused_dense

    rng = np.random.default_rng(0)
    w1 = dtf.Variable(rng.normal(size=(6, 4)).astype("float32"))
    b1 = dtf.Variable(np.zeros(4, "float32"))
    w2 = dtf.Variable(rng.normal(size=(4, 3)).astype("float32"))
    frozen = dtf.Variable(np.ones(3, "float32"), trainable=False)
    weights = [w1, b1, w2]

    def loss_of(x, y):
        h = fused_dense(x, w1, b1, "relu")
        logits = dtf.matmul(h, w2) + frozen
        return dtf.reduce_mean(dtf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                               logits=logits))

    x, y = placeholder((5, 6)), placeholder((5,), "int64")
    with dtf.GradientTape() as tape:
        loss = loss_of(x, y)
    grads = tape.gradient(loss, weights + [frozen])
    assert grads[-1] is None  # not trainable: not watched
    graph = Graph([x, y], [loss] + grads[:-1])
    xv = dtf.constant(rng.random((5, 6)).astype("float32"))
    yv = dtf.constant(rng.integers(0, 3, 5))
    got = graph.run(xv, yv)
    with dtf.GradientTape() as eager:
        expected_loss = loss_of(xv, yv)
    expected = eager.gradient(expected_loss, weights)
    npt.assert_allclose(got[0].numpy(), expected_loss.numpy(), rtol=1e-6)
    for g, e in zip(got[1:], expected):
        npt.assert_allclose(g.numpy(), e.numpy(), rtol=1e-5, atol=1e-6)
