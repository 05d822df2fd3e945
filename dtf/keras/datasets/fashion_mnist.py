"""Fashion-MNIST (Zalando's 28x28 grayscale images of 10 kinds of clothing), as
`keras.datasets.fashion_mnist`.

Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker,
8 Bag, 9 Ankle boot.

Example:
    >>> (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    >>> x_test.shape
    (10000, 28, 28)
"""

from __future__ import annotations

import gzip

import numpy as np

from dtf.keras.datasets._files import DatasetUnavailableError, base_url, fetch

SUBDIR = "fashion-mnist"
# The sha256 of the four files Keras downloads (the same files as Zalando's release).
SHA256 = {
    "train-labels-idx1-ubyte.gz":
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "train-images-idx3-ubyte.gz":
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "t10k-labels-idx1-ubyte.gz":
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "t10k-images-idx3-ubyte.gz":
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
}


def load_data():
    """Loads Fashion-MNIST: 60,000 training and 10,000 test images.

    The four files come from `$DTF_DATASETS_DIR/fashion-mnist/` when the mirror holds them
    (used as they are), else from the cache `~/.dtf/datasets/fashion-mnist/`, else they are
    downloaded from Keras' canonical URLs and their sha256 checked.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 arrays, images of shape (n, 28, 28),
        labels 0-9 of shape (n,).

    Raises:
        DatasetUnavailableError: a file is in no mirror or cache and cannot be downloaded.
    """
    try:
        paths = {name: fetch(name, sha, subdir=SUBDIR, dataset="Fashion-MNIST")
                 for name, sha in SHA256.items()}
    except DatasetUnavailableError as e:
        urls = ", ".join(base_url() + name for name in SHA256)
        raise DatasetUnavailableError(f"{e} Fashion-MNIST needs all four files, {urls}, in the "
                                      f"same '{SUBDIR}' folder.") from None
    y_train = _read_idx(paths["train-labels-idx1-ubyte.gz"], 1)
    x_train = _read_idx(paths["train-images-idx3-ubyte.gz"], 3)
    y_test = _read_idx(paths["t10k-labels-idx1-ubyte.gz"], 1)
    x_test = _read_idx(paths["t10k-images-idx3-ubyte.gz"], 3)
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if len(x) != len(y):
            raise ValueError(f"Fashion-MNIST {split} files disagree: {len(x)} images but "
                             f"{len(y)} labels.")
    return (x_train, y_train), (x_test, y_test)


def _read_idx(path, rank):
    """A gzipped IDX file of unsigned bytes (magic 0x0000080N, then N big-endian dims)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    header = np.frombuffer(data, ">u4", count=1 + rank) if len(data) >= 4 * (1 + rank) \
        else None
    if header is None or header[0] != 0x800 + rank:
        raise ValueError(f"{path} is not an IDX file of uint8 with {rank} dimension(s).")
    dims = [int(d) for d in header[1:]]
    values = np.frombuffer(data, np.uint8, offset=4 * (1 + rank))
    if values.size != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated: its header announces {dims} values, it holds "
                         f"{values.size}.")
    return values.reshape(dims).copy()
