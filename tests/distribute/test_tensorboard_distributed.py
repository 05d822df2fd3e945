"""keras.callbacks.TensorBoard under ParameterServerStrategy: the driver runs the callbacks, so
a distributed `fit` writes the same event files as one process would, with the epoch logs that
`fit` returns (read back with TensorBoard's own reader)."""

import os

import numpy as np
import pytest
from ps_helpers import X, Y, make_model, max_weight_difference

import dtf
from dtf import keras

ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                         reason="the tensorboard package reads the event files back")
from tensorboard.util import tensor_util  # after the importorskip above


def _load(path):
    accumulator = ea.EventAccumulator(str(path), size_guidance={ea.TENSORS: 0})
    accumulator.Reload()
    return accumulator


def _scalars(accumulator, tag):
    events = accumulator.Tensors(tag)
    return [e.step for e in events], [float(tensor_util.make_ndarray(e.tensor_proto))
                                      for e in events]


def test_distributed_fit_writes_the_epoch_logs_for_tensorboard(tmp_path):
    strategy = dtf.distribute.ParameterServerStrategy(num_workers=2, cluster="local")
    try:
        with strategy.scope():
            model = make_model()
        history = model.fit(X, Y, batch_size=20, epochs=3, validation_split=0.2, verbose=0,
                            shuffle=False, callbacks=[keras.callbacks.TensorBoard(tmp_path)])
    finally:
        strategy.shutdown()
    logs = history.history
    assert set(logs) >= {"loss", "accuracy", "val_loss", "val_accuracy"}

    # One events file per run, written by the driver (this process), none by the workers.
    train_dir, val_dir = tmp_path / "train", tmp_path / "validation"
    for directory in (train_dir, val_dir):
        files = [f for f in os.listdir(directory) if "tfevents" in f]
        assert len(files) == 1, files
    train_logs, val_logs = _load(train_dir), _load(val_dir)
    assert {"epoch_loss", "epoch_accuracy"} <= set(train_logs.Tags()["tensors"])
    assert {"epoch_loss", "epoch_accuracy"} <= set(val_logs.Tags()["tensors"])
    for accumulator, prefix in ((train_logs, ""), (val_logs, "val_")):
        for metric in ("loss", "accuracy"):
            steps, values = _scalars(accumulator, f"epoch_{metric}")
            assert steps == [0, 1, 2]
            np.testing.assert_allclose(values, logs[prefix + metric], rtol=1e-6)


def test_tensorboard_logs_of_a_sync_run_equal_one_process(tmp_path):
    # Sync training equals one process on the same batches: so do its TensorBoard curves.
    single = make_model()
    single.fit(X, Y, batch_size=32, epochs=2, shuffle=False, verbose=0,
               callbacks=[keras.callbacks.TensorBoard(tmp_path / "single", write_graph=False)])
    strategy = dtf.distribute.ParameterServerStrategy(num_workers=2, cluster="local")
    try:
        with strategy.scope():
            model = make_model()
        model.fit(X, Y, batch_size=32, epochs=2, shuffle=False, verbose=0,
                  callbacks=[keras.callbacks.TensorBoard(tmp_path / "ps", write_graph=False)])
    finally:
        strategy.shutdown()
    assert max_weight_difference(model, single) < 1e-5
    for metric in ("epoch_loss", "epoch_accuracy"):
        one = _scalars(_load(tmp_path / "single" / "train"), metric)
        two = _scalars(_load(tmp_path / "ps" / "train"), metric)
        assert one[0] == two[0] == [0, 1]
        np.testing.assert_allclose(two[1], one[1], rtol=1e-5)
