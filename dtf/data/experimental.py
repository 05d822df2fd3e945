"""`dtf.data.experimental`: the names `tf.data.experimental` still has in TensorFlow 2.

Example:
    >>> ds = dtf.data.Dataset.range(10).filter(lambda x: x > 4)
    >>> int(dtf.data.experimental.cardinality(ds)) == dtf.data.experimental.UNKNOWN_CARDINALITY
    True
"""

from dtf.data.dataset import AUTOTUNE
from dtf.data.dataset import INFINITE as INFINITE_CARDINALITY
from dtf.data.dataset import UNKNOWN as UNKNOWN_CARDINALITY
from dtf.data.options import (
    AutoShardPolicy,
    AutotuneAlgorithm,
    AutotuneOptions,
    DistributeOptions,
    ExternalStatePolicy,
    OptimizationOptions,
    ThreadingOptions,
)

__all__ = [
    "AUTOTUNE",
    "INFINITE_CARDINALITY",
    "UNKNOWN_CARDINALITY",
    "AutoShardPolicy",
    "AutotuneAlgorithm",
    "AutotuneOptions",
    "DistributeOptions",
    "ExternalStatePolicy",
    "OptimizationOptions",
    "ThreadingOptions",
    "cardinality",
]


def cardinality(dataset):
    """`dataset.cardinality()`: the number of elements as an int64 scalar Tensor, or
    `INFINITE_CARDINALITY` / `UNKNOWN_CARDINALITY`."""
    return dataset.cardinality()
