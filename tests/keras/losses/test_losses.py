"""keras.losses: values computed by hand, reductions, sample weights, label smoothing, logits,
extreme inputs, custom losses, configs, get/serialize, errors, symbolic inputs."""

import itertools
import math

import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.compile.symbolic import placeholder
from dtf.errors import InvalidArgumentError
from dtf.keras import losses

Y_TRUE = np.array([[0.0, 1.0], [0.0, 0.0]], np.float32)
Y_PRED = np.array([[1.0, 1.0], [1.0, 0.0]], np.float32)


def value(t):
    return np.asarray(t.numpy())


# -- hand-computed values -----------------------------------------------------------------------
def test_mean_squared_error_value_and_keras_namespace():
    assert keras.losses is losses
    loss = losses.MeanSquaredError()
    assert float(loss(Y_TRUE, Y_PRED)) == pytest.approx(0.5)
    assert loss(Y_TRUE, Y_PRED).dtype == dtf.float32


@pytest.mark.parametrize("reduction, expected", [
    ("sum_over_batch_size", 0.5), ("mean", 0.5), ("sum", 1.0),
    ("mean_with_sample_weight", 0.5), ("none", [0.5, 0.5]), (None, [0.5, 0.5])])
def test_reductions(reduction, expected):
    got = losses.MeanSquaredError(reduction=reduction)(Y_TRUE, Y_PRED)
    np.testing.assert_allclose(value(got), expected)


def test_sample_weight_forms():
    loss = losses.MeanAbsoluteError()
    # per-sample losses [0.5, 0.5]
    assert float(loss(Y_TRUE, Y_PRED, sample_weight=2.0)) == pytest.approx(1.0)
    assert float(loss(Y_TRUE, Y_PRED, sample_weight=[1.0, 0.0])) == pytest.approx(0.25)
    assert float(loss(Y_TRUE, Y_PRED, sample_weight=[[1.0], [0.0]])) == pytest.approx(0.25)
    weighted_mean = losses.MeanAbsoluteError(reduction="mean_with_sample_weight")
    assert float(weighted_mean(Y_TRUE, Y_PRED, sample_weight=[1.0, 0.0])) == pytest.approx(0.5)
    summed = losses.MeanAbsoluteError(reduction="sum")
    assert float(summed(Y_TRUE, Y_PRED, sample_weight=[3.0, 1.0])) == pytest.approx(2.0)


def test_sample_weight_that_does_not_fit_raises():
    with pytest.raises(ValueError, match=r"sample_weight.*\(3,\).*\(2,\)"):
        losses.MeanSquaredError()(Y_TRUE, Y_PRED, sample_weight=[1.0, 2.0, 3.0])


def test_huber_both_branches():
    # errors 0.5 (quadratic) and 3 (linear with delta 1): (0.125 + 2.5) / 2
    assert float(losses.Huber()([[0.0, 0.0]], [[0.5, 3.0]])) == pytest.approx(1.3125)
    assert float(losses.Huber(delta=4.0)([[0.0, 0.0]], [[0.5, 3.0]])) == pytest.approx(
        (0.125 + 4.5) / 2)


def test_mape_msle_logcosh_poisson_kld_cosine():
    assert float(losses.MeanAbsolutePercentageError()([[100.0, 200.0]], [[90.0, 210.0]])) == \
        pytest.approx(7.5)
    assert float(losses.MeanSquaredLogarithmicError()([[np.e - 1]], [[0.0]])) == \
        pytest.approx(1.0, rel=1e-6)
    assert float(losses.LogCosh()([[0.0]], [[1.0]])) == pytest.approx(math.log(math.cosh(1)))
    assert float(losses.Poisson()([[2.0]], [[1.0]])) == pytest.approx(1.0, abs=1e-6)
    assert float(losses.KLDivergence()([[0.5, 0.5]], [[0.25, 0.75]])) == pytest.approx(
        0.5 * math.log(2) + 0.5 * math.log(0.5 / 0.75), rel=1e-6)
    assert float(losses.CosineSimilarity()([[0.0, 1.0]], [[1.0, 1.0]])) == pytest.approx(
        -1 / math.sqrt(2), rel=1e-6)
    # a zero vector gives 0, not nan
    assert float(losses.CosineSimilarity()([[0.0, 0.0]], [[1.0, 1.0]])) == 0.0


