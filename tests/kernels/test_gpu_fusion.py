"""The fusion pass's GPU generator (`dtf.compile.gpu_fusion`) on CPU: the chain finder on traced
graphs, the CuPy plan's source, the generated kernels compiling with NVRTC for every dtype and
operand layout, and the unfused fallback computing what the NumPy plan computes."""

from __future__ import annotations

import doctest

import numpy as np
import numpy.testing as npt
import pytest
from dtf.kernels import _cuda

import dtf
from dtf import keras
from dtf.compile import context, gpu_fusion
from dtf.compile.codegen import lower
from dtf.compile.generator import Generator
from dtf.compile.graph import Graph
from dtf.compile.symbolic import placeholder

nvrtc = pytest.importorskip("cupy_backends.cuda.libs.nvrtc")


def names(graph, chain):
    return [graph.nodes[i].prim.name for i in chain.members]


def dense_gelu_graph(dtype=dtf.float32, approximate=False):
    x = placeholder((None, 8), dtype)
    w = dtf.constant(np.linspace(-1, 1, 8 * 4).reshape(8, 4).astype(dtype.as_numpy_dtype))
    b = dtf.constant(np.linspace(-0.5, 0.5, 4).astype(dtype.as_numpy_dtype))
    builder = context.GraphBuilder("dense_gelu")
    with context.building(builder):
        with dtf.GradientTape() as tape:
            tape.watch(x)
            y = dtf.nn.gelu(dtf.matmul(x, w) + b, approximate=approximate)
            loss = dtf.reduce_sum(y)
        grad = tape.gradient(loss, x)
    return Graph([x], [y, grad], nodes=builder.nodes)


def adam_graph(dtype=dtf.float32):
    var, grad, m, v = (placeholder((None, 5), dtype) for _ in range(4))
    alpha = placeholder((), dtype)
    m_new = m + (grad - m) * (1 - 0.9)
    v_new = v + (dtf.square(grad) - v) * (1 - 0.999)
    var_new = var - alpha * m_new / (dtf.sqrt(v_new) + 1e-7)
    return Graph([var, grad, m, v, alpha], [var_new, m_new, v_new])


def dense_forward_graph(activation):
    x = placeholder((None, 8))
    w = dtf.constant(np.ones((8, 4), np.float32))
    b = dtf.constant(np.ones(4, np.float32))
    return Graph([x], [activation(dtf.matmul(x, w) + b)])


def test_the_bias_and_the_activation_of_a_dense_layer_form_one_chain():
    graph = dense_forward_graph(dtf.nn.gelu)
    (chain,) = gpu_fusion.find_chains(graph)
    # x + b is read twice by gelu (0.5 * z * (1 + erf(z / sqrt 2))): still computed in the chain
    assert names(graph, chain) == ["add", "multiply", "multiply", "erf", "add", "multiply"]
    for activation, name in ((dtf.nn.sigmoid, "sigmoid"), (dtf.nn.relu, "relu"),
                             (dtf.nn.tanh, "tanh")):
        graph = dense_forward_graph(activation)
        assert [names(graph, c) for c in gpu_fusion.find_chains(graph)] == [["add", name]]


def test_the_gradient_of_a_dense_gelu_layer_has_its_chain():
    graph = dense_gelu_graph()
    chains = gpu_fusion.find_chains(graph)
    assert ["multiply", "square", "negative", "exp", "multiply"] in [names(graph, c)
                                                                      for c in chains]
    for chain in chains:  # no member's result but the tail's is read outside its chain
        inside = {id(graph.nodes[k].outputs[0]) for k in chain.members[:-1]}
        for k, node in enumerate(graph.nodes):
            if k not in chain.members:
                assert not inside & {id(graph._resolve(t)) for t in node.inputs}


def test_adams_update_math_is_three_chains_one_per_output():
    graph = adam_graph()
    chains = gpu_fusion.find_chains(graph)
    assert [names(graph, c) for c in chains] == [
        ["subtract", "multiply", "add"],
        ["square", "subtract", "multiply", "add"],
        ["multiply", "sqrt", "add", "divide", "subtract"],
    ]
    # the last chain reads m_new and v_new (outputs of the others) as external operands
    tails = {id(graph.nodes[c.tail].outputs[0]) for c in chains[:2]}
    assert tails <= {id(v) for v in chains[2].externals}


