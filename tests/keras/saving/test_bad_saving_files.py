"""Loading a corrupt or foreign file raises a clear error naming the file, and changes
nothing."""

import io
import json
import zipfile

import h5py
import numpy as np
import pytest
from _saving_helpers import assert_same, make_data, mlp, snapshot, tape_step

from dtf import keras

load_model = keras.saving.load_model
load_weights = keras.saving.load_weights


@pytest.fixture
def trained():
    model = mlp()
    tape_step(model, *make_data())
    return model


def _archive(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _assert_rejected(model, path, match):
    """Both loaders raise ValueError naming `path`; the model keeps every value."""
    before = snapshot(model)
    with pytest.raises(ValueError, match=match) as info:
        load_weights(model, path)
    assert str(path) in str(info.value)
    assert_same(before, snapshot(model))
    if str(path).endswith(".keras"):
        with pytest.raises(ValueError, match=match) as info:
            load_model(path)
        assert str(path) in str(info.value)


def test_not_a_zip(tmp_path, trained):
    path = tmp_path / "text.keras"
    path.write_text("this is not a model\n" * 10)
    _assert_rejected(trained, path, "not a valid `.keras` archive")


def test_truncated_archive(tmp_path, trained):
    path = tmp_path / "m.keras"
    keras.saving.save_model(trained, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _assert_rejected(trained, path, "not a valid `.keras` archive|damaged")


def test_foreign_zip(tmp_path, trained):
    path = tmp_path / "photos.keras"
    _archive(path, {"holiday.jpg": b"\xff\xd8\xff\xe0 not really"})
    _assert_rejected(trained, path, "not a Keras model archive")


def test_damaged_weights_member(tmp_path, trained):
    path = tmp_path / "m.keras"
    keras.saving.save_model(trained, path)
    members = _members(path)
    weights = bytearray(members["model.weights.h5"])
    weights[:64] = b"\0" * 64  # the HDF5 signature and superblock
    members["model.weights.h5"] = bytes(weights)
    _archive(path, members)
    _assert_rejected(trained, path, "not an HDF5 file|damaged")


def test_damaged_zip_member_crc(tmp_path, trained):
    path = tmp_path / "m.keras"
    keras.saving.save_model(trained, path)
    data = bytearray(path.read_bytes())
    start = data.find(b"\x89HDF")  # inside the stored weights member
    data[start + 2000] ^= 0xFF
    path.write_bytes(bytes(data))
    _assert_rejected(trained, path, "damaged|not an HDF5")


def test_invalid_config_json(tmp_path, trained):
    path = tmp_path / "m.keras"
    keras.saving.save_model(trained, path)
    members = _members(path)
    members["config.json"] = b"{ not json"
    _archive(path, members)
    with pytest.raises(ValueError, match="config.json is not valid JSON") as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_config_that_is_not_a_model(tmp_path, trained):
    path = tmp_path / "m.keras"
    keras.saving.save_model(trained, path)
    members = _members(path)
    members["config.json"] = json.dumps([1, 2, 3]).encode()
    _archive(path, members)
    with pytest.raises(ValueError, match="does not describe a model"):
        load_model(path)


def test_config_naming_an_unknown_class(tmp_path, trained):
    path = tmp_path / "m.keras"
    keras.saving.save_model(trained, path)
    members = _members(path)
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["class_name"] = "QuantumDense"
    members["config.json"] = json.dumps(config).encode()
    _archive(path, members)
    with pytest.raises(ValueError, match="QuantumDense") as info:
        load_model(path)
    assert str(path) in str(info.value) and "custom_objects" in str(info.value)


def test_archive_weights_that_do_not_fit_the_config(tmp_path, trained):
    path = tmp_path / "m.keras"
    keras.saving.save_model(trained, path)
    other = tmp_path / "other.keras"
    keras.saving.save_model(mlp(units=6), other)
    members = _members(path)
    members["model.weights.h5"] = _members(other)["model.weights.h5"]
    _archive(path, members)
    with pytest.raises(ValueError, match="mismatch") as info:
        load_model(path)
    assert "(4, 6)" in str(info.value) and "(4, 3)" in str(info.value)


def test_weights_file_that_is_not_hdf5(tmp_path, trained):
    path = tmp_path / "m.weights.h5"
    path.write_bytes(b"GIF89a" + bytes(200))
    _assert_rejected(trained, path, "not an HDF5 file")


def test_hdf5_without_keras_weights(tmp_path, trained):
    path = tmp_path / "data.weights.h5"
    with h5py.File(path, "w") as f:
        f["measurements"] = np.arange(10)
    _assert_rejected(trained, path, "holds no Keras weights")


def test_keras2_legacy_weights(tmp_path, trained):
    path = tmp_path / "legacy.weights.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"dense", b"dense_1"]
        f.create_group("dense").attrs["weight_names"] = [b"dense/kernel:0"]
    _assert_rejected(trained, path, "Keras 2")


def test_dataset_that_is_not_numbers(tmp_path, trained):
    path = tmp_path / "strings.weights.h5"
    keras.saving.save_weights(trained, path)
    with h5py.File(path, "a") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = "a string"
    _assert_rejected(trained, path, "not a number type")


def test_external_storage_is_refused(tmp_path, trained):
    path = tmp_path / "external.weights.h5"
    keras.saving.save_weights(trained, path)
    (tmp_path / "outside.bin").write_bytes(np.zeros(12, "float32").tobytes())
    with h5py.File(path, "a") as f:
        del f["layers/dense/vars/0"]
        f.create_dataset("layers/dense/vars/0", shape=(4, 3), dtype="float32",
                         external=[(str(tmp_path / "outside.bin"), 0, 48)])
    _assert_rejected(trained, path, "external or virtual")


def test_misnumbered_datasets(tmp_path, trained):
    path = tmp_path / "gaps.weights.h5"
    keras.saving.save_weights(trained, path)
    with h5py.File(path, "a") as f:
        f.move("layers/dense/vars/1", "layers/dense/vars/7")
    _assert_rejected(trained, path, "datasets named 0..1")


def test_shape_mismatch_in_one_layer_changes_no_layer(tmp_path, trained):
    path = tmp_path / "m.weights.h5"
    keras.saving.save_weights(trained, path)
    with h5py.File(path, "a") as f:
        del f["layers/dense_1/vars/1"]
        f["layers/dense_1/vars/1"] = np.zeros(5, "float32")
    model = mlp()
    tape_step(model, *make_data())
    _assert_rejected(model, path, r"'layers/dense_1/vars/1' has shape \(5,\)")


def test_missing_files(tmp_path):
    with pytest.raises(ValueError, match="File not found"):
        load_model(tmp_path / "absent.keras")
    with pytest.raises(ValueError, match="legacy HDF5"):
        load_model(tmp_path / "old.h5")
    with pytest.raises(ValueError, match="format not supported"):
        load_model(tmp_path / "model.pb")
    with pytest.raises(ValueError, match="folder"):
        load_model(tmp_path)


def test_file_object_that_is_not_an_archive(trained):
    with pytest.raises(ValueError, match="not a valid `.keras` archive"):
        load_model(io.BytesIO(b"garbage" * 20))
