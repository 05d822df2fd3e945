"""The executor: graphs lowered to generated code (dtf.compile.codegen) and the passes it runs
(dtf.compile.passes, dtf.compile.fusion). Every plan is checked against `Graph.run`, the
reference interpreter; in-place writes never touch inputs, constants, Variables, views of them,
graph outputs or values handed to stateful ops."""

from __future__ import annotations

import numpy as np
import numpy.testing as npt
import pytest

import dtf
from dtf.compile import context
from dtf.compile.codegen import Plan, lower
from dtf.compile.graph import Graph
from dtf.compile.passes import simplify
from dtf.compile.symbolic import placeholder
from dtf.errors import InvalidArgumentError
from dtf.ops import registry


def _rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def _reference(inputs, outputs, *arrays):
    """Graph.run on a fresh, unoptimised graph of the same outputs."""
    graph = Graph(inputs, outputs)
    return [np.asarray(getattr(o, "_value", o)) for o in graph.run(*map(dtf.constant, arrays))]


def _lowered(inputs, outputs, *arrays):
    """(plan, its outputs, Graph.run's outputs) for a pure graph."""
    expected = _reference(inputs, outputs, *arrays)
    plan = lower(Graph(inputs, outputs))
    return plan, plan(*arrays), expected


def _assert_all_close(got, expected, rtol=1e-6):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert np.asarray(g).dtype == e.dtype
        npt.assert_allclose(np.asarray(g), e, rtol=rtol, atol=1e-6)


# -- the plan ------------------------------------------------------------------------------
def test_dense_relu_chain_is_one_buffer():
    x, w = placeholder((4, 3)), placeholder((3, 5))
    b = dtf.constant(_rand(5, seed=2))
    y = dtf.nn.relu(dtf.matmul(x, w) + b)
    plan, got, expected = _lowered([x, w], [y], _rand(4, 3), _rand(3, 5, seed=1))
    _assert_all_close(got, expected)
    assert isinstance(plan, Plan)
    lines = [ln.strip() for ln in plan.source.splitlines()]
    assert any(ln.startswith("t0 = xp.matmul(in0, in1)") for ln in lines)
    assert any(ln.startswith("xp.add(t0, const0, out=t0)") for ln in lines)
    assert any(ln.startswith("xp.maximum(t0, zero_float32, out=t0)") for ln in lines)
    assert plan.report["fuse_elementwise"].count == 2
    assert "1 chains" in plan.report["fuse_elementwise"].detail


def test_plan_reports_every_pass_and_prints():
    x = placeholder((2, 2))
    plan = lower(Graph([x], [dtf.exp(x) * 1.0]))
    assert list(plan.report) == ["simplify", "fold_constants",
                                 "eliminate_common_subexpressions", "eliminate_dead_code",
                                 "fuse_elementwise", "reuse_buffers", "release_temporaries",
                                 "fuse_forward_backward", "flat_optimizer_step", "codegen"]
    simplified = plan.report["simplify"]
    assert (simplified.count, simplified.nodes_before, simplified.nodes_after) == (1, 2, 1)
    text = str(plan)
    assert "def plan_graph(in0):" in text and "simplify: 1 (2 -> 1 nodes)" in text
    assert "simplify: 1" in str(plan.report)


def test_outputs_may_repeat_and_be_inputs_constants_or_variables():
    x = placeholder((3,))
    c = dtf.constant([1.0, 2.0, 3.0])
    v = dtf.Variable([4.0, 5.0, 6.0])
    y = dtf.exp(x)
    plan = lower(Graph([x], [y, y, x, c, v]))
    xv = _rand(3)
    out = plan(xv)
    npt.assert_allclose(out[0], np.exp(xv), rtol=1e-6)
    assert out[0] is out[1] and out[2] is xv
    npt.assert_array_equal(out[3], [1.0, 2.0, 3.0])
    npt.assert_array_equal(out[4], [4.0, 5.0, 6.0])
    v.assign([7.0, 8.0, 9.0])
    npt.assert_array_equal(plan(xv)[4], [7.0, 8.0, 9.0])  # read when the plan runs


def test_unknown_dims_run_for_any_size():
    x = placeholder((None, 3))
    b = dtf.constant(_rand(3, seed=3))
    y = dtf.tanh(dtf.exp(x) * 0.5 + b)
    plan = lower(Graph([x], [y]))
    assert plan.report["fuse_elementwise"].count == 3  # mul, add and tanh into exp's buffer
    for n in (1, 4, 7):
        xv = _rand(n, 3, seed=n)
        _assert_all_close(plan(xv), _reference([x], [y], xv))


