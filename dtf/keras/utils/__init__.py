"""`keras.utils`: label encoding, normalization, and the serialization helpers.

Example:
    >>> from dtf import keras
    >>> keras.utils.to_categorical([[1], [0]], num_classes=2)
    array([[0., 1.],
           [1., 0.]], dtype=float32)
"""

from dtf.keras.saving.serialization import (
    CustomObjectScope,
    custom_object_scope,
    deserialize_keras_object,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    serialize_keras_object,
)
from dtf.keras.utils.numerical_utils import normalize, to_categorical
from dtf.keras.utils.plotting import plot_history
from dtf.keras.utils.progbar import Progbar
from dtf.keras.utils.rng_utils import set_random_seed

__all__ = [
    "CustomObjectScope",
    "Progbar",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "normalize",
    "plot_history",
    "register_keras_serializable",
    "serialize_keras_object",
    "set_random_seed",
    "to_categorical",
]
