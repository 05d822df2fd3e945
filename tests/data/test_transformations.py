"""map, filter, flat_map, interleave, take_while, take, skip, shard, repeat, enumerate, zip,
concatenate, reduce, apply, get_single_element: values, specs, cardinalities and errors."""

import threading
import time

import numpy as np
import pytest

import dtf
from dtf.tensor_spec import TensorSpec

Dataset = dtf.data.Dataset
INFINITE = dtf.data.INFINITE_CARDINALITY
UNKNOWN = dtf.data.UNKNOWN_CARDINALITY


def ints(ds):
    return [int(x) for x in ds]


# -- map ---------------------------------------------------------------------------------------
def test_map_argument_conventions():
    # A tuple element is spread over the arguments; a dict or a tensor is one argument.
    pairs = Dataset.from_tensor_slices(([1, 2], [10, 20]))
    assert ints(pairs.map(lambda x, y: x + y)) == [11, 22]
    dicts = Dataset.from_tensor_slices({"a": [1, 2], "b": [3, 4]})
    assert ints(dicts.map(lambda d: d["a"] * d["b"])) == [3, 8]
    assert ints(Dataset.range(3).map(lambda x: x * 2)) == [0, 2, 4]
    with pytest.raises(TypeError):
        list(pairs.map(lambda x: x))


def test_map_receives_tensors_and_may_return_python_and_numpy_values():
    seen = []

    def f(x):
        seen.append(type(x))
        return {"x": x, "one": 1, "arr": np.array([1.5, 2.5])}

    ds = Dataset.range(2).map(f)
    assert ds.element_spec == {"x": TensorSpec([], dtf.int64), "one": TensorSpec([], dtf.int32),
                               "arr": TensorSpec([2], dtf.float64)}
    out = list(ds)
    assert out[1]["arr"].dtype == dtf.float64 and int(out[1]["one"]) == 1
    assert set(seen) <= {dtf.Tensor, dtf.compile.symbolic.SymbolicTensor}


def test_map_returning_a_list_gives_a_tuple():
    ds = Dataset.range(2).map(lambda x: [x, x + 1])
    assert isinstance(ds.element_spec, tuple)
    assert [(int(a), int(b)) for a, b in ds] == [(0, 1), (1, 2)]


def test_map_spec_is_traced_like_tensorflow():
    x = Dataset.from_tensor_slices(np.zeros((6, 784), np.float32))
    assert x.map(lambda v: v / 255.0).element_spec == TensorSpec([784], dtf.float32)
    batched = x.batch(4).map(lambda v: dtf.reshape(v, (-1, 28, 28)))
    assert batched.element_spec == TensorSpec([None, 28, 28], dtf.float32)
    assert batched.unbatch().cardinality().numpy() == UNKNOWN
    assert x.map(lambda v: (v, v)).element_spec == (TensorSpec([784], dtf.float32),) * 2


def test_map_spec_of_an_untraceable_function_has_unknown_dims():
    ds = Dataset.range(1, 4).map(lambda n: np.ones(int(n), np.float32))
    assert ds.element_spec == TensorSpec([None], dtf.float32)
    assert [v.shape for v in ds] == [(1,), (2,), (3,)]
    assert int(ds.unbatch().cardinality()) == UNKNOWN


def test_map_keeps_the_cardinality_and_runs_lazily():
    calls = []
    ds = Dataset.range(5).map(lambda x: calls.append(1) or x)
    assert len(ds) == 5
    it = iter(ds)
    next(it)
    assert len(calls) <= 2  # one element (plus at most one trace), not the whole pass


@pytest.mark.parametrize("workers", [2, 4, dtf.data.AUTOTUNE])
def test_parallel_map_keeps_the_order_and_uses_threads(workers):
    threads = set()

    def slow(x):
        threads.add(threading.get_ident())
        time.sleep(0.002 * (int(x) % 3))  # later elements may finish first
        return x * 10

    ds = Dataset.range(40).map(slow, num_parallel_calls=workers)
    assert ints(ds) == [10 * i for i in range(40)]
    assert len(threads) > 1


def test_parallel_map_error_reaches_the_consumer():
    def bad(x):
        if int(x) == 7:
            raise ValueError("bad element 7")
        return x

    with pytest.raises(ValueError, match="bad element 7"):
        list(Dataset.range(20).map(bad, num_parallel_calls=3))


def test_map_errors():
    with pytest.raises(dtf.errors.InvalidArgumentError, match="num_parallel_calls"):
        Dataset.range(3).map(lambda x: x, num_parallel_calls=0)
    with pytest.raises(TypeError, match="callable"):
        Dataset.range(3).map(5)
    flip = Dataset.range(4).map(lambda x: (x,) if int(x) < 2 else (x, x))
    with pytest.raises(ValueError, match="same structure"):
        list(flip)


