"""dtf.cond, dtf.switch_case, dtf.case and dtf.while_loop: eager semantics (TensorFlow 2.21's
results), graph ops inside dtf.function and on Keras inputs, gradients (first and second order,
eager, inside a trace and of a compiled function), stateful branches and bodies, and errors.

The per-primitive forward/shape/gradient checks are the op cases of
`dtf/testing/cases/control_flow.py` (run by tests/ops/test_op_table.py and
tests/compile/test_symbolic_gradients.py).
"""

import collections

import numpy as np
import numpy.testing as npt
import pytest

import dtf
from dtf import keras
from dtf.compile import context
from dtf.compile.graph import Graph
from dtf.compile.symbolic import placeholder
from dtf.errors import InvalidArgumentError
from dtf.testing.gradcheck import check_gradients


def _traced(f, *specs):
    """f traced on placeholders of `specs` ((shape, dtype) pairs): (placeholders, result, graph
    of every node made, in program order)."""
    holders = [placeholder(shape, dtype) for shape, dtype in specs]
    builder = context.GraphBuilder("test")
    with context.building(builder):
        result = f(*holders)
    flat = dtf.nest.flatten(result)
    return holders, result, Graph(holders, [t for t in flat if t is not None],
                                  nodes=builder.nodes)


def _node_names(graph):
    return [n.prim.name for n in graph.nodes]


# -- eager ----------------------------------------------------------------------------------------
class TestEagerCond:
    def test_runs_only_the_chosen_branch_and_returns_it_as_is(self):
        calls = []
        out = dtf.cond(dtf.constant(True), lambda: calls.append("t") or 1,
                       lambda: calls.append("f") or 2)
        assert out == 1 and calls == ["t"]  # TF returns the branch's value unconverted
        assert dtf.cond(False, lambda: 1, lambda: (2, dtf.constant(3.0)))[0] == 2

    def test_pred_tensor_or_numpy_bool(self):
        x = dtf.constant(3.0)
        assert float(dtf.cond(x > 2, lambda: x * 2, lambda: x)) == 6.0
        assert dtf.cond(np.bool_(False), lambda: "a", lambda: "b") == "b"

    def test_tape_records_the_chosen_branch(self):
        x = dtf.Variable(2.0)
        with dtf.GradientTape() as tape:
            y = dtf.cond(x > 0, lambda: x * x * x, lambda: -x)
        assert float(tape.gradient(y, x)) == 12.0

    def test_second_order(self):
        x = dtf.constant(2.0)
        with dtf.GradientTape() as outer:
            outer.watch(x)
            with dtf.GradientTape() as inner:
                inner.watch(x)
                y = dtf.cond(x > 0, lambda: x ** 3, lambda: x)
            g = inner.gradient(y, x)
        assert float(g) == 12.0 and float(outer.gradient(g, x)) == 12.0

    @pytest.mark.parametrize("pred, error, text", [
        (dtf.constant(1), TypeError, "must be a bool Tensor"),
        (dtf.constant(1.0), TypeError, "got Tensor(shape=(), dtype=float32)"),
        (dtf.constant([True, False]), ValueError, "must be a scalar, got Tensor(shape=(2,)"),
        (None, TypeError, "pred must not be None"),
        (1, TypeError, "a Python bool or a scalar bool Tensor"),
    ])
    def test_bad_pred(self, pred, error, text):
        with pytest.raises(error, match="dtf.cond") as info:
            dtf.cond(pred, lambda: 1, lambda: 2)
        assert text in str(info.value)

    def test_branches_must_be_callable(self):
        with pytest.raises(TypeError, match="'true_fn' must be callable"):
            dtf.cond(True, 1, lambda: 2)
        with pytest.raises(TypeError, match="'false_fn' must be callable"):
            dtf.cond(True, lambda: 1, None)


