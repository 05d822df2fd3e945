"""dtf.random: TensorFlow's seed rules, distributions, dtypes, errors; dropout's statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dtf
from dtf.errors import InvalidArgumentError
from dtf.ops import random_ops

N = 100_000


@pytest.fixture(autouse=True)
def no_global_seed():
    dtf.random.set_seed(None)
    yield
    dtf.random.set_seed(None)


def u(shape=(4,), **kw):
    return dtf.random.uniform(shape, **kw).numpy()


# -- seed rules ---------------------------------------------------------------------------------
def test_no_seeds_gives_fresh_numbers():
    assert not np.array_equal(u(), u())
    dtf.random.set_seed(1)
    dtf.random.set_seed(None)
    assert not np.array_equal(u(), u())


def test_global_seed_makes_the_program_repeatable():
    dtf.random.set_seed(1234)
    first = [u(), dtf.random.normal([3]).numpy(), dtf.random.shuffle(dtf.range(10)).numpy()]
    dtf.random.set_seed(1234)
    again = [u(), dtf.random.normal([3]).numpy(), dtf.random.shuffle(dtf.range(10)).numpy()]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], u())  # the sequence moves on


def test_different_global_seeds_give_different_numbers():
    dtf.random.set_seed(1)
    a = u()
    dtf.random.set_seed(2)
    assert not np.array_equal(a, u())


def test_op_seed_without_global_seed_uses_the_default_global_seed():
    a, b = u(seed=1), u(seed=1)
    assert not np.array_equal(a, b)  # each call moves the op's counter on (TF, eager)
    dtf.random.set_seed(random_ops.DEFAULT_GRAPH_SEED)
    np.testing.assert_array_equal(u(seed=1), a)  # TF: the same first draw
    np.testing.assert_array_equal(u(seed=1), b)


def test_set_seed_none_resets_op_seed_counters():
    a = u(seed=7)
    u(seed=7)
    dtf.random.set_seed(None)
    np.testing.assert_array_equal(u(seed=7), a)


def test_both_seeds_deterministic_with_a_counter_per_op_seed():
    dtf.random.set_seed(1234)
    a1, a2 = u(seed=1), u(seed=1)
    assert not np.array_equal(a1, a2)
    dtf.random.set_seed(1234)
    np.testing.assert_array_equal(u(seed=1), a1)
    np.testing.assert_array_equal(u(seed=1), a2)
    dtf.random.set_seed(1234)
    assert not np.array_equal(u(seed=2), a1)


def test_counters_are_per_op_kind_and_dtype():
    dtf.random.set_seed(5)
    n_first = dtf.random.normal([3], seed=1).numpy()
    dtf.random.set_seed(5)
    u(seed=1)
    u(seed=1, dtype=dtf.float64)
    np.testing.assert_array_equal(dtf.random.normal([3], seed=1).numpy(), n_first)  # TF
    dtf.random.set_seed(5)
    f32 = u(seed=1)
    dtf.random.set_seed(5)
    u(seed=1, dtype=dtf.float64)
    np.testing.assert_array_equal(u(seed=1), f32)  # TF: float64 counts separately


def test_op_seeded_calls_do_not_move_the_global_sequence():
    dtf.random.set_seed(3)
    a = u()
    b = dtf.random.normal([2]).numpy()
    dtf.random.set_seed(3)
    np.testing.assert_array_equal(u(), a)
    u(seed=5)
    dtf.random.shuffle(dtf.range(4), seed=9)
    np.testing.assert_array_equal(dtf.random.normal([2]).numpy(), b)  # TF


def test_dropout_follows_the_seed_rules():
    x = dtf.ones([64])
    dtf.random.set_seed(11)
    a, b = dtf.nn.dropout(x, 0.5).numpy(), dtf.nn.dropout(x, 0.5, seed=2).numpy()
    dtf.random.set_seed(11)
    np.testing.assert_array_equal(dtf.nn.dropout(x, 0.5).numpy(), a)
    np.testing.assert_array_equal(dtf.nn.dropout(x, 0.5, seed=2).numpy(), b)


def test_dropout_mask_is_uniform_with_the_same_seed():
    # TensorFlow draws dropout's mask with random_uniform: same seeds, same numbers.
    dtf.random.set_seed(3)
    r = u(shape=(50,), seed=4)
    dtf.random.set_seed(3)
    y = dtf.nn.dropout(dtf.ones([50]), 0.3, seed=4).numpy()
    np.testing.assert_array_equal(y != 0, r >= np.float32(0.3))


def test_seed_argument_types():
    dtf.random.set_seed(np.int64(3))
    a = u()
    dtf.random.set_seed(3)
    np.testing.assert_array_equal(u(), a)
    dtf.random.set_seed(2**40)  # truncated to 31 bits, as TensorFlow
    with pytest.raises(TypeError, match="set_seed.*integer"):
        dtf.random.set_seed("a")
    with pytest.raises(TypeError, match="uniform.*integer"):
        dtf.random.uniform([2], seed=1.5)


# -- distributions ------------------------------------------------------------------------------
def test_normal_moments():
    x = dtf.random.normal([N], seed=1).numpy().astype(np.float64)
    assert abs(x.mean()) < 0.02 and abs(x.std() - 1) < 0.02
    y = dtf.random.normal([N], mean=3.0, stddev=0.5, seed=2).numpy().astype(np.float64)
    assert abs(y.mean() - 3) < 0.01 and abs(y.std() - 0.5) < 0.01


def test_normal_with_tensor_parameters_broadcasts():
    y = dtf.random.normal([2], mean=dtf.constant([[1.0], [2.0]]), stddev=0.0)
    assert y.shape == (2, 2) and y.numpy().tolist() == [[1, 1], [2, 2]]
    with pytest.raises(InvalidArgumentError, match=r"normal.*Incompatible shapes"):
        dtf.random.normal([2], mean=[1.0, 2.0, 3.0])


def test_uniform_float_range_and_moments():
    x = u((N,), seed=1).astype(np.float64)
    assert x.min() >= 0 and x.max() < 1
    assert abs(x.mean() - 0.5) < 0.01 and abs(x.var() - 1 / 12) < 0.005
    y = u((N,), minval=-2.0, maxval=6.0, seed=2).astype(np.float64)
    assert y.min() >= -2 and y.max() < 6 and abs(y.mean() - 2) < 0.05
    z = u((2,), minval=[0.0, 10.0], maxval=[1.0, 11.0])
    assert 0 <= z[0] < 1 and 10 <= z[1] < 11


def test_uniform_float16_stays_below_maxval():
    x = u((N,), dtype=dtf.float16, seed=3)
    assert x.dtype == np.float16 and x.min() >= 0 and x.max() < 1


def test_uniform_int_range_hits_every_value():
    x = dtf.random.uniform([N], minval=-3, maxval=4, dtype=dtf.int32, seed=1)
    assert x.dtype == dtf.int32
    v = x.numpy()
    assert set(v.tolist()) == set(range(-3, 4))
    counts = np.bincount(v + 3)
    np.testing.assert_allclose(counts / N, 1 / 7, atol=0.01)
    y = dtf.random.uniform([10], maxval=2**40, dtype="int64")
    assert y.dtype == dtf.int64 and y.numpy().min() >= 0


def test_truncated_normal_bounds_and_moments():
    x = dtf.random.truncated_normal([N], seed=1, dtype=dtf.float64).numpy()
    assert np.abs(x).max() <= 2.0
    assert abs(x.mean()) < 0.02
    # std of a standard normal truncated to [-2, 2]
    phi2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
    expected = math.sqrt(1 - 4 * phi2 / math.erf(2 / math.sqrt(2)))
    assert abs(x.std() - expected) < 0.01
    y = dtf.random.truncated_normal([N], mean=5.0, stddev=0.1, seed=2).numpy()
    assert np.abs(y - 5).max() <= 0.2 + 1e-6


def test_gradients_flow_to_distribution_parameters():
    mean, std = dtf.Variable(1.0), dtf.Variable(2.0)
    with dtf.GradientTape() as tape:
        z = dtf.random.normal([5], mean=mean, stddev=std, seed=1)
    g_mean, g_std = tape.gradient(z, [mean, std])
    assert float(g_mean) == 5.0
    np.testing.assert_allclose(float(g_std), float(dtf.reduce_sum((z - 1.0) / 2.0)), rtol=1e-5)
    lo = dtf.Variable(1.0)
    with dtf.GradientTape() as tape:
        y = dtf.random.uniform([4], minval=lo, maxval=3.0)
    assert tape.gradient(y, lo) is not None


def test_shuffle_is_a_permutation_of_rows():
    x = np.arange(40).reshape(20, 2)
    y = dtf.random.shuffle(x, seed=1).numpy()
    assert not np.array_equal(x, y)
    assert sorted(map(tuple, y.tolist())) == sorted(map(tuple, x.tolist()))
    assert all(r[1] == r[0] + 1 for r in y.tolist())  # rows move whole
    assert dtf.random.shuffle(dtf.constant(3)).numpy() == 3
    assert dtf.random.shuffle(dtf.zeros([0, 2])).shape == (0, 2)


def test_shuffle_has_no_gradient():
    x = dtf.constant([1.0, 2.0, 3.0])
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = dtf.random.shuffle(x * 2.0)
    assert tape.gradient(y, x) is None  # TF: None


def test_categorical_frequencies():
    probs = np.array([[0.1, 0.2, 0.7], [0.5, 0.0, 0.5]])
    with np.errstate(divide="ignore"):
        logits = np.log(probs).astype(np.float32)
    s = dtf.random.categorical(logits, N, seed=1)
    assert s.shape == (2, N) and s.dtype == dtf.int64
    for row, p in zip(s.numpy(), probs):
        np.testing.assert_allclose(np.bincount(row, minlength=3) / N, p, atol=0.01)
    assert not np.any(s.numpy()[1] == 1)  # probability 0 (-inf logit) is never drawn


def test_categorical_dtypes_and_shapes():
    s = dtf.random.categorical([[1.0, 2.0]], 2, dtype=dtf.int32)
    assert s.dtype == dtf.int32 and s.shape == (1, 2)
    assert dtf.random.categorical([[1.0, 2.0]], 0).shape == (1, 0)
    s = dtf.random.categorical([[-np.inf, 0.0, -np.inf]], 5)
    assert s.numpy().tolist() == [[1, 1, 1, 1, 1]]  # TF


def test_dropout_scales_kept_values_and_preserves_the_mean():
    x = dtf.fill([N], 3.0)
    y = dtf.nn.dropout(x, rate=0.3, seed=1).numpy().astype(np.float64)
    kept = y != 0
    np.testing.assert_allclose(y[kept], 3.0 / 0.7, rtol=1e-6)
    assert abs(kept.mean() - 0.7) < 0.01
    assert abs(y.mean() - 3.0) < 0.05


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_float_dtypes(dtype):
    for fn in (dtf.random.normal, dtf.random.uniform, dtf.random.truncated_normal):
        assert fn([3], dtype=dtype).dtype == dtf.as_dtype(dtype)
    assert dtf.nn.dropout(dtf.ones([3], dtype=dtype), 0.5).dtype == dtf.as_dtype(dtype)


def test_default_dtype_shape_forms_and_rank_zero():
    assert dtf.random.normal([2, 2]).dtype == dtf.float32
    assert dtf.random.normal((2, 2)).shape == (2, 2)
    assert dtf.random.normal(dtf.constant([2, 3])).shape == (2, 3)
    assert dtf.random.normal(dtf.TensorShape([4])).shape == (4,)
    s = dtf.random.normal([])
    assert s.shape == () and isinstance(float(s), float)
    assert dtf.random.uniform([0, 3]).shape == (0, 3)


# -- errors -------------------------------------------------------------------------------------
def test_argument_errors():
    with pytest.raises(ValueError, match="uniform.*maxval.*int32"):
        dtf.random.uniform([2], dtype=dtf.int32)
    with pytest.raises(InvalidArgumentError, match="uniform.*minval < maxval.*5 >= 5"):
        dtf.random.uniform([2], minval=5, maxval=5, dtype=dtf.int32)
    with pytest.raises(InvalidArgumentError, match="uniform.*minval must be 0-D"):
        dtf.random.uniform([2], minval=[1, 2], maxval=5, dtype=dtf.int32)
    with pytest.raises(TypeError):
        dtf.random.uniform([2], minval=1.5, maxval=3, dtype=dtf.int32)
    with pytest.raises(ValueError, match=r"uniform.*invalid value dtf.bool.*Accepted"):
        dtf.random.uniform([2], dtype=dtf.bool)
    with pytest.raises(TypeError, match="normal.*int32.*floating point"):
        dtf.random.normal([2], dtype=dtf.int32)
    with pytest.raises(InvalidArgumentError, match="normal.*complex64"):
        dtf.random.normal([2], dtype=dtf.complex64)
    with pytest.raises(InvalidArgumentError, match="normal.*vector.*3"):
        dtf.random.normal(3)
    with pytest.raises(InvalidArgumentError, match=r"normal.*-1 must be >= 0"):
        dtf.random.normal([-1])
    with pytest.raises(InvalidArgumentError, match="normal.*vector of ints"):
        dtf.random.normal([2.5])


def test_categorical_errors():
    with pytest.raises(InvalidArgumentError, match=r"categorical.*matrix.*\(2,\)"):
        dtf.random.categorical([1.0, 2.0], 2)
    with pytest.raises(InvalidArgumentError, match="categorical.*non-negative.*-1"):
        dtf.random.categorical([[1.0, 2.0]], -1)
    with pytest.raises(InvalidArgumentError, match="categorical.*num_classes.*positive"):
        dtf.random.categorical(dtf.zeros([2, 0]), 5)
    with pytest.raises(ValueError, match="categorical.*int16"):
        dtf.random.categorical([[1.0, 2.0]], 2, dtype=dtf.int16)
    with pytest.raises(InvalidArgumentError, match="categorical.*floating point.*int32"):
        dtf.random.categorical([[1, 2]], 2)


# -- stateless ops ------------------------------------------------------------------------------
def test_stateless_ops_depend_on_the_seed_only():
    a = dtf.random.stateless_normal([5], seed=[1, 2]).numpy()
    dtf.random.set_seed(99)
    np.testing.assert_array_equal(dtf.random.stateless_normal([5], seed=[1, 2]).numpy(), a)
    assert not np.array_equal(dtf.random.stateless_normal([5], seed=[1, 3]).numpy(), a)
    x = dtf.random.stateless_uniform([1000], seed=[3, 4], minval=2, maxval=5, dtype=dtf.int32)
    assert set(x.numpy().tolist()) == {2, 3, 4}
    t = dtf.random.stateless_truncated_normal([1000], seed=[5, 6]).numpy()
    assert np.abs(t).max() <= 2
    with pytest.raises(InvalidArgumentError, match=r"stateless_normal.*shape \[2\]"):
        dtf.random.stateless_normal([2], seed=[1, 2, 3])


# -- the device seam ----------------------------------------------------------------------------
def test_registered_generator_is_used_for_its_array_module():
    seen = []

    def factory(entropy):
        seen.append(entropy)
        return random_ops._numpy_generator(entropy)

    random_ops.register_generator(np, factory)
    try:
        dtf.random.set_seed(8)
        dtf.random.normal([2], seed=3)
        dtf.random.shuffle(dtf.range(3))
    finally:
        random_ops._generator_factories.pop(np, None)
    assert len(seen) == 2 and seen[0][0] == 8


def test_random_primitives_are_marked_stateful_for_graph_passes():
    from dtf.ops import registry

    stateful = {n for n, p in registry.all_primitives().items() if p.stateful}
    assert {"random_shuffle", "categorical", "dropout", "random_draw"} <= stateful


# -- random ops in traced functions ------------------------------------------------------------
@pytest.mark.parametrize("op_seed", [None, 4])
def test_a_traced_function_draws_fresh_numbers_on_every_call(op_seed):
    """As eager calls under the same set_seed: a random op in a trace is a node that draws when
    the graph runs, not a constant drawn at trace time."""
    fn = dtf.function(lambda: (dtf.random.normal([3], seed=op_seed),
                               dtf.random.uniform([4], 0, 50, dtype=dtf.int32, seed=op_seed)))
    dtf.random.set_seed(2024)
    traced = [[t.numpy() for t in fn()] for _ in range(3)]
    dtf.random.set_seed(2024)
    eager = [[dtf.random.normal([3], seed=op_seed).numpy(),
              dtf.random.uniform([4], 0, 50, dtype=dtf.int32, seed=op_seed).numpy()]
             for _ in range(3)]
    assert not np.array_equal(traced[0][0], traced[1][0])
    for t, e in zip(traced, eager):
        np.testing.assert_array_equal(t[0], e[0])
        np.testing.assert_array_equal(t[1], e[1])
    assert fn.experimental_get_tracing_count() == 1


def test_a_trace_keeps_the_eager_sequence_around_eager_draws_it_makes():
    """A random op traced between two eager draws (a layer building its weights in
    init_scope) takes its first numbers from where the trace met it, as the eager call would."""
    def step():
        with dtf.init_scope():
            before = dtf.random.uniform([2])
        noise = dtf.random.normal([2])
        with dtf.init_scope():
            after = dtf.random.uniform([2])
        return before, noise, after

    dtf.random.set_seed(5)
    eager_first = [t.numpy() for t in step()]
    eager_next = dtf.random.normal([2]).numpy()
    dtf.random.set_seed(5)
    traced = dtf.function(lambda: step()[1])
    first = traced().numpy()
    np.testing.assert_array_equal(first, eager_first[1])
    np.testing.assert_array_equal(traced().numpy(), eager_next)
