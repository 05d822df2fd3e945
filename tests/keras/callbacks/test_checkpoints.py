"""ModelCheckpoint and BackupAndRestore with the real `model.save` / `save_weights` /
`load_weights` and `keras.models.load_model`: what is saved when, formatted paths, saves that
survive a failing run, and a killed `fit` resumed to the same result as an uninterrupted one."""

import json
import os

import numpy.testing as npt
import pytest
from _callbacks_loop import regression_data, small_model, train

from dtf import keras
from dtf.keras.callbacks import BackupAndRestore, Callback, LambdaCallback, ModelCheckpoint


def _compiled(seed=0, optimizer=None):
    model = small_model(seed)
    model.compile(optimizer or keras.optimizers.Adam(0.01), "mse")
    return model


class FailAt(Callback):
    """Raises at the end of one epoch: a run that dies midway."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError(f"killed at epoch {epoch}")


# -- ModelCheckpoint ----------------------------------------------------------------------------
def test_save_best_only_keeps_the_best_model(tmp_path, capsys):
    path = str(tmp_path / "best.keras")
    model = small_model()
    predictions = []
    x = regression_data()[0]
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: predictions.append(
        model.predict(x, verbose=0)))
    train(model, [record, ModelCheckpoint(path, save_best_only=True, verbose=1)], epochs=4,
          val_losses=[1.0, 0.5, 0.7, 0.4])
    assert capsys.readouterr().out.split("\n") == [
        "", f"Epoch 1: val_loss improved from None to 1.00000, saving model to {path}",
        "", f"Epoch 1: finished saving model to {path}",
        "", f"Epoch 2: val_loss improved from 1.00000 to 0.50000, saving model to {path}",
        "", f"Epoch 2: finished saving model to {path}",
        "", "Epoch 3: val_loss did not improve from 0.50000",
        "", f"Epoch 4: val_loss improved from 0.50000 to 0.40000, saving model to {path}",
        "", f"Epoch 4: finished saving model to {path}", ""]
    restored = keras.models.load_model(path)
    npt.assert_allclose(restored.predict(x, verbose=0), predictions[3], rtol=1e-6)
    assert os.listdir(tmp_path) == ["best.keras"]  # no staging files left behind


def test_formatted_paths_and_weights_only(tmp_path):
    model = small_model()
    snapshots = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(
        model.get_weights()))
    pattern = str(tmp_path / "w.{epoch:02d}-{val_loss:.2f}.weights.h5")
    train(model, [record, ModelCheckpoint(pattern, save_weights_only=True)], epochs=3,
          val_losses=[0.9, 0.8, 0.75])
    assert sorted(os.listdir(tmp_path)) == ["w.01-0.90.weights.h5", "w.02-0.80.weights.h5",
                                            "w.03-0.75.weights.h5"]
    fresh = small_model(seed=1)
    fresh.load_weights(str(tmp_path / "w.02-0.80.weights.h5"))
    for loaded, saved in zip(fresh.get_weights(), snapshots[1]):
        npt.assert_array_equal(loaded, saved)


def test_save_every_n_batches(tmp_path):
    pattern = str(tmp_path / "m-{epoch}-{batch}.weights.h5")
    train(small_model(), [ModelCheckpoint(pattern, save_weights_only=True, save_freq=3)],
          epochs=2)  # 4 batches an epoch: saves after global batches 3 and 6
    assert sorted(os.listdir(tmp_path)) == ["m-1-3.weights.h5", "m-2-2.weights.h5"]


def test_mode_and_initial_value_threshold(tmp_path):
    path = str(tmp_path / "acc.weights.h5")
    saves = []
    checkpoint = ModelCheckpoint(path, monitor="val_acc", mode="max", save_best_only=True,
                                 save_weights_only=True, initial_value_threshold=0.6)
    model = small_model()
    checkpoint.set_model(model)
    original = model.save_weights
    model.save_weights = lambda p, overwrite=True: (saves.append(p), original(p, overwrite))
    for epoch, acc in enumerate([0.5, 0.7, 0.65, 0.8]):
        checkpoint.on_epoch_begin(epoch)
        checkpoint.on_epoch_end(epoch, {"val_acc": acc})
    assert len(saves) == 2 and checkpoint.best == 0.8 and os.path.exists(path)


def test_missing_monitor_warns_and_saves(tmp_path):
    path = str(tmp_path / "m.weights.h5")
    with pytest.warns(UserWarning, match="Can save best model only with val_auc available"):
        train(small_model(), [ModelCheckpoint(path, monitor="val_auc", mode="max",
                                              save_best_only=True, save_weights_only=True)],
              epochs=1)
    assert os.path.exists(path)


def test_path_errors(tmp_path):
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        ModelCheckpoint("weights.h5", save_weights_only=True)
    with pytest.raises(ValueError, match="must end in `.keras`"):
        ModelCheckpoint("model.ckpt")
    with pytest.raises(ValueError, match="Unrecognized save_freq: 'batch'"):
        ModelCheckpoint("m.keras", save_freq="batch")
    with pytest.raises(KeyError, match=r"^Callback ModelCheckpoint.on_epoch_end raised: Failed "
                                       r"to format this callback filepath: .*Reason: field "
                                       r"'val_acc' is not among those available \(epoch, loss, "
                                       r"val_loss\)\.$"):
        train(small_model(), [ModelCheckpoint(str(tmp_path / "{val_acc}.keras"))], epochs=1)
    (tmp_path / "taken.keras").mkdir()
    with pytest.raises(IsADirectoryError, match="non-directory filepath"):
        train(small_model(), [ModelCheckpoint(str(tmp_path / "taken.keras"))], epochs=1)


def test_a_failed_save_leaves_the_previous_checkpoint_whole(tmp_path):
    path = tmp_path / "m.weights.h5"
    model = small_model()
    checkpoint = ModelCheckpoint(str(path), save_weights_only=True)
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0, {"val_loss": 1.0})
    before = path.read_bytes()
    original = model.save_weights

    def dies_midway(filepath, overwrite=True):
        with open(filepath, "wb") as f:
            f.write(b"half a file")
        raise OSError("disk full")

    model.save_weights = dies_midway
    with pytest.raises(OSError, match="disk full"):
        checkpoint.on_epoch_end(1, {"val_loss": 0.5})
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.weights.h5"]
    model.save_weights = original


def test_a_callback_that_raises_stops_fit_and_the_checkpoints_stay(tmp_path):
    """The issue's bad-input case: training stops with the callback named; what was saved
    stays."""
    x, y = regression_data()
    model = _compiled()
    pattern = str(tmp_path / "m-{epoch}.keras")
    with pytest.raises(RuntimeError, match=r"^Callback FailAt.on_epoch_end raised: killed at "
                                           r"epoch 2$"):
        model.fit(x, y, epochs=5, verbose=0, callbacks=[ModelCheckpoint(pattern), FailAt(2)])
    assert sorted(os.listdir(tmp_path)) == ["m-1.keras", "m-2.keras", "m-3.keras"]
    restored = keras.models.load_model(str(tmp_path / "m-3.keras"))
    npt.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


# -- BackupAndRestore ---------------------------------------------------------------------------
def _fit(model, callbacks, epochs=5):
    x, y = regression_data()
    return model.fit(x, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0,
                     callbacks=callbacks)


def test_an_interrupted_fit_resumes_where_it_stopped(tmp_path):
    backup_dir = str(tmp_path / "backup")
    reference = _compiled()
    initial = reference.get_weights()
    _fit(reference, [])

    model = _compiled()
    model.set_weights(initial)
    with pytest.raises(RuntimeError, match="Callback FailAt.on_epoch_end raised: killed at "
                                           "epoch 2"):
        _fit(model, [BackupAndRestore(backup_dir), FailAt(2)])
    with open(os.path.join(backup_dir, "training_metadata.json")) as f:
        metadata = json.load(f)
    assert metadata["epoch"] == 3  # epochs 0, 1 and 2 were backed up before the failure

    # a new process: a fresh model and optimizer, the same backup folder
    resumed = _compiled(seed=5)
    history = _fit(resumed, [BackupAndRestore(backup_dir)])
    assert history.epoch == [3, 4]
    for got, want in zip(resumed.get_weights(), reference.get_weights()):
        npt.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert int(resumed.optimizer.iterations.numpy()) == int(reference.optimizer.iterations
                                                            .numpy()) == 20
    assert not os.path.exists(backup_dir)  # deleted once training completes


def test_backups_kept_when_asked_and_every_n_batches(tmp_path):
    backup_dir = tmp_path / "backup"
    backup = BackupAndRestore(str(backup_dir), save_freq=3, delete_checkpoint=False)
    model = _compiled()
    saved_epochs = []
    record = LambdaCallback(on_train_batch_end=lambda batch, logs: saved_epochs.append(
        json.loads((backup_dir / "training_metadata.json").read_text())["epoch"])
        if (backup_dir / "training_metadata.json").exists() else None)
    _fit(model, [backup, record], epochs=2)
    metadata = json.loads((backup_dir / "training_metadata.json").read_text())
    # 4 batches an epoch, a backup every 3 counted across epochs (none at epoch ends, as
    # Keras): after batch 2 of epoch 0 and batch 1 of epoch 1; the epoch recorded is the one
    # in progress, which a resumed run starts over
    assert (metadata["epoch"], metadata["batch"]) == (1, 1)
    assert saved_epochs == [0, 0, 0, 1, 1, 1]
    checkpoints = [p.name for p in backup_dir.iterdir() if p.is_dir()]
    assert checkpoints == [metadata["checkpoint"]]  # older ones removed once replaced


def test_backup_in_a_custom_loop(tmp_path):
    backup_dir = str(tmp_path / "b")
    model = small_model()
    with pytest.raises(RuntimeError, match="killed at epoch 1"):
        train(model, [BackupAndRestore(backup_dir), FailAt(1)], epochs=3,
              optimizer=keras.optimizers.Adam(0.01))
    again = small_model(seed=3)
    run = train(again, [BackupAndRestore(backup_dir)], epochs=3,
                optimizer=keras.optimizers.Adam(0.01))
    assert run._history.epoch == [2]


def test_backup_errors(tmp_path):
    with pytest.raises(ValueError, match="Empty `backup_dir`"):
        BackupAndRestore("")
    with pytest.raises(ValueError, match="Invalid value for argument `save_freq`"):
        BackupAndRestore("b", save_freq="often")
    unbuilt = keras.Sequential([keras.layers.Dense(1)])
    backup = BackupAndRestore(str(tmp_path))
    backup.set_model(unbuilt)
    with pytest.raises(ValueError, match="must be built before you call `fit\\(\\)`"):
        backup.on_train_begin()
    (tmp_path / "training_metadata.json").write_text("{not json")
    backup.set_model(small_model())
    with pytest.raises(ValueError, match="is not a backup's metadata"):
        backup.on_train_begin()
