"""Tensor: immutability, protocols, printing, indexing, operators."""

import numpy as np
import pytest

import dtf
from dtf.errors import InvalidArgumentError


def test_str_and_repr_follow_tensorflow():
    x = dtf.constant([[5, 2], [1, 3]])
    assert str(x) == "dtf.Tensor(\n[[5 2]\n [1 3]], shape=(2, 2), dtype=int32)"
    assert repr(dtf.constant(42.0)) == "<dtf.Tensor: shape=(), dtype=float32, numpy=42.0>"
    assert repr(dtf.constant(42)) == "<dtf.Tensor: shape=(), dtype=int32, numpy=42>"
    assert repr(dtf.constant([1.0, 2.0])) == \
        "<dtf.Tensor: shape=(2,), dtype=float32, numpy=array([1., 2.], dtype=float32)>"
    assert repr(dtf.constant([[1.0, 2.0], [3.0, 4.0]])) == (
        "<dtf.Tensor: shape=(2, 2), dtype=float32, numpy=\narray([[1., 2.],\n       [3., 4.]],"
        " dtype=float32)>")
    assert str(dtf.constant(7.5)) == "dtf.Tensor(7.5, shape=(), dtype=float32)"
    assert str(dtf.constant([1, 2])) == "dtf.Tensor([1 2], shape=(2,), dtype=int32)"


def test_shape_dtype_numpy_ndim_len_iter():
    t = dtf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.shape == dtf.TensorShape([2, 3])
    assert repr(t.shape) == "TensorShape([2, 3])" and str(t.shape) == "(2, 3)"
    assert t.dtype == dtf.float32 and t.ndim == 2 and len(t) == 2
    assert isinstance(t.numpy(), np.ndarray)
    rows = list(t)
    assert len(rows) == 2 and rows[1].numpy().tolist() == [4.0, 5.0, 6.0]
    assert isinstance(dtf.constant(3.0).numpy(), np.float32)
    with pytest.raises(TypeError):
        len(dtf.constant(1.0))
    with pytest.raises(TypeError):
        iter(dtf.constant(1.0))


def test_numpy_functions_accept_tensors_and_return_arrays():
    t = dtf.constant([[1.0, 2.0], [3.0, 4.0]])
    out = np.square(t)
    assert isinstance(out, np.ndarray) and out.tolist() == [[1, 4], [9, 16]]
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    # ndarray on the left defers to the tensor, as in TensorFlow
    assert isinstance(np.ones((2, 2), np.float32) + t, dtf.Tensor)


def test_tensors_are_immutable_and_unhashable():
    t = dtf.ones((2, 2))
    with pytest.raises(TypeError, match="does not support item assignment"):
        t[0, 0] = 0.0
    with pytest.raises(TypeError, match="unhashable"):
        hash(t)
    d = {t.ref(): 1}
    assert d[t.ref()] == 1 and t.ref().deref() is t


def test_scalar_conversions_make_asserts_work():
    a = dtf.constant([[1.0, 2.0], [3.0, 4.0]])
    b = dtf.constant([[1.0, 0.0], [3.0, 4.0]])
    assert a[0, 0] == b[0, 0]
    assert a[0, 1] != b[0, 1]
    assert not bool(a[0, 1] == b[0, 1])
    assert float(a[1, 1]) == 4.0 and int(dtf.constant(7)) == 7
    assert [10, 20, 30][dtf.constant(1)] == 20
    with pytest.raises(ValueError, match="ambiguous"):
        bool(a == b)


