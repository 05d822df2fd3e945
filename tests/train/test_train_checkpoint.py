"""dtf.train.Checkpoint: round trips, deferred restoration, load statuses, bad input."""

import gc
import json
import os

import numpy as np
import pytest

import dtf
import dtf.train
from dtf import errors, keras

Checkpoint = dtf.train.Checkpoint


class Net(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.l1 = keras.layers.Dense(5)
        self.blocks = [keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)]

    def call(self, x):
        x = self.l1(x)
        for block in self.blocks:
            x = block(x)
        return x


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(6, 4)).astype("float32"), rng.normal(size=(6, 2)).astype("float32")


def _step(net, optimizer, x, y):
    with dtf.GradientTape() as tape:
        loss = dtf.reduce_mean(dtf.abs(net(x) - y))
    variables = net.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return float(loss.numpy())


def _values(net, optimizer):
    return [w.copy() for w in net.get_weights()] + [v.numpy().copy()
                                                    for v in optimizer.variables]


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def _trained(steps=3):
    x, y = _data()
    net, optimizer = Net(), keras.optimizers.Adam(0.05)
    for _ in range(steps):
        _step(net, optimizer, x, y)
    return net, optimizer


# -- saving ---------------------------------------------------------------------------------------
def test_save_numbers_checkpoints_and_records_the_latest(tmp_path):
    step = dtf.Variable(7)
    ckpt = Checkpoint(step=step)
    prefix = str(tmp_path / "ckpt")
    assert ckpt.save(prefix) == prefix + "-1"
    assert ckpt.save(prefix) == prefix + "-2"
    assert int(ckpt.save_counter.numpy()) == 2
    assert sorted(os.listdir(tmp_path)) == [
        "checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index",
        "ckpt-2.data-00000-of-00001", "ckpt-2.index"]
    assert (tmp_path / "checkpoint").read_text() == (
        'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-2"\n')
    assert dtf.train.latest_checkpoint(tmp_path) == prefix + "-2"
    index = json.loads((tmp_path / "ckpt-2.index").read_text())
    assert index["format"] == "dtf.train.Checkpoint"
    assert index["values"]["step"] == {"member": "0", "shape": [], "dtype": "int32"}