def test_no_inplace_write_that_would_change_the_shape():
    """(None, 3) + (None, 1) may broadcast either way: the result gets its own buffer."""
    x, s = placeholder((None, 3)), placeholder((None, 1))
    y = dtf.exp(x) + dtf.exp(s)
    plan = lower(Graph([x, s], [y]))
    xv, sv = _rand(1, 3), _rand(4, 1, seed=1)
    _assert_all_close(plan(xv, sv), _reference([x, s], [y], xv, sv))
    assert plan.report["fuse_elementwise"].count == 0


def _traced(fn, *inputs):
    """(graph of `fn(*inputs)` in program order, a separate unoptimised copy, outputs)."""
    builder = context.GraphBuilder("traced")
    with context.building(builder):
        outputs = list(fn(*inputs))
    return (Graph(list(inputs), outputs, nodes=builder.nodes),
            Graph(list(inputs), outputs, nodes=builder.nodes), outputs)


def _run_both(graph, reference, *arrays):
    plan = lower(graph)
    expected = [np.asarray(o._value) for o in reference.run(*map(dtf.constant, arrays))]
    return plan, plan(*arrays), expected


def test_multi_output_primitives():
    def f(x):
        t = dtf.exp(x)
        a, b, c = dtf.unstack(t, axis=0)  # views of t's buffer
        y = t * 2.0  # t's last use: it must not be written while a, b, c live
        return y, a + b + c

    x = placeholder((3, 4))
    plan, got, expected = _run_both(*_traced(f, x)[:2], _rand(3, 4))
    _assert_all_close(got, expected)
    assert "t0 = xp.exp(in0)" in plan.source and "out=t0" not in plan.source
    first, second = dtf.split(x, 2, axis=1)
    plan, got, expected = _lowered([x], [second - first], _rand(3, 4))
    _assert_all_close(got, expected)


def test_integer_and_bool_ops():
    x = placeholder((5,), dtf.int32)
    y = (x * 3 + 1) // 2
    _, got, expected = _lowered([x], [y, dtf.greater(x, 2)], np.arange(5, dtype=np.int32))
    for g, e in zip(got, expected):
        npt.assert_array_equal(g, e)
        assert g.dtype == e.dtype


def test_plan_is_compiled_once_per_array_type():
    x = placeholder(())
    plan = lower(Graph([x], [x * 2.0 + 1.0]))
    assert float(plan(np.float32(1.5))[0]) == 4.0
    assert float(plan(np.asarray(2.0, np.float32))[0]) == 5.0
    assert len(plan._functions) == 2


# -- simplification --------------------------------------------------------------------------
def _node(prim_name, *inputs, **attrs):
    """One node of primitive `prim_name`, made without the public function's shortcuts."""
    return registry.run(registry.get(prim_name), tuple(inputs), **attrs)


SIMPLIFIED = {
    "reshape": lambda x: _node("reshape", x, shape=(2, 3)),
    "broadcast_to": lambda x: _node("broadcast_to", x, shape=(2, 3)),
    "broadcast_like": lambda x: _node("broadcast_like", x, dtf.exp(x)),
    "squeeze": lambda x: _node("squeeze", x, axes=()),
    "expand_dims": lambda x: _node("expand_dims", x, axes=()),
    "transpose": lambda x: _node("transpose", x, perm=(0, 1)),
    "reduce_sum": lambda x: _node("reduce_sum", x, axis=(), keepdims=False),
    "reduce_mean_keepdims": lambda x: _node("reduce_mean",
                                            _node("reshape", x, shape=(2, 1, 3)), axis=(1,),
                                            keepdims=True),
    "cast": lambda x: _node("cast", x, dtype=dtf.float32),
    "identity": lambda x: _node("identity", x),
    "stop_gradient": lambda x: _node("stop_gradient", x),
    "multiply_ones": lambda x: x * dtf.ones((3,)),
    "ones_multiply": lambda x: dtf.ones((2, 3)) * x,
    "add_zeros": lambda x: x + 0.0,
    "zeros_add": lambda x: dtf.zeros((1, 3)) + x,
    "subtract_zero": lambda x: x - 0.0,
    "divide_one": lambda x: x / 1.0,
}


