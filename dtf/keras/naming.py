"""Keras' default names: the class name in snake case, made unique per process with
`keras.backend.get_uid` (`dense`, `dense_1`, ...; `keras.backend.clear_session` starts afresh).

Layers, metrics, losses and optimizers all name themselves through here.

Example:
    >>> to_snake_case("MLPWithDropout")
    'mlp_with_dropout'
"""

from __future__ import annotations

import re

__all__ = ["auto_name", "to_snake_case", "uniquify"]


def to_snake_case(name: str) -> str:
    """`MLPWithDropout` -> `mlp_with_dropout`, `MeanSquaredError` -> `mean_squared_error`."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def uniquify(base: str) -> str:
    """`base` the first time, then `base_1`, `base_2`, ..."""
    from dtf.keras import backend

    uid = backend.get_uid(base)
    return base if uid == 1 else f"{base}_{uid - 1}"


def auto_name(class_name: str) -> str:
    """The default name of an object of class `class_name`."""
    return uniquify(to_snake_case(class_name))
