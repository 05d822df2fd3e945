"""`keras.saving`: serialization of Keras objects to configs and back, and the registry of
custom objects.

Example:
    >>> from dtf import keras
    >>> config = keras.saving.serialize_keras_object(keras.initializers.Zeros())
    >>> keras.saving.deserialize_keras_object(config)
    Zeros()
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

__all__ = [
    "CustomObjectScope",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "register_keras_serializable",
    "serialize_keras_object",
]
