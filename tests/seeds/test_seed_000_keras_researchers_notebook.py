"""Seed 000 (a notebook after "Keras for researchers"): tensors, variables and gradients.

Each test pastes a cell of ``../shared/seeds/000_*.txt`` with only ``import tensorflow as tf``
changed to ``import dtf as tf``, then asserts what the notebook shows.  Printed tensors that
involve no randomness are compared as exact text (``tf`` -> ``dtf``); random values are checked
through shapes, dtypes and the relations the seed relies on.  The Keras cells of this seed are
covered by the Keras issue's tests.
"""

import numpy as np
import numpy.testing as npt
import pytest

import dtf as tf

# The seed's code is pasted as it stands (its spacing and quotes included), so the
# formatter leaves this module alone.
# fmt: off


def test_constant_tensor_print_numpy_dtype_shape(capsys):
    # In [10]
    # Here's a constant tensor:
    x = tf.constant([[5, 2], [1, 3]])
    print(x)

    # You can get its value as a NumPy array by calling .numpy():
    print(x.numpy())
    # Much like a NumPy array, it features the attributes dtype and shape:
    print("dtype:", x.dtype)
    print("shape:", x.shape)

    out = capsys.readouterr().out
    assert out == (
        "dtf.Tensor(\n"
        "[[5 2]\n"
        " [1 3]], shape=(2, 2), dtype=int32)\n"
        "[[5 2]\n"
        " [1 3]]\n"
        "dtype: <dtype: 'int32'>\n"
        "shape: (2, 2)\n"
    )
    assert isinstance(x.numpy(), np.ndarray)
    assert x.numpy().dtype == np.int32
    assert x.dtype == tf.int32
    assert x.shape == (2, 2)


def test_ones_zeros_and_random_constants(capsys):
    # In [11]
    print(tf.ones(shape=(2, 1)))
    print(tf.zeros(shape=(2, 1)))

    # You can also create random constant tensors:

    x = tf.random.normal(shape=(2, 2), mean=0.0, stddev=1.0)
    normal = x

    x = tf.random.uniform(shape=(2, 2), minval=0, maxval=10, dtype="int32")

    out = capsys.readouterr().out
    assert out == (
        "dtf.Tensor(\n"
        "[[1.]\n"
        " [1.]], shape=(2, 1), dtype=float32)\n"
        "dtf.Tensor(\n"
        "[[0.]\n"
        " [0.]], shape=(2, 1), dtype=float32)\n"
    )
    assert normal.shape == (2, 2)
    assert normal.dtype == tf.float32
    assert np.all(np.isfinite(normal.numpy()))
    assert x.shape == (2, 2)
    assert x.dtype == tf.int32
    assert x.numpy().dtype == np.int32
    assert np.all((x.numpy() >= 0) & (x.numpy() < 10))


def test_variable_print_assign_and_assign_add(capsys):
    # In [12]
    initial_value = tf.random.normal(shape=(2, 2))
    a = tf.Variable(initial_value)
    print(a)

    out = capsys.readouterr().out
    # <tf.Variable 'Variable:0' shape=(2, 2) dtype=float32, numpy=
    # array([[ 0.5958199 ,  0.37926623],
    #        [-1.0933207 , -0.73762554]], dtype=float32)>
    assert out == (
        "<dtf.Variable 'Variable:0' shape=(2, 2) dtype=float32, numpy=\n"
        + repr(initial_value.numpy())
        + ">\n"
    )
    assert a.numpy().dtype == np.float32
    npt.assert_array_equal(a.numpy(), initial_value.numpy())

    # In [13]
    new_value = tf.random.normal(shape=(2, 2))
    a.assign(new_value)
    for i in range(2):
        for j in range(2):
            assert a[i, j] == new_value[i, j]

    added_value = tf.random.normal(shape=(2, 2))
    a.assign_add(added_value)
    for i in range(2):
        for j in range(2):
            assert a[i, j] == new_value[i, j] + added_value[i, j]

    npt.assert_array_equal(a.numpy(), new_value.numpy() + added_value.numpy())


def test_gradient_of_watched_tensor(capsys):
    # In [14]
    a = tf.random.normal(shape=(2, 2))
    b = tf.random.normal(shape=(2, 2))

    with tf.GradientTape() as tape:
        tape.watch(a)  # Start recording the history of operations applied to `a`
        c = tf.sqrt(tf.square(a) + tf.square(b))  # Do some math using `a`
        # What's the gradient of `c` with respect to `a`?
        dc_da = tape.gradient(c, a)
        print(dc_da)

    out = capsys.readouterr().out
    # tf.Tensor(
    # [[ 0.70634687 -0.87136996]
    #  [ 0.48079547 -0.63041496]], shape=(2, 2), dtype=float32)
    assert out == "dtf.Tensor(\n" + str(dc_da.numpy()) + ", shape=(2, 2), dtype=float32)\n"
    assert dc_da.shape == (2, 2)
    assert dc_da.dtype == tf.float32
    a64, b64 = a.numpy().astype(np.float64), b.numpy().astype(np.float64)
    npt.assert_allclose(dc_da.numpy(), a64 / np.sqrt(a64**2 + b64**2), rtol=1e-5, atol=1e-6)


def test_nested_tapes_on_unwatched_tensor_raise_type_error(capsys):
    # In [19]: `a` is a plain tensor nobody watches, so the inner gradient is None and
    # the outer tape is asked for the gradient of None: TypeError, as the notebook shows
    # ("TypeError: Cannot convert value None to a TensorFlow DType.").
    dc_da = "not run"
    with pytest.raises(TypeError):
        a = tf.random.normal(shape=(2, 2), dtype=tf.float32)
        b = tf.random.normal(shape=(2, 2), dtype=tf.float32)

        with tf.GradientTape() as outer_tape:
            with tf.GradientTape() as tape:
                c = tf.sqrt(tf.square(a) + tf.square(b))
                dc_da = tape.gradient(c, a)

            d2c_da2 = outer_tape.gradient(dc_da, a)
            print(d2c_da2)

    assert dc_da is None
    assert capsys.readouterr().out == ""
