"""Keras' built-in training loops: `compile`, `fit`, `evaluate`, `predict` and their per-batch
forms, as a mixin of `keras.Model`.

`fit` iterates the batches of a `DataAdapter`, calls `train_step` on each (a GradientTape
step: forward, compiled loss plus the model's `losses`, gradients, `optimizer.apply_gradients`,
compiled metrics), and drives the callbacks; `evaluate` and `predict` do the same with
`test_step` and `predict_step`. Each step is an overridable method, as in Keras ("customizing
what happens in fit"). The step runs through `dtf.function` unless `run_eagerly=True`, once
dtf has `dtf.function`; until then it runs eagerly.

Example:
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> history = model.fit(np.ones((8, 4)), np.ones((8, 1)), epochs=2, verbose=0)
    >>> len(history.history["loss"])
    2
"""

from __future__ import annotations

import itertools

import numpy as np

from dtf import nest
from dtf.keras.trainers.compile_utils import CompileLoss, CompileMetrics, metric_results
from dtf.keras.trainers.data_adapter import DataAdapter, unpack_x_y_sample_weight
from dtf.tensor import Tensor

__all__ = ["Trainer"]


def _python_logs(logs):
    """Scalar tensors to Python floats (what callbacks and History receive)."""
    out = {}
    for key, value in (logs or {}).items():
        if isinstance(value, dict):  # a train_step returning the compiled metrics' dict
            out.update(_python_logs(value))
            continue
        if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False):
            value = value.numpy()
        if isinstance(value, np.ndarray) and value.ndim == 0 or isinstance(value, np.generic):
            value = float(value)
        out[key] = value
    return out


def _verbose(verbose):
    if verbose == "auto":
        return 1
    return int(verbose)


