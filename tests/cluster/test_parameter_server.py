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
    values, versions, generation = ps.pull()
    assert set(values) == {"w", "mean"}
    ps.push(0, 0, 1, {"w": np.ones(2, np.float32)})
    values, new_versions, _ = ps.pull(versions, generation=generation)
    assert set(values) == {"w"} and new_versions["w"] > versions["w"]
    versions.update(new_versions)
    ps.assign({"mean": np.full(2, 3.0, np.float32)})
    values, _, _ = ps.pull(versions, generation=generation)
    assert set(values) == {"mean"}
    # versions from another generation (before a restore) count for nothing: pull everything
    values, _, _ = ps.pull(versions, generation="another")
    assert set(values) == {"w", "mean"}
    with pytest.raises(KeyError, match="holds no variables named"):
        ps.push(0, 1, 1, {"bias": np.ones(1)})
    with pytest.raises(ValueError, match="not one of the 1 workers"):
        ps.push(3, 1, 1, {"w": np.ones(2)})


def test_sync_non_trainable_assigns_are_averaged_by_shard_size():
    ps = ParameterServer({"w": np.zeros(1, np.float32), "mean": np.zeros(2, np.float32)},
                         keras.optimizers.SGD(1.0), num_workers=2, trainable={"mean": False})
    ps.push(0, 0, 1, {"w": np.ones(1, np.float32)}, assigns={"mean": np.ones(2, np.float32)})
    ps.push(1, 0, 3, {"w": np.ones(1, np.float32)},
            assigns={"mean": np.full(2, 5.0, np.float32)})
    np.testing.assert_allclose(ps.pull()[0]["mean"], [4.0, 4.0])


def test_checkpoint_restore_goes_back_exactly_and_rejects_replays(tmp_path):
    def server():
        return ParameterServer({"w": np.zeros(2, np.float32)}, keras.optimizers.Adam(0.1),
                               num_workers=2, checkpoint_dir=str(tmp_path),
                               checkpoint_every=2)

    ps = server()
    g = {"w": np.ones(2, np.float32)}
    for step in range(3):
        ps.push(0, step, 1, g)
        ps.push(1, step, 1, g)
    ps.push(0, 3, 1, g)  # pending in step 3 when the "crash" comes
    at_two = None
    reborn = server()  # a server built on the directory starts from the newest checkpoint
    assert reborn.applied_steps == 2 and reborn.restored_from == 2
    replay = ParameterServer({"w": np.zeros(2, np.float32)}, keras.optimizers.Adam(0.1),
                             num_workers=2)
    for step in range(2):
        replay.push(0, step, 1, g)
        replay.push(1, step, 1, g)
    at_two = replay.pull()[0]["w"]
    np.testing.assert_array_equal(reborn.pull()[0]["w"], at_two)  # slots and step too:
    assert reborn.optimizer.iterations.numpy() == 2
    assert reborn.push(0, 1, 1, g) is Push.DUPLICATE  # applied before the checkpoint
    assert reborn.push(0, 2, 1, g) is Push.PENDING  # after it: replayed, applied once
    assert reborn.push(1, 2, 1, g) is Push.APPLIED
    assert reborn.generation != ps.generation


def test_restore_wakes_a_pull_waiting_for_a_step(tmp_path):
    ps = ParameterServer({"w": np.zeros(1, np.float32)}, keras.optimizers.SGD(1.0),
                         num_workers=2, checkpoint_dir=str(tmp_path))
    ps.save_checkpoint()
    errors = []

    def wait():
        try:
            ps.pull(after_step=1, timeout_s=30)
        except RuntimeError as e:
            errors.append(e)

    thread = threading.Thread(target=wait)
    thread.start()
    ps.restore()
    thread.join(10)
    assert not thread.is_alive() and "restored" in str(errors[0])


def test_custom_loop_updates_apply_once_and_add_deltas():
    ps = ParameterServer({"w": np.zeros(2, np.float32), "count": np.zeros((), np.float32)},
                         keras.optimizers.SGD(1.0), num_workers=2, trainable={"count": False})
    g = {"w": np.ones(2, np.float32)}
    assert ps.apply_update(0, 0, g, {"count": np.float32(1)})
    assert ps.apply_update(1, 0, g, {"count": np.float32(1)})
    assert not ps.apply_update(0, 0, g, {"count": np.float32(1)})  # replayed: ignored
    values = ps.pull()[0]
    np.testing.assert_array_equal(values["w"], [-2.0, -2.0])
    assert float(values["count"]) == 2.0 and ps.duplicates == 1


def test_stats_count_memory_within_variables_slots_and_pending_sums():
    ps = ParameterServer({"w": np.zeros((100, 10), np.float32)}, keras.optimizers.Adam(),
                         num_workers=3)
    ps.push(0, 0, 4, {"w": np.ones((100, 10), np.float32)})
    ps.push(1, 0, 4, {"w": np.ones((100, 10), np.float32)})
    stats = ps.stats()
    assert stats["variable_bytes"] == 4000
    assert stats["pending_bytes"] == 4000  # one running sum, not one buffer per worker
    assert stats["slot_bytes"] >= 8000


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


@pytest.mark.parametrize("mode,bound", [("bounded", 2), ("async", None)])
def test_staleness_bound_observed_with_a_slow_worker(mode, bound):
    import time

    ps = ParameterServer({"w": np.zeros(1, np.float32)}, keras.optimizers.SGD(0.01),
                         num_workers=3, mode=mode, max_staleness=bound)
    steps = 20

    def run(worker, delay):
        for step in range(steps):
            time.sleep(delay)
            while ps.push(worker, step, 1, {"w": np.ones(1, np.float32)}) is Push.WAIT:
                time.sleep(0.001)

    threads = [threading.Thread(target=run, args=(w, d))
               for w, d in enumerate([0.0, 0.0, 0.01])]  # worker 2 is slow
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = ps.stats()
    assert stats["applied_steps"] == 3 * steps
    if mode == "bounded":
        assert stats["max_lead"] <= bound and stats["waits"] > 0
    else:
        assert stats["max_lead"] > 5  # unbounded: the fast workers ran far ahead
