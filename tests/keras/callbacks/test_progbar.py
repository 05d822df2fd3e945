"""keras.utils.Progbar and ProgbarLogger: Keras' exact format (bar, ETA, time per step,
metrics), in place on a terminal and one line per update otherwise, verbose=2 lines, and the
`Epoch i/n` lines of fit."""

import io

import pytest

from dtf import keras
from dtf.keras.callbacks import CallbackList, ProgbarLogger
from dtf.keras.utils import Progbar
from dtf.keras.utils import progbar as progbar_module


class Clock:
    def __init__(self, now=100.0):
        self.now = now

    def time(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(progbar_module, "time", fake)
    return fake


def _lines(text):
    return text.split("\n")


def test_the_seed_line(clock, capsys):
    """1875 steps of 999us after a slower first one: Keras' line as the seed shows it."""
    bar = Progbar(1875, stateful_metrics=["loss"])
    clock.now += 0.128
    for step in range(1, 1876):
        bar.update(step, [("loss", 0.0838)])
        clock.now += 0.000999
    out = capsys.readouterr().out
    lines = _lines(out)
    assert lines[-1] == ""
    assert lines[-2] == ("1875/1875 [==============================] - 2s 999us/step - "
                         "loss: 0.0838")
    assert lines[0] == "   1/1875 [..............................] - ETA: 3:59 - loss: 0.0838"
    # one line per drawn update (every 50 ms of the 2 s), each a bar with an ETA
    assert 30 < len(lines) < 50
    assert all(" - ETA: " in line for line in lines[:-2])


def test_bar_eta_and_averaged_values(clock, capsys):
    bar = Progbar(4, interval=0)
    clock.now += 0.5
    bar.update(1, [("loss", 4.0), ("acc", 0.0005)])
    clock.now += 0.25
    bar.update(3, [("loss", 1.0), ("acc", 0.0005)])  # covers steps 2 and 3: weight 2
    clock.now += 0.125
    bar.update(4, [("loss", 2.0), ("acc", 0.0005)])
    assert _lines(capsys.readouterr().out) == [
        "1/4 [======>.......................] - ETA: 1s - loss: 4.0000 - acc: 5.0000e-04",
        "3/4 [=====================>........] - ETA: 0s - loss: 2.0000 - acc: 5.0000e-04",
        "4/4 [==============================] - 1s 125ms/step - loss: 2.0000 - acc: 5.0000e-04",
        ""]


def test_redrawn_in_place_on_a_terminal(clock, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    bar = Progbar(2, interval=0)
    clock.now += 0.002
    bar.update(1, [("loss", 0.5)])
    clock.now += 0.002
    bar.update(2, [("loss", 0.5)])
    first = "1/2 [==============>...............] - ETA: 0s - loss: 0.5000"
    second = "2/2 [==============================] - 0s 2ms/step - loss: 0.5000"
    assert terminal.getvalue() == "\r" + first + "\b" * len(first) + "\r" + second + "\n"


def test_a_shorter_redraw_is_padded_over_the_longer_one(clock, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    bar = Progbar(None, interval=0, stateful_metrics=["loss"])
    bar.update(1, [("loss", 12345.5)])
    bar.update(2, [("loss", 1.5)])
    text = terminal.getvalue()
    first, second = text[1:].split("\r")
    assert len(second) == len(first.rstrip("\b"))  # old characters overwritten by spaces


def test_unknown_target(clock, capsys):
    bar = Progbar(None, interval=0)
    clock.now += 0.003
    bar.update(3, [("loss", 1.0)])
    bar.update(3, finalize=True)
    assert _lines(capsys.readouterr().out) == [
        "      3/Unknown - 0s 1ms/step - loss: 1.0000",
        "      3/Unknown - 0s 1ms/step - loss: 1.0000", ""]


def test_verbose_2_prints_one_line_at_the_end(clock, capsys):
    bar = Progbar(4, verbose=2)
    for _ in range(4):
        clock.now += 0.5
        bar.add(1, [("loss", 0.25)])
    assert capsys.readouterr().out == "4/4 - 2s - loss: 0.2500 - 2s/epoch - 500ms/step\n"


def test_verbose_0_prints_nothing(clock, capsys):
    bar = Progbar(2, verbose=0)
    bar.update(1, [("loss", 1.0)])
    bar.update(2, [("loss", 1.0)])
    assert capsys.readouterr().out == ""


def test_interval_limits_redraws_but_not_the_last(clock, capsys):
    bar = Progbar(100, interval=10.0)
    for step in range(1, 101):
        clock.now += 0.01
        bar.update(step)
    lines = _lines(capsys.readouterr().out)
    assert len(lines) == 3 and lines[1].startswith("100/100 [====")


def test_time_and_eta_formats():
    fmt = progbar_module.format_duration
    assert fmt(0, "step") == " 0s/step"
    assert fmt(1.5, "epoch") == " 2s/epoch"
    assert fmt(0.0123, "step") == " 12ms/step"
    assert fmt(5e-5, "sample") == " 50us/sample"
    eta = progbar_module._format_eta
    assert eta(3700.0) == "1:01:40" and eta(125.9) == "2:05" and eta(59.9) == "59s"


def test_values_may_be_tensors_and_arrays(clock, capsys):
    import numpy as np

    import dtf
    bar = Progbar(1, stateful_metrics=["loss"])
    bar.update(1, [("loss", dtf.constant(0.5)), ("vec", np.array([1.0, 3.0]))])
    assert capsys.readouterr().out.endswith("- loss: 0.5000 - vec: 2.0000\n")


def test_bad_arguments():
    with pytest.raises(ValueError, match="verbose must be 0, 1 or 2"):
        Progbar(3, verbose=3)
    with pytest.raises(ValueError, match="target must be a non-negative"):
        Progbar(-1)


# -- ProgbarLogger ------------------------------------------------------------------------------
def _logger_run(verbose, epochs=2, steps=3, validate=True):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    callbacks = CallbackList([], add_progbar=True, model=model, verbose=verbose,
                             epochs=epochs, steps=steps)
    callbacks.on_train_begin()
    for epoch in range(epochs):
        callbacks.on_epoch_begin(epoch)
        for step in range(steps):
            callbacks.on_train_batch_begin(step)
            callbacks.on_train_batch_end(step, {"loss": 1.0 / (step + 1)})
        logs = {"loss": 1.0 / steps}
        if validate:  # validation inside fit: silent
            callbacks.on_test_begin()
            callbacks.on_test_batch_end(0, {"loss": 9.0})
            callbacks.on_test_end({"loss": 9.0})
            logs["val_loss"] = 0.5
        callbacks.on_epoch_end(epoch, logs)
    callbacks.on_train_end(logs)
    return callbacks


def test_progbar_logger_in_fit(clock, capsys):
    _logger_run(verbose=1)
    lines = _lines(capsys.readouterr().out)
    assert lines[0] == "Epoch 1/2"
    assert lines[1].startswith("1/3 [=========>....................] - ETA: ")
    assert lines[2] == ("3/3 [==============================] - 0s 0s/step - loss: 0.3333 - "
                        "val_loss: 0.5000")
    assert lines[3] == "Epoch 2/2"
    assert "9.0000" not in "".join(lines)  # validation printed nothing of its own


def test_progbar_logger_verbose_2(clock, capsys):
    _logger_run(verbose=2)
    assert capsys.readouterr().out == (
        "Epoch 1/2\n3/3 - 0s - loss: 0.3333 - val_loss: 0.5000 - 0s/epoch - 0s/step\n"
        "Epoch 2/2\n3/3 - 0s - loss: 0.3333 - val_loss: 0.5000 - 0s/epoch - 0s/step\n")


def test_no_epoch_line_for_a_single_epoch(clock, capsys):
    _logger_run(verbose=1, epochs=1, validate=False)
    lines = _lines(capsys.readouterr().out)
    assert lines[0].startswith("1/3 [")
    assert lines[-2].startswith("3/3 [=====")


def test_progbar_logger_in_evaluate_and_predict(clock, capsys):
    logger = ProgbarLogger()
    callbacks = CallbackList([logger], verbose=1, epochs=1, steps=2)
    callbacks.on_test_begin()
    callbacks.on_test_batch_end(0, {"loss": 2.0})
    callbacks.on_test_batch_end(1, {"loss": 1.0})
    callbacks.on_test_end({"loss": 1.5})
    out = _lines(capsys.readouterr().out)
    assert out[-2] == "2/2 [==============================] - 0s 0s/step - loss: 1.5000"
    callbacks.on_predict_begin()
    callbacks.on_predict_batch_end(0, {"outputs": [1.0]})
    callbacks.on_predict_batch_end(1, {"outputs": [1.0]})
    callbacks.on_predict_end()
    out = _lines(capsys.readouterr().out)
    assert out[-2] == "2/2 [==============================] - 0s 0s/step"


def test_unknown_steps_learn_the_target_after_the_first_epoch(clock, capsys):
    logger = ProgbarLogger()
    callbacks = CallbackList([logger], verbose=1, epochs=2, steps=None)
    callbacks.on_train_begin()
    for epoch in range(2):
        callbacks.on_epoch_begin(epoch)
        for step in range(2):
            callbacks.on_train_batch_end(step, {"loss": 1.0})
        callbacks.on_epoch_end(epoch, {"loss": 1.0})
    lines = _lines(capsys.readouterr().out)
    assert lines[1] == "      1/Unknown - 0s 0s/step - loss: 1.0000"
    assert lines[2] == "2/2 [==============================] - 0s 0s/step - loss: 1.0000"
    assert lines[4].startswith("1/2 [==============>...............] - ETA: 0s")
