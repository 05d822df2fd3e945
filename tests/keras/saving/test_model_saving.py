"""model.save -> load_model round trips: identical predictions and an identical next training
step (custom GradientTape loop and fit), for Sequential, Functional and subclassed models."""

import io
import json
import os
import warnings
import zipfile

import h5py
import numpy as np
import pytest
from _saving_helpers import assert_same, make_data, mlp, snapshot, tape_step

import dtf
from dtf import keras
from dtf.keras.saving import saving_lib

save_model = keras.saving.save_model
load_model = keras.saving.load_model


def _round_trip(model, tmp_path, **load_kwargs):
    path = tmp_path / "model.keras"
    save_model(model, path)
    return load_model(path, **load_kwargs)


def _assert_resumes_identically(model, restored, x, y):
    """Same predictions, same optimizer state, then the same weights after one more step of a
    custom loop and one more epoch of fit."""
    np.testing.assert_array_equal(model.predict(x, verbose=0), restored.predict(x, verbose=0))
    assert_same(snapshot(model), snapshot(restored))
    assert tape_step(model, x, y) == tape_step(restored, x, y)
    assert_same(snapshot(model), snapshot(restored))
    first = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    second = restored.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert first.history["loss"] == second.history["loss"]
    assert_same(snapshot(model), snapshot(restored))


# -- Sequential ---------------------------------------------------------------------------------
def test_sequential_resumes_where_it_stopped(tmp_path):
    x, y = make_data()
    model = mlp()
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    restored = _round_trip(model, tmp_path)
    assert type(restored) is keras.Sequential
    assert [layer.name for layer in restored.layers] == [layer.name for layer in model.layers]
    assert type(restored.optimizer) is keras.optimizers.Adam
    assert int(restored.optimizer.iterations.numpy()) == 4
    _assert_resumes_identically(model, restored, x, y)


def test_sequential_without_input_built_on_first_call(tmp_path):
    x, y = make_data()
    model = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    tape_step(model, x, y)
    restored = _round_trip(model, tmp_path)
    _assert_resumes_identically(model, restored, x, y)


def test_uncompiled_model_and_compile_false(tmp_path):
    x, _ = make_data()
    model = mlp(optimizer=None)
    restored = _round_trip(model, tmp_path)
    assert not restored.compiled
    np.testing.assert_array_equal(model(x).numpy(), restored(x).numpy())
    compiled = mlp()
    tape_step(compiled, *make_data())
    without = _round_trip(compiled, tmp_path, compile=False)
    assert not without.compiled
    np.testing.assert_array_equal(compiled(x).numpy(), without(x).numpy())


def test_include_optimizer_false_leaves_out_training_state(tmp_path):
    model = mlp()
    tape_step(model, *make_data())
    path = tmp_path / "m.keras"
    save_model(model, path, include_optimizer=False)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        with h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as f:
            assert "optimizer" not in f
    assert "compile_config" not in config
    assert not load_model(path).compiled


def test_optimizer_that_made_no_step_round_trips(tmp_path):
    x, y = make_data()
    model = mlp()
    restored = _round_trip(model, tmp_path)
    assert not restored.optimizer.built
    _assert_resumes_identically(model, restored, x, y)


def test_model_methods_and_keras_models_functions(tmp_path):
    x, y = make_data()
    model = mlp()
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    _assert_resumes_identically(model, restored, x, y)
    model.save_weights(tmp_path / "m.weights.h5")
    other = mlp()
    other.load_weights(tmp_path / "m.weights.h5")
    assert_same(snapshot(model), snapshot(other))
    keras.models.save_model(model, tmp_path / "n.keras")
    assert keras.saving.load_model(tmp_path / "n.keras").count_params() == model.count_params()


