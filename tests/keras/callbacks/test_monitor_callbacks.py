"""EarlyStopping, ReduceLROnPlateau and LearningRateScheduler driven by a real training loop
(a Sequential model, SGD, GradientTape) through a CallbackList."""

import numpy as np
import numpy.testing as npt
import pytest
from _callbacks_loop import small_model, train

from dtf import keras
from dtf.keras.callbacks import (
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ReduceLROnPlateau,
)


def _epochs_run(callbacks):
    return callbacks._history.epoch


# -- EarlyStopping ------------------------------------------------------------------------------
def test_early_stopping_waits_patience_epochs_without_improvement():
    model = small_model()
    stop = EarlyStopping(patience=2)
    run = train(model, [stop], epochs=8, val_losses=[1.0, 0.9, 0.95, 0.96, 0.97, 0.5, 0.4, 0.3])
    assert _epochs_run(run) == [0, 1, 2, 3]
    assert stop.stopped_epoch == 3 and stop.best == 0.9 and model.stop_training


def test_early_stopping_min_delta():
    stop = EarlyStopping(patience=1, min_delta=0.05)
    run = train(small_model(), [stop], epochs=4, val_losses=[1.0, 0.99, 0.98, 0.97])
    assert _epochs_run(run) == [0, 1]
    keep_going = EarlyStopping(patience=1, min_delta=0.005)
    run = train(small_model(), [keep_going], epochs=4, val_losses=[1.0, 0.99, 0.98, 0.97])
    assert _epochs_run(run) == [0, 1, 2, 3]


def test_early_stopping_restores_the_best_weights():
    model = small_model()
    snapshots = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(
        model.get_weights()))
    stop = EarlyStopping(patience=2, restore_best_weights=True)
    train(model, [record, stop], epochs=6, val_losses=[1.0, 0.5, 0.7, 0.8, 0.9, 1.0])
    assert len(snapshots) == 4 and stop.best_epoch == 1
    for restored, best in zip(model.get_weights(), snapshots[1]):
        npt.assert_array_equal(restored, best)
    assert not np.array_equal(snapshots[3][0], snapshots[1][0])  # training did move them


def test_early_stopping_without_restore_keeps_the_last_weights():
    model = small_model()
    snapshots = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(
        model.get_weights()))
    train(model, [record, EarlyStopping(patience=1)], epochs=5, val_losses=[1, 0.5, 0.7, 1, 1])
    npt.assert_array_equal(model.get_weights()[0], snapshots[-1][0])


def test_early_stopping_baseline_must_be_beaten():
    losses = [0.5, 0.45, 0.46, 0.44, 0.43, 0.42]
    run = train(small_model(), [EarlyStopping(patience=2, baseline=0.4)], epochs=6,
                val_losses=losses)
    assert _epochs_run(run) == [0, 1, 2]
    run = train(small_model(), [EarlyStopping(patience=2)], epochs=6, val_losses=losses)
    assert _epochs_run(run) == [0, 1, 2, 3, 4, 5]


def test_early_stopping_start_from_epoch():
    rising = [1.0, 2.0, 3.0, 4.0, 5.0]
    run = train(small_model(), [EarlyStopping(patience=0)], epochs=5, val_losses=rising)
    assert _epochs_run(run) == [0, 1]
    run = train(small_model(), [EarlyStopping(patience=0, start_from_epoch=2)], epochs=5,
                val_losses=rising)
    assert _epochs_run(run) == [0, 1, 2, 3]


def test_early_stopping_modes():
    accuracy = EarlyStopping(monitor="val_accuracy", patience=0)
    model = small_model()
    accuracy.set_model(model)
    accuracy.on_train_begin()
    accuracy.on_epoch_end(0, {"val_accuracy": 0.5})
    accuracy.on_epoch_end(1, {"val_accuracy": 0.6})  # higher is better for accuracies
    assert not getattr(model, "stop_training", False)
    accuracy.on_epoch_end(2, {"val_accuracy": 0.55})
    assert model.stop_training
    explicit = EarlyStopping(monitor="score", mode="max")
    explicit.set_model(small_model())
    explicit.on_train_begin()
    explicit.on_epoch_end(0, {"score": 1.0})
    assert explicit.best == 1.0
    unknown = EarlyStopping(monitor="val_score")
    unknown.set_model(small_model())
    with pytest.raises(ValueError, match="Pass `mode='max'`"):
        unknown.on_epoch_end(0, {"val_score": 1.0})
    with pytest.warns(UserWarning, match="mode 'sideways' is unknown"):
        EarlyStopping(mode="sideways")


def test_early_stopping_auto_mode_reads_the_compiled_metrics():
    model = small_model()
    model.compile("sgd", "mse", metrics=[keras.metrics.MeanAbsoluteError(name="spread")])
    model.fit(np.zeros((4, 3), "float32"), np.zeros((4, 1), "float32"), verbose=0)
    stop = EarlyStopping(monitor="val_spread")
    stop.set_model(model)
    stop._set_monitor_op()
    assert stop.monitor_op(1, 2)  # an error: lower is better


def test_early_stopping_missing_monitor_warns_and_trains_on():
    with pytest.warns(UserWarning, match="`val_acc` which is not available. Available "
                                         "metrics are: loss,val_loss"):
        run = train(small_model(), [EarlyStopping(monitor="val_acc", mode="max")], epochs=2)
    assert _epochs_run(run) == [0, 1]


