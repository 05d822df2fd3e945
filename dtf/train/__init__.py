"""`dtf.train`: checkpoints for custom training loops (`tf.train`).

`Checkpoint` saves and restores Variables, Keras models, layers, optimizers and metrics and
nested Checkpoints by their place in an object graph; `CheckpointManager` keeps the newest
few numbered checkpoints of a folder; `latest_checkpoint` finds the newest.

Example:
    >>> import dtf
    >>> ckpt = dtf.train.Checkpoint(step=dtf.Variable(1))
    >>> manager = dtf.train.CheckpointManager(ckpt, tempfile.mkdtemp(), max_to_keep=3)
    >>> _ = ckpt.restore(manager.latest_checkpoint)  # None the first time: nothing to restore
"""

from dtf.train.checkpoint import Checkpoint
from dtf.train.checkpoint_management import (
    CheckpointManager,
    CheckpointState,
    get_checkpoint_state,
    latest_checkpoint,
    update_checkpoint_state,
)
from dtf.train.checkpoint_reader import (
    CheckpointReader,
    list_variables,
    load_checkpoint,
    load_variable,
)
from dtf.train.restore import CheckpointLoadStatus, InitializationOnlyStatus

__all__ = [
    "Checkpoint",
    "CheckpointLoadStatus",
    "CheckpointManager",
    "CheckpointReader",
    "CheckpointState",
    "InitializationOnlyStatus",
    "get_checkpoint_state",
    "latest_checkpoint",
    "list_variables",
    "load_checkpoint",
    "load_variable",
    "update_checkpoint_state",
]
