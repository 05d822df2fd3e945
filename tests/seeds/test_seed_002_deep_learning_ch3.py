"""Seed 002 (notes on chapter 3 of "Deep Learning with Python"): tensors, variables, math and
gradients.

Each test pastes a code block of ``../shared/seeds/002_*.txt`` with only
``import tensorflow as tf`` changed to ``import dtf as tf``, then asserts what the notes say.
Two blocks of the seed are not valid Python as written (a ``with`` statement run onto the line
before it, and a broken indentation in the second-order example); they are reflowed onto
separate, indented lines and nothing else is changed.
"""

import numpy as np
import numpy.testing as npt
import pytest

import dtf as tf

# The seed's code is pasted as it stands (its spacing and quotes included), so the
# formatter leaves this module alone.
# fmt: off


def test_ones_print_and_random_normal(capsys):
    # all-ones tensor
    x = tf.ones(shape = (2,1)) # all-ones tensor (2x1 matrix in this case)
    print(x)

    assert capsys.readouterr().out == (
        "dtf.Tensor(\n"
        "[[1.]\n"
        " [1.]], shape=(2, 1), dtype=float32)\n"
    )

    # random tensors
    x = tf.random.normal(shape=(3, 1), mean=0., stddev=1.)

    assert x.shape == (3, 1)
    assert x.dtype == tf.float32
    assert np.all(np.isfinite(x.numpy()))


def test_tensors_are_constants_item_assignment_raises_type_error():
    x = np.ones(shape=(2, 2))
    x[0, 0] = 0. # this is fine, "." after 0 indicates we are working with floating point
    npt.assert_array_equal(x, [[0., 1.], [1., 1.]])

    # now, what if we try this with tensorflow array, we will get an error
    x = tf.ones(shape=(2, 2))
    with pytest.raises(TypeError, match="does not support item assignment"):
        x[0, 0] = 0.
    npt.assert_array_equal(x.numpy(), np.ones((2, 2), dtype=np.float32))


def test_variable_assign_and_sliced_assign():
    v = tf.Variable(initial_value=tf.random.normal(shape=(3, 1)))

    # is
    # array([[-0.75133973],
    #        [-0.4872893 ],
    #        [ 1.6626885 ]], dtype=float32)
    assert v.shape == (3, 1)
    assert v.dtype == tf.float32
    assert v.numpy().dtype == np.float32

    result = v.assign(tf.ones((3, 1)))
    # is
    # array([[1.],
    #        [1.],
    #        [1.]], dtype=float32)
    expected = np.array([[1.], [1.], [1.]], dtype=np.float32)
    assert repr(v.numpy()) == "array([[1.],\n       [1.],\n       [1.]], dtype=float32)"
    npt.assert_array_equal(result.numpy(), expected)

    result = v[0, 0].assign(3.)
    # is
    # array([[3.],
    #        [1.],
    #        [1.]], dtype=float32)
    assert repr(v.numpy()) == "array([[3.],\n       [1.],\n       [1.]], dtype=float32)"
    npt.assert_array_equal(result.numpy(), np.array([[3.], [1.], [1.]], dtype=np.float32))


def test_math_operations():
    a = tf.ones((2, 2))
    b = tf.square(a) # square of a tensor, element-wise
    c = tf.sqrt(a) # square root of a tenso, element-wise
    d=b+c # element-wise addition
    e = tf.matmul(a, b) # tensor products
    e *= d # element-wise multiplication

    ones = np.ones((2, 2), dtype=np.float32)
    for t, value in [(b, ones), (c, ones), (d, 2 * ones), (e, 4 * ones)]:
        assert isinstance(t, tf.Tensor)
        assert t.dtype == tf.float32
        assert t.shape == (2, 2)
        npt.assert_array_equal(t.numpy(), value)


def test_gradient_of_square_of_variable():
    input_var = tf.Variable(initial_value=3.)
    with tf.GradientTape() as tape:
       result = tf.square(input_var)
    gradient = tape.gradient(result, input_var)

    assert gradient.dtype == tf.float32
    assert gradient.shape == ()
    assert float(gradient) == 6.0

    ## here is an easier example to understand
    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = tf.square(x)
    dy_dx = tape.gradient(y, x) # derivative of y = x^2, x = 3, we get 6

    assert float(y) == 9.0
    assert float(dy_dx) == 6.0


def test_gradient_of_watched_constant():
    input_const = tf.constant(3.)
    with tf.GradientTape() as tape:
       tape.watch(input_const)
       result = tf.square(input_const)
    gradient = tape.gradient(result, input_const)

    assert gradient.dtype == tf.float32
    assert float(gradient) == 6.0


def test_second_order_gradient_speed_and_acceleration():
    time = tf.Variable(0.)
    with tf.GradientTape() as outer_tape:
        with tf.GradientTape() as inner_tape:
            position = 4.9 * time ** 2
        speed = inner_tape.gradient(position, time)
    acceleration = outer_tape.gradient(speed, time)

    assert float(position) == 0.0
    assert speed.dtype == tf.float32
    assert float(speed) == 0.0
    assert acceleration.dtype == tf.float32
    assert acceleration.shape == ()
    npt.assert_allclose(acceleration.numpy(), 9.8, rtol=1e-6)
