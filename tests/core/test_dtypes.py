"""dtypes: names, equality, conversion rules (TensorFlow's)."""

import numpy as np
import pytest

import dtf
from dtf.errors import InvalidArgumentError

ALL = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
       "float16", "float32", "float64", "complex64", "complex128"]


@pytest.mark.parametrize("name", ALL)
def test_every_dtype_round_trips_names_and_numpy(name):
    d = getattr(dtf, name)
    assert dtf.as_dtype(name) is d
    assert dtf.as_dtype(np.dtype(name)) is d
    assert d == name and d.name == name
    assert repr(d) == f"dtf.{name}" and str(d) == f"<dtype: '{name}'>"
    assert dtf.zeros((1,), dtype=name).dtype is d


def test_as_dtype_accepts_python_types_and_rejects_junk():
    assert dtf.as_dtype(float) is dtf.float32
    assert dtf.as_dtype(int) is dtf.int32
    assert dtf.as_dtype(bool) is dtf.bool
    assert dtf.as_dtype(np.float64) is dtf.float64
    with pytest.raises(TypeError):
        dtf.as_dtype("float128x")
    with pytest.raises(TypeError, match="None"):
        dtf.as_dtype(None)


def test_dtype_properties():
    assert dtf.float32.is_floating and not dtf.float32.is_integer
    assert dtf.uint8.is_unsigned and dtf.uint8.is_integer
    assert dtf.complex64.is_complex and dtf.complex64.real_dtype is dtf.float32
    assert dtf.int8.min == -128 and dtf.int8.max == 127
    assert dtf.float32.as_numpy_dtype is np.float32
    assert dtf.float16.size == 2


def test_python_values_take_tensorflow_defaults():
    assert dtf.constant(1.5).dtype == dtf.float32
    assert dtf.constant(3).dtype == dtf.int32
    assert dtf.constant(2 ** 40).dtype == dtf.int64
    assert dtf.constant(True).dtype == dtf.bool
    assert dtf.constant(1 + 2j).dtype == dtf.complex128
    assert dtf.constant([1, 2.5]).dtype == dtf.float32
    assert dtf.constant([[1, 2], [3, 4]]).dtype == dtf.int32


def test_numpy_arrays_keep_their_dtype():
    assert dtf.constant(np.array([2.0, 4.0])).dtype == dtf.float64
    assert dtf.constant(np.array([1, 2], dtype=np.int64)).dtype == dtf.int64
    assert dtf.constant(np.float64(1.0)).dtype == dtf.float64
    assert dtf.constant(np.array([1, 2], np.uint8)).dtype == dtf.uint8


def test_scalars_take_the_tensor_operand_dtype():
    x = dtf.constant([1.0, 2.0], dtype=dtf.float64)
    assert (x + 1).dtype == dtf.float64
    assert (2 * x).dtype == dtf.float64
    assert (dtf.constant([1, 2]) * 3).dtype == dtf.int32
    assert (np.float64(2.0) * dtf.constant([1.0])).dtype == dtf.float32


def test_no_promotion_between_tensors_names_op_and_dtypes():
    with pytest.raises(InvalidArgumentError) as e:
        dtf.constant(2.0) + dtf.constant(40)
    msg = str(e.value)
    assert "add" in msg and "float32" in msg and "int32" in msg
    with pytest.raises(InvalidArgumentError, match="multiply"):
        dtf.multiply(dtf.constant([1.0], dtype=dtf.float64), dtf.constant([1.0]))


def test_float_scalar_beside_int_tensor_is_an_error():
    with pytest.raises(InvalidArgumentError, match="int32"):
        dtf.constant([1, 2]) + 2.5


def test_python_float_cannot_become_int_but_numpy_may_be_cast():
    with pytest.raises(TypeError, match="int32"):
        dtf.constant(1.5, dtype=dtf.int32)
    assert dtf.constant(np.array([1.7]), dtype="int32").numpy().tolist() == [1]
    assert dtf.constant([1, 2], dtype=dtf.float32).dtype == dtf.float32
    with pytest.raises(ValueError, match="requested dtype float32"):
        dtf.convert_to_tensor(dtf.constant([1, 2]), dtype=dtf.float32)


def test_cast():
    y = dtf.cast(dtf.constant(40), dtf.float32)
    assert y.dtype == dtf.float32
    assert repr(dtf.constant(2.0) + y) == "<dtf.Tensor: shape=(), dtype=float32, numpy=42.0>"
    assert dtf.cast(dtf.constant([-1.7, 1.7]), "int32").numpy().tolist() == [-1, 1]
    assert dtf.cast(dtf.constant([0.0, 2.0]), dtf.bool).numpy().tolist() == [False, True]


def test_python_floats_convert_exactly_at_a_requested_dtype():
    assert float(dtf.constant(0.1, dtf.float64)) == 0.1
    x = dtf.constant([1.0], dtype=dtf.float64)
    assert float((x * 0.1)[0]) == 0.1
    assert dtf.constant(2 ** 40, dtype=dtf.int64).numpy() == 2 ** 40
    with pytest.raises(TypeError):
        dtf.constant(2 ** 40, dtype=dtf.int32)
