"""CallbackList: hook order, params and model, History/ProgbarLogger defaults, logs handed to
callbacks, inactive hooks skipped, and failing callbacks named in the error."""

import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.errors import InvalidArgumentError
from dtf.keras.callbacks import Callback, CallbackList, History, ProgbarLogger

ALL_HOOKS = ["on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
             "on_predict_begin", "on_predict_end", "on_epoch_begin", "on_epoch_end",
             "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
             "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end"]


class Recorder(Callback):
    def __init__(self, name, journal):
        super().__init__()
        self.name, self.journal = name, journal

    def __getattribute__(self, attr):
        if attr in ALL_HOOKS:
            journal, name = object.__getattribute__(self, "journal"), \
                object.__getattribute__(self, "name")

            def hook(*args):
                journal.append((name, attr) + args[:-1] + (args[-1],))
            return hook
        return object.__getattribute__(self, attr)


def _model():
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])


def test_every_hook_reaches_every_callback_in_order():
    journal = []
    callbacks = CallbackList([Recorder("a", journal), Recorder("b", journal)])
    callbacks.on_train_begin({"x": 1.0})
    callbacks.on_epoch_begin(0)
    callbacks.on_train_batch_begin(0)
    callbacks.on_train_batch_end(0, {"loss": 2.0})
    callbacks.on_epoch_end(0, {"loss": 2.0})
    callbacks.on_train_end()
    callbacks.on_test_begin()
    callbacks.on_test_batch_begin(3)
    callbacks.on_test_batch_end(3, {"loss": 1.0})
    callbacks.on_test_end({"loss": 1.0})
    callbacks.on_predict_begin()
    callbacks.on_predict_batch_begin(1)
    callbacks.on_predict_batch_end(1, {"outputs": np.zeros(2)})
    callbacks.on_predict_end()
    hooks = [entry[1] for entry in journal]
    assert hooks == [h for h in ["on_train_begin", "on_epoch_begin", "on_train_batch_begin",
                                 "on_train_batch_end", "on_epoch_end", "on_train_end",
                                 "on_test_begin", "on_test_batch_begin", "on_test_batch_end",
                                 "on_test_end", "on_predict_begin", "on_predict_batch_begin",
                                 "on_predict_batch_end", "on_predict_end"] for _ in "ab"]
    assert [entry[0] for entry in journal[:4]] == ["a", "b", "a", "b"]
    assert journal[0] == ("a", "on_train_begin", {"x": 1.0})
    assert journal[6] == ("a", "on_train_batch_end", 0, {"loss": 2.0})
    assert journal[2] == ("a", "on_epoch_begin", 0, {})  # logs are never None


def test_params_and_model_reach_every_callback():
    model = _model()
    seen = Callback()
    callbacks = CallbackList([seen], model=model, verbose=0, epochs=3, steps=7)
    assert seen.model is model and callbacks.model is model
    assert seen.params == {"verbose": 0, "epochs": 3, "steps": 7}
    late = Callback()
    callbacks.append(late)
    assert late.model is model and late.params == seen.params
    assert list(callbacks) == [seen, late] and len(callbacks) == 2 and callbacks[1] is late


def test_keras2_callbacks_may_assign_their_model():
    class Old(Callback):
        def __init__(self, model):
            super().__init__()
            self.model = model

    model = _model()
    assert Old(model).model is model


def test_history_and_progbar_are_added_when_asked():
    model = _model()
    callbacks = CallbackList(None, add_history=True, add_progbar=True, model=model, verbose=1,
                             epochs=1, steps=1)
    kinds = [type(c) for c in callbacks]
    assert kinds == [History, ProgbarLogger]
    assert model.history is callbacks.callbacks[0]
    # none added twice, none added when verbose is 0
    mine = History()
    callbacks = CallbackList([mine], add_history=True, add_progbar=True, model=model,
                             verbose=0, epochs=1, steps=1)
    assert list(callbacks) == [mine] and model.history is mine


def test_history_records_each_epoch():
    model = _model()
    callbacks = CallbackList([], add_history=True, model=model, verbose=0, epochs=2, steps=1)
    callbacks.on_train_begin()
    for epoch, loss in enumerate([0.5, 0.25]):
        callbacks.on_epoch_begin(epoch)
        callbacks.on_epoch_end(epoch, {"loss": loss, "val_loss": loss * 2})
    callbacks.on_train_end()
    assert model.history.history == {"loss": [0.5, 0.25], "val_loss": [1.0, 0.5]}
    assert model.history.epoch == [0, 1]


def test_logs_become_python_floats_and_nested_dicts_are_flattened():
    received = []

    class Keep(Callback):
        def on_epoch_end(self, epoch, logs=None):
            received.append(logs)

    callbacks = CallbackList([Keep()])
    sent = {"loss": dtf.constant(0.5), "acc": np.float32(0.25), "n": np.array(3.0),
            "group": {"mae": dtf.constant(1.5, dtype="float64")},
            "vector": np.array([1.0, 2.0])}
    callbacks.on_epoch_end(0, sent)
    logs = received[0]
    assert logs["loss"] == 0.5 and type(logs["loss"]) is float
    assert type(logs["acc"]) is float and type(logs["n"]) is float
    assert logs["mae"] == 1.5 and "group" not in logs
    np.testing.assert_array_equal(logs["vector"], [1.0, 2.0])
    assert logs is not sent and "mae" not in sent  # the caller's dict is left alone


