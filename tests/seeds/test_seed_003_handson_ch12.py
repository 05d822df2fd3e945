"""Seed 003 (notes on chapter 12 of "Hands-On Machine Learning"): tensors, operations, NumPy
interplay, type conversions and variables.

Each test pastes the REPL cells of ``../shared/seeds/003_*.txt`` with only
``import tensorflow as tf`` changed to ``import dtf as tf`` (and ``from tensorflow import keras``
to ``from dtf import keras``), and compares the ``repr`` of each cell's value with the output
the notebook shows, ``tf`` read as ``dtf``.  The custom-model part of the seed belongs to the
Keras issue's tests.
"""

import re

import numpy as np
import pytest

import dtf as tf

# The seed's code is pasted as it stands (its spacing and quotes included), so the
# formatter leaves this module alone.
# fmt: off

T_REPR = (
    "<dtf.Tensor: shape=(2, 3), dtype=float32, numpy=\n"
    "array([[1., 2., 3.],\n"
    "       [4., 5., 6.]], dtype=float32)>"
)


def test_tensors_and_operations():
    # In [3]
    out = tf.constant([[1.,2.,3.],[4.,5.,6.]]) #matrix
    assert repr(out) == T_REPR

    # In [4]
    out = tf.constant(42)
    assert repr(out) == "<dtf.Tensor: shape=(), dtype=int32, numpy=42>"

    # In [5]
    t = tf.constant([[1.,2.,3.],[4.,5.,6.]])

    # In [6]
    out = t.shape
    assert repr(out) == "TensorShape([2, 3])"

    # In [7]
    out = t.dtype
    assert repr(out) == "dtf.float32"

    # In [8]
    out = t.numpy
    # TensorFlow shows "<bound method _EagerTensorBase.numpy of <tf.Tensor: ...>>"; the class
    # that defines `numpy` is an implementation detail, the bound tensor is not.
    assert callable(out)
    assert re.fullmatch(r"<bound method [\w.]+\.numpy of ", repr(out)[: -len(T_REPR) - 1])
    assert repr(out).endswith(" of " + T_REPR + ">")

    # In [9]
    ##Indexing like numpy
    out = t[:,1]
    assert repr(out) == (
        "<dtf.Tensor: shape=(2,), dtype=float32, numpy=array([2., 5.], dtype=float32)>"
    )

    # In [10]
    ##operations
    out = t+10
    assert repr(out) == (
        "<dtf.Tensor: shape=(2, 3), dtype=float32, numpy=\n"
        "array([[11., 12., 13.],\n"
        "       [14., 15., 16.]], dtype=float32)>"
    )

    # In [11]
    out = tf.square(t)
    assert repr(out) == (
        "<dtf.Tensor: shape=(2, 3), dtype=float32, numpy=\n"
        "array([[ 1.,  4.,  9.],\n"
        "       [16., 25., 36.]], dtype=float32)>"
    )

    # In [12]
    out = tf.transpose(t)
    assert repr(out) == (
        "<dtf.Tensor: shape=(3, 2), dtype=float32, numpy=\n"
        "array([[1., 4.],\n"
        "       [2., 5.],\n"
        "       [3., 6.]], dtype=float32)>"
    )

    # In [13]
    out = t @ tf.transpose(t)
    assert repr(out) == (
        "<dtf.Tensor: shape=(2, 2), dtype=float32, numpy=\n"
        "array([[14., 32.],\n"
        "       [32., 77.]], dtype=float32)>"
    )
    # + is equivalent to tf.add(), @ is equivalent to tf.matmul()
    assert repr(tf.add(t, 10)) == repr(t + 10)
    assert repr(tf.matmul(t, tf.transpose(t))) == repr(t @ tf.transpose(t))


def test_keras_backend_square_transpose():
    # In [14]
    from dtf import keras

    t = tf.constant([[1.,2.,3.],[4.,5.,6.]])

    K = keras.backend

    # In [15]
    out = K.square(K.transpose(t))
    assert repr(out) == (
        "<dtf.Tensor: shape=(3, 2), dtype=float32, numpy=\n"
        "array([[ 1., 16.],\n"
        "       [ 4., 25.],\n"
        "       [ 9., 36.]], dtype=float32)>"
    )


