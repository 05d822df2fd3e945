"""`dtf.data.Dataset`: input pipelines, as `tf.data.Dataset`.

A Dataset is a description of a sequence of elements; iterating it (`for x in ds`, `iter(ds)`)
starts a new pass, so the same pipeline serves every epoch. Elements are Tensors, or tuples and
dicts of them. Transformations return new datasets and never change their input.

How it runs: each dataset yields its elements as flat tuples of host NumPy arrays
(`_elements`), which the Iterator packs into Tensors at the end. Datasets over in-memory data
also describe themselves as an index plan (`_plan`, see `dtf/data/plan.py`), so that shuffling
and batching work on integers and gather each batch at once. The transformations live in
`sources.py`, `reorder.py`, `batching.py`, `functional.py` and `buffering.py`; this module
holds the public API and the iteration machinery.

Example:
    >>> ds = dtf.data.Dataset.from_tensor_slices(([1, 2, 3, 4], [0, 1, 0, 1]))
    >>> for x, y in ds.shuffle(4, seed=1).batch(2):
    ...     print(x.shape, y.dtype)
    (2,) <dtype: 'int32'>
    (2,) <dtype: 'int32'>
"""

from __future__ import annotations

import numpy as np

from dtf import backend as _backend
from dtf import dtypes
from dtf.data import plan as _plan_mod
from dtf.data import structure
from dtf.errors import OutOfRangeError
from dtf.ops import registry as _registry
from dtf.tensor import Tensor

AUTOTUNE = -1
INFINITE = -1  # cardinality of an infinite dataset (tf.data.INFINITE_CARDINALITY)
UNKNOWN = -2  # cardinality that cannot be known without iterating (UNKNOWN_CARDINALITY)


def int_arg(value, name: str, op: str) -> int:
    """An integer argument given as a Python or NumPy int or a scalar integer Tensor."""
    if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False):
        if not value.dtype.is_integer or value.shape.rank != 0:
            raise TypeError(f"{op}: `{name}` must be an integer scalar, got a tensor of dtype "
                            f"{value.dtype.name} and shape {value.shape}.")
        return int(value.numpy())
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: `{name}` must be an integer, got {value!r} "
                        f"({type(value).__name__}).")
    return int(value)


