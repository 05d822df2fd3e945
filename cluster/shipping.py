"""Sending models and functions from the driver to workers, with their Variables left behind.

The driver pickles what a worker needs (a compiled model for `fit`, a scheduled function and the
objects it closes over for `ClusterCoordinator.schedule`) with cloudpickle, but every Variable of
the strategy travels as a reference (its key, shape, dtype and name) and every optimizer as its
config: on the worker, `Replicas` turns each reference into the worker's replica of that
Variable (one per key, shared by everything the worker loaded) and each optimizer into a
`RemoteOptimizer`, whose `apply_gradients` hands the gradients to the worker to push to the
parameter servers instead of updating anything locally.

Example:
    >>> blob, shipped = dumps(model, strategy)   # driver
    >>> model = Replicas().loads(blob)            # worker: the same model on replica Variables
"""

from __future__ import annotations

import io
import pickle

import numpy as np

__all__ = ["RemoteOptimizer", "Replicas", "WorkerStrategy", "dumps"]


def _cloudpickle():
    from ray import cloudpickle

    return cloudpickle


def dumps(obj, strategy):
    """`(bytes, {key: PSVariable}, [optimizers])`: `obj` pickled for a worker, and the
    strategy's Variables and the optimizers it references."""
    from dtf.cluster.variables import PSVariable

    from dtf.keras.optimizers.base_optimizer import Optimizer

    shipped: dict = {}
    optimizers: list = []

    class Pickler(_cloudpickle().Pickler):
        def persistent_id(self, value):
            if isinstance(value, PSVariable) and value._strategy is strategy:
                shipped[value._key] = value
                return ("variable", value._key, tuple(value.shape.as_list()),
                        np.dtype(value.dtype.as_numpy_dtype).str, value.trainable,
                        value.name.split(":")[0])
            if value is strategy:
                return ("strategy", strategy.num_workers)
            if isinstance(value, Optimizer):
                if not any(o is value for o in optimizers):
                    optimizers.append(value)
                from dtf.keras.saving import serialize_keras_object

                return ("optimizer", id(value), serialize_keras_object(value))
            return None

    buffer = io.BytesIO()
    Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue(), shipped, optimizers


class RemoteOptimizer:
    """A worker's stand-in for the driver's optimizer: `apply_gradients` records the gradients
    in accumulators (graph state, so it works inside `dtf.function`), which the worker pushes to
    the parameter servers after the scheduled function returns; the update runs there.
    Everything else (`learning_rate`, `get_config`, ...) is the optimizer rebuilt from its
    config."""

    def __init__(self, config, replicas):
        from dtf.keras import optimizers

        self._local = optimizers.deserialize(config)
        self._replicas = replicas
        self._accumulators: dict = {}  # key -> Variable holding the summed gradients

    def _accumulator(self, variable):
        import dtf
        from dtf.variables import no_variable_creators

        key = self._replicas.key_of(variable)
        if key is None:
            raise ValueError(
                f"apply_gradients on a worker got variable {variable.name!r}, which the "
                "parameter servers do not hold: create every variable the optimizer updates "
                "inside strategy.scope().")
        acc = self._accumulators.get(key)
        if acc is None:
            with no_variable_creators(), dtf.init_scope():
                acc = dtf.Variable(np.zeros(variable.shape.as_list(),
                                            variable.dtype.as_numpy_dtype),
                                   trainable=False, name="gradient_accumulator")
            self._accumulators[key] = acc
        return acc

    def apply_gradients(self, grads_and_vars):
        for grad, variable in grads_and_vars:
            if grad is None:
                continue
            self._accumulator(variable).assign_add(grad)
        return self.iterations

    def apply(self, grads, trainable_variables=None):
        return self.apply_gradients(zip(grads, trainable_variables))

    def minimize(self, loss, var_list, tape=None):
        import dtf

        if tape is None:
            raise ValueError("minimize on a worker needs `tape` (a GradientTape that computed "
                             "`loss`).")
        var_list = var_list() if callable(var_list) else list(var_list)
        grads = tape.gradient(loss, var_list)
        del dtf
        return self.apply_gradients(zip(grads, var_list))

    def take_gradients(self) -> dict:
        """`{key: summed gradient}` recorded since the last call (accumulators zeroed)."""
        out = {}
        for key, acc in self._accumulators.items():
            value = acc._value
            if np.any(value):
                out[key] = value.copy()  # stays a CuPy array on a GPU worker
                acc._value = np.zeros_like(value)
        return out

    @property
    def iterations(self):
        return self._replicas.optimizer_iterations()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.__dict__["_local"], name)


class WorkerStrategy:
    """The strategy as a scheduled function sees it on a worker: one replica (this worker),
    so `run` calls the function and `reduce` has one value to reduce."""

    num_replicas_in_sync = 1

    def __init__(self, num_workers):
        self.num_workers = num_workers

    @property
    def extended(self):
        return self

    def scope(self):
        import contextlib

        return contextlib.nullcontext(self)

    def run(self, fn, args=(), kwargs=None):
        return fn(*args, **(kwargs or {}))

    def reduce(self, reduce_op, value, axis=None):
        from dtf.distribute.distribute_lib import _reduce_one_replica

        return _reduce_one_replica(reduce_op, value, axis)


class Replicas:
    """A worker's replica Variables by key, and its optimizer stand-ins (see the module
    docstring)."""

    def __init__(self):
        self.variables: dict = {}
        self.optimizers: dict = {}
        self._key_by_id: dict = {}
        self._iterations = None

    def variable(self, key, shape, dtype, trainable, name):
        from dtf.variables import Variable, no_variable_creators

        variable = self.variables.get(key)
        if variable is None:
            with no_variable_creators():
                variable = Variable(np.zeros(shape, np.dtype(dtype)), trainable=trainable,
                                    name=name)
            self.variables[key] = variable
            self._key_by_id[id(variable)] = key
        return variable

    def key_of(self, variable):
        return self._key_by_id.get(id(variable))

    def optimizer(self, ident, config):
        optimizer = self.optimizers.get(ident)
        if optimizer is None:
            optimizer = self.optimizers[ident] = RemoteOptimizer(config, self)
        return optimizer

    def optimizer_iterations(self):
        import dtf
        from dtf.variables import no_variable_creators

        if self._iterations is None:
            with no_variable_creators():
                self._iterations = dtf.Variable(0, dtype="int64", trainable=False,
                                                name="iterations")
        return self._iterations

    def take_gradients(self) -> dict:
        out: dict = {}
        for optimizer in self.optimizers.values():
            for key, grad in optimizer.take_gradients().items():
                out[key] = out[key] + grad if key in out else grad
        return out

    def loads(self, blob):
        replicas = self

        class Unpickler(pickle.Unpickler):
            def persistent_load(self, pid):
                if pid[0] == "variable":
                    return replicas.variable(*pid[1:])
                if pid[0] == "optimizer":
                    return replicas.optimizer(pid[1], pid[2])
                if pid[0] == "strategy":
                    return WorkerStrategy(pid[1])
                raise pickle.UnpicklingError(f"unknown reference {pid[0]!r}")

        return Unpickler(io.BytesIO(blob)).load()
