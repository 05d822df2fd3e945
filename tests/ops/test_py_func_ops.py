"""`py_function` / `numpy_function`: eager calls, every run of a traced function calls the
Python function, outputs converted to Tout, errors from the function reach the caller."""

from __future__ import annotations

import doctest
import types

import numpy as np
import pytest

import dtf
from dtf import errors
from dtf.ops import py_func_ops
from dtf.ops.py_func_ops import numpy_function, py_function


def test_eager_py_function_gets_tensors():
    seen = []

    def fn(x, k):
        seen.append((type(x), type(k)))
        return x * k

    out = py_function(fn, [dtf.constant([1.0, 2.0]), dtf.constant(3.0)], dtf.float32)
    assert seen == [(dtf.Tensor, dtf.Tensor)]
    assert out.dtype == dtf.float32
    np.testing.assert_allclose(out.numpy(), [3.0, 6.0])


def test_eager_numpy_function_gets_arrays():
    seen = []

    def fn(x):
        seen.append(type(x))
        return np.sort(x)

    out = numpy_function(fn, [dtf.constant([3, 1, 2])], dtf.int32)
    assert seen == [np.ndarray]
    np.testing.assert_array_equal(out.numpy(), [1, 2, 3])


def test_scalar_input_reaches_numpy_function_as_an_array():
    kinds = []
    numpy_function(lambda a: kinds.append(type(a)) or a, [dtf.constant(1.5)], dtf.float32)
    assert kinds == [np.ndarray]


def test_outputs_converted_to_tout():
    out = py_function(lambda x: 3, [dtf.constant(1.0)], dtf.float64)
    assert out.dtype == dtf.float64 and float(out) == 3.0
    out = py_function(lambda x: np.array([1.7]), [dtf.constant(1.0)], dtf.int32)
    assert out.dtype == dtf.int32 and out.numpy().tolist() == [1]  # NumPy data is cast, as TF
    out = numpy_function(lambda x: 2, [1.0], dtf.float32)  # Python numbers convert
    assert out.dtype == dtf.float32 and float(out) == 2.0


@pytest.mark.parametrize("api", [py_function, numpy_function])
def test_in_function_runs_every_call(api):
    calls = []

    def fn(x):
        calls.append(1)
        return x * 2

    f = dtf.function(lambda x: api(fn, [x], dtf.float32))
    results = [float(f(dtf.constant(float(i)))) for i in range(3)]
    assert results == [0.0, 2.0, 4.0]
    assert len(calls) == 3


def test_in_function_neither_folded_merged_nor_dropped():
    calls = []

    def tick(*args):
        calls.append(1)
        return np.float32(1.0)

    @dtf.function
    def f(x):
        a = py_function(tick, [], dtf.float32)  # no inputs: still runs per call
        b = py_function(tick, [], dtf.float32)  # the same op twice: not merged
        py_function(tick, [dtf.constant(1.0)], dtf.float32)  # unused: not dropped
        return x + 0.0 * (a + b)

    for _ in range(3):
        np.testing.assert_allclose(f(dtf.constant([1.0, 2.0])).numpy(), [1.0, 2.0])
    assert len(calls) == 9


def test_in_function_shape_unknown_unless_spec():
    shapes = {}

    @dtf.function
    def f(x):
        y = py_function(lambda a: a * 2, [x], dtf.float32)
        z = py_function(lambda a: a * 2, [x], dtf.TensorSpec([None], dtf.float32))
        shapes["y"], shapes["z"] = y.shape, z.shape
        return y, z

    y, z = f(dtf.constant([1.0, 2.0]))
    assert shapes["y"].rank is None
    assert shapes["z"].as_list() == [None]
    np.testing.assert_allclose(y.numpy(), [2.0, 4.0])
    np.testing.assert_allclose(z.numpy(), [2.0, 4.0])


def test_tensor_spec_shape_is_checked():
    with pytest.raises(errors.InvalidArgumentError, match=r"shape \[3\].*says \[2\]"):
        py_function(lambda a: a, [dtf.constant([1.0, 2.0, 3.0])],
                    dtf.TensorSpec([2], dtf.float32))


def test_multiple_outputs():
    def fn(x):
        return x + 1, dtf.cast(x, dtf.int32)

    a, b = py_function(fn, [dtf.constant([1.5])], [dtf.float32, dtf.int32])
    assert (a.dtype, b.dtype) == (dtf.float32, dtf.int32)
    np.testing.assert_allclose(a.numpy(), [2.5])
    np.testing.assert_array_equal(b.numpy(), [1])
    out = py_function(lambda x: x, [dtf.constant(1.0)], [dtf.float32])  # a list of one
    assert isinstance(out, list) and len(out) == 1
    assert py_function(lambda: None, [], []) == []

    f = dtf.function(lambda x: numpy_function(lambda a: (a + 1, a.sum()), [x],
                                              [dtf.float32, dtf.float32]))
    a, b = f(dtf.constant([1.0, 2.0]))
    np.testing.assert_allclose(a.numpy(), [2.0, 3.0])
    assert float(b) == 3.0


