"""Prints what TensorFlow 2.21 gives for the cases in test_ragged.py. Run it with the reference
install (`/tmp/tfvenv/bin/python tests/ragged/make_reference.py`); the expected values in the
tests were copied from its output. The tests never import it or TensorFlow."""

import numpy as np
import tensorflow as tf


def show(label, make):
    try:
        print(label, repr(make()))
    except (tf.errors.InvalidArgumentError, ValueError, IndexError) as error:
        print(label, type(error).__name__, "|", str(error)[:300])


rt = tf.ragged.constant([[3, 1, 4, 1], [], [5, 9, 2], [6], []])
show("repr", lambda: rt)
print("str", str(rt), rt.shape, rt.dtype, rt.ragged_rank)
show("numpy", rt.numpy)
print(rt.row_lengths(), rt.nrows(), rt.value_rowids(), rt.row_splits, rt.values)
print(rt.to_tensor(), rt.to_tensor(default_value=-1, shape=[3, 2]))
print(rt[2], rt[1:3], rt[-1])
show("rt[7]", lambda: rt[7])
r2 = tf.ragged.constant([[[1, 2], [3]], [[4]]])
print(repr(r2), r2.shape, r2.ragged_rank, r2.to_list(), r2.to_tensor(), r2.nested_row_splits)
r3 = tf.ragged.constant([[[1, 2], [3, 4]], [[5, 6]]], ragged_rank=1)
print(repr(r3), r3.shape, r3.flat_values.shape)
show("float", lambda: tf.ragged.constant([[1.5, 2.], [3.]]))
show("float64", lambda: tf.ragged.constant([[1, 2], [3]], dtype=tf.float64))
show("empty", lambda: tf.ragged.constant([[]]))
show("depth", lambda: tf.ragged.constant([[1, [2]]]))
show("ragged_rank", lambda: tf.ragged.constant([[1, 2], [3]], ragged_rank=2))
rf = tf.cast(rt, tf.float32)
for fn in [tf.reduce_sum, tf.reduce_mean, tf.reduce_max, tf.reduce_min]:
    for axis in [0, 1]:
        show(f"{fn.__name__} axis={axis}", lambda fn=fn, axis=axis: fn(rt, axis=axis))
    show(f"{fn.__name__} float32 axis=1", lambda fn=fn: fn(rf, axis=1))
show("reduce_sum all", lambda: tf.reduce_sum(rt))
show("reduce_sum r2 axis=1", lambda: tf.reduce_sum(r2, axis=1))
show("reduce_sum r3 axis=1", lambda: tf.reduce_sum(r3, axis=1))
show("concat", lambda: tf.concat([rt, rt[:2]], axis=0))
show("ops", lambda: (rt + 1, -rt, rt * rt, rt > 2, tf.ragged.map_flat_values(tf.square, rt)))
f = tf.ragged.constant([[1.0, 2.0], [3.0]])
show("eq", lambda: f == tf.ragged.constant([[1.0, 2.0], [3.0]]))
show("mismatch", lambda: rt * tf.ragged.constant([[1], [2]]))
R = tf.RaggedTensor
show("splits zero", lambda: R.from_row_splits([1, 2, 3], [1, 3]))
show("splits monotonic", lambda: R.from_row_splits([1, 2, 3], [0, 3, 2]))
show("splits nvals", lambda: R.from_row_splits([1, 2, 3], [0, 2]))
show("lengths nvals", lambda: R.from_row_lengths([1, 2, 3], [1, 1]))
show("lengths negative", lambda: R.from_row_lengths([1, 2, 3], [-1, 4]))
show("rowids unsorted", lambda: R.from_value_rowids([1, 2, 3], [0, 2, 1]))
show("rowids nrows", lambda: R.from_value_rowids([1, 2, 3], [0, 1, 1], nrows=1))
show("from_value_rowids", lambda: R.from_value_rowids([3, 1, 4, 1, 5], [0, 0, 2, 2, 3], nrows=5))
show("from_tensor padding", lambda: R.from_tensor([[1, 0, 0], [2, 3, 0]], padding=0))
show("from_tensor lengths", lambda: R.from_tensor([[1, 0, 0], [2, 3, 0]], lengths=[1, 3]))
show("nested", lambda: R.from_nested_row_splits([1, 2, 3, 4], ([0, 1, 3], [0, 2, 3, 4])))
x = tf.Variable([1.0, 2.0, 3.0])
with tf.GradientTape() as tape:
    y = tf.reduce_sum(tf.reduce_max(R.from_row_lengths(x, [2, 1]) ** 2, axis=1))
print("gradient", tape.gradient(y, x))
ds = tf.data.Dataset.from_tensor_slices(np.arange(6)).map(lambda x: tf.range(x))
print("ragged_batch", [repr(b) for b in ds.ragged_batch(4)])
print("drop_remainder", [repr(b) for b in ds.ragged_batch(4, drop_remainder=True)])
pairs = tf.data.Dataset.from_tensor_slices(np.arange(1, 4)).map(
    lambda n: (tf.ones([n, 2]), {"a": tf.range(n)}, n))
print("mixed", next(iter(pairs.ragged_batch(2))), pairs.ragged_batch(2).element_spec)
