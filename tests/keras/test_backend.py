"""keras.backend: configuration, clear_session, and the Keras 2 functions (values against
the Keras 2 backend of TensorFlow 2, recorded in fixtures/basics_reference.json)."""

import json
import pathlib

import numpy as np
import pytest

import dtf
from dtf.keras import backend as K
from dtf.testing.gradcheck import check_gradients

DATA = json.loads((pathlib.Path(__file__).parent / "fixtures" /
                   "basics_reference.json").read_text())
REFERENCE = DATA["backend"]
X = np.array(DATA["X"], dtype=np.float32)
W = np.array(DATA["W"], dtype=np.float32)


def check(result, key, rtol=1e-6):
    np.testing.assert_allclose(np.asarray(result, dtype=np.float64), REFERENCE[key], rtol=rtol,
                               atol=1e-6, err_msg=key)


def test_seed_003_square_transpose():
    t = dtf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert repr(K.square(K.transpose(t))) == (
        "<dtf.Tensor: shape=(3, 2), dtype=float32, numpy=\n"
        "array([[ 1., 16.],\n"
        "       [ 4., 25.],\n"
        "       [ 9., 36.]], dtype=float32)>")
    check(K.square(K.transpose(dtf.constant(W))), "square_transpose")


def test_configuration():
    assert K.epsilon() == REFERENCE["epsilon"]
    assert K.floatx() == REFERENCE["floatx"]
    assert K.image_data_format() == REFERENCE["image_data_format"]
    try:
        K.set_epsilon(1e-5)
        assert K.epsilon() == 1e-5
        K.set_floatx("float64")
        assert K.floatx() == "float64"
        assert K.constant(1.0).dtype == dtf.float64
        assert K.variable([1, 2]).dtype == dtf.float64
        K.set_image_data_format("channels_first")
        assert K.image_data_format() == "channels_first"
    finally:
        K.set_epsilon(1e-7)
        K.set_floatx("float32")
        K.set_image_data_format("channels_last")
    with pytest.raises(ValueError, match="floatx"):
        K.set_floatx("int32")
    with pytest.raises(ValueError, match="data_format"):
        K.set_image_data_format("nhwc")
    assert K.backend() == "tensorflow"
    assert K.standardize_dtype(None) == "float32" and K.standardize_dtype(dtf.int64) == "int64"
    assert K.is_float_dtype("float16") and not K.is_float_dtype("int32")
    assert K.is_int_dtype(dtf.uint8)


def test_clear_session_resets_names_uids_and_hooks():
    calls = []
    K._clear_session_hooks.append(lambda: calls.append(1))
    try:
        K.clear_session()
        assert dtf.Variable(1.0).name == "Variable:0"
        assert K.get_uid("dense") == 1 and K.get_uid("dense") == 2 and K.get_uid("conv") == 1
        K.clear_session(free_memory=False)
        assert dtf.Variable(1.0).name == "Variable:0"
        assert K.get_uid("dense") == 1
        assert calls == [1, 1]
    finally:
        K._clear_session_hooks.pop()


def test_learning_phase():
    assert K.learning_phase() == 0
    K.set_learning_phase(1)
    try:
        assert K.learning_phase() == 1
    finally:
        K.clear_session()
    assert K.learning_phase() == 0
    with pytest.raises(ValueError, match="0 or 1"):
        K.set_learning_phase(2)


@pytest.mark.parametrize("make", [dtf.constant, dtf.Variable, np.asarray])
def test_functions_take_tensors_variables_and_arrays(make):
    x = make(W)
    check(K.sqrt(x), "sqrt")
    assert float(K.std(x)) == pytest.approx(REFERENCE["std"], rel=1e-6)
    check(K.var(x, axis=0), "var_axis0")
    check(K.mean(x, axis=1, keepdims=True), "mean_axis1_keepdims")
    check(K.softmax(x), "softmax")
    assert K.int_shape(x) == tuple(REFERENCE["int_shape"])
    assert K.ndim(x) == 2 and K.dtype(x) == "float32" and K.count_params(x) == 12
    assert float(K.sum(x)) == pytest.approx(float(W.sum()), rel=1e-6)
    assert float(K.max(x)) == 3.0 and float(K.min(x)) == -2.0
    assert K.shape(x).numpy().tolist() == [4, 3]


