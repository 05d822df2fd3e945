"""`keras.utils.set_random_seed`: one seed for Python's, NumPy's and dtf's random numbers."""

from __future__ import annotations

import random

import numpy as np


def set_random_seed(seed):
    """Seeds Python's `random`, NumPy's global generator and dtf's global seed at once, so that
    a program (weight initialization, dropout, shuffling) repeats exactly.

    Example:
        >>> keras.utils.set_random_seed(812)
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(  # noqa: TRY004  (Keras raises ValueError here)
            f"Expected `seed` argument to be an integer. Received: seed={seed!r}")
    import dtf

    random.seed(int(seed))
    np.random.seed(int(seed) % (2**32))
    dtf.random.set_seed(int(seed))
