"""dtf.ragged against TensorFlow 2.21's results. The expected values were copied from what
`tests/ragged/make_reference.py` prints under the reference install (TensorFlow is never
imported here)."""

import doctest
import importlib

import numpy as np
import pytest

import dtf
from dtf import ragged
from dtf.errors import InvalidArgumentError
from dtf.ragged import RaggedTensor
from dtf.testing.gradcheck import check_gradients

ROWS = [[3, 1, 4, 1], [], [5, 9, 2], [6], []]


@pytest.fixture
def rt():
    return ragged.constant(ROWS)


def test_attributes(rt):
    assert repr(rt) == "<dtf.RaggedTensor [[3, 1, 4, 1], [], [5, 9, 2], [6], []]>"
    assert str(rt) == repr(rt)
    assert rt.shape.as_list() == [5, None] and rt.dtype == dtf.int32 and rt.ragged_rank == 1
    assert rt.row_splits.dtype == dtf.int64
    assert rt.row_splits.numpy().tolist() == [0, 4, 4, 7, 8, 8]
    assert rt.values.numpy().tolist() == [3, 1, 4, 1, 5, 9, 2, 6]
    assert rt.flat_values.dtype == dtf.int32
    assert rt.row_lengths().numpy().tolist() == [4, 0, 3, 1, 0]
    assert rt.row_lengths().dtype == dtf.int64
    assert int(rt.nrows()) == 5 and rt.nrows().dtype == dtf.int64
    assert rt.value_rowids().numpy().tolist() == [0, 0, 0, 0, 2, 2, 2, 3]
    assert rt.to_list() == ROWS
    assert rt.bounding_shape().numpy().tolist() == [5, 4]


def test_numpy_is_an_object_array_of_rows(rt):
    out = rt.numpy()
    assert out.dtype == object and out.shape == (5,)
    assert repr(out) == (
        "array([array([3, 1, 4, 1], dtype=int32), array([], dtype=int32),\n"
        "       array([5, 9, 2], dtype=int32), array([6], dtype=int32),\n"
        "       array([], dtype=int32)], dtype=object)")
    uniform = ragged.constant([[1, 2, 3], [4, 5, 6]], dtype=dtf.int64).numpy()
    assert uniform.dtype == np.int64 and uniform.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_to_tensor(rt):
    assert rt.to_tensor().numpy().tolist() == [[3, 1, 4, 1], [0, 0, 0, 0], [5, 9, 2, 0],
                                               [6, 0, 0, 0], [0, 0, 0, 0]]
    cropped = rt.to_tensor(default_value=-1, shape=[3, 2])
    assert cropped.numpy().tolist() == [[3, 1], [-1, -1], [5, 9]]
    assert cropped.dtype == dtf.int32
    padded = rt.to_tensor(shape=[6, 5]).numpy()
    assert padded.shape == (6, 5) and padded.sum() == 31


def test_getitem(rt):
    assert rt[2].numpy().tolist() == [5, 9, 2] and rt[2].dtype == dtf.int32
    assert repr(rt[1:3]) == "<dtf.RaggedTensor [[], [5, 9, 2]]>"
    assert rt[-1].shape.as_list() == [0]
    assert rt[::-2].to_list() == [[], [5, 9, 2], [3, 1, 4, 1]]
    assert int(rt[2, 1]) == 9
    assert [row.numpy().tolist() for row in rt] == ROWS
    with pytest.raises(IndexError, match="Row key 7 out of bounds"):
        rt[7]


def test_multiple_ragged_ranks():
    r2 = ragged.constant([[[1, 2], [3]], [[4]]])
    assert repr(r2) == "<dtf.RaggedTensor [[[1, 2], [3]], [[4]]]>"
    assert r2.shape.as_list() == [2, None, None] and r2.ragged_rank == 2
    assert r2.to_list() == [[[1, 2], [3]], [[4]]]
    assert r2.to_tensor().numpy().tolist() == [[[1, 2], [3, 0]], [[4, 0], [0, 0]]]
    assert [s.numpy().tolist() for s in r2.nested_row_splits] == [[0, 2, 3], [0, 2, 3, 4]]
    assert r2[0].to_list() == [[1, 2], [3]]
    r3 = ragged.constant([[[1, 2], [3, 4]], [[5, 6]]], ragged_rank=1)
    assert repr(r3) == "<dtf.RaggedTensor [[[1, 2],\n  [3, 4]], [[5, 6]]]>"
    assert r3.shape.as_list() == [2, None, 2] and r3.flat_values.shape.as_list() == [3, 2]
    r4 = ragged.constant([[[[1.0]], []], [[[2.0, 3.0], [4.0]]]])
    assert r4.ragged_rank == 3 and r4.to_list() == [[[[1.0]], []], [[[2.0, 3.0], [4.0]]]]
    assert r4.to_tensor().shape.as_list() == [2, 2, 2, 2]