class TestEagerSwitchAndCase:
    def test_switch_case_forms(self):
        fns = [lambda: 1, lambda: 2, lambda: 3]
        assert dtf.switch_case(dtf.constant(1), fns) == 2
        assert dtf.switch_case(dtf.constant(7), fns) == 3  # out of range: the last branch
        assert dtf.switch_case(dtf.constant(-1), fns) == 3
        assert dtf.switch_case(dtf.constant(7, dtf.int64), {0: lambda: 1, 1: lambda: 2},
                               default=lambda: 9) == 9
        assert dtf.switch_case(dtf.constant(1), [(1, lambda: "b"), (0, lambda: "a")]) == "b"
        assert dtf.switch_case(0, fns) == 1  # a Python int is accepted too

    @pytest.mark.parametrize("index, fns, error, text", [
        (dtf.constant(1), {0: lambda: 1, 2: lambda: 2}, ValueError,
         "contiguous range of [0 to 2) but found {0,2}"),
        (dtf.constant(1.0), [lambda: 1], TypeError, "must be an integer Tensor"),
        (dtf.constant([1]), [lambda: 1], ValueError, "must be a scalar"),
        (dtf.constant(1), [], ValueError, "at least one item in 'branch_fns'"),
        (dtf.constant(1), [lambda: 1, 2], TypeError, "a callable or a 2-tuple"),
        (dtf.constant(1), [(0, lambda: 1), (1, 2)], TypeError, "branch_fns[1] must be callable"),
    ])
    def test_switch_case_errors(self, index, fns, error, text):
        with pytest.raises(error, match="dtf.switch_case") as info:
            dtf.switch_case(index, fns)
        assert text in str(info.value)

    def test_case(self):
        x = dtf.constant(5)
        assert dtf.case([(x > 3, lambda: 1), (x > 4, lambda: 2)], default=lambda: 0) == 1
        assert dtf.case([(x > 7, lambda: 1), (x > 8, lambda: 2)], default=lambda: 0) == 0
        assert dtf.case([(x > 3, lambda: 1)], default=lambda: 0, exclusive=True) == 1
        assert dtf.case([], default=lambda: 4) == 4

    def test_case_errors(self):
        x = dtf.constant(5)
        with pytest.raises(InvalidArgumentError, match="None of conditions evaluated as True"):
            dtf.case([(x > 7, lambda: 1), (x > 8, lambda: 2)])
        with pytest.raises(InvalidArgumentError, match="exclusive=True: more than 1 conditions"):
            dtf.case([(x > 3, lambda: 1), (x > 4, lambda: 2)], default=lambda: 0,
                     exclusive=True)
        with pytest.raises(ValueError, match="no predicates and no default"):
            dtf.case([])
        with pytest.raises(TypeError, match="entry 0 is"):
            dtf.case([x > 3])
        with pytest.raises(TypeError, match="the predicate of pair 0 must be a bool Tensor"):
            dtf.case([(x, lambda: 1)])


class TestEagerWhileLoop:
    def test_converts_loop_vars_and_keeps_the_structure(self):
        out = dtf.while_loop(lambda i: i < 3, lambda i: [i + 1], [0])
        assert isinstance(out, list) and isinstance(out[0], dtf.Tensor) and int(out[0]) == 3
        i, d = dtf.while_loop(lambda i, d: i < 3, lambda i, d: (i + 1, {"a": d["a"] * 2}),
                              (0, {"a": dtf.constant(1.0)}))
        assert int(i) == 3 and float(d["a"]) == 8.0

    def test_namedtuple_and_single_loop_vars(self):
        State = collections.namedtuple("State", "i total")
        out = dtf.while_loop(lambda i, t: i < 4, lambda i, t: State(i + 1, t + 1.5),
                             State(dtf.constant(0), dtf.constant(0.0)))
        assert isinstance(out, State) and float(out.total) == 6.0
        # one loop variable, alone or in a list, may be returned bare by the body
        assert int(dtf.while_loop(lambda i: i < 5, lambda i: i + 2, 0)) == 6
        assert int(dtf.while_loop(lambda i: i < 5, lambda i: i + 2, [0])[0]) == 6

    def test_maximum_iterations(self):
        assert int(dtf.while_loop(lambda i: i < 10, lambda i: [i + 1], [0],
                                  maximum_iterations=4)[0]) == 4
        assert int(dtf.while_loop(lambda i: i < 10, lambda i: [i + 1], [0],
                                  maximum_iterations=dtf.constant(2))[0]) == 2

    def test_shape_may_change_eagerly(self):
        (x,) = dtf.while_loop(lambda x: dtf.size(x) < 4, lambda x: [dtf.concat([x, x], 0)],
                              [dtf.constant([1.0])])
        assert x.shape == (4,)

    def test_gradients_first_and_second_order(self):
        x = dtf.constant(1.5)
        with dtf.GradientTape() as outer:
            outer.watch(x)
            with dtf.GradientTape() as inner:
                inner.watch(x)
                _, y = dtf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * x),
                                      (0, dtf.constant(1.0)))
            g = inner.gradient(y, x)
        npt.assert_allclose(float(g), 3 * 1.5 ** 2)
        npt.assert_allclose(float(outer.gradient(g, x)), 6 * 1.5)

    def test_back_prop_false_stops_gradients(self):
        x = dtf.constant(2.0)
        with dtf.GradientTape() as tape:
            tape.watch(x)
            y = dtf.while_loop(lambda a: a < 10.0, lambda a: [a * x], [x], back_prop=False)[0]
        assert float(y) == 16.0 and tape.gradient(y, x) is None

    def test_errors(self):
        with pytest.raises(ValueError, match="same structure as loop_vars") as info:
            dtf.while_loop(lambda i: i < 3, lambda i: (i + 1, 2), [0])
        assert "loop_vars: [Tensor(shape=(), dtype=int32)]" in str(info.value)
        with pytest.raises(TypeError, match="loop var 0 enters the loop with type int32 but has "
                                            "type float32 after 1 iteration"):
            dtf.while_loop(lambda i: i < 3, lambda i: [dtf.cast(i, dtf.float32)], [1])
        with pytest.raises(TypeError, match="cond must return a scalar bool Tensor"):
            dtf.while_loop(lambda i: dtf.constant([True]), lambda i: [i + 1], [1])
        with pytest.raises(TypeError, match="'body' must be callable"):
            dtf.while_loop(lambda i: i < 3, 1, [1])
        with pytest.raises(TypeError, match="'cond' must be callable"):
            dtf.while_loop(1, lambda i: i, [1])
        with pytest.raises(ValueError, match="'loop_vars' must be provided"):
            dtf.while_loop(lambda: True, lambda: (), [])
        with pytest.raises(TypeError, match="parallel_iterations"):
            dtf.while_loop(lambda i: i < 3, lambda i: [i + 1], [0], parallel_iterations=0)


