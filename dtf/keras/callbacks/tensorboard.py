"""`keras.callbacks.TensorBoard`: training curves, weight histograms and the model's graph as
TensorBoard event files (written by `dtf.summary`, no TensorFlow needed)."""

from __future__ import annotations

import json
import os
import time
import warnings

import numpy as np

from dtf import summary
from dtf.keras.callbacks.callback import Callback
from dtf.keras.callbacks.reduce_lr_on_plateau import learning_rate_of
from dtf.summary._proto import encode_event, encode_summary_value, encode_tensor

__all__ = ["TensorBoard"]


def _weight_name(weight):
    name = getattr(weight, "path", None) or getattr(weight, "name", "weight")
    return name.replace(":", "_")


def _weight_as_image(weight):
    """A weight as a `[k, h, w, 1]` image batch, as Keras lays it out (None if it has no
    2-D view)."""
    image = np.squeeze(np.asarray(weight, dtype=np.float32))
    if image.ndim == 1:
        image = image.reshape(1, image.shape[0], 1, 1)
    elif image.ndim == 2:
        if image.shape[0] > image.shape[1]:
            image = image.T
        image = image.reshape(1, image.shape[0], image.shape[1], 1)
    elif image.ndim == 3:
        image = np.transpose(image, (2, 0, 1))[..., None]  # channels_last kernels
    else:
        return None
    # Scaled into [0, 1] so the picture shows the weights' spread.
    low, high = float(image.min()), float(image.max())
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