def test_callbacks_share_one_logs_dict_per_hook_call():
    """What a callback adds to the epoch logs (a learning rate) reaches the later ones."""
    class AddRate(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["learning_rate"] = 0.1

    model = _model()
    callbacks = CallbackList([AddRate()], add_history=True, model=model)
    callbacks.on_train_begin()
    callbacks.on_epoch_end(0, {"loss": 1.0})
    assert model.history.history == {"loss": [1.0], "learning_rate": [0.1]}


def test_keras2_batch_aliases_are_called_for_training_batches():
    calls = []

    class Old(Callback):
        def on_batch_begin(self, batch, logs=None):
            calls.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            calls.append(("end", batch, logs["loss"]))

    callbacks = CallbackList([Old()])
    callbacks.on_train_batch_begin(4)
    callbacks.on_train_batch_end(4, {"loss": 1.0})
    callbacks.on_batch_begin(5)
    callbacks.on_batch_end(5, {"loss": 2.0})
    callbacks.on_test_batch_end(6, {"loss": 3.0})  # not a training batch
    assert calls == [("begin", 4), ("end", 4, 1.0), ("begin", 5), ("end", 5, 2.0)]


def test_hooks_nobody_implements_are_skipped():
    class EpochOnly(Callback):
        def on_epoch_end(self, epoch, logs=None):
            pass

    callbacks = CallbackList([EpochOnly()], add_history=True, model=_model())
    assert not callbacks._should_call_train_batch_hooks
    assert not callbacks._should_call_test_batch_hooks
    assert not callbacks._should_call_predict_batch_hooks
    assert callbacks._active["on_epoch_end"] == list(callbacks)

    class Explodes:
        def items(self):
            raise AssertionError("logs of a hook nobody implements were read")

    callbacks.on_train_batch_end(0, Explodes())  # returns before touching the logs
    lam = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: None)
    callbacks.append(lam)
    assert callbacks._should_call_train_batch_hooks


def test_hook_assigned_to_an_instance_after_construction_counts_from_the_next_loop():
    calls = []
    callback = Callback()
    callbacks = CallbackList([callback])
    callback.on_train_batch_end = lambda batch, logs=None: calls.append(batch)
    callbacks.on_train_begin()
    callbacks.on_train_batch_end(2, {})
    assert calls == [2]


def test_progbar_logger_gets_raw_logs_other_callbacks_floats():
    seen = {}

    class Peek(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen["peek"] = logs["loss"]

    progbar = ProgbarLogger()
    progbar.set_params({"verbose": 0, "epochs": 1, "steps": 2})
    callbacks = CallbackList([progbar])
    assert not callbacks._needs_python_logs["on_train_batch_end"]
    callbacks.append(Peek())
    callbacks.on_train_batch_end(0, {"loss": dtf.constant(0.5)})
    assert type(seen["peek"]) is float


class Boom(Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise ValueError(f"no good at epoch {epoch}")


def test_a_failing_callback_is_named_and_the_error_keeps_its_type():
    later = []
    callbacks = CallbackList([Boom(), keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: later.append(epoch))])
    with pytest.raises(ValueError) as info:
        callbacks.on_epoch_end(3, {})
    assert str(info.value) == "Callback Boom.on_epoch_end raised: no good at epoch 3"
    assert isinstance(info.value.__cause__, ValueError)
    assert str(info.value.__cause__) == "no good at epoch 3"
    assert later == []  # the callbacks after the failing one are not called


def test_errors_with_unusual_constructors_keep_their_type():
    class NeedsTwo(Exception):
        def __init__(self, code, detail):
            super().__init__(code, detail)
            self.code = code

        def __str__(self):
            return f"code {self.code}"

    class Raises(Callback):
        def on_train_begin(self, logs=None):
            raise NeedsTwo(7, "x")

        def on_train_end(self, logs=None):
            raise InvalidArgumentError("bad shape [2, 3]")

    callbacks = CallbackList([Raises()])
    with pytest.raises(NeedsTwo) as info:
        callbacks.on_train_begin()
    assert str(info.value) == "Callback Raises.on_train_begin raised: code 7"
    assert info.value.code == 7
    with pytest.raises(InvalidArgumentError, match=r"^Callback Raises.on_train_end raised: "
                                                   r"bad shape \[2, 3\]$"):
        callbacks.on_train_end()


def test_nested_callback_lists_name_the_innermost_callback_once():
    outer = CallbackList([CallbackList([Boom()])])
    with pytest.raises(ValueError, match=r"^Callback Boom.on_epoch_end raised: no good at "
                                         r"epoch 1$"):
        outer.on_epoch_end(1, {})


def test_keyboard_interrupt_is_not_wrapped():
    class Stop(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        CallbackList([Stop()]).on_epoch_begin(0)


def test_objects_that_are_not_callbacks_are_refused():
    with pytest.raises(TypeError, match="Callbacks must be keras.callbacks.Callback"):
        CallbackList([object()])
    with pytest.raises(TypeError, match="got 'print_loss'"):
        CallbackList([Callback()]).append("print_loss")


def test_a_single_callback_or_nested_lists_are_accepted():
    first, second, third = Callback(), Callback(), Callback()
    assert list(CallbackList(first)) == [first]
    assert list(CallbackList([first, (second, [third])])) == [first, second, third]