def test_recurrent_convolutional_and_normalization_layers(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 7, 4)).astype("float32")
    y = rng.normal(size=(6, 1)).astype("float32")
    model = keras.Sequential([
        keras.Input((7, 4)), keras.layers.Conv1D(3, 2, activation="relu"),
        keras.layers.BatchNormalization(), keras.layers.LSTM(5, return_sequences=True),
        keras.layers.Bidirectional(keras.layers.GRU(2)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    restored = _round_trip(model, tmp_path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), restored.predict(x, verbose=0))
    first = model.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    second = restored.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    assert first.history == second.history
    assert_same(snapshot(model), snapshot(restored))


# -- Functional -----------------------------------------------------------------------------------
def test_functional_with_op_node_and_add_loss(tmp_path):
    x, y = make_data()
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(5, activation="tanh", name="hidden")(inputs)
    mixed = hidden * 2.0 + dtf.reduce_mean(hidden, axis=-1, keepdims=True)
    outputs = keras.layers.Dense(2, name="out")(mixed)
    model = keras.Model(inputs, outputs, name="graph")
    model.add_loss(0.1 * dtf.reduce_mean(dtf.square(hidden)))
    model.compile(optimizer=keras.optimizers.RMSprop(0.01), loss="mse")
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    restored = _round_trip(model, tmp_path)
    assert restored.name == "graph"
    assert [layer.name for layer in restored.layers] == [layer.name for layer in model.layers]
    model(x)
    restored(x)
    assert [float(v.numpy()) for v in model.losses] == \
        [float(v.numpy()) for v in restored.losses]
    _assert_resumes_identically(model, restored, x, y)


def test_functional_with_two_inputs_and_outputs(tmp_path):
    a = keras.Input((3,), name="a")
    b = keras.Input((2,), name="b")
    joined = keras.layers.Dense(4)(a) + keras.layers.Dense(4)(b)
    model = keras.Model([a, b], [keras.layers.Dense(1, name="p")(joined),
                                 keras.layers.Dense(2, name="q")(joined)])
    model.compile(optimizer="adam", loss=["mse", "mae"])
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(6, 3)).astype("float32"), rng.normal(size=(6, 2)).astype("float32")]
    ys = [rng.normal(size=(6, 1)).astype("float32"), rng.normal(size=(6, 2)).astype("float32")]
    model.fit(xs, ys, batch_size=3, epochs=1, shuffle=False, verbose=0)
    restored = _round_trip(model, tmp_path)
    for p, q in zip(model.predict(xs, verbose=0), restored.predict(xs, verbose=0)):
        np.testing.assert_array_equal(p, q)
    first = model.fit(xs, ys, batch_size=3, epochs=1, shuffle=False, verbose=0)
    second = restored.fit(xs, ys, batch_size=3, epochs=1, shuffle=False, verbose=0)
    assert first.history == second.history
    assert_same(snapshot(model), snapshot(restored))


# -- subclassed models with custom layers -------------------------------------------------------
@keras.saving.register_keras_serializable(package="saving_tests")
class Affine(keras.layers.Layer):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, x):
        return dtf.matmul(x, self.w) + self.b

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="saving_tests")
class Tower(keras.Model):
    """Sublayers in an attribute, a list and a dict; a metric; a weight of its own."""

    def __init__(self, hidden=5, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden
        self.first = Affine(hidden)
        self.blocks = [keras.layers.Dense(hidden, activation="relu"), Affine(hidden)]
        self.heads = {"out": keras.layers.Dense(2)}
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")
        self.mean_output = keras.metrics.Mean(name="mean_output")

    def call(self, x):
        x = self.first(x)
        for block in self.blocks:
            x = block(x)
        return self.heads["out"](x) * self.scale

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden}


def test_subclassed_model_with_custom_layers(tmp_path):
    x, y = make_data()
    model = Tower(6)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    model.mean_output.update_state(model(x))
    path = tmp_path / "tower.keras"
    save_model(model, path)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    assert config["registered_name"] == "saving_tests>Tower"
    assert config["build_config"] == {"input_shape": [4, 4]}
    restored = load_model(path)
    assert type(restored) is Tower and restored.hidden == 6
    assert float(restored.mean_output.result().numpy()) == \
        float(model.mean_output.result().numpy())
    _assert_resumes_identically(model, restored, x, y)


class Unregistered(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_custom_objects_and_scope(tmp_path):
    x, _ = make_data()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
                              Unregistered(3.0, name="triple")])
    path = tmp_path / "custom.keras"
    save_model(model, path)
    with pytest.raises((TypeError, ValueError), match="Unregistered") as info:
        load_model(path)
    assert str(path) in str(info.value)
    restored = load_model(path, custom_objects={"Unregistered": Unregistered})
    np.testing.assert_array_equal(model(x).numpy(), restored(x).numpy())
    with keras.saving.custom_object_scope({"Unregistered": Unregistered}):
        scoped = load_model(path)
    assert scoped.layers[-1].factor == 3.0