def test_variables_round_trip(tmp_path):
    a = dtf.Variable([1.0, 2.0])
    b = dtf.Variable(np.arange(6).reshape(2, 3), dtype="int64")
    path = Checkpoint(a=a, b=b).save(tmp_path / "c")
    a2, b2 = dtf.Variable([0.0, 0.0]), dtf.Variable(np.zeros((2, 3)), dtype="int64")
    ckpt = Checkpoint(a=a2, b=b2)
    ckpt.restore(path).assert_consumed()
    np.testing.assert_array_equal(a2.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(b2.numpy(), np.arange(6).reshape(2, 3))
    assert int(ckpt.save_counter.numpy()) == 1
    assert os.path.basename(ckpt.save(tmp_path / "c")) == "c-2"  # numbering continues


def test_model_and_optimizer_resume_identically(tmp_path):
    x, y = _data()
    net, optimizer = _trained()
    path = Checkpoint(net=net, optimizer=optimizer, step=dtf.Variable(3)).save(tmp_path / "c")
    net2, optimizer2 = Net(), keras.optimizers.Adam(0.05)
    net2(x)  # built: its weights exist, only the optimizer's slots are missing
    step = dtf.Variable(0)
    Checkpoint(net=net2, optimizer=optimizer2, step=step).restore(path).assert_consumed()
    assert int(step.numpy()) == 3 and int(optimizer2.iterations.numpy()) == 3
    _assert_same(_values(net, optimizer), _values(net2, optimizer2))
    assert _step(net, optimizer, x, y) == _step(net2, optimizer2, x, y)
    _assert_same(_values(net, optimizer), _values(net2, optimizer2))


def test_deferred_restoration_into_unbuilt_model_and_optimizer(tmp_path):
    x, y = _data()
    net, optimizer = _trained()
    path = Checkpoint(net=net, optimizer=optimizer).save(tmp_path / "c")
    net2, optimizer2 = Net(), keras.optimizers.Adam(0.05)
    status = Checkpoint(net=net2, optimizer=optimizer2).restore(path)
    status.assert_existing_objects_matched()
    with pytest.raises(AssertionError, match="net/l1/vars/0"):
        status.assert_consumed()  # waiting for the model to be built
    assert int(optimizer2.iterations.numpy()) == 3  # restored at once
    np.testing.assert_array_equal(net2(x).numpy(), net(x).numpy())  # built and restored
    assert _step(net, optimizer, x, y) == _step(net2, optimizer2, x, y)  # slots on build
    status.assert_consumed()
    _assert_same(_values(net, optimizer), _values(net2, optimizer2))
    assert "build" not in vars(net2) and "build" not in vars(optimizer2)


def test_optimizer_restored_at_once_when_model_is_built(tmp_path):
    net, optimizer = _trained()
    path = Checkpoint(net=net, optimizer=optimizer).save(tmp_path / "c")
    net2, optimizer2 = Net(), keras.optimizers.Adam(0.05)
    net2(_data()[0])
    Checkpoint(net=net2, optimizer=optimizer2).restore(path).assert_consumed()
    assert optimizer2.built
    _assert_same(_values(net, optimizer), _values(net2, optimizer2))


def test_optimizer_built_on_other_variables_is_a_mismatch(tmp_path):
    net, optimizer = _trained()
    path = Checkpoint(net=net, optimizer=optimizer).save(tmp_path / "c")
    net2, optimizer2 = Net(), keras.optimizers.Adam(0.05)
    net2(_data()[0])
    optimizer2.build(list(reversed(net2.trainable_variables)))
    before = _values(net2, optimizer2)
    with pytest.raises(ValueError, match="updates the variables"):
        Checkpoint(net=net2, optimizer=optimizer2).restore(path)
    _assert_same(before, _values(net2, optimizer2))


def test_keras_sequential_and_compiled_model(tmp_path):
    x, y = _data()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    model.compile(optimizer="rmsprop", loss="mse")
    model.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    path = Checkpoint(model=model).save(tmp_path / "c")  # the optimizer comes with the model
    keys = [key for key, _ in dtf.train.list_variables(path)]
    assert "model/layers/dense/vars/0" in keys and "model/optimizer/vars/0" in keys
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    other.compile(optimizer="rmsprop", loss="mse")
    Checkpoint(model=other).restore(path).assert_consumed()
    first = model.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    second = other.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    assert first.history == second.history


def test_root_nested_checkpoints_and_containers(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    extra = {"a": dtf.Variable(1.0), "b": [dtf.Variable(2.0), dtf.Variable(3.0)]}
    ckpt = Checkpoint(root=model, sub=Checkpoint(v=dtf.Variable(4.0)), extra=extra)
    ckpt.later = dtf.Variable(5.0)
    path = ckpt.write(tmp_path / "w")
    keys = [key for key, _ in dtf.train.list_variables(path)]
    assert keys == ["extra/a", "extra/b/0", "extra/b/1", "later", "layers/dense/vars/0",
                    "layers/dense/vars/1", "sub/v"]
    model2 = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    extra2 = {"a": dtf.Variable(0.0), "b": [dtf.Variable(0.0), dtf.Variable(0.0)]}
    sub2 = Checkpoint(v=dtf.Variable(0.0))
    later = dtf.Variable(0.0)
    Checkpoint(root=model2, sub=sub2, extra=extra2, later=later).read(path).assert_consumed()
    assert [float(v.numpy()) for v in (extra2["a"], *extra2["b"], sub2.v, later)] == \
        [1.0, 2.0, 3.0, 4.0, 5.0]
    _assert_same(model.get_weights(), model2.get_weights())


def test_shared_variable_is_saved_once(tmp_path):
    v = dtf.Variable(1.0)
    path = Checkpoint(first=v, second=[v]).write(tmp_path / "w")
    assert [key for key, _ in dtf.train.list_variables(path)] == ["first"]


def test_write_does_not_number_or_record(tmp_path):
    ckpt = Checkpoint(v=dtf.Variable(1.0))
    assert ckpt.write(str(tmp_path / "exact")) == str(tmp_path / "exact")
    assert sorted(os.listdir(tmp_path)) == ["exact.data-00000-of-00001", "exact.index"]
    assert ckpt._save_counter is None
    assert dtf.train.latest_checkpoint(tmp_path) is None


def test_write_creates_folders(tmp_path):
    path = Checkpoint(v=dtf.Variable(1.0)).save(tmp_path / "a" / "b" / "ckpt")
    assert dtf.train.latest_checkpoint(tmp_path / "a" / "b") == path


# -- statuses --------------------------------------------------------------------------------------
def test_restore_none_restores_nothing():
    v = dtf.Variable(1.0)
    status = Checkpoint(v=v).restore(None)
    for check in (status.assert_consumed, status.assert_existing_objects_matched,
                  status.assert_nontrivial_match):
        with pytest.raises(AssertionError, match="No checkpoint specified"):
            check()
    assert status.expect_partial() is status
    assert float(v.numpy()) == 1.0


def test_partial_restore_and_its_assertions(tmp_path):
    path = Checkpoint(a=dtf.Variable(1.0), b=dtf.Variable(2.0)).save(tmp_path / "c")
    a = dtf.Variable(0.0)
    status = Checkpoint(a=a).restore(path)
    assert float(a.numpy()) == 1.0
    status.assert_existing_objects_matched().assert_nontrivial_match()
    with pytest.raises(AssertionError, match="unresolved value in the checkpoint: 'b'"):
        status.assert_consumed()
    with pytest.warns(UserWarning, match="never restored"):
        status = None  # the last reference: the restore ends with values never used
    with warnings_silenced():
        Checkpoint(a=dtf.Variable(0.0)).restore(path).expect_partial()


class warnings_silenced:
    """Fails the test if a warning is emitted inside the block."""

    def __enter__(self):
        import warnings

        self._catcher = warnings.catch_warnings(record=True)
        self._records = self._catcher.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        gc.collect()
        self._catcher.__exit__(*exc)
        assert not [str(r.message) for r in self._records]


def test_objects_missing_from_the_checkpoint(tmp_path):
    path = Checkpoint(a=dtf.Variable(1.0)).save(tmp_path / "c")
    status = Checkpoint(a=dtf.Variable(0.0), new=dtf.Variable(3.0)).restore(path)
    with pytest.raises(AssertionError, match="'new'"):
        status.assert_existing_objects_matched()
    status = Checkpoint(other=dtf.Variable(0.0)).restore(path).expect_partial()
    with pytest.raises(AssertionError, match="Nothing except the root"):
        status.assert_nontrivial_match()


# -- bad input -------------------------------------------------------------------------------------
def test_shape_mismatch_raises_and_changes_nothing(tmp_path):
    path = Checkpoint(a=dtf.Variable(1.0), b=dtf.Variable([1.0, 2.0])).save(tmp_path / "c")
    a, b = dtf.Variable(5.0), dtf.Variable([5.0, 5.0, 5.0])
    with pytest.raises(ValueError, match=r"'b' has shape \[2\].*shape \[3\]") as info:
        Checkpoint(a=a, b=b).restore(path)
    assert "nothing was changed" in str(info.value)
    assert float(a.numpy()) == 5.0 and b.numpy().tolist() == [5.0, 5.0, 5.0]


def test_model_of_another_architecture(tmp_path):
    net, _ = _trained()
    path = Checkpoint(net=net).save(tmp_path / "c")
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(7)])
    before = other.get_weights()
    status = Checkpoint(net=other).restore(path).expect_partial()
    with pytest.raises(AssertionError, match="net/layers/dense/vars/0"):
        status.assert_existing_objects_matched()  # nothing at those paths: nothing matched
    _assert_same(before, other.get_weights())
    wider = Net()
    wider.l1 = keras.layers.Dense(6)  # same path, another shape
    wider(_data()[0])
    before = wider.get_weights()
    with pytest.raises(ValueError, match="net/l1/vars/0"):
        Checkpoint(net=wider).restore(path)
    _assert_same(before, wider.get_weights())