def test_products():
    a = dtf.reshape(dtf.range(24.0), (2, 3, 4))
    b = dtf.reshape(dtf.range(40.0), (2, 4, 5))
    check(K.dot(a, b), "dot_3d")
    check(K.batch_dot(a, b), "batch_dot_default")
    check(K.batch_dot(dtf.reshape(dtf.range(12.0), (2, 3, 2)),
                      dtf.reshape(dtf.range(30.0), (2, 5, 3)), axes=(1, 2)),
          "batch_dot_axes_1_2")
    check(K.batch_dot(dtf.reshape(dtf.range(6.0), (2, 3)),
                      dtf.reshape(dtf.range(6.0, 12.0), (2, 3))), "batch_dot_matrices")
    check(K.batch_dot(a, dtf.reshape(dtf.range(8.0), (2, 4))), "batch_dot_3d_2d")
    assert K.dot(dtf.ones((2, 3)), dtf.ones((3, 4))).shape == (2, 4)
    with pytest.raises(ValueError, match="axis 0"):
        K.batch_dot(a, b, axes=(0, 1))
    with pytest.raises(ValueError, match="different batch sizes"):
        K.batch_dot(dtf.ones((2, 3)), dtf.ones((3, 3)))
    with pytest.raises(ValueError, match=r"x.shape\[2\] != y.shape\[1\] \(4 != 3\)"):
        K.batch_dot(a, dtf.ones((2, 3, 5)))


def test_activations_and_losses():
    x = dtf.constant(X)
    check(K.relu(x, alpha=0.3, max_value=3.0, threshold=0.5), "relu_opts")
    check(K.hard_sigmoid(x), "hard_sigmoid")
    check(K.elu(x, alpha=0.5), "elu_alpha")
    check(K.clip(dtf.constant(W), 1.0, 0.5), "clip_swapped")
    check(K.binary_crossentropy(dtf.constant([[0.0, 1.0, 1.0]]),
                                dtf.constant([[0.1, 0.8, 1.0]])), "binary_crossentropy")
    check(K.binary_crossentropy(dtf.constant([[0.0, 1.0, 1.0]]),
                                dtf.constant([[-1.0, 2.0, 30.0]]), from_logits=True),
          "binary_crossentropy_logits")
    check(K.categorical_crossentropy(dtf.constant([[0.0, 1.0, 0.0]]),
                                     dtf.constant([[0.2, 0.5, 0.3]])),
          "categorical_crossentropy")
    check(K.categorical_crossentropy(dtf.constant([[0.0, 1.0, 0.0]]),
                                     dtf.constant([[1.0, 2.0, -1.0]]), from_logits=True),
          "categorical_crossentropy_logits")
    check(K.sparse_categorical_crossentropy(dtf.constant([1, 2]),
                                            dtf.constant([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]])),
          "sparse_categorical_crossentropy")
    check(K.sparse_categorical_crossentropy(
        dtf.constant([[1, 0]]), dtf.constant([[[1.0, 2.0, 0.0], [0.5, 0.1, 0.2]]]),
        from_logits=True), "sparse_categorical_crossentropy_3d")
    check(K.sparse_categorical_crossentropy(
        dtf.constant([1, 0]), dtf.constant([[1.0, 2.0], [0.5, 0.1], [3.0, 0.2]]),
        from_logits=True, axis=0), "sparse_categorical_crossentropy_axis0")
    ignored = K.sparse_categorical_crossentropy(dtf.constant([1, -1]), dtf.constant(
        [[1.0, 2.0], [0.5, 0.1]]), from_logits=True, ignore_class=-1)
    assert ignored.numpy()[1] == 0.0 and ignored.numpy()[0] > 0
    with pytest.raises(ValueError, match="same shape"):
        K.categorical_crossentropy(dtf.ones((2, 3)), dtf.ones((2, 4)))
    with pytest.raises(ValueError, match="1D"):
        K.softmax(dtf.ones((3,)))


