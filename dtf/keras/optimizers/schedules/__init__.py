"""`keras.optimizers.schedules`: learning rates that change with the optimizer's step.

Example:
    >>> schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10,
    ...                                                        decay_rate=0.5)
    >>> schedule(10)
    <dtf.Tensor: shape=(), dtype=float32, numpy=0.05>
"""

from dtf.keras.optimizers.schedules.learning_rate_schedule import (
    CosineDecay,
    CosineDecayRestarts,
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
    PolynomialDecay,
    deserialize,
    serialize,
)

__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "deserialize",
    "serialize",
]