def test_tensors_and_numpy():
    t = tf.constant([[1.,2.,3.],[4.,5.,6.]])

    # In [23]
    a = np.array([2.,4.,5.])

    # In [24]
    out = tf.constant(a)
    assert repr(out) == "<dtf.Tensor: shape=(3,), dtype=float64, numpy=array([2., 4., 5.])>"

    # In [25]
    out = t.numpy()
    assert repr(out) == (
        "array([[1., 2., 3.],\n"
        "       [4., 5., 6.]], dtype=float32)"
    )

    # In [26]
    out = tf.square(a)
    assert repr(out) == "<dtf.Tensor: shape=(3,), dtype=float64, numpy=array([ 4., 16., 25.])>"

    # In [27]
    out = np.square(t)
    assert type(out) is np.ndarray
    assert repr(out) == (
        "array([[ 1.,  4.,  9.],\n"
        "       [16., 25., 36.]], dtype=float32)"
    )


def test_type_conversions():
    # In [28]
    with pytest.raises(tf.errors.InvalidArgumentError) as excinfo:
        tf.constant(2.) + tf.constant(40)
    # InvalidArgumentError: cannot compute AddV2 as input #1(zero-based) was expected to be a
    # float tensor but is a int32 tensor [Op:AddV2]
    assert (
        "cannot compute AddV2 as input #1(zero-based) was expected to be a float tensor "
        "but is a int32 tensor [Op:AddV2]"
    ) in str(excinfo.value)

    # In [29]
    out = tf.constant(2.0) + tf.cast(tf.constant(40), tf.float32)
    assert repr(out) == "<dtf.Tensor: shape=(), dtype=float32, numpy=42.0>"


def test_variables():
    # In [30]
    v = tf.Variable([[1., 2., 3.], [4., 5., 6.]])

    # In [31]
    out = v
    assert repr(out) == (
        "<dtf.Variable 'Variable:0' shape=(2, 3) dtype=float32, numpy=\n"
        "array([[1., 2., 3.],\n"
        "       [4., 5., 6.]], dtype=float32)>"
    )

    # In [32]
    ##reassignment can be done using assign() or assign_add, assign_sub method
    out = v.assign(2 * v)
    assert repr(out) == (
        "<dtf.Variable 'UnreadVariable' shape=(2, 3) dtype=float32, numpy=\n"
        "array([[ 2.,  4.,  6.],\n"
        "       [ 8., 10., 12.]], dtype=float32)>"
    )

    # In [33]
    out = v
    assert repr(out) == (
        "<dtf.Variable 'Variable:0' shape=(2, 3) dtype=float32, numpy=\n"
        "array([[ 2.,  4.,  6.],\n"
        "       [ 8., 10., 12.]], dtype=float32)>"
    )

    # In [34]
    out = v[0, 1].assign(42)
    assert repr(out) == (
        "<dtf.Variable 'UnreadVariable' shape=(2, 3) dtype=float32, numpy=\n"
        "array([[ 2., 42.,  6.],\n"
        "       [ 8., 10., 12.]], dtype=float32)>"
    )

    # In [35]
    out = v
    assert repr(out) == (
        "<dtf.Variable 'Variable:0' shape=(2, 3) dtype=float32, numpy=\n"
        "array([[ 2., 42.,  6.],\n"
        "       [ 8., 10., 12.]], dtype=float32)>"
    )

    # In [36]
    out = v.scatter_nd_update(indices=[[0, 0], [1, 2]], updates=[100., 200.])
    assert repr(out) == (
        "<dtf.Variable 'UnreadVariable' shape=(2, 3) dtype=float32, numpy=\n"
        "array([[100.,  42.,   6.],\n"
        "       [  8.,  10., 200.]], dtype=float32)>"
    )
    assert repr(v.numpy()) == (
        "array([[100.,  42.,   6.],\n"
        "       [  8.,  10., 200.]], dtype=float32)"
    )
