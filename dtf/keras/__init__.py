"""`dtf.keras`: Keras' API (Layers, Models, losses, optimizers, metrics) on dtf.

Example:
    >>> from dtf import keras
    >>> model = keras.Sequential([keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
"""

from dtf.compile.symbolic import SymbolicTensor as KerasTensor  # noqa: F401
from dtf.keras import (  # noqa: F401
    activations,
    backend,
    callbacks,
    constraints,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
    saving,
    utils,
)
from dtf.keras.layers import Input, InputSpec, Layer  # noqa: F401
from dtf.keras.losses import Loss  # noqa: F401
from dtf.keras.metrics import Metric  # noqa: F401
from dtf.keras.models import Model, Sequential  # noqa: F401
from dtf.keras.optimizers import Optimizer  # noqa: F401