def test_early_stopping_verbose_messages(capsys):
    train(small_model(), [EarlyStopping(patience=1, restore_best_weights=True, verbose=1)],
          epochs=5, val_losses=[1.0, 0.5, 0.7, 0.8, 0.9])
    assert capsys.readouterr().out == (
        "Epoch 3: early stopping\n"
        "Restoring model weights from the end of the best epoch: 2.\n")


def test_early_stopping_through_fit():
    model = small_model()
    model.compile(keras.optimizers.SGD(0.0), "mse")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 1), "float32")
    history = model.fit(x, y, epochs=10, verbose=0, validation_data=(x, y),
                        callbacks=[EarlyStopping(patience=2)])
    assert history.epoch == [0, 1, 2]


# -- ReduceLROnPlateau --------------------------------------------------------------------------
def _rate(optimizer):
    return float(np.asarray(optimizer.learning_rate))


def test_reduce_lr_on_plateau_reduces_and_records_the_rate():
    optimizer = keras.optimizers.SGD(0.1)
    rates = []
    seen = LambdaCallback(on_epoch_begin=lambda epoch, logs: rates.append(_rate(optimizer)))
    reduce = ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0)
    run = train(small_model(), [seen, reduce], epochs=4, optimizer=optimizer,
                val_losses=[1.0, 1.0, 1.0, 0.5])
    npt.assert_allclose(rates, [0.1, 0.1, 0.05, 0.025], rtol=1e-6)
    # the logged rate is the one the epoch trained with (logged before the reduction)
    npt.assert_allclose(run._history.history["learning_rate"], rates, rtol=1e-6)


def test_reduce_lr_on_plateau_cooldown_and_min_lr():
    optimizer = keras.optimizers.SGD(0.1)
    reduce = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2, min_delta=0)
    run = train(small_model(), [reduce], epochs=5, optimizer=optimizer, val_losses=[1.0] * 5)
    # reductions at the ends of epochs 1 and 3: epoch 2 is the cooldown
    npt.assert_allclose(run._history.history["learning_rate"],
                        [0.1, 0.1, 0.05, 0.05, 0.025], rtol=1e-6)
    optimizer = keras.optimizers.SGD(0.1)
    floor = ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.003, min_delta=0)
    run = train(small_model(), [floor], epochs=5, optimizer=optimizer, val_losses=[1.0] * 5)
    npt.assert_allclose(run._history.history["learning_rate"],
                        [0.1, 0.1, 0.01, 0.003, 0.003], rtol=1e-6)


def test_reduce_lr_on_plateau_verbose_and_errors(capsys):
    optimizer = keras.optimizers.SGD(0.5)
    train(small_model(), [ReduceLROnPlateau(factor=0.5, patience=1, verbose=1)], epochs=2,
          optimizer=optimizer, val_losses=[1.0, 1.0])
    assert capsys.readouterr().out == ("\nEpoch 2: ReduceLROnPlateau reducing learning rate "
                                       "to 0.25.\n")
    with pytest.raises(ValueError, match="factor >= 1.0"):
        ReduceLROnPlateau(factor=1.0)
    reduce = ReduceLROnPlateau()
    reduce.set_model(small_model())
    with pytest.raises(ValueError, match="has no optimizer. Call model.compile"):
        reduce.on_epoch_end(0, {"val_loss": 1.0})


# -- LearningRateScheduler ----------------------------------------------------------------------
def test_learning_rate_scheduler_sets_the_rate_each_epoch():
    optimizer = keras.optimizers.SGD(0.1)
    rates = []
    scheduler = LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr * 0.5)
    seen = LambdaCallback(on_epoch_begin=lambda epoch, logs: rates.append(_rate(optimizer)))
    run = train(small_model(), [scheduler, seen], epochs=4, optimizer=optimizer)
    npt.assert_allclose(rates, [0.1, 0.1, 0.05, 0.025], rtol=1e-6)
    npt.assert_allclose(run._history.history["learning_rate"], rates, rtol=1e-6)


def test_learning_rate_scheduler_of_the_epoch_alone(capsys):
    optimizer = keras.optimizers.SGD(0.1)
    scheduler = LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1), verbose=1)
    train(small_model(), [scheduler], epochs=2, optimizer=optimizer)
    npt.assert_allclose(_rate(optimizer), 0.02, rtol=1e-6)
    assert capsys.readouterr().out == (
        "\nEpoch 1: LearningRateScheduler setting learning rate to 0.01.\n"
        "\nEpoch 2: LearningRateScheduler setting learning rate to 0.02.\n")


def test_learning_rate_scheduler_errors_name_the_callback():
    with pytest.raises(ValueError, match=r"^Callback LearningRateScheduler.on_epoch_begin "
                                         r"raised: The output of the `schedule` function "
                                         r"should be a float. Got: 1 of type int"):
        train(small_model(), [LearningRateScheduler(lambda epoch: 1)], epochs=1)

    def broken(epoch, lr):
        raise TypeError("my schedule's own bug")

    with pytest.raises(TypeError, match="my schedule's own bug"):  # not retried as schedule(e)
        train(small_model(), [LearningRateScheduler(broken)], epochs=1)
    with pytest.raises(TypeError, match="needs a callable"):
        LearningRateScheduler(0.1)


def test_learning_rate_scheduler_refuses_an_optimizer_with_a_schedule():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    with pytest.raises(TypeError, match="LearningRateScheduler.on_epoch_begin raised: This "
                                        "optimizer was created with a `LearningRateSchedule`"):
        train(small_model(), [LearningRateScheduler(lambda epoch, lr: lr)], epochs=1,
              optimizer=keras.optimizers.SGD(schedule))
