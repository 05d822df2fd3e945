"""Variables: creation, names, assignment (checked, atomic), slices, scatter, printing."""

import numpy as np
import pytest

import dtf
from dtf.errors import InvalidArgumentError


def test_default_names_are_unique_and_given_names_kept():
    dtf.variables.reset_default_names()
    a, b = dtf.Variable(1.0), dtf.Variable(2.0)
    assert a.name == "Variable:0" and b.name == "Variable_1:0"
    assert dtf.Variable(1.0, name="w").name == "w:0"


def test_repr_like_tensorflow():
    dtf.variables.reset_default_names()
    v = dtf.Variable([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert repr(v) == ("<dtf.Variable 'Variable:0' shape=(2, 3) dtype=float32, numpy=\n"
                       "array([[1., 2., 3.],\n       [4., 5., 6.]], dtype=float32)>")
    assert repr(v.assign(2 * v)).startswith("<dtf.Variable 'UnreadVariable' shape=(2, 3)")


def test_assign_family_and_operators_return_tensors():
    v = dtf.Variable([1.0, 2.0])
    v.assign([3.0, 4.0])
    v.assign_add([1.0, 1.0])
    v.assign_sub(dtf.constant([0.5, 0.5]))
    assert v.numpy().tolist() == [3.5, 4.5]
    assert isinstance(v * 2, dtf.Tensor) and (v + v).numpy().tolist() == [7.0, 9.0]
    assert isinstance(v.read_value(), dtf.Tensor) and v.dtype == dtf.float32
    assert v.assign([0.0, 0.0]).numpy().tolist() == [0.0, 0.0]
    assert v.assign([1.0, 1.0], read_value=False) is None


def test_failed_assignments_leave_the_variable_unchanged():
    v = dtf.Variable([1.0, 2.0])
    with pytest.raises(ValueError, match="shape"):
        v.assign([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="requested dtype float32"):
        v.assign(dtf.constant([1, 2]))
    with pytest.raises(InvalidArgumentError, match="shapes must be equal"):
        v.assign_add(1.0)
    with pytest.raises(TypeError):
        v.assign(["a", "b"])
    assert v.numpy().tolist() == [1.0, 2.0]


def test_earlier_reads_keep_their_value():
    v = dtf.Variable([1.0, 2.0])
    before = v.read_value()
    v.assign([5.0, 6.0])
    v[0].assign(9.0)
    assert before.numpy().tolist() == [1.0, 2.0]
    assert v.numpy().tolist() == [9.0, 6.0]


def test_sliced_assignment():
    v = dtf.Variable([[2.0, 4.0, 6.0], [8.0, 10.0, 12.0]])
    out = v[0, 1].assign(42)
    assert v.numpy().tolist() == [[2, 42, 6], [8, 10, 12]]
    assert "UnreadVariable" in repr(out)
    v[1, :2].assign([0.0, 1.0])
    assert v.numpy()[1].tolist() == [0, 1, 12]
    with pytest.raises(ValueError):
        v[0, :].assign([1.0, 2.0])
    assert v.numpy()[0].tolist() == [2, 42, 6]


def test_scatter_nd_update_and_add():
    v = dtf.Variable([[2.0, 42.0, 6.0], [8.0, 10.0, 12.0]])
    v.scatter_nd_update(indices=[[0, 0], [1, 2]], updates=[100.0, 200.0])
    assert v.numpy().tolist() == [[100, 42, 6], [8, 10, 200]]
    v.scatter_nd_add(indices=[[0, 0], [0, 0]], updates=[1.0, 2.0])
    assert v.numpy()[0, 0] == 103
    with pytest.raises(InvalidArgumentError):
        v.scatter_nd_update(indices=[[5, 0]], updates=[1.0])
    assert v.numpy()[0, 0] == 103


def test_creation_options():
    v = dtf.Variable(lambda: dtf.ones((2,)), trainable=False, dtype="float64")
    assert not v.trainable and v.dtype == dtf.float64
    assert dtf.Variable(3).dtype == dtf.int32
    with pytest.raises(ValueError):
        dtf.Variable(None)
    assert v.shape == (2,) and v.device.endswith("CPU:0")
    assert np.asarray(v).tolist() == [1.0, 1.0]
    assert {v: 1}[v] == 1