@pytest.mark.parametrize("name", sorted(SIMPLIFIED))
def test_simplify_removes_identity_like_nodes(name):
    x = placeholder((2, 3))
    y = SIMPLIFIED[name](x)
    graph = Graph([x], [dtf.exp(y)])
    before = len(graph.nodes)
    removed = simplify(graph)
    assert removed >= 1 and len(graph.nodes) == before - removed
    xv = _rand(2, 3)
    npt.assert_allclose(lower(graph)(xv)[0], _reference([x], [dtf.exp(y)], xv)[0], rtol=1e-6)


def test_simplify_keeps_what_changes_values():
    x = placeholder((2, 3))
    kept = [x * 2.0, x + 1.0, 1.0 - x, 1.0 / x, _node("reshape", x, shape=(3, 2)),
            _node("transpose", x, perm=(1, 0)), _node("cast", x, dtype=dtf.float64),
            _node("reduce_sum", x, axis=(1,), keepdims=True),
            dtf.ones((2, 1, 3)) * x]  # the ones broadcast x to a new shape
    for y in kept:
        graph = Graph([x], [y])
        assert simplify(graph) == 0, y


def test_ones_and_zeros_like_of_known_shapes_become_constants():
    x = placeholder((2, 3))
    seed = _node("ones_like", x)
    graph = Graph([x], [x * seed, _node("zeros_like", x) + x])
    assert simplify(graph) == 4  # both fills, then the multiply and the add they made neutral
    assert graph.nodes == []
    unknown = placeholder((None, 3))
    graph = Graph([unknown], [_node("ones_like", unknown)])
    assert simplify(graph) == 0


def test_a_variable_read_is_kept_across_an_assignment():
    v = dtf.Variable([1.0, 2.0])
    builder = context.GraphBuilder("f")
    with context.building(builder):
        before = registry.run(registry.get("read_variable"), (v,))
        assigned = registry.run(registry.get("assign_variable"), (dtf.constant([5.0, 6.0]),),
                                variable=v, op="assign")
        after = registry.run(registry.get("read_variable"), (v,))
        total = before + after
    graph = Graph([], [total, assigned], nodes=builder.nodes)
    plan = lower(graph)
    assert plan.report["simplify"].count == 1  # the read after the assignment only
    npt.assert_array_equal(plan()[0], [6.0, 8.0])
    npt.assert_array_equal(v.numpy(), [5.0, 6.0])


# -- stateful nodes ---------------------------------------------------------------------------
def _assign(value, variable, op="assign"):
    return registry.run(registry.get("assign_variable"), (value,), variable=variable, op=op)


def test_reads_and_assignments_run_in_program_order():
    v = dtf.Variable([1.0, 2.0])
    x = placeholder((2,))
    builder = context.GraphBuilder("step")
    with context.building(builder):
        first = v * 1.0  # reads v before the update
        _assign(x, v, "add")
        second = v * 1.0  # after it
        _assign(second * 2.0, v)  # whole-value assignment from a computed value
        third = dtf.sqrt(v)
    graph = Graph([x], [first, second, third], nodes=builder.nodes)
    plan = lower(graph)
    got = plan(np.array([10.0, 20.0], np.float32))
    npt.assert_array_equal(got[0], [1.0, 2.0])
    npt.assert_array_equal(got[1], [11.0, 22.0])
    npt.assert_allclose(got[2], np.sqrt([22.0, 44.0]), rtol=1e-6)
    npt.assert_array_equal(v.numpy(), [22.0, 44.0])
    got = plan(np.array([1.0, 1.0], np.float32))  # runs again on the new state
    npt.assert_array_equal(got[0], [22.0, 44.0])
    assert "var0._value = " in plan.source


def test_values_handed_to_a_variable_are_never_written_again():
    v = dtf.Variable(np.zeros(3, np.float32))
    x = placeholder((3,))
    builder = context.GraphBuilder("keep")
    with context.building(builder):
        t = dtf.exp(x)
        _assign(t, v)  # v now holds t's array
        u = t * 2.0 + 1.0  # t's last use: an elementwise op that could have reused it
    plan = lower(Graph([x], [u], nodes=builder.nodes))
    xv = _rand(3)
    out = plan(xv)
    npt.assert_allclose(v.numpy(), np.exp(xv), rtol=1e-6)
    npt.assert_allclose(out[0], np.exp(xv) * 2 + 1, rtol=1e-6)