def test_missing_checkpoint(tmp_path):
    with pytest.raises(errors.NotFoundError, match="no file"):
        Checkpoint(v=dtf.Variable(1.0)).restore(tmp_path / "nothing-1")
    with pytest.raises(errors.NotFoundError, match="latest_checkpoint"):
        Checkpoint(v=dtf.Variable(1.0)).restore(tmp_path)
    path = Checkpoint(v=dtf.Variable(1.0)).save(tmp_path / "c")
    with pytest.raises(errors.NotFoundError, match="without the '.index'"):
        Checkpoint(v=dtf.Variable(1.0)).restore(path + ".index")


@pytest.mark.parametrize("damage", ["index_garbage", "index_foreign", "data_missing",
                                    "data_truncated", "data_wrong_shape"])
def test_damaged_checkpoints_change_nothing(tmp_path, damage):
    path = Checkpoint(v=dtf.Variable([1.0, 2.0])).save(tmp_path / "c")
    index, data = path + ".index", path + ".data-00000-of-00001"
    if damage == "index_garbage":
        with open(index, "wb") as f:
            f.write(b"\x00\x01binary")
    elif damage == "index_foreign":
        with open(index, "w") as f:
            json.dump({"some": "other json"}, f)
    elif damage == "data_missing":
        os.remove(data)
    elif damage == "data_truncated":
        with open(data, "rb") as f:
            content = f.read()
        with open(data, "wb") as f:
            f.write(content[:40])
    else:
        np.savez(data, **{"0": np.zeros(3, "float32")})
        os.replace(data + ".npz", data)
    v = dtf.Variable([7.0, 7.0])
    with pytest.raises(errors.DataLossError, match="Cannot read the checkpoint") as info:
        Checkpoint(v=v).restore(path)
    assert path in str(info.value)
    assert v.numpy().tolist() == [7.0, 7.0]


