"""Finding dataset files: an offline mirror, the local cache, or a checked download.

Where a file named `name` (in the sub-folder `subdir`) is looked for, in order:

1. the mirror folder named by `DTF_DATASETS_DIR`, as `$DTF_DATASETS_DIR/subdir/name`: its
   files are used as they are (no checksum), so a mirror may hold a subset or a re-split;
2. the cache, `~/.dtf/datasets/subdir/name` (`$DTF_HOME/datasets/...` when `DTF_HOME` is set),
   used when its sha256 is the expected one;
3. a download from the canonical URL, Keras' `.../tf-keras-datasets/name` (`DTF_DATASETS_URL`
   replaces that base URL, for a server that mirrors it), into a temporary file that becomes the cached file only
   once its sha256 is checked: a failed or corrupt download leaves nothing in the cache.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request

KERAS_BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_TIMEOUT_S = 60


class DatasetUnavailableError(OSError):
    """A dataset file is in no mirror or cache and could not be downloaded."""


def cache_dir() -> str:
    """`$DTF_HOME/datasets`, `~/.dtf/datasets` by default."""
    home = os.environ.get("DTF_HOME") or os.path.join(os.path.expanduser("~"), ".dtf")
    return os.path.join(home, "datasets")


def base_url() -> str:
    url = os.environ.get("DTF_DATASETS_URL") or KERAS_BASE_URL
    return url if url.endswith("/") else url + "/"


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(name: str, sha256: str, subdir: str = "", cache_name: str | None = None,
          dataset: str = "") -> str:
    """The local path of the dataset file `name` (mirror, cache, or a fresh download).

    Args:
        name: the file's canonical name (as on the download server and in a mirror).
        sha256: its expected sha256 (hex).
        subdir: the sub-folder of the mirror and cache that holds it.
        cache_name: the name to cache it under (relative to the cache folder, or absolute);
            `name` by default.
        dataset: the dataset's name, for messages.
    """
    mirror = os.environ.get("DTF_DATASETS_DIR")
    if mirror:
        candidate = os.path.join(mirror, subdir, name)
        if os.path.isfile(candidate):
            return candidate
    target = os.path.join(cache_dir(), subdir, cache_name or name)
    if os.path.isfile(target) and sha256_of(target) == sha256:
        return target
    url = base_url() + name
    _download(url, target, sha256, name, subdir, mirror, dataset)
    return target


def _download(url, target, sha256, name, subdir, mirror, dataset):
    os.makedirs(os.path.dirname(target), exist_ok=True)
    partial = f"{target}.part-{os.getpid()}"
    print(f"Downloading data from {url}")
    digest = hashlib.sha256()
    try:
        try:
            with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response, \
                    open(partial, "wb") as out:
                for block in iter(lambda: response.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            raise DatasetUnavailableError(
                f"Could not download the {dataset or 'dataset'} file {name} from {url} "
                f"({reason}). To use it without network access, download {url} (sha256 "
                f"{sha256}) where there is network, then either put it at {target}, or put it "
                f"in a folder as {os.path.join(subdir, name)} and set the environment variable "
                "DTF_DATASETS_DIR to that folder"
                + (f" (DTF_DATASETS_DIR is {mirror!r}, which has no {os.path.join(subdir, name)})"
                   if mirror else "") + ".") from None
        got = digest.hexdigest()
        if got != sha256:
            raise ValueError(
                f"The file downloaded from {url} is corrupt or not the expected one: its sha256 "
                f"is {got}, expected {sha256}. Nothing was cached; retry, or download the file "
                f"yourself and put it at {target}.")
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