def test_hinge_family_converts_01_labels():
    assert float(losses.Hinge()([[1.0, 0.0]], [[0.5, -2.0]])) == pytest.approx(0.25)
    assert float(losses.Hinge()([[1.0, -1.0]], [[0.5, -2.0]])) == pytest.approx(0.25)
    assert float(losses.SquaredHinge()([[1.0, 0.0]], [[0.5, 0.5]])) == pytest.approx(
        (0.25 + 2.25) / 2)
    assert float(losses.CategoricalHinge()([[0.0, 1.0]], [[0.3, 0.6]])) == pytest.approx(0.7)


def test_crossentropies_by_hand():
    p = np.array([[0.2, 0.7, 0.1]], np.float32)
    assert float(losses.CategoricalCrossentropy()([[0.0, 1.0, 0.0]], p)) == pytest.approx(
        -math.log(0.7), rel=1e-6)
    assert float(losses.SparseCategoricalCrossentropy()([1], p)) == pytest.approx(
        -math.log(0.7), rel=1e-6)
    logits = np.log(p)
    assert float(losses.SparseCategoricalCrossentropy(from_logits=True)([1], logits)) == \
        pytest.approx(-math.log(0.7), rel=1e-6)
    assert float(losses.CategoricalCrossentropy(from_logits=True)([[0.0, 1.0, 0.0]],
                                                                  logits)) == \
        pytest.approx(-math.log(0.7), rel=1e-6)
    bce = -(math.log(0.8) + math.log(0.6)) / 2
    assert float(losses.BinaryCrossentropy()([[1.0, 0.0]], [[0.8, 0.4]])) == pytest.approx(
        bce, rel=1e-6)
    logit = lambda q: math.log(q / (1 - q))
    assert float(losses.BinaryCrossentropy(from_logits=True)(
        [[1.0, 0.0]], [[logit(0.8), logit(0.4)]])) == pytest.approx(bce, rel=1e-5)


def test_label_smoothing():
    # binary: targets 1 -> 1 - ls/2, 0 -> ls/2
    ls = 0.2
    expected = -(0.9 * math.log(0.8) + 0.1 * math.log(0.2))
    assert float(losses.BinaryCrossentropy(label_smoothing=ls)([[1.0]], [[0.8]])) == \
        pytest.approx(expected, rel=1e-6)
    # categorical: one-hot -> (1 - ls) * y + ls / classes
    p = np.array([[0.2, 0.7, 0.1]])
    t = np.array([0.0, 1.0, 0.0]) * (1 - ls) + ls / 3
    assert float(losses.CategoricalCrossentropy(label_smoothing=ls)([[0.0, 1.0, 0.0]], p)) == \
        pytest.approx(-np.sum(t * np.log(p)), rel=1e-6)


def test_probabilities_are_clipped_to_epsilon():
    eps = keras.backend.epsilon()
    got = float(losses.CategoricalCrossentropy()([[1.0, 0.0]], [[0.0, 1.0]]))
    assert got == pytest.approx(-math.log(eps), rel=1e-4)
    got = float(losses.BinaryCrossentropy()([[1.0]], [[0.0]]))
    assert got == pytest.approx(-math.log(eps), rel=1e-3)


def test_ignore_class_leaves_entries_out_of_the_mean():
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1)
    probs = np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]], np.float32)
    expected = -(math.log(0.8) + math.log(0.9)) / 2
    assert float(loss([1, -1, 0], probs)) == pytest.approx(expected, rel=1e-5)
    per_sample = losses.SparseCategoricalCrossentropy(ignore_class=-1, reduction="none")(
        [1, -1, 0], probs)
    assert value(per_sample)[1] == 0.0