# -- filter / take_while -----------------------------------------------------------------------
def test_filter_as_documented():
    ds = Dataset.from_tensor_slices([1, 2, 3])
    assert ints(ds.filter(lambda x: x < 3)) == [1, 2]
    assert ints(ds.filter(lambda x: dtf.math.equal(x, 1))) == [1]
    assert int(ds.filter(lambda x: True).cardinality()) == UNKNOWN
    pairs = Dataset.from_tensor_slices(([1, 2, 3], [0, 1, 0]))
    assert [int(a) for a, b in pairs.filter(lambda a, b: b == 0)] == [1, 3]


def test_filter_predicate_must_return_a_scalar_bool():
    with pytest.raises(ValueError, match="must return a `dtf.bool` scalar"):
        list(Dataset.range(5).filter(lambda x: x))
    with pytest.raises(ValueError, match="scalar"):
        list(Dataset.range(5).filter(lambda x: dtf.constant([True, False])))


def test_take_while():
    assert ints(Dataset.range(10).take_while(lambda x: x < 5)) == [0, 1, 2, 3, 4]
    assert ints(Dataset.range(10).repeat().take_while(lambda x: x < 2)) == [0, 1]


# -- take / skip / shard / repeat ---------------------------------------------------------------
@pytest.mark.parametrize("make, expected, card", [
    (lambda: Dataset.range(10).take(3), [0, 1, 2], 3),
    (lambda: Dataset.range(3).take(10), [0, 1, 2], 3),
    (lambda: Dataset.range(5).take(-1), [0, 1, 2, 3, 4], 5),
    (lambda: Dataset.range(5).take(0), [], 0),
    (lambda: Dataset.range(10).skip(7), [7, 8, 9], 3),
    (lambda: Dataset.range(5).skip(-1), [], 0),
    (lambda: Dataset.range(3).skip(5), [], 0),
    (lambda: Dataset.range(10).shard(num_shards=3, index=0), [0, 3, 6, 9], 4),
    (lambda: Dataset.range(10).shard(num_shards=3, index=1), [1, 4, 7], 3),
    (lambda: Dataset.range(10).shard(num_shards=3, index=2), [2, 5, 8], 3),
    (lambda: Dataset.range(3).repeat(2), [0, 1, 2, 0, 1, 2], 6),
    (lambda: Dataset.range(3).repeat(0), [], 0),
    (lambda: Dataset.range(3).repeat().take(7), [0, 1, 2, 0, 1, 2, 0], 7),
    (lambda: Dataset.range(4).repeat(3).shard(5, 4).take(2), [0, 1], 2),
    (lambda: Dataset.range(4).repeat().skip(5).take(3), [1, 2, 3], 3),
])
def test_selection_values_and_cardinality(make, expected, card):
    ds = make()
    assert ints(ds) == expected
    assert int(ds.cardinality()) == card
    assert ints(ds) == expected  # a second pass


@pytest.mark.parametrize("transform", [
    lambda d: d.take(4), lambda d: d.skip(3), lambda d: d.shard(3, 1), lambda d: d.repeat(2),
    lambda d: d.skip(2).repeat(3).take(11).shard(2, 0),
])
def test_selection_on_streams_equals_selection_on_indices(transform):
    gen = Dataset.from_generator(lambda: iter(range(10)),
                                 output_signature=TensorSpec((), dtf.int64))
    assert ints(transform(gen)) == ints(transform(Dataset.range(10)))


def test_cardinality_rules():
    assert int(Dataset.range(5).repeat().cardinality()) == INFINITE
    assert int(Dataset.range(0).repeat().cardinality()) == 0
    assert int(Dataset.range(5).filter(lambda x: True).repeat().cardinality()) == INFINITE
    assert int(Dataset.range(5).filter(lambda x: True).take(2).cardinality()) == UNKNOWN
    assert int(Dataset.range(5).repeat().skip(7).cardinality()) == INFINITE
    assert int(Dataset.range(5).repeat(3).batch(4).cardinality()) == 4
    assert int(Dataset.range(10).shard(4, 3).cardinality()) == 2
    assert int(dtf.data.experimental.cardinality(Dataset.range(5))) == 5


def test_repeat_of_an_empty_pass_stops():
    assert ints(Dataset.range(3).filter(lambda x: x > 5).repeat().take(3)) == []
    assert ints(Dataset.range(0).repeat()) == []


