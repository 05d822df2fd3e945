"""CSVLogger, TerminateOnNaN and LambdaCallback in a real training loop."""

import csv

import numpy as np
import numpy.testing as npt
import pytest
from _callbacks_loop import regression_data, small_model, train

from dtf import keras
from dtf.keras.callbacks import CSVLogger, LambdaCallback, TerminateOnNaN


# -- CSVLogger ----------------------------------------------------------------------------------
def _rows(path, delimiter=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=delimiter))


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    run = train(small_model(), [CSVLogger(path)], epochs=3)
    rows = _rows(path)
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [row[0] for row in rows[1:]] == ["0", "1", "2"]
    npt.assert_allclose([float(row[1]) for row in rows[1:]], run._history.history["loss"])
    npt.assert_allclose([float(row[2]) for row in rows[1:]], run._history.history["val_loss"])


def test_csv_logger_rows_reach_the_disk_at_each_epoch(tmp_path):
    path = tmp_path / "log.csv"
    seen = []
    peek = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(len(_rows(path))))
    train(small_model(), [CSVLogger(path), peek], epochs=2)
    assert seen == [2, 3]  # header + rows so far, read while training runs


def test_csv_logger_append_separator_and_missing_values(tmp_path):
    path = tmp_path / "sub" / "log.tsv"
    logger = CSVLogger(path, separator="\t", append=True)
    train(small_model(), [logger], epochs=1)
    train(small_model(), [logger], epochs=2)
    rows = _rows(path, "\t")
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [row[0] for row in rows[1:]] == ["0", "0", "1"]  # one header, rows appended
    # without validation the val_ columns are reserved and written NA
    other = tmp_path / "noval.csv"
    logger = CSVLogger(other)
    logger.set_model(small_model())
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 0.5, "acc": np.array([0.1, 0.2])})
    logger.on_train_end()
    assert _rows(other) == [["epoch", "acc", "loss", "val_acc", "val_loss"],
                            ["0", '"[0.1, 0.2]"', "0.5", "NA", "NA"]]
    assert logger.csv_file.closed


def test_csv_logger_overwrites_without_append(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("old contents\n")
    train(small_model(), [CSVLogger(path)], epochs=1)
    assert _rows(path)[0] == ["epoch", "loss", "val_loss"] and len(_rows(path)) == 2


# -- TerminateOnNaN -----------------------------------------------------------------------------
def _nan_data():
    x, y = regression_data()
    y = y.copy()
    y[20] = np.nan  # in the second batch of 16
    return x, y


def test_terminate_on_nan_stops_at_the_first_nan_batch(capsys):
    model = small_model()
    batches = []
    count = LambdaCallback(on_train_batch_end=lambda batch, logs: batches.append(batch))
    run = train(model, [count, TerminateOnNaN()], epochs=3, data=_nan_data())
    assert batches == [0, 1] and run._history.epoch == [0]
    assert model.stop_training
    assert capsys.readouterr().out == "Batch 1: Invalid loss, terminating training\n"


def test_terminate_on_nan_can_raise():
    with pytest.raises(RuntimeError, match=r"^Callback TerminateOnNaN.on_train_batch_end "
                                           r"raised: NaN or Inf loss encountered at batch 1"):
        train(small_model(), [TerminateOnNaN(raise_error=True)], epochs=1, data=_nan_data())


def test_terminate_on_nan_through_fit():
    x, y = _nan_data()
    model = small_model()
    model.compile("sgd", "mse")
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0,
                        callbacks=[TerminateOnNaN()])
    assert len(history.epoch) <= 1 and model.stop_training


# -- LambdaCallback -----------------------------------------------------------------------------
def test_lambda_callback_hooks():
    calls = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append("train_end"),
        on_test_end=lambda logs: calls.append("test_end"), label="mine")
    train(small_model(), [callback], epochs=1, batch_size=32)
    assert calls == ["train_begin", ("epoch_begin", 0), ("batch_begin", 0), ("batch_end", 0),
                     ("batch_begin", 1), ("batch_end", 1),
                     ("epoch_end", 0, ["loss", "val_loss"]), "train_end"]
    assert callback.label == "mine"
    callback.on_test_end({})
    assert calls[-1] == "test_end"


def test_lambda_callback_keras2_batch_alias():
    seen = []
    callback = LambdaCallback(on_batch_end=lambda batch, logs: seen.append(logs["loss"]))
    train(small_model(), [callback], epochs=1, batch_size=32)
    assert len(seen) == 2 and all(type(v) is float for v in seen)


def test_lambda_callback_errors():
    with pytest.raises(ValueError, match="got on_epoch_ended=..., which is no callback hook"):
        LambdaCallback(on_epoch_ended=print)
    with pytest.raises(TypeError, match="on_epoch_end must be a function"):
        LambdaCallback(on_epoch_end="print")


def test_lambda_callback_through_fit_sees_every_epoch():
    model = small_model()
    model.compile("sgd", "mse")
    epochs = []
    x, y = regression_data()
    model.fit(x, y, epochs=3, verbose=0,
              callbacks=[keras.callbacks.LambdaCallback(
                  on_epoch_end=lambda epoch, logs: epochs.append((epoch, sorted(logs))))])
    assert epochs == [(0, ["loss"]), (1, ["loss"]), (2, ["loss"])]