# -- logits: stable at the extremes -------------------------------------------------------------
EXTREME = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 500.0]], np.float32)


@pytest.mark.parametrize("loss_fn, y_true", [
    (losses.SparseCategoricalCrossentropy(from_logits=True), np.array([1, 0])),
    (losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none"),
     np.array([1, 0])),
    (losses.CategoricalCrossentropy(from_logits=True), np.eye(3, dtype=np.float32)[[1, 0]]),
    (losses.BinaryCrossentropy(from_logits=True), np.array([[1, 0, 1], [0, 1, 1]], np.float32)),
    (losses.BinaryFocalCrossentropy(from_logits=True),
     np.array([[1, 0, 1], [0, 1, 1]], np.float32)),
])
def test_extreme_logits_give_finite_loss_and_gradient(loss_fn, y_true):
    x = dtf.constant(EXTREME)
    with dtf.GradientTape() as tape:
        tape.watch(x)
        loss = loss_fn(y_true, x)
    grad = tape.gradient(loss, x)
    assert np.all(np.isfinite(value(loss)))
    assert np.all(np.isfinite(value(grad)))


def test_extreme_logits_values():
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
    np.testing.assert_allclose(value(loss([1, 0], EXTREME)), [2000.0, 2000.0])
    np.testing.assert_allclose(value(loss([0, 1], EXTREME)), [0.0, 0.0], atol=1e-6)


# -- the fused hot path -------------------------------------------------------------------------
@pytest.mark.parametrize("labels", [
    np.array([3, 0, 2, 1, 1], np.int32), np.array([3, 0, 2, 1, 1], np.int64),
    np.array([3, 0, 2, 1, 1], np.uint8), np.array([[3], [0], [2], [1], [1]], np.int32)])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean"])
def test_fused_path_equals_the_general_one(labels, reduction):
    logits = dtf.constant(np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32))
    y = dtf.constant(labels)
    fused = losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)
    general = losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)
    assert fused._fusable
    with dtf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        a = fused(y, logits)
        # sample weights of one take the general path
        b = general(y, logits, sample_weight=np.ones(5, np.float32))
    assert float(a) == pytest.approx(float(b), rel=1e-6)
    np.testing.assert_allclose(value(tape.gradient(a, logits)),
                               value(tape.gradient(b, logits)), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("labels", [
    np.array([3, 0, 2], np.int64), np.array([3.0, 0.0, 2.0], np.float32), [3, 0, 2],
    dtf.constant([3.0, 0.0, 2.0])])
def test_fused_path_takes_arrays_and_float_labels(labels, monkeypatch):
    from dtf.keras.losses import _fused

    calls = []
    original = _fused.sparse_xent_reduce
    monkeypatch.setattr(_fused, "sparse_xent_reduce",
                        lambda *args: calls.append(1) or original(*args))
    logits = dtf.constant(np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32))
    got = float(losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits))
    expected = float(losses.sparse_categorical_crossentropy(
        np.array([3, 0, 2]), logits, from_logits=True).numpy().mean())
    assert got == pytest.approx(expected, rel=1e-6)
    assert calls == ([] if isinstance(labels, list) else [1])


def test_fused_path_checks_labels():
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    with pytest.raises(InvalidArgumentError, match=r"label value of 7.*\[0, 4\)"):
        loss(dtf.constant([1, 7]), dtf.zeros([2, 4]))
    with pytest.raises(InvalidArgumentError, match=r"label value of -1"):
        loss(dtf.constant([1, -1]), dtf.zeros([2, 4]))