def test_values_read_twice():
    x = placeholder((4,))
    e = dtf.exp(x)
    graph = Graph([x], [dtf.tanh(e * 2.0) + e])
    chains = gpu_fusion.find_chains(graph)
    # exp(x) is read by the tanh's chain and by the final add: both in one chain
    assert [names(graph, c) for c in chains] == [["exp", "multiply", "tanh", "add"]]
    y = placeholder((4,))
    e = dtf.exp(y)
    graph = Graph([y], [dtf.tanh(e * 2.0), e])  # e is an output too: computed outside
    chains = gpu_fusion.find_chains(graph)
    assert [names(graph, c) for c in chains] == [["multiply", "tanh"]]
    assert any(v is graph.nodes[0].outputs[0] for v in chains[0].externals)


def test_non_elementwise_nodes_break_chains():
    x = placeholder((3, 4))
    graph = Graph([x], [dtf.exp(dtf.reduce_sum(dtf.exp(x) * 2.0, axis=1)) + 1.0])
    assert [names(graph, c) for c in gpu_fusion.find_chains(graph)] == [
        ["exp", "multiply"], ["exp", "add"]]


def test_the_numpy_plan_is_unchanged_and_the_cupy_plan_calls_the_fused_kernels():
    graph = adam_graph()
    plan = lower(graph, copy=True)
    assert "fused_chain" not in plan.source
    plain = Generator(plan.graph)
    plain.generate()
    assert plain.source == plan.source
    device = gpu_fusion.device_plan(plan)
    assert device.source.count("fused_chain") >= 3
    assert device._device_fused


def test_the_unfused_fallback_computes_what_the_numpy_plan_computes():
    graph = adam_graph()
    plan = lower(graph, copy=True)
    rng = np.random.default_rng(0)
    var, grad, m = (rng.normal(size=(3, 5)).astype(np.float32) for _ in range(3))
    v = rng.random((3, 5)).astype(np.float32)
    alpha = np.float32(0.01)
    expected = plan(var, grad, m, v, np.asarray(alpha))
    env = {id(t): a for t, a in zip(plan.graph.inputs, (var, grad, m, v, np.asarray(alpha)))}
    for chain in gpu_fusion.find_chains(plan.graph):
        fused = gpu_fusion.FusedChain(plan.graph, chain)
        operands = [env[id(v)] if id(v) in env else v._value  # noqa: SIM401 (lazy)
                    for v in chain.externals]
        out = fused.unfused(np, operands)
        env[id(plan.graph.nodes[chain.tail].outputs[0])] = out
    outputs = [env[id(plan.graph._resolve(t))] for t in plan.graph.outputs]
    for got, want in zip(outputs, expected):
        npt.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [dtf.float16, dtf.float32, dtf.float64])
@pytest.mark.parametrize("make", [dense_gelu_graph, adam_graph,
                                  lambda d: dense_gelu_graph(d, approximate=True)])
def test_generated_kernels_compile_for_every_dtype_and_layout(dtype, make):
    graph = make(dtype)
    for chain in gpu_fusion.find_chains(graph):
        fused = gpu_fusion.FusedChain(graph, chain)
        for layouts in _layout_choices(chain):
            source = fused.make_source(layouts)
            ptx = _cuda.compile_ptx(source)
            assert f".entry {source.symbols()[0]}(" in ptx


def _layout_choices(chain):
    n = len(chain.externals)
    return [["f"] * n, ["s"] * n, ["t" if k % 2 else "f" for k in range(n)]]


def test_selects_comparisons_and_casts_compile():
    x = placeholder((6,), dtf.float16)
    y = dtf.cast(x, dtf.float32)
    z = dtf.where(dtf.greater(y, 0.0), dtf.exp(y), dtf.abs(y) * 0.5)
    graph = Graph([x], [dtf.cast(dtf.sigmoid(z) + dtf.math.rsqrt(y * y + 1.0), dtf.float64)])
    chains = gpu_fusion.find_chains(graph)
    assert len(chains) == 1 and {"select", "greater", "cast", "sigmoid", "rsqrt"} <= set(
        names(graph, chains[0]))
    source = gpu_fusion.FusedChain(graph, chains[0]).make_source(["f"] * len(chains[0].externals))
    _cuda.compile_ptx(source)


