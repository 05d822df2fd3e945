"""Seed 001 (TensorFlow basics after tensorflow.org/guide/basics): automatic differentiation.

Each test pastes a cell of ``../shared/seeds/001_*.txt`` with only ``import tensorflow as tf``
changed to ``import dtf as tf``, then asserts the values the seed states and the exact text
that its ``print`` calls produce (``tf`` -> ``dtf``).  Plotting needs matplotlib, which the
project does not depend on: that cell runs in its own test, skipped without matplotlib.
"""

import numpy as np
import numpy.testing as npt
import pytest

import dtf as tf

# The seed's code is pasted as it stands (its spacing and quotes included), so the
# formatter leaves this module alone.
# fmt: off


def test_version():
    assert isinstance(tf.__version__, str)
    assert tf.__version__


def test_gradient_of_4w_plus_w_cubed_at_1_is_7(capsys):
    w = tf.Variable(1.0)

    with tf.GradientTape() as g:
        L = 4*w + w**3

    gradL_w = g.gradient(L, w)
    print('gradient of L w.r.t. w at w = 2 is', gradL_w)

    # The seed's text says "at w = 2" but w is 1.0: 4 + 3 * 1**2 = 7.
    assert capsys.readouterr().out == (
        "gradient of L w.r.t. w at w = 2 is dtf.Tensor(7.0, shape=(), dtype=float32)\n"
    )
    assert gradL_w.dtype == tf.float32
    assert gradL_w.shape == ()
    assert float(gradL_w) == 7.0
    assert float(L) == 5.0


def test_gradient_with_respect_to_two_variables(capsys):
    w1 = tf.Variable(1.0)
    w2 = tf.Variable(2.0)

    with tf.GradientTape() as g:
        L = w1 + w2**2

    gradL_w1, gradL_w2 = g.gradient(L, [w1, w2])
    print('gradL_w1 = ', gradL_w1.numpy(), '; gradL_w2 = ', gradL_w2.numpy())

    assert capsys.readouterr().out == "gradL_w1 =  1.0 ; gradL_w2 =  4.0\n"
    assert gradL_w1.numpy() == 1.0
    assert gradL_w2.numpy() == 4.0


def test_gradient_is_none_for_constants_untrainable_and_unused(capsys):
    # Independent variable
    w1 = tf.Variable(1.0, name = 'w1')

    # A tf.constant is not a variable
    c1 = tf.constant(-2.0, name = 'c1')

    # Constant because we specify trainable = False
    c2 = tf.Variable(-1.0, name = 'c2', trainable = False)

    # variable + tensor returns a tensor. So c3 is not a tf.Variable.
    c3 = tf.Variable(1.0, name = 'c3') + 1.0

    # A variable but not used to compute y
    alpha = tf.Variable(0., name = 'alpha')

    with tf.GradientTape() as g:
        L = (w1 + c1)**2 + (c2**3) + 4*c3

    grad = g.gradient(L, [w1, c1, c2, c3, alpha])

    for dw in grad:
        print(dw)

    # dL/dw1 = 2 (w1 + c1) = 2 (1 - 2) = -2; the other four are None.
    assert capsys.readouterr().out == (
        "dtf.Tensor(-2.0, shape=(), dtype=float32)\n"
        "None\n"
        "None\n"
        "None\n"
        "None\n"
    )
    assert len(grad) == 5
    assert float(grad[0]) == -2.0
    assert grad[1] is None
    assert grad[2] is None
    assert grad[3] is None
    assert grad[4] is None
    assert not isinstance(c3, tf.Variable)
    assert isinstance(c3, tf.Tensor)
    assert float(c3) == 2.0
    assert float(L) == 8.0  # (1 - 2)**2 + (-1)**3 + 4 * 2
    assert c2.trainable is False
    assert w1.trainable is True


def test_watched_constant_w_to_the_fourth_at_minus_3_is_minus_108(capsys):
    w = tf.constant(-3.0)

    with tf.GradientTape() as g:
        g.watch(w)
        L = w**4

    print(g.gradient(L, w))

    assert capsys.readouterr().out == "dtf.Tensor(-108.0, shape=(), dtype=float32)\n"