# -- errors ---------------------------------------------------------------------------------
def test_mismatched_shapes_name_the_loss_and_both_shapes():
    with pytest.raises(ValueError, match=r"MeanSquaredError.*y_true.shape=\(2, 3\).*"
                                         r"y_pred.shape=\(2, 2\)"):
        losses.MeanSquaredError()(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"SparseCategoricalCrossentropy.*\(3,\).*\(2, 4\)"):
        losses.SparseCategoricalCrossentropy(from_logits=True)(
            dtf.constant([0, 1, 2]), dtf.zeros([2, 4]))
    with pytest.raises(ValueError, match=r"my_cce.*same shape"):
        losses.CategoricalCrossentropy(name="my_cce")(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"BinaryCrossentropy.*same rank"):
        losses.BinaryCrossentropy()(np.zeros((2, 3)), np.zeros((2, 3, 1, 1)))
    with pytest.raises(ValueError, match=r"mean_absolute_error: .*\(4,\).*\(3,\)"):
        losses.mean_absolute_error(np.zeros(4), np.zeros(3))


def test_bad_arguments():
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="average")
    with pytest.raises(ValueError, match="only axis=-1"):
        losses.SparseCategoricalCrossentropy(axis=0)([0, 1], np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="axis"):
        losses.categorical_crossentropy([[1.0]], [[1.0]], axis=True)
    with pytest.raises(ValueError, match="floating"):
        losses.MeanSquaredError(dtype="int32")
    with pytest.raises(ValueError, match="Could not interpret loss identifier: 'msee'"):
        losses.get("msee")


def test_one_class_categorical_warns():
    with pytest.warns(SyntaxWarning, match="binary_crossentropy"):
        losses.categorical_crossentropy([[1.0]], [[0.5]])


# -- dtypes -----------------------------------------------------------------------------------
def test_dtype_conversion_as_keras():
    y64 = np.array([[1.0, 2.0]]), np.array([[1.5, 2.0]])
    assert losses.MeanSquaredError()(*y64).dtype == dtf.float32  # cast to the loss's dtype
    assert losses.MeanSquaredError(dtype="float64")(*y64).dtype == dtf.float64
    assert losses.MeanSquaredError(dtype=dtf.float64).dtype == "float64"
    assert losses.mean_squared_error(dtf.constant(y64[0]), dtf.constant(y64[1])).dtype == \
        dtf.float64  # function forms keep y_pred's dtype
    # integer targets are converted to y_pred's dtype
    assert float(losses.MeanSquaredError()(np.array([[1, 2]]), [[1.0, 4.0]])) == 2.0
    assert float(losses.mean_absolute_error(np.array([[1, 2]]), np.array([[1, 4]]))) == 1.0


def test_rank_matching():
    loss = losses.MeanSquaredError(reduction="none")
    assert value(loss(np.zeros(3), np.ones((3, 1)))).shape == (3,)
    assert value(loss(np.zeros((3, 1)), np.ones(3))).shape == (3,)


# -- custom losses ----------------------------------------------------------------------------
class MeanCube(losses.Loss):
    def call(self, y_true, y_pred):
        return dtf.reduce_mean((y_pred - y_true) ** 3, axis=-1)


def test_loss_subclass():
    loss = MeanCube()
    assert loss.name.startswith("mean_cube")
    assert float(loss([[0.0, 0.0]], [[1.0, 2.0]])) == 4.5
    assert float(MeanCube(reduction="sum")([[0.0], [0.0]], [[1.0], [2.0]])) == 9.0
    assert value(MeanCube(reduction=None)([[0.0], [0.0]], [[1.0], [2.0]])).tolist() == [1, 8]
    assert MeanCube.from_config(loss.get_config()).name == loss.name


def test_unimplemented_call_says_so():
    with pytest.raises(NotImplementedError, match="call"):
        losses.Loss()([1.0], [1.0])


def test_auto_names_are_unique():
    a, b = MeanCube(), MeanCube()
    assert a.name != b.name