def test_constant_dtypes_and_errors():
    f = ragged.constant([[1.5, 2.], [3.]])
    assert repr(f) == "<dtf.RaggedTensor [[1.5, 2.0], [3.0]]>" and f.dtype == dtf.float32
    assert repr(ragged.constant([[1, 2], [3]], dtype=dtf.float64)) == \
        "<dtf.RaggedTensor [[1.0, 2.0], [3.0]]>"
    empty = ragged.constant([[]])
    assert repr(empty) == "<dtf.RaggedTensor [[]]>" and empty.dtype == dtf.float32
    with pytest.raises(ValueError, match="all scalar values must have the same nesting depth"):
        ragged.constant([[1, [2]]])
    with pytest.raises(ValueError, match="pylist has scalar values depth 2, but ragged_rank=2 "
                       "requires scalar value depth greater than 2"):
        ragged.constant([[1, 2], [3]], ragged_rank=2)


def test_factories():
    assert repr(RaggedTensor.from_value_rowids([3, 1, 4, 1, 5], [0, 0, 2, 2, 3], nrows=5)) == \
        "<dtf.RaggedTensor [[3, 1], [], [4, 1], [5], []]>"
    assert repr(RaggedTensor.from_tensor([[1, 0, 0], [2, 3, 0]], padding=0)) == \
        "<dtf.RaggedTensor [[1], [2, 3]]>"
    assert repr(RaggedTensor.from_tensor([[1, 0, 0], [2, 3, 0]], lengths=[1, 3])) == \
        "<dtf.RaggedTensor [[1], [2, 3, 0]]>"
    assert repr(RaggedTensor.from_nested_row_splits([1, 2, 3, 4], ([0, 1, 3], [0, 2, 3, 4]))) \
        == "<dtf.RaggedTensor [[[1, 2]], [[3], [4]]]>"
    assert RaggedTensor.from_row_splits([3, 1, 4], [0, 2, 2, 3]).to_list() == [[3, 1], [], [4]]
    assert RaggedTensor.from_row_lengths([3, 1, 4], [2, 0, 1]).to_list() == [[3, 1], [], [4]]
    deep = RaggedTensor.from_tensor(dtf.zeros([2, 3, 4]), ragged_rank=2)
    assert deep.ragged_rank == 2 and deep.to_tensor().shape.as_list() == [2, 3, 4]
    with pytest.raises(ValueError, match="constructor is private"):
        RaggedTensor(dtf.constant([1]), np.array([0, 1]))


@pytest.mark.parametrize("make, error, message", [
    (lambda: RaggedTensor.from_row_splits([1, 2, 3], [1, 3]), InvalidArgumentError,
     "Arguments to from_row_splits do not form a valid RaggedTensor: zero"),
    (lambda: RaggedTensor.from_row_splits([1, 2, 3], [0, 3, 2]), InvalidArgumentError,
     "Arguments to from_row_splits do not form a valid RaggedTensor: monotonic"),
    (lambda: RaggedTensor.from_row_splits([1, 2, 3], [0, 2]), InvalidArgumentError,
     "Arguments to _from_row_partition do not form a valid RaggedTensor"),
    (lambda: RaggedTensor.from_row_lengths([1, 2, 3], [1, 1]), InvalidArgumentError,
     "Arguments to _from_row_partition do not form a valid RaggedTensor"),
    (lambda: RaggedTensor.from_row_lengths([1, 2, 3], [-1, 4]), InvalidArgumentError,
     "Arguments to from_row_lengths do not form a valid RowPartition"),
    (lambda: RaggedTensor.from_value_rowids([1, 2, 3], [0, 2, 1]), InvalidArgumentError,
     "Arguments to from_value_rowids do not form a valid RowPartition"),
    (lambda: RaggedTensor.from_value_rowids([1, 2, 3], [0, 1, 1], nrows=1), ValueError,
     r"Expected nrows >= value_rowids\[-1\] \+ 1; got nrows=1, value_rowids\[-1\]=1"),
])
def test_validation_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_operators(rt):
    assert repr(rt + 1) == "<dtf.RaggedTensor [[4, 2, 5, 2], [], [6, 10, 3], [7], []]>"
    assert repr(-rt) == "<dtf.RaggedTensor [[-3, -1, -4, -1], [], [-5, -9, -2], [-6], []]>"
    assert repr(rt * rt) == "<dtf.RaggedTensor [[9, 1, 16, 1], [], [25, 81, 4], [36], []]>"
    assert repr(rt > 2) == ("<dtf.RaggedTensor [[True, False, True, False], [], "
                            "[True, True, False], [True], []]>")
    f = ragged.constant([[1.0, 2.0], [3.0]])
    assert repr(f == ragged.constant([[1.0, 2.0], [3.0]])) == \
        "<dtf.RaggedTensor [[True, True], [True]]>"
    assert (10 - rt).to_list() == [[7, 9, 6, 9], [], [5, 1, 8], [4], []]
    assert (f / 2.0).dtype == dtf.float32 and (f ** 2).to_list() == [[1.0, 4.0], [9.0]]
    assert (rt + dtf.constant(1)).to_list()[0] == [4, 2, 5, 2]
    with pytest.raises(InvalidArgumentError, match="different row partitions"):
        rt * ragged.constant([[1], [2]])
    with pytest.raises(InvalidArgumentError, match="shape"):
        f + dtf.constant([1.0, 2.0])
    assert repr(ragged.map_flat_values(dtf.square, rt)) == \
        "<dtf.RaggedTensor [[9, 1, 16, 1], [], [25, 81, 4], [36], []]>"


