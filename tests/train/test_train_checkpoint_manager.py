"""dtf.train.CheckpointManager and latest_checkpoint: numbering, max_to_keep, recovered
state, intervals, and the TensorFlow guide's training loop that resumes after a restart."""

import os

import numpy as np
import pytest

import dtf
import dtf.train
from dtf import keras
from dtf.train import checkpoint_management

CheckpointManager = dtf.train.CheckpointManager


def _files(directory):
    return sorted(os.listdir(directory))


def test_max_to_keep_deletes_the_oldest(tmp_path):
    ckpt = dtf.train.Checkpoint(v=dtf.Variable(0.0))
    manager = CheckpointManager(ckpt, tmp_path, max_to_keep=2)
    assert manager.latest_checkpoint is None and manager.checkpoints == []
    paths = []
    for i in range(5):
        ckpt.v.assign(float(i))
        paths.append(manager.save())
    assert [os.path.basename(p) for p in paths] == [f"ckpt-{i}" for i in range(1, 6)]
    assert manager.checkpoints == paths[-2:]
    assert manager.latest_checkpoint == paths[-1]
    assert _files(tmp_path) == ["checkpoint", "ckpt-4.data-00000-of-00001", "ckpt-4.index",
                                "ckpt-5.data-00000-of-00001", "ckpt-5.index"]
    state = dtf.train.get_checkpoint_state(tmp_path)
    assert state.model_checkpoint_path == paths[-1]
    assert state.all_model_checkpoint_paths == paths[-2:]
    assert len(state.all_model_checkpoint_timestamps) == 2
    assert dtf.train.latest_checkpoint(tmp_path) == paths[-1]
    assert float(dtf.train.load_variable(paths[-1], "v")) == 4.0


def test_a_new_manager_recovers_the_folder(tmp_path):
    ckpt = dtf.train.Checkpoint(v=dtf.Variable(0.0))
    first = CheckpointManager(ckpt, tmp_path, max_to_keep=3)
    for _ in range(3):
        first.save()
    restarted = dtf.train.Checkpoint(v=dtf.Variable(0.0))
    second = CheckpointManager(restarted, tmp_path, max_to_keep=3)
    assert second.checkpoints == first.checkpoints
    assert second.latest_checkpoint == first.latest_checkpoint
    assert second.restore_or_initialize() == first.latest_checkpoint
    assert os.path.basename(second.save()) == "ckpt-4"  # the restored save_counter goes on
    assert [os.path.basename(p) for p in second.checkpoints] == ["ckpt-2", "ckpt-3", "ckpt-4"]
    assert "ckpt-1.index" not in _files(tmp_path)


def test_max_to_keep_none_keeps_everything(tmp_path):
    manager = CheckpointManager(dtf.train.Checkpoint(v=dtf.Variable(0.0)), tmp_path,
                                max_to_keep=None)
    for _ in range(4):
        manager.save()
    assert len(manager.checkpoints) == 4
    assert len([f for f in _files(tmp_path) if f.endswith(".index")]) == 4


def test_explicit_numbers_and_overwrites(tmp_path):
    ckpt = dtf.train.Checkpoint(v=dtf.Variable(0.0))
    manager = CheckpointManager(ckpt, tmp_path, max_to_keep=2, checkpoint_name="model")
    assert os.path.basename(manager.save(checkpoint_number=100)) == "model-100"
    assert os.path.basename(manager.save(checkpoint_number=dtf.Variable(7))) == "model-7"
    again = manager.save(checkpoint_number=100)  # overwritten: becomes the newest
    assert [os.path.basename(p) for p in manager.checkpoints] == ["model-7", "model-100"]
    assert manager.latest_checkpoint == again
    assert int(ckpt.save_counter.numpy()) == 3


def test_checkpoint_interval(tmp_path):
    step = dtf.Variable(0, dtype="int64")
    manager = CheckpointManager(dtf.train.Checkpoint(step=step), tmp_path, max_to_keep=5,
                                step_counter=step, checkpoint_interval=10)
    saved = []
    for _ in range(25):
        step.assign_add(1)
        path = manager.save()
        if path is not None:
            saved.append(os.path.basename(path))
    assert saved == ["ckpt-1", "ckpt-11", "ckpt-21"]
    assert os.path.basename(manager.save(check_interval=False)) == "ckpt-25"


