"""Faults injected by killing real actor processes on a real local Ray cluster: a worker
SIGKILLed mid-epoch is replaced and takes over its shard, a parameter server SIGKILLed comes back
from its checkpoint, and in sync mode the result is the undisturbed run's with every step
applied exactly once; a restarted driver resumes from BackupAndRestore; a stalled worker is
reported by name and step; a server lost without checkpoints is a clear error."""

import os
import signal

import numpy as np
import pytest
from ps_helpers import X, Y, make_model, max_weight_difference, reference_fit

import dtf
from dtf import keras

PSS = dtf.distribute.ParameterServerStrategy
EPOCHS, BATCH = 3, 20  # 5 steps per epoch, 15 in all


def _pid(strategy, name_end):
    return next(i["pid"] for i in strategy.cluster_info() if i["name"].endswith(name_end))


class _KillAt(keras.callbacks.Callback):
    """SIGKILLs (or SIGSTOPs) an actor's process after batch `batch` of epoch `epoch`."""

    def __init__(self, strategy, name_end, epoch, batch, sig=signal.SIGKILL):
        super().__init__()
        self.strategy, self.name_end, self.at, self.sig = strategy, name_end, (epoch, batch), sig
        self.epoch = None
        self.pid = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at and self.pid is None:
            self.pid = _pid(self.strategy, self.name_end)
            os.kill(self.pid, self.sig)


def _run(strategy, callbacks, steps_per_execution=1):
    with strategy.scope():
        model = make_model(steps_per_execution=steps_per_execution)
    model.fit(X, Y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0,
              callbacks=callbacks)
    return model


@pytest.mark.parametrize("steps_per_execution", [1, 3])
def test_a_killed_worker_is_replaced_and_sync_training_is_exact(ray_cluster,
                                                                 steps_per_execution):
    reference, _ = reference_fit(epochs=EPOCHS, batch_size=BATCH)
    strategy = PSS(num_workers=2, cluster="ray", transport="ray", step_timeout_s=60)
    kill = _KillAt(strategy, ":worker:1", epoch=1, batch=1)
    model = _run(strategy, [kill], steps_per_execution)
    assert kill.pid is not None
    assert _pid(strategy, ":worker:1") != kill.pid  # a replacement process
    assert max_weight_difference(model, reference) < 1e-5
    stats = strategy._job.server_states()[0]
    assert stats["applied_steps"] == EPOCHS * 5  # no step lost, none applied twice
    strategy.shutdown()


@pytest.mark.parametrize("transport", ["ray", "grpc"])
def test_a_killed_parameter_server_is_restored_from_its_checkpoint(ray_cluster, tmp_path,
                                                                   transport):
    reference, _ = reference_fit(epochs=EPOCHS, batch_size=BATCH)
    strategy = PSS(num_workers=2, cluster="ray", transport=transport, step_timeout_s=60,
                   checkpoint_dir=str(tmp_path), checkpoint_every_steps=3)
    kill = _KillAt(strategy, ":ps:0", epoch=1, batch=3)
    model = _run(strategy, [kill])
    assert kill.pid is not None and _pid(strategy, ":ps:0") != kill.pid
    stats = strategy._job.server_states()[0]
    assert stats["restored_from"] is not None
    assert stats["applied_steps"] == EPOCHS * 5
    assert max_weight_difference(model, reference) < 1e-5
    strategy.shutdown()


def test_a_lost_parameter_server_without_checkpoints_is_a_clear_error(ray_cluster):
    strategy = PSS(num_workers=1, cluster="ray", transport="ray", step_timeout_s=30,
                   start_timeout_s=10)
    kill = _KillAt(strategy, ":ps:0", epoch=0, batch=1)
    with pytest.raises(RuntimeError, match="checkpoint_dir"):
        _run(strategy, [kill])
    strategy.shutdown()


def test_a_stalled_worker_is_reported_by_name_and_step(ray_cluster):
    strategy = PSS(num_workers=2, cluster="ray", transport="ray", step_timeout_s=4)
    stop = _KillAt(strategy, ":worker:0", epoch=0, batch=1, sig=signal.SIGSTOP)
    try:
        with pytest.raises(TimeoutError, match=r"worker:\d did not finish step \d+"):
            _run(strategy, [stop])
    finally:
        if stop.pid:
            os.kill(stop.pid, signal.SIGCONT)
        strategy.shutdown()


class _DriverCrash(Exception):
    pass


class _CrashAfterEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise _DriverCrash()


@pytest.mark.parametrize("num_ps", [1, 2])
def test_a_restarted_driver_resumes_from_backup_and_restore(tmp_path, num_ps):
    reference, _ = reference_fit(epochs=EPOCHS, batch_size=BATCH)
    backup = str(tmp_path / "backup")
    partitioner = dtf.distribute.experimental.partitioners.MinSizePartitioner(
        min_shard_bytes=64, max_shards=num_ps)

    def strategy():
        return PSS(num_workers=2, num_ps=num_ps, cluster="local",
                   variable_partitioner=partitioner)

    first = strategy()
    with pytest.raises(_DriverCrash):
        _run(first, [keras.callbacks.BackupAndRestore(backup), _CrashAfterEpoch()])
    first.shutdown()
    second = strategy()  # a new driver: new model, new servers; Adam's slots come back too
    epochs = []
    model = _run(second, [keras.callbacks.BackupAndRestore(backup),
                          keras.callbacks.LambdaCallback(
                              on_epoch_begin=lambda e, logs: epochs.append(e))])
    assert epochs == [2]
    assert max_weight_difference(model, reference) < 1e-5
    states = second._job.server_states()
    assert [s["applied_steps"] for s in states] == [5] * num_ps
    np.testing.assert_allclose(model.optimizer.get_weights()[2],
                               reference.optimizer.get_weights()[2], rtol=1e-5, atol=1e-7)


def test_a_worker_killed_during_a_custom_loop_reruns_its_functions_once(ray_cluster):
    from dtf.distribute.coordinator import ClusterCoordinator

    strategy = PSS(num_workers=2, cluster="ray", transport="ray", step_timeout_s=60)
    with strategy.scope():
        variable = dtf.Variable(np.zeros(3, np.float32))
        optimizer = keras.optimizers.SGD(1.0)

    def step():
        optimizer.apply_gradients([(dtf.ones(3), variable)])
        return 1.0

    coordinator = ClusterCoordinator(strategy)
    values = [coordinator.schedule(step) for _ in range(4)]
    values[0].fetch()
    os.kill(_pid(strategy, ":worker:1"), signal.SIGKILL)
    values += [coordinator.schedule(step) for _ in range(8)]
    coordinator.join()
    assert [v.fetch() for v in values] == [1.0] * 12
    iterations = strategy._job.servers[0].call("optimizer_slots").result(30)[0]
    assert int(iterations) == 12  # every scheduled update applied exactly once
    np.testing.assert_array_equal(variable.numpy(), np.full(3, -12.0))
    strategy.shutdown()
