"""Iteration, prefetch, cache and options; the seeds' MNIST pipeline."""

import gc
import os
import threading
import time

import numpy as np
import pytest

import dtf
from dtf.tensor_spec import TensorSpec

Dataset = dtf.data.Dataset


def ints(ds):
    return [int(x) for x in ds]


# -- iteration -------------------------------------------------------------------------------------
def test_iterator_protocol():
    ds = Dataset.range(2)
    it = iter(ds)
    assert iter(it) is it
    assert it.element_spec == TensorSpec([], dtf.int64)
    assert int(next(it)) == 0 and int(it.get_next()) == 1
    with pytest.raises(StopIteration):
        next(it)
    with pytest.raises(dtf.errors.OutOfRangeError):
        it.get_next()
    assert ints(ds) == [0, 1]  # the dataset itself starts a new pass


def test_len_and_truthiness():
    assert len(Dataset.range(4)) == 4
    assert bool(Dataset.range(0)) is True
    with pytest.raises(TypeError, match="infinite"):
        len(Dataset.range(3).repeat())
    with pytest.raises(TypeError, match="unknown"):
        len(Dataset.range(3).filter(lambda x: True))


def test_two_iterators_are_independent():
    ds = Dataset.range(5).shuffle(5, seed=3)
    a, b = iter(ds), iter(ds)
    got_a = [int(next(a)) for _ in range(5)]
    got_b = [int(next(b)) for _ in range(5)]
    assert sorted(got_a) == sorted(got_b) == list(range(5))


# -- prefetch ------------------------------------------------------------------------------------
def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "dtf.data.prefetch"]


def test_prefetch_keeps_values_and_order():
    assert ints(Dataset.range(50).prefetch(3)) == list(range(50))
    assert ints(Dataset.range(5).prefetch(dtf.data.AUTOTUNE)) == list(range(5))
    assert ints(Dataset.range(5).prefetch(0)) == list(range(5))
    assert len(Dataset.range(5).prefetch(1)) == 5


def test_prefetch_runs_ahead_in_a_background_thread():
    produced = []
    main = threading.get_ident()

    def record(x):
        produced.append(threading.get_ident())
        return x

    it = iter(Dataset.range(100).map(record).prefetch(5))
    assert int(next(it)) == 0
    deadline = time.time() + 5
    while len(produced) < 6 and time.time() < deadline:
        time.sleep(0.01)
    assert 6 <= len(produced) <= 9  # the buffer filled while the consumer did nothing (the
    # count includes the one symbolic call that traces the spec)
    assert main not in produced[1:]
    del it


def test_prefetch_thread_stops_when_the_pass_is_abandoned():
    before = set(_prefetch_threads())
    it = iter(Dataset.range(10).repeat().prefetch(2))
    next(it)
    started = set(_prefetch_threads()) - before
    assert len(started) == 1
    del it
    gc.collect()
    (thread,) = started
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_prefetch_forwards_errors():
    def gen():
        yield 1
        raise KeyError("lost")

    ds = Dataset.from_generator(gen, output_signature=TensorSpec((), dtf.int32)).prefetch(4)
    it = iter(ds)
    assert int(next(it)) == 1
    with pytest.raises(KeyError, match="lost"):
        next(it)


def test_prefetch_errors():
    with pytest.raises(dtf.errors.InvalidArgumentError, match="buffer_size must be >= 0"):
        Dataset.range(3).prefetch(-5)


# -- cache ---------------------------------------------------------------------------------------
def _counting_source(calls, n=5, shapes=None):
    def gen():
        calls.append(1)
        for i in range(n):
            yield np.full(shapes(i) if shapes else (2,), i, np.float32)

    shape = (None,) if shapes else (2,)
    return Dataset.from_generator(gen, output_signature=TensorSpec(shape, dtf.float32))


def test_memory_cache_runs_the_input_once():
    calls = []
    ds = _counting_source(calls).cache()
    first = [x.numpy().tolist() for x in ds]
    assert [x.numpy().tolist() for x in ds] == first
    assert len(calls) == 1


