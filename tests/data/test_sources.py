"""Dataset sources: from_tensor_slices, from_tensors, range, counter, from_generator; TensorSpec.

Expected values are TensorFlow 2's documented (and observed, TF 2.21) results.
"""

import collections

import numpy as np
import pytest

import dtf
from dtf.tensor_spec import TensorSpec

Dataset = dtf.data.Dataset


def values(ds):
    return [np.asarray(x).tolist() if isinstance(x, np.ndarray) else x
            for x in ds.as_numpy_iterator()]


# -- from_tensor_slices ------------------------------------------------------------------------
def test_slices_of_python_lists_use_tf_default_dtypes():
    assert Dataset.from_tensor_slices([1, 2, 3]).element_spec == TensorSpec([], dtf.int32)
    assert Dataset.from_tensor_slices([1.0, 2.0]).element_spec == TensorSpec([], dtf.float32)
    ds = Dataset.from_tensor_slices(np.arange(6).reshape(3, 2))
    assert ds.element_spec == TensorSpec([2], dtf.int64)  # NumPy keeps its dtype
    assert values(ds) == [[0, 1], [2, 3], [4, 5]]


def test_slices_yield_tensors_and_are_reiterable():
    ds = Dataset.from_tensor_slices(np.array([1.5, 2.5], np.float64))
    first = [x for x in ds]
    assert all(isinstance(x, dtf.Tensor) for x in first)
    assert [x.dtype for x in first] == [dtf.float64, dtf.float64]
    assert [float(x) for x in ds] == [1.5, 2.5]  # a second pass
    assert [float(x) for x in ds] == [1.5, 2.5]


def test_slices_of_a_tuple_and_nested_dict():
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    y = np.array([0, 1, 0, 1], np.uint8)
    ds = Dataset.from_tensor_slices((x, {"label": y, "weight": [1.0, 2.0, 3.0, 4.0]}))
    spec = ds.element_spec
    assert spec == (TensorSpec([2], dtf.float32),
                    {"label": TensorSpec([], dtf.uint8), "weight": TensorSpec([], dtf.float32)})
    elements = list(ds)
    assert len(elements) == 4
    xs, d = elements[2]
    np.testing.assert_array_equal(xs.numpy(), [4.0, 5.0])
    assert int(d["label"]) == 0 and float(d["weight"]) == 3.0
    assert list(d) == ["label", "weight"]


def test_dict_keys_keep_their_order_and_namedtuples_survive():
    Point = collections.namedtuple("Point", ["x", "y"])
    ds = Dataset.from_tensor_slices({"b": [1, 2], "a": [3, 4]})
    assert list(next(iter(ds))) == ["b", "a"]
    ds = Dataset.from_tensor_slices(Point([1, 2], [3, 4]))
    p = next(iter(ds))
    assert isinstance(p, Point) and int(p.y) == 3


def test_slices_copy_the_input():
    a = np.array([1, 2, 3])
    ds = Dataset.from_tensor_slices(a)
    a[0] = 100
    assert values(ds) == [1, 2, 3]


def test_slices_of_tensors_and_variables():
    ds = Dataset.from_tensor_slices((dtf.constant([[1, 2], [3, 4]]), dtf.Variable([5.0, 6.0])))
    assert [(x.numpy().tolist(), float(v)) for x, v in ds] == [([1, 2], 5.0), ([3, 4], 6.0)]


def test_slices_errors():
    with pytest.raises(ValueError, match="same size in their first dimension.*3.*4"):
        Dataset.from_tensor_slices((np.arange(3), np.arange(4)))
    with pytest.raises(ValueError, match="rank >= 1"):
        Dataset.from_tensor_slices(3)
    with pytest.raises(ValueError, match="non-rectangular"):
        Dataset.from_tensor_slices([[1, 2], [3]])
    with pytest.raises(TypeError, match="bytes or str"):
        Dataset.from_tensor_slices(["a", 1])
    assert list(Dataset.from_tensor_slices(["a", "b"]).as_numpy_iterator()) == [b"a", b"b"]