def test_custom_loss_and_metric_functions(tmp_path):
    def scaled_mse(y_true, y_pred):
        return 2.0 * dtf.reduce_mean(dtf.square(y_true - y_pred), axis=-1)

    def max_error(y_true, y_pred):
        return dtf.reduce_max(dtf.abs(y_true - y_pred), axis=-1)

    x, y = make_data()
    model = mlp(optimizer=None)
    model.compile(optimizer="sgd", loss=scaled_mse, metrics=[max_error])
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "custom_loss.keras"
    save_model(model, path)
    with pytest.raises(ValueError, match="scaled_mse"):
        load_model(path)
    restored = load_model(path, custom_objects={"scaled_mse": scaled_mse,
                                                "max_error": max_error})
    first = model.evaluate(x, y, verbose=0, return_dict=True)
    second = restored.evaluate(x, y, verbose=0, return_dict=True)
    assert first == second and set(first) == {"loss", "max_error"}
    _assert_resumes_identically(model, restored, x, y)


def test_lambda_layer_needs_safe_mode_false(tmp_path):
    x, _ = make_data()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda t: t * 3.0 + 1.0)])
    path = tmp_path / "lambda.keras"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        save_model(model, path)
    with pytest.raises(ValueError, match="safe_mode"):
        load_model(path)
    restored = load_model(path, safe_mode=False)
    np.testing.assert_allclose(restored(x).numpy(), x * 3.0 + 1.0, rtol=1e-6)


# -- the archive --------------------------------------------------------------------------------
def test_archive_members_and_weights_layout(tmp_path):
    model = mlp()
    tape_step(model, *make_data())
    path = tmp_path / "m.keras"
    save_model(model, path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json",
                                              "model.weights.h5"]
        metadata = json.loads(archive.read("metadata.json"))
        config = json.loads(archive.read("config.json"))
        weights = archive.read("model.weights.h5")
    assert metadata["keras_version"] == f"dtf {dtf.__version__}"
    assert "date_saved" in metadata
    assert config["class_name"] == "Sequential" and config["module"].startswith("keras")
    assert config["compile_config"]["loss"] == "mse"
    with h5py.File(io.BytesIO(weights)) as f:
        assert f["layers/dense/vars"].attrs["name"] == model.layers[0].name
        assert f["vars"].attrs["name"] == model.name
        assert sorted(f["layers"]) == ["dense", "dense_1", "dropout"]
        assert list(f["layers/dense/vars"]) == ["0", "1"]
        assert f["layers/dense/vars/0"].shape == (4, 3)
        assert len(f["optimizer/vars"]) == 10  # iterations, learning rate, 2 slots x 4
        assert int(f["optimizer/vars/0"][()]) == 1


def test_save_to_and_load_from_file_objects():
    x, _ = make_data()
    model = mlp()
    buffer = io.BytesIO()
    save_model(model, buffer)
    restored = load_model(io.BytesIO(buffer.getvalue()))
    np.testing.assert_array_equal(model(x).numpy(), restored(x).numpy())


def test_overwrite_false_keeps_the_existing_file(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    save_model(mlp(), path)
    before = path.read_bytes()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: cannot ask
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_model(mlp(units=7), path, overwrite=False)
    assert path.read_bytes() == before


def test_failed_save_leaves_previous_file(tmp_path):
    path = tmp_path / "m.keras"
    save_model(mlp(), path)
    before = path.read_bytes()

    class Opaque(keras.layers.Layer):
        def get_config(self):
            return {**super().get_config(), "thing": object()}

    broken = keras.Sequential([keras.Input((4,)), Opaque()])
    with pytest.raises(TypeError):
        save_model(broken, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]  # no temporary file left behind


@pytest.mark.parametrize("name", ["model.h5", "model", "model.tf", "model.weights.h5"])
def test_save_model_needs_keras_extension(tmp_path, name):
    with pytest.raises(ValueError, match=r"\.keras"):
        save_model(mlp(), tmp_path / name)
    assert not (tmp_path / name).exists()


def test_save_model_rejects_unknown_arguments(tmp_path):
    with pytest.raises(ValueError, match="not supported"):
        save_model(mlp(), tmp_path / "m.keras", signatures=None)


def test_unbuilt_subclassed_model_warns(tmp_path):
    class Small(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    with pytest.warns(UserWarning, match="not yet been built"):
        saving_lib.save_model(Small(), tmp_path / "small.keras")


def test_build_config_helpers():
    model = Tower(3)
    assert saving_lib.get_build_config(model) is None
    model(np.ones((2, 4), "float32"))
    config = saving_lib.get_build_config(model)
    assert config == {"input_shape": [2, 4]}
    fresh = Tower(3)
    saving_lib.build_from_config(fresh, config)
    assert fresh.built and len(fresh.weights) == len(model.weights)
