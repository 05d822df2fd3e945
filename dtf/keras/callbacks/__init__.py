"""`keras.callbacks`: hooks into `fit`, `evaluate` and `predict`.

Example:
    >>> from dtf import keras
    >>> callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=3),
    ...              keras.callbacks.CSVLogger("training.csv")]
"""

from dtf.keras.callbacks.backup_and_restore import BackupAndRestore
from dtf.keras.callbacks.callback import Callback
from dtf.keras.callbacks.callback_list import CallbackList
from dtf.keras.callbacks.csv_logger import CSVLogger
from dtf.keras.callbacks.early_stopping import EarlyStopping
from dtf.keras.callbacks.history import History
from dtf.keras.callbacks.lambda_callback import LambdaCallback
from dtf.keras.callbacks.learning_rate_scheduler import LearningRateScheduler
from dtf.keras.callbacks.model_checkpoint import ModelCheckpoint
from dtf.keras.callbacks.monitor_callback import MonitorCallback
from dtf.keras.callbacks.progbar_logger import ProgbarLogger
from dtf.keras.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from dtf.keras.callbacks.remote_monitor import RemoteMonitor
from dtf.keras.callbacks.swap_ema_weights import SwapEMAWeights
from dtf.keras.callbacks.tensorboard import TensorBoard
from dtf.keras.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "MonitorCallback",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "RemoteMonitor",
    "SwapEMAWeights",
    "TensorBoard",
    "TerminateOnNaN",
]