class Dataset:
    """A sequence of elements, each a Tensor or a structure (tuples, dicts) of Tensors.

    Build one with `from_tensor_slices`, `from_tensors`, `from_generator`, `range` or `zip`,
    transform it (`map`, `filter`, `shuffle`, `batch`, `repeat`, `prefetch`, ...) and iterate
    it: each `for` loop over a dataset is a new pass (an epoch).

    Example:
        >>> ds = dtf.data.Dataset.range(5).map(lambda x: x * 2).batch(2)
        >>> [b.numpy().tolist() for b in ds]
        [[0, 2], [4, 6], [8]]
    """

    _element_spec = None

    # -- the protocol transformations implement ---------------------------------------------
    def _inputs(self) -> list:
        """The datasets this one reads from."""
        return []

    def _cardinality(self) -> int:
        raise NotImplementedError

    def _plan(self):
        """An `IndexPlan` when this dataset is random access (see plan.py), else None."""

    def _elements(self):
        """A new pass over the elements, each a flat tuple of host arrays."""
        return _plan_mod.rows_of(self._plan())

    def _compute_element_spec(self):
        raise NotImplementedError

    def _exact_shapes(self) -> bool:
        """False when the static shapes were inferred from a sample (a `map`), so that they
        must not be used to count elements."""
        return all(d._exact_shapes() for d in self._inputs())

    # -- structure ---------------------------------------------------------------------------
    @property
    def element_spec(self):
        """The structure of TensorSpecs that describes each element.

        Example:
            >>> dtf.data.Dataset.from_tensor_slices([1.0, 2.0]).element_spec
            TensorSpec(shape=(), dtype=dtf.float32, name=None)
        """
        spec = self._element_spec
        if spec is None:
            spec = self._element_spec = self._compute_element_spec()
        return spec

    def cardinality(self):
        """The number of elements, as an int64 scalar Tensor: `INFINITE_CARDINALITY` (-1) for
        an infinite dataset, `UNKNOWN_CARDINALITY` (-2) when it cannot be known without
        iterating (after `filter`, `from_generator`).

        Example:
            >>> int(dtf.data.Dataset.range(10).batch(3).cardinality())
            4
        """
        return Tensor(np.int64(self._cardinality()))

    def __len__(self):
        n = self._cardinality()
        if n == INFINITE:
            raise TypeError("The dataset is infinite.")
        if n == UNKNOWN:
            raise TypeError("The dataset length is unknown.")
        return n

    def __bool__(self):
        return True  # a dataset is truthy even when empty (len() would otherwise decide)

    def __repr__(self):
        return f"<{type(self).__name__} element_spec={self.element_spec!r}>"

    # -- iteration ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator:
        return Iterator(self)

    def as_numpy_iterator(self):
        """Iterates the elements as NumPy values (arrays, NumPy scalars for rank 0).

        Example:
            >>> list(dtf.data.Dataset.range(3).as_numpy_iterator())
            [np.int64(0), np.int64(1), np.int64(2)]
        """
        return NumpyIterator(self)

    # -- creation -----------------------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors, name=None) -> Dataset:
        """A dataset of the slices of `tensors` along their first dimension.

        `tensors` may be a Tensor, a NumPy array, Python data, or a tuple/dict (nested) of
        them, all with the same first dimension; each element has the same structure.

        Example:
            >>> ds = dtf.data.Dataset.from_tensor_slices({"a": [1, 2], "b": [[3, 4], [5, 6]]})
            >>> [e["b"].numpy().tolist() for e in ds]
            [[3, 4], [5, 6]]
        """
        from dtf.data.sources import _TensorSliceDataset

        return _TensorSliceDataset(tensors)

    @staticmethod
    def from_tensors(tensors, name=None) -> Dataset:
        """A dataset of one element, `tensors` (a Tensor or a structure of them).

        Example:
            >>> [t.shape for t in dtf.data.Dataset.from_tensors([1, 2, 3])]
            [TensorShape([3])]
        """
        from dtf.data.sources import _TensorDataset

        return _TensorDataset(tensors)

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None,
                       output_signature=None, name=None) -> Dataset:
        """A dataset of the elements that `generator()` yields, checked and converted against
        `output_signature` (a structure of `dtf.TensorSpec`). `generator` is called anew for
        each pass, with `args` (converted to NumPy values) as its arguments.

        Example:
            >>> def gen():
            ...     for i in range(3):
            ...         yield i, [float(i)] * 2
            >>> ds = dtf.data.Dataset.from_generator(gen, output_signature=(
            ...     dtf.TensorSpec(shape=(), dtype=dtf.int32),
            ...     dtf.TensorSpec(shape=(2,), dtype=dtf.float32)))
            >>> [x.numpy().tolist() for _, x in ds][-1]
            [2.0, 2.0]
        """
        from dtf.data.sources import _GeneratorDataset, generator_spec

        spec = generator_spec(output_signature, output_types, output_shapes)
        return _GeneratorDataset(generator, spec, () if args is None else tuple(args))

    @staticmethod
    def range(*args, output_type=dtypes.int64, name=None) -> Dataset:
        """The numbers `range(start, stop, step)` as scalar Tensors of `output_type` (int64
        by default).

        Example:
            >>> list(dtf.data.Dataset.range(1, 8, 3).as_numpy_iterator())
            [np.int64(1), np.int64(4), np.int64(7)]
        """
        from dtf.data.sources import _RangeDataset

        r = slice(*args) if args else None
        if r is None or r.stop is None:
            raise TypeError("Dataset.range takes 1 to 3 arguments: (stop), (start, stop) or "
                            "(start, stop, step), as Python's range.")
        return _RangeDataset(0 if r.start is None else r.start, r.stop,
                             1 if r.step is None else r.step, output_type)

    @staticmethod
    def counter(start=0, step=1, dtype=dtypes.int64, name=None) -> Dataset:
        """The infinite sequence `start, start + step, ...`.

        Example:
            >>> list(dtf.data.Dataset.counter(5).take(2).as_numpy_iterator())
            [np.int64(5), np.int64(6)]
        """
        from dtf.data.sources import _RangeDataset

        return _RangeDataset(start, None, step, dtype)

    @staticmethod
    def zip(*args, datasets=None, name=None) -> Dataset:
        """Elements combined from several datasets, in the structure they are given in
        (`zip(a, b)`, `zip((a, b))` or `zip({"x": a, "y": b})`); stops at the shortest.

        Example:
            >>> a, b = dtf.data.Dataset.range(3), dtf.data.Dataset.range(10, 12)
            >>> [(int(x), int(y)) for x, y in dtf.data.Dataset.zip(a, b)]
            [(0, 10), (1, 11)]
        """
        from dtf.data.functional import _ZipDataset

        if datasets is not None and args:
            raise TypeError("Dataset.zip: give the datasets either as positional arguments or "
                            "as `datasets=`, not both.")
        if datasets is None:
            if not args:
                raise TypeError("Dataset.zip needs at least one dataset.")
            datasets = args[0] if len(args) == 1 else tuple(args)
        return _ZipDataset(datasets)

    # -- transformations -----------------------------------------------------------------------
    def apply(self, transformation_func) -> Dataset:
        """`transformation_func(self)`, which must return a Dataset (for chaining).

        Example:
            >>> dtf.data.Dataset.range(10).apply(lambda d: d.take(3)).cardinality().numpy()
            np.int64(3)
        """
        result = transformation_func(self)
        if not isinstance(result, Dataset):
            raise TypeError(f"apply: `transformation_func` must return a Dataset, got "
                            f"{type(result).__name__}.")
        return result

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None) -> Dataset:
        """Applies `map_func` to each element. A tuple element is passed as separate
        arguments, anything else as one; the function gets Tensors and may return Tensors,
        arrays or Python values, in tuples or dicts. With `num_parallel_calls` (an int or
        `AUTOTUNE`) elements are mapped by a thread pool; the output order is kept.

        Example:
            >>> ds = dtf.data.Dataset.from_tensor_slices(([1, 2], [10, 20]))
            >>> [int(v) for v in ds.map(lambda x, y: x + y, num_parallel_calls=2)]
            [11, 22]
        """
        from dtf.data.functional import _MapDataset

        return _MapDataset(self, map_func, num_parallel_calls)

    def filter(self, predicate, name=None) -> Dataset:
        """The elements for which `predicate` (called as `map`'s function) returns True.

        Example:
            >>> list(dtf.data.Dataset.range(6).filter(lambda x: x % 2 == 0).as_numpy_iterator())
            [np.int64(0), np.int64(2), np.int64(4)]
        """
        from dtf.data.functional import _FilterDataset

        return _FilterDataset(self, predicate)

    def flat_map(self, map_func, name=None) -> Dataset:
        """Maps each element to a Dataset and chains their elements.

        Example:
            >>> ds = dtf.data.Dataset.range(1, 4).flat_map(
            ...     lambda n: dtf.data.Dataset.range(n))
            >>> list(map(int, ds))
            [0, 0, 1, 0, 1, 2]
        """
        from dtf.data.functional import _FlatMapDataset

        return _FlatMapDataset(self, map_func)

    def interleave(self, map_func, cycle_length=None, block_length=None,
                   num_parallel_calls=None, deterministic=None, name=None) -> Dataset:
        """Maps each element to a Dataset and interleaves them: `cycle_length` of them are
        open at once, and `block_length` consecutive elements are taken from each in turn.

        Example:
            >>> ds = dtf.data.Dataset.range(1, 3).interleave(
            ...     lambda x: dtf.data.Dataset.from_tensors(x).repeat(2), cycle_length=2)
            >>> list(map(int, ds))
            [1, 2, 1, 2]
        """
        from dtf.data.functional import _InterleaveDataset, _parallelism

        # The datasets are read in the consumer's thread, in the deterministic order; the
        # argument is checked as TensorFlow checks it.
        _parallelism(num_parallel_calls, "interleave")
        return _InterleaveDataset(self, map_func, cycle_length, block_length)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=None,
                name=None) -> Dataset:
        """Shuffles with a buffer, as TensorFlow: the first `buffer_size` elements fill the
        buffer; each output is drawn uniformly from it, and its place is taken by the next
        input element. A buffer as large as the dataset gives a uniform permutation; a
        buffer of 1 keeps the order. Each pass (epoch) draws a new order unless
        `reshuffle_each_iteration=False`; `seed` (with `dtf.random.set_seed`) makes the
        sequence of orders reproducible.

        Example:
            >>> ds = dtf.data.Dataset.range(5).shuffle(5, seed=42)
            >>> sorted(ds.as_numpy_iterator()) == list(range(5))
            True
        """
        from dtf.data.reorder import _ShuffleDataset

        return _ShuffleDataset(self, buffer_size, seed, reshuffle_each_iteration)

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None,
              deterministic=None, name=None) -> Dataset:
        """Stacks `batch_size` consecutive elements into one (a new first dimension). The last
        batch is smaller unless `drop_remainder=True` drops it.

        Example:
            >>> [b.shape for b in dtf.data.Dataset.range(5).batch(2, drop_remainder=True)]
            [TensorShape([2]), TensorShape([2])]
        """
        from dtf.data.batching import _BatchDataset
        from dtf.data.functional import _parallelism

        # Batches are gathered or stacked in the consumer's thread; the argument is checked
        # as TensorFlow checks it.
        _parallelism(num_parallel_calls, "batch")
        return _BatchDataset(self, batch_size, drop_remainder)

    def padded_batch(self, batch_size, padded_shapes=None, padding_values=None,
                     drop_remainder=False, name=None) -> Dataset:
        """Batches elements of different shapes, padding each component to `padded_shapes`
        (a dim of None or -1 pads to the longest in the batch; the default pads every dim
        so) with `padding_values` (0 by default).

        Example:
            >>> ds = dtf.data.Dataset.range(1, 4).map(lambda n: dtf.fill([n], n))
            >>> [b.numpy().tolist() for b in ds.padded_batch(2)]
            [[[1, 0], [2, 2]], [[3, 3, 3]]]
        """
        from dtf.data.batching import _PaddedBatchDataset

        return _PaddedBatchDataset(self, batch_size, padded_shapes, padding_values,
                                   drop_remainder)

    def ragged_batch(self, batch_size, drop_remainder=False, row_splits_dtype=None,
                     name=None) -> Dataset:
        """Batches elements of different shapes: components whose element_spec shape has
        unknown dims become RaggedTensors, fully known ones are stacked densely.

        Example:
            >>> ds = dtf.data.Dataset.range(4).map(lambda n: dtf.range(n))
            >>> [b.to_list() for b in ds.ragged_batch(2)]
            [[[], [0]], [[0, 1], [0, 1, 2]]]
        """
        from dtf import dtypes
        from dtf.data.ragged_batching import ragged_batch

        return ragged_batch(self, batch_size, drop_remainder,
                            dtypes.int64 if row_splits_dtype is None else row_splits_dtype)

    def unbatch(self, name=None) -> Dataset:
        """Splits each element along its first dimension (the inverse of `batch`).

        Example:
            >>> list(map(int, dtf.data.Dataset.range(5).batch(2).unbatch()))
            [0, 1, 2, 3, 4]
        """
        from dtf.data.batching import _UnbatchDataset

        return _UnbatchDataset(self)

    def repeat(self, count=None, name=None) -> Dataset:
        """Repeats the dataset `count` times (forever when None or -1); each repetition is a
        new pass, so a shuffle before `repeat` reshuffles every time.

        Example:
            >>> list(map(int, dtf.data.Dataset.range(2).repeat(2)))
            [0, 1, 0, 1]
        """
        from dtf.data.reorder import _RepeatDataset

        return _RepeatDataset(self, count)

    def take(self, count, name=None) -> Dataset:
        """The first `count` elements (all of them when `count` is -1).

        Example:
            >>> dtf.data.Dataset.range(10).take(3).cardinality().numpy()
            np.int64(3)
        """
        from dtf.data.reorder import _TakeDataset

        return _TakeDataset(self, count)

    def skip(self, count, name=None) -> Dataset:
        """All but the first `count` elements (none when `count` is -1).

        Example:
            >>> list(map(int, dtf.data.Dataset.range(4).skip(2)))
            [2, 3]
        """
        from dtf.data.reorder import _SkipDataset

        return _SkipDataset(self, count)

    def take_while(self, predicate, name=None) -> Dataset:
        """Elements up to (not including) the first for which `predicate` is False.

        Example:
            >>> list(map(int, dtf.data.Dataset.range(9).take_while(lambda x: x < 3)))
            [0, 1, 2]
        """
        from dtf.data.functional import _TakeWhileDataset

        return _TakeWhileDataset(self, predicate)

    def shard(self, num_shards, index, name=None) -> Dataset:
        """Every `num_shards`-th element starting at `index`: the part of worker `index` of
        `num_shards`.

        Example:
            >>> list(map(int, dtf.data.Dataset.range(10).shard(3, 1)))
            [1, 4, 7]
        """
        from dtf.data.reorder import _ShardDataset

        return _ShardDataset(self, num_shards, index)

    def enumerate(self, start=0, name=None) -> Dataset:
        """Pairs `(index, element)`, the index an int64 counting from `start`.

        Example:
            >>> [(int(i), int(x)) for i, x in dtf.data.Dataset.range(7, 9).enumerate()]
            [(0, 7), (1, 8)]
        """
        return Dataset.zip((Dataset.counter(start), self))

    def concatenate(self, dataset, name=None) -> Dataset:
        """This dataset's elements followed by `dataset`'s (same structure and dtypes).

        Example:
            >>> a, b = dtf.data.Dataset.range(2), dtf.data.Dataset.range(5, 6)
            >>> list(map(int, a.concatenate(b)))
            [0, 1, 5]
        """
        from dtf.data.functional import _ConcatenateDataset

        return _ConcatenateDataset(self, dataset)

    def cache(self, filename="", name=None) -> Dataset:
        """Keeps the elements of the first complete pass, in memory (`filename=""`) or in a
        file (`filename + ".dtfcache"`), and replays them on later passes (in later programs
        too, for a file) without running the input pipeline again.

        Example:
            >>> ds = dtf.data.Dataset.range(4).shuffle(4).cache()
            >>> list(ds.as_numpy_iterator()) == list(ds.as_numpy_iterator())
            True
        """
        from dtf.data.buffering import _CacheDataset

        return _CacheDataset(self, filename)

    def prefetch(self, buffer_size, name=None) -> Dataset:
        """Prepares up to `buffer_size` elements ahead in a background thread, while the
        consumer works on the current one (`AUTOTUNE` picks the size).

        Example:
            >>> list(map(int, dtf.data.Dataset.range(3).prefetch(dtf.data.AUTOTUNE)))
            [0, 1, 2]
        """
        from dtf.data.buffering import _PrefetchDataset

        return _PrefetchDataset(self, buffer_size)

    def with_options(self, options, name=None) -> Dataset:
        """The same dataset with `options` (a `dtf.data.Options`) merged into its options."""
        from dtf.data.options import Options, _OptionsDataset

        if not isinstance(options, Options):
            raise TypeError(f"with_options: expected a dtf.data.Options, got "
                            f"{type(options).__name__}.")
        return _OptionsDataset(self, options)

    def options(self):
        """The `dtf.data.Options` of this dataset (merged over its inputs)."""
        from dtf.data.options import merged_options

        return merged_options(self)

    # -- consuming -----------------------------------------------------------------------------
    def reduce(self, initial_state, reduce_func, name=None):
        """Folds the elements into a state: `state = reduce_func(state, element)`.

        Example:
            >>> int(dtf.data.Dataset.range(5).reduce(dtf.constant(0, dtf.int64),
            ...                                       lambda s, x: s + x))
            10
        """
        from dtf.ops.creation_ops import convert_to_tensor

        state = structure.map_structure(convert_to_tensor, initial_state)
        for element in self:
            state = reduce_func(state, element)
        return state

    def get_single_element(self, name=None):
        """The only element of a dataset that has exactly one.

        Example:
            >>> int(dtf.data.Dataset.range(5).skip(4).get_single_element())
            4
        """
        from dtf.errors import InvalidArgumentError

        it = iter(self)
        try:
            element = next(it)
        except StopIteration:
            raise InvalidArgumentError("Dataset was empty: get_single_element needs exactly "
                                       "one element.") from None
        try:
            next(it)
        except StopIteration:
            return element
        raise InvalidArgumentError("Dataset had more than one element: get_single_element "
                                   "needs exactly one. Use take(1) first if that is meant.")


