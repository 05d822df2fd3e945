"""The tensor, variable and gradient examples of the seed documents, run under dtf.

The code of each example is the seeds' own with `import tensorflow as tf` changed to
`import dtf as tf`. Where a seed shows a notebook cell's value rather than printing it, this
script prints the `repr` the notebook would have shown. Random values differ from run to run,
as in the seeds; everything else should match what the seeds show.

Run it with `./scripts/demo`, or `.venv/bin/python scripts/examples/tensors_and_gradients.py`.
"""

import numpy as np

import dtf as tf


def heading(title):
    print()
    print(f"--- {title} ---")


def show(value):
    """Prints a value the way a notebook cell displays it."""
    print(repr(value))


# ---------------------------------------------------------------------------------------------
# Tensors (seeds 000 and 004, "Introduction to Keras for researchers")

heading("A constant tensor")
x = tf.constant([[5, 2], [1, 3]])
print(x)
print(x.numpy())
print("dtype:", x.dtype)
print("shape:", x.shape)

heading("tf.ones and tf.zeros")
print(tf.ones(shape=(2, 1)))
print(tf.zeros(shape=(2, 1)))

heading("Random constant tensors")
x = tf.random.normal(shape=(2, 2), mean=0.0, stddev=1.0)
print(x)
x = tf.random.uniform(shape=(2, 2), minval=0, maxval=10, dtype="int32")
print(x)

# ---------------------------------------------------------------------------------------------
# Tensors and operations, tensors and NumPy, type conversions (seed 002)

heading("Tensors and operations")
show(tf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))  # matrix
show(tf.constant(42))
t = tf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
show(t.shape)
show(t.dtype)
show(t[:, 1])  # indexing like NumPy
show(t + 10)
show(tf.square(t))
show(tf.transpose(t))
show(t @ tf.transpose(t))

heading("Tensors and NumPy")
a = np.array([2.0, 4.0, 5.0])
show(tf.constant(a))
show(t.numpy())
show(tf.square(a))
show(np.square(t))

heading("Type conversions")
try:
    tf.constant(2.0) + tf.constant(40)
except tf.errors.InvalidArgumentError as error:
    print("InvalidArgumentError:", error)
show(tf.constant(2.0) + tf.cast(tf.constant(40), tf.float32))

# ---------------------------------------------------------------------------------------------
# Tensors are constants; math like NumPy (seeds 001 and 004)

heading("Tensors cannot be assigned to")
x = np.ones(shape=(2, 2))
x[0, 0] = 0.0  # this is fine for a NumPy array
x = tf.ones(shape=(2, 2))
try:
    x[0, 0] = 0.0
except TypeError as error:
    print("TypeError:", error)

heading("Doing math")
a = tf.ones((2, 2))
b = tf.square(a)  # square of a tensor, element-wise
c = tf.sqrt(a)  # square root of a tensor, element-wise
d = b + c  # element-wise addition
e = tf.matmul(a, b)  # tensor product
e *= d  # element-wise multiplication
print(e)

a = tf.random.normal(shape=(2, 2))
b = tf.random.normal(shape=(2, 2))
c = a + b
d = tf.square(c)
e = tf.exp(d)
print(e)

# ---------------------------------------------------------------------------------------------
# Variables (seeds 000, 004, 001 and 002)

heading("A Variable")
initial_value = tf.random.normal(shape=(2, 2))
a = tf.Variable(initial_value)
print(a)

heading("assign and assign_add")
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
print("a[i, j] == new_value[i, j] + added_value[i, j] for every i, j")

heading("assign a whole value, then one element")
v = tf.Variable(initial_value=tf.random.normal(shape=(3, 1)))
show(v.numpy())
v.assign(tf.ones((3, 1)))
show(v.numpy())
v[0, 0].assign(3.0)
show(v.numpy())

