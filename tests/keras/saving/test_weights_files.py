"""save_weights / load_weights: Keras 3's HDF5 layout, matching by structure, optimizer state,
skip_mismatch, and files written by Keras 3 itself (fixtures/make_keras3_files.py)."""

import os
import warnings

import h5py
import numpy as np
import pytest
from _saving_helpers import assert_same, make_data, mlp, snapshot, tape_step

import dtf
from dtf import keras
from dtf.keras.saving.object_graph import walk

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
save_weights = keras.saving.save_weights
load_weights = keras.saving.load_weights


def _expected():
    return np.load(os.path.join(FIXTURES, "keras3_expected.npz"))


def test_round_trip_into_a_fresh_model_with_optimizer_state(tmp_path):
    x, y = make_data()
    model = mlp()
    for _ in range(3):
        tape_step(model, x, y)
    path = tmp_path / "m.weights.h5"
    save_weights(model, path)
    fresh = mlp()  # other initial values, optimizer not built yet
    assert not fresh.optimizer.built
    load_weights(fresh, path)
    assert fresh.optimizer.built
    assert_same(snapshot(model), snapshot(fresh))
    assert tape_step(model, x, y) == tape_step(fresh, x, y)
    assert_same(snapshot(model), snapshot(fresh))


def test_layout_is_keras_3s(tmp_path):
    model = mlp()
    tape_step(model, *make_data())
    path = tmp_path / "m.weights.h5"
    save_weights(model, path)
    names = []
    with h5py.File(path) as f:
        f.visit(names.append)
        assert f["vars"].attrs["name"] == model.name
        assert f["layers/dense_1/vars"].attrs["name"] == model.layers[2].name
        np.testing.assert_array_equal(f["layers/dense/vars/0"][()],
                                      model.layers[0].kernel.numpy())
        assert f["optimizer/vars"].attrs["name"] == model.optimizer.name
    assert names == [
        "layers", "layers/dense", "layers/dense/vars", "layers/dense/vars/0",
        "layers/dense/vars/1", "layers/dense_1", "layers/dense_1/vars",
        "layers/dense_1/vars/0", "layers/dense_1/vars/1", "layers/dropout",
        "layers/dropout/vars", "optimizer", "optimizer/vars",
        *[f"optimizer/vars/{i}" for i in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)], "vars"]


def test_matching_is_by_structure_not_by_variable_names(tmp_path):
    x, _ = make_data()
    model = mlp(optimizer=None)
    path = tmp_path / "m.weights.h5"
    save_weights(model, path)
    keras.backend.clear_session()
    for _ in range(3):  # shift the global layer-name counters
        keras.layers.Dense(1)
    other = mlp(optimizer=None)
    assert [w.name for w in other.weights] != [w.name for w in model.weights]
    load_weights(other, path)
    np.testing.assert_array_equal(model(x).numpy(), other(x).numpy())


def test_paths_of_subclassed_models():
    class Block(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = [keras.layers.Dense(2), [keras.layers.Dense(2)]]

        def call(self, x):
            return self.inner[1][0](self.inner[0](x))

    class Net(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.shared = keras.layers.Dense(2)
            self.block = Block()
            self.again = self.shared  # reachable twice: saved once, at the first path
            self._private = keras.layers.Dense(2)

        def call(self, x):
            return self._private(self.block(self.again(self.shared(x))))

    net = Net()
    net(np.ones((1, 2), "float32"))
    paths = [(e.path, len(e.variables)) for e in walk(net)]
    assert paths == [("", 0), ("again", 2), ("block", 0), ("block/inner/dense", 2),
                     ("block/inner/container/dense", 2), ("_private", 2)]


def test_load_weights_from_a_keras_archive(tmp_path):
    x, y = make_data()
    model = mlp()
    tape_step(model, x, y)
    path = tmp_path / "m.keras"
    keras.saving.save_model(model, path)
    fresh = mlp()
    load_weights(fresh, path)
    assert_same(snapshot(model), snapshot(fresh))


def test_optimizer_of_another_kind_is_skipped_with_a_warning(tmp_path):
    x, y = make_data()
    model = mlp()
    tape_step(model, x, y)
    path = tmp_path / "m.weights.h5"
    save_weights(model, path)
    other = mlp(optimizer="sgd")
    tape_step(other, x, y)
    optimizer_before = [v.numpy() for v in other.optimizer.variables]
    with pytest.warns(UserWarning, match="Skipping the optimizer state"):
        load_weights(other, path)
    assert_same(model.get_weights(), other.get_weights())
    assert_same(optimizer_before, [v.numpy() for v in other.optimizer.variables])


def test_optimizer_built_with_variables_in_another_order_is_skipped(tmp_path):
    x, y = make_data()
    model = mlp()
    tape_step(model, x, y)
    path = tmp_path / "m.weights.h5"
    save_weights(model, path)
    other = mlp()
    variables = list(reversed(other.trainable_variables))
    other.optimizer.build(variables)
    with pytest.warns(UserWarning, match="other variables"):
        load_weights(other, path)
    assert_same(model.get_weights(), other.get_weights())


def test_optimizer_resumes_with_frozen_layers(tmp_path):
    """The slots go back to the variables the optimizer was built with (recorded by path),
    even when the model's trainable variables changed since."""
    x, y = make_data()
    model = mlp()
    tape_step(model, x, y)
    path = tmp_path / "m.weights.h5"
    save_weights(model, path)
    fresh = mlp()
    fresh.layers[0].trainable = False
    load_weights(fresh, path)
    assert len(fresh.optimizer._trainable_variables) == 4
    assert_same(snapshot(model), snapshot(fresh))


def test_mismatch_raises_and_changes_nothing(tmp_path):
    path = tmp_path / "m.weights.h5"
    save_weights(mlp(units=3), path)
    other = mlp(units=5)
    tape_step(other, *make_data())
    before = snapshot(other)
    with pytest.raises(ValueError) as info:
        load_weights(other, path)
    message = str(info.value)
    assert str(path) in message and "nothing was changed" in message
    assert "(4, 5)" in message and "(4, 3)" in message and "layers/dense" in message
    assert_same(before, snapshot(other))


def test_skip_mismatch_loads_what_fits(tmp_path):
    source = mlp(outputs=2)
    path = tmp_path / "m.weights.h5"
    save_weights(source, path)
    target = mlp(outputs=3, optimizer=None)
    head_before = target.layers[-1].get_weights()
    with pytest.warns(UserWarning, match="skip_mismatch"):
        load_weights(target, path, skip_mismatch=True)
    assert_same(source.layers[0].get_weights(), target.layers[0].get_weights())
    assert_same(head_before, target.layers[-1].get_weights())


def test_missing_layer_in_file_is_a_mismatch(tmp_path):
    path = tmp_path / "m.weights.h5"
    save_weights(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), path)
    deeper = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2),
                               keras.layers.Dense(2)])
    before = snapshot(deeper)
    with pytest.raises(ValueError, match="layers/dense_1"):
        load_weights(deeper, path)
    assert_same(before, snapshot(deeper))


