"""`dtf.data`: input pipelines, as `tf.data`.

Example:
    >>> import dtf
    >>> ds = dtf.data.Dataset.from_tensor_slices(([1., 2., 3.], [0, 1, 0]))
    >>> ds = ds.shuffle(3).batch(2).prefetch(dtf.data.AUTOTUNE)
    >>> [x.shape for x, y in ds]
    [TensorShape([2]), TensorShape([1])]
"""

from dtf.data import experimental
from dtf.data import iterator_ops as _iterator_ops  # noqa: F401  (registers next() in graphs)
from dtf.data.dataset import AUTOTUNE, Dataset, DatasetV2, Iterator, NumpyIterator
from dtf.data.dataset import INFINITE as INFINITE_CARDINALITY
from dtf.data.dataset import UNKNOWN as UNKNOWN_CARDINALITY
from dtf.data.options import Options, ThreadingOptions

__all__ = [
    "AUTOTUNE",
    "INFINITE_CARDINALITY",
    "UNKNOWN_CARDINALITY",
    "Dataset",
    "DatasetV2",
    "Iterator",
    "NumpyIterator",
    "Options",
    "ThreadingOptions",
    "experimental",
]