heading("assign, sliced assign, scatter_nd_update")
v = tf.Variable([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
show(v)
show(v.assign(2 * v))
show(v)
show(v[0, 1].assign(42))
show(v)
show(v.scatter_nd_update(indices=[[0, 0], [1, 2]], updates=[100.0, 200.0]))

# ---------------------------------------------------------------------------------------------
# Gradients (seeds 000 and 004)

heading("Gradient of a watched tensor")
a = tf.random.normal(shape=(2, 2))
b = tf.random.normal(shape=(2, 2))

with tf.GradientTape() as tape:
    tape.watch(a)  # Start recording the history of operations applied to `a`
    c = tf.sqrt(tf.square(a) + tf.square(b))  # Do some math using `a`
    # What's the gradient of `c` with respect to `a`?
    dc_da = tape.gradient(c, a)
    print(dc_da)

heading("Variables are watched automatically")
a = tf.Variable(a)

with tf.GradientTape() as tape:
    c = tf.sqrt(tf.square(a) + tf.square(b))
    dc_da = tape.gradient(c, a)
    print(dc_da)

heading("Second-order derivatives with nested tapes")
# Seed 004's version, with `a` a Variable. Seed 000 runs it with `a` a plain tensor that no
# tape watches, so the inner gradient is None and TensorFlow fails on the outer one.
with tf.GradientTape() as outer_tape:
    with tf.GradientTape() as tape:
        c = tf.sqrt(tf.square(a) + tf.square(b))
        dc_da = tape.gradient(c, a)
    d2c_da2 = outer_tape.gradient(dc_da, a)
    print(d2c_da2)

# ---------------------------------------------------------------------------------------------
# Gradients (seed 001)

heading("Gradient of x^2 at x = 3")
x = tf.Variable(3.0)
with tf.GradientTape() as tape:
    y = tf.square(x)
dy_dx = tape.gradient(y, x)  # derivative of y = x^2 at x = 3 is 6
print(dy_dx)

heading("A watched constant")
input_const = tf.constant(3.0)
with tf.GradientTape() as tape:
    tape.watch(input_const)
    result = tf.square(input_const)
gradient = tape.gradient(result, input_const)
print(gradient)

heading("Second-order gradient: speed and acceleration")
time = tf.Variable(0.0)
with tf.GradientTape() as outer_tape:
    with tf.GradientTape() as inner_tape:
        position = 4.9 * time**2
    speed = inner_tape.gradient(position, time)
acceleration = outer_tape.gradient(speed, time)
print("speed:", speed)
print("acceleration:", acceleration)

# ---------------------------------------------------------------------------------------------
# Automatic differentiation (seed 003)

heading("Sensitivity of L(w) = 4w + w^3 at w = 1")
w = tf.Variable(1.0)

with tf.GradientTape() as g:
    L = 4 * w + w**3

gradL_w = g.gradient(L, w)
# The seed's label says "at w = 2", but w is 1 there (4 + 3 * 1^2 = 7); the label is fixed here.
print("gradient of L w.r.t. w at w = 1 is", gradL_w)

heading("Sensitivity of L(w1, w2) = w1 + w2^2 at w1 = 1, w2 = 2")
w1 = tf.Variable(1.0)
w2 = tf.Variable(2.0)

with tf.GradientTape() as g:
    L = w1 + w2**2

gradL_w1, gradL_w2 = g.gradient(L, [w1, w2])
print("gradL_w1 = ", gradL_w1.numpy(), "; gradL_w2 = ", gradL_w2.numpy())

heading("Only trainable Variables are sources: None for the others")
# Independent variable
w1 = tf.Variable(1.0, name="w1")

# A tf.constant is not a variable
c1 = tf.constant(-2.0, name="c1")

# Constant because we specify trainable = False
c2 = tf.Variable(-1.0, name="c2", trainable=False)

# variable + tensor returns a tensor. So c3 is not a tf.Variable.
c3 = tf.Variable(1.0, name="c3") + 1.0

# A variable but not used to compute y
alpha = tf.Variable(0.0, name="alpha")

with tf.GradientTape() as g:
    L = (w1 + c1) ** 2 + (c2**3) + 4 * c3

grad = g.gradient(L, [w1, c1, c2, c3, alpha])

for dw in grad:
    print(dw)

heading("watch: L(w) = w^4 at w = -3")
w = tf.constant(-3.0)

with tf.GradientTape() as g:
    g.watch(w)
    L = w**4

print(g.gradient(L, w))

heading("A vector variable: L(w) = w[0]^2 + w[1]^2")
w = tf.Variable([1, -3.0])
with tf.GradientTape() as g:
    L = tf.math.reduce_sum(w**2)  # this means L = w[0]^2 + w[1]^2

print(w.numpy())
print(L.numpy())  # w[0]^2 + w[1]^2 = 1 + 9 = 10
print(g.gradient(L, w))  # (2w[0], 2w[1]) = (2,-6)

heading("A list of targets: the gradients are summed")
w = tf.Variable(-1.0)
with tf.GradientTape() as g:
    L = [2 * w, w**4]

print([L[i].numpy() for i in range(2)])  # [-2,1]
print(g.gradient(L, w))  # 2 + 4w^3 = 2 - 4 = -2

heading("A persistent tape")
w1 = tf.Variable([1, -3.0])
with tf.GradientTape(persistent=True) as g:
    w2 = 2 * w1
    L = w2**2

print(w1.numpy())
print(w2.numpy())
print(g.gradient(w2, w1))  # [2, 2]
print(g.gradient(L, w2))
del g  # release resources

heading("tanh and its gradient over tf.linspace(-10, 10, 129)")
w = tf.linspace(-10.0, 10.0, 129)  # A tf.Tensor, not a tf.Variable

with tf.GradientTape() as g:
    g.watch(w)
    L = tf.math.tanh(w)

gradL_w = g.gradient(L, w)

# The seed plots these curves; a few of their points are printed instead.
print(f"{'w':>8} {'L':>10} {'gradL_w':>10}")
for w_i, L_i, grad_i in zip(w.numpy()[::16], L.numpy()[::16], gradL_w.numpy()[::16]):
    print(f"{w_i:8.3f} {L_i:10.6f} {grad_i:10.6f}")