def test_as_numpy_iterator_gives_writable_copies():
    ds = Dataset.from_tensor_slices(np.zeros((3, 2), np.float32))
    rows = list(ds.as_numpy_iterator())
    rows[0][0] = 7.0  # writing to what we were given must not change the dataset
    assert values(ds) == [[0.0, 0.0]] * 3
    assert isinstance(next(Dataset.range(1).as_numpy_iterator()), np.int64)


# -- from_tensors ------------------------------------------------------------------------------
def test_from_tensors_is_one_element():
    ds = Dataset.from_tensors(([1, 2, 3], True))
    assert ds.element_spec == (TensorSpec([3], dtf.int32), TensorSpec([], dtf.bool))
    assert len(ds) == 1
    (t, flag), = list(ds)
    assert t.numpy().tolist() == [1, 2, 3] and bool(flag)
    assert values(Dataset.from_tensors(5).repeat(3)) == [5, 5, 5]


# -- range / counter ---------------------------------------------------------------------------
@pytest.mark.parametrize("args, expected", [
    ((5,), [0, 1, 2, 3, 4]),
    ((2, 5), [2, 3, 4]),
    ((1, 5, 2), [1, 3]),
    ((1, 5, -1), []),
    ((5, 1), []),
    ((5, 1, -2), [5, 3]),
])
def test_range_as_documented(args, expected):
    ds = Dataset.range(*args)
    assert values(ds) == expected
    assert len(ds) == len(expected)
    assert ds.element_spec == TensorSpec([], dtf.int64)


def test_range_output_type_and_errors():
    ds = Dataset.range(1, 5, 2, output_type=dtf.int32)
    assert ds.element_spec == TensorSpec([], dtf.int32)
    assert [x.dtype for x in ds] == [dtf.int32, dtf.int32]
    assert values(Dataset.range(3, output_type=dtf.float32)) == [0.0, 1.0, 2.0]
    with pytest.raises(dtf.errors.InvalidArgumentError, match="step"):
        Dataset.range(1, 2, 0)
    with pytest.raises(TypeError, match="integer"):
        Dataset.range(0.5)
    with pytest.raises(TypeError):
        Dataset.range()


def test_counter_is_infinite():
    ds = Dataset.counter(start=10, step=5)
    assert int(ds.cardinality()) == dtf.data.INFINITE_CARDINALITY
    assert values(ds.take(3)) == [10, 15, 20]
    assert values(ds.skip(2000).take(1)) == [10010]  # past its first block of indices


# -- from_generator ----------------------------------------------------------------------------
def test_generator_with_output_signature():
    def gen():
        yield 1, [2.0, 3.0]
        yield 4, np.array([5.0, 6.0])

    sig = (TensorSpec(shape=(), dtype=dtf.int64), TensorSpec(shape=(2,), dtype=dtf.float32))
    ds = Dataset.from_generator(gen, output_signature=sig)
    assert ds.element_spec == sig
    assert int(ds.cardinality()) == dtf.data.UNKNOWN_CARDINALITY
    out = list(ds)
    assert [(a.dtype, b.dtype) for a, b in out] == [(dtf.int64, dtf.float32)] * 2
    assert [(int(a), b.numpy().tolist()) for a, b in ds] == [(1, [2.0, 3.0]), (4, [5.0, 6.0])]


def test_generator_is_called_again_for_each_pass_with_args():
    calls = []

    def gen(n, scale):
        calls.append((int(n), float(scale)))
        for i in range(int(n)):
            yield i * scale

    ds = Dataset.from_generator(gen, args=(3, 0.5),
                                output_signature=TensorSpec((), dtf.float32))
    assert values(ds) == [0.0, 0.5, 1.0]
    assert values(ds) == [0.0, 0.5, 1.0]
    assert calls == [(3, 0.5), (3, 0.5)]


def test_generator_with_legacy_output_types_and_shapes():
    def gen():
        yield {"a": [1, 2]}, 7

    ds = Dataset.from_generator(gen, ({"a": dtf.int32}, dtf.int64), ({"a": [None]}, []))
    assert ds.element_spec == ({"a": TensorSpec([None], dtf.int32)}, TensorSpec([], dtf.int64))
    ds = Dataset.from_generator(gen, output_types=({"a": dtf.int32}, dtf.int64))
    assert ds.element_spec[1] == TensorSpec(None, dtf.int64)
    (d, n), = list(ds)
    assert d["a"].numpy().tolist() == [1, 2] and int(n) == 7


