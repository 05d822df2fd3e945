"""dtf.sparse against TensorFlow 2.21's results (recorded from the reference install by hand:
the expected values below are what `tf.sparse` printed for the same inputs)."""

import doctest
import importlib

import numpy as np
import pytest

import dtf
from dtf import sparse
from dtf.errors import InvalidArgumentError
from dtf.sparse import SparseTensor


def _st(sp):
    return sp.indices.numpy().tolist(), sp.values.numpy().tolist(), sp.dense_shape.numpy().tolist()


def test_attributes_and_repr():
    sp = SparseTensor(indices=[[0, 0], [1, 2]], values=[1.0, 2.0], dense_shape=[3, 4])
    assert sp.indices.dtype == dtf.int64 and sp.dense_shape.dtype == dtf.int64
    assert sp.dtype == dtf.float32 and sp.shape == dtf.TensorShape([3, 4])
    assert repr(sp) == (
        "SparseTensor(indices=dtf.Tensor(\n[[0 0]\n [1 2]], shape=(2, 2), dtype=int64), "
        "values=dtf.Tensor([1. 2.], shape=(2,), dtype=float32), "
        "dense_shape=dtf.Tensor([3 4], shape=(2,), dtype=int64))")
    assert str(sp) == repr(sp)
    assert sparse.SparseTensor is SparseTensor
    empty = SparseTensor(np.zeros((0, 2), np.int64), dtf.zeros([0]), [2, 2])
    assert sparse.to_dense(empty).numpy().tolist() == [[0, 0], [0, 0]]


def test_constructor_errors():
    with pytest.raises(ValueError, match="1 and 2"):
        SparseTensor([[0, 0]], [1.0, 2.0], [2, 2])
    with pytest.raises(ValueError, match="2 and 3"):
        SparseTensor([[0, 0]], [1.0], [2, 2, 2])
    with pytest.raises(TypeError, match="int64"):
        SparseTensor([[0.5, 0.0]], [1.0], [2, 2])


def test_to_dense_and_default():
    sp = SparseTensor([[0, 1], [1, 0]], [5, 7], [2, 3])
    np.testing.assert_array_equal(sparse.to_dense(sp, default_value=-1).numpy(),
                                  [[-1, 5, -1], [7, -1, -1]])


def test_to_dense_errors_as_tensorflow():
    unordered = SparseTensor([[1, 0], [0, 0]], [1.0, 2.0], [2, 2])
    with pytest.raises(InvalidArgumentError, match=r"indices\[1\] = \[0,0\] is out of order"):
        sparse.to_dense(unordered)
    np.testing.assert_array_equal(sparse.to_dense(unordered, validate_indices=False).numpy(),
                                  [[2.0, 0.0], [1.0, 0.0]])
    repeated = SparseTensor([[0, 0], [0, 0]], [1.0, 2.0], [2, 2])
    with pytest.raises(InvalidArgumentError, match=r"indices\[1\] = \[0,0\] is repeated"):
        sparse.to_dense(repeated)
    outside = SparseTensor([[0, 0], [5, 0]], [1.0, 2.0], [2, 2])
    with pytest.raises(InvalidArgumentError, match=r"\[5,0\] is out of bounds: need 0 <= "
                                                   r"index < \[2,2\] \[Op:SparseToDense\]"):
        sparse.to_dense(outside)
    with pytest.raises(InvalidArgumentError, match=r"out of bounds\).  Shape: \[2,2\]"):
        sparse.to_dense(outside, validate_indices=False)


def test_add_sparse_sparse_threshold():
    a = SparseTensor([[0, 0], [1, 1]], [1.0, -1.0], [2, 2])
    b = SparseTensor([[0, 0], [0, 1], [1, 1]], [-1.0, 0.5, 1.6], [2, 2])
    idx, vals, shape = _st(sparse.add(a, b))
    assert idx == [[0, 0], [0, 1], [1, 1]] and shape == [2, 2]
    np.testing.assert_allclose(vals, [0.0, 0.5, 0.6], rtol=1e-6)
    idx, vals, _ = _st(sparse.add(a, b, threshold=0.6))  # only shared entries are thresholded
    assert idx == [[0, 1], [1, 1]]
    np.testing.assert_allclose(vals, [0.5, 0.6], rtol=1e-6)
    c = SparseTensor([[0, 0], [1, 1]], [1.0, 0.0], [2, 2])
    idx, vals, _ = _st(sparse.add(c, SparseTensor([[0, 1]], [0.0], [2, 2]), threshold=0.1))
    assert idx == [[0, 0], [0, 1], [1, 1]] and vals == [1.0, 0.0, 0.0]