class TensorBoard(Callback):
    """Writes TensorBoard event files: `log_dir/train` gets the training metrics and the
    learning rate per epoch (`epoch_loss`, `epoch_learning_rate`, ...) and, with `update_freq`,
    per batch (`batch_loss`, ...); `log_dir/validation` gets the validation metrics
    (`epoch_loss`, ... at each epoch; `evaluation_loss_vs_iterations` after each evaluation).

    Run `tensorboard --logdir log_dir` to see them.

    Args:
        log_dir: the folder of the event files.
        histogram_freq: every this many epochs, write histograms of the weights (0: never).
        write_graph: write the model's structure (its Keras config) for the Graphs
            dashboard's conceptual graph.
        write_images: with `histogram_freq`, also write the weights as images.
        write_steps_per_second: also write the training speed (`epoch_steps_per_second`).
        update_freq: `"epoch"`, `"batch"`, or write batch metrics every this many batches.
        profile_batch: must be 0: dtf has no profiler to trace batches with.
        embeddings_freq: must be 0: the Projector needs TensorFlow checkpoints.
        embeddings_metadata: unused.

    Example:
        >>> import tempfile
        >>> from dtf import keras
        >>> tensorboard = keras.callbacks.TensorBoard(log_dir=tempfile.mkdtemp(),
        ...                                           update_freq="batch")
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        if update_freq != "epoch" and update_freq != "batch" and (
                not isinstance(update_freq, int) or isinstance(update_freq, bool)
                or update_freq <= 0):
            raise ValueError(f"TensorBoard update_freq must be 'epoch', 'batch' or a positive "
                             f"number of batches; got update_freq={update_freq!r}.")
        if not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError("TensorBoard histogram_freq must be a non-negative integer; got "
                             f"histogram_freq={histogram_freq!r}.")
        if profile_batch not in (0, None, (0, 0), "0", "0,0"):
            raise ValueError(f"Profiling is not available in dtf: TensorBoard profile_batch "
                             f"must be 0; got profile_batch={profile_batch!r}.")
        if embeddings_freq:
            raise ValueError("TensorBoard embeddings_freq must be 0 in dtf: the Projector "
                             "reads TensorFlow checkpoints, which dtf does not write.")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._writers = {}
        self._global_train_batch = 0
        self._global_test_batch = 0
        self._epoch_start_time = None
        self._epoch_start_iterations = 0.0
        self._batch_start_time = 0.0
        self._should_write_graph = False

    def set_model(self, model):
        super().set_model(model)
        self._close_writers()
        self._writers = {}
        self._should_write_graph = bool(self.write_graph)

    # -- writers --------------------------------------------------------------------------------
    @property
    def _train_writer(self):
        if "train" not in self._writers:
            self._writers["train"] = summary.create_file_writer(self._train_dir)
        return self._writers["train"]

    @property
    def _val_writer(self):
        if "val" not in self._writers:
            self._writers["val"] = summary.create_file_writer(self._val_dir)
        return self._writers["val"]

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()

    def _scalars(self, writer, values, step, prefix=""):
        with writer.as_default(step=step), summary.record_if(True):
            for name, value in values.items():
                if np.ndim(value) == 0 and np.asarray(value).dtype.kind in "biuf":
                    summary.scalar(prefix + name, value)

    # -- hooks ----------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        if self._should_write_graph:
            self._write_model_graph()
            self._should_write_graph = False

    def on_train_end(self, logs=None):
        self._close_writers()
        self._writers = {}

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start_time = time.time()
            self._epoch_start_iterations = self._iterations()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        values = dict(logs or {})
        if self.write_steps_per_second:
            elapsed = time.time() - self._batch_start_time
            if elapsed > 0:
                values["steps_per_second"] = 1.0 / elapsed
        self._scalars(self._train_writer, values, self._global_train_batch, prefix="batch_")

    def on_test_batch_begin(self, batch, logs=None):
        self._global_test_batch += 1

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if logs and optimizer is not None and hasattr(optimizer, "iterations"):
            step = int(np.asarray(optimizer.iterations))
            with self._val_writer.as_default(step=step), summary.record_if(True):
                for name, value in logs.items():
                    if np.ndim(value) == 0:
                        summary.scalar(f"evaluation_{name}_vs_iterations", value)

    def on_epoch_end(self, epoch, logs=None):
        self._log_epoch_metrics(epoch, logs or {})
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)

    # -- what is written ------------------------------------------------------------------------
    def _iterations(self):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "iterations"):
            return 0.0
        return float(np.asarray(optimizer.iterations))

    def _log_epoch_metrics(self, epoch, logs):
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        if optimizer is not None and hasattr(optimizer, "learning_rate"):
            parts = getattr(optimizer, "optimizers", None)
            if parts:
                for part in parts:
                    train_logs[f"learning_rate_{part.name}"] = learning_rate_of(part)
            else:
                train_logs["learning_rate"] = learning_rate_of(optimizer)
        if self.write_steps_per_second and self._epoch_start_time is not None:
            elapsed = time.time() - self._epoch_start_time
            if elapsed > 0:
                train_logs["steps_per_second"] = (
                    (self._iterations() - self._epoch_start_iterations) / elapsed)
        if train_logs:
            self._scalars(self._train_writer, train_logs, epoch, prefix="epoch_")
        if val_logs:
            self._scalars(self._val_writer, val_logs, epoch, prefix="epoch_")

    def _log_weights(self, epoch):
        writer = self._train_writer
        with writer.as_default(step=epoch), summary.record_if(True):
            for layer in getattr(self.model, "layers", []):
                for weight in layer.weights:
                    name = _weight_name(weight)
                    values = np.asarray(weight)
                    summary.histogram(f"{name}/histogram", values)
                    if self.write_images:
                        image = _weight_as_image(values)
                        if image is not None:
                            summary.image(f"{name}/image", image)

    def _write_model_graph(self):
        """The model's Keras config under the `graph_keras_model` plugin, as Keras writes it
        (TensorBoard's Graphs dashboard draws it as the conceptual graph)."""
        if type(self.model).__name__ not in ("Sequential", "Functional"):
            return
        try:
            to_json = getattr(self.model, "to_json", None)
            if to_json is not None:
                config = to_json()
            else:
                from dtf.keras.saving import serialize_keras_object

                config = json.dumps(serialize_keras_object(self.model))
        except Exception as error:  # noqa: BLE001  (no get_config: no graph, as Keras)
            warnings.warn(f"Model failed to serialize as JSON. Ignoring... {error}",
                          stacklevel=2)
            return
        value = encode_summary_value("keras", encode_tensor(np.array(config, dtype=object)),
                                     "graph_keras_model", content=b"1")
        writer = self._train_writer
        writer.write_event(encode_event(time.time(), 0, [value]))
        writer.flush()