def test_generator_errors_as_tensorflow():
    def gen():
        yield [1, 2, 3]

    with pytest.raises(TypeError, match=r"shape \(3,\) where an element of shape \(2,\)"):
        list(Dataset.from_generator(gen, output_signature=TensorSpec((2,), dtf.int64)))

    def pairs():
        yield (1, 2)

    sig3 = (TensorSpec((), dtf.int64),) * 3
    with pytest.raises(TypeError, match="did not match the expected structure"):
        list(Dataset.from_generator(pairs, output_signature=sig3))

    def words():
        yield "x"

    with pytest.raises(TypeError, match="could not be converted to the expected type"):
        list(Dataset.from_generator(words, output_signature=TensorSpec((), dtf.float32)))
    with pytest.raises(TypeError, match="output_signature"):
        Dataset.from_generator(pairs)
    with pytest.raises(TypeError, match="callable"):
        Dataset.from_generator(pairs(), output_signature=TensorSpec((), dtf.int64))
    with pytest.raises(TypeError, match="TensorSpec"):
        Dataset.from_generator(pairs, output_signature=(dtf.int64, dtf.int64))


def test_generator_error_inside_generator_propagates():
    def gen():
        yield 1
        raise RuntimeError("broken source")

    ds = Dataset.from_generator(gen, output_signature=TensorSpec((), dtf.int32))
    it = iter(ds)
    assert int(next(it)) == 1
    with pytest.raises(RuntimeError, match="broken source"):
        next(it)


# -- TensorSpec --------------------------------------------------------------------------------
def test_tensor_spec_repr_equality_and_compatibility():
    spec = TensorSpec(shape=(None, 3), dtype=dtf.float32)
    assert repr(spec) == "TensorSpec(shape=(None, 3), dtype=dtf.float32, name=None)"
    assert repr(TensorSpec([], "int64", name="n")) == \
        "TensorSpec(shape=(), dtype=dtf.int64, name='n')"
    assert repr(TensorSpec(None)) == "TensorSpec(shape=<unknown>, dtype=dtf.float32, name=None)"
    assert spec == TensorSpec([None, 3]) and spec != TensorSpec([None, 3], dtf.float64)
    assert hash(spec) == hash(TensorSpec((None, 3)))
    assert spec.is_compatible_with(dtf.zeros((5, 3)))
    assert not spec.is_compatible_with(dtf.zeros((5, 4)))
    assert not spec.is_compatible_with(TensorSpec([2, 3], dtf.int32))
    assert TensorSpec([2, 3]).is_subtype_of(spec) and not spec.is_subtype_of(TensorSpec([2, 3]))
    assert TensorSpec([4]).most_specific_compatible_type(TensorSpec([5])) == TensorSpec([None])
    assert TensorSpec([4]).most_specific_compatible_type(TensorSpec([4, 1])) == TensorSpec(None)
    with pytest.raises(ValueError, match="dtypes differ"):
        TensorSpec([4]).most_specific_compatible_type(TensorSpec([4], dtf.int32))
    assert TensorSpec.from_tensor(dtf.constant([1, 2])) == TensorSpec([2], dtf.int32)
    assert TensorSpec.from_tensor(np.zeros((2, 2))) == TensorSpec([2, 2], dtf.float64)
    assert spec.value_type is dtf.Tensor


def test_dataset_repr_names_the_transformation():
    ds = Dataset.from_tensor_slices({"a": np.arange(6).reshape(3, 2), "b": [1.0, 2.0, 3.0]})
    assert repr(ds) == (
        "<_TensorSliceDataset element_spec={'a': TensorSpec(shape=(2,), dtype=dtf.int64, "
        "name=None), 'b': TensorSpec(shape=(), dtype=dtf.float32, name=None)}>")
    assert repr(Dataset.range(5)) == \
        "<_RangeDataset element_spec=TensorSpec(shape=(), dtype=dtf.int64, name=None)>"
