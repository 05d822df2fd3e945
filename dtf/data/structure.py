"""Element structures of a Dataset: flattening, packing, specs and conversion to arrays.

Inside the pipeline an element travels as a flat tuple of host arrays (NumPy arrays, or NumPy
scalars for rank 0), never as Tensors: Python work per element stays small, and Tensors are
made once, when the user receives the element. The structure (tuples, namedtuples and dicts,
nested) lives in the dataset's `element_spec`, a structure of TensorSpecs of the same shape.

As in `tf.data`, tuples, namedtuples and dicts are structure; lists are values (a list of
equal-length rows is one tensor), and dicts are flattened in sorted key order.

A ragged component (a RaggedTensorSpec in the element_spec, as `ragged_batch` makes) travels
as a `HostRagged`: its flat values and row lengths per ragged level, all host arrays.
"""

from __future__ import annotations

import numpy as np

from dtf import backend as _backend
from dtf import dtypes
from dtf.ragged.ragged_tensor_spec import RaggedTensorSpec
from dtf.tensor import Tensor
from dtf.tensor_spec import TensorSpec

__all__ = ["HostRagged", "RaggedTensorSpec"]

_host_backend = _backend.backend_of(np.zeros(0))


def is_structure(x) -> bool:
    return isinstance(x, (tuple, dict))


def _sorted_keys(d):
    try:
        return sorted(d)
    except TypeError:
        return list(d)


def flatten(structure) -> list:
    """The leaves of `structure` (tuples, namedtuples, dicts), depth first."""
    if not isinstance(structure, (tuple, dict)):
        return [structure]
    out = []
    _flatten_into(structure, out)
    return out


def _flatten_into(x, out):
    if isinstance(x, dict):
        for k in _sorted_keys(x):
            _flatten_into(x[k], out)
    elif isinstance(x, tuple):
        for c in x:
            _flatten_into(c, out)
    else:
        out.append(x)


def pack(structure, flat):
    """`structure` rebuilt with the leaves taken in order from the sequence `flat`."""
    it = iter(flat)
    return _pack(structure, it)


def _pack(structure, it):
    if isinstance(structure, dict):
        packed = {k: _pack(structure[k], it) for k in _sorted_keys(structure)}
        return type(structure)((k, packed[k]) for k in structure)
    if isinstance(structure, tuple):
        items = [_pack(c, it) for c in structure]
        if hasattr(structure, "_fields"):
            return type(structure)(*items)
        return tuple(items)
    return next(it)


def map_structure(fn, structure):
    return pack(structure, [fn(x) for x in flatten(structure)])


def same_structure(a, b) -> bool:
    """True when `a` and `b` nest the same way (leaf values are not compared)."""
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b)
                and all(same_structure(a[k], b[k]) for k in a))
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
                and all(same_structure(x, y) for x, y in zip(a, b)))
    return True


# -- values -> host arrays ----------------------------------------------------------------------
def to_host(value):
    """A backend array as a host NumPy array (rank 0 as a NumPy scalar)."""
    if type(value) is np.ndarray:
        return value[()] if value.ndim == 0 else value
    if isinstance(value, np.generic):
        return value
    value = _backend.backend_of(value).to_host(value)
    return value[()] if value.ndim == 0 else value