def test_operators_follow_tensorflow_semantics():
    a = dtf.constant([7, -7])
    b = dtf.constant([2, 2])
    assert (a // b).numpy().tolist() == [3, -4]
    assert (a % dtf.constant([3, 3])).numpy().tolist() == [1, 2]
    assert (a / b).dtype == dtf.float64 and (a / b).numpy().tolist() == [3.5, -3.5]
    assert (b ** 3).numpy().tolist() == [8, 8]
    assert (-a).numpy().tolist() == [-7, 7] and abs(a).numpy().tolist() == [7, 7]
    x = dtf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert (x @ x).numpy().tolist() == [[7, 10], [15, 22]]
    assert (x > 2).numpy().tolist() == [[False, False], [True, True]]
    assert ((x > 1) & (x < 4)).numpy().tolist() == [[False, True], [True, False]]
    assert ((x < 2) | (x > 3)).numpy().tolist() == [[True, False], [False, True]]
    assert (~(x > 2)).numpy().tolist() == [[True, True], [False, False]]
    assert (dtf.constant(12) & 10).numpy() == 8
    assert (1 - x).numpy().tolist() == [[0, -1], [-2, -3]]
    assert (2 ** dtf.constant([1.0, 3.0])).numpy().tolist() == [2, 8]
    assert (x == None) is False and (x != None) is True


def test_indexing_like_numpy():
    t = dtf.constant(np.arange(24).reshape(2, 3, 4))
    n = np.arange(24).reshape(2, 3, 4)
    for key in [0, -1, (1, 2), (slice(None), 1), (Ellipsis, 0), (0, slice(None, None, -1)),
                (None, 1), (slice(1, None), slice(None, None, 2), 3),
                (dtf.constant(1), dtf.constant(-1))]:
        np_key = tuple(int(k) if isinstance(k, dtf.Tensor) else k for k in key) \
            if isinstance(key, tuple) else key
        np.testing.assert_array_equal(t[key].numpy(), n[np_key])
    with pytest.raises(InvalidArgumentError, match="strided_slice"):
        t[5]


def test_construction_from_nested_tensors_and_errors():
    a = dtf.constant([dtf.constant(1.0), dtf.constant(2.0)])
    assert a.numpy().tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="non-rectangular"):
        dtf.constant([[1, 2], [3]])
    assert dtf.constant(0.0, shape=(2, 2)).numpy().tolist() == [[0, 0], [0, 0]]
    assert dtf.constant([1, 2, 3, 4], shape=(2, 2)).shape == (2, 2)
    with pytest.raises(InvalidArgumentError):
        dtf.constant([1, 2, 3], shape=(2, 2))


def test_creation_ops():
    assert dtf.zeros((2, 3)).dtype == dtf.float32
    assert dtf.ones([2], dtype="int64").numpy().tolist() == [1, 1]
    assert dtf.fill([2, 2], 7).numpy().tolist() == [[7, 7], [7, 7]]
    assert dtf.eye(2).numpy().tolist() == [[1, 0], [0, 1]]
    assert dtf.eye(2, batch_shape=[3]).shape == (3, 2, 2)
    assert dtf.range(5).numpy().tolist() == [0, 1, 2, 3, 4]
    assert dtf.range(1, 2, 0.5).dtype == dtf.float32
    lin = dtf.linspace(-10.0, 10.0, 129)
    assert lin.shape == (129,) and lin.dtype == dtf.float32 and float(lin[64]) == 0.0
    with pytest.raises(InvalidArgumentError):
        dtf.zeros((-1, 2))
    assert dtf.zeros_like(dtf.constant([1, 2])).dtype == dtf.int32
    assert dtf.identity(lin) is not lin


def test_tensor_shape():
    s = dtf.TensorShape([None, 3])
    assert s.rank == 2 and s[0] is None and s[1] == 3 and not s.is_fully_defined()
    assert s.is_compatible_with([5, 3]) and not s.is_compatible_with([5, 4])
    assert s.merge_with([5, None]) == [5, 3]
    assert str(s) == "(None, 3)" and repr(s) == "TensorShape([None, 3])"
    assert dtf.TensorShape(None).rank is None
    assert dtf.TensorShape([2, 3]).num_elements() == 6
    assert dtf.TensorShape([2]) + [3] == [2, 3]
    assert s[1:] == dtf.TensorShape([3])
    with pytest.raises(ValueError):
        dtf.TensorShape([2]).merge_with([3])


def test_tensors_never_alias_user_arrays():
    source = np.ones(3, np.float32)
    t = dtf.constant(source)
    source[0] = 5.0
    assert t.numpy().tolist() == [1.0, 1.0, 1.0]
    out = t.numpy()
    out[1] = 7.0
    assert t.numpy().tolist() == [1.0, 1.0, 1.0]
    view = np.asarray(t)
    assert not view.flags.writeable
    v = dtf.Variable(np.zeros(2, np.float32))
    assigned = np.array([1.0, 2.0], np.float32)
    v.assign(assigned)
    assigned[0] = 9.0
    v.numpy()[1] = 9.0
    assert v.numpy().tolist() == [1.0, 2.0]


def test_format_specs_apply_to_scalars():
    assert f"{dtf.constant(1.5):.2f}" == "1.50"
    assert f"{dtf.constant([1, 2])}" == str(dtf.constant([1, 2]))
    with pytest.raises(TypeError):
        format(dtf.constant([1.0]), ".2f")