def test_add_sparse_dense_either_order():
    a = SparseTensor([[0, 0], [1, 1]], [1.0, -1.0], [2, 2])
    for out in (sparse.add(a, dtf.ones([2, 2])), sparse.add(dtf.ones([2, 2]), a)):
        np.testing.assert_array_equal(out.numpy(), [[2.0, 1.0], [1.0, 0.0]])
    with pytest.raises(InvalidArgumentError, match="shape"):
        sparse.add(a, dtf.ones([3, 2]))


def test_sparse_dense_matmul_and_gradients():
    sp = SparseTensor([[0, 1], [1, 0], [2, 1]], dtf.constant([1.0, 2.0, 3.0]), [3, 2])
    b = dtf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    with dtf.GradientTape(persistent=True) as tape:
        tape.watch(sp.values)
        tape.watch(b)
        y = sparse.sparse_dense_matmul(sp, b)
        z = sparse.to_dense(sp)
        w = sparse.reduce_sum(sp, 1)
    np.testing.assert_array_equal(y.numpy(), [[4, 5, 6], [2, 4, 6], [12, 15, 18]])
    dv, db = tape.gradient(y, [sp.values, b])
    np.testing.assert_array_equal(dv.numpy(), [15.0, 6.0, 15.0])
    np.testing.assert_array_equal(db.numpy(), [[2.0, 2.0, 2.0], [4.0, 4.0, 4.0]])
    np.testing.assert_array_equal(tape.gradient(z, sp.values).numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(tape.gradient(w, sp.values).numpy(), [1.0, 1.0, 1.0])


def test_matmul_adjoint_and_dense_times_sparse():
    sp = SparseTensor([[0, 1], [1, 0]], [1.0, 2.0], [2, 2])
    d = dtf.constant([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(sparse.sparse_dense_matmul(sp, d, adjoint_a=True).numpy(),
                                  [[6.0, 8.0], [1.0, 2.0]])
    np.testing.assert_array_equal(sparse.matmul(d, sp).numpy(), [[4.0, 1.0], [8.0, 3.0]])
    with pytest.raises(InvalidArgumentError, match="inner dimension does not match: 2 vs. 3"):
        sparse.sparse_dense_matmul(SparseTensor([[0, 0]], [1.0], [2, 2]), dtf.ones([3, 2]))


def test_matmul_gradient_reaches_variables():
    values = dtf.Variable([1.0, 2.0])
    b = dtf.Variable([[1.0], [1.0]])
    with dtf.GradientTape() as tape:
        out = sparse.sparse_dense_matmul(SparseTensor([[0, 0], [1, 1]], values, [2, 2]), b)
        loss = dtf.reduce_sum(out)
    gv, gb = tape.gradient(loss, [values, b])
    np.testing.assert_array_equal(gv.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(gb.numpy(), [[1.0], [2.0]])


def test_concat_transpose_reduce_retain_reorder_slice_eye_from_dense():
    s1 = SparseTensor([[0, 1], [1, 0]], [1, 2], [2, 3])
    s2 = SparseTensor([[0, 0], [1, 2]], [3, 4], [2, 2])
    assert _st(sparse.concat(1, [s1, s2])) == (
        [[0, 1], [0, 3], [1, 0], [1, 5]], [1, 3, 2, 4], [2, 5])
    assert _st(sparse.concat(0, [s1, SparseTensor([[0, 0]], [5], [1, 3])])) == (
        [[0, 1], [1, 0], [2, 0]], [1, 2, 5], [3, 3])
    with pytest.raises(InvalidArgumentError, match="expected 2 for dimension 1 but got 3"):
        sparse.concat(0, [SparseTensor([[0, 0]], [1.0], [2, 2]),
                          SparseTensor([[0, 0]], [1.0], [2, 3])])
    assert _st(sparse.transpose(s1)) == ([[0, 1], [1, 0]], [2, 1], [3, 2])
    assert sparse.reduce_sum(s1, axis=1).numpy().tolist() == [1, 2]
    assert int(sparse.reduce_sum(s1).numpy()) == 3
    assert sparse.reduce_sum(s1, 0, keepdims=True).numpy().tolist() == [[2, 1, 0]]
    assert _st(sparse.reduce_sum(s1, axis=1, output_is_sparse=True)) == (
        [[0], [1]], [1, 2], [2])
    assert _st(sparse.reduce_sum(s1, axis=[0, 1], output_is_sparse=True)) == ([[]], [3], [])
    dup = SparseTensor([[0, 1], [0, 1]], [1.0, 2.0], [2, 2])
    assert sparse.reduce_sum(dup, 1).numpy().tolist() == [3.0, 0.0]
    assert _st(sparse.retain(s1, [False, True])) == ([[1, 0]], [2], [2, 3])
    assert _st(sparse.reorder(SparseTensor([[1, 0], [0, 2]], [1, 2], [2, 3]))) == (
        [[0, 2], [1, 0]], [2, 1], [2, 3])
    assert _st(sparse.eye(3)) == ([[0, 0], [1, 1], [2, 2]], [1.0, 1.0, 1.0], [3, 3])
    assert _st(sparse.eye(2, 3, dtype=dtf.int32)) == ([[0, 0], [1, 1]], [1, 1], [2, 3])
    assert _st(sparse.slice(s1, [0, 1], [2, 2])) == ([[0, 0]], [1], [2, 2])
    sp = SparseTensor([[0, 1], [1, 0], [2, 1]], [1.0, 2.0, 3.0], [3, 2])
    assert _st(sparse.slice(sp, [1, 0], [5, 5])) == ([[0, 0], [1, 1]], [2.0, 3.0], [2, 2])
    assert _st(sparse.from_dense(dtf.constant([[0, 1], [2, 0]]))) == (
        [[0, 1], [1, 0]], [1, 2], [2, 2])


def test_elementwise_with_dense():
    sp = SparseTensor([[0, 1], [1, 0], [2, 1]], [1.0, 2.0, 3.0], [3, 2])
    assert _st(sp * dtf.constant([[1.0], [2.0], [3.0]])) == (
        [[0, 1], [1, 0], [2, 1]], [1.0, 4.0, 9.0], [3, 2])
    assert (sp / dtf.constant(2.0)).values.numpy().tolist() == [0.5, 1.0, 1.5]
    assert sp.with_values(sp.values * 2).values.numpy().tolist() == [2.0, 4.0, 6.0]
    with pytest.raises(InvalidArgumentError, match="does not broadcast"):
        sp * dtf.ones([4])


@pytest.mark.parametrize("name", ["dtf.sparse", "dtf.sparse.sparse_tensor",
                                  "dtf.sparse.sparse_ops", "dtf.sparse.sparse_matmul",
                                  "dtf.sparse.sparse_math", "dtf.sparse.sparse_layout",
                                  "dtf.sparse.sparse_tensor_spec"])
def test_docstring_examples(name, monkeypatch):
    # Until dtf exports SparseTensor, SparseTensorSpec and the sparse module itself.
    monkeypatch.setattr(dtf, "sparse", sparse, raising=False)
    monkeypatch.setattr(dtf, "SparseTensor", SparseTensor, raising=False)
    monkeypatch.setattr(dtf, "SparseTensorSpec", sparse.SparseTensorSpec, raising=False)
    result = doctest.testmod(importlib.import_module(name), extraglobs={"dtf": dtf},
                             optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_from_dense_gradient_reaches_the_dense_tensor():
    from dtf.testing.gradcheck import check_gradients

    mask = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    # The mask keeps the zeros exactly zero while central differences perturb x.
    check_gradients(lambda x: sparse.from_dense(x * dtf.constant(mask)).values,
                    [np.random.default_rng(0).uniform(-1, 1, (3, 2))], name="from_dense")
