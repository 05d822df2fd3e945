"""shuffle: TensorFlow's buffer semantics, seeds, reshuffling, and the index fast path."""

import numpy as np
import pytest

import dtf
from dtf.data.reorder import buffer_shuffle, shuffled_indices
from dtf.tensor_spec import TensorSpec

Dataset = dtf.data.Dataset


def order(ds):
    return [int(x) for x in ds.as_numpy_iterator()]


@pytest.fixture(autouse=True)
def no_global_seed():
    dtf.random.set_seed(None)
    yield
    dtf.random.set_seed(None)


def test_buffer_of_one_keeps_the_order():
    assert order(Dataset.range(20).shuffle(1)) == list(range(20))


def test_full_buffer_gives_every_permutation_uniformly():
    ds = Dataset.range(3).shuffle(3)
    counts = {}
    for _ in range(600):
        perm = tuple(order(ds))
        assert sorted(perm) == [0, 1, 2]
        counts[perm] = counts.get(perm, 0) + 1
    assert len(counts) == 6
    assert min(counts.values()) > 600 / 6 * 0.6  # ~100 each


def test_buffer_limits_how_far_an_element_moves_forward():
    # With a buffer of b, the element at output position p was among the first p + b inputs,
    # and the first output is one of the first b inputs (uniformly).
    n, b = 200, 10
    firsts = np.zeros(b)
    for seed in range(300):
        out = order(Dataset.range(n).shuffle(b, seed=seed))
        assert sorted(out) == list(range(n))
        assert all(x <= p + b - 1 for p, x in enumerate(out))
        firsts[out[0]] += 1
    assert firsts.min() > 300 / b * 0.5


def test_seed_makes_the_order_reproducible_and_reshuffles_each_pass():
    a = Dataset.range(50).shuffle(10, seed=7)
    b = Dataset.range(50).shuffle(10, seed=7)
    first_a, first_b = order(a), order(b)
    assert first_a == first_b  # two datasets with the same seeds shuffle alike
    second_a = order(a)
    assert second_a != first_a and sorted(second_a) == list(range(50))
    assert order(b) == second_a  # the sequence of orders is fixed too
    assert order(Dataset.range(50).shuffle(10, seed=8)) != first_a


def test_no_reshuffle_repeats_the_same_order():
    ds = Dataset.range(30).shuffle(30, reshuffle_each_iteration=False)
    first = order(ds)
    assert order(ds) == first and order(ds) == first
    assert order(ds.repeat(2)) == first + first


def test_reshuffle_through_repeat_as_documented():
    # TF's docs: range(3).shuffle(3, reshuffle_each_iteration=True).repeat(2) gives two
    # different permutations; with False, the same one twice.
    ds = Dataset.range(3).shuffle(3, seed=1).repeat(50)
    out = order(ds)
    passes = {tuple(out[i:i + 3]) for i in range(0, 150, 3)}
    assert all(sorted(p) == [0, 1, 2] for p in passes) and len(passes) > 1


def test_global_seed_fixes_the_sequence():
    dtf.random.set_seed(3)
    first = order(Dataset.range(20).shuffle(5))
    dtf.random.set_seed(3)
    assert order(Dataset.range(20).shuffle(5)) == first


def test_unseeded_shuffles_differ():
    orders = {tuple(order(Dataset.range(30).shuffle(30))) for _ in range(5)}
    assert len(orders) > 1


def test_repeat_then_shuffle_mixes_epochs():
    out = order(Dataset.range(4).repeat(2).shuffle(8, seed=0))
    assert sorted(out) == [0, 0, 1, 1, 2, 2, 3, 3]
    # an infinite input works too: the buffer streams
    out = order(Dataset.range(4).repeat().shuffle(3, seed=0).take(12))
    assert len(out) == 12 and set(out) <= {0, 1, 2, 3}


def test_unknown_cardinality_buffer_shuffles_everything():
    out = order(Dataset.range(10).shuffle(dtf.data.UNKNOWN_CARDINALITY, seed=2))
    assert sorted(out) == list(range(10))
    ds = Dataset.range(20)
    assert sorted(order(ds.shuffle(ds.cardinality()))) == list(range(20))


def test_index_path_and_element_path_give_the_same_order():
    # from_tensor_slices shuffles indices (vectorized); a generator shuffles elements one by
    # one: the same algorithm and random stream give the same order.
    def gen():
        yield from range(300)

    for b in (1, 7, 64, 300, 1000):
        fast = Dataset.range(300).shuffle(b, seed=11)
        slow = Dataset.from_generator(gen, output_signature=TensorSpec((), dtf.int64))
        slow = slow.shuffle(b, seed=11)
        assert order(fast) == order(slow), b


def test_vectorized_shuffle_matches_the_streaming_buffer():
    for n, b in [(0, 4), (1, 4), (5, 2), (100, 16), (100, 100), (100, 1000)]:
        src = np.arange(n, dtype=np.int64) * 3
        fast = shuffled_indices(src, b, np.random.default_rng(5)).tolist()
        slow = list(buffer_shuffle(src.tolist(), b, np.random.default_rng(5)))
        assert fast == slow


def test_shuffled_batches_cover_the_data_once_per_epoch():
    x = np.arange(1000, dtype=np.float32).reshape(500, 2)
    y = np.arange(500)
    ds = Dataset.from_tensor_slices((x, y)).shuffle(64, seed=0).batch(64)
    seen = []
    for xb, yb in ds:
        assert xb.shape[1:] == (2,) and xb.dtype == dtf.float32
        np.testing.assert_array_equal(xb.numpy()[:, 0], 2 * yb.numpy())  # rows stay paired
        seen.extend(yb.numpy().tolist())
    assert sorted(seen) == list(range(500)) and seen != list(range(500))


def test_cache_after_shuffle_freezes_the_order():
    ds = Dataset.range(40).shuffle(40).cache()
    first = order(ds)
    assert order(ds) == first and order(ds) == first


def test_shuffle_errors():
    with pytest.raises(dtf.errors.InvalidArgumentError, match="buffer_size must be greater"):
        Dataset.range(3).shuffle(0)
    with pytest.raises(dtf.errors.InvalidArgumentError):
        Dataset.range(3).shuffle(-1)
    with pytest.raises(TypeError, match="seed"):
        Dataset.range(3).shuffle(2, seed="x")
    with pytest.raises(TypeError, match="buffer_size"):
        Dataset.range(3).shuffle(2.5)