def test_gradient_of_sum_of_squares_is_2_minus_6(capsys):
    w = tf.Variable([1, -3.0])
    with tf.GradientTape() as g:
        L = tf.math.reduce_sum(w**2) # this means L = w[0]^2 + w[1]^2

    print(w.numpy())
    print(L.numpy()) # w[0]^2 + w[1]^2 = 1 + 9 = 10
    print(g.gradient(L, w))  # (2w[0], 2w[1]) = (2,-6)

    assert capsys.readouterr().out == (
        "[ 1. -3.]\n"
        "10.0\n"
        "dtf.Tensor([ 2. -6.], shape=(2,), dtype=float32)\n"
    )
    assert w.dtype == tf.float32
    assert L.numpy() == 10.0


def test_gradient_of_a_list_of_targets_is_the_sum(capsys):
    w = tf.Variable(-1.)
    with tf.GradientTape() as g:
        L = [2*w, w**4]

    print([L[i].numpy() for i in range(2)]) # [-2,1]
    print(g.gradient(L, w))  # 2 + 4w^3 = 2 - 4 = -2

    # `.numpy()` of a scalar tensor is a NumPy scalar; how a list of them prints depends on
    # the NumPy version, so the expected line is printed by the same NumPy.
    assert capsys.readouterr().out == (
        str([np.float32(-2.0), np.float32(1.0)]) + "\n"
        "dtf.Tensor(-2.0, shape=(), dtype=float32)\n"
    )
    assert isinstance(L[0].numpy(), np.float32)
    assert L[0].numpy() == -2.0
    assert L[1].numpy() == 1.0


def test_persistent_tape_gives_several_gradients(capsys):
    w1 = tf.Variable([1, -3.0])
    with tf.GradientTape(persistent = True) as g:
        w2 = 2*w1
        L = w2**2

    print(w1.numpy())
    print(w2.numpy())
    print(g.gradient(w2, w1))  # [2, 2]
    print(g.gradient(L, w2))
    del g # release resources

    # dL/dw2 = 2 w2 = [4, -12]
    assert capsys.readouterr().out == (
        "[ 1. -3.]\n"
        "[ 2. -6.]\n"
        "dtf.Tensor([2. 2.], shape=(2,), dtype=float32)\n"
        "dtf.Tensor([  4. -12.], shape=(2,), dtype=float32)\n"
    )


def test_tanh_gradient_over_linspace():
    w = tf.linspace(-10.0, 10.0, 129) # A tf.Tensor, not a tf.Variable

    with tf.GradientTape() as g:
        g.watch(w)
        L = tf.math.tanh(w)

    gradL_w = g.gradient(L, w)

    assert not isinstance(w, tf.Variable)
    assert w.shape == (129,)
    assert w.dtype == tf.float32
    npt.assert_allclose(w.numpy(), np.linspace(-10.0, 10.0, 129), rtol=0, atol=1e-5)
    assert L.shape == (129,)
    assert L.dtype == tf.float32
    assert gradL_w.shape == (129,)
    assert gradL_w.dtype == tf.float32
    npt.assert_allclose(L.numpy(), np.tanh(w.numpy()), rtol=1e-6, atol=1e-6)
    npt.assert_allclose(gradL_w.numpy(), 1 - np.tanh(w.numpy()) ** 2, rtol=1e-5, atol=1e-6)
    # What matplotlib does with its arguments: tensors convert to NumPy arrays.
    assert np.asarray(w).shape == (129,)
    npt.assert_array_equal(np.asarray(gradL_w), gradL_w.numpy())


def test_tanh_gradient_plot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # plt.style.use('seaborn-whitegrid') and %matplotlib inline are left out: the style was
    # renamed in matplotlib 3.6 and the magic is IPython's; neither concerns dtf.
    w = tf.linspace(-10.0, 10.0, 129) # A tf.Tensor, not a tf.Variable

    with tf.GradientTape() as g:
        g.watch(w)
        L = tf.math.tanh(w)

    gradL_w = g.gradient(L, w)

    plt.plot(w, L, label = 'L')
    plt.plot(w, gradL_w, label = 'gradL_w')
    plt.legend()
    plt.xlabel('w');

    lines = plt.gca().get_lines()
    assert len(lines) == 2
    npt.assert_allclose(lines[1].get_ydata(), 1 - np.tanh(np.asarray(w)) ** 2, atol=1e-5)
    plt.close("all")
