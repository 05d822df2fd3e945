"""keras.callbacks.TensorBoard: real event files, read back with TensorBoard's own reader."""

import json

import numpy as np
import numpy.testing as npt
import pytest
from _callbacks_loop import regression_data, small_model, train
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.util import tensor_util

from dtf import keras
from dtf.keras.callbacks import TensorBoard


def _load(path):
    accumulator = ea.EventAccumulator(str(path), size_guidance={ea.TENSORS: 0})
    accumulator.Reload()
    return accumulator


def _series(accumulator, tag):
    events = accumulator.Tensors(tag)
    return [e.step for e in events], [tensor_util.make_ndarray(e.tensor_proto).item()
                                      if tensor_util.make_ndarray(e.tensor_proto).ndim == 0
                                      else tensor_util.make_ndarray(e.tensor_proto)
                                      for e in events]


def test_epoch_metrics_learning_rate_and_graph(tmp_path):
    optimizer = keras.optimizers.SGD(0.05)
    run = train(small_model(), [TensorBoard(tmp_path)], epochs=3, optimizer=optimizer)
    history = run._history.history
    train_logs, val_logs = _load(tmp_path / "train"), _load(tmp_path / "validation")
    assert set(train_logs.Tags()["tensors"]) == {"keras", "epoch_loss", "epoch_learning_rate"}
    assert set(val_logs.Tags()["tensors"]) == {"epoch_loss"}
    steps, losses = _series(train_logs, "epoch_loss")
    assert steps == [0, 1, 2]
    npt.assert_allclose(losses, history["loss"], rtol=1e-6)
    npt.assert_allclose(_series(val_logs, "epoch_loss")[1], history["val_loss"], rtol=1e-6)
    npt.assert_allclose(_series(train_logs, "epoch_learning_rate")[1], [0.05] * 3, rtol=1e-6)
    assert train_logs.SummaryMetadata("epoch_loss").plugin_data.plugin_name == "scalars"
    graph = train_logs.Tensors("keras")[0]
    config = json.loads(tensor_util.make_ndarray(graph.tensor_proto).item())
    assert config["class_name"] == "Sequential" and graph.step == 0
    metadata = train_logs.SummaryMetadata("keras").plugin_data
    assert metadata.plugin_name == "graph_keras_model" and metadata.content == b"1"


@pytest.mark.parametrize("update_freq, steps", [("batch", [1, 2, 3, 4, 5, 6, 7, 8]),
                                                 (3, [3, 6])])
def test_batch_metrics(tmp_path, update_freq, steps):
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(logs["loss"]))
    train(small_model(), [record, TensorBoard(tmp_path, update_freq=update_freq,
                                              write_graph=False)], epochs=2)
    accumulator = _load(tmp_path / "train")
    got_steps, values = _series(accumulator, "batch_loss")
    assert got_steps == steps  # global batch numbers, counted across epochs from 1
    npt.assert_allclose(values, [seen[s - 1] for s in steps], rtol=1e-6)
    assert _series(accumulator, "epoch_loss")[0] == [0, 1]


def test_weight_histograms_and_images(tmp_path):
    model = small_model()
    train(model, [TensorBoard(tmp_path, histogram_freq=2, write_images=True,
                              write_graph=False)], epochs=3)
    accumulator = _load(tmp_path / "train")
    tags = set(accumulator.Tags()["tensors"])
    kernel = model.layers[0].weights[0]
    name = kernel.path.replace(":", "_")
    assert f"{name}/histogram" in tags and f"{name}/image" in tags
    steps, tables = _series(accumulator, f"{name}/histogram")
    assert steps == [0, 2]  # every histogram_freq epochs
    assert tables[-1].shape == (30, 3) and tables[-1][:, 2].sum() == 3 * 4
    npt.assert_allclose(tables[-1][0, 0], kernel.numpy().min(), rtol=1e-6)
    image = accumulator.Tensors(f"{name}/image")[0]
    width, height = tensor_util.make_ndarray(image.tensor_proto)[:2]
    assert (int(width), int(height)) == (4, 3)  # the 3x4 kernel: already wider than tall
    assert accumulator.SummaryMetadata(f"{name}/image").plugin_data.plugin_name == "images"


def test_steps_per_second(tmp_path):
    train(small_model(), [TensorBoard(tmp_path, write_steps_per_second=True,
                                      update_freq="batch", write_graph=False)], epochs=1)
    accumulator = _load(tmp_path / "train")
    assert _series(accumulator, "epoch_steps_per_second")[1][0] > 0
    assert len(_series(accumulator, "batch_steps_per_second")[0]) == 4


def test_through_fit_and_evaluate(tmp_path):
    x, y = regression_data()
    model = small_model()
    model.compile(keras.optimizers.Adam(0.01), "mse", metrics=["mae"])
    tensorboard = TensorBoard(tmp_path / "logs", update_freq=2)
    history = model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, verbose=0,
                        callbacks=[tensorboard])
    model.evaluate(x, y, verbose=0, callbacks=[tensorboard])
    train_logs = _load(tmp_path / "logs" / "train")
    val_logs = _load(tmp_path / "logs" / "validation")
    npt.assert_allclose(_series(train_logs, "epoch_loss")[1], history.history["loss"],
                        rtol=1e-6)
    npt.assert_allclose(_series(train_logs, "epoch_mae")[1], history.history["mae"], rtol=1e-6)
    npt.assert_allclose(_series(val_logs, "epoch_loss")[1], history.history["val_loss"],
                        rtol=1e-6)
    assert _series(train_logs, "batch_loss")[0] == [2, 4, 6]
    # evaluate: the results against the optimizer's step count
    steps, values = _series(val_logs, "evaluation_loss_vs_iterations")
    assert steps[-1] == 6
    npt.assert_allclose(values[-1], model.evaluate(x, y, verbose=0)[0], rtol=1e-5)


def test_a_second_fit_writes_new_files(tmp_path):
    tensorboard = TensorBoard(tmp_path, write_graph=False)
    model = small_model()
    train(model, [tensorboard], epochs=1)
    train(model, [tensorboard], epochs=2)
    assert len(list((tmp_path / "train").iterdir())) == 2
    assert _series(_load(tmp_path / "train"), "epoch_loss")[0] == [0, 0, 1]


def test_subclassed_models_get_no_graph(tmp_path):
    class Mlp(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

    model = Mlp()
    model(np.zeros((1, 3), "float32"))
    train(model, [TensorBoard(tmp_path)], epochs=1)
    assert "keras" not in _load(tmp_path / "train").Tags()["tensors"]


def test_bad_arguments():
    with pytest.raises(ValueError, match="Profiling is not available in dtf"):
        TensorBoard(profile_batch=2)
    with pytest.raises(ValueError, match="embeddings_freq must be 0"):
        TensorBoard(embeddings_freq=1)
    with pytest.raises(ValueError, match="update_freq must be 'epoch', 'batch'"):
        TensorBoard(update_freq="step")
    with pytest.raises(ValueError, match="histogram_freq must be a non-negative"):
        TensorBoard(histogram_freq=-1)