def test_memory_cache_keeps_only_complete_passes():
    calls = []
    ds = _counting_source(calls).cache()
    assert len(list(ds.take(2))) == 2
    assert len(list(ds)) == 5
    assert len(list(ds)) == 5
    assert len(calls) == 2  # the partial pass was not kept


def test_file_cache_is_reused_by_a_new_pipeline(tmp_path):
    path = str(tmp_path / "c")
    calls = []
    ds = _counting_source(calls, n=600).map(lambda x: (x, {"s": dtf.reduce_sum(x)})).cache(path)
    first = [(a.numpy().tolist(), float(d["s"])) for a, d in ds]
    assert os.path.exists(path + ".dtfcache") and len(calls) == 1
    again = _counting_source(calls, n=600).map(lambda x: (x, {"s": dtf.reduce_sum(x)}))
    replay = [(a.numpy().tolist(), float(d["s"])) for a, d in again.cache(path)]
    assert replay == first and len(calls) == 1  # read from the file, the generator not run


def test_file_cache_of_ragged_elements(tmp_path):
    calls = []
    ds = _counting_source(calls, n=7, shapes=lambda i: (i,)).cache(str(tmp_path / "r"))
    first = [x.numpy().tolist() for x in ds]
    assert [x.numpy().tolist() for x in ds] == first and len(calls) == 1
    assert [len(v) for v in first] == list(range(7))


def test_file_cache_partial_pass_leaves_no_file(tmp_path):
    path = str(tmp_path / "p")
    ds = Dataset.range(10).cache(path)
    list(ds.take(3))
    gc.collect()
    assert os.listdir(tmp_path) == []
    assert ints(ds) == list(range(10)) and os.listdir(tmp_path) == ["p.dtfcache"]


def test_file_cache_of_another_pipeline_is_refused(tmp_path):
    path = str(tmp_path / "x")
    list(Dataset.range(3).cache(path))
    with pytest.raises(ValueError, match="different pipeline"):
        list(Dataset.from_tensor_slices([1.0, 2.0]).cache(path))


# -- options -------------------------------------------------------------------------------------
def test_options_merge_over_the_pipeline():
    o1 = dtf.data.Options()
    o1.deterministic = False
    o1.experimental_distribute.auto_shard_policy = dtf.data.experimental.AutoShardPolicy.DATA
    o2 = dtf.data.Options()
    o2.threading.private_threadpool_size = 4
    o2.deterministic = True
    ds = Dataset.range(4).with_options(o1).map(lambda x: x).with_options(o2)
    got = ds.options()
    assert got.deterministic is True
    assert got.experimental_deterministic is True
    assert got.threading.private_threadpool_size == 4
    assert got.experimental_distribute.auto_shard_policy == \
        dtf.data.experimental.AutoShardPolicy.DATA
    assert ints(ds) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="with_options"):
        got.deterministic = False
    with pytest.raises(AttributeError, match="Cannot set the property"):
        dtf.data.Options().not_an_option = 1
    assert Dataset.range(2).options() == dtf.data.Options()


# -- the seeds' pipeline -------------------------------------------------------------------------
@pytest.mark.skipif(not os.path.isfile(os.path.join(os.environ.get("DTF_DATASETS_DIR", "-"),
                                                    "mnist.npz")),
                    reason="needs DTF_DATASETS_DIR with mnist.npz")
def test_seed_pipeline_over_mnist():
    from dtf.keras import datasets

    (x_train, y_train), _ = datasets.mnist.load_data()
    n = len(x_train)
    x = x_train.reshape(n, 784).astype("float32") / 255
    ds = Dataset.from_tensor_slices((x, y_train)).shuffle(buffer_size=1024).batch(64)
    assert ds.element_spec == (TensorSpec([None, 784], dtf.float32),
                               TensorSpec([None], dtf.uint8))
    for _ in range(2):
        labels = []
        for step, (xb, yb) in enumerate(ds):
            assert xb.shape[1] == 784 and xb.dtype == dtf.float32
            labels.append(yb.numpy())
        assert step + 1 == len(ds) == -(-n // 64)
        got = np.concatenate(labels)
        np.testing.assert_array_equal(np.sort(got), np.sort(y_train))
