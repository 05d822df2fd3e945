"""`keras.optimizers`: SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Nadam, Adamax, Ftrl, and
learning-rate schedules (`keras.optimizers.schedules`).

Optimizers follow Keras 3: `apply_gradients(zip(grads, variables))` (or `apply(grads,
variables)`) updates the variables and counts `iterations`; the first call creates the slot
variables. Updates are computed by the pure array functions of
`dtf.keras.optimizers.updates`, which match Keras' formulas.

Example:
    >>> from dtf import keras
    >>> opt = keras.optimizers.get("adam")
    >>> opt.get_config()["learning_rate"]
    0.0010000000474974513
"""

from dtf.keras.optimizers import schedules
from dtf.keras.optimizers.adagrad import Adadelta, Adagrad
from dtf.keras.optimizers.adam import Adam, AdamW
from dtf.keras.optimizers.base_optimizer import Optimizer
from dtf.keras.optimizers.ftrl import Ftrl
from dtf.keras.optimizers.nadam import Adamax, Nadam
from dtf.keras.optimizers.rmsprop import RMSprop
from dtf.keras.optimizers.sgd import SGD

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Ftrl",
    "Nadam",
    "Optimizer",
    "RMSprop",
    "deserialize",
    "get",
    "schedules",
    "serialize",
]

ALL_OBJECTS = (Optimizer, SGD, Adadelta, Adagrad, Adam, AdamW, Adamax, Ftrl, Nadam, RMSprop)
# Names are matched case-insensitively ("adam", "Adam", "rmsprop"), as Keras does.
ALL_OBJECTS_DICT = {cls.__name__.lower(): cls for cls in ALL_OBJECTS}


def serialize(optimizer):
    """The optimizer's config in Keras 3's format
    (`{"module": "keras.optimizers", "class_name", "config", "registered_name"}`).

    Example:
        >>> serialize(SGD(0.5))["config"]["learning_rate"]
        0.5
    """
    from dtf.keras.saving.serialization import serialize_keras_object

    return serialize_keras_object(optimizer)


def deserialize(config, custom_objects=None):
    """A new optimizer from a config (Keras 3's or Keras 2's `{"class_name", "config"}`); the
    class name of a built-in optimizer is matched case-insensitively.

    Example:
        >>> deserialize({"class_name": "SGD", "config": {"learning_rate": 0.5}}).momentum
        0.0
    """
    from dtf.keras.saving.serialization import deserialize_keras_object

    if isinstance(config, dict) and isinstance(config.get("class_name"), str) \
            and config["class_name"].lower() in ALL_OBJECTS_DICT:
        config = {**config, "class_name": config["class_name"].lower()}
    return deserialize_keras_object(config, module_objects=ALL_OBJECTS_DICT,
                                    custom_objects=custom_objects,
                                    printable_module_name="optimizer")


def get(identifier):
    """An optimizer from a name ("adam", "sgd", ...), a config dict, or an instance (returned
    as is); None gives None.

    Raises:
        ValueError: the identifier names no optimizer.

    Example:
        >>> type(get("rmsprop")).__name__
        'RMSprop'
    """
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        if identifier.lower() not in ALL_OBJECTS_DICT:
            from dtf.keras.saving.serialization import get_registered_object

            registered = get_registered_object(identifier)
            if registered is None:
                raise ValueError(
                    f"Could not interpret optimizer identifier: {identifier!r}. Use one of "
                    f"{sorted(ALL_OBJECTS_DICT)}, a config dict, or an Optimizer instance.")
        obj = deserialize({"class_name": identifier, "config": {}})
    else:
        obj = identifier
    if isinstance(obj, Optimizer):
        return obj
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}. Use an "
                     f"optimizer name ({', '.join(sorted(ALL_OBJECTS_DICT))}), a config dict, "
                     "or an Optimizer instance.")