def test_keep_checkpoint_every_n_hours(tmp_path, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(checkpoint_management.time, "time", lambda: clock[0])
    manager = CheckpointManager(dtf.train.Checkpoint(v=dtf.Variable(0.0)), tmp_path,
                                max_to_keep=1, keep_checkpoint_every_n_hours=1)
    for _ in range(4):
        clock[0] += 1800.0  # half an hour between saves
        manager.save()
    # ckpt-2 was an hour after the start: preserved on disk, no longer managed
    assert [os.path.basename(p) for p in manager.checkpoints] == ["ckpt-4"]
    indexes = [f for f in _files(tmp_path) if f.endswith(".index")]
    assert indexes == ["ckpt-2.index", "ckpt-4.index"]


def test_restore_or_initialize_calls_init_fn(tmp_path):
    calls = []
    manager = CheckpointManager(dtf.train.Checkpoint(v=dtf.Variable(0.0)), tmp_path,
                                max_to_keep=1, init_fn=lambda: calls.append(1))
    assert manager.restore_or_initialize() is None and calls == [1]


def test_argument_checks(tmp_path):
    ckpt = dtf.train.Checkpoint(v=dtf.Variable(0.0))
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="max_to_keep"):
            CheckpointManager(ckpt, tmp_path, max_to_keep=bad)
    with pytest.raises(ValueError, match="step_counter"):
        CheckpointManager(ckpt, tmp_path, max_to_keep=1, checkpoint_interval=5)
    with pytest.raises(TypeError, match="dtf.train.Checkpoint"):
        CheckpointManager(object(), tmp_path, max_to_keep=1)


def test_latest_checkpoint_edge_cases(tmp_path):
    assert dtf.train.latest_checkpoint(tmp_path) is None
    assert dtf.train.latest_checkpoint(tmp_path / "missing") is None
    path = dtf.train.Checkpoint(v=dtf.Variable(0.0)).save(tmp_path / "c")
    os.remove(path + ".index")  # the state names a checkpoint that is gone
    assert dtf.train.latest_checkpoint(tmp_path) is None
    (tmp_path / "checkpoint").write_text("this is not a state file\n")
    with pytest.warns(UserWarning, match="not a checkpoint state file"):
        assert dtf.train.latest_checkpoint(tmp_path) is None


def test_state_file_with_absolute_paths_elsewhere(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    path = dtf.train.Checkpoint(v=dtf.Variable(0.0)).write(elsewhere / "c-9")
    checkpoint_management.update_checkpoint_state(tmp_path / "state", path)
    assert f'"{path}"' in (tmp_path / "state" / "checkpoint").read_text()
    assert dtf.train.latest_checkpoint(tmp_path / "state") == path


# -- the TensorFlow guide's loop ("Training checkpoints"), restarted ---------------------------
class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.l1 = keras.layers.Dense(5)

    def call(self, x):
        return self.l1(x)


def _toy_batches():
    inputs = np.arange(10, dtype="float32")[:, None]
    labels = inputs * 5.0 + np.arange(5, dtype="float32")[None, :]
    while True:
        for start in range(0, 10, 2):
            yield inputs[start:start + 2], labels[start:start + 2]


def _train_and_checkpoint(directory, steps, log):
    net, optimizer = Net(), keras.optimizers.Adam(0.1)
    ckpt = dtf.train.Checkpoint(step=dtf.Variable(1), optimizer=optimizer, net=net)
    manager = CheckpointManager(ckpt, directory, max_to_keep=3)
    ckpt.restore(manager.latest_checkpoint)
    log.append(("restored", manager.latest_checkpoint))
    batches = _toy_batches()
    for _ in range(steps):
        x, y = next(batches)
        with dtf.GradientTape() as tape:
            loss = dtf.reduce_mean(dtf.abs(net(x) - y))
        variables = net.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        ckpt.step.assign_add(1)
        if int(ckpt.step.numpy()) % 10 == 0:
            log.append((int(ckpt.step.numpy()), os.path.basename(manager.save()),
                        float(loss.numpy())))
    return net, optimizer


def test_guide_training_loop_resumes_after_restart(tmp_path):
    log = []
    _train_and_checkpoint(tmp_path, 50, log)
    _, optimizer = _train_and_checkpoint(tmp_path, 50, log)
    assert log[0] == ("restored", None)
    assert log[6] == ("restored", str(tmp_path / "ckpt-5"))
    assert [entry[:2] for entry in log[1:6] + log[7:]] == \
        [(10 * i, f"ckpt-{i}") for i in range(1, 11)]
    losses = [entry[2] for entry in log if len(entry) == 3]
    assert losses[5] < losses[4]  # the restarted run goes on from the restored state
    assert int(optimizer.iterations.numpy()) == 99  # 49 steps before ckpt-5, then 50
    assert [os.path.basename(p) for p in CheckpointManager(
        dtf.train.Checkpoint(), tmp_path, max_to_keep=3).checkpoints] == \
        ["ckpt-8", "ckpt-9", "ckpt-10"]
