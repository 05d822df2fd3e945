"""keras.metrics: the Metric protocol (Keras 3 and Keras 2 spellings), custom metrics, values
by hand, sample weights, get/serialize/deserialize, errors."""

import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.keras import metrics


def value(t):
    return np.asarray(t.numpy())


# -- the protocol -----------------------------------------------------------------------------
class BinaryTruePositives(metrics.Metric):
    """The Keras 2 guide's custom metric, written as there."""

    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_weight(name="tp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = dtf.cast(y_true, dtf.bool)
        y_pred = dtf.cast(y_pred, dtf.bool)
        values = dtf.cast(dtf.logical_and(dtf.equal(y_true, True), dtf.equal(y_pred, True)),
                          self.dtype)
        if sample_weight is not None:
            values = values * dtf.cast(sample_weight, self.dtype)
        self.true_positives.assign_add(dtf.reduce_sum(values))

    def result(self):
        return self.true_positives


def test_keras2_style_custom_metric():
    m = BinaryTruePositives()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    assert float(m.result()) == 2.0
    assert float(m([1, 1], [1, 1], sample_weight=[0.5, 0.5])) == 3.0
    (v,) = m.variables
    assert not v.trainable and v.name == "tp:0" and v.dtype == dtf.float32
    assert m.weights == m.variables and m.trainable_weights == []
    m.reset_states()
    assert float(m.result()) == 0.0
    m.update_state([1], [1])
    m.reset_state()
    assert float(m.result()) == 0.0


class Counter(metrics.Metric):
    """Keras 3's spelling: add_variable(shape, initializer, ...)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.counts = self.add_variable((3,), keras.initializers.Constant(1.0), name="counts")
        self.ones = self.add_weight((2,), initializer="ones", dtype="int32", name="ones")
        self.spare = self.add_weight("spare", (), "sum")  # Keras 2's positional order
        self.inner = metrics.Mean(name="inner_mean")

    def update_state(self, index):
        self.counts.assign_add(dtf.one_hot(index, 3, dtype=self.dtype))
        self.inner.update_state(float(index))

    def result(self):
        return self.counts.read_value()


def test_keras3_style_variables_and_nested_metrics():
    m = Counter(dtype="float64")
    assert m.name.startswith("counter") and m.dtype == "float64"
    assert value(m.counts).tolist() == [1.0, 1.0, 1.0] and m.counts.dtype == dtf.float64
    assert m.ones.dtype == dtf.int32 and value(m.ones).tolist() == [1, 1]
    m.update_state(2)
    assert value(m.result()).tolist() == [1.0, 1.0, 2.0]
    names = [v.name for v in m.variables]
    assert names == ["counts:0", "ones:0", "spare:0", "total:0", "count:0"]  # own, then the inner Mean's
    m.reset_state()  # every variable, the inner metric's included, to zeros
    assert value(m.result()).tolist() == [0.0, 0.0, 0.0]
    assert float(m.inner.count) == 0.0


def test_variables_assigned_as_attributes_are_state():
    class Total(metrics.Metric):
        def __init__(self):
            super().__init__(name="total_metric")
            self.total = dtf.Variable(0.0, trainable=False, name="total")

        def update_state(self, values):
            self.total.assign_add(dtf.reduce_sum(dtf.constant(values)))

        def result(self):
            return self.total.read_value()

    m = Total()
    assert [v.name for v in m.variables] == ["total:0"]
    assert float(m([1.0, 2.0])) == 3.0
    m.reset_state()
    assert float(m.result()) == 0.0


def test_sparse_crossentropy_metric_ignore_class_leaves_entries_out():
    # the mean is over the entries that count, with or without weights (Keras 3 counts the
    # ignored entries when no sample_weight is given, against its documentation)
    m = metrics.SparseCategoricalCrossentropy(ignore_class=-1)
    probs = np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]], np.float32)
    m.update_state([1, -1, 0], probs)
    assert float(m.count) == 2.0
    assert float(m.result()) == pytest.approx(-(np.log(0.8) + np.log(0.9)) / 2, rel=1e-5)


def test_forgetting_super_init_is_explained():
    class Broken(metrics.Metric):
        def __init__(self):
            pass

    with pytest.raises(RuntimeError, match="super"):
        Broken().add_variable((), "zeros")


def test_unimplemented_methods_say_what_to_write():
    m = metrics.Metric(name="bare")
    with pytest.raises(NotImplementedError, match="update_state"):
        m.update_state(1.0)
    with pytest.raises(NotImplementedError, match="result"):
        m.result()


def test_auto_names():
    assert metrics.Mean().name == "mean"  # built-ins pass their names
    a, b = metrics.Precision(), metrics.Precision()
    assert a.name.startswith("precision") and a.name != b.name
    assert repr(metrics.Mean()) == "<Mean name=mean>"


# -- reducing metrics ---------------------------------------------------------------------------
def test_mean_and_sum_by_hand():
    m = metrics.Mean()
    m.update_state([1.0, 3.0, 5.0, 7.0])
    assert float(m.result()) == 4.0 and float(m.count) == 4.0
    m.update_state([[10.0, 20.0]])  # one sample: its mean
    assert float(m.result()) == pytest.approx(31.0 / 5)
    m.update_state(2.0, sample_weight=0.0)
    assert float(m.result()) == pytest.approx(31.0 / 5)
    s = metrics.Sum()
    s.update_state([1.0, 2.0], sample_weight=[2.0, 0.5])
    assert float(s.result()) == 3.0
    empty = metrics.Mean()
    assert float(empty.result()) == 0.0  # no division by zero


def test_mean_metric_wrapper_with_a_custom_function():
    def absolute_error(y_true, y_pred):
        return dtf.abs(dtf.constant(y_true) - dtf.constant(y_pred))

    m = metrics.MeanMetricWrapper(absolute_error, name="abs_err")
    m.update_state([[0.0, 1.0]], [[1.0, 1.0]])
    assert float(m.result()) == 0.5
    config = m.get_config()
    assert config["name"] == "abs_err"
    with keras.saving.custom_object_scope({"absolute_error": absolute_error}):
        again = metrics.deserialize(metrics.serialize(m))
    assert again._fn is absolute_error


def test_seed_004_accuracy_loop_idioms():
    accuracy = keras.metrics.SparseCategoricalAccuracy()
    logits = dtf.constant([[0.1, 2.0], [3.0, 0.0], [0.0, 1.0]])
    accuracy.update_state(dtf.constant(np.array([1, 0, 0], np.uint8)), logits)
    line = "Total running accuracy so far: %.3f" % accuracy.result()  # noqa: UP031 (the seed)
    assert line == "Total running accuracy so far: 0.667"
    accuracy.reset_states()
    assert float(accuracy.result()) == 0.0


def test_sparse_categorical_accuracy_paths_agree():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(16, 5)).astype(np.float32)
    labels = rng.integers(0, 5, size=16)
    fast, general = metrics.SparseCategoricalAccuracy(), metrics.SparseCategoricalAccuracy()
    fast.update_state(dtf.constant(labels), dtf.constant(scores))
    general.update_state(labels[:, None], scores, sample_weight=np.ones(16))
    expected = np.mean(np.argmax(scores, -1) == labels)
    assert float(fast.result()) == pytest.approx(expected)
    assert float(general.result()) == pytest.approx(expected)


# -- values by hand ---------------------------------------------------------------------------
def test_accuracies_by_hand():
    assert float(metrics.Accuracy()([[1], [2], [3], [4]], [[0], [2], [3], [4]])) == 0.75
    assert float(metrics.BinaryAccuracy()([[1], [1], [0], [0]],
                                          [[0.98], [1], [0], [0.6]])) == 0.75
    assert float(metrics.BinaryAccuracy(threshold=0.7)([[1], [0]], [[0.6], [0.6]])) == 0.5
    assert float(metrics.CategoricalAccuracy()([[0, 0, 1], [0, 1, 0]],
                                               [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])) == 0.5
    assert float(metrics.TopKCategoricalAccuracy(k=2)([[0, 0, 1], [0, 1, 0]],
                                                      [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])) == 1
    m = metrics.SparseTopKCategoricalAccuracy(k=1)
    assert float(m([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])) == \
        pytest.approx(0.3)
    sorted_ids = metrics.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True)
    assert float(sorted_ids([2, 0], [[1, 2, 0], [2, 1, 0]])) == 0.5


def test_confusion_counts_by_hand():
    y_true, y_pred = [0, 1, 1, 1, 0], [0.9, 0.2, 0.6, 0.8, 0.1]
    assert float(metrics.TruePositives()(y_true, y_pred)) == 2
    assert float(metrics.FalsePositives()(y_true, y_pred)) == 1
    assert float(metrics.TrueNegatives()(y_true, y_pred)) == 1
    assert float(metrics.FalseNegatives()(y_true, y_pred)) == 1
    counts = metrics.TruePositives(thresholds=[0.0, 0.5, 0.7])(y_true, y_pred)
    assert value(counts).tolist() == [3.0, 2.0, 1.0]
    assert float(metrics.Precision()(y_true, y_pred)) == pytest.approx(2 / 3)
    assert float(metrics.Recall()(y_true, y_pred)) == pytest.approx(2 / 3)
    weighted = metrics.Precision()(y_true, y_pred, sample_weight=[3, 1, 1, 1, 1])
    assert float(weighted) == pytest.approx(2 / 5)
    # class_id and top_k on multi-class scores
    y_true = [[0, 0, 1], [0, 1, 0]]
    y_pred = [[0.2, 0.6, 0.7], [0.2, 0.6, 0.6]]
    assert float(metrics.Precision(class_id=2)(y_true, y_pred)) == 0.5
    # top_k=1: the tie 0.6/0.6 goes to the first index, class 1
    assert float(metrics.Recall(top_k=1)(y_true, y_pred)) == 1.0
    assert float(metrics.Precision(top_k=2)(y_true, y_pred)) == 0.5


def test_auc_by_hand():
    assert float(metrics.AUC()([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])) == pytest.approx(1.0)
    assert float(metrics.AUC()([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])) == pytest.approx(0.0)
    assert float(metrics.AUC(num_thresholds=3)([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])) == 0.75
    logits = metrics.AUC(from_logits=True)([0, 0, 1, 1], [-3.0, -1.0, 2.0, 4.0])
    assert float(logits) == pytest.approx(1.0)
    multi = metrics.AUC(multi_label=True)
    multi.update_state([[0, 1], [1, 0]], [[0.1, 0.9], [0.8, 0.3]])
    assert multi.true_positives.shape == (200, 2)
    assert float(multi.result()) == pytest.approx(1.0)


def test_at_metrics_by_hand():
    y_true, y_pred = [0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8]
    assert float(metrics.PrecisionAtRecall(0.5)(y_true, y_pred)) == 0.5
    assert float(metrics.SensitivityAtSpecificity(0.5)(y_true, y_pred)) == 0.5
    assert float(metrics.SpecificityAtSensitivity(0.5)(y_true, y_pred)) == pytest.approx(2 / 3)
    assert float(metrics.RecallAtPrecision(0.8)([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])) == 0.5


def test_regression_and_iou_by_hand():
    assert float(metrics.MeanSquaredError()([[0.0, 1.0]], [[1.0, 1.0]])) == 0.5
    assert float(metrics.MeanAbsoluteError()([[0.0, 1.0]], [[1.0, 1.0]])) == 0.5
    assert float(metrics.RootMeanSquaredError()([[0.0, 2.0]], [[0.0, 0.0]])) == \
        pytest.approx(2 ** 0.5)
    assert float(metrics.CosineSimilarity()([[0.0, 1.0]], [[0.0, 3.0]])) == pytest.approx(1.0)
    m = metrics.MeanIoU(num_classes=2)
    m.update_state([0, 0, 1, 1], [0, 1, 0, 1])  # IoU 1/3 for each class
    assert float(m.result()) == pytest.approx(1 / 3)
    assert m.total_cm.dtype == dtf.int64
    assert value(m.total_cm).tolist() == [[1, 1], [1, 1]]
    m.update_state([0, 7, -1], [0, 1, 1])  # labels outside [0, 2) are left out
    assert value(m.total_cm).tolist() == [[2, 1], [1, 1]]


def test_float64_metric_state():
    m = metrics.Mean(dtype="float64")
    m.update_state(np.array([1.0, 2.0]))
    assert m.result().dtype == dtf.float64
    auc = metrics.AUC(dtype=dtf.float64)
    assert auc.true_positives.dtype == dtf.float64


# -- get / serialize ----------------------------------------------------------------------------
def test_get():
    assert metrics.get(None) is None
    assert isinstance(metrics.get("mse"), metrics.MeanSquaredError)
    assert isinstance(metrics.get("accuracy"), metrics.Accuracy)
    assert isinstance(metrics.get("sparse_categorical_accuracy"),
                      metrics.SparseCategoricalAccuracy)
    assert isinstance(metrics.get("AUC"), metrics.AUC)
    assert isinstance(metrics.get(metrics.Recall), metrics.Recall)
    assert metrics.get(metrics.mean_squared_error) is metrics.mean_squared_error
    m = metrics.get({"class_name": "TopKCategoricalAccuracy", "config": {"k": 3}})
    assert m.k == 3
    with pytest.raises(ValueError, match="Could not interpret metric identifier: 'acc'"):
        metrics.get("acc")  # compile resolves "acc"/"accuracy" by the model's outputs


@pytest.mark.parametrize("metric", [
    metrics.Mean(name="m"), metrics.Sum(), metrics.Accuracy(), metrics.BinaryAccuracy(0.3),
    metrics.SparseCategoricalAccuracy(), metrics.TopKCategoricalAccuracy(k=2),
    metrics.SparseTopKCategoricalAccuracy(k=3, from_sorted_ids=True),
    metrics.AUC(num_thresholds=10, curve="PR", summation_method="minoring",
                label_weights=[1.0, 2.0]),
    metrics.AUC(thresholds=[0.2, 0.5]), metrics.Precision(thresholds=[0.3, 0.6], class_id=1),
    metrics.Recall(top_k=2), metrics.TruePositives(thresholds=0.7),
    metrics.PrecisionAtRecall(0.4, num_thresholds=20), metrics.SpecificityAtSensitivity(0.2),
    metrics.MeanIoU(num_classes=3, ignore_class=0), metrics.IoU(3, [0, 2]),
    metrics.BinaryIoU(threshold=0.3), metrics.RootMeanSquaredError(),
    metrics.BinaryCrossentropy(from_logits=True),
    metrics.SparseCategoricalCrossentropy(ignore_class=1), metrics.Hinge(),
    metrics.CosineSimilarity(axis=0),
])
def test_serialize_round_trip(metric):
    config = metrics.serialize(metric)
    assert config["module"] == "keras.metrics" and config["class_name"] == type(metric).__name__
    again = metrics.deserialize(config)
    assert type(again) is type(metric)
    assert again.get_config() == metric.get_config()


def test_configs_as_keras():
    assert metrics.Mean().get_config() == {"name": "mean", "dtype": "float32"}
    assert metrics.Precision(name="p").get_config() == {
        "name": "p", "dtype": "float32", "thresholds": None, "top_k": None, "class_id": None}
    assert metrics.AUC(name="auc").get_config() == {
        "name": "auc", "dtype": "float32", "num_thresholds": 200, "curve": "ROC",
        "summation_method": "interpolation", "multi_label": False, "num_labels": None,
        "label_weights": None, "from_logits": False}


# -- errors -----------------------------------------------------------------------------------
def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="RUC")
    with pytest.raises(ValueError, match="summation method"):
        metrics.AUC(summation_method="trapezoid")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="recall"):
        metrics.PrecisionAtRecall(1.5)
    with pytest.raises(ValueError, match="Target class id 3"):
        metrics.IoU(num_classes=3, target_class_ids=[3])
    with pytest.raises(ValueError, match="num_labels"):
        metrics.AUC(num_labels=3)
    with pytest.raises(ValueError, match="aggregation"):
        metrics.Metric(name="m").add_variable((), "zeros", aggregation="max")


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match=r"same shape.*\(2, 3\).*\(2, 2\)"):
        metrics.Precision()(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="rank 2"):
        metrics.AUC(multi_label=True).update_state([0, 1], [0.2, 0.4])
    with pytest.raises(ValueError, match="mean_squared_error.*incompatible"):
        metrics.MeanSquaredError()(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="class_id"):
        metrics.Precision(class_id=1)([0, 1], [0.2, 0.4])
    with pytest.raises(ValueError, match="sample_weight"):
        metrics.Mean().update_state(np.zeros((2, 3)), sample_weight=np.ones((3, 2)))


def test_layer_add_metric_uses_mean():
    class Scaled(keras.layers.Layer):
        def call(self, x):
            self.add_metric(dtf.reduce_mean(x), name="activation_mean")
            return 2.0 * x

    layer = Scaled()
    layer(dtf.constant([1.0, 3.0]))
    layer(dtf.constant([5.0, 7.0]))
    (m,) = layer.metrics
    assert isinstance(m, metrics.Mean) and float(m.result()) == 4.0
    layer.reset_metrics()
    assert float(m.result()) == 0.0