class Trainer:
    """The training API of `keras.Model` (see the module docstring)."""

    # -- compile -----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configures the model for training.

        Args:
            optimizer: an optimizer, or its name ("adam", "sgd", ...).
            loss: a loss (name, function or `keras.losses.Loss`), or a list/dict of them for a
                model with several outputs.
            loss_weights: scalars weighting each output's loss in the total.
            metrics: metrics (names such as "accuracy" and "mse", functions, `Metric`s), a list
                per output, or a dict keyed by output name.
            weighted_metrics: metrics that take `sample_weight` into account.
            run_eagerly: run the train step eagerly instead of as a compiled `dtf.function`.
            steps_per_execution: steps run between two callback calls.
        """
        from dtf.keras import optimizers

        opt = optimizers.get(optimizer)
        names = self._compile_output_names(loss)
        compiled_loss = CompileLoss(loss, loss_weights, names) if loss is not None else None
        compiled_metrics = CompileMetrics(metrics, weighted_metrics, names, compiled_loss)
        if int(steps_per_execution) < 1:
            raise ValueError(f"steps_per_execution must be >= 1, got {steps_per_execution}.")
        from dtf.keras.metrics import Mean

        state = {
            "optimizer": opt, "loss": loss, "compiled_loss": compiled_loss,
            "compiled_metrics": compiled_metrics, "_loss_tracker": Mean(name="loss"),
            "_run_eagerly": bool(run_eagerly), "_steps_per_execution": int(steps_per_execution),
            "_compile_config": {"optimizer": optimizer, "loss": loss,
                                "loss_weights": loss_weights, "metrics": metrics,
                                "weighted_metrics": weighted_metrics,
                                "run_eagerly": run_eagerly,
                                "steps_per_execution": steps_per_execution},
            "_is_compiled": True, "_train_function": None, "_test_function": None,
            "_predict_function": None, "stop_training": False,
        }
        for key, value in state.items():
            object.__setattr__(self, key, value)

    def _compile_output_names(self, loss):
        names = getattr(self, "output_names", None)
        if names:
            return list(names)
        layers = self._tracker.layers
        if type(self).__name__ == "Sequential" and layers:
            return [layers[-1].name]
        if isinstance(loss, dict):
            return list(loss)
        if isinstance(loss, (list, tuple)) and len(loss) > 1:
            return [f"output_{i + 1}" for i in range(len(loss))]
        return ["output_1"]

    @property
    def compiled(self):
        return bool(self.__dict__.get("_is_compiled"))

    @property
    def run_eagerly(self):
        return self.__dict__.get("_run_eagerly", False)

    @run_eagerly.setter
    def run_eagerly(self, value):
        object.__setattr__(self, "_run_eagerly", bool(value))
        for name in ("_train_function", "_test_function", "_predict_function"):
            object.__setattr__(self, name, None)

    def _assert_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"You must call `compile()` before calling `{what}()`.")

    def get_compile_config(self):
        """The `compile()` arguments, serialized (None if the model was not compiled)."""
        if not self.compiled:
            return None
        from dtf.keras.saving import serialization

        config = dict(self._compile_config)
        config["optimizer"] = serialization.serialize_keras_object(self.optimizer)
        for key in ("loss", "metrics", "weighted_metrics", "loss_weights"):
            config[key] = serialization.serialize_keras_object(config[key])
        return config

    def compile_from_config(self, config, custom_objects=None):
        """Compiles the model again from `get_compile_config()`'s result."""
        from dtf.keras import losses, metrics, optimizers
        from dtf.keras.saving import serialization

        def load(value, module):
            if isinstance(value, dict) and "class_name" in value:
                return serialization.deserialize_keras_object(
                    value, module_objects=module, custom_objects=custom_objects)
            if isinstance(value, (list, tuple)):
                return [load(v, module) for v in value]
            if isinstance(value, dict):
                return {k: load(v, module) for k, v in value.items()}
            return value

        config = dict(config)
        optimizer = optimizers.deserialize(config.pop("optimizer"),
                                           custom_objects=custom_objects)
        loss = load(config.pop("loss"), losses.ALL_OBJECTS_DICT)
        metric_list = load(config.pop("metrics"), metrics.ALL_OBJECTS_DICT)
        weighted = load(config.pop("weighted_metrics"), metrics.ALL_OBJECTS_DICT)
        self.compile(optimizer=optimizer, loss=loss, metrics=metric_list,
                     weighted_metrics=weighted, **config)

    # -- metrics ------------------------------------------------------------------------------
    @property
    def metrics(self):
        """The loss tracker and the compiled metrics (once compiled), then the metrics of the
        layers (`add_metric`, metrics held as attributes)."""
        out = []
        if self.compiled:
            out.append(self._loss_tracker)
            out.append(self.compiled_metrics)
        for m in super().metrics:
            if not any(m is o for o in out):
                out.append(m)
        return out

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self):
        """`{name: value}` of every metric, compiled metrics flattened into it."""
        return metric_results(self.metrics)

    # -- steps --------------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of `(y, y_pred)` plus the losses the forward pass added
        (`self.losses`)."""
        from dtf.ops.math_ops import add_n

        losses = []
        if self.compiled_loss is not None and y is not None:
            losses.append(self.compiled_loss(y, y_pred, sample_weight))
        extra = self.losses
        if extra:
            losses.extend(extra)
        if not losses:
            if self.compiled_loss is None:
                raise ValueError("No loss to compute: pass `loss` to `compile()` (or add losses "
                                 "with `add_loss`).")
            raise ValueError("The compiled loss needs targets `y`, but the data gave none.")
        return losses[0] if len(losses) == 1 else add_n(losses)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Updates the compiled metrics; returns every metric's result."""
        if y is not None:
            self.compiled_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def _batch_size(self, x):
        first = nest.flatten(x)[0]
        shape = getattr(first, "shape", None)
        return int(shape[0]) if shape is not None and shape.rank else 1

    def train_step(self, data):
        """One training step: forward, loss, gradients, optimizer update, metrics."""
        from dtf.autodiff.tape import GradientTape

        x, y, sample_weight = unpack_x_y_sample_weight(data)
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=True)
        self._loss_tracker.update_state(loss, sample_weight=self._batch_size(x))
        weights = self.trainable_weights
        if weights:
            gradients = tape.gradient(loss, weights)
            self.optimizer.apply_gradients(zip(gradients, weights))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data):
        """One evaluation step: forward, loss, metrics."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                 training=False)
        self._loss_tracker.update_state(loss, sample_weight=self._batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def predict_step(self, data):
        """One prediction step: the model's output on the batch's inputs."""
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    def _compiled(self, step, fused=True):
        """`step` as the loops call it: with `fused`, a function of a list of batches
        (`steps_per_execution` of them) running the step on each, compiled into one graph
        call with `dtf.function` unless `run_eagerly`."""
        import dtf

        if fused:
            def run_steps(batches):
                logs = None
                for batch in batches:
                    logs = step(batch)
                return logs

            function = run_steps
        else:
            function = step
        if self.run_eagerly:
            return function
        return dtf.function(function, name=step.__name__)

    def _cached_function(self, attr, make, force):
        fn = self.__dict__.get(attr)
        if fn is None or force:
            fn = make()
            object.__setattr__(self, attr, fn)
        return fn

    def make_train_function(self, force=False):
        """The (compiled) function running `train_step` on a list of batches."""
        return self._cached_function("_train_function",
                                     lambda: self._compiled(self.train_step), force)

    def make_test_function(self, force=False):
        """The (compiled) function running `test_step` on a list of batches."""
        return self._cached_function("_test_function",
                                     lambda: self._compiled(self.test_step), force)

    def make_predict_function(self, force=False):
        """The (compiled) function running `predict_step` on one batch."""
        return self._cached_function(
            "_predict_function", lambda: self._compiled(self.predict_step, fused=False), force)

    # -- loops --------------------------------------------------------------------------------
    def _callbacks(self, callbacks, verbose, epochs, steps, add_history):
        from dtf.keras.callbacks import CallbackList

        if isinstance(callbacks, CallbackList):
            return callbacks
        return CallbackList(callbacks, add_history=add_history, add_progbar=verbose != 0,
                            model=self, verbose=verbose, epochs=epochs, steps=steps)

    def _executions(self, adapter):
        """The epoch's batches in groups of `steps_per_execution`."""
        group = self.__dict__.get("_steps_per_execution", 1)
        batches = adapter.epoch()
        while True:
            chunk = list(itertools.islice(batches, group))
            if not chunk:
                return
            yield chunk

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Trains the model for `epochs` epochs; returns the `History`.

        `x` may be arrays (with targets `y`), a `dtf.data.Dataset` or a generator of
        `(x, y[, sample_weight])`. Data problems (different lengths, non-numeric arrays) raise
        before any weight changes.
        """
        self._assert_compiled("fit")
        from dtf.distribute.distribute_lib import strategy_of

        strategy = strategy_of(self)
        if strategy is not None:  # parameter-server training: the strategy's driver loop
            return strategy._fit(
                self, x=x, y=y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                callbacks=callbacks, validation_split=validation_split,
                validation_data=validation_data, shuffle=shuffle, class_weight=class_weight,
                sample_weight=sample_weight, initial_epoch=initial_epoch,
                steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                validation_batch_size=validation_batch_size, validation_freq=validation_freq)
        verbose = _verbose(verbose)
        adapter = DataAdapter(x, y, sample_weight, batch_size, steps_per_epoch, shuffle,
                              class_weight)
        val_adapter = None
        if validation_data is not None:
            vx, vy, vsw = unpack_x_y_sample_weight(validation_data)
            val_adapter = DataAdapter(vx, vy, vsw, validation_batch_size or batch_size,
                                      validation_steps)
        elif validation_split:
            vx, vy, vsw = adapter.split(validation_split)
            val_adapter = DataAdapter(vx, vy, vsw, validation_batch_size or batch_size,
                                      validation_steps)
        callbacks = self._callbacks(callbacks, verbose, epochs, adapter.steps, True)
        train_function = self.make_train_function()
        object.__setattr__(self, "stop_training", False)
        callbacks.on_train_begin()
        start = self.__dict__.pop("_initial_epoch_from_backup", None)
        initial_epoch = initial_epoch if start is None else max(initial_epoch, start)
        epoch_logs = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            logs = {}
            step = 0
            batch_hooks = getattr(callbacks, "_should_call_train_batch_hooks", True)
            for chunk in self._executions(adapter):
                if batch_hooks:
                    callbacks.on_train_batch_begin(step)
                logs = train_function(chunk)
                step += len(chunk)
                if batch_hooks:  # the logs become floats only for callbacks that read them
                    logs = _python_logs(logs)
                    callbacks.on_train_batch_end(step - 1, logs)
                if self.stop_training:
                    break
            epoch_logs = _python_logs(logs) if logs else \
                _python_logs(self.get_metrics_result())
            if val_adapter is not None and self._should_validate(epoch, validation_freq):
                val_logs = self._evaluate_adapter(val_adapter, callbacks=callbacks, verbose=0)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            callbacks.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        callbacks.on_train_end(logs=epoch_logs)
        history = next((c for c in callbacks if type(c).__name__ == "History"), None)
        object.__setattr__(self, "history", history)
        return history

    @staticmethod
    def _should_validate(epoch, validation_freq):
        if isinstance(validation_freq, int):
            return (epoch + 1) % validation_freq == 0
        return epoch + 1 in validation_freq

    def _evaluate_adapter(self, adapter, callbacks, verbose):
        callbacks = self._callbacks(callbacks, verbose, 1, adapter.steps, False)
        test_function = self.make_test_function()
        self.reset_metrics()
        callbacks.on_test_begin()
        logs = {}
        step = 0
        for chunk in self._executions(adapter):
            callbacks.on_test_batch_begin(step)
            logs = test_function(chunk)
            step += len(chunk)
            logs = _python_logs(logs)
            callbacks.on_test_batch_end(step - 1, logs)
        logs = _python_logs(self.get_metrics_result())
        callbacks.on_test_end(logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """The loss and metrics on the data: a scalar (loss only), a list, or a dict."""
        self._assert_compiled("evaluate")
        adapter = DataAdapter(x, y, sample_weight, batch_size, steps, shuffle=False)
        logs = self._evaluate_adapter(adapter, callbacks, _verbose(verbose))
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs on `x`, batch by batch, as NumPy arrays (concatenated)."""
        adapter = DataAdapter(x, None, None, batch_size, steps, shuffle=False, for_predict=True)
        callbacks = self._callbacks(callbacks, _verbose(verbose), 1, adapter.steps, False)
        predict_function = self.make_predict_function()
        callbacks.on_predict_begin()
        outputs = []
        for step, batch in enumerate(adapter.epoch()):
            callbacks.on_predict_batch_begin(step)
            out = predict_function(batch)
            out = nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, out)
            outputs.append(out)
            callbacks.on_predict_batch_end(step, {"outputs": out})
        callbacks.on_predict_end()
        if not outputs:
            raise ValueError("predict() got no batches: the input is empty.")
        flat = [nest.flatten(o) for o in outputs]
        joined = [np.concatenate([f[i] for f in flat], axis=0) for i in range(len(flat[0]))]
        return nest.pack_sequence_as(outputs[0], joined)

    # -- single batches -----------------------------------------------------------------------
    def _single_batch(self, x, y, sample_weight, class_weight=None):
        adapter = DataAdapter(x, y, sample_weight, batch_size=None, shuffle=False,
                              class_weight=class_weight)
        adapter.batch_size = max(adapter.num_samples, 1)
        return next(adapter.epoch())

    def _return(self, logs, return_dict):
        logs = _python_logs(logs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One gradient update on one batch; returns the loss and metrics so far."""
        self._assert_compiled("train_on_batch")
        logs = self.make_train_function()(
            [self._single_batch(x, y, sample_weight, class_weight)])
        return self._return(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss and metrics on one batch (metrics accumulate until `reset_metrics`)."""
        self._assert_compiled("test_on_batch")
        logs = self.make_test_function()([self._single_batch(x, y, sample_weight)])
        return self._return(logs, return_dict)

    def predict_on_batch(self, x):
        """The model's output on one batch, as NumPy arrays."""
        out = self.make_predict_function()(self._single_batch(x, None, None))
        return nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, out)
