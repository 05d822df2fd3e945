"""The parameter server's protocol in one process: sync averaging equals the global batch,
duplicates and replays are rejected and counted, async and bounded staleness, versioned pulls,
concurrent pushes."""

import threading

import numpy as np
import pytest
from dtf.cluster.parameter_server import ParameterServer, Push

import dtf
from dtf import keras

RNG = np.random.default_rng(0)


def _grads_of(w, x, y):
    """The gradient of the mean squared error of x @ w against y (the per-shard mean)."""
    wv = dtf.Variable(w)
    with dtf.GradientTape() as tape:
        loss = dtf.reduce_mean((dtf.matmul(dtf.constant(x), wv) - dtf.constant(y)) ** 2)
    return tape.gradient(loss, wv).numpy()


def test_sync_step_equals_one_process_on_the_global_batch():
    w0 = RNG.normal(size=(3, 1)).astype("float32")
    x = RNG.normal(size=(10, 3)).astype("float32")
    y = RNG.normal(size=(10, 1)).astype("float32")
    ps = ParameterServer({"w": w0}, keras.optimizers.Adam(0.1), num_workers=2)
    single = dtf.Variable(w0)
    opt = keras.optimizers.Adam(0.1)
    for step in range(3):
        w = ps.pull()[0]["w"]
        shards = [(x[:4], y[:4]), (x[4:], y[4:])]  # unequal shards: weights 4 and 6
        assert ps.push(0, step, 4, {"w": _grads_of(w, *shards[0])}) is Push.PENDING
        assert ps.push(1, step, 6, {"w": _grads_of(w, *shards[1])}) is Push.APPLIED
        opt.apply_gradients([(dtf.constant(_grads_of(single.numpy(), x, y)), single)])
        np.testing.assert_allclose(ps.pull()[0]["w"], single.numpy(), rtol=1e-5, atol=1e-6)
    assert ps.applied_steps == 3 and ps.duplicates == 0


def test_duplicate_and_replayed_pushes_are_rejected_and_counted():
    ps = ParameterServer({"w": np.zeros(2, np.float32)}, keras.optimizers.SGD(1.0),
                         num_workers=2)
    g = {"w": np.ones(2, np.float32)}
    assert ps.push(0, 0, 1, g) is Push.PENDING
    assert ps.push(0, 0, 1, g) is Push.DUPLICATE  # the same worker again, before the step ran
    assert ps.push(1, 0, 1, g) is Push.APPLIED
    assert ps.push(1, 0, 1, g) is Push.DUPLICATE  # after
    np.testing.assert_array_equal(ps.pull()[0]["w"], [-1.0, -1.0])  # applied exactly once
    assert ps.duplicates == 2 and ps.applied_steps == 1


def test_async_applies_each_push_and_bounded_makes_the_fast_worker_wait():
    ps = ParameterServer({"w": np.zeros(1, np.float32)}, keras.optimizers.SGD(1.0),
                         num_workers=2, mode="async")
    for step in range(3):
        assert ps.push(0, step, 1, {"w": np.ones(1, np.float32)}) is Push.APPLIED
    assert float(ps.pull()[0]["w"][0]) == -3.0
    bounded = ParameterServer({"w": np.zeros(1, np.float32)}, keras.optimizers.SGD(1.0),
                              num_workers=2, mode="bounded", max_staleness=1)
    g = {"w": np.ones(1, np.float32)}
    assert bounded.push(0, 0, 1, g) is Push.APPLIED
    assert bounded.push(0, 1, 1, g) is Push.APPLIED  # one step ahead of worker 1's step 0
    assert bounded.push(0, 2, 1, g) is Push.WAIT  # two ahead: waits for the slowest
    assert bounded.push(1, 0, 1, g) is Push.APPLIED
    assert bounded.push(0, 2, 1, g) is Push.APPLIED
    with pytest.raises(ValueError, match="max_staleness"):
        ParameterServer({}, keras.optimizers.SGD(), num_workers=1, mode="bounded")


def test_pull_returns_only_what_changed_and_assign_versions_state():
    ps = ParameterServer({"w": np.zeros(2, np.float32), "mean": np.zeros(2, np.float32)},
                         keras.optimizers.SGD(1.0), num_workers=1,
                         trainable={"mean": False})
    values, versions = ps.pull()
    assert set(values) == {"w", "mean"}
    ps.push(0, 0, 1, {"w": np.ones(2, np.float32)})
    values, versions = ps.pull(versions)
    assert set(values) == {"w"} and versions == {"w": 1}
    ps.assign({"mean": np.full(2, 3.0, np.float32)})
    values, _ = ps.pull({"w": 1, "mean": 0})
    assert set(values) == {"mean"}
    with pytest.raises(KeyError, match="unknown variables"):
        ps.push(0, 1, 1, {"bias": np.ones(1)})
    with pytest.raises(ValueError, match="not one of the 1 workers"):
        ps.push(3, 1, 1, {"w": np.ones(2)})


def test_concurrent_sync_pushes_apply_every_step_once():
    workers, steps = 4, 25
    ps = ParameterServer({"w": np.zeros(3, np.float32)}, keras.optimizers.SGD(0.1),
                         num_workers=workers)

    def run(worker):
        for step in range(steps):
            ps.push(worker, step, 1, {"w": np.full(3, worker + 1.0, np.float32)})

    threads = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ps.applied_steps == steps and ps.duplicates == 0
    np.testing.assert_allclose(ps.pull()[0]["w"], np.full(3, -0.1 * 2.5 * steps), rtol=1e-5)