def test_stateful_nodes_run_even_when_nothing_reads_them(capsys):
    import sys

    from dtf.compile import state_ops

    x = placeholder((2,))
    builder = context.GraphBuilder("printing")
    with context.building(builder):
        state_ops.tf_print("x is", x, output_stream=sys.stdout)
        y = x + 1.0
    plan = lower(Graph([x], [y], nodes=builder.nodes))
    plan(np.array([1.0, 2.0], np.float32))
    plan(np.array([3.0, 4.0], np.float32))
    assert capsys.readouterr().out == "x is [1 2]\nx is [3 4]\n"


def test_random_ops_draw_on_every_call():
    x = placeholder((200,))
    builder = context.GraphBuilder("dropout")
    with context.building(builder):
        y = dtf.nn.dropout(x, rate=0.5)
    plan = lower(Graph([x], [y], nodes=builder.nodes))
    ones = np.ones(200, np.float32)
    a, b = plan(ones)[0], plan(ones)[0]
    assert set(np.unique(a)) <= {0.0, 2.0} and not np.array_equal(a, b)


# -- in-place safety --------------------------------------------------------------------------
def test_never_writes_into_inputs_constants_or_variables():
    x = placeholder((3, 4))
    c = dtf.constant(_rand(3, 4, seed=5))
    v = dtf.Variable(_rand(3, 4, seed=6))
    outputs = [dtf.nn.relu(x), -x, x + 1.0, c * 2.0, dtf.exp(v) + 1.0, v * 3.0,
               _node("reshape", x, shape=(4, 3)) + 1.0, dtf.transpose(v) * 2.0,
               _node("read_variable", v) + 1.0, _node("identity", c) + 1.0]
    xv = _rand(3, 4, seed=7)
    saved = (xv.copy(), c.numpy().copy(), v.numpy().copy())
    plan = lower(Graph([x], outputs))
    got = plan(xv)
    npt.assert_array_equal(xv, saved[0])
    npt.assert_array_equal(c.numpy(), saved[1])
    npt.assert_array_equal(v.numpy(), saved[2])
    _assert_all_close(got, _reference([x], outputs, saved[0]))


def test_views_of_temporaries_keep_their_buffer_alive():
    def f(x):
        t = dtf.exp(x)
        r = _node("reshape", t, shape=(3, 2))  # a view of t's buffer, read after t's last use
        u = t + 1.0  # t's last use
        return [dtf.reduce_sum(r, axis=0) + dtf.reduce_sum(u)]

    x = placeholder((2, 3))
    plan, got, expected = _run_both(*_traced(f, x)[:2], _rand(2, 3))
    _assert_all_close(got, expected)
    assert "out=t0" not in plan.source
    order = [ln.split("#")[-1].split()[-1] for ln in plan.source.splitlines() if "# n" in ln]
    assert order[:3] == ["exp", "reshape", "add"]  # program order: u before r is read


def test_outputs_are_not_clobbered_and_calls_do_not_share_buffers():
    x = placeholder((4,))
    y = dtf.exp(x)
    z = y * 2.0 + 1.0  # y is an output: z needs its own buffer
    plan = lower(Graph([x], [y, z]))
    first = plan(_rand(4, seed=1))
    first_copy = [a.copy() for a in first]
    plan(_rand(4, seed=2))
    for a, b in zip(first, first_copy):
        npt.assert_array_equal(a, b)
    npt.assert_allclose(first[1], first[0] * 2 + 1, rtol=1e-6)


def test_buffer_reuse_at_last_use_of_a_shared_temporary():
    x = placeholder((5,))
    a = dtf.exp(x)
    b = a * 2.0  # a has two readers: not a chain
    c = a + b  # the last use of a and b: written into one of them
    plan, got, expected = _lowered([x], [dtf.tanh(c)], _rand(5))
    _assert_all_close(got, expected)
    assert plan.report["reuse_buffers"].count >= 1
    assert plan.report["release_temporaries"].count >= 1
    assert "del " in plan.source


# -- errors -------------------------------------------------------------------------------------
def test_errors_name_the_op_and_its_inputs():
    x, w = placeholder((None, 3)), placeholder((3, 4))
    plan = lower(Graph([x, w], [dtf.matmul(x, w) + 1.0]))
    with pytest.raises(InvalidArgumentError, match=r"matmul: cannot compute on inputs "
                                                   r"\(float32\[2, 5\], float32\[3, 4\]\)"):
        plan(_rand(2, 5), _rand(3, 4))


