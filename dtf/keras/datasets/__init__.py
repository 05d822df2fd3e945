"""`keras.datasets`: loaders of the classic small datasets.

Files are found in the offline mirror `DTF_DATASETS_DIR`, in the cache `~/.dtf/datasets`
(`DTF_HOME` overrides `~/.dtf`), or downloaded from Keras' canonical URLs with their sha256
checked (see `_files.py`).

Example:
    >>> from dtf import keras
    >>> (x_train, y_train), _ = keras.datasets.mnist.load_data()
"""

from dtf.keras.datasets import fashion_mnist, mnist
from dtf.keras.datasets._files import DatasetUnavailableError

__all__ = ["DatasetUnavailableError", "fashion_mnist", "mnist"]
