"""`keras.models`: Model (subclassed and Functional) and Sequential."""

from dtf.keras.models.functional import Functional  # noqa: F401
from dtf.keras.models.model import Model  # noqa: F401
from dtf.keras.models.sequential import Sequential  # noqa: F401


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a model saved by `model.save` (`keras.models.load_model`)."""
    from dtf.keras.saving import saving_api

    return saving_api.load_model(filepath, custom_objects=custom_objects, compile=compile,
                                 safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True, **kwargs):
    """`model.save(filepath)` as a function (`keras.models.save_model`)."""
    from dtf.keras.saving import saving_api

    return saving_api.save_model(model, filepath, overwrite=overwrite, **kwargs)