def test_kernels_are_memoised_by_structure_dtypes_and_layouts():
    graph = adam_graph()
    chain = gpu_fusion.find_chains(graph)[0]
    other = adam_graph()  # the same structure, traced again
    a = gpu_fusion.FusedChain(graph, chain)
    b = gpu_fusion.FusedChain(other, gpu_fusion.find_chains(other)[0])
    layouts = ["f"] * len(chain.externals)
    assert a.source_for(layouts) is b.source_for(layouts)
    assert a.source_for(["s"] + layouts[1:]) is not a.source_for(layouts)


@pytest.mark.parametrize("shapes, out, expected", [
    ([(4, 3), (3,), ()], (4, 3), ["f", "t", "s"]),
    ([(4, 3), (1, 3), (1,)], (4, 3), ["f", "t", "s"]),
    ([(2, 4, 3), (4, 3)], (2, 4, 3), ["f", "t"]),
    ([(4, 3), (4, 1)], (4, 3), None),  # a column broadcast: the unfused path
    ([(1,), (1,)], (1,), ["f", "f"]),
])
def test_operand_layouts(shapes, out, expected):
    operands = [np.zeros(s) for s in shapes]
    assert gpu_fusion._layouts(operands, out) == expected


def test_docstring_example():
    result = doctest.testmod(gpu_fusion, extraglobs={
        "dtf": dtf, "np": np, "keras": keras, "Graph": Graph, "placeholder": placeholder},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_the_cupy_plan_calls_the_kernels_of_primitives_and_unpairs_the_loss():
    from dtf.kernels import xent

    from dtf.keras.losses._fused import sparse_xent_reduce

    logits, labels = placeholder((4, 3)), placeholder((4,), dtf.int64)
    builder = context.GraphBuilder("loss")
    with context.building(builder):
        with dtf.GradientTape() as tape:
            tape.watch(logits)
            loss = sparse_xent_reduce(logits, labels, 4.0)
        grad = tape.gradient(loss, logits)
    plan = lower(Graph([logits, labels], [loss, grad], nodes=builder.nodes), copy=True)
    assert "xent_forward" in plan.source  # the NumPy plan pairs the loss with its gradient
    device = gpu_fusion.device_plan(plan)
    assert "xent_forward" not in device.source
    bound = set(map(id, device._bindings.values()))
    assert id(xent.sparse_xent_reduce) in bound and id(xent.sparse_xent_reduce_grad) in bound


def test_integer_chains_and_bool_arithmetic_stay_unfused():
    i = placeholder((5,), dtf.int32)
    graph = Graph([i], [(i + 1) * 3])
    assert gpu_fusion.find_chains(graph) == []
    x = placeholder((5,))
    mask = dtf.logical_not(dtf.greater(x, 0.0))
    graph = Graph([x], [dtf.where(mask, x * 2.0, x)])
    (chain,) = gpu_fusion.find_chains(graph)
    assert names(graph, chain) == ["greater", "logical_not", "multiply", "select"]


def test_the_cupy_plan_runs_fused_dense_through_its_kernel():
    from dtf.kernels import activations

    from dtf.ops.fused_ops import fused_dense

    x = placeholder((None, 3))
    w, b = dtf.constant(np.ones((3, 2), np.float32)), dtf.constant(np.ones(2, np.float32))
    plan = lower(Graph([x], [fused_dense(x, w, b, "relu")]), copy=True)
    assert "xp.matmul" in plan.source  # inlined for NumPy
    device = gpu_fusion.device_plan(plan)
    assert "xp.matmul" not in device.source
    assert any(v is activations.fused_dense for v in device._bindings.values())


def test_a_lone_node_of_several_array_passes_is_a_kernel_of_its_own():
    from dtf.ops import nn_ops
    from dtf.ops.registry import run

    g, out = placeholder((4, 3)), placeholder((4, 3))
    graph = Graph([g, out], [run(nn_ops._relu_grad, (g, out)), dtf.exp(g)])
    assert [names(graph, c) for c in gpu_fusion.find_chains(graph)] == [["relu_grad"]]