def test_errors_raised_by_an_impl_get_a_note_naming_the_op():
    from dtf.keras.losses._fused import sparse_xent_reduce

    logits, labels = placeholder((2, 3)), placeholder((2,), dtf.int64)
    plan = lower(Graph([logits, labels], [sparse_xent_reduce(logits, labels, 2.0)]))
    with pytest.raises(InvalidArgumentError, match="Received a label value of 7") as info:
        plan(_rand(2, 3), np.array([0, 7]))
    assert any("sparse_xent_reduce" in note for note in info.value.__notes__)


# -- forward / backward fusion --------------------------------------------------------------------
def test_loss_and_its_gradient_share_intermediates():
    from dtf.keras.losses._fused import sparse_xent_reduce

    w = dtf.Variable(_rand(6, 4, seed=1))
    x, labels = placeholder((5, 6)), placeholder((5,), dtf.int64)
    builder = context.GraphBuilder("loss")
    with context.building(builder):
        with dtf.GradientTape() as tape:
            loss = sparse_xent_reduce(dtf.matmul(x, w), labels, 5.0)
        (grad,) = tape.gradient(loss, [w])
    graph = Graph([x, labels], [loss, grad], nodes=builder.nodes)
    reference = Graph([x, labels], [loss, grad], nodes=builder.nodes)
    plan = lower(graph)
    assert plan.report["fuse_forward_backward"].count == 1
    xv, yv = _rand(5, 6), np.array([0, 3, 1, 2, 3])
    got = plan(xv, yv)
    expected = [t.numpy() for t in reference.run(dtf.constant(xv), dtf.constant(yv))]
    for g, e in zip(got, expected):
        npt.assert_array_equal(g, e)  # the same operations: equal bit for bit


# -- end to end --------------------------------------------------------------------------------
def test_compiled_training_step_equals_eager():
    """The seeds' MLP step (fused dense layers, the fused loss, Adam as one optimizer node):
    compiled losses and weights equal eager ones to float32 round-off."""
    from dtf import keras

    def make():
        model = keras.Sequential([keras.Input(shape=(12,)),
                                  keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(3)])
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        optimizer = keras.optimizers.Adam(learning_rate=1e-2)

        def step(x, y):
            with dtf.GradientTape() as tape:
                loss = loss_fn(y, model(x))
            grads = tape.gradient(loss, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
            return loss

        return model, step

    eager_model, eager_step = make()
    compiled_model, step = make()
    compiled_model.set_weights(eager_model.get_weights())
    compiled_step = dtf.function(step)
    rng = np.random.default_rng(0)
    for _ in range(4):
        x = dtf.constant(rng.normal(size=(16, 12)).astype("float32"))
        y = dtf.constant(rng.integers(0, 3, size=16))
        npt.assert_allclose(float(compiled_step(x, y)), float(eager_step(x, y)), rtol=1e-5)
    for a, b in zip(compiled_model.get_weights(), eager_model.get_weights()):
        npt.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_relu_gradient_follows_tensorflow_kernel():
    """ReluGrad is `g * (features > 0)` in TensorFlow (TF 2.21 gives [nan, 1, -0] for
    g = [inf, 1, -5] at features [0, 2, 0]); the plan computes it so, into g's buffer."""
    g, out = placeholder((3,)), placeholder((3,))
    grad = _node("relu_grad", dtf.exp(g), out)
    plan = lower(Graph([g, out], [grad]))
    assert "xp.multiply(t0, (in1 > 0), out=t0)" in plan.source
    with np.errstate(over="ignore", invalid="ignore"):
        got = plan(np.array([100.0, 0.0, np.log(5.0)], np.float32),
                   np.array([0.0, 2.0, 0.0], np.float32))[0]
    assert np.isnan(got[0]) and got[1] == 1.0 and got[2] == 0.0


def test_lower_a_copy_leaves_the_graph_as_it_was():
    x = placeholder((3,))
    graph = Graph([x], [dtf.exp(x) * 1.0 + 0.0])
    nodes = list(graph.nodes)
    plan = lower(graph, copy=True)
    assert graph.nodes == nodes and graph._replace == {}
    assert len(plan.graph.nodes) == 1 and plan.graph is not graph
    npt.assert_allclose(plan(np.ones(3, np.float32))[0], np.exp(np.ones(3)), rtol=1e-6)
    lower(graph)  # in place, by default
    assert len(graph.nodes) == 1