def test_gradients_flow():
    a = np.array([[0.3, -1.2, 0.7], [1.1, 0.4, -0.9]])
    check_gradients(lambda t: K.sum(K.square(K.transpose(t))), [a])
    check_gradients(lambda t: K.batch_dot(t, t, axes=1), [a])
    check_gradients(lambda t: K.relu(t, alpha=0.2, max_value=1.0), [a])
    check_gradients(lambda t: K.std(t, axis=1), [a])


def test_shapes_and_structure():
    x = dtf.reshape(dtf.range(6.0), (2, 3))
    assert K.flatten(x).shape == (6,)
    assert K.batch_flatten(dtf.ones((2, 3, 4))).shape == (2, 12)
    assert K.expand_dims(x).shape == (2, 3, 1)
    assert K.squeeze(dtf.ones((2, 1, 3)), 1).shape == (2, 3)
    assert K.concatenate([x, x]).shape == (2, 6)
    assert K.concatenate([x, x], axis=0).shape == (4, 3)
    assert K.stack([x, x], axis=1).shape == (2, 2, 3)
    assert K.permute_dimensions(dtf.ones((2, 3, 4)), (2, 0, 1)).shape == (4, 2, 3)
    assert K.reshape(x, (3, 2)).shape == (3, 2)
    assert K.tile(dtf.ones((2,)), 3).shape == (6,)
    check(K.repeat(dtf.constant([[1.0, 2.0]]), 3), "repeat")
    assert K.repeat_elements(x, 2, axis=1).numpy().tolist()[0] == [0, 0, 1, 1, 2, 2]
    assert K.reverse(x, 1).numpy().tolist()[0] == [2.0, 1.0, 0.0]
    assert K.one_hot(dtf.constant([0, 2]), 3).numpy().tolist() == [[1, 0, 0], [0, 0, 1]]
    assert K.gather(x, [1]).numpy().tolist() == [[3.0, 4.0, 5.0]]
    assert K.temporal_padding(dtf.ones((1, 2, 1)), (1, 2)).shape == (1, 5, 1)
    assert K.spatial_2d_padding(dtf.ones((1, 2, 2, 1))).shape == (1, 4, 4, 1)
    assert K.spatial_2d_padding(dtf.ones((1, 1, 2, 2)), data_format="channels_first").shape \
        == (1, 1, 4, 4)
    assert K.spatial_3d_padding(dtf.ones((1, 2, 2, 2, 1))).shape == (1, 4, 4, 4, 1)
    assert K.bias_add(dtf.ones((2, 3)), dtf.constant([1.0, 2.0, 3.0])).numpy().tolist() == \
        [[2.0, 3.0, 4.0]] * 2
    assert K.bias_add(dtf.ones((1, 2, 2, 2)), dtf.constant([1.0, 2.0]),
                      data_format="channels_first").numpy()[0, 1, 0, 0] == 3.0
    assert K.arange(-3).numpy().tolist() == []
    assert K.arange(1, 7, 2, dtype="float32").numpy().tolist() == [1.0, 3.0, 5.0]
    check(K.in_top_k(dtf.constant([[0.1, 0.5, 0.5, 0.2], [0.9, 0.1, 0.3, 0.4]]),
                     dtf.constant([2, 3]), 1), "in_top_k")


def test_switch():
    assert K.switch(dtf.constant(True), lambda: 1.0, lambda: 1 / 0) == 1.0
    out = K.switch(dtf.constant([True, False]), dtf.ones((2, 2)), dtf.zeros((2, 2)))
    assert out.numpy().tolist() == [[1, 1], [0, 0]]


