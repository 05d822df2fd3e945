"""The data `fit`, `evaluate` and `predict` accept, as batches of `(x, y, sample_weight)`.

- arrays: NumPy arrays, Tensors, lists and Python numbers (and lists/tuples/dicts of them for
  several inputs or outputs), split into batches of `batch_size`, shuffled each epoch when
  asked; `validation_split` holds out the last fraction, before shuffling, as Keras does.
- a `dtf.data.Dataset` of `x`, `(x, y)` or `(x, y, sample_weight)`: iterated afresh each epoch
  (or, with `steps_per_epoch`, read on from where the last epoch stopped).
- a Python generator (or any iterator) of the same tuples.

`class_weight` turns into per-sample weights from the targets' classes.

Example:
    >>> adapter = DataAdapter(np.zeros((10, 3)), np.zeros(10), batch_size=4)
    >>> [x.shape[0] for x, y in adapter.epoch()]
    [4, 4, 2]
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from dtf import nest
from dtf.ops.creation_ops import convert_to_tensor
from dtf.tensor import Tensor

__all__ = ["DataAdapter", "pack_x_y_sample_weight", "unpack_x_y_sample_weight"]


def unpack_x_y_sample_weight(data):
    """`(x,)`, `(x, y)` or `(x, y, sample_weight)` (or `x` alone) -> the three, None-filled."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(f"Data is expected to be in the format `x`, `(x,)`, `(x, y)`, or "
                     f"`(x, y, sample_weight)`, found a tuple of {len(data)} elements.")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """What a train step receives, as Keras packs it: `(x,)`, `(x, y)` or
    `(x, y, sample_weight)`."""
    if y is None and sample_weight is None:
        return (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def _is_dataset(x):
    from dtf.data import Dataset

    return isinstance(x, Dataset)


def _is_iterator(x):
    return hasattr(x, "__next__") and not isinstance(x, (np.ndarray, Tensor))


def _as_array(x, what):
    if x is None:
        return None
    if isinstance(x, Tensor) or getattr(x, "_is_dtf_variable", False):
        return x.numpy()
    if isinstance(x, np.ndarray):
        array = x
    else:
        array = np.asarray(x)
    if array.dtype.kind not in "biufc":
        raise ValueError(f"{what} must be numeric arrays; got an array of dtype "
                         f"{array.dtype} (e.g. {array.flat[0]!r} ...). Convert strings and "
                         "objects to numbers first (dtf has no string tensors yet).")
    if array.dtype == np.float64:
        array = array.astype(np.float32)  # Keras feeds float32 (floatx) to the model
    return array


def _lengths(structure):
    return [len(a) for a in nest.flatten(structure) if a is not None and np.ndim(a) > 0]


class DataAdapter:
    """Batches of `(x, y, sample_weight)` from any of the forms in the module docstring.

    Args:
        x, y, sample_weight: the data.
        batch_size: for arrays (default 32).
        steps_per_epoch: steps in an epoch (default: one pass over the data).
        shuffle: shuffle arrays before each epoch.
        class_weight: `{class: weight}` multiplying the sample weights.
        validation_split: the fraction of array data to hold out (see `split`).
    """

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, steps_per_epoch=None,
                 shuffle=False, class_weight=None, initial_epoch=0, for_predict=False):
        self.steps_per_epoch = steps_per_epoch
        self.shuffle = shuffle
        self.class_weight = class_weight
        self._iterator = None
        self.kind = "dataset" if _is_dataset(x) else "iterator" if _is_iterator(x) else "arrays"
        if self.kind != "arrays":
            if y is not None:
                raise ValueError(f"`y` must be None when `x` is a {self.kind} (it yields the "
                                 "targets itself); got y of type "
                                 f"{type(y).__name__}.")
            if sample_weight is not None:
                raise ValueError("`sample_weight` must be None when `x` is a dataset or "
                                 "generator: yield (x, y, sample_weight) instead.")
            self.source = x
            self.num_samples = None
            if self.kind == "iterator" and steps_per_epoch is None and not for_predict:
                self._warn_once = True
            return
        self.batch_size = 32 if batch_size is None else int(batch_size)
        if self.batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
        self.x = nest.map_structure(lambda a: _as_array(a, "x"), x)
        self.y = nest.map_structure(lambda a: _as_array(a, "y"), y) if y is not None else None
        self.sample_weight = None if sample_weight is None else \
            nest.map_structure(lambda a: _as_array(a, "sample_weight"), sample_weight)
        sizes = {"x": _lengths(self.x), "y": _lengths(self.y),
                 "sample_weight": _lengths(self.sample_weight)}
        all_sizes = {n for v in sizes.values() for n in v}
        if len(all_sizes) > 1:
            detail = "\n".join(f"'{k}' sizes: {', '.join(map(str, v))}"
                               for k, v in sizes.items() if v)
            raise ValueError("Data cardinality is ambiguous. Make sure all arrays contain the "
                             f"same number of samples.\n{detail}")
        if not all_sizes:
            raise ValueError("fit/evaluate/predict got no data: x is empty or None.")
        self.num_samples = all_sizes.pop()

    # -- splitting ---------------------------------------------------------------------------
    def split(self, validation_split):
        """Holds out the last `validation_split` of array data; returns the held-out
        `(x, y, sample_weight)`."""
        if self.kind != "arrays":
            raise ValueError("`validation_split` is only supported for NumPy arrays and "
                             f"tensors, not for a {self.kind}; pass `validation_data`.")
        if not 0 < validation_split < 1:
            raise ValueError(f"validation_split must be in (0, 1), got {validation_split}.")
        n_train = math.floor(self.num_samples * (1 - validation_split))
        if n_train == 0 or n_train == self.num_samples:
            raise ValueError(f"validation_split={validation_split} leaves no data for "
                             f"{'training' if n_train == 0 else 'validation'} "
                             f"({self.num_samples} samples).")

        def head(a):
            return None if a is None else a[:n_train]

        def tail(a):
            return None if a is None else a[n_train:]

        held = (nest.map_structure(tail, self.x), nest.map_structure(tail, self.y)
                if self.y is not None else None,
                nest.map_structure(tail, self.sample_weight)
                if self.sample_weight is not None else None)
        self.x = nest.map_structure(head, self.x)
        if self.y is not None:
            self.y = nest.map_structure(head, self.y)
        if self.sample_weight is not None:
            self.sample_weight = nest.map_structure(head, self.sample_weight)
        self.num_samples = n_train
        return held

    # -- batches ------------------------------------------------------------------------------
    @property
    def steps(self):
        """Steps per epoch, or None when unknown (an iterator or a dataset of unknown size)."""
        if self.steps_per_epoch is not None:
            return int(self.steps_per_epoch)
        if self.kind == "arrays":
            return math.ceil(self.num_samples / self.batch_size)
        if self.kind == "dataset":
            n = int(self.source.cardinality())
            return n if n >= 0 else None
        return None

    def epoch(self):
        """The batches of one epoch, as `(x, y, sample_weight)` of Tensors."""
        if self.kind == "arrays":
            yield from self._array_epoch()
            return
        if self.steps_per_epoch is None:
            source = iter(self.source) if self.kind == "dataset" else self.source
            for data in source:
                yield self._finish(*unpack_x_y_sample_weight(data))
            return
        for _ in range(int(self.steps_per_epoch)):
            data = self._next()
            if data is None:
                warnings.warn("Your input ran out of data; interrupting training. Make sure "
                              "that your dataset or generator can generate at least "
                              "`steps_per_epoch * epochs` batches (use .repeat() on a "
                              "dataset).", stacklevel=3)
                return
            yield self._finish(*unpack_x_y_sample_weight(data))

    def _next(self):
        if self._iterator is None:
            self._iterator = iter(self.source)
        try:
            return next(self._iterator)
        except StopIteration:
            self._iterator = None
            if self.kind == "dataset":  # a dataset can be read again: keep going
                self._iterator = iter(self.source)
                try:
                    return next(self._iterator)
                except StopIteration:
                    return None
            return None

    def _array_epoch(self):
        n = self.num_samples
        order = None
        if self.shuffle:  # drawn with dtf's seed rules: dtf.random.set_seed makes it repeat
            from dtf.ops.random_ops import shuffle

            order = shuffle(convert_to_tensor(np.arange(n, dtype=np.int64))).numpy()
        steps = self.steps
        for step in range(steps):
            start = (step * self.batch_size) % n
            stop = min(start + self.batch_size, n)
            if order is None:
                index = slice(start, stop)
            else:
                index = order[start:stop]

            def take(a, index=index):
                # a fresh array (a gather, or a copied slice: the caller's data must not leak
                # into a tensor), wrapped as it is: no second copy in convert_to_tensor
                if a is None:
                    return None
                if not np.ndim(a):
                    return a
                batch = a[index]
                return Tensor(batch.copy() if isinstance(index, slice) else batch)

            yield self._finish(nest.map_structure(take, self.x),
                               None if self.y is None else nest.map_structure(take, self.y),
                               None if self.sample_weight is None
                               else nest.map_structure(take, self.sample_weight))

    def _finish(self, x, y, sample_weight):
        if self.class_weight is not None and y is not None:
            sample_weight = _class_sample_weights(y, self.class_weight, sample_weight)
        return pack_x_y_sample_weight(_to_tensors(x), _to_tensors(y),
                                      _to_tensors(sample_weight))


def _to_tensors(structure):
    if structure is None:
        return None

    def convert(a):
        if a is None or isinstance(a, Tensor) or getattr(a, "_is_dtf_variable", False):
            return a
        return convert_to_tensor(a)

    return nest.map_structure(convert, structure)


def _class_sample_weights(y, class_weight, sample_weight):
    if isinstance(y, (list, tuple, dict)):
        raise TypeError("`class_weight` is only supported for models with a single output.")
    labels = y.numpy() if isinstance(y, Tensor) else np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] > 1:
        labels = labels.argmax(axis=1)
    elif labels.ndim == 2:
        labels = labels[:, 0]
    labels = labels.astype(np.int64)
    n_classes = int(max(class_weight)) + 1
    table = np.ones(max(n_classes, int(labels.max()) + 1), np.float32)
    for cls, w in class_weight.items():
        table[int(cls)] = w
    weights = table[labels]
    if sample_weight is not None:
        sw = sample_weight.numpy() if isinstance(sample_weight, Tensor) else \
            np.asarray(sample_weight)
        weights = weights * sw.astype(np.float32)
    return weights
