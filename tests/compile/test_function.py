"""dtf.function: tracing and its cache, signatures, state in graphs, gradients through and of
compiled functions, Keras inside traced functions, errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.errors import InvalidArgumentError, OperatorNotAllowedInGraphError

RNG = np.random.default_rng(0)


def _const(*shape):
    return dtf.constant(RNG.normal(size=shape).astype("float32"))


# -- tracing and the cache -------------------------------------------------------------------
def test_compiled_equals_eager_and_traces_once_per_signature():
    traces = []

    def f(x, y):
        traces.append(1)  # a Python side effect: once per trace
        return dtf.reduce_sum(dtf.nn.relu(x @ y) * 2.0, axis=1) - 1.0

    compiled = dtf.function(f)
    x, y = _const(4, 3), _const(3, 5)
    np.testing.assert_allclose(compiled(x, y).numpy(), f(x, y).numpy(), rtol=1e-6)
    compiled(_const(4, 3), _const(3, 5))
    assert compiled.experimental_get_tracing_count() == 1 and len(traces) == 2
    compiled(_const(2, 3), _const(3, 5))  # a new shape: a new trace
    compiled(dtf.constant(np.ones((2, 3))), dtf.constant(np.ones((3, 5))))  # a new dtype
    assert compiled.experimental_get_tracing_count() == 3


def test_python_arguments_are_part_of_the_signature_by_value():
    @dtf.function
    def scale(x, factor, mode="sum"):
        y = x * factor
        return dtf.reduce_sum(y) if mode == "sum" else dtf.reduce_max(y)

    x = dtf.constant([1.0, 2.0, 3.0])
    assert float(scale(x, 2.0)) == 12.0
    assert float(scale(x, 2.0)) == 12.0
    assert float(scale(x, 3.0)) == 18.0
    assert float(scale(x, 3.0, mode="max")) == 9.0
    assert scale.experimental_get_tracing_count() == 3


def test_numpy_arrays_and_nested_structures_are_tensor_arguments():
    @dtf.function
    def f(inputs):
        return {"total": inputs["a"] + inputs["b"][0], "count": len(inputs["b"])}

    out = f({"a": np.ones(2, np.float32), "b": [np.full(2, 2.0, np.float32)]})
    np.testing.assert_array_equal(out["total"].numpy(), [3.0, 3.0])
    assert out["count"] == 1  # a Python value returned as it is
    f({"a": np.zeros(2, np.float32), "b": [np.zeros(2, np.float32)]})
    assert f.experimental_get_tracing_count() == 1


def test_input_signature_with_unknown_dims_traces_once():
    @dtf.function(input_signature=[dtf.TensorSpec([None, 3], dtf.float32)])
    def row_sums(x):
        return dtf.reduce_sum(x, axis=1)

    for n in (1, 4, 7):
        assert row_sums(np.ones((n, 3), np.float32)).shape == (n,)
    assert row_sums.experimental_get_tracing_count() == 1
    concrete = row_sums.get_concrete_function()
    assert concrete.structured_input_signature[0][0].shape.as_list() == [None, 3]
    with pytest.raises(TypeError, match=r"row_sums.*expected TensorSpec\(shape=\(None, 3\), "
                                        r"dtype=dtf.float32\), received .*\(2, 4\)"):
        row_sums(np.ones((2, 4), np.float32))
    with pytest.raises(TypeError, match="float32.*received.*int32"):
        row_sums(dtf.constant([[1, 2, 3]]))


def test_reduce_retracing_relaxes_shapes():
    @dtf.function(reduce_retracing=True)
    def f(x):
        return x * 2.0

    for n in (2, 3, 4, 5, 6):
        assert f(dtf.ones([n])).shape == (n,)
    assert f.experimental_get_tracing_count() == 2
    relaxed = f.get_concrete_function(dtf.TensorSpec([None], dtf.float32))
    assert relaxed.structured_input_signature[0][0].shape.as_list() == [None]


def test_get_concrete_function_graph_and_pass_report():
    w = dtf.Variable(np.ones((3, 2), np.float32))

    @dtf.function
    def f(x):
        unused = dtf.exp(x)  # dead code  # noqa: F841
        a = x @ w
        b = x @ w  # a common subexpression
        return a + b + dtf.constant(2.0) * dtf.constant(3.0)  # a constant to fold

    concrete = f.get_concrete_function(dtf.TensorSpec([None, 3], dtf.float32))
    report = concrete.pass_report
    assert report["dead"] >= 1 and report["merged"] >= 1
    assert report["nodes"] < report["nodes_traced"]
    text = str(concrete.graph)
    assert "matmul" in text and "exp" not in text and "var:" in text
    assert concrete.variables == [w]
    np.testing.assert_allclose(concrete(dtf.ones([2, 3])).numpy(), np.full((2, 2), 12.0))


def test_concrete_function_rejects_mismatched_inputs():
    @dtf.function
    def f(x):
        return x + 1.0

    concrete = f.get_concrete_function(dtf.TensorSpec([2], dtf.float32))
    with pytest.raises(TypeError, match=r"f: argument 'x' expected TensorSpec\(shape=\(2,\), "
                                        r"dtype=dtf.float32\), received TensorSpec\(shape=\(3,\)"):
        concrete(dtf.ones([3]))
    with pytest.raises(TypeError, match="takes 1 positional"):
        concrete(dtf.ones([2]), dtf.ones([2]))


def test_retracing_too_often_warns(caplog):
    @dtf.function
    def f(x):
        return x + 1

    with caplog.at_level(logging.WARNING, logger="dtf"):
        for n in range(1, 8):
            f(dtf.ones([n]))
    assert any("triggered dtf.function retracing" in r.getMessage() for r in caplog.records)


def test_methods_have_a_cache_per_instance():
    class Scaler:
        def __init__(self, factor):
            self.factor = factor

        @dtf.function
        def __call__(self, x):
            return x * self.factor

    a, b = Scaler(2.0), Scaler(3.0)
    assert float(a(dtf.constant(1.0))) == 2.0
    assert float(b(dtf.constant(1.0))) == 3.0
    assert type(a).__call__.experimental_get_tracing_count() == 0
    assert a.__call__.experimental_get_tracing_count() == 1


def test_python_control_flow_on_tensors_says_what_to_use():
    @dtf.function
    def f(x):
        if x > 0:
            return x
        return -x

    with pytest.raises(OperatorNotAllowedInGraphError, match=r"dtf.cond.*dtf.while_loop"):
        f(dtf.constant(1.0))


def test_print_runs_on_every_call_python_print_once(capsys):
    @dtf.function
    def f(x):
        print("tracing")
        dtf.print("x =", x, output_stream=__import__("sys").stdout)
        return x

    f(dtf.constant([1, 2]))
    f(dtf.constant([3, 4]))
    out = capsys.readouterr().out
    assert out.count("tracing") == 1
    assert "x = [1 2]" in out and "x = [3 4]" in out


# -- state -----------------------------------------------------------------------------------
def test_variable_reads_and_assignments_run_in_program_order():
    v = dtf.Variable(1.0)

    @dtf.function
    def f():
        before = v.read_value()
        v.assign(v * 10.0)
        middle = v * 1.0
        v.assign_add(1.0)
        after = dtf.identity(v)
        v.assign_sub(before)  # reads taken before the assignments keep their values
        return before, middle, after

    before, middle, after = f()
    assert (float(before), float(middle), float(after), float(v.numpy())) == (1, 10, 11, 10)
    before, middle, after = f()
    assert (float(before), float(middle), float(after), float(v.numpy())) == (10, 100, 101, 91)
    assert f.experimental_get_tracing_count() == 1


def test_slice_and_scatter_updates_in_a_graph():
    v = dtf.Variable(np.zeros((2, 3), np.float32))

    @dtf.function
    def f(x):
        v[0, 1:].assign(x)
        v.scatter_nd_add([[1, 0]], [5.0])
        return v.read_value()

    out = f(dtf.constant([1.0, 2.0]))
    np.testing.assert_array_equal(out.numpy(), [[0, 1, 2], [5, 0, 0]])
    f(dtf.constant([1.0, 2.0]))
    np.testing.assert_array_equal(v.numpy(), [[0, 1, 2], [10, 0, 0]])


def test_variables_are_created_on_the_first_trace_only():
    class Counter(dtf.Module if hasattr(dtf, "Module") else object):
        def __init__(self):
            self.v = None

        @dtf.function
        def __call__(self, x):
            if self.v is None:
                self.v = dtf.Variable(dtf.zeros_like(x))
            self.v.assign_add(x)
            return self.v.read_value()

    counter = Counter()
    counter(dtf.constant([1.0]))
    np.testing.assert_array_equal(counter(dtf.constant([1.0])).numpy(), [2.0])

    @dtf.function
    def makes_a_variable_each_trace(x):
        return dtf.Variable(1.0) + x

    makes_a_variable_each_trace(dtf.constant(1.0))
    with pytest.raises(ValueError, match="only supports singleton dtf.Variables created on the "
                                         "first call"):
        makes_a_variable_each_trace(dtf.constant([1.0, 2.0]))


def test_a_graph_op_fed_a_wrong_dtype_names_the_op():
    @dtf.function
    def f(x, y):
        return x + y

    with pytest.raises(InvalidArgumentError, match="add"):
        f(dtf.constant(1.0), dtf.constant(1))


def test_assigning_a_wrong_dtype_in_a_graph_is_an_error():
    v = dtf.Variable(1.0)

    @dtf.function
    def f(x):
        v.assign(x)

    with pytest.raises(InvalidArgumentError, match="int32.*float32"):
        f(dtf.constant(1))


# -- gradients -----------------------------------------------------------------------------
def test_gradient_tape_inside_a_compiled_function():
    w = dtf.Variable(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))

    def grads(x):
        with dtf.GradientTape() as tape:
            loss = dtf.reduce_sum(dtf.tanh(x @ w))
        return tape.gradient(loss, w)

    x = _const(3, 2)
    np.testing.assert_allclose(dtf.function(grads)(x).numpy(), grads(x).numpy(), rtol=1e-6)


def test_gradients_through_a_compiled_function_any_order():
    f = dtf.function(lambda x: x * x * x)
    x = dtf.constant(2.0)
    with dtf.GradientTape() as outer:
        outer.watch(x)
        with dtf.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
        dy = inner.gradient(y, x)
    assert float(dy) == 12.0
    assert float(outer.gradient(dy, x)) == 12.0
    v = dtf.Variable(3.0)
    g = dtf.function(lambda: v * v)
    with dtf.GradientTape() as tape:
        y = g()
    assert float(tape.gradient(y, v)) == 6.0


def test_second_order_gradients_inside_a_compiled_function():
    @dtf.function
    def hessian_diag(x):
        with dtf.GradientTape() as outer:
            outer.watch(x)
            with dtf.GradientTape() as inner:
                inner.watch(x)
                y = dtf.reduce_sum(dtf.sin(x) * x)
            g = inner.gradient(y, x)
        return outer.gradient(g, x)

    x = np.array([0.1, 0.7, 1.3], np.float32)
    expected = 2 * np.cos(x) - x * np.sin(x)
    np.testing.assert_allclose(hessian_diag(dtf.constant(x)).numpy(), expected, rtol=1e-5)


# -- Keras inside -------------------------------------------------------------------------------
def _mlp_step(compiled, seed=3):
    dtf.random.set_seed(seed)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.0), keras.layers.Dense(4)])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam(1e-2)
    accuracy = keras.metrics.SparseCategoricalAccuracy()

    def step(x, y):
        with dtf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_fn(y, logits) + sum(model.losses)
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        accuracy.update_state(y, logits)
        return loss

    return (dtf.function(step) if compiled else step), model, optimizer, accuracy


def test_keras_training_step_compiled_equals_eager():
    x = RNG.normal(size=(32, 8)).astype("float32")
    y = RNG.integers(0, 4, 32)
    runs = []
    for compiled in (False, True):
        step, model, optimizer, accuracy = _mlp_step(compiled)
        losses = [float(step(dtf.constant(x), dtf.constant(y))) for _ in range(4)]
        runs.append((losses, model.get_weights(), int(optimizer.iterations.numpy()),
                     float(accuracy.result())))
    (l0, w0, i0, a0), (l1, w1, i1, a1) = runs
    np.testing.assert_allclose(l0, l1, rtol=1e-6)
    for a, b in zip(w0, w1):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert i0 == i1 == 4 and a0 == a1


def test_layer_add_loss_inside_a_compiled_function():
    class ActivityLoss(keras.layers.Layer):
        def call(self, x):
            self.add_loss(0.5 * dtf.reduce_sum(x * x))
            return x

    layer = ActivityLoss()

    @dtf.function
    def f(x):
        layer(x)
        return layer.losses[0]

    assert float(f(dtf.constant([1.0, 2.0]))) == 2.5
    assert float(f(dtf.constant([2.0, 2.0]))) == 4.0


def test_batch_norm_statistics_update_in_a_graph():
    bn = keras.layers.BatchNormalization(momentum=0.5)
    f = dtf.function(lambda x: bn(x, training=True))
    x = np.full((4, 2), 3.0, np.float32)
    f(x)
    f(x)
    np.testing.assert_allclose(bn.moving_mean.numpy(), [2.25, 2.25], rtol=1e-6)


def test_fit_compiles_its_steps_and_fuses_steps_per_execution():
    x = RNG.normal(size=(40, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    histories = []
    for run_eagerly, steps in ((True, 1), (False, 1), (False, 4)):
        dtf.random.set_seed(7)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(0.05), "mse", metrics=["mae"],
                      run_eagerly=run_eagerly, steps_per_execution=steps)
        histories.append(model.fit(x, y, batch_size=8, epochs=3, shuffle=False,
                                   verbose=0).history)
        if not run_eagerly:
            fn = model.make_train_function()
            assert fn.experimental_get_tracing_count() == (1 if steps == 1 else 2)
            assert int(model.optimizer.iterations.numpy()) == 15
    for h in histories[1:]:
        np.testing.assert_allclose(h["loss"], histories[0]["loss"], rtol=1e-5)
        np.testing.assert_allclose(h["mae"], histories[0]["mae"], rtol=1e-5)


def test_a_function_called_while_tracing_another_is_inlined():
    inner = dtf.function(lambda x: x * 2.0)

    @dtf.function
    def outer(x):
        return inner(x) + 1.0

    assert float(outer(dtf.constant(3.0))) == 7.0
    assert inner.experimental_get_tracing_count() == 0
    assert "multiply" in str(outer.get_concrete_function(dtf.constant(3.0)).graph)


def test_run_functions_eagerly_calls_the_python_function():
    calls = []

    @dtf.function
    def f(x):
        calls.append(x)
        return x + 1

    dtf.config.run_functions_eagerly(True)
    try:
        f(dtf.constant(1))
        f(dtf.constant(2))
    finally:
        dtf.config.run_functions_eagerly(False)
    assert len(calls) == 2 and isinstance(calls[0], dtf.Tensor)
    assert f.experimental_get_tracing_count() == 0


def test_custom_gradient_inside_a_compiled_function():
    @dtf.custom_gradient
    def clip_grad(x):
        return dtf.identity(x * 1.0), lambda dy: dtf.clip_by_value(dy, -1.0, 1.0)

    @dtf.function
    def f(x):
        with dtf.GradientTape() as tape:
            tape.watch(x)
            y = dtf.reduce_sum(clip_grad(x) * 5.0)
        return y, tape.gradient(y, x)

    y, g = f(dtf.constant([1.0, 2.0]))
    assert float(y) == 15.0
    np.testing.assert_array_equal(g.numpy(), [1.0, 1.0])


def test_print_formats_values_as_tensorflow(capsys):
    import sys

    dtf.print(dtf.constant(["a", "b"]), dtf.constant([[1.5, 2.0]]), dtf.range(10),
              dtf.constant([True, False]), dtf.constant(2.2823977), output_stream=sys.stdout)
    assert capsys.readouterr().out == '["a" "b"] [[1.5 2]] [0 1 2 ... 7 8 9] [1 0] 2.28239775\n'