def test_variables_and_values():
    v = K.variable([[1.0, 2.0]], name="kv")
    assert isinstance(v, dtf.Variable) and v.dtype == dtf.float32 and v.name == "kv:0"
    assert K.get_value(v).tolist() == [[1.0, 2.0]]
    assert K.eval(K.constant(3)).tolist() == 3.0
    K.set_value(v, [[5, 6]])
    assert K.batch_get_value([v])[0].tolist() == [[5.0, 6.0]]
    K.batch_set_value([(v, np.zeros((1, 2)))])
    assert v.numpy().tolist() == [[0.0, 0.0]]
    K.update_add(v, dtf.ones((1, 2)))
    K.update_sub(v, 0.5 * dtf.ones((1, 2)))
    assert v.numpy().tolist() == [[0.5, 0.5]]
    K.update(v, dtf.constant([[1.0, 3.0]]))
    K.moving_average_update(v, dtf.constant([[3.0, 3.0]]), 0.5)
    assert v.numpy().tolist() == [[2.0, 3.0]]
    assert isinstance(K.zeros((2, 2)), dtf.Variable) and isinstance(K.ones((2,)), dtf.Variable)
    assert K.eye(2).numpy().tolist() == [[1, 0], [0, 1]]
    assert K.zeros_like(v).shape == (1, 2) and K.ones_like(v).dtype == dtf.float32
    assert K.cast_to_floatx([1, 2]).dtype == np.float32
    assert K.cast_to_floatx(dtf.constant([1, 2])).dtype == dtf.float32
    assert not K.is_sparse(v) and K.to_dense(v) is v


def test_random():
    dtf.random.set_seed(7)
    a = K.random_normal((1000,), mean=1.0, stddev=2.0)
    b = K.random_uniform((1000,), minval=-1.0, maxval=1.0)
    dtf.random.set_seed(7)
    np.testing.assert_array_equal(K.random_normal((1000,), mean=1.0, stddev=2.0).numpy(),
                                  a.numpy())
    dtf.random.set_seed(None)
    assert abs(float(dtf.reduce_mean(a)) - 1.0) < 0.3
    assert float(dtf.reduce_max(dtf.abs(b))) <= 1.0
    assert float(dtf.reduce_max(dtf.abs(K.truncated_normal((500,))))) <= 2.0
    bern = K.random_bernoulli((2000,), p=0.25).numpy()
    assert set(np.unique(bern).tolist()) <= {0.0, 1.0} and 0.2 < bern.mean() < 0.3
    assert K.random_normal((2, 3), dtype="float64").dtype == dtf.float64
    assert isinstance(K.random_uniform_variable((2,), 0, 1), dtf.Variable)
    assert isinstance(K.random_normal_variable((2,), 0, 1), dtf.Variable)
    assert K.dropout(dtf.ones((10,)), 0.5, seed=1).shape == (10,)


def test_seed_004_sampling_shape_from_tensors():
    z_mean = dtf.zeros((3, 4))
    batch, dim = dtf.shape(z_mean)[0], dtf.shape(z_mean)[1]
    assert K.random_normal(shape=(batch, dim)).shape == (3, 4)


def test_symbolic_inputs_stay_symbolic():
    from dtf.compile.symbolic import placeholder

    x = placeholder((None, 3))
    assert K.is_keras_tensor(x) and not K.is_keras_tensor(dtf.ones(2))
    assert K.int_shape(x) == (None, 3) and K.ndim(x) == 2
    assert K.square(K.transpose(x)).shape.as_list() == [3, None]
    assert K.mean(K.dot(x, dtf.ones((3, 2))), axis=1).shape.as_list() == [None]
    assert K.random_normal(shape=(K.shape(x)[0], 3)).shape.as_list() == [None, 3]
    with pytest.raises(ValueError, match="symbolic"):
        K.get_value(x)
