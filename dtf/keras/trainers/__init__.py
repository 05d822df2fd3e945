"""The built-in training loops of `keras.Model`: compile/fit/evaluate/predict."""

from dtf.keras.trainers.trainer import Trainer  # noqa: F401
