"""Seed 004 ("Introduction to Keras for Researchers"): the Tensors, Variables, Doing math and
Gradients sections.

Each test pastes a code block of ``../shared/seeds/004_*.txt`` with only
``import tensorflow as tf`` changed to ``import dtf as tf``, then asserts what the guide shows:
exact text for printed tensors without randomness (``tf`` read as ``dtf``), shapes, dtypes and
the formulas the values obey where they are random.  The Keras sections of this seed (layers,
training loops, losses, metrics, tf.function, the Functional API, the VAE and the
hypernetwork) are in ``test_seed_004_keras_sections.py``.
"""

import numpy as np
import numpy.testing as npt

import dtf as tf

# The seed's code is pasted as it stands (its spacing and quotes included), so the
# formatter leaves this module alone.
# fmt: off


def test_tensors(capsys):
    x = tf.constant([[5, 2], [1, 3]])
    print(x)

    assert capsys.readouterr().out == (
        "dtf.Tensor(\n"
        "[[5 2]\n"
        " [1 3]], shape=(2, 2), dtype=int32)\n"
    )

    out = x.numpy()
    assert repr(out) == (
        "array([[5, 2],\n"
        "       [1, 3]], dtype=int32)"
    )

    print("dtype:", x.dtype)
    print("shape:", x.shape)

    assert capsys.readouterr().out == (
        "dtype: <dtype: 'int32'>\n"
        "shape: (2, 2)\n"
    )

    print(tf.ones(shape=(2, 1)))
    print(tf.zeros(shape=(2, 1)))

    assert capsys.readouterr().out == (
        "dtf.Tensor(\n"
        "[[1.]\n"
        " [1.]], shape=(2, 1), dtype=float32)\n"
        "dtf.Tensor(\n"
        "[[0.]\n"
        " [0.]], shape=(2, 1), dtype=float32)\n"
    )

    x = tf.random.normal(shape=(2, 2), mean=0.0, stddev=1.0)

    assert x.shape == (2, 2)
    assert x.dtype == tf.float32

    x = tf.random.uniform(shape=(2, 2), minval=0, maxval=10, dtype="int32")

    assert x.shape == (2, 2)
    assert x.dtype == tf.int32
    assert np.all((x.numpy() >= 0) & (x.numpy() < 10))


def test_variables(capsys):
    initial_value = tf.random.normal(shape=(2, 2))
    a = tf.Variable(initial_value)
    print(a)

    # <tf.Variable 'Variable:0' shape=(2, 2) dtype=float32, numpy=
    # array([[ 0.6405563 ,  0.03973103],
    #        [-0.6126285 , -0.71384406]], dtype=float32)>
    assert capsys.readouterr().out == (
        "<dtf.Variable 'Variable:0' shape=(2, 2) dtype=float32, numpy=\n"
        + repr(initial_value.numpy())
        + ">\n"
    )

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

    # .assign_sub(decrement), named by the guide next to the other two.
    a.assign_sub(added_value)
    npt.assert_allclose(a.numpy(), new_value.numpy(), rtol=1e-6, atol=1e-6)


def test_doing_math():
    a = tf.random.normal(shape=(2, 2))
    b = tf.random.normal(shape=(2, 2))

    c = a + b
    d = tf.square(c)
    e = tf.exp(d)

    for t in (c, d, e):
        assert isinstance(t, tf.Tensor)
        assert t.shape == (2, 2)
        assert t.dtype == tf.float32
    npt.assert_array_equal(c.numpy(), a.numpy() + b.numpy())
    npt.assert_allclose(d.numpy(), np.square(c.numpy()), rtol=1e-6)
    npt.assert_allclose(e.numpy(), np.exp(d.numpy()), rtol=1e-5)


def test_gradients(capsys):
    a = tf.random.normal(shape=(2, 2))
    b = tf.random.normal(shape=(2, 2))

    with tf.GradientTape() as tape:
        tape.watch(a)  # Start recording the history of operations applied to `a`
        c = tf.sqrt(tf.square(a) + tf.square(b))  # Do some math using `a`
        # What's the gradient of `c` with respect to `a`?
        dc_da = tape.gradient(c, a)
        print(dc_da)

    printed_for_tensor = capsys.readouterr().out
    # tf.Tensor(
    # [[-0.3224076   0.69120544]
    #  [-0.7068095  -0.53885883]], shape=(2, 2), dtype=float32)
    assert printed_for_tensor == (
        "dtf.Tensor(\n" + str(dc_da.numpy()) + ", shape=(2, 2), dtype=float32)\n"
    )
    a64, b64 = a.numpy().astype(np.float64), b.numpy().astype(np.float64)
    norm = np.sqrt(a64**2 + b64**2)
    assert dc_da.dtype == tf.float32
    assert dc_da.shape == (2, 2)
    npt.assert_allclose(dc_da.numpy(), a64 / norm, rtol=1e-5, atol=1e-6)

    # By default, variables are watched automatically:
    a = tf.Variable(a)

    with tf.GradientTape() as tape:
        c = tf.sqrt(tf.square(a) + tf.square(b))
        dc_da = tape.gradient(c, a)
        print(dc_da)

    # The guide prints the very same tensor for the Variable as for the watched tensor.
    assert capsys.readouterr().out == printed_for_tensor

    # Higher-order derivatives by nesting tapes:
    with tf.GradientTape() as outer_tape:
        with tf.GradientTape() as tape:
            c = tf.sqrt(tf.square(a) + tf.square(b))
            dc_da = tape.gradient(c, a)
        d2c_da2 = outer_tape.gradient(dc_da, a)
        print(d2c_da2)

    # tf.Tensor(
    # [[1.6652625  0.6523223 ]
    #  [0.20117798 0.41852283]], shape=(2, 2), dtype=float32)
    assert capsys.readouterr().out == (
        "dtf.Tensor(\n" + str(d2c_da2.numpy()) + ", shape=(2, 2), dtype=float32)\n"
    )
    assert d2c_da2.dtype == tf.float32
    assert d2c_da2.shape == (2, 2)
    # d/da (a / sqrt(a^2 + b^2)) = b^2 / (a^2 + b^2)^1.5, elementwise.  It is computed in
    # float32 as 1/c - a^2/c^3, which cancels where |b| << |a|: allow float32 rounding
    # relative to 1/c.
    expected = b64**2 / norm**3
    error = np.abs(d2c_da2.numpy().astype(np.float64) - expected)
    assert np.all(error <= 1e-5 * (np.abs(expected) + 1.0 / norm)), (d2c_da2.numpy(), expected)
