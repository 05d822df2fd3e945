"""Transformations that call user functions (map, filter, flat_map, interleave, take_while)
and that combine datasets (zip, concatenate).

User functions receive Tensors: a tuple element is spread over positional arguments, any other
element is one argument (as `tf.data`). They run eagerly, once per element.

The output spec of a `map` comes, as in `tf.data`, from tracing the function once on symbolic
tensors (`dtf.compile.symbolic`) of the input spec. A function that cannot be traced (it asks
for values, or computes with NumPy) is described by the dtypes and ranks of its first output,
with unknown dims, as TensorFlow describes a `numpy_function`.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os

import numpy as np

from dtf.data import structure
from dtf.data.dataset import AUTOTUNE, INFINITE, UNKNOWN, Dataset, UnaryDataset, close_iterator
from dtf.errors import InvalidArgumentError
from dtf.tensor import Tensor
from dtf.tensor_spec import TensorSpec


def _parallelism(num_parallel_calls, op):
    if num_parallel_calls is None:
        return None
    from dtf.data.dataset import int_arg

    n = int_arg(num_parallel_calls, "num_parallel_calls", op)
    if n == AUTOTUNE:
        return max(2, os.cpu_count() or 2)
    if n <= 0:
        raise InvalidArgumentError(f"{op}: num_parallel_calls must be greater than zero or "
                                   f"dtf.data.AUTOTUNE, got {n}.")
    return n


class _FunctionDataset(UnaryDataset):
    """Base of transformations that call a user function on each input element."""

    def __init__(self, input_dataset, func, op):
        super().__init__(input_dataset)
        if not callable(func):
            raise TypeError(f"{op}: expected a callable, got {type(func).__name__}.")
        self._func = func
        self._op = op

    def _make_args_fn(self):
        """flat element -> the positional arguments of the user function. Built on the first
        element: by then an upstream map has recorded its spec."""
        box = []

        def args_of(flat):
            if not box:
                box.append(structure.make_unpacker(self._input.element_spec))
            return box[0](flat)

        return args_of

    def _make_predicate(self):
        args_of, func, op = self._make_args_fn(), self._func, self._op

        def keep(flat) -> bool:
            r = func(*args_of(flat))
            if type(r) is Tensor:
                if r.dtype.name != "bool" or r.shape.rank != 0:
                    raise ValueError(
                        f"Invalid `predicate`. `predicate` must return a `dtf.bool` scalar "
                        f"tensor, but its return type is {TensorSpec(r.shape, r.dtype)!r}.")
                return bool(r._value)
            if isinstance(r, (bool, np.bool_)):
                return bool(r)
            raise ValueError(f"Invalid `predicate` of {op}. `predicate` must return a `dtf.bool`"
                             f" scalar tensor or a Python bool, but it returned {r!r}.")

        return keep


# -- map ------------------------------------------------------------------------------------------
class _MapDataset(_FunctionDataset):
    def __init__(self, input_dataset, map_func, num_parallel_calls):
        super().__init__(input_dataset, map_func, "map")
        self._workers = _parallelism(num_parallel_calls, "map")
        self._traced = False

    def _exact_shapes(self):
        return self._traced and self._input._exact_shapes()

    def _make_call(self):
        args_of, func = self._make_args_fn(), self._func
        n_out = [None]

        def call(flat):
            ret = func(*args_of(flat))
            out = structure.flat_outputs(ret, n_out[0], "map_func")
            if n_out[0] is None:
                n_out[0] = len(out)
                if self._element_spec is None:
                    self._element_spec = self._infer_spec(ret, out)
            return out

        return call

    def _infer_spec(self, ret, flat_out):
        """The output spec: traced on symbolic inputs when the function allows it (as
        `tf.data` does), else the dtypes and ranks of a sample output, dims unknown."""
        traced = _trace_spec(self._func, self._input.element_spec)
        if traced is not None:
            self._traced = True
            return traced
        specs = [structure.relaxed_spec_of(a) for a in flat_out]
        if isinstance(ret, list):
            ret = tuple(ret)
        return structure.pack(ret, specs) if structure.is_structure(ret) else specs[0]

    def _compute_element_spec(self):
        traced = _trace_spec(self._func, self._input.element_spec)
        if traced is not None:
            self._traced = True
            return traced
        it = self._input._elements()
        try:
            first = next(it, None)
        finally:
            close_iterator(it)
        if first is None:
            raise ValueError("Cannot infer the element_spec of map: the function cannot be traced "
                             "on symbolic tensors and the input dataset is empty, so there is no "
                             "element to run it on.")
        self._make_call()(first)
        return self._element_spec

    def _elements(self):
        call = self._make_call()
        it = self._input._elements()
        if self._workers is None:
            for flat in it:
                yield call(flat)
            return
        yield from _ordered_parallel_map(call, it, self._workers)


def _trace_spec(func, input_spec):
    """The output spec of `func` applied to symbolic tensors of `input_spec`, or None when it
    cannot run on them (it asks for values, calls NumPy, ...)."""
    from dtf.compile import symbolic

    if structure.has_ragged(input_spec):  # no symbolic RaggedTensors: run it on an element
        return None
    placeholders = [symbolic.placeholder(s.shape, s.dtype)
                    for s in structure.flatten(input_spec)]
    element = structure.pack(input_spec, placeholders) if structure.is_structure(input_spec) \
        else placeholders[0]
    args = element if type(input_spec) is tuple else (element,)
    try:
        ret = func(*args)
        if isinstance(ret, list):
            ret = tuple(ret)
        specs = [_leaf_spec(leaf) for leaf in structure.flatten(ret)]
    except Exception:  # noqa: BLE001 - any failure means "not traceable": run it for real
        return None
    return structure.pack(ret, specs) if structure.is_structure(ret) else specs[0]


def _leaf_spec(leaf) -> TensorSpec:
    if getattr(leaf, "_is_symbolic", False) or isinstance(leaf, Tensor) or getattr(
            leaf, "_is_dtf_variable", False):
        return TensorSpec(leaf.shape, leaf.dtype)
    return structure.spec_of(structure.to_array(leaf))


def _ordered_parallel_map(call, it, workers):
    """`map(call, it)` with `workers` threads, in input order; at most 2x workers in flight."""
    pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="dtf.data.map")
    pending = collections.deque()
    try:
        for flat in it:
            pending.append(pool.submit(call, flat))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
        close_iterator(it)


# -- filter / take_while ----------------------------------------------------------------------------
class _FilterDataset(_FunctionDataset):
    def __init__(self, input_dataset, predicate):
        super().__init__(input_dataset, predicate, "filter")

    def _cardinality(self):
        return UNKNOWN

    def _elements(self):
        keep = self._make_predicate()
        return (flat for flat in self._input._elements() if keep(flat))


class _TakeWhileDataset(_FunctionDataset):
    def __init__(self, input_dataset, predicate):
        super().__init__(input_dataset, predicate, "take_while")

    def _cardinality(self):
        return UNKNOWN

    def _elements(self):
        keep = self._make_predicate()
        it = self._input._elements()
        try:
            for flat in it:
                if not keep(flat):
                    return
                yield flat
        finally:
            close_iterator(it)


# -- flat_map / interleave ------------------------------------------------------------------------
class _DatasetFunctionDataset(_FunctionDataset):
    """Base of flat_map and interleave: the function maps an element to a Dataset."""

    def _exact_shapes(self):
        return False

    def _cardinality(self):
        return UNKNOWN

    def _make_open(self):
        args_of, func, op = self._make_args_fn(), self._func, self._op

        def open_dataset(flat):
            ds = func(*args_of(flat))
            if not isinstance(ds, Dataset):
                raise TypeError(f"The function passed to {op} must return a dtf.data.Dataset, "
                                f"got {type(ds).__name__}.")
            if self._element_spec is None:
                self._element_spec = ds.element_spec
            return ds._elements()

        return open_dataset

    def _compute_element_spec(self):
        it = self._input._elements()
        try:
            first = next(it, None)
        finally:
            close_iterator(it)
        if first is None:
            raise ValueError(f"Cannot infer the element_spec of {self._op}: its input is empty, "
                             "so the function was never called.")
        close_iterator(self._make_open()(first))
        return self._element_spec


class _FlatMapDataset(_DatasetFunctionDataset):
    def __init__(self, input_dataset, map_func):
        super().__init__(input_dataset, map_func, "flat_map")

    def _elements(self):
        open_dataset = self._make_open()
        for flat in self._input._elements():
            yield from open_dataset(flat)


class _InterleaveDataset(_DatasetFunctionDataset):
    def __init__(self, input_dataset, map_func, cycle_length, block_length):
        super().__init__(input_dataset, map_func, "interleave")
        from dtf.data.dataset import int_arg

        cycle = AUTOTUNE if cycle_length is None else int_arg(cycle_length, "cycle_length",
                                                              "interleave")
        self._cycle = max(2, os.cpu_count() or 2) if cycle == AUTOTUNE else cycle
        self._block = 1 if block_length is None else int_arg(block_length, "block_length",
                                                             "interleave")
        if self._cycle <= 0 or self._block <= 0:
            raise InvalidArgumentError("interleave: cycle_length and block_length must be "
                                       "greater than zero.")

    def _elements(self):
        # TensorFlow's order: a cycle of `cycle` open datasets, `block` elements from each in
        # turn; an exhausted one is replaced, in its slot, by the next input element's.
        open_dataset = self._make_open()
        cycle, block = self._cycle, self._block
        inputs = self._input._elements()
        slots = [None] * cycle
        n_open = 0
        index = taken = 0
        end_of_input = False
        while not end_of_input or n_open:
            current = slots[index]
            if current is not None:
                element = next(current, None)
                if element is not None:
                    taken += 1
                    if taken == block:
                        taken, index = 0, (index + 1) % cycle
                    yield element
                    continue
                slots[index] = None
                n_open -= 1
                taken, index = 0, (index + 1) % cycle
            elif not end_of_input:
                flat = next(inputs, None)
                if flat is None:
                    end_of_input = True
                else:
                    slots[index] = open_dataset(flat)
                    n_open += 1
            else:
                taken, index = 0, (index + 1) % cycle


# -- zip / concatenate ----------------------------------------------------------------------------
class _ZipDataset(Dataset):
    def __init__(self, datasets):
        if isinstance(datasets, list):
            datasets = tuple(datasets)
        flat = structure.flatten(datasets)
        for d in flat:
            if not isinstance(d, Dataset):
                raise TypeError("Invalid input to `zip`. Inputs are expected to be (nested) "
                                "structures of `dtf.data.Dataset` objects, but the structure "
                                f"contains a {type(d).__name__}.")
        self._structure = datasets
        self._datasets = flat

    def _inputs(self):
        return list(self._datasets)

    def _compute_element_spec(self):
        return structure.pack(self._structure, [d.element_spec for d in self._datasets]) \
            if structure.is_structure(self._structure) else self._datasets[0].element_spec

    def _cardinality(self):
        result = INFINITE
        for d in self._datasets:
            n = d._cardinality()
            if n == UNKNOWN:
                return UNKNOWN
            if n != INFINITE:
                result = n if result == INFINITE else min(result, n)
        return result

    def _elements(self):
        its = [d._elements() for d in self._datasets]
        try:
            if len(its) == 1:
                yield from its[0]
                return
            for flats in zip(*its):
                yield sum(flats, ())
        finally:
            for it in its:
                close_iterator(it)


class _ConcatenateDataset(Dataset):
    def __init__(self, first, second):
        if not isinstance(second, Dataset):
            raise TypeError(f"concatenate: expected a dtf.data.Dataset, got "
                            f"{type(second).__name__}.")
        a, b = first.element_spec, second.element_spec
        flat_a, flat_b = structure.flatten(a), structure.flatten(b)
        if not structure.same_structure(a, b) or len(flat_a) != len(flat_b) or any(
                x.dtype != y.dtype for x, y in zip(flat_a, flat_b)):
            raise TypeError(f"Incompatible dataset elements:\n  {a!r} vs.   {b!r}\nconcatenate "
                            "needs datasets with the same structure and dtypes; map or cast "
                            "one of them first.")
        specs = [x.most_specific_compatible_type(y) for x, y in zip(flat_a, flat_b)]
        self._element_spec = structure.pack(a, specs) if structure.is_structure(a) \
            else specs[0]
        self._first, self._second = first, second

    def _inputs(self):
        return [self._first, self._second]

    def _cardinality(self):
        a, b = self._first._cardinality(), self._second._cardinality()
        if UNKNOWN in (a, b):
            return UNKNOWN
        if INFINITE in (a, b):
            return INFINITE
        return a + b

    def _elements(self):
        yield from self._first._elements()
        yield from self._second._elements()
