"""`keras.models`: Model (subclassed and Functional) and Sequential."""

from dtf.keras.models.functional import Functional  # noqa: F401
from dtf.keras.models.model import Model  # noqa: F401
from dtf.keras.models.sequential import Sequential  # noqa: F401