def _all_four(x, w):
    """cond, switch_case, case and while_loop in one differentiable function."""
    y = dtf.cond(dtf.reduce_sum(x) > 0, lambda: dtf.tanh(x @ w), lambda: x * x)
    y = dtf.switch_case(dtf.cast(dtf.reduce_sum(w) > 0, dtf.int32),
                        [lambda: y * 2.0, lambda: dtf.sin(y)])
    s = dtf.reduce_mean(y)
    y = dtf.case([(s < -0.5, lambda: y * 3.0), (s < 0.5, lambda: dtf.exp(y))],
                 default=lambda: y * y)
    _, h = dtf.while_loop(lambda i, h: i < 2, lambda i, h: (i + 1, dtf.tanh(h @ w)), (0, y))
    return h


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "dtf.function"])
@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["positive", "negative"])
def test_gradcheck_first_and_second_order(compiled, sign):
    x = sign * (np.abs(np.random.default_rng(1).normal(size=(2, 3))) + 0.1)
    w = sign * np.abs(np.random.default_rng(2).normal(size=(3, 3))) * 0.3
    f = dtf.function(_all_four) if compiled else _all_four
    check_gradients(f, [x, w], second_order=True, name="control flow")


# -- graph ops --------------------------------------------------------------------------------
class TestGraphOps:
    def test_one_cond_node_running_the_chosen_branch(self):
        _, _, graph = _traced(
            lambda x: dtf.cond(x > 0, lambda: x * 2.0, lambda: -x), ((), dtf.float32))
        assert _node_names(graph) == ["greater", "cond"]
        assert float(graph.run(dtf.constant(3.0))[0]) == 6.0
        assert float(graph.run(dtf.constant(-2.0))[0]) == 2.0

    def test_python_pred_in_a_trace_calls_the_branch(self):
        _, _, graph = _traced(lambda x: dtf.cond(True, lambda: x * 2.0, lambda: -x),
                              ((), dtf.float32))
        assert _node_names(graph) == ["multiply"]

    def test_merged_shapes(self):
        _, y, _ = _traced(lambda x: dtf.cond(x > 0, lambda: dtf.zeros([2]), lambda: dtf.zeros([3])),
                          ((), dtf.float32))
        assert y.shape.as_list() == [None]
        _, y, _ = _traced(lambda x: dtf.cond(x > 0, lambda: dtf.zeros([2]), lambda: dtf.zeros([])),
                          ((), dtf.float32))
        assert y.shape.rank is None

    def test_branch_mismatch_errors(self):
        with pytest.raises(TypeError, match="true_fn and false_fn arguments to dtf.cond must have "
                                            "the same number, type, and overall structure") as e:
            _traced(lambda x: dtf.cond(x > 0, lambda: (x, x), lambda: x), ((), dtf.float32))
        assert "true_fn output: (Tensor(shape=(), dtype=float32), " in str(e.value)
        with pytest.raises(TypeError, match=r"dtypes \(output 0: float32 vs int32\)"):
            _traced(lambda x: dtf.cond(x > 0, lambda: x, lambda: 2), ((), dtf.float32))
        with pytest.raises(TypeError, match="structure differ"):
            _traced(lambda x: dtf.cond(x > 0, lambda: {"a": x}, lambda: {"b": x}),
                    ((), dtf.float32))
        with pytest.raises(TypeError, match="branch 0 and branch 1 arguments to dtf.switch_case"):
            _traced(lambda i: dtf.switch_case(i, [lambda: 1.0, lambda: 1]), ((), dtf.int32))

    def test_symbolic_pred_errors(self):
        with pytest.raises(TypeError, match="dtf.cond: pred must be a bool Tensor"):
            _traced(lambda x: dtf.cond(x, lambda: 1.0, lambda: 2.0), ((), dtf.int32))
        with pytest.raises(ValueError, match="dtf.cond: pred must be a scalar"):
            _traced(lambda x: dtf.cond(x > 0, lambda: 1.0, lambda: 2.0), ((2,), dtf.float32))
        _, _, graph = _traced(lambda x: dtf.cond(x, lambda: 1.0, lambda: 2.0), (None, dtf.bool))
        with pytest.raises(InvalidArgumentError, match="must be a scalar, but it has shape"):
            graph.run(dtf.constant([True, False]))

    def test_switch_case_and_case_graphs(self):
        _, _, graph = _traced(
            lambda i: dtf.switch_case(i, {0: lambda: 10.0, 1: lambda: 20.0}, default=lambda: -1.0),
            ((), dtf.int32))
        assert [float(graph.run(dtf.constant(k))[0]) for k in (0, 1, 5, -3)] == \
            [10.0, 20.0, -1.0, -1.0]
        _, _, graph = _traced(
            lambda x: dtf.case([(x > 3, lambda: 1), (x > 4, lambda: 2)], exclusive=True),
            ((), dtf.int32))
        assert int(graph.run(dtf.constant(4))[0]) == 1
        with pytest.raises(InvalidArgumentError, match="exclusive=True: more than 1"):
            graph.run(dtf.constant(5))
        with pytest.raises(InvalidArgumentError, match="None of conditions evaluated as True"):
            graph.run(dtf.constant(0))

    def test_while_loop_graph(self):
        _, _, graph = _traced(
            lambda n: dtf.while_loop(lambda i, s: i < n, lambda i, s: (i + 1, s + i), (0, 0)),
            ((), dtf.int32))
        assert _node_names(graph) == ["while_loop"]
        assert [int(v) for v in graph.run(dtf.constant(5))] == [5, 10]
        assert [int(v) for v in graph.run(dtf.constant(-1))] == [0, 0]

    def test_while_shape_checks_and_invariants(self):
        grow = (lambda x: dtf.size(x) < 8, lambda x: [dtf.concat([x, x], 0)])
        with pytest.raises(ValueError, match=r"enters the loop with shape \(1,\), but has shape "
                                             r"\(2,\) after one iteration. To allow the shape to "
                                             "vary across iterations, use the `shape_invariants`"):
            _traced(lambda x: dtf.while_loop(*grow, [x]), ((1,), dtf.float32))
        _, (y,), graph = _traced(
            lambda x: dtf.while_loop(*grow, [x], shape_invariants=[dtf.TensorShape([None])]),
            ((1,), dtf.float32))
        assert y.shape.as_list() == [None]
        assert graph.run(dtf.constant([1.0]))[0].shape == (8,)
        with pytest.raises(ValueError, match="not compatible with the shape"):
            _traced(lambda x: dtf.while_loop(*grow, [x], shape_invariants=[[3]]),
                    ((1,), dtf.float32))
        with pytest.raises(ValueError, match="does not match the structure of loop_vars"):
            _traced(lambda x: dtf.while_loop(*grow, [x], shape_invariants=[[3], [2]]),
                    ((1,), dtf.float32))

    def test_while_errors_in_a_trace(self):
        with pytest.raises(TypeError, match="loop var 0 enters the loop with type float32"):
            _traced(lambda x: dtf.while_loop(lambda i: i < 3, lambda i: [dtf.cast(i, dtf.int32)],
                                             [x]), ((), dtf.float32))
        with pytest.raises(TypeError, match="cond must return a scalar bool Tensor, got "
                                            r"Tensor\(shape=\(\), dtype=float32\)"):
            _traced(lambda x: dtf.while_loop(lambda i: i, lambda i: [i], [x]), ((), dtf.float32))
        with pytest.raises(ValueError, match="same structure as loop_vars"):
            _traced(lambda x: dtf.while_loop(lambda i: i < 3, lambda i: (i + 1, 2), [x]),
                    ((), dtf.float32))

    def test_keras_functional_model_with_a_cond(self):
        inputs = keras.Input((3,))
        dense = keras.layers.Dense(4)
        h = dense(inputs)
        out = dtf.cond(dtf.reduce_sum(h) > 0, lambda: h * 2.0, lambda: h - 1.0)
        model = keras.Model(inputs, out)
        for x in (np.ones((2, 3), np.float32), -np.ones((2, 3), np.float32)):
            eager = dense(x)
            want = eager * 2.0 if float(dtf.reduce_sum(eager)) > 0 else eager - 1.0
            npt.assert_allclose(model(x).numpy(), want.numpy(), rtol=1e-6)


