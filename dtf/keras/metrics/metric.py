"""The `Metric` base class: state in non-trainable Variables, updated batch by batch.

A metric accumulates its state with `update_state(...)` (one call per batch), reports it with
`result()`, and starts over with `reset_state()` (Keras 2's `reset_states()` too). Calling the
metric updates it and returns the result.

Example (the Keras 2 way of writing one, which dtf supports alongside Keras 3's
`add_variable`):

    >>> class CountPositives(Metric):
    ...     def __init__(self, name="count_positives", **kwargs):
    ...         super().__init__(name=name, **kwargs)
    ...         self.count = self.add_weight(name="count", initializer="zeros")
    ...     def update_state(self, values, sample_weight=None):
    ...         self.count.assign_add(dtf.reduce_sum(dtf.cast(dtf.constant(values) > 0,
    ...                                                       self.dtype)))
    ...     def result(self):
    ...         return self.count.read_value()
    >>> m = CountPositives()
    >>> float(m([1.0, -2.0, 3.0]))
    2.0
    >>> m.reset_states()
    >>> float(m.result())
    0.0
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.keras.losses import _utils
from dtf.keras.naming import auto_name
from dtf.variables import Variable, VariableAggregation, VariableSynchronization

__all__ = ["Metric"]

_AGGREGATIONS = {
    "none": VariableAggregation.NONE,
    "sum": VariableAggregation.SUM,
    "mean": VariableAggregation.MEAN,
    "only_first_replica": VariableAggregation.ONLY_FIRST_REPLICA,
}


class Metric:
    """Base class of metrics: subclasses create their state with `add_variable` (or Keras 2's
    `add_weight`) in `__init__` and implement `update_state` and `result`.

    Args:
        dtype: the dtype of the state and the result (default floatx, "float32").
        name: the metric's name (default: the class name in snake_case, made unique).

    Attributes:
        variables: the state Variables (non-trainable), with those of metrics held as
            attributes.
    """

    def __init__(self, dtype=None, name=None):
        self.name = name or auto_name(type(self).__name__)
        self._dtype = dtypes.as_dtype(_utils.dtype_name(dtype) or _utils.floatx())
        self._variables = []
        self._metrics = []

    # -- state --------------------------------------------------------------------------------
    @property
    def dtype(self) -> str:
        """The name of the metric's dtype ("float32")."""
        return self._dtype.name

    def add_variable(self, shape, initializer, dtype=None, aggregation="sum", name=None):
        """Creates a state Variable (non-trainable) and tracks it.

        Args:
            shape: its shape.
            initializer: an initializer, its name ("zeros") or a callable
                `(shape, dtype) -> value`; None for zeros.
            dtype: its dtype (default: the metric's).
            aggregation: how replicas combine it in distributed training: "sum" (default),
                "mean", "only_first_replica" or "none".
            name: its name.

        Returns:
            The Variable.

        Example:
            >>> m = Metric(name="m")
            >>> m.add_variable((2,), "zeros", name="hits").numpy()
            array([0., 0.], dtype=float32)
        """
        self._check_super_called()
        dtype = dtypes.as_dtype(_utils.dtype_name(dtype) or self._dtype)
        shape = tuple(int(d) for d in (shape if isinstance(shape, (list, tuple)) else
                                       (() if shape is None else tuple(shape))))
        if aggregation not in _AGGREGATIONS:
            raise ValueError(f"Metric {self.name!r}: invalid `aggregation` {aggregation!r} for "
                             f"variable {name!r}; expected one of {sorted(_AGGREGATIONS)}.")
        variable = Variable(_initial_value(initializer, shape, dtype), trainable=False,
                            name=name, dtype=dtype,
                            synchronization=VariableSynchronization.ON_READ,
                            aggregation=_AGGREGATIONS[aggregation])
        self._variables.append(variable)
        return variable

    def add_weight(self, *args, shape=(), initializer=None, dtype=None, name=None,
                   aggregation="sum", synchronization="on_read"):
        """`add_variable` in either Keras spelling: Keras 2's
        `add_weight(name, shape=(), aggregation, synchronization, initializer, dtype)` (as in
        `self.add_weight(name="total", initializer="zeros")`) or Keras 3's
        `add_weight(shape=(), initializer=None, dtype=None, name=None)`; positional arguments
        follow Keras 2's order when the first is a name, Keras 3's otherwise.

        Example:
            >>> m = Metric(name="m")
            >>> float(m.add_weight(name="total", initializer="zeros"))
            0.0
        """
        if args:
            order = ("name", "shape", "aggregation", "synchronization", "initializer",
                     "dtype") if args[0] is None or isinstance(args[0], str) else \
                ("shape", "initializer", "dtype", "name")
            if len(args) > len(order):
                raise TypeError(f"add_weight takes at most {len(order)} positional arguments "
                                f"({', '.join(order)}), got {len(args)}.")
            given = dict(zip(order, args))
            defaults = {"shape": (), "initializer": None, "dtype": None, "name": None,
                        "aggregation": "sum", "synchronization": "on_read"}
            keywords = {"shape": shape, "initializer": initializer, "dtype": dtype,
                        "name": name, "aggregation": aggregation,
                        "synchronization": synchronization}
            for key in given:
                if keywords[key] != defaults[key]:
                    raise TypeError(f"add_weight got multiple values for argument {key!r}.")
            keywords.update(given)
            shape, initializer, dtype, name, aggregation = (
                keywords["shape"], keywords["initializer"], keywords["dtype"],
                keywords["name"], keywords["aggregation"])
        if hasattr(aggregation, "lower"):
            aggregation = aggregation.lower()
        elif aggregation in _AGGREGATIONS.values():
            aggregation = next(k for k, v in _AGGREGATIONS.items() if v == aggregation)
        return self.add_variable(shape=shape, initializer=initializer, dtype=dtype,
                                 aggregation=aggregation, name=name)

    @property
    def variables(self) -> list:
        """The state Variables, followed by those of the metrics held as attributes."""
        out = list(self._variables)
        for metric in self._metrics:
            out.extend(metric.variables)
        return out

    @property
    def weights(self) -> list:
        """Keras 2's name for `variables`."""
        return self.variables

    @property
    def trainable_weights(self) -> list:
        return []

    @property
    def non_trainable_weights(self) -> list:
        return self.variables

    # -- the protocol -------------------------------------------------------------------------
    def update_state(self, *args, **kwargs):
        """Accumulates the statistics of one batch: override in subclasses."""
        raise NotImplementedError(f"Metric {type(self).__name__} must implement "
                                  "`update_state(self, ...)`.")

    def result(self):
        """The metric's value from the state: override in subclasses."""
        raise NotImplementedError(f"Metric {type(self).__name__} must implement "
                                  "`result(self)`.")

    def reset_state(self):
        """Sets every state Variable to zeros."""
        for v in self.variables:
            v.assign(np.zeros(v.shape.as_list(), dtype=v.dtype.as_numpy_dtype))

    def reset_states(self):
        """Keras 2's name for `reset_state`."""
        self.reset_state()

    def __call__(self, *args, **kwargs):
        """`update_state(*args, **kwargs)`, then returns `result()`."""
        self._check_super_called()
        self.update_state(*args, **kwargs)
        return self.result()

    # -- config -------------------------------------------------------------------------------
    def get_config(self):
        """The constructor arguments as a dict."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # -- tracking -----------------------------------------------------------------------------
    def __setattr__(self, name, value):
        # As Keras' tracker: Variables and metrics held as attributes are part of the state
        # (a Variable made with add_variable is tracked already).
        if "_metrics" in self.__dict__:
            if isinstance(value, Metric):
                tracked = self._metrics
            elif getattr(value, "_is_dtf_variable", False):
                tracked = self._variables
            else:
                tracked = None
            if tracked is not None and not any(item is value for item in tracked):
                tracked.append(value)
        super().__setattr__(name, value)

    def _check_super_called(self):
        if "_variables" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: you forgot to call "
                               "`super().__init__()` in the `__init__()` method. Go add it!")

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"

    def __str__(self):
        return self.__repr__()


def _initial_value(initializer, shape, dtype):
    """The starting value of a state Variable."""
    if initializer is None or (isinstance(initializer, str) and
                               initializer.lower() == "zeros"):
        return np.zeros(shape, dtype=dtype.as_numpy_dtype)
    if isinstance(initializer, str) and initializer.lower() == "ones":
        return np.ones(shape, dtype=dtype.as_numpy_dtype)
    from dtf.keras import initializers

    return initializers.get(initializer)(shape, dtype=dtype)