def _fail(x):
    raise ValueError(f"bad value {float(x)}")


def test_errors_propagate_with_message():
    with pytest.raises(errors.InvalidArgumentError,
                       match=r"'_fail' of dtf.py_function raised ValueError: bad value 1.0") as e:
        py_function(_fail, [dtf.constant(1.0)], dtf.float32)
    assert isinstance(e.value.__cause__, ValueError)
    assert "raise ValueError" in str(e.value)  # the function's traceback is in the message
    with pytest.raises(ValueError, match="bad value 2.0"):  # eager numpy_function: as is (TF)
        numpy_function(_fail, [dtf.constant(2.0)], dtf.float32)


@pytest.mark.parametrize("api", [py_function, numpy_function])
def test_errors_propagate_from_function(api):
    f = dtf.function(lambda x: api(_fail, [x], dtf.float32))
    with pytest.raises(errors.InvalidArgumentError, match="ValueError: bad value 3.0"):
        f(dtf.constant(3.0))


def test_stop_iteration_is_out_of_range():
    def done(x):
        raise StopIteration

    with pytest.raises(errors.OutOfRangeError, match="StopIteration"):
        py_function(done, [dtf.constant(1.0)], dtf.float32)


def test_results_that_do_not_fit_tout():
    x = [dtf.constant(1.0)]
    with pytest.raises(errors.InvalidArgumentError, match="returned one Tensor, but Tout lists "
                                                          "2 outputs"):
        py_function(lambda a: a, x, [dtf.float32, dtf.float32])
    with pytest.raises(errors.InvalidArgumentError, match="returned None for output 0"):
        py_function(lambda a: None, x, dtf.float32)
    with pytest.raises(errors.InvalidArgumentError, match="float64 array for output 0, but Tout "
                                                          "says float32"):
        numpy_function(lambda a: np.array([1.0]), x, dtf.float32)
    with pytest.raises(errors.InvalidArgumentError, match="does not convert to a float32"):
        py_function(lambda a: dtf.constant(1.0, dtf.float64), x, dtf.float32)


def test_bad_arguments():
    with pytest.raises(TypeError, match="func must be callable"):
        py_function(3, [], dtf.float32)
    with pytest.raises(TypeError, match="inp must be a list"):
        py_function(lambda a: a, dtf.constant(1.0), dtf.float32)
    with pytest.raises(TypeError, match="Tout must be a dtype"):
        py_function(lambda a: a, [dtf.constant(1.0)], object())


def test_no_gradient():
    v = dtf.Variable(2.0)
    with dtf.GradientTape() as tape:
        y = py_function(lambda a: a * a, [v], dtf.float32)
        z = numpy_function(lambda a: a * a, [v], dtf.float32)
    assert tape.gradient([y, z], v) is None
    x = dtf.constant(2.0)
    with dtf.GradientTape() as tape:
        tape.watch(x)
        out = x * 3.0 + 0.0 * py_function(lambda a: a, [x], dtf.float32)
    assert float(tape.gradient(out, x)) == 3.0


def test_stateless_numpy_function_values():
    f = dtf.function(lambda x: numpy_function(np.cumsum, [x], dtf.int64, stateful=False))
    np.testing.assert_array_equal(f(dtf.constant([1, 2, 3], dtf.int64)).numpy(), [1, 3, 6])


def test_in_a_keras_model_runs_every_training_step():
    from dtf import keras

    calls = []

    def hook(x):
        calls.append(1)
        return np.float32(0.0)

    def side_effect(t):
        return t + dtf.ensure_shape(py_function(hook, [t], dtf.float32), [])

    inputs = keras.Input((4,))
    hidden = keras.layers.Lambda(side_effect)(keras.layers.Dense(3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile("sgd", "mse")
    calls.clear()  # the functional model's construction does not run it
    x = np.ones((12, 4), np.float32)
    model.fit(x, np.zeros((12, 1), np.float32), batch_size=4, epochs=1, verbose=0)
    assert len(calls) == 3


def test_docstring_examples():
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    namespace = dtf
    if not hasattr(dtf, "py_function"):  # until dtf/__init__.py exports them
        namespace = types.SimpleNamespace(**vars(dtf), py_function=py_function,
                                          numpy_function=numpy_function)
    globs = {**vars(py_func_ops), "dtf": namespace, "np": np}
    for test in doctest.DocTestFinder().find(py_func_ops, globs=globs):
        runner.run(test)
    assert runner.failures == 0 and runner.tries >= 3


def test_saving_refuses_it(tmp_path):
    from dtf import saved_model

    f = dtf.function(lambda x: py_function(lambda a: a, [x], dtf.float32),
                     input_signature=[dtf.TensorSpec([2], dtf.float32)])
    with pytest.raises(ValueError, match=r"py_func\) cannot be exported: it calls a Python"):
        saved_model.save(f, str(tmp_path / "f"))
