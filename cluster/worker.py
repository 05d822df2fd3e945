"""A worker: a model replica that turns its shard of each global batch into a gradient push.

A `Worker` rebuilds the driver's model from its serialized config (so that the same code runs in
this process, in a Ray actor, or on another machine), keeps the parameter values it last pulled
with their versions, and for each step pulls only the parameters that changed, computes the loss
and gradients of its shard with a compiled step (`dtf.function`), and pushes them to the
parameter server with its worker id, the step and its shard size. The server's sync mode then
averages the shards' gradients weighted by their sizes: the gradient of the mean loss over the
global batch, so N workers train exactly as one process on the same global batches.

Example:
    >>> ps = ParameterServer(parameters_of(model), keras.optimizers.SGD(0.1), num_workers=2)
    >>> workers = [Worker(i, serialize_keras_object(model), "mse") for i in range(2)]
    >>> for w, (x, y) in zip(workers, shards):
    ...     w.run_step(ps, step=0, x=x, y=y)
"""

from __future__ import annotations

import numpy as np

__all__ = ["Worker", "parameters_of"]


def parameter_names(model) -> list:
    """Names the parameter server knows a model's weights by: their position in `weights`
    (replicas rebuilt from one config list their weights in the same order)."""
    return [f"{i}/{w.name.split(':')[0]}" for i, w in enumerate(model.weights)]


def parameters_of(model) -> dict:
    """`{name: array}` of a model's weights, for a ParameterServer."""
    return {n: np.array(w.numpy()) for n, w in zip(parameter_names(model), model.weights)}


def trainable_of(model) -> dict:
    """`{name: trainable}` of a model's weights."""
    return {n: w.trainable for n, w in zip(parameter_names(model), model.weights)}


class Worker:
    """One worker's model replica and its compiled gradient step.

    Args:
        worker_id: this worker's index (0 .. num_workers - 1).
        model_config: the model, serialized by `keras.saving.serialize_keras_object`.
        loss: the loss (a Keras loss object, name or function), as `Model.compile` takes it.
        custom_objects: classes the config needs (custom layers).
    """

    def __init__(self, worker_id, model_config, loss, custom_objects=None):
        import dtf
        from dtf import keras

        self.worker_id = int(worker_id)
        self.model = keras.saving.deserialize_keras_object(model_config,
                                                           custom_objects=custom_objects)
        self.loss_fn = keras.losses.get(loss)
        self._names = parameter_names(self.model)
        self._by_name = dict(zip(self._names, self.model.weights))
        self._trainable = [n for n in self._names if self._by_name[n].trainable]
        self._versions: dict = {}
        self._step = dtf.function(self._gradients, name=f"worker_{self.worker_id}_step")
        self.steps_run = 0

    def _gradients(self, x, y):
        import dtf

        with dtf.GradientTape() as tape:
            y_pred = self.model(x, training=True)
            loss = self.loss_fn(y, y_pred)
            if loss.shape.rank:  # a loss function (not a Loss object) gives per-example values
                loss = dtf.reduce_mean(loss)
            if self.model.losses:
                loss = loss + dtf.add_n(self.model.losses)
        grads = tape.gradient(loss, [self._by_name[n] for n in self._trainable])
        return loss, grads

    def pull(self, server, after_step=None) -> int:
        """Fetches the parameters changed since the last pull (in sync mode, once steps before
        `after_step` are applied); returns how many."""
        values, versions = server.pull(self._versions or None, after_step)
        for name, value in values.items():
            self._by_name[name].assign(value)
        self._versions.update(versions)
        return len(values)

    def run_step(self, server, step, x, y):
        """Pulls, computes the shard's gradient, pushes it; returns (loss, the push result)."""
        self.pull(server, after_step=step)
        loss, grads = self._step(x, y)
        gradients = {n: g.numpy() for n, g in zip(self._trainable, grads) if g is not None}
        result = server.push(self.worker_id, step, len(x), gradients)
        self.steps_run += 1
        return float(loss), result