def test_reductions_match_tensorflow(rt):
    rf = ragged.map_flat_values(dtf.cast, rt, dtf.float32)
    assert ragged.reduce_sum(rt, axis=0).numpy().tolist() == [14, 10, 6, 1]
    assert ragged.reduce_sum(rt, axis=1).numpy().tolist() == [9, 0, 16, 6, 0]
    assert ragged.reduce_sum(rf, axis=1).dtype == dtf.float32
    mean0 = ragged.reduce_mean(rt, axis=0)
    assert mean0.dtype == dtf.float64
    np.testing.assert_allclose(mean0.numpy(), [4.66666667, 5.0, 3.0, 1.0])
    np.testing.assert_allclose(ragged.reduce_mean(rt, axis=1).numpy(),
                               [2.25, np.nan, 5.33333333, 6.0, np.nan])
    assert ragged.reduce_mean(rf, axis=1).dtype == dtf.float32
    assert ragged.reduce_max(rt, axis=0).numpy().tolist() == [6, 9, 4, 1]
    assert ragged.reduce_max(rt, axis=1).numpy().tolist() == \
        [4, -2147483648, 9, 6, -2147483648]
    np.testing.assert_allclose(ragged.reduce_max(rf, axis=1).numpy(),
                               [4.0, -3.4028235e38, 9.0, 6.0, -3.4028235e38], rtol=1e-7)
    assert ragged.reduce_min(rt, axis=0).numpy().tolist() == [3, 1, 2, 1]
    assert ragged.reduce_min(rt, axis=1).numpy().tolist() == [1, 2147483647, 2, 6, 2147483647]
    np.testing.assert_allclose(ragged.reduce_min(rf, axis=1).numpy(),
                               [1.0, 3.4028235e38, 2.0, 6.0, 3.4028235e38], rtol=1e-7)
    assert int(ragged.reduce_sum(rt)) == 31 and int(ragged.reduce_sum(rt, axis=None)) == 31
    assert int(ragged.reduce_sum(rt, axis=[0, 1])) == 31


def test_reductions_over_deeper_tensors():
    r2 = ragged.constant([[[1, 2], [3]], [[4]]])
    assert repr(ragged.reduce_sum(r2, axis=1)) == "<dtf.RaggedTensor [[4, 2], [4]]>"
    assert ragged.reduce_sum(r2, axis=2).to_list() == [[3, 3], [4]]
    r3 = ragged.constant([[[1, 2], [3, 4]], [[5, 6]]], ragged_rank=1)
    assert ragged.reduce_sum(r3, axis=1).numpy().tolist() == [[4, 6], [5, 6]]
    assert ragged.reduce_max(r3, axis=2).to_list() == [[2, 4], [6]]
    assert ragged.reduce_sum(ragged.constant([[1, 2], [3]]), axis=-1).numpy().tolist() == [3, 3]
    with pytest.raises(ValueError, match="out of range"):
        ragged.reduce_sum(r3, axis=3)
    # Dense tensors fall through to the dense reductions.
    assert ragged.reduce_sum(dtf.constant([[1, 2]]), axis=1).numpy().tolist() == [3]


