"""`dtf.data.Options`: pipeline options, as `tf.data.Options`.

Options are set with `dataset.with_options(options)` and read back, merged over the whole
pipeline, with `dataset.options()` (later settings win). dtf records them with TensorFlow's
names and defaults so that programs that set them run unchanged, and so that the distribution
strategies can read `experimental_distribute.auto_shard_policy`. dtf's own runtime needs no
tuning from them: its pipelines always produce elements in order (as `deterministic=True`),
and the graph-rewrite optimizations they toggle do not exist in an eager pipeline.

Example:
    >>> options = dtf.data.Options()
    >>> options.experimental_distribute.auto_shard_policy = (
    ...     dtf.data.experimental.AutoShardPolicy.DATA)
    >>> ds = dtf.data.Dataset.range(4).with_options(options)
    >>> ds.options().experimental_distribute.auto_shard_policy
    <AutoShardPolicy.DATA: 2>
"""

from __future__ import annotations

import enum
from typing import ClassVar

from dtf.data.dataset import UnaryDataset


class AutoShardPolicy(enum.IntEnum):
    """How a distributed input pipeline is split between workers."""

    OFF = -1
    AUTO = 0
    FILE = 1
    DATA = 2
    HINT = 3


class AutotuneAlgorithm(enum.Enum):
    DEFAULT = 0
    HILL_CLIMB = 1
    GRADIENT_DESCENT = 2
    MAX_PARALLELISM = 3
    STAGE_BASED = 4


class ExternalStatePolicy(enum.Enum):
    WARN = 0
    IGNORE = 1
    FAIL = 2


class OptionsBase:
    """A group of options: fixed names, each None (unset) or a value; unknown names raise."""

    _fields: ClassVar[dict] = {}  # name -> default (a group class for nested groups)
    _aliases: ClassVar[dict] = {}  # old name -> current name

    def __init__(self):
        object.__setattr__(self, "_mutable", True)
        object.__setattr__(self, "_values", {})
        for name, default in self._fields.items():
            self._values[name] = default() if isinstance(default, type) else default

    def __getattr__(self, name):
        values = self.__dict__.get("_values")
        name = self._aliases.get(name, name)
        if values is not None and name in values:
            return values[name]
        raise AttributeError(f"{type(self).__name__} has no option {name!r}.")

    def __setattr__(self, name, value):
        if not self._mutable:
            raise ValueError("Mutating `dtf.data.Options()` returned by `Dataset.options()` has "
                             "no effect. Use `Dataset.with_options(options)` to set or update "
                             "dataset options.")
        name = self._aliases.get(name, name)
        if name not in self._fields:
            raise AttributeError(f"Cannot set the property {name} on {type(self).__name__}.")
        default = self._fields[name]
        if isinstance(default, type) and not isinstance(value, default):
            raise TypeError(f"{type(self).__name__}.{name} must be a {default.__name__}, got "
                            f"{type(value).__name__}.")
        self._values[name] = value

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self._values == other._values

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None

    def __repr__(self):
        set_ = {k: v for k, v in self._values.items() if v != _default(self._fields[k])}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in set_.items())})"

    def _merged_with(self, other):
        """A new group: this one's values, overridden by the options `other` sets."""
        result = type(self)()
        for name, default in self._fields.items():
            mine, theirs = self._values[name], other._values[name]
            if isinstance(default, type):
                result._values[name] = mine._merged_with(theirs)
            else:
                result._values[name] = theirs if theirs != default else mine
        return result

    def _freeze(self):
        for value in self._values.values():
            if isinstance(value, OptionsBase):
                value._freeze()
        object.__setattr__(self, "_mutable", False)
        return self


def _default(default):
    return default() if isinstance(default, type) else default


class AutotuneOptions(OptionsBase):
    _fields: ClassVar[dict] = {"enabled": None, "cpu_budget": None, "ram_budget": None,
               "autotune_algorithm": None, "initial_parallelism": None,
               "min_parallelism": None}


class DistributeOptions(OptionsBase):
    _fields: ClassVar[dict] = {"auto_shard_policy": AutoShardPolicy.AUTO, "num_devices": None}


class OptimizationOptions(OptionsBase):
    _fields: ClassVar[dict] = {name: None for name in (
        "apply_default_optimizations", "filter_fusion", "filter_parallelization",
        "inject_prefetch", "seq_interleave_prefetch", "map_and_batch_fusion",
        "map_and_filter_fusion", "map_fusion", "map_parallelization", "noop_elimination",
        "parallel_batch", "shuffle_and_repeat_fusion")}


class ThreadingOptions(OptionsBase):
    _fields: ClassVar[dict] = {"max_intra_op_parallelism": None, "private_threadpool_size": None}


class Options(OptionsBase):
    """The options of a pipeline (see the module docstring for what dtf does with them)."""

    _fields: ClassVar[dict] = {
        "autotune": AutotuneOptions,
        "dataset_name": None,
        "deterministic": None,
        "experimental_distribute": DistributeOptions,
        "experimental_external_state_policy": None,
        "experimental_optimization": OptimizationOptions,
        "experimental_slack": None,
        "experimental_symbolic_checkpoint": None,
        "experimental_warm_start": None,
        "framework_type": None,
        "threading": ThreadingOptions,
    }
    _aliases: ClassVar[dict] = {"experimental_deterministic": "deterministic",
                "experimental_threading": "threading"}

    def merge(self, options):
        """A new Options: these, overridden by what `options` sets."""
        if not isinstance(options, Options):
            raise TypeError(f"Options.merge: expected dtf.data.Options, got "
                            f"{type(options).__name__}.")
        return self._merged_with(options)


class _OptionsDataset(UnaryDataset):
    def __init__(self, input_dataset, options):
        super().__init__(input_dataset)
        self._options = Options()._merged_with(options)

    def _plan(self):
        return self._input._plan()

    def _elements(self):
        return self._input._elements()


def merged_options(dataset) -> Options:
    """The options set anywhere upstream of `dataset` and on it, later ones winning."""
    result = Options()
    for d in _upstream(dataset):
        if isinstance(d, _OptionsDataset):
            result = result._merged_with(d._options)
    return result._freeze()


def _upstream(dataset):
    """The datasets of the pipeline, inputs before the datasets that read them."""
    order, seen, stack = [], set(), [(dataset, False)]
    while stack:
        d, expanded = stack.pop()
        if expanded:
            order.append(d)
            continue
        if id(d) in seen:
            continue
        seen.add(id(d))
        stack.append((d, True))
        stack.extend((i, False) for i in reversed(d._inputs()))
    return order
