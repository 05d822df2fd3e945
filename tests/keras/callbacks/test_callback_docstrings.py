"""The examples in the docstrings of keras.callbacks and keras.utils.Progbar run as shown."""

import doctest
import importlib

import pytest

import dtf

MODULES = ["dtf.keras.callbacks", "dtf.keras.callbacks.callback",
           "dtf.keras.callbacks.callback_list", "dtf.keras.callbacks.history",
           "dtf.keras.callbacks.progbar_logger", "dtf.keras.callbacks.early_stopping",
           "dtf.keras.callbacks.reduce_lr_on_plateau",
           "dtf.keras.callbacks.learning_rate_scheduler", "dtf.keras.callbacks.csv_logger",
           "dtf.keras.callbacks.terminate_on_nan", "dtf.keras.callbacks.lambda_callback",
           "dtf.keras.callbacks.model_checkpoint", "dtf.keras.callbacks.backup_and_restore",
           "dtf.keras.callbacks.tensorboard", "dtf.keras.callbacks.swap_ema_weights",
           "dtf.keras.callbacks.remote_monitor", "dtf.keras.utils.progbar"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    from dtf import keras

    monkeypatch.chdir(tmp_path)  # examples that name files write them here
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"dtf": dtf, "keras": keras},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
