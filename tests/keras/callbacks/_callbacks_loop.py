"""A small custom training loop that drives callbacks through a CallbackList, as `fit` does,
with a real Sequential model, a real optimizer and GradientTape (used where the tests need to
control what the loop reports)."""

import numpy as np

import dtf
from dtf import keras


def regression_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32") + 0.3).astype("float32")
    return x, y


def small_model(seed=0):
    dtf.random.set_seed(seed)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                             keras.layers.Dense(1)])


def train(model, callbacks, epochs=3, optimizer=None, data=None, batch_size=16,
          val_losses=None, train_losses=None, verbose=0):
    """Trains `model` with callbacks; returns the CallbackList.

    `val_losses` / `train_losses` (lists indexed by epoch) replace the reported epoch values,
    so that monitor-based callbacks see a chosen sequence; otherwise the real mean loss is
    reported (and a real validation loss on the training data).
    """
    x, y = data if data is not None else regression_data()
    if optimizer is None:
        optimizer = keras.optimizers.SGD(0.05)
    model.optimizer = optimizer
    steps = int(np.ceil(len(x) / batch_size))
    callback_list = keras.callbacks.CallbackList(
        callbacks, add_history=True, add_progbar=verbose != 0, model=model, verbose=verbose,
        epochs=epochs, steps=steps)
    model.stop_training = False
    callback_list.on_train_begin()
    start = model.__dict__.pop("_initial_epoch_from_backup", None) or 0
    logs = {}
    loss_fn = keras.losses.MeanSquaredError()
    for epoch in range(start, epochs):
        callback_list.on_epoch_begin(epoch)
        total = 0.0
        for step in range(steps):
            callback_list.on_train_batch_begin(step)
            xb = x[step * batch_size:(step + 1) * batch_size]
            yb = y[step * batch_size:(step + 1) * batch_size]
            with dtf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            total += float(loss)
            callback_list.on_train_batch_end(step, {"loss": dtf.constant(total / (step + 1))})
            if model.stop_training:
                break
        logs = {"loss": total / (step + 1)}
        if train_losses is not None:
            logs["loss"] = train_losses[epoch]
        if val_losses is not None:
            logs["val_loss"] = val_losses[epoch]
        else:
            logs["val_loss"] = float(loss_fn(y, model(x)))
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return callback_list
