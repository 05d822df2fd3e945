"""Variables created under a `ParameterServerStrategy`'s scope, as the driver sees them.

A `PSVariable` is a `dtf.Variable` the strategy knows by a key (`v<n>/<name>`). Until training
needs it, it is an ordinary Variable in the driver. Once it is *hosted* (training started with a
model or a scheduled function that uses it), the parameter servers hold its value: the driver
keeps a cache, marked stale whenever work was dispatched since it was last fetched, and a read
(`numpy()`, an op, `get_weights`, saving) fetches every changed value from the servers first:
"values fetched on demand". A write on the driver (`assign`, `set_weights`, a restore) goes to
the servers before the next step runs.

Example:
    >>> with strategy.scope():
    ...     v = dtf.Variable(1.0)        # a PSVariable, key "v0/Variable"
    >>> v.numpy()                         # after training: the parameter servers' value
"""

from __future__ import annotations

from dtf.variables import Variable

__all__ = ["PSVariable"]


class PSVariable(Variable):
    """A Variable of a `ParameterServerStrategy` (see the module docstring)."""

    def __init__(self, *args, _strategy=None, **kwargs):
        if "_strategy_host" in self.__dict__:
            return  # Variable.__new__ returned this from the creator: already initialized
        self.__dict__["_strategy_host"] = None
        super().__init__(*args, **kwargs)
        self._strategy = _strategy
        self._key = _strategy._register_variable(self)

    @property
    def _value(self):
        host = self.__dict__["_strategy_host"]
        if host is not None and host.stale:
            host.refresh()
        return self.__dict__["_cached_value"]

    @_value.setter
    def _value(self, value):
        self.__dict__["_cached_value"] = value
        host = self.__dict__["_strategy_host"]
        if host is not None and not host.refreshing:
            host.written(self)

    def _set_fetched(self, value) -> None:
        """Stores a value fetched from the servers (not a driver write)."""
        self.__dict__["_cached_value"] = value

    @property
    def hosted(self) -> bool:
        """Whether the parameter servers hold this Variable's value now."""
        return self.__dict__["_strategy_host"] is not None

    def __repr__(self):
        return super().__repr__().replace("<dtf.Variable", "<dtf.distribute.PSVariable", 1)