# -- inside dtf.function ------------------------------------------------------------------------
class TestInFunction:
    def test_equals_eager_and_keeps_one_node_each(self):
        def f(x):
            y = dtf.cond(dtf.reduce_sum(x) > 0, lambda: x * x, lambda: -x)
            _, z = dtf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, dtf.sin(a) * x),
                                  (0, y))
            return z

        compiled = dtf.function(f)
        for v in ([1.0, 2.0], [-1.0, -2.0]):
            x = dtf.constant(v)
            npt.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-6)
        graph = compiled.get_concrete_function(dtf.constant([1.0, 2.0])).graph
        assert sorted(_node_names(graph)) == ["cond", "greater", "reduce_sum", "while_loop"]
        assert compiled.experimental_get_tracing_count() == 1

    def test_variables_are_read_when_the_graph_runs(self):
        v = dtf.Variable(1.0)
        f = dtf.function(lambda x: dtf.cond(x > 0, lambda: x * v, lambda: x - v))
        assert float(f(dtf.constant(2.0))) == 2.0
        v.assign(5.0)
        assert float(f(dtf.constant(2.0))) == 10.0 and float(f(dtf.constant(-1.0))) == -6.0

    def test_assignments_in_branches_and_bodies_run_in_order(self):
        v = dtf.Variable(0.0)

        @dtf.function
        def f(x):
            dtf.cond(x > 0, lambda: v.assign_add(1.0), lambda: v.assign_sub(1.0))
            return v.read_value() * 2.0

        assert [float(f(dtf.constant(s))) for s in (1.0, 1.0, -1.0)] == [2.0, 4.0, 2.0]
        graph = f.get_concrete_function(dtf.constant(1.0)).graph
        cond_node = next(n for n in graph.nodes if n.prim.name == "stateful_cond")
        assert v in cond_node.attrs["writes"]

        count = dtf.Variable(0)

        @dtf.function
        def g(n):
            def body(i):
                count.assign_add(1)
                return [i + 1]
            dtf.while_loop(lambda i: i < n, body, [0])
            return count.read_value()

        assert int(g(dtf.constant(5))) == 5 and int(g(dtf.constant(3))) == 8

    def test_a_variable_in_the_loop_condition(self):
        v = dtf.Variable(0.0)

        def body(i):
            v.assign_add(1.5)
            return [i + 1]

        f = dtf.function(lambda: dtf.while_loop(lambda i: v < 5.0, body, [0])[0])
        assert int(f()) == 4 and float(v) == 6.0
        v.assign(3.0)
        assert int(f()) == 2 and float(v) == 6.0

    def test_branches_returning_nothing(self):
        v = dtf.Variable(0.0)

        def store(x):
            v.assign(x)

        @dtf.function
        def f(x):
            out = dtf.cond(x > 0, lambda: None, lambda: None)
            dtf.cond(x > 0, lambda: store(x), lambda: None)
            return out

        assert f(dtf.constant(3.0)) is None and float(v) == 3.0

    def test_gradients_inside_a_trace(self):
        w = dtf.Variable([0.5, -0.2])

        def step(x):
            with dtf.GradientTape() as tape:
                y = dtf.cond(dtf.reduce_sum(x) > 0, lambda: dtf.reduce_sum(x * w * w),
                             lambda: dtf.reduce_sum(w))
                _, z = dtf.while_loop(lambda i, a: i < 2, lambda i, a: (i + 1, a * w), (0, x))
                loss = y + dtf.reduce_sum(z)
            return loss, tape.gradient(loss, w)

        compiled = dtf.function(step)
        for v in ([1.0, 2.0], [-1.0, 0.5]):
            x = dtf.constant(v)
            for got, want in zip(compiled(x), step(x)):
                npt.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)

    def test_second_order_inside_a_trace(self):
        @dtf.function
        def hessian_diag(x):
            with dtf.GradientTape() as outer:
                outer.watch(x)
                with dtf.GradientTape() as inner:
                    inner.watch(x)
                    y = dtf.cond(dtf.reduce_sum(x) > 0, lambda: dtf.reduce_sum(x ** 3),
                                 lambda: dtf.reduce_sum(x * x))
                    _, z = dtf.while_loop(lambda i, a: i < 2, lambda i, a: (i + 1, a * x),
                                          (0, dtf.ones_like(x)))
                    total = y + dtf.reduce_sum(z)
                g = inner.gradient(total, x)
            return outer.gradient(g, x)

        x = np.array([0.5, 1.5], np.float32)
        npt.assert_allclose(hessian_diag(dtf.constant(x)).numpy(), 6 * x + 2, rtol=1e-6)
        npt.assert_allclose(hessian_diag(dtf.constant(-x)).numpy(), [4.0, 4.0], rtol=1e-6)

    def test_nested_loops_and_conds(self):
        def f(x):
            def outer_body(i, acc):
                inner = dtf.cond(i % 2 == 0, lambda: dtf.while_loop(
                    lambda j, a: j < i, lambda j, a: (j + 1, a * x), (0, dtf.ones_like(x)))[1],
                    lambda: acc)
                return i + 1, acc + inner
            return dtf.while_loop(lambda i, a: i < 4, outer_body, (0, dtf.zeros_like(x)))[1]

        x = np.array([0.7, 1.2])
        npt.assert_allclose(dtf.function(f)(dtf.constant(x)).numpy(), f(dtf.constant(x)).numpy())
        check_gradients(dtf.function(f), [x], second_order=True, name="nested")

    def test_dropout_in_a_branch_differentiates_with_the_mask_it_drew(self):
        @dtf.function
        def f(x, training):
            with dtf.GradientTape() as tape:
                tape.watch(x)
                y = dtf.cond(training, lambda: dtf.nn.dropout(x, 0.5), lambda: x)
            return y, tape.gradient(y, x)

        y, g = f(dtf.ones((1000,)), dtf.constant(True))
        assert set(np.unique(g.numpy())) == {0.0, 2.0}
        npt.assert_array_equal(y.numpy(), g.numpy())  # x = 1: the output is the mask
        y, g = f(dtf.ones((1000,)), dtf.constant(False))
        assert set(np.unique(y.numpy())) == {1.0} and set(np.unique(g.numpy())) == {1.0}

    def test_residuals_after_the_branch_ran_compiled(self):
        # the first run, with no tape, runs the branch through a codegen plan; lowering must
        # leave the branch graph's nodes (which residuals are indexed by) as they were
        @dtf.function
        def f(x):
            return dtf.cond(dtf.reduce_sum(x) > 0,
                            lambda: dtf.nn.dropout(x * 1.0 + 0.0, 0.5) * 1.0, lambda: x)

        x = dtf.ones((200,))
        f(x)
        with dtf.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        npt.assert_array_equal(tape.gradient(y, x).numpy(), y.numpy())

    def test_random_draws_in_a_body_are_replayed_by_the_gradient(self):
        @dtf.function
        def f(x):
            with dtf.GradientTape() as tape:
                tape.watch(x)
                _, y = dtf.while_loop(
                    lambda i, a: i < 3,
                    lambda i, a: (i + 1, a * dtf.random.uniform((), 1.0, 2.0)), (0, x))
            return y, tape.gradient(y, x)

        for _ in range(3):
            y, g = f(dtf.constant(2.0))
            npt.assert_allclose(float(g), float(y) / 2.0, rtol=1e-6)

    def test_gradient_of_a_loop_whose_shape_changes_says_why_it_cannot(self):
        @dtf.function(input_signature=[dtf.TensorSpec([None], dtf.float32)])
        def f(x):
            with dtf.GradientTape() as tape:
                tape.watch(x)
                (y,) = dtf.while_loop(lambda y: dtf.size(y) < 4,
                                      lambda y: [dtf.concat([y, y * x[0]], 0)], [x],
                                      shape_invariants=[dtf.TensorShape([None])])
                total = dtf.reduce_sum(y)
            return tape.gradient(total, x)

        with pytest.raises(InvalidArgumentError, match="changed shape across iterations"):
            f(dtf.constant([1.0]))