def test_untrackable_values_are_refused():
    with pytest.raises(TypeError, match="'count'.*int"):
        Checkpoint(count=3)
    with pytest.raises(TypeError, match=r"'layers\[1\]'"):
        Checkpoint(layers=[dtf.Variable(1.0), "text"])
    with pytest.raises(TypeError, match="dataset iterator"):
        Checkpoint(iterator=iter(dtf.data.Dataset.range(3)))
    ckpt = Checkpoint()
    with pytest.raises(TypeError, match="tensor|Tensor"):
        ckpt.t = dtf.constant(1.0)
    with pytest.raises(AttributeError, match="save_counter"):
        ckpt.save_counter = dtf.Variable(1)
    with pytest.raises(ValueError, match="needs the path"):
        ckpt.read(None)


# -- readers ---------------------------------------------------------------------------------------
def test_readers(tmp_path):
    path = Checkpoint(w=dtf.Variable([[1.0, 2.0]]), n=dtf.Variable(3)).save(tmp_path / "c")
    assert dtf.train.list_variables(tmp_path) == [("n", []), ("save_counter", []),
                                                  ("w", [1, 2])]
    np.testing.assert_array_equal(dtf.train.load_variable(path, "w"), [[1.0, 2.0]])
    reader = dtf.train.load_checkpoint(path)
    assert reader.has_tensor("n") and not reader.has_tensor("m")
    assert reader.get_variable_to_dtype_map()["w"] == dtf.float32
    with pytest.raises(errors.NotFoundError, match="Key m not found"):
        reader.get_tensor("m")
    with pytest.raises(ValueError, match="Couldn't find"):
        dtf.train.load_checkpoint(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None
                                  else tmp_path)
