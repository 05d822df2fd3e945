"""keras.datasets: the offline mirror, the cache, and checked downloads from a real HTTP
server on loopback."""

import functools
import gzip
import hashlib
import http.server
import io
import os
import threading

import numpy as np
import pytest

from dtf.keras import datasets
from dtf.keras.datasets import _files, fashion_mnist, mnist

MIRROR = os.environ.get("DTF_DATASETS_DIR")
HAS_MIRROR = bool(MIRROR) and os.path.isfile(os.path.join(MIRROR, "mnist.npz"))


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty DTF_HOME, no mirror, and no way out to the internet."""
    monkeypatch.setenv("DTF_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DTF_DATASETS_DIR", raising=False)
    monkeypatch.setenv("DTF_DATASETS_URL", "http://127.0.0.1:9/")  # closed port: refused
    return tmp_path / "home" / "datasets"


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A real HTTP server on loopback serving the files of a folder; DTF_DATASETS_URL points
    at it. Yields (folder, list of requested paths)."""
    root = tmp_path / "served"
    root.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    monkeypatch.setenv("DTF_DATASETS_URL", f"http://127.0.0.1:{httpd.server_address[1]}/")
    try:
        yield root, requests
    finally:
        httpd.shutdown()
        httpd.server_close()


def _small_mnist_npz(path, n_train=5, n_test=3):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    np.savez(path, **arrays)
    return arrays, hashlib.sha256(path.read_bytes()).hexdigest()


def _idx_gz(values, rank):
    header = np.array([0x800 + rank, *values.shape], ">u4").tobytes()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
        f.write(header + values.astype(np.uint8).tobytes())
    return buf.getvalue()


# -- the mirror --------------------------------------------------------------------------------
@pytest.mark.skipif(not HAS_MIRROR, reason="needs DTF_DATASETS_DIR with mnist.npz")
def test_mnist_from_the_shared_mirror(tmp_path, monkeypatch):
    monkeypatch.setenv("DTF_HOME", str(tmp_path))
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    # the shared mirror holds the 10k official test images re-split 8k/2k
    assert x_train.shape == (8000, 28, 28) and x_test.shape == (2000, 28, 28)
    assert y_train.shape == (8000,) and y_test.shape == (2000,)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert 0 <= y_train.min() and y_train.max() <= 9 and x_train.max() > 200
    assert not (tmp_path / "datasets").exists()  # used in place, not copied to the cache


