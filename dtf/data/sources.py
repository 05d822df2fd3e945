"""Datasets that start a pipeline: tensor slices, one tensor, number ranges, generators."""

from __future__ import annotations

import itertools

import numpy as np

from dtf import dtypes
from dtf.data import structure
from dtf.data.dataset import INFINITE, UNKNOWN, Dataset, int_arg
from dtf.data.plan import ArraySource, IndexPlan, RangeSource
from dtf.errors import InvalidArgumentError
from dtf.tensor_shape import TensorShape
from dtf.tensor_spec import TensorSpec


class _TensorSliceDataset(Dataset):
    """The rows of one or more arrays (`Dataset.from_tensor_slices`)."""

    def __init__(self, element):
        spec, arrays = structure.normalize(element, what="input of from_tensor_slices")
        sizes = []
        for i, a in enumerate(arrays):
            if np.ndim(a) == 0:
                raise ValueError(
                    f"from_tensor_slices: component {i} is a scalar (shape ()), but slicing "
                    "needs tensors of rank >= 1 to split along their first dimension. Use "
                    "Dataset.from_tensors for a dataset of one element.")
            sizes.append(a.shape[0])
        if any(s != sizes[0] for s in sizes):
            detail = ", ".join(f"component {i}: {s}" for i, s in enumerate(sizes))
            raise ValueError(
                "from_tensor_slices: all components must have the same size in their first "
                f"dimension (the number of elements), got {detail}.")
        self._n = sizes[0]
        self._source = ArraySource(arrays)
        self._element_spec = structure.map_structure(
            lambda s: TensorSpec(s.shape[1:], s.dtype), spec)

    def _cardinality(self):
        return self._n

    def _plan(self):
        n = self._n
        return IndexPlan(self._source, lambda: iter((range(n),)))


class _TensorDataset(Dataset):
    """One element (`Dataset.from_tensors`)."""

    def __init__(self, element):
        spec, arrays = structure.normalize(element, what="input of from_tensors")
        self._element_spec = spec
        self._source = ArraySource(tuple(np.asarray(a)[None] for a in arrays))

    def _cardinality(self):
        return 1

    def _plan(self):
        return IndexPlan(self._source, lambda: iter((range(1),)))


class _RangeDataset(Dataset):
    """`Dataset.range(start, stop, step)` (and `Dataset.counter` when `stop` is None)."""

    def __init__(self, start, stop, step, dtype):
        self._dtype = dtypes.as_dtype(dtype)
        if not self._dtype.is_integer and not self._dtype.is_floating:
            raise TypeError(f"Dataset.range: dtype must be an integer or floating dtype, got "
                            f"{self._dtype.name}.")
        start, step = int_arg(start, "start", "range"), int_arg(step, "step", "range")
        if step == 0:
            raise InvalidArgumentError("Dataset.range: step must be a non-zero integer.")
        self._start, self._step = start, step
        if stop is None:
            self._n = None  # a counter: infinite
        else:
            stop = int_arg(stop, "stop", "range")
            self._n = len(range(start, stop, step))
        self._source = RangeSource(start, step, self._dtype._np)
        self._element_spec = TensorSpec([], self._dtype)

    def _cardinality(self):
        return INFINITE if self._n is None else self._n

    def _plan(self):
        n = self._n
        if n is not None:
            return IndexPlan(self._source, lambda: iter((range(n),)))
        block = 1024

        def chunks():
            for k in itertools.count():
                yield range(k * block, (k + 1) * block)

        return IndexPlan(self._source, chunks)