# -- TensorArray ----------------------------------------------------------------------------------
class TestEagerTensorArray:
    """Eager semantics as TensorFlow 2.21's (results recorded from it)."""

    def test_write_read_stack(self):
        ta = dtf.TensorArray(dtf.float32, size=3)
        ta2 = ta.write(0, [1.0, 2.0])
        assert ta2 is not ta  # a new object over the same storage, as in TensorFlow
        ta.write(0, [3, 4])  # ints are converted; overwriting is allowed
        npt.assert_array_equal(ta.read(0).numpy(), [3.0, 4.0])
        assert ta.element_shape == dtf.TensorShape([2])
        npt.assert_array_equal(ta.stack().numpy(), np.zeros((3, 2)))  # the read cleared it
        assert int(ta.size()) == 3

    def test_errors(self):
        ta = dtf.TensorArray(dtf.float32, size=3).write(0, [1.0, 2.0])
        with pytest.raises(dtf.errors.OutOfRangeError,
                           match="Tried to write to index 3 but array is not resizeable and "
                                 "size is: 3"):
            ta.write(3, [3.0, 4.0])
        with pytest.raises(ValueError, match=r"Incompatible shape for value \(\(3,\)\), "
                                             r"expected \(\(2,\)\)"):
            ta.write(1, [3.0, 4.0, 5.0])
        ta.read(0)
        with pytest.raises(InvalidArgumentError, match="Could not read index 0 twice because it "
                                                       "was cleared after a previous read"):
            ta.read(0)
        with pytest.raises(dtf.errors.OutOfRangeError,
                           match="Tried to read from index 5 but array size is: 3"):
            ta.read(5)
        with pytest.raises(ValueError, match="Cannot unstack 4 tensors into a TensorArray of "
                                             "static size 3"):
            dtf.TensorArray(dtf.float32, size=3).unstack([1.0, 2.0, 3.0, 4.0])
        with pytest.raises(ValueError, match="Size must be provided"):
            dtf.TensorArray(dtf.float32)
        with pytest.raises(TypeError, match="TensorArray dtype is int32 but Op is trying to "
                                            "write dtype float32"):
            dtf.TensorArray(dtf.int32, size=1).write(0, dtf.constant(1.0))

    def test_dynamic_size_and_empty(self):
        ta = dtf.TensorArray(dtf.float32, size=0, dynamic_size=True).write(2, 1.0)
        assert int(ta.size()) == 3
        npt.assert_array_equal(ta.stack().numpy(), [0.0, 0.0, 1.0])
        assert dtf.TensorArray(dtf.float32, size=0, dynamic_size=True).stack().shape == (0,)
        npt.assert_array_equal(
            dtf.TensorArray(dtf.float32, size=2, element_shape=[2]).stack().numpy(),
            np.zeros((2, 2)))

    def test_unstack_gather_scatter_concat_split(self):
        ta = dtf.TensorArray(dtf.float32, size=2, clear_after_read=False).unstack(
            [[1.0, 2.0], [3.0, 4.0]])
        assert [r.numpy().tolist() for r in (ta.read(0), ta.read(0))] == [[1.0, 2.0]] * 2
        npt.assert_array_equal(ta.gather([1, 0, 1]).numpy(), [[3, 4], [1, 2], [3, 4]])
        npt.assert_array_equal(ta.concat().numpy(), [1, 2, 3, 4])
        npt.assert_array_equal(
            dtf.TensorArray(dtf.float32, size=3).scatter([2, 0], [[1.0], [2.0]]).stack().numpy(),
            [[2.0], [0.0], [1.0]])
        parts = dtf.TensorArray(dtf.float32, size=2).split([1.0, 2.0, 3.0], [1, 2])
        npt.assert_array_equal(parts.read(1).numpy(), [2.0, 3.0])
        ragged = dtf.TensorArray(dtf.float32, size=2, infer_shape=False)
        ragged = ragged.write(0, [1.0]).write(1, [1.0, 2.0])
        npt.assert_array_equal(ragged.concat().numpy(), [1.0, 1.0, 2.0])

    def test_tape_gradients(self):
        x = dtf.constant([1.0, 2.0, 3.0])
        with dtf.GradientTape() as tape:
            tape.watch(x)
            source = dtf.TensorArray(dtf.float32, size=3).unstack(x)
            squares = dtf.TensorArray(dtf.float32, size=3)
            for i in range(3):
                squares = squares.write(i, source.read(i) ** 2)
            y = dtf.reduce_sum(squares.stack())
        npt.assert_array_equal(tape.gradient(y, x).numpy(), [2.0, 4.0, 6.0])

    def test_in_an_eager_while_loop(self):
        def body(i, ta):
            return i + 1, ta.write(i, dtf.cast(i, dtf.float32) * 2.0)

        _, ta = dtf.while_loop(lambda i, ta: i < 3, body,
                               (0, dtf.TensorArray(dtf.float32, size=3)))
        npt.assert_array_equal(ta.stack().numpy(), [0.0, 2.0, 4.0])