def to_array(value, dtype=None, what="element"):
    """A Tensor, Variable, NumPy array or Python value as a host array, with TensorFlow's
    conversion rules (Python floats become float32, ints int32; NumPy keeps its dtype); a
    RaggedTensor as a HostRagged."""
    if getattr(value, "_is_ragged_tensor", False):
        return HostRagged.from_ragged(value)
    if type(value) is Tensor:
        if dtype is not None and value.dtype != dtype:
            raise TypeError(f"Expected a {what} of dtype {dtype.name}, got a Tensor of dtype "
                            f"{value.dtype.name}. Cast it with dtf.cast.")
        return to_host(value._value)
    from dtf.ops.creation_ops import convert_to_tensor

    try:
        t = convert_to_tensor(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise type(e)(f"Cannot convert the {what} {_short(value)} to a tensor: {e}") from None
    return to_host(t._value)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def spec_of(array) -> TensorSpec:
    """The TensorSpec of a host array (the RaggedTensorSpec of a HostRagged)."""
    if type(array) is HostRagged:
        return array.spec()
    return TensorSpec(np.shape(array), dtypes.from_numpy(array.dtype))


def relaxed_spec_of(array):
    """The spec of a host array (or HostRagged) with every dim unknown, the rank and dtype kept:
    what a sample output says of a function's outputs in general."""
    spec = spec_of(array)
    shape = [None] * spec.shape.rank
    if isinstance(spec, RaggedTensorSpec):
        return RaggedTensorSpec(shape, spec.dtype, spec.ragged_rank, spec.row_splits_dtype)
    return TensorSpec(shape, spec.dtype)


def unbatched_spec(spec):
    """The spec of one row of a component of spec `spec` (what `unbatch` yields)."""
    if isinstance(spec, RaggedTensorSpec):
        return RaggedTensorSpec(spec.shape[1:], spec.dtype, spec.ragged_rank - 1,
                                spec.row_splits_dtype)
    return TensorSpec(spec.shape[1:], spec.dtype)


def has_ragged(spec) -> bool:
    """True when the structure of specs `spec` has a RaggedTensorSpec leaf."""
    return any(isinstance(s, RaggedTensorSpec) for s in flatten(spec))


class HostRagged:
    """A ragged value inside the pipeline: `flat_values` (a host array) and `row_lengths`, one
    int64 vector per ragged level, outermost first (the first has one entry per row)."""

    __slots__ = ("flat_values", "row_lengths", "row_splits_dtype")

    def __init__(self, flat_values, row_lengths, row_splits_dtype=dtypes.int64):
        self.flat_values = flat_values
        self.row_lengths = tuple(row_lengths)
        self.row_splits_dtype = row_splits_dtype

    @classmethod
    def from_ragged(cls, rt) -> HostRagged:
        lengths, level = [], rt
        while getattr(level, "_is_ragged_tensor", False):
            lengths.append(np.diff(level._splits))
            level = level.values
        return cls(to_host(level._value), lengths, rt.row_splits_dtype)

    @property
    def nrows(self) -> int:
        return len(self.row_lengths[0])

    def __len__(self):
        return len(self.row_lengths[0])

    def __getitem__(self, row):
        """Row `row` (an int): a HostRagged one level less ragged, or a host array."""
        lengths = self.row_lengths
        start, stop = int(np.sum(lengths[0][:row])), int(np.sum(lengths[0][:row + 1]))
        if len(lengths) == 1:
            return self.flat_values[start:stop]
        inner = []
        for level in lengths[1:]:
            inner.append(level[start:stop])
            start, stop = int(np.sum(level[:start])), int(np.sum(level[:stop]))
        return HostRagged(self.flat_values[start:stop], inner, self.row_splits_dtype)

    def spec(self) -> RaggedTensorSpec:
        inner = list(np.shape(self.flat_values)[1:])
        shape = [self.nrows] + [None] * len(self.row_lengths) + inner
        return RaggedTensorSpec(shape, dtypes.from_numpy(self.flat_values.dtype),
                                len(self.row_lengths), self.row_splits_dtype)

    def to_ragged(self, wrap=Tensor):
        """The RaggedTensor, its flat values passed through `wrap`."""
        from dtf.ragged.ragged_tensor import RaggedTensor

        return RaggedTensor.from_nested_row_lengths(wrap(self.flat_values), self.row_lengths,
                                                    validate=False)


def normalize(element, what="element"):
    """(spec structure, flat tuple of arrays) of a nested Python element."""
    if isinstance(element, list):
        element = to_array(element, what=what)
    leaves = flatten(element)
    arrays = tuple(to_array(leaf, what=what) for leaf in leaves)
    spec = pack(element, [spec_of(a) for a in arrays]) if is_structure(element) \
        else spec_of(arrays[0])
    return spec, arrays


def flat_outputs(ret, n_expected=None, what="map_func"):
    """The flat tuple of host arrays of a user function's result (Tensors, arrays, Python
    values in tuples/dicts; a returned list is taken as a tuple, as `tf.data` does)."""
    flat = None
    kind = type(ret)
    if kind is Tensor:
        flat = (to_host(ret._value),)
    elif kind is tuple:
        values = []
        for t in ret:  # the common case, a tuple of Tensors, without the general walk
            if type(t) is not Tensor:
                break
            values.append(to_host(t._value))
        else:
            flat = tuple(values)
    if flat is None:
        if isinstance(ret, list):
            ret = tuple(ret)
        flat = tuple(to_array(leaf, what=f"value returned by {what}")
                     for leaf in flatten(ret))
    if n_expected is not None and len(flat) != n_expected:
        raise ValueError(f"{what} returned {len(flat)} tensors, but its first call returned "
                         f"{n_expected}: it must return the same structure for every element.")
    return flat


# -- flat tuples -> structured Tensors ----------------------------------------------------------
def make_packer(spec, wrap=Tensor):
    """A fast function from a flat tuple of arrays to the element as the user sees it: the
    structure of `spec` with each array passed through `wrap` (Tensor by default); ragged
    components become RaggedTensors with their flat values passed through `wrap`."""
    if has_ragged(spec):
        def wrap_any(value):
            return value.to_ragged(wrap) if type(value) is HostRagged else wrap(value)

        if not is_structure(spec):
            return lambda flat: wrap_any(flat[0])
        return lambda flat: pack(spec, map(wrap_any, flat))
    if not is_structure(spec):
        return lambda flat: wrap(flat[0])
    if type(spec) is tuple and not any(is_structure(s) for s in spec):
        return lambda flat: tuple(map(wrap, flat))
    return lambda flat: pack(spec, map(wrap, flat))


def make_unpacker(spec):
    """The inverse of `make_packer` for user function arguments: flat tuple -> the arguments
    of the call (a tuple element is spread over positional arguments, as `tf.data` does)."""
    pack_fn = make_packer(spec)
    if type(spec) is tuple:
        return pack_fn
    return lambda flat: (pack_fn(flat),)
