"""dtf.nn beyond the op table: TensorFlow's documented values, gradients at kinks, error
messages, namespaces, and the accuracy of erf (which gelu uses).

Expected values marked "TF" were printed by TensorFlow 2.21 for the same inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import dtf
from dtf.errors import InvalidArgumentError
from dtf.ops.special import erf as erf_array

NN_NAMES = ["relu", "relu6", "elu", "selu", "gelu", "softplus", "softsign", "silu", "swish",
            "leaky_relu", "softmax", "log_softmax", "dropout", "sigmoid", "tanh",
            "sigmoid_cross_entropy_with_logits", "softmax_cross_entropy_with_logits",
            "sparse_softmax_cross_entropy_with_logits", "bias_add", "l2_normalize", "moments",
            "l2_loss", "embedding_lookup"]


def close(t, expected, tol=1e-6):
    np.testing.assert_allclose(np.asarray(t.numpy(), np.float64), expected, rtol=tol, atol=tol)


# -- erf ----------------------------------------------------------------------------------------
def _erf_reference(x):
    return np.array([math.erf(v) for v in x])


def test_erf_matches_math_erf_to_float64_precision():
    x = np.concatenate([
        np.linspace(-40, 40, 40001),
        [0.0, -0.0, 0.5, -0.5, 4.0, -4.0, 6.0, -6.0, 30.0, -30.0, 0.4999999999, 0.5000000001,
         3.9999999999, 4.0000000001, 26.5, 27.0, 1e-8, -1e-8, 1e-300, 5e-324],
        np.geomspace(1e-12, 10, 2000), -np.geomspace(1e-12, 10, 2000),
    ])
    got = erf_array(np, x)
    ref = _erf_reference(x)
    err = np.abs(got - ref)
    assert err.max() < 1e-15, (float(err.max()), x[np.argmax(err)])
    normal = np.abs(x) >= 1e-300  # relative error, where the input is not subnormal
    rel = err[normal] / np.abs(ref[normal])
    assert rel.max() < 1e-15, (float(rel.max()), x[normal][np.argmax(rel)])


@pytest.mark.parametrize("v", [0.0, 0.5, 4.0, 6.0, 30.0])
def test_erf_at_range_boundaries(v):
    for s in (1.0, -1.0):
        got = float(dtf.math.erf(dtf.constant(s * v, dtf.float64)))
        ref = math.erf(s * v)
        assert abs(got - ref) <= 1e-15 * max(abs(ref), 1e-300) + (0 if v else 1e-300)


def test_erf_special_values_and_float32():
    got = erf_array(np, np.array([np.nan, np.inf, -np.inf]))
    assert np.isnan(got[0]) and got[1] == 1.0 and got[2] == -1.0
    y = dtf.math.erf(dtf.constant([0.3, -2.0], dtf.float32))
    assert y.dtype == dtf.float32
    np.testing.assert_allclose(y.numpy(), [math.erf(0.3), math.erf(-2.0)], rtol=1e-7)


# -- namespaces ---------------------------------------------------------------------------------
def test_nn_namespace_has_the_tensorflow_names():
    missing = [n for n in NN_NAMES if not callable(getattr(dtf.nn, n, None))]
    assert not missing


def test_top_level_names_as_tensorflow():
    assert dtf.sigmoid is dtf.nn.sigmoid and dtf.tanh is dtf.nn.tanh
    assert dtf.stop_gradient is not None
    assert dtf.nn.swish is dtf.nn.silu


# -- documented values --------------------------------------------------------------------------
def test_gelu_values():
    x = [-3.0, -1.0, 0.0, 1.0, 3.0]
    close(dtf.nn.gelu(x), [-0.0040497, -0.15865526, 0.0, 0.8413447, 2.9959502])  # TF
    close(dtf.nn.gelu(x, approximate=True),
          [-0.00363743, -0.158808, 0.0, 0.841192, 2.9963627])  # TF


def test_activation_values():
    close(dtf.nn.elu([-1.0, 1.0]), [-0.63212055, 1.0])  # TF
    close(dtf.nn.selu([-1.0, 1.0]), [-1.1113307, 1.050701])  # TF
    close(dtf.nn.relu6([-1.0, 3.0, 7.0]), [0.0, 3.0, 6.0])
    close(dtf.nn.softsign([-1.0, 3.0]), [-0.5, 0.75])
    close(dtf.nn.softplus([-1.0, 3.0]), [0.3132617, 3.0485873])  # TF
    close(dtf.nn.leaky_relu([-10.0, 1.0], alpha=2.0), [-20.0, 1.0])
    close(dtf.nn.silu([-1.0, 1.0], beta=2.0), [-0.11920292, 0.8807971])  # TF


def test_relu_keeps_integer_dtype_and_nan():
    y = dtf.nn.relu(dtf.constant([-1, 2]))
    assert y.dtype == dtf.int32 and y.numpy().tolist() == [0, 2]
    assert np.isnan(dtf.nn.relu([np.nan]).numpy()[0])
    assert dtf.nn.relu6(dtf.constant([-1, 7])).numpy().tolist() == [0, 6]


def test_leaky_relu_of_integers_is_float32():
    y = dtf.nn.leaky_relu(dtf.constant([-1, 7]))
    assert y.dtype == dtf.float32
    close(y, [-0.2, 7.0])


def test_softplus_and_softmax_do_not_overflow():
    y = dtf.nn.softplus([-100.0, 100.0, 0.0, 1000.0])
    close(y, [0.0, 100.0, 0.6931472, 1000.0])  # TF (first three)
    close(dtf.nn.softmax([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]),
          [[0.09003057, 0.24472848, 0.6652409], [1 / 3, 1 / 3, 1 / 3]])  # TF
    close(dtf.nn.log_softmax([1.0, 2.0, 3.0]), [-2.407606, -1.4076059, -0.40760595])  # TF
    big = dtf.nn.softmax([[1e4, 0.0]])
    close(big, [[1.0, 0.0]])
    ls = dtf.nn.log_softmax([[-np.inf, 0.0]]).numpy()
    assert ls[0, 0] == -np.inf and ls[0, 1] == 0.0  # TF: [[-inf, 0.]]


def test_softmax_float16_keeps_dtype():
    y = dtf.nn.softmax(dtf.constant([[1.0, 2.0], [3.0, 4.0]], dtf.float16))
    assert y.dtype == dtf.float16
    close(y, [[0.269, 0.731], [0.269, 0.731]], tol=1e-3)  # TF


def test_softmax_sums_to_one_along_axis():
    x = dtf.random.normal([3, 4, 5], seed=1, dtype=dtf.float64)
    for axis in (0, 1, -1):
        s = dtf.reduce_sum(dtf.nn.softmax(x, axis=axis), axis=axis)
        np.testing.assert_allclose(s.numpy(), 1.0, rtol=1e-12)


def test_loss_values():
    close(dtf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=[0, 3, 1],
        logits=[[2.0, -5.0, 0.5, -0.1], [0.0, 0.0, 1.9, 1.4], [-100.0, 100.0, -100.0, -100.0]]),
        [0.29750744, 1.1448326, 0.0])  # TF
    close(dtf.nn.softmax_cross_entropy_with_logits(
        labels=[[1.0, 0.0, 0.0], [0.0, 0.8, 0.2]], logits=[[4.0, 2.0, 1.0], [0.0, 5.0, 1.0]]),
        [0.16984604, 0.82474494])  # TF
    close(dtf.nn.sigmoid_cross_entropy_with_logits(
        labels=[0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.5], logits=[1.0, -1.0, 0.0, 1.0, -1.0, 0.0, 0.0]),
        [1.3132617, 0.3132617, 0.6931472, 0.3132617, 1.3132617, 0.6931472, 0.6931472])  # TF
    close(dtf.nn.sigmoid_cross_entropy_with_logits(labels=[0.0, 1.0], logits=[100.0, -100.0]),
          [100.0, 100.0])  # TF


def test_softmax_cross_entropy_scalar_and_broadcast():
    y = dtf.nn.softmax_cross_entropy_with_logits(labels=dtf.zeros([3]), logits=dtf.zeros([3]))
    assert y.shape == () and float(y) == 0.0
    y = dtf.nn.softmax_cross_entropy_with_logits(labels=dtf.zeros([1, 3]), logits=dtf.zeros([2, 3]))
    assert y.shape == (2,)


def test_sparse_cross_entropy_scalar_label():
    y = dtf.nn.sparse_softmax_cross_entropy_with_logits(labels=dtf.constant(1),
                                                        logits=dtf.zeros([3]))
    assert y.shape == ()
    close(y, math.log(3))


def test_bias_add_formats():
    v = dtf.zeros([2, 3, 4])
    assert dtf.nn.bias_add(v, [1.0, 2.0, 3.0, 4.0]).numpy()[1, 2].tolist() == [1, 2, 3, 4]
    y = dtf.nn.bias_add(v, [1.0, 2.0, 3.0], data_format="NCW").numpy()
    assert y[1, :, 0].tolist() == [1, 2, 3]
    y = dtf.nn.bias_add(v, [1.0, 2.0, 3.0, 4.0], data_format="NWC").numpy()
    assert y[0, 0].tolist() == [1, 2, 3, 4]


def test_l2_normalize_values():
    close(dtf.nn.l2_normalize([3.0, 4.0]), [0.6, 0.8])
    close(dtf.nn.l2_normalize([[0.0, 0.0], [3.0, 4.0]], axis=1), [[0.0, 0.0], [0.6, 0.8]])
    close(dtf.nn.l2_normalize([[3.0, 4.0]], dim=1), [[0.6, 0.8]])


def test_moments_values():
    mean, var = dtf.nn.moments(dtf.constant([1.0, 2.0, 3.0, 4.0]), axes=[0])
    assert float(mean) == 2.5 and float(var) == 1.25
    mean, var = dtf.nn.moments(dtf.constant([[1.0, 2.0], [4.0, 5.0]]), axes=[0], keepdims=True)
    assert mean.shape == (1, 2) and var.numpy().tolist() == [[2.25, 2.25]]  # TF
    mean, var = dtf.nn.moments(dtf.constant([[1.0, 2.0], [4.0, 5.0]]), axes=[])
    assert mean.numpy().tolist() == [[1, 2], [4, 5]] and var.numpy().tolist() == [[0, 0], [0, 0]]
    mean, var = dtf.nn.moments(dtf.constant([1, 2, 4]), axes=[0])  # TF: integer arithmetic
    assert mean.dtype == dtf.int32 and int(mean) == 2 and int(var) == 1


def test_moments_float64_is_exact():
    x = np.random.default_rng(0).uniform(-5, 5, size=(4, 5))
    x[0, 0], x[1, 1] = 80.0, -80.0
    mean, var = dtf.nn.moments(dtf.constant(x), axes=[0, 1])
    np.testing.assert_allclose(float(mean), np.mean(x), rtol=1e-13)
    np.testing.assert_allclose(float(var), np.var(x), rtol=1e-13)


# -- gradients at kinks (TensorFlow's conventions) ----------------------------------------------
def _grad(fn, values):
    x = dtf.constant(values)
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x).numpy().tolist()


def test_gradients_at_kinks_match_tensorflow():
    x = [0.0, -1.0, 2.0]
    assert _grad(dtf.nn.relu, x) == [0.0, 0.0, 1.0]  # TF
    np.testing.assert_allclose(_grad(dtf.nn.leaky_relu, x), [0.2, 0.2, 1.0])  # TF
    np.testing.assert_allclose(_grad(dtf.nn.elu, x), [1.0, 0.36787945, 1.0], rtol=1e-6)  # TF
    assert _grad(dtf.nn.relu6, [6.0, 0.0, 3.0]) == [0.0, 0.0, 1.0]  # TF
    np.testing.assert_allclose(
        _grad(lambda v: dtf.nn.sigmoid_cross_entropy_with_logits(labels=[1.0, 1.0, 1.0],
                                                                 logits=v), x),
        [-0.5, -0.7310586, -0.11920291], rtol=1e-6)  # TF


def test_relu_second_derivative_is_zero():
    x = dtf.constant([-1.0, 2.0])
    with dtf.GradientTape() as outer:
        outer.watch(x)
        with dtf.GradientTape() as inner:
            inner.watch(x)
            y = dtf.nn.relu(x)
        g = inner.gradient(y, x)
    gg = outer.gradient(g, x, unconnected_gradients="zero")
    assert gg.numpy().tolist() == [0.0, 0.0]


def test_large_inputs_have_finite_gradients():
    x = [-800.0, 800.0]
    for fn in (dtf.nn.elu, dtf.nn.selu, dtf.nn.softplus, dtf.nn.silu):
        g = np.asarray(_grad(fn, x))
        assert np.all(np.isfinite(g)), fn.__name__
    g = np.asarray(_grad(lambda v: dtf.nn.softmax(dtf.reshape(v, [1, 2])), x))
    assert np.all(np.isfinite(g))


def test_cross_entropy_gradients_flow_into_labels():
    labels = dtf.constant([[0.2, 0.8]])
    logits = dtf.constant([[1.0, 2.0]])
    with dtf.GradientTape() as tape:
        tape.watch(labels)
        loss = dtf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    g = tape.gradient(loss, labels)
    close(g, -dtf.nn.log_softmax(logits).numpy())


def test_sparse_cross_entropy_gradient_is_softmax_minus_one_hot():
    logits = dtf.constant([[1.0, 2.0, 3.0]])
    with dtf.GradientTape() as tape:
        tape.watch(logits)
        loss = dtf.nn.sparse_softmax_cross_entropy_with_logits(labels=[2], logits=logits)
    g = tape.gradient(loss, logits).numpy()
    np.testing.assert_allclose(g, dtf.nn.softmax(logits).numpy() - [[0, 0, 1]], rtol=1e-6)


# -- dropout ------------------------------------------------------------------------------------
def test_dropout_rate_zero_returns_input():
    x = dtf.constant([1.0, 2.0])
    assert dtf.nn.dropout(x, 0.0) is x


def test_dropout_gradient_is_the_scaled_mask():
    x = dtf.ones([200])
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = dtf.nn.dropout(x, rate=0.25, seed=4)
    g = tape.gradient(y, x).numpy()
    np.testing.assert_array_equal(g, y.numpy())  # x is ones: y is the mask times 1 / 0.75
    assert set(g.tolist()) == {0.0, float(np.float32(1 / 0.75))}


def test_dropout_noise_shape_drops_whole_rows():
    y = dtf.nn.dropout(dtf.ones([50, 6]), 0.5, noise_shape=[50, 1], seed=1).numpy()
    assert all(len(set(row.tolist())) == 1 for row in y)
    y = dtf.nn.dropout(dtf.ones([50, 6]), 0.5, noise_shape=[None, 1], seed=1).numpy()
    assert all(len(set(row.tolist())) == 1 for row in y)


def test_dropout_accepts_a_scalar_tensor_rate():
    y = dtf.nn.dropout(dtf.ones([100]), rate=dtf.constant(0.5), seed=1).numpy()
    assert set(y.tolist()) <= {0.0, 2.0}


# -- errors -------------------------------------------------------------------------------------
def test_activation_dtype_errors_name_the_op():
    with pytest.raises(InvalidArgumentError, match=r"elu.*int32"):
        dtf.nn.elu(dtf.constant([-1, 7]))
    with pytest.raises(InvalidArgumentError, match=r"softplus.*int32"):
        dtf.nn.softplus(dtf.constant([1]))
    with pytest.raises(InvalidArgumentError, match=r"relu.*bool"):
        dtf.nn.relu(dtf.constant([True]))
    with pytest.raises(ValueError, match=r"gelu.*floating point"):
        dtf.nn.gelu(dtf.constant([-1, 7]))
    with pytest.raises(InvalidArgumentError, match=r"softmax.*int32"):
        dtf.nn.softmax(dtf.constant([-1, 7]))


def test_softmax_axis_and_rank_errors():
    with pytest.raises(InvalidArgumentError, match=r"softmax.*\[-2, 2\).*dim=2"):
        dtf.nn.softmax(dtf.constant([[1.0, 2.0]]), axis=2)
    with pytest.raises(InvalidArgumentError, match=r"log_softmax.*scalar"):
        dtf.nn.log_softmax(dtf.constant(1.0))


def test_sparse_cross_entropy_rejects_out_of_range_labels():
    for bad in (5, -1):
        with pytest.raises(InvalidArgumentError,
                           match=rf"sparse_softmax_cross_entropy_with_logits.*label value of "
                                 rf"{bad}.*\[0, 3\)"):
            dtf.nn.sparse_softmax_cross_entropy_with_logits(labels=dtf.constant([0, bad]),
                                                            logits=dtf.zeros([2, 3]))


def test_sparse_cross_entropy_argument_errors():
    with pytest.raises(ValueError, match=r"labels.shape.*\(3,\).*logits.shape.*\(2, 3\)"):
        dtf.nn.sparse_softmax_cross_entropy_with_logits(labels=dtf.constant([0, 1, 1]),
                                                        logits=dtf.zeros([2, 3]))
    with pytest.raises(InvalidArgumentError, match=r"sparse_softmax.*int32 or int64.*float32"):
        dtf.nn.sparse_softmax_cross_entropy_with_logits(labels=dtf.constant([0.0, 1.0]),
                                                        logits=dtf.zeros([2, 3]))
    with pytest.raises(ValueError, match="scalars"):
        dtf.nn.sparse_softmax_cross_entropy_with_logits(labels=dtf.constant(0),
                                                        logits=dtf.constant(1.0))


def test_softmax_cross_entropy_errors():
    with pytest.raises(InvalidArgumentError,
                       match=r"softmax_cross_entropy_with_logits.*broadcastable.*\[2, 3\].*"
                             r"\[2, 4\]"):
        dtf.nn.softmax_cross_entropy_with_logits(labels=dtf.zeros([2, 4]),
                                                 logits=dtf.zeros([2, 3]))
    with pytest.raises(InvalidArgumentError, match=r"softmax_cross_entropy.*float32.*float64"):
        dtf.nn.softmax_cross_entropy_with_logits(labels=dtf.zeros([3], dtf.float64),
                                                 logits=dtf.zeros([3]))


def test_sigmoid_cross_entropy_errors():
    with pytest.raises(ValueError, match=r"same shape.*\(2,\) vs \(3,\)"):
        dtf.nn.sigmoid_cross_entropy_with_logits(labels=dtf.zeros([3]), logits=dtf.zeros([2]))
    with pytest.raises(ValueError, match="both labels and logits"):
        dtf.nn.sigmoid_cross_entropy_with_logits(logits=dtf.zeros([2]))
    with pytest.raises(InvalidArgumentError, match=r"sigmoid_cross_entropy.*float64"):
        dtf.nn.sigmoid_cross_entropy_with_logits(labels=dtf.zeros([3], dtf.float64),
                                                 logits=dtf.zeros([3]))


def test_bias_add_errors():
    with pytest.raises(InvalidArgumentError, match=r"bias_add.*as many biases.*\[3\] vs. \[2, 4\]"):
        dtf.nn.bias_add(dtf.zeros([2, 4]), dtf.zeros([3]))
    with pytest.raises(InvalidArgumentError, match=r"bias_add.*1D.*\[1, 4\]"):
        dtf.nn.bias_add(dtf.zeros([2, 4]), dtf.zeros([1, 4]))
    with pytest.raises(InvalidArgumentError, match=r"bias_add.*at least 2D.*\[4\]"):
        dtf.nn.bias_add(dtf.zeros([4]), dtf.zeros([4]))
    with pytest.raises(ValueError, match=r"data_format.*XX"):
        dtf.nn.bias_add(dtf.zeros([2, 3, 4]), dtf.zeros([4]), data_format="XX")
    with pytest.raises(InvalidArgumentError, match=r"bias_add.*float32.*float64"):
        dtf.nn.bias_add(dtf.zeros([2, 3, 4]), dtf.zeros([4], dtf.float64))


def test_l2_loss_and_embedding_lookup():
    assert float(dtf.nn.l2_loss(dtf.constant([1.0, 2.0]))) == 2.5  # TF
    table = dtf.constant([[0.0, 0.0], [3.0, 4.0]])
    close(dtf.nn.embedding_lookup(table, [1, 0, 1], max_norm=1.0),
          [[0.6, 0.8], [0.0, 0.0], [0.6, 0.8]])
    with pytest.raises(InvalidArgumentError, match="embedding_lookup.*float32"):
        dtf.nn.embedding_lookup(table, dtf.constant([1.0]))


def test_l2_normalize_and_moments_errors():
    with pytest.raises(TypeError, match="l2_normalize.*int32"):
        dtf.nn.l2_normalize([3, 4])
    with pytest.raises(InvalidArgumentError, match=r"moments.*axis 5.*rank 2"):
        dtf.nn.moments(dtf.zeros([2, 2]), axes=[5])


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5])
def test_dropout_rate_out_of_range(rate):
    with pytest.raises(ValueError, match=r"dropout.*\[0, 1\).*rate="):
        dtf.nn.dropout(dtf.constant([1.0, 2.0]), rate=rate)


def test_dropout_argument_errors():
    with pytest.raises(ValueError, match=r"dropout.*scalar"):
        dtf.nn.dropout(dtf.constant([1.0, 2.0]), rate=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"dropout.*floating point.*int32"):
        dtf.nn.dropout(dtf.constant([1, 2]), rate=0.5)
    with pytest.raises(InvalidArgumentError, match=r"dropout.*noise_shape \[3\].*\(2,\)"):
        dtf.nn.dropout(dtf.constant([1.0, 2.0]), rate=0.5, noise_shape=[3])
    x = dtf.constant([1.0, 2.0])
    dtf.random.set_seed(5)
    first = dtf.nn.dropout(x, 0.5).numpy()
    dtf.random.set_seed(5)
    with pytest.raises(ValueError):
        dtf.nn.dropout(x, rate=1.0)
    # a failed call draws nothing: the sequence after set_seed is untouched
    np.testing.assert_array_equal(dtf.nn.dropout(x, 0.5).numpy(), first)
    dtf.random.set_seed(None)