def test_mirror_files_are_used_as_they_are(tmp_path, home, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    arrays, _ = _small_mnist_npz(mirror / "mnist.npz")  # not the canonical sha256
    monkeypatch.setenv("DTF_DATASETS_DIR", str(mirror))
    (x_train, _), (x_test, _) = datasets.mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    assert x_test.shape == (3, 28, 28)


def test_fashion_mirror_uses_its_subfolder(tmp_path, home, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "fashion-mnist").mkdir(parents=True)
    rng = np.random.default_rng(1)
    images = {"train": rng.integers(0, 256, (6, 28, 28)), "t10k": rng.integers(0, 256, (2, 28, 28))}
    for split, x in images.items():
        (mirror / "fashion-mnist" / f"{split}-images-idx3-ubyte.gz").write_bytes(_idx_gz(x, 3))
        (mirror / "fashion-mnist" / f"{split}-labels-idx1-ubyte.gz").write_bytes(
            _idx_gz(np.arange(len(x)) % 10, 1))
    monkeypatch.setenv("DTF_DATASETS_DIR", str(mirror))
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    np.testing.assert_array_equal(x_train, images["train"])
    assert y_train.tolist() == [0, 1, 2, 3, 4, 5] and y_test.tolist() == [0, 1]
    assert x_test.dtype == np.uint8 and x_test.shape == (2, 28, 28)


# -- downloads -----------------------------------------------------------------------------------
def test_download_checks_the_sha256_and_caches(home, server, monkeypatch, capsys):
    root, requests = server
    arrays, digest = _small_mnist_npz(root / "mnist.npz")
    monkeypatch.setattr(mnist, "SHA256", digest)
    _, (_, y_test) = mnist.load_data()
    np.testing.assert_array_equal(y_test, arrays["y_test"])
    assert (home / "mnist.npz").is_file() and requests == ["/mnist.npz"]
    assert "Downloading data from http://127.0.0.1" in capsys.readouterr().out
    mnist.load_data()  # from the cache: no second request
    assert requests == ["/mnist.npz"]
    mnist.load_data(path="other.npz")  # `path` names the cache file
    assert (home / "other.npz").is_file() and len(requests) == 2


def test_bad_checksum_is_an_error_and_leaves_nothing_cached(home, server):
    root, requests = server
    _small_mnist_npz(root / "mnist.npz")  # served, but not the file with mnist.SHA256
    with pytest.raises(ValueError, match=r"sha256 is [0-9a-f]{64}, expected 731c5ac6"):
        mnist.load_data()
    assert requests == ["/mnist.npz"]
    assert not home.exists() or os.listdir(home) == []


def test_cached_file_with_a_wrong_hash_is_downloaded_again(home, server, monkeypatch):
    root, requests = server
    arrays, digest = _small_mnist_npz(root / "mnist.npz")
    monkeypatch.setattr(mnist, "SHA256", digest)
    home.mkdir(parents=True)
    (home / "mnist.npz").write_bytes(b"truncated")
    (x_train, _), _ = mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    assert requests == ["/mnist.npz"]


def test_fashion_download(home, server, monkeypatch):
    root, requests = server
    rng = np.random.default_rng(2)
    hashes = {}
    for split, n in (("train", 4), ("t10k", 3)):
        for kind, data in (("images", _idx_gz(rng.integers(0, 256, (n, 28, 28)), 3)),
                           ("labels", _idx_gz(np.arange(n), 1))):
            name = f"{split}-{kind}-idx{3 if kind == 'images' else 1}-ubyte.gz"
            (root / name).write_bytes(data)
            hashes[name] = hashlib.sha256(data).hexdigest()
    monkeypatch.setattr(fashion_mnist, "SHA256", hashes)
    (x_train, _), (_, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (4, 28, 28) and y_test.tolist() == [0, 1, 2]
    assert sorted(os.listdir(home / "fashion-mnist")) == sorted(hashes)
    assert len(requests) == 4


def test_offline_without_mirror_says_what_to_download_and_where(home):
    with pytest.raises(datasets.DatasetUnavailableError) as info:
        mnist.load_data()
    text = str(info.value)
    assert "http://127.0.0.1:9/mnist.npz" in text and mnist.SHA256 in text
    assert str(home / "mnist.npz") in text and "DTF_DATASETS_DIR" in text
    assert isinstance(info.value, OSError)
    assert not (home / "mnist.npz").exists()
    with pytest.raises(datasets.DatasetUnavailableError, match="all four files"):
        fashion_mnist.load_data()


def test_offline_with_a_mirror_lacking_the_file_names_the_mirror(tmp_path, home, monkeypatch):
    monkeypatch.setenv("DTF_DATASETS_DIR", str(tmp_path))
    with pytest.raises(datasets.DatasetUnavailableError, match="which has no mnist.npz"):
        mnist.load_data()


def test_not_an_mnist_file_is_a_clear_error(tmp_path, home, monkeypatch):
    np.savez(tmp_path / "mnist.npz", images=np.zeros(3))
    monkeypatch.setenv("DTF_DATASETS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="not an MNIST file.*x_train"):
        mnist.load_data()


def test_default_locations(monkeypatch):
    monkeypatch.delenv("DTF_HOME", raising=False)
    monkeypatch.delenv("DTF_DATASETS_URL", raising=False)
    assert _files.cache_dir() == os.path.join(os.path.expanduser("~"), ".dtf", "datasets")
    assert _files.base_url() == "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
    monkeypatch.setenv("DTF_HOME", "/somewhere")
    assert _files.cache_dir() == os.path.join("/somewhere", "datasets")