def test_shard_errors():
    with pytest.raises(dtf.errors.InvalidArgumentError, match="greater than zero"):
        Dataset.range(3).shard(0, 0)
    with pytest.raises(dtf.errors.InvalidArgumentError, match="between 0 and 1"):
        Dataset.range(3).shard(2, 3)
    with pytest.raises(TypeError, match="count"):
        Dataset.range(3).take("2")


# -- enumerate / zip / concatenate ---------------------------------------------------------------
def test_enumerate():
    ds = Dataset.from_tensor_slices([7, 8, 9]).enumerate(start=5)
    assert [(int(i), int(x)) for i, x in ds] == [(5, 7), (6, 8), (7, 9)]
    assert ds.element_spec == (TensorSpec([], dtf.int64), TensorSpec([], dtf.int32))
    assert len(ds) == 3


def test_zip_structures_and_shortest_length():
    a, b = Dataset.range(1, 4), Dataset.range(4, 7)
    assert [(int(x), int(y)) for x, y in Dataset.zip((a, b))] == [(1, 4), (2, 5), (3, 6)]
    assert [(int(x), int(y)) for x, y in Dataset.zip(a, b)] == [(1, 4), (2, 5), (3, 6)]
    c = Dataset.range(7, 13).batch(2)
    nested = Dataset.zip((a, b, c))
    x, y, z = next(iter(nested))
    assert (int(x), int(y), z.numpy().tolist()) == (1, 4, [7, 8])
    d = Dataset.range(13, 15)
    short = Dataset.zip({"x": a, "d": d})
    assert [{k: int(v) for k, v in e.items()} for e in short] == [{"x": 1, "d": 13},
                                                                 {"x": 2, "d": 14}]
    assert len(short) == 2
    assert int(Dataset.zip((a, Dataset.counter())).cardinality()) == 3
    assert int(Dataset.zip((Dataset.counter(), Dataset.counter())).cardinality()) == INFINITE
    with pytest.raises(TypeError, match="structures of `dtf.data.Dataset`"):
        Dataset.zip((a, [1, 2]))


def test_concatenate():
    a, b = Dataset.range(1, 4), Dataset.range(4, 8)
    ds = a.concatenate(b)
    assert ints(ds) == [1, 2, 3, 4, 5, 6, 7] and len(ds) == 7
    with pytest.raises(TypeError, match="Incompatible dataset elements"):
        a.concatenate(Dataset.from_tensor_slices([1.0, 2.0]))
    with pytest.raises(TypeError, match="Incompatible"):
        a.concatenate(Dataset.zip((a, b)))
    two = Dataset.from_tensor_slices(np.zeros((4, 2))).concatenate(
        Dataset.from_tensor_slices(np.zeros((4, 3))))
    assert two.element_spec == TensorSpec([None], dtf.float64)
    assert int(a.concatenate(b.repeat()).cardinality()) == INFINITE


# -- flat_map / interleave ------------------------------------------------------------------------
def test_flat_map():
    ds = Dataset.from_tensor_slices([[1, 2, 3], [4, 5, 6]]).flat_map(
        Dataset.from_tensor_slices)
    assert ints(ds) == [1, 2, 3, 4, 5, 6]
    assert ds.element_spec == TensorSpec([], dtf.int32)
    with pytest.raises(TypeError, match="must return a dtf.data.Dataset"):
        list(Dataset.range(2).flat_map(lambda x: x))


def test_interleave_as_documented():
    ds = Dataset.range(1, 6).interleave(
        lambda x: Dataset.from_tensors(x).repeat(6), cycle_length=2, block_length=4)
    assert ints(ds) == [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 4, 4,
                        5, 5, 5, 5, 5, 5]
    ds = Dataset.range(1, 4).interleave(lambda x: Dataset.range(x), cycle_length=3)
    assert ints(ds) == [0, 0, 0, 1, 1, 2]


# -- consuming ---------------------------------------------------------------------------------
def test_reduce_apply_and_get_single_element():
    assert int(Dataset.range(5).reduce(np.int64(0), lambda s, x: s + x)) == 10
    count = Dataset.from_tensor_slices([1, 2, 3]).reduce(0, lambda s, _: s + 1)
    assert int(count) == 3
    assert ints(Dataset.range(10).apply(lambda d: d.filter(lambda x: x > 6).take(5))) == \
        [7, 8, 9]
    assert int(Dataset.range(3).take(1).get_single_element()) == 0
    with pytest.raises(dtf.errors.InvalidArgumentError, match="more than one"):
        Dataset.range(3).get_single_element()
    with pytest.raises(dtf.errors.InvalidArgumentError, match="empty"):
        Dataset.range(0).get_single_element()
    with pytest.raises(TypeError, match="must return a Dataset"):
        Dataset.range(3).apply(lambda d: 3)