def test_dtypes_are_converted_when_safe(tmp_path):
    path = tmp_path / "m.weights.h5"
    model64 = keras.Sequential([keras.Input((4,), dtype="float64"),
                               keras.layers.Dense(2, dtype="float64")])
    save_weights(model64, path)
    model32 = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    load_weights(model32, path)
    np.testing.assert_allclose(model32.get_weights()[0], model64.get_weights()[0], rtol=1e-6)
    assert model32.weights[0].dtype == dtf.float32


def test_filename_and_state_checks(tmp_path):
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        save_weights(mlp(), tmp_path / "m.h5")
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="not yet been built"):
        save_weights(unbuilt, tmp_path / "u.weights.h5")
    save_weights(mlp(), tmp_path / "m.weights.h5")
    with pytest.raises(ValueError, match="not yet been built"):
        load_weights(unbuilt, tmp_path / "m.weights.h5")
    with pytest.raises(ValueError, match="File not found"):
        load_weights(mlp(), tmp_path / "absent.weights.h5")
    with pytest.raises(ValueError, match="format not supported"):
        load_weights(mlp(), tmp_path / "weights.txt")
    with pytest.raises(ValueError, match="max_shard_size"):
        save_weights(mlp(), tmp_path / "s.weights.h5", max_shard_size=1)


def test_custom_save_and_load_own_variables(tmp_path):
    """A layer may keep state that is not Variables through Keras' own hooks."""

    class Table(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.table = np.arange(3.0)

        def call(self, x):
            return x

        def save_own_variables(self, store):
            store["0"] = self.table

        def load_own_variables(self, store):
            self.table = np.array(store["0"])

    model = keras.Sequential([keras.Input((2,)), Table()])
    model.layers[0].table = np.array([5.0, 6.0])
    path = tmp_path / "t.weights.h5"
    save_weights(model, path)
    other = keras.Sequential([keras.Input((2,)), Table()])
    load_weights(other, path)
    np.testing.assert_array_equal(other.layers[0].table, [5.0, 6.0])


# -- files written by Keras 3 ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["keras3_mlp.weights.h5", "keras3_mlp.keras"])
def test_keras3_weights_and_optimizer_state_load(name):
    expected = _expected()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dropout(0.0), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    load_weights(model, os.path.join(FIXTURES, name))
    assert int(model.optimizer.iterations.numpy()) == 2
    np.testing.assert_allclose(model.predict(expected["mlp_x"], verbose=0),
                               expected["mlp_out"], rtol=1e-5, atol=1e-6)
    model.train_on_batch(expected["mlp_x"], expected["mlp_y"])
    for i, weight in enumerate(model.get_weights()):
        np.testing.assert_allclose(weight, expected[f"mlp_after_step_{i}"], rtol=1e-5,
                                   atol=1e-6)


def test_keras3_nested_layers_load():
    """Keras 3's paths for layers inside layers: `layers/lstm/cell`,
    `layers/bidirectional/forward_layer/cell`, and BatchNormalization's moving statistics."""
    expected = _expected()
    inputs = keras.Input((6, 4))
    x = keras.layers.Conv1D(3, 2)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.LSTM(5, return_sequences=True)(x)
    x = keras.layers.Bidirectional(keras.layers.GRU(2))(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    load_weights(model, os.path.join(FIXTURES, "keras3_rnn.weights.h5"))
    np.testing.assert_allclose(model.layers[2].moving_mean.numpy(), [0.1, -0.2, 0.3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model(expected["rnn_x"]).numpy()
    np.testing.assert_allclose(out, expected["rnn_out"], rtol=1e-4, atol=1e-5)


def test_keras3_archive_loads_as_a_whole_model():
    expected = _expected()
    model = keras.saving.load_model(os.path.join(FIXTURES, "keras3_mlp.keras"))
    assert int(model.optimizer.iterations.numpy()) == 2
    np.testing.assert_allclose(model.predict(expected["mlp_x"], verbose=0),
                               expected["mlp_out"], rtol=1e-5, atol=1e-6)
    model.train_on_batch(expected["mlp_x"], expected["mlp_y"])
    for i, weight in enumerate(model.get_weights()):
        np.testing.assert_allclose(weight, expected[f"mlp_after_step_{i}"], rtol=1e-5,
                                   atol=1e-6)