DatasetV2 = Dataset


class UnaryDataset(Dataset):
    """A transformation of one input dataset (the base of most transformations)."""

    def __init__(self, input_dataset: Dataset):
        if not isinstance(input_dataset, Dataset):
            raise TypeError(f"Expected a dtf.data.Dataset, got {type(input_dataset).__name__}.")
        self._input = input_dataset

    def _inputs(self):
        return [self._input]

    def _compute_element_spec(self):
        return self._input.element_spec

    def _cardinality(self):
        return self._input._cardinality()


def close_iterator(it) -> None:
    """Stops an upstream pass early (a generator's `finally` blocks run: threads stop)."""
    close = getattr(it, "close", None)
    if close is not None:
        close()


class Iterator:
    """A pass over a Dataset (`iter(dataset)`): `next(it)` gives the next element and raises
    StopIteration at the end; `get_next()` raises `dtf.errors.OutOfRangeError` instead.

    Example:
        >>> it = iter(dtf.data.Dataset.range(2))
        >>> int(next(it)), int(it.get_next())
        (0, 1)
    """

    def __init__(self, dataset: Dataset):
        self._dataset = dataset
        self._flat = dataset._elements()
        # On the CPU the arrays become Tensors as they are; on a GPU device they are placed.
        self._wrap = Tensor if _backend.current_device().device_type == "CPU" \
            else (lambda v: Tensor(_backend.place(v)))
        self._pack = self._first_pack

    def _first_pack(self, flat):
        # The spec of a `map` may only be known once its first element has been computed,
        # so the packer is built on the first element.
        self._pack = self._make_packer()
        return self._pack(flat)

    def _make_packer(self):
        return structure.make_packer(self._dataset.element_spec, self._wrap)

    @property
    def element_spec(self):
        return self._dataset.element_spec

    def __iter__(self):
        return self

    def __next__(self):
        if _registry.is_tracing():  # in dtf.function: read on every call of the function
            from dtf.data.iterator_ops import get_next_in_graph

            return get_next_in_graph(self)
        return self._pack(next(self._flat))

    def get_next(self):
        if _registry.is_tracing():
            from dtf.data.iterator_ops import get_next_in_graph

            return get_next_in_graph(self)
        try:
            return self._pack(next(self._flat))
        except StopIteration:
            raise OutOfRangeError("End of sequence") from None

    next = __next__


class NumpyIterator(Iterator):
    """`Dataset.as_numpy_iterator()`: elements as NumPy arrays the caller may modify."""

    def _make_packer(self):
        return structure.make_packer(self._dataset.element_spec, _owned_copy)

    def __repr__(self):
        return f"<NumpyIterator element_spec={self._dataset.element_spec!r}>"


def _owned_copy(value):
    # Arrays that are views of a dataset's own data are copied, so writing to them is safe.
    if type(value) is np.ndarray and not value.flags.owndata:
        return value.copy()
    return value
