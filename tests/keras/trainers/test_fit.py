"""compile / fit / evaluate / predict and the per-batch forms."""

import numpy as np
import numpy.testing as npt
import pytest

import dtf
from dtf import keras
from dtf.keras import layers


def _blobs(n=256, seed=0):
    """Two separable classes in 4 dims."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    x = rng.normal(size=(n, 4)).astype("float32") + 2.0 * y[:, None].astype("float32")
    return x, y


def _classifier(units=2):
    return keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(units)])


def test_fit_reduces_the_loss_and_returns_history():
    dtf.random.set_seed(0)
    x, y = _blobs()
    model = _classifier()
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=5, verbose=0)
    assert history is model.history
    assert set(history.history) == {"loss", "accuracy"}
    assert len(history.history["loss"]) == 5
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.9
    assert model.optimizer.iterations.numpy() == 5 * 8
    assert isinstance(model.compiled_metrics.metrics[0], keras.metrics.SparseCategoricalAccuracy)


def test_evaluate_and_predict_match_the_model():
    x, y = _blobs(100)
    model = _classifier()
    model.compile(optimizer="sgd",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    loss, acc = model.evaluate(x, y, batch_size=16, verbose=0)
    logits = model(x).numpy()
    expected_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits)
    npt.assert_allclose(loss, float(expected_loss), rtol=1e-5)
    npt.assert_allclose(acc, np.mean(logits.argmax(1) == y), rtol=1e-6)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    predicted = model.predict(x, batch_size=7, verbose=0)
    assert isinstance(predicted, np.ndarray) and predicted.shape == (100, 2)
    npt.assert_allclose(predicted, logits, rtol=1e-5, atol=1e-6)
    npt.assert_allclose(model.predict_on_batch(x[:3]), logits[:3], rtol=1e-5, atol=1e-6)


def test_accuracy_resolves_from_the_loss_and_shapes():
    x, y = _blobs(64)
    binary = keras.Sequential([keras.Input((4,)), layers.Dense(1, activation="sigmoid")])
    binary.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    binary.fit(x, y.astype("float32"), verbose=0)
    assert isinstance(binary.compiled_metrics.metrics[0], keras.metrics.BinaryAccuracy)
    onehot = keras.utils.to_categorical(y, 2)
    cat = _classifier()
    cat.compile("adam", keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["acc"])
    cat.fit(x, onehot, verbose=0)
    assert isinstance(cat.compiled_metrics.metrics[0], keras.metrics.CategoricalAccuracy)
    assert "acc" in cat.evaluate(x, onehot, verbose=0, return_dict=True)


def test_validation_split_and_validation_data():
    x, y = _blobs(100)
    model = _classifier()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x, y, validation_split=0.2, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    # the held-out part is the last 20%, before shuffling, as Keras
    held = model.evaluate(x[80:], y[80:], verbose=0, return_dict=True)
    npt.assert_allclose(history.history["val_loss"][-1], held["loss"], rtol=1e-5)
    history = model.fit(x, y, validation_data=(x[:10], y[:10]), validation_freq=2, epochs=4,
                        verbose=0)
    assert len(history.history["val_loss"]) == 2


def test_fit_on_datasets_and_generators():
    x, y = _blobs(128)
    model = _classifier()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ds = dtf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    model.fit(ds, epochs=2, verbose=0)
    assert model.optimizer.iterations.numpy() == 8

    def gen():
        while True:
            for i in range(0, 128, 16):
                yield x[i:i + 16], y[i:i + 16]

    model.fit(gen(), steps_per_epoch=3, epochs=2, verbose=0)
    assert model.optimizer.iterations.numpy() == 14
    # steps_per_epoch on a finite dataset reads on across epochs
    model.fit(ds, steps_per_epoch=3, epochs=3, verbose=0)
    assert model.optimizer.iterations.numpy() == 23
    assert model.predict(ds, verbose=0).shape == (128, 2)
    assert np.isfinite(model.evaluate(ds, verbose=0))


def test_sample_and_class_weights():
    x, y = _blobs(64)
    model = _classifier()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = model.get_weights()
    history = model.fit(x, y, sample_weight=np.zeros(64), epochs=1, verbose=0)
    assert history.history["loss"][0] == 0.0
    for b, a in zip(before, model.get_weights()):
        npt.assert_array_equal(b, a)  # zero loss, zero gradients, no Adam step size
    model.fit(x, y, class_weight={0: 0.0, 1: 0.0}, verbose=0)
    for b, a in zip(before, model.get_weights()):
        npt.assert_array_equal(b, a)
    unweighted = model.evaluate(x, y, verbose=0)
    doubled = model.evaluate(x, y, sample_weight=np.full(64, 2.0), verbose=0)
    npt.assert_allclose(doubled, 2 * unweighted, rtol=1e-5)


def test_losses_added_by_layers_join_the_compiled_loss():
    x, y = _blobs(32)
    plain = _classifier()
    plain.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    reg = keras.Sequential([keras.Input((4,)),
                            layers.Dense(8, activation="relu", kernel_regularizer="l2"),
                            layers.Dense(2)])
    reg.set_weights(plain.get_weights())
    reg.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    penalty = 0.01 * float(np.sum(np.square(plain.get_weights()[0])))
    npt.assert_allclose(reg.evaluate(x, y, verbose=0),
                        plain.evaluate(x, y, verbose=0) + penalty, rtol=1e-5)


def test_multi_output_losses_weights_and_metrics_by_name():
    inputs = keras.Input((4,))
    h = layers.Dense(8, activation="relu")(inputs)
    cls = layers.Dense(2, name="cls")(h)
    reg = layers.Dense(1, name="reg")(h)
    model = keras.Model(inputs, [cls, reg])
    model.compile("adam",
                  loss={"cls": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        "reg": "mse"},
                  loss_weights={"cls": 1.0, "reg": 0.5},
                  metrics={"cls": ["accuracy"], "reg": ["mae"]})
    x, y = _blobs(64)
    target = x.sum(1, keepdims=True)
    logs = model.fit(x, {"cls": y, "reg": target}, epochs=1, verbose=0).history
    assert {"loss", "cls_accuracy", "reg_mae"} <= set(logs)
    values = model.evaluate(x, [y, target], verbose=0, return_dict=True)
    logits, pred = model(x)
    expected = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits)) \
        + 0.5 * float(keras.losses.mse(target, pred).numpy().mean())
    npt.assert_allclose(values["loss"], expected, rtol=1e-5)


@pytest.mark.parametrize("run_eagerly", [True, False])
def test_custom_train_step_is_used_by_fit(run_eagerly):
    class Counting(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)
            self.steps_seen = 0  # Python: once per call eagerly, once per trace compiled
            self.steps_run = dtf.Variable(0, trainable=False)

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            self.steps_seen += 1
            self.steps_run.assign_add(1)
            x, y = data
            with dtf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            grads = tape.gradient(loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    model = Counting()
    model.compile("sgd", "mse", metrics=["mae"], run_eagerly=run_eagerly)
    history = model.fit(np.ones((20, 3)), np.ones((20, 1)), batch_size=5, epochs=2, verbose=0)
    assert int(model.steps_run.numpy()) == 8
    assert model.steps_seen == (8 if run_eagerly else 1)  # the step traced once
    assert set(history.history) == {"loss", "mae"}


def test_train_and_test_on_batch():
    x, y = _blobs(16)
    model = _classifier()
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    loss, acc = model.train_on_batch(x, y)
    assert np.isfinite(loss) and 0.0 <= acc <= 1.0
    assert model.optimizer.iterations.numpy() == 1
    logs = model.test_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}


def test_steps_per_execution_and_initial_epoch():
    calls = []
    cb = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: calls.append(batch))
    model = _classifier()
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=3)
    x, y = _blobs(64)
    history = model.fit(x, y, batch_size=8, epochs=3, initial_epoch=1, callbacks=[cb],
                        verbose=0)
    assert history.epoch == [1, 2]
    assert calls == [2, 5, 7] * 2  # 8 steps in executions of 3
    assert model.optimizer.iterations.numpy() == 16


def test_bad_input_raises_before_any_weight_changes():
    model = _classifier()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = model.get_weights()
    x, y = _blobs(20)
    with pytest.raises(ValueError, match="Data cardinality is ambiguous"):
        model.fit(x, y[:15], verbose=0)
    with pytest.raises(ValueError, match="numeric"):
        model.fit(np.array([["a"] * 4] * 20), y, verbose=0)
    with pytest.raises(ValueError, match='layer "dense.*expected axis -1.*value 4'):
        model.fit(np.ones((20, 3), "float32"), y, verbose=0)
    for b, a in zip(before, model.get_weights()):
        npt.assert_array_equal(b, a)
    with pytest.raises(ValueError, match="Could not interpret loss identifier: 'msee'"):
        model.compile("adam", "msee")
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier"):
        model.compile("adamm", "mse")
    with pytest.raises(RuntimeError, match="must call `compile"):
        _classifier().fit(x, y)