def test_loss_function_wrapper_and_custom_function():
    def mean_fourth(y_true, y_pred, scale=1.0):
        return scale * dtf.reduce_mean((y_pred - y_true) ** 4, axis=-1)

    loss = losses.LossFunctionWrapper(mean_fourth, scale=2.0)
    assert float(loss([[0.0]], [[2.0]])) == 32.0
    assert loss.name.startswith("loss_function_wrapper")
    config = loss.get_config()
    assert config["scale"] == 2.0
    with keras.saving.custom_object_scope({"mean_fourth": mean_fourth}):
        again = losses.LossFunctionWrapper.from_config(config)
    assert float(again([[0.0]], [[2.0]])) == 32.0


# -- get / serialize / deserialize --------------------------------------------------------------
def test_get():
    assert losses.get(None) is None
    assert losses.get("mse") is losses.mean_squared_error
    assert losses.get("categorical_crossentropy") is losses.categorical_crossentropy
    assert isinstance(losses.get("CategoricalCrossentropy"), losses.CategoricalCrossentropy)
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    fn = losses.get({"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}})
    assert fn.from_logits is True
    loss = losses.Hinge()
    assert losses.get(loss) is loss
    assert losses.mse is losses.MSE is losses.mean_squared_error
    assert losses.kld is losses.kullback_leibler_divergence is losses.kl_divergence


@pytest.mark.parametrize("loss", [
    losses.MeanSquaredError(), losses.MeanAbsoluteError(reduction="sum"),
    losses.Huber(delta=2.5), losses.CosineSimilarity(axis=0),
    losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
    losses.BinaryFocalCrossentropy(gamma=3.0, apply_class_balancing=True),
    losses.CategoricalCrossentropy(label_smoothing=0.2, axis=-1),
    losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0, name="scce"),
    losses.KLDivergence(), losses.Poisson(), losses.Hinge(), losses.LogCosh(),
])
def test_serialize_round_trip(loss):
    config = losses.serialize(loss)
    assert config["module"] == "keras.losses"
    assert config["class_name"] == type(loss).__name__
    again = losses.deserialize(config)
    assert type(again) is type(loss)
    assert again.get_config() == loss.get_config()


def test_serialize_function_and_keras_config():
    assert losses.deserialize(losses.serialize(losses.mean_squared_error)) is \
        losses.mean_squared_error
    assert losses.deserialize("mse") is losses.mean_squared_error
    config = losses.SparseCategoricalCrossentropy(from_logits=True).get_config()
    assert config == {"name": "sparse_categorical_crossentropy",
                      "reduction": "sum_over_batch_size", "from_logits": True,
                      "ignore_class": None}


# -- symbolic tensors ---------------------------------------------------------------------------
def test_losses_build_graphs_on_symbolic_tensors():
    y_pred = placeholder((None, 4), dtf.float32)
    y_true = placeholder((None,), dtf.int32)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)(y_true, y_pred)
    assert getattr(loss, "_is_symbolic", False)
    assert loss.shape.rank == 0
    mse = losses.MeanSquaredError()(placeholder((None, 3)), placeholder((None, 3)))
    assert mse.shape.rank == 0 and mse.dtype == dtf.float32
    fixed = losses.SparseCategoricalCrossentropy(from_logits=True)(
        placeholder((8,), dtf.int64), placeholder((8, 4)))
    assert fixed.node.prim.name == "sparse_xent_reduce"


def test_seed_style_training_loop_loss_falls():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    w = dtf.Variable(np.zeros((5, 3), np.float32))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    history = []
    for _ in range(30):
        with dtf.GradientTape() as tape:
            loss = loss_fn(y, dtf.matmul(x, w))
        w.assign_sub(0.5 * tape.gradient(loss, w))
        history.append(float(loss))
    assert history[0] == pytest.approx(math.log(3), rel=1e-6)
    assert history[-1] < 0.75 * history[0]
    assert all(b <= a + 1e-6 for a, b in itertools.pairwise(history))
