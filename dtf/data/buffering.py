"""prefetch (a background thread) and cache (in memory or in a file)."""

from __future__ import annotations

import os
import queue
import threading

import numpy as np

from dtf.data import structure
from dtf.data.dataset import AUTOTUNE, UnaryDataset, close_iterator, int_arg
from dtf.data.plan import IndexPlan, rows_of
from dtf.errors import InvalidArgumentError

_AUTOTUNE_PREFETCH = 4  # elements ahead when the size is left to dtf


class _PrefetchDataset(UnaryDataset):
    def __init__(self, input_dataset, buffer_size):
        super().__init__(input_dataset)
        size = int_arg(buffer_size, "buffer_size", "prefetch")
        if size < AUTOTUNE:
            raise InvalidArgumentError(f"prefetch: buffer_size must be >= 0 or set buffer_size "
                                       f"to be -1 (dtf.data.AUTOTUNE) for auto-tuning, got "
                                       f"{size}.")
        self._size = _AUTOTUNE_PREFETCH if size == AUTOTUNE else size

    def _elements(self):
        if self._size == 0:
            return self._input._elements()
        return _prefetched(self._input._elements, self._size)


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error):
        self.error = error


_END = object()


def _prefetched(start_pass, size):
    """The elements of `start_pass()`, computed by a daemon thread up to `size` ahead. The
    thread stops when the consumer is done or abandons the pass (this generator is closed or
    collected); an error in the thread is raised in the consumer, at the element it hit."""
    q = queue.Queue(maxsize=size)
    stop = threading.Event()

    def put(item):
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        it = None
        try:
            it = start_pass()
            for element in it:
                if not put(element):
                    return
            put(_END)
        except BaseException as e:  # noqa: BLE001 - forwarded to the consumer, raised there
            put(_Failure(e))
        finally:
            if it is not None:
                close_iterator(it)

    thread = threading.Thread(target=produce, name="dtf.data.prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if type(item) is _Failure:
                raise item.error
            yield item
    finally:
        stop.set()


class _CacheDataset(UnaryDataset):
    def __init__(self, input_dataset, filename):
        super().__init__(input_dataset)
        if filename is None:
            filename = ""
        if hasattr(filename, "numpy"):
            filename = filename.numpy()
        if isinstance(filename, bytes):
            filename = filename.decode()
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"cache: filename must be a string, got {type(filename).__name__}.")
        self._path = os.fspath(filename) + ".dtfcache" if os.fspath(filename) else None
        self._memory = None  # the first complete pass: a list of flat elements or of chunks
        self._lock = threading.Lock()

    def _plan(self):
        if self._path is not None:
            return None
        inner = self._input._plan()
        if inner is None:
            return None
        return IndexPlan(inner.source, lambda: self._cached_pass(inner.chunks))

    def _cached_pass(self, start_pass):
        """A pass that replays the cache, or runs `start_pass()` and keeps what it yields
        once the pass completes (a partial pass is not kept: it would truncate the data)."""
        cached = self._memory
        if cached is not None:
            yield from cached
            return
        record = []
        for item in start_pass():
            record.append(item)
            yield item
        with self._lock:
            if self._memory is None:
                self._memory = record

    def _elements(self):
        plan = self._plan()
        if plan is not None:
            return rows_of(plan)
        if self._path is None:
            return self._cached_pass(self._input._elements)
        if os.path.exists(self._path):
            return _read_cache(self._path, self.element_spec)
        return _write_cache(self._path, self._input._elements())


# -- the cache file -------------------------------------------------------------------------------
# A sequence of .npy records (np.save, no pickles): a header with the format version and the
# dtypes of the components, then blocks of up to _BLOCK elements, each a count and either one
# stacked array per component (when the block's shapes agree) or each element's components;
# a count of -1 ends the file. It is written to a temporary name and renamed when complete.
_VERSION = 1
_BLOCK = 256


def _write_cache(path, elements):
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
    complete = False
    try:
        with open(tmp, "wb") as f:
            header_written = False
            block = []
            for flat in elements:
                if not header_written:
                    np.save(f, np.array([_VERSION, len(flat)], np.int64))
                    np.save(f, np.array([np.asarray(c).dtype.str for c in flat]))
                    header_written = True
                block.append(flat)
                if len(block) == _BLOCK:
                    _write_block(f, block)
                    block = []
                yield flat
            if not header_written:
                np.save(f, np.array([_VERSION, 0], np.int64))
                np.save(f, np.array([], dtype="<U1"))
            if block:
                _write_block(f, block)
            np.save(f, np.array([-1, 0], np.int64))
        complete = True
    finally:
        if complete:
            os.replace(tmp, path)
        elif os.path.exists(tmp):
            os.remove(tmp)


def _write_block(f, block):
    columns = list(zip(*block))
    uniform = all(len({np.shape(c) for c in column}) == 1 for column in columns)
    np.save(f, np.array([len(block), int(uniform)], np.int64))
    if uniform:
        for column in columns:
            np.save(f, np.stack(column))
    else:
        for flat in block:
            for c in flat:
                np.save(f, np.asarray(c))


def _read_cache(path, spec):
    flat_specs = structure.flatten(spec)
    with open(path, "rb") as f:
        try:
            version, n_components = np.load(f).tolist()
            dtype_strs = np.load(f).tolist()
        except (ValueError, EOFError, OSError) as e:
            raise ValueError(f"cache: {path} is not a dtf.data cache file ({e}). Delete it to "
                             "rebuild the cache.") from None
        if version != _VERSION or (n_components and (
                n_components != len(flat_specs) or any(
                    np.dtype(d) != s.dtype._np for d, s in zip(dtype_strs, flat_specs)))):
            raise ValueError(f"cache: {path} was written by a different pipeline (its elements "
                             f"have dtypes {dtype_strs}, this dataset's are "
                             f"{[s.dtype.name for s in flat_specs]}). Delete it, or give this "
                             "pipeline its own cache file name.")
        while True:
            count, uniform = np.load(f).tolist()
            if count < 0:
                return
            if uniform:
                columns = [np.load(f) for _ in range(n_components)]
                for j in range(count):
                    yield tuple(structure.to_host(c[j]) for c in columns)
            else:
                for _ in range(count):
                    yield tuple(structure.to_host(np.load(f)) for _ in range(n_components))