class _GeneratorDataset(Dataset):
    """The elements a Python generator yields (`Dataset.from_generator`)."""

    def __init__(self, generator, spec, args):
        if not callable(generator):
            raise TypeError(f"from_generator: `generator` must be a callable that returns an "
                            f"iterable (a generator function), got {type(generator).__name__}."
                            " Pass the function itself, not a call of it.")
        self._generator = generator
        self._args = tuple(structure.to_array(a, what="generator argument") for a in args)
        self._element_spec = spec
        self._flat_specs = structure.flatten(spec)

    def _cardinality(self):
        return UNKNOWN

    def _elements(self):
        spec = self._element_spec
        flat_specs = self._flat_specs
        single = not structure.is_structure(spec)
        checks = [(s, s.dtype._np, s.shape) for s in flat_specs]
        for value in self._generator(*self._args):
            if single:
                leaves = (value,)
            else:
                if isinstance(value, list):
                    value = tuple(value)
                if not structure.same_structure(spec, value):
                    raise TypeError(
                        "`generator` yielded an element that did not match the expected "
                        f"structure. The expected structure was {_dtype_structure(spec)}, "
                        f"but the yielded element was {structure._short(value)}.")
                leaves = structure.flatten(value)
            yield tuple(_convert(leaf, s, np_dtype, shape)
                        for leaf, (s, np_dtype, shape) in zip(leaves, checks))


def _convert(value, spec, np_dtype, shape):
    if type(value) is np.ndarray and value.dtype == np_dtype:
        arr = value.copy()  # the generator may reuse its buffer
    else:
        try:
            if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
                value = value.numpy()
            arr = np.asarray(value, dtype=np_dtype)
            if arr is value:
                arr = arr.copy()
        except (TypeError, ValueError):
            raise TypeError(
                "`generator` yielded an element that could not be converted to the expected "
                f"type. The expected type was {spec.dtype.name}, but the yielded element was "
                f"{structure._short(value)}.") from None
    if not shape.is_compatible_with(arr.shape):
        raise TypeError(f"`generator` yielded an element of shape {TensorShape(arr.shape)} "
                        f"where an element of shape {shape} was expected.")
    return arr[()] if arr.ndim == 0 else arr


def _dtype_structure(spec) -> str:
    return repr(structure.map_structure(lambda s: _DtypeName(s.dtype), spec))


class _DtypeName:
    def __init__(self, dtype):
        self.dtype = dtype

    def __repr__(self):
        return repr(self.dtype)


def generator_spec(output_signature, output_types, output_shapes):
    """The element spec from `output_signature`, or from the legacy types and shapes."""
    if output_signature is not None:
        if output_types is not None or output_shapes is not None:
            raise TypeError("from_generator: give either `output_signature` or "
                            "`output_types`/`output_shapes`, not both.")
        if isinstance(output_signature, list):
            output_signature = tuple(output_signature)
        for s in structure.flatten(output_signature):
            if not isinstance(s, TensorSpec):
                raise TypeError(
                    "from_generator: `output_signature` must be a structure (tuples, dicts) of "
                    f"dtf.TensorSpec objects, but it contains {s!r}. Write for instance "
                    "output_signature=(dtf.TensorSpec(shape=(), dtype=dtf.int32), ...).")
        return output_signature
    if output_types is None:
        raise TypeError("To specify the output signature you need to provide either the "
                        "`output_signature` argument or the `output_types` argument.")
    if isinstance(output_types, list):
        output_types = tuple(output_types)
    flat_types = structure.flatten(output_types)
    if output_shapes is None:
        flat_shapes = [TensorShape(None)] * len(flat_types)
    else:
        try:
            flat_shapes = [TensorShape(s) for s in _flatten_up_to(output_types, output_shapes)]
        except (KeyError, IndexError, TypeError):
            raise ValueError(f"from_generator: `output_shapes` {output_shapes!r} does not match "
                             f"the structure of `output_types` {output_types!r}.") from None
    specs = [TensorSpec(s, t) for s, t in zip(flat_shapes, flat_types)]
    return structure.pack(output_types, specs) if structure.is_structure(output_types) \
        else specs[0]


def _flatten_up_to(template, value) -> list:
    """The parts of `value` at the leaves of `template` (shapes are tuples themselves)."""
    if isinstance(template, dict):
        return [x for k in structure._sorted_keys(template)
                for x in _flatten_up_to(template[k], value[k])]
    if isinstance(template, tuple):
        if len(template) != len(value):
            raise IndexError
        return [x for t, v in zip(template, value) for x in _flatten_up_to(t, v)]
    return [value]
