"""batch, padded_batch, unbatch: values, specs and cardinalities as TensorFlow documents."""

import numpy as np
import pytest

import dtf
from dtf.tensor_spec import TensorSpec

Dataset = dtf.data.Dataset


def as_lists(ds):
    return [x.numpy().tolist() for x in ds]


def test_batch_as_documented():
    assert as_lists(Dataset.range(8).batch(3)) == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert as_lists(Dataset.range(8).batch(3, drop_remainder=True)) == [[0, 1, 2], [3, 4, 5]]


def test_batch_specs_and_cardinality():
    ds = Dataset.from_tensor_slices((np.zeros((5, 2), np.float32), np.arange(5)))
    assert ds.batch(2).element_spec == (TensorSpec([None, 2], dtf.float32),
                                        TensorSpec([None], dtf.int64))
    assert ds.batch(2, drop_remainder=True).element_spec == (
        TensorSpec([2, 2], dtf.float32), TensorSpec([2], dtf.int64))
    assert len(ds.batch(2)) == 3 and len(ds.batch(2, drop_remainder=True)) == 2
    assert int(ds.repeat().batch(2).cardinality()) == dtf.data.INFINITE_CARDINALITY
    assert int(ds.filter(lambda a, b: b > 1).batch(2).cardinality()) == \
        dtf.data.UNKNOWN_CARDINALITY


def test_batch_of_dicts_and_scalars():
    ds = Dataset.from_tensor_slices({"a": [1, 2, 3], "b": [[1.0], [2.0], [3.0]]}).batch(2)
    batches = list(ds)
    assert batches[0]["a"].numpy().tolist() == [1, 2]
    assert batches[0]["b"].shape == (2, 1) and batches[1]["b"].shape == (1, 1)


def test_batch_gathers_the_same_on_both_paths():
    # Batching a random-access input gathers; any other input stacks element by element.
    x = np.random.default_rng(0).standard_normal((103, 4)).astype(np.float32)
    fast = Dataset.from_tensor_slices(x).skip(3).shard(2, 1).repeat(2).batch(8)
    slow = Dataset.from_tensor_slices(x).map(lambda r: r).skip(3).shard(2, 1).repeat(2).batch(8)
    a, b = as_lists(fast), as_lists(slow)
    assert a == b and len(a) == 13


def test_batch_after_map_takes_the_mapped_values():
    ds = Dataset.range(5).map(lambda v: (v, dtf.cast(v, dtf.float32) * 0.5)).batch(2)
    out = [(a.numpy().tolist(), b.numpy().tolist()) for a, b in ds]
    assert out == [([0, 1], [0.0, 0.5]), ([2, 3], [1.0, 1.5]), ([4], [2.0])]


def test_batch_different_shapes_is_an_error_that_names_padded_batch():
    ds = Dataset.range(1, 4).map(lambda x: dtf.fill([x], x)).batch(2)
    with pytest.raises(dtf.errors.InvalidArgumentError, match="different shapes.*padded_batch"):
        list(ds)


def test_batch_errors():
    with pytest.raises(dtf.errors.InvalidArgumentError, match="greater than zero"):
        Dataset.range(3).batch(0)
    with pytest.raises(TypeError, match="batch_size"):
        Dataset.range(3).batch(2.0)


def test_batch_size_may_be_a_tensor():
    assert as_lists(Dataset.range(4).batch(dtf.constant(2, dtf.int64))) == [[0, 1], [2, 3]]


# -- padded_batch: the examples of TensorFlow's documentation ----------------------------------
def _fills():
    return Dataset.range(1, 5, output_type=dtf.int32).map(lambda x: dtf.fill([x], x))


def test_padded_batch_to_the_longest_in_each_batch():
    ds = _fills().padded_batch(2)
    assert as_lists(ds) == [[[1, 0], [2, 2]], [[3, 3, 3, 0], [4, 4, 4, 4]]]
    assert ds.element_spec == TensorSpec([None, None], dtf.int32)