def test_concat(rt):
    joined = ragged.concat([rt, rt[:2]], axis=0)
    assert repr(joined) == \
        "<dtf.RaggedTensor [[3, 1, 4, 1], [], [5, 9, 2], [6], [], [3, 1, 4, 1], []]>"
    a = ragged.constant([[1, 2], [3]])
    assert ragged.concat([a, ragged.constant([[4], []])], axis=1).to_list() == [[1, 2, 4], [3]]
    assert ragged.concat([a, dtf.constant([[7], [8]])], axis=0).to_list() == \
        [[1, 2], [3], [7], [8]]
    r2 = ragged.constant([[[1, 2], [3]], [[4]]])
    assert ragged.concat([r2, r2], axis=0).to_list() == [[[1, 2], [3]], [[4]]] * 2
    with pytest.raises(InvalidArgumentError, match="same number of rows"):
        ragged.concat([a, rt], axis=1)
    with pytest.raises(InvalidArgumentError, match="dtype"):
        ragged.concat([a, ragged.constant([[1.0]])], axis=0)


def test_gradients_flow_through_flat_values():
    x = dtf.Variable([1.0, 2.0, 3.0])
    with dtf.GradientTape() as tape:
        r = RaggedTensor.from_row_lengths(x, [2, 1])
        y = dtf.reduce_sum(ragged.reduce_max(r * r, axis=1))
    assert tape.gradient(y, x).numpy().tolist() == [0.0, 4.0, 6.0]  # as TensorFlow


@pytest.mark.parametrize("name, fn", [
    ("to_tensor", lambda r: r.to_tensor(default_value=0.5)),
    ("to_tensor_cropped", lambda r: r.to_tensor(shape=[2, 2])),
    ("reduce_sum1", lambda r: ragged.reduce_sum(r, axis=1)),
    ("reduce_mean0", lambda r: ragged.reduce_mean(r, axis=0)),
    # The empty row's max is the float64 lowest; leave it out of the finite differences.
    ("reduce_max1", lambda r: dtf.gather(ragged.reduce_max(r, axis=1), [0, 2, 3])),
    ("reduce_min0", lambda r: ragged.reduce_min(r, axis=0)),
    ("getitem", lambda r: r[2] * r[0][:1]),
    ("slice", lambda r: (r[::-1] * r[::-1]).flat_values),
    ("concat1", lambda r: ragged.concat([r, r * 2.0], axis=1).flat_values),
])
def test_gradient_checks(name, fn):
    rows = np.array([0.3, -1.2, 0.7, 1.9, -0.4, 1.1])

    def f(values):
        return fn(RaggedTensor.from_row_lengths(values, [2, 0, 3, 1]))

    check_gradients(f, [rows], name=name)


def test_ragged_batch_elements_and_dataset():
    ds = dtf.data.Dataset.from_tensor_slices(np.arange(6)).map(lambda x: dtf.range(x))
    batches = [repr(b) for b in ragged.ragged_batch(ds, 4)]
    assert batches == ["<dtf.RaggedTensor [[], [0], [0, 1], [0, 1, 2]]>",
                       "<dtf.RaggedTensor [[0, 1, 2, 3], [0, 1, 2, 3, 4]]>"]
    assert [repr(b) for b in ragged.ragged_batch(ds, 4, drop_remainder=True)] == batches[:1]
    # Fixed-shape components stay dense, varying ones become ragged with their inner dims.
    pairs = dtf.data.Dataset.from_tensor_slices(np.arange(1, 4)).map(
        lambda n: (dtf.ones([n, 2]), {"a": dtf.range(n)}, n))
    first = next(iter(ragged.ragged_batch(pairs, 2)))
    ones, named, counts = first
    assert ones.shape.as_list() == [2, None, 2] and ones.ragged_rank == 1
    assert named["a"].to_list() == [[0], [0, 1]]
    assert counts.numpy().tolist() == [1, 2]
    fixed = ragged.ragged_batch_elements([dtf.zeros([2, 3])] * 2,
                                         dtf.TensorSpec([2, 3], dtf.float32))
    assert isinstance(fixed, dtf.Tensor) and fixed.shape.as_list() == [2, 2, 3]
    with pytest.raises(InvalidArgumentError, match="only the first dim may vary"):
        ragged.ragged_batch_elements([dtf.zeros([1, 2]), dtf.zeros([1, 3])])
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        ragged.ragged_batch(ds, 0)


@pytest.mark.parametrize("name", ["dtf.ragged", "dtf.ragged.ragged_tensor",
                                  "dtf.ragged.ragged_ops", "dtf.ragged.batching",
                                  "dtf.ragged.ragged_tensor_spec", "dtf.ragged.ragged_mask",
                                  "dtf.ragged.symbolic_rows", "dtf.ragged.ragged_prims"])
def test_doctests(name, monkeypatch):
    monkeypatch.setattr(dtf, "ragged", ragged, raising=False)
    monkeypatch.setattr(dtf, "RaggedTensor", RaggedTensor, raising=False)
    result = doctest.testmod(importlib.import_module(name), extraglobs={"dtf": dtf},
                             optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