def _rnn_outputs(x, w):
    """An RNN over the rows of x with TensorArrays in a while_loop (TensorFlow's idiom)."""
    n = dtf.shape(x)[0]
    inputs = dtf.TensorArray(x.dtype, size=n).unstack(x)
    outputs = dtf.TensorArray(x.dtype, size=n)

    def body(i, h, outputs):
        h = dtf.tanh(inputs.read(i) + dtf.linalg.matvec(w, h))
        return i + 1, h, outputs.write(i, h)

    _, _, outputs = dtf.while_loop(lambda i, h, o: i < n, body,
                                   (0, dtf.zeros_like(x[0]), outputs))
    return outputs.stack()


class TestTensorArrayInFunction:
    _SIGNATURE = [dtf.TensorSpec([None, None], dtf.float64)] * 2

    def _data(self):
        rng = np.random.default_rng(0)
        return rng.normal(size=(4, 3)), rng.normal(size=(3, 3)) * 0.5

    def test_rnn_equals_eager_and_keeps_no_history_for_the_output_array(self):
        x, w = self._data()
        want = _rnn_outputs(dtf.constant(x), dtf.constant(w)).numpy()
        for f in (dtf.function(_rnn_outputs),
                  dtf.function(_rnn_outputs, input_signature=self._SIGNATURE)):
            npt.assert_allclose(f(dtf.constant(x), dtf.constant(w)).numpy(), want, rtol=1e-12)
        graph = dtf.function(_rnn_outputs, input_signature=self._SIGNATURE) \
            .get_concrete_function().graph
        loop = next(n for n in graph.nodes if n.prim.name == "while_loop")
        assert loop.attrs["history"] == ("stack", "stack", "final")

    def test_element_shape_is_inferred_through_the_loop(self):
        seen = {}

        @dtf.function
        def f(x):
            ta = dtf.TensorArray(dtf.float32, size=0, dynamic_size=True)
            _, ta = dtf.while_loop(
                lambda i, ta: i < 3,
                lambda i, ta: (i + 1, ta.write(i, x * dtf.cast(i, dtf.float32))), (0, ta))
            seen["shape"], seen["element_shape"] = ta.stack().shape, ta.element_shape
            return ta.stack()

        npt.assert_array_equal(f(dtf.constant([1.0, 2.0])).numpy(), [[0, 0], [1, 2], [2, 4]])
        assert seen == {"shape": dtf.TensorShape([None, 2]),
                        "element_shape": dtf.TensorShape([2])}  # as TensorFlow's

    def test_a_cond_returning_tensor_arrays(self):
        @dtf.function
        def f(x):
            ta = dtf.TensorArray(dtf.float32, size=2)
            ta = dtf.cond(dtf.reduce_sum(x) > 0, lambda: ta.write(0, x), lambda: ta.write(1, -x))
            return ta.stack()

        npt.assert_array_equal(f(dtf.constant([1.0, 2.0])).numpy(), [[1, 2], [0, 0]])
        npt.assert_array_equal(f(dtf.constant([-1.0, -2.0])).numpy(), [[0, 0], [1, 2]])

    def test_graph_reads_and_errors(self):
        @dtf.function
        def unwritten_known(x):
            return dtf.TensorArray(dtf.float32, size=2).write(0, x).read(1)

        npt.assert_array_equal(unwritten_known(dtf.constant([1.0, 2.0])).numpy(), [0.0, 0.0])

        @dtf.function
        def unwritten_unknown(x):
            return dtf.TensorArray(dtf.float32, size=2).read(1) + x

        with pytest.raises(InvalidArgumentError, match="element shape is not fully defined"):
            unwritten_unknown(dtf.constant(1.0))

        @dtf.function
        def past_the_end(i):
            return dtf.TensorArray(dtf.float32, size=2).write(i, 1.0).stack()

        with pytest.raises(dtf.errors.OutOfRangeError,
                           match="Tried to write to index 2 but array is not resizeable"):
            past_the_end(dtf.constant(2))

        @dtf.function
        def split_concat(x):
            ta = dtf.TensorArray(dtf.float32, size=2).split(x, [2, 2])
            return ta.read(1), ta.concat(), ta.size()

        second, whole, size = split_concat(dtf.constant([1.0, 2.0, 3.0, 4.0]))
        assert second.numpy().tolist() == [3.0, 4.0] and whole.numpy().tolist() == \
            [1.0, 2.0, 3.0, 4.0] and int(size) == 2

    def test_gradients(self):
        x, w = self._data()

        def loss_and_grads(x, w):
            with dtf.GradientTape() as tape:
                tape.watch([x, w])
                loss = dtf.reduce_sum(_rnn_outputs(x, w) ** 2)
            return tape.gradient(loss, [x, w])

        want = loss_and_grads(dtf.constant(x), dtf.constant(w))
        got = dtf.function(loss_and_grads, input_signature=self._SIGNATURE)(
            dtf.constant(x), dtf.constant(w))
        for g, e in zip(got, want):
            npt.assert_allclose(g.numpy(), e.numpy(), rtol=1e-12)
        check_gradients(dtf.function(_rnn_outputs, input_signature=self._SIGNATURE), [x, w],
                        second_order=True, name="compiled TensorArray RNN")

    def test_a_loop_reading_back_what_it_wrote(self):
        def running(x):
            n = dtf.shape(x)[0]
            ta = dtf.TensorArray(x.dtype, size=n, clear_after_read=False)  # unwritten: a marker

            def body(i, ta):
                prev = dtf.cond(i > 0, lambda: ta.read(dtf.maximum(i - 1, 0)),
                                lambda: dtf.zeros_like(x[0]))
                return i + 1, ta.write(i, prev * x[i] + x[i])

            return dtf.while_loop(lambda i, ta: i < n, body, (0, ta))[1].stack()

        x = np.array([0.5, 1.5, -0.7, 0.3])
        compiled = dtf.function(running, input_signature=[dtf.TensorSpec([None], dtf.float64)])
        npt.assert_allclose(compiled(dtf.constant(x)).numpy(), [0.5, 2.25, -2.275, -0.3825])
        loop = next(n for n in compiled.get_concrete_function().graph.nodes
                    if n.prim.name == "while_loop")
        assert loop.attrs["history"] == ("stack", "buffer")
        check_gradients(compiled, [x], second_order=True, name="read back")
