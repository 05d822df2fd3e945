"""`keras.saving`: saving models (`.keras` archives, `.weights.h5` files) and loading them back,
serialization of Keras objects to configs and back, and the registry of custom objects.

Example:
    >>> from dtf import keras
    >>> config = keras.saving.serialize_keras_object(keras.initializers.Zeros())
    >>> keras.saving.deserialize_keras_object(config)
    Zeros()
"""

from dtf.keras.saving.saving_api import load_model, load_weights, save_model, save_weights
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

__all__ = [
    "CustomObjectScope",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "load_model",
    "load_weights",
    "register_keras_serializable",
    "save_model",
    "save_weights",
    "serialize_keras_object",
]
