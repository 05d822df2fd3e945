"""MNIST handwritten digits, as `keras.datasets.mnist`.

Example:
    >>> (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    >>> x_train.dtype, x_train.shape[1:]
    (dtype('uint8'), (28, 28))
"""

from __future__ import annotations

import numpy as np

from dtf.keras.datasets._files import fetch

FILE_NAME = "mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(path="mnist.npz"):
    """Loads MNIST: 60,000 training and 10,000 test images of 28x28 grayscale digits.

    The file comes from the mirror folder `DTF_DATASETS_DIR` when it holds `mnist.npz` (used as
    it is), else from the cache `~/.dtf/datasets/` (`$DTF_HOME/datasets/`), else it is
    downloaded from Keras' canonical URL and its sha256 checked.

    Args:
        path: where to cache the file, relative to the cache folder (or absolute).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 arrays, images of shape (n, 28, 28),
        labels 0-9 of shape (n,).

    Raises:
        DatasetUnavailableError: the file is in no mirror or cache and cannot be downloaded;
            the message says what to download and where to put it.
    """
    file = fetch(FILE_NAME, SHA256, cache_name=path, dataset="MNIST")
    try:
        with np.load(file, allow_pickle=False) as f:
            x_train, y_train, x_test, y_test = (f[k] for k in _KEYS)
    except (KeyError, ValueError, OSError) as e:
        raise ValueError(f"{file} is not an MNIST file: it must be a .npz archive with the "
                         f"arrays {', '.join(_KEYS)} ({e}).") from None
    return (x_train, y_train), (x_test, y_test)
