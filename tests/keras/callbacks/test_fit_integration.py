"""Callbacks and the progress bar through `model.fit`, `evaluate` and `predict`."""

import re

import numpy as np
import pytest
from _callbacks_loop import regression_data, small_model

from dtf import keras
from dtf.keras.callbacks import Callback

BAR_LINE = r"4/4 \[={30}\] - \d+s \d+(us|ms)/step"
METRIC = r"\d+\.\d{4}"


def _compiled():
    model = small_model()
    model.compile(keras.optimizers.SGD(0.05), "mse", metrics=["mae"])
    return model


def test_fit_prints_keras_progress_lines(capsys):
    x, y = regression_data()
    _compiled().fit(x, y, batch_size=16, epochs=2, validation_data=(x, y))
    lines = capsys.readouterr().out.split("\n")
    assert lines[0] == "Epoch 1/2" and lines[-1] == ""
    epoch_ends = [i for i, line in enumerate(lines) if line.startswith("4/4 [")]
    assert len(epoch_ends) == 2 and lines[epoch_ends[0] + 1] == "Epoch 2/2"
    for i in epoch_ends:
        assert re.fullmatch(f"{BAR_LINE} - loss: {METRIC} - mae: {METRIC} - val_loss: "
                            f"{METRIC} - val_mae: {METRIC}", lines[i]), lines[i]
    for line in lines[1:epoch_ends[0]]:  # the updates before the end: a bar and an ETA
        assert re.fullmatch(rf"[1-3]/4 \[=*>\.*\] - ETA: \d+s - loss: {METRIC} - mae: "
                            f"{METRIC}", line), line


def test_fit_verbose_2_prints_one_line_per_epoch(capsys):
    x, y = regression_data()
    _compiled().fit(x, y, batch_size=16, epochs=2, verbose=2)
    lines = capsys.readouterr().out.split("\n")
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 5
    for line in (lines[1], lines[3]):
        assert re.fullmatch(rf"4/4 - \d+s - loss: {METRIC} - mae: {METRIC} - \d+(s|ms|us)/epoch"
                            r" - \d+(s|ms|us)/step", line), line


def test_evaluate_and_predict_bars(capsys):
    x, y = regression_data()
    model = _compiled()
    model.evaluate(x, y, batch_size=16)
    last = capsys.readouterr().out.split("\n")[-2]
    assert re.fullmatch(f"{BAR_LINE} - loss: {METRIC} - mae: {METRIC}", last), last
    model.predict(x, batch_size=16)
    last = capsys.readouterr().out.split("\n")[-2]
    assert re.fullmatch(BAR_LINE, last), last


def test_verbose_0_prints_nothing(capsys):
    x, y = regression_data()
    model = _compiled()
    model.fit(x, y, epochs=2, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_callbacks_get_params_model_and_logs():
    seen = {}

    class Spy(Callback):
        def on_train_begin(self, logs=None):
            seen["params"] = dict(self.params)
            seen["model"] = self.model

        def on_train_batch_end(self, batch, logs=None):
            seen.setdefault("batches", []).append(batch)

        def on_epoch_end(self, epoch, logs=None):
            seen.setdefault("epochs", []).append((epoch, sorted(logs)))

    x, y = regression_data()
    model = _compiled()
    history = model.fit(x, y, batch_size=32, epochs=2, verbose=0, validation_split=0.5,
                        callbacks=[Spy()])
    assert seen["params"] == {"verbose": 0, "epochs": 2, "steps": 1}
    assert seen["model"] is model and history is model.history
    assert seen["batches"] == [0, 0]
    assert seen["epochs"] == [(e, ["loss", "mae", "val_loss", "val_mae"]) for e in (0, 1)]


def test_a_failing_callback_stops_fit_with_its_name():
    class Boom(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                raise ValueError("broken hook")

    x, y = regression_data()
    model = _compiled()
    with pytest.raises(ValueError, match=r"^Callback Boom.on_train_batch_end raised: broken "
                                         r"hook$") as info:
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[Boom()])
    assert str(info.value.__cause__) == "broken hook"
    assert int(model.optimizer.iterations.numpy()) == 2  # no batch after the failing hook
    weights = model.get_weights()
    assert all(np.isfinite(w).all() for w in weights)


def test_stop_training_from_a_callback_ends_fit_after_the_batch():
    class StopAtThird(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    x, y = regression_data()
    model = _compiled()
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0, callbacks=[StopAtThird()])
    assert history.epoch == [0] and int(model.optimizer.iterations.numpy()) == 3