def test_padded_batch_to_a_fixed_size_and_value():
    assert as_lists(_fills().padded_batch(2, padded_shapes=5)) == [
        [[1, 0, 0, 0, 0], [2, 2, 0, 0, 0]], [[3, 3, 3, 0, 0], [4, 4, 4, 4, 0]]]
    assert as_lists(_fills().padded_batch(2, padded_shapes=5, padding_values=-1)) == [
        [[1, -1, -1, -1, -1], [2, 2, -1, -1, -1]], [[3, 3, 3, -1, -1], [4, 4, 4, 4, -1]]]
    ds = _fills().padded_batch(2, padded_shapes=[5], drop_remainder=True)
    assert ds.element_spec == TensorSpec([2, 5], dtf.int32)


def test_padded_batch_nested_components_independently():
    elements = [([1, 2, 3], [10]), ([4, 5], [11, 12])]
    ds = Dataset.from_generator(lambda: iter(elements), (dtf.int32, dtf.int32))
    ds = ds.padded_batch(2, padded_shapes=([4], [None]), padding_values=(-1, 100))
    (a, b), = list(ds)
    assert a.numpy().tolist() == [[1, 2, 3, -1], [4, 5, -1, -1]]
    assert b.numpy().tolist() == [[10, 100], [11, 12]]
    assert a.dtype == dtf.int32


def test_padded_batch_one_value_for_several_components():
    ds = Dataset.zip((_fills(), _fills())).padded_batch(2, padding_values=-1)
    first, second = list(ds)
    assert first[0].numpy().tolist() == [[1, -1], [2, 2]] == first[1].numpy().tolist()
    assert second[1].numpy().tolist() == [[3, 3, 3, -1], [4, 4, 4, 4]]


def test_padded_batch_dict_elements_and_scalars():
    ds = Dataset.from_tensor_slices({"n": [1, 2, 3]}).map(
        lambda d: {"n": d["n"], "v": dtf.fill([d["n"]], 1.0)}).padded_batch(3)
    (b,) = list(ds)
    assert b["n"].numpy().tolist() == [1, 2, 3]
    assert b["v"].numpy().tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]


def test_padded_batch_errors():
    with pytest.raises(dtf.errors.DataLossError, match="smaller size"):
        list(_fills().padded_batch(2, padded_shapes=[2]))
    grid = Dataset.from_tensor_slices(np.zeros((4, 2, 3)))
    with pytest.raises(ValueError, match=r"padded shape \(1, 5\) is not compatible"):
        grid.padded_batch(2, padded_shapes=(1, 5))
    assert grid.padded_batch(2, padded_shapes=(None, 5)).element_spec == \
        TensorSpec([None, None, 5], dtf.float64)
    with pytest.raises(TypeError, match="does not match type"):
        _fills().padded_batch(2, padding_values=dtf.constant(1.0))
    with pytest.raises(ValueError, match="scalars"):
        _fills().padded_batch(2, padding_values=[1, 2])
    unknown_rank = Dataset.from_generator(lambda: iter([[1]]), dtf.int32)
    with pytest.raises(ValueError, match="unknown rank"):
        unknown_rank.padded_batch(2)


# -- unbatch -----------------------------------------------------------------------------------
def test_unbatch_inverts_batch():
    ds = Dataset.range(7).batch(3).unbatch()
    assert [int(x) for x in ds] == list(range(7))
    assert ds.element_spec == TensorSpec([], dtf.int64)
    pairs = Dataset.from_tensor_slices(([[1, 2], [3, 4]], [[5, 6], [7, 8]])).unbatch()
    assert [(int(a), int(b)) for a, b in pairs] == [(1, 5), (2, 6), (3, 7), (4, 8)]


def test_unbatch_cardinality_as_tensorflow():
    assert int(Dataset.range(3).batch(2).unbatch().cardinality()) == -2
    assert int(Dataset.range(4).batch(2, drop_remainder=True).unbatch().cardinality()) == 4
    assert len(Dataset.from_tensor_slices(np.zeros((5, 3, 2))).unbatch()) == 15


def test_unbatch_errors():
    with pytest.raises(ValueError, match="rank >= 1"):
        Dataset.from_tensors(5).unbatch()
    ragged = Dataset.from_tensors((np.zeros(2), np.zeros(3))).unbatch()
    with pytest.raises(dtf.errors.InvalidArgumentError, match="same size"):
        list(ragged)
