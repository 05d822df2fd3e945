"""Summary writers, the default-writer stack, the default step and `record_if`."""

from __future__ import annotations

import atexit
import contextlib
import threading
import weakref

import numpy as np

from dtf.summary._event_file import EventFileWriter

__all__ = ["SummaryWriter", "create_file_writer", "create_noop_writer", "flush", "get_step",
           "record_if", "set_step", "should_record_summaries"]


class _State(threading.local):
    def __init__(self):
        self.writer = None
        self.step = None
        self.record_if = True


_state = _State()
_live_writers = weakref.WeakSet()


@atexit.register
def _flush_all_at_exit():
    for writer in list(_live_writers):
        writer.close()


def _step_value(step):
    """An int step from an int, a NumPy integer, or a dtf Tensor/Variable (e.g. an optimizer's
    `iterations`), read now."""
    if hasattr(step, "numpy"):
        step = step.numpy()
    value = np.asarray(step)
    if value.ndim != 0 or value.dtype.kind not in "iub":
        raise ValueError(f"A summary step must be a scalar integer; got {step!r}.")
    return int(value)


def set_step(step):
    """Sets the default step of summaries written without `step=` (an int, or a Variable read
    at each write).

    Example:
        >>> import dtf
        >>> dtf.summary.experimental.set_step(0)
    """
    _state.step = step


def get_step():
    """The default step (what `set_step` or `writer.as_default(step)` set), or None."""
    return _state.step


def resolve_step(step):
    """The step a summary is written at: `step`, else the default one."""
    if step is None:
        step = _state.step
        if step is None:
            raise ValueError("No step set. Please specify one either through the `step` "
                             "argument or through dtf.summary.experimental.set_step()")
    return _step_value(step)


def should_record_summaries():
    """Whether a summary written now would be recorded: a default writer is set and the
    `record_if` condition holds."""
    if _state.writer is None or _state.writer._noop:
        return False
    condition = _state.record_if
    return bool(condition() if callable(condition) else condition)


@contextlib.contextmanager
def record_if(condition):
    """Records summaries only where `condition` (a bool, or a function called at each
    write) holds.

    Example:
        >>> import dtf
        >>> with dtf.summary.record_if(False):
        ...     dtf.summary.scalar("loss", 0.5, step=1)
        False
    """
    previous = _state.record_if
    _state.record_if = condition
    try:
        yield
    finally:
        _state.record_if = previous


def default_writer():
    return _state.writer


class SummaryWriter:
    """Writes summaries to an event file in `logdir`; make one with `create_file_writer`.

    Use it with `with writer.as_default(step=...):` (or `writer.set_as_default()`) so that
    `dtf.summary.scalar` and the others write to it.
    """

    _noop = False

    def __init__(self, logdir, max_queue=None, flush_millis=None, filename_suffix=None):
        self.logdir = logdir
        self._events = EventFileWriter(
            logdir, max_queue=10 if max_queue is None else max_queue,
            flush_millis=120000 if flush_millis is None else flush_millis,
            filename_suffix=".v2" if filename_suffix is None else filename_suffix)
        _live_writers.add(self)

    @property
    def path(self):
        """The event file's path."""
        return self._events.path

    def init(self):
        """Does nothing: the file is open from the start (TensorFlow's API)."""

    @contextlib.contextmanager
    def as_default(self, step=None):
        """Makes this the default writer (and `step` the default step) inside the block; the
        writer is flushed when the block ends."""
        previous_writer, previous_step = _state.writer, _state.step
        _state.writer = self
        if step is not None:
            _state.step = step
        try:
            yield self
        finally:
            _state.writer = previous_writer
            _state.step = previous_step
            self.flush()

    def set_as_default(self, step=None):
        """Makes this the default writer from now on (and `step` the default step)."""
        _state.writer = self
        if step is not None:
            _state.step = step

    def write_event(self, event: bytes):
        self._events.add_event(event)

    def flush(self):
        """Writes every pending event to the file."""
        if not self._events.closed:
            self._events.flush()

    def close(self):
        """Flushes and closes the file; later writes raise."""
        self._events.close()
        if _state.writer is self:
            _state.writer = None


class _NoopWriter(SummaryWriter):
    _noop = True

    def __init__(self):
        self.logdir = None

    @property
    def path(self):
        return None

    def write_event(self, event):
        pass

    def flush(self):
        pass

    def close(self):
        pass


def create_file_writer(logdir, max_queue=None, flush_millis=None, filename_suffix=None,
                       name=None, experimental_trackable=False):
    """A `SummaryWriter` writing a new event file in `logdir` (created if missing).

    Args:
        logdir: the folder TensorBoard will be pointed at.
        max_queue: events kept in memory before a write to disk (10).
        flush_millis: the longest time between two writes to disk (120000).
        filename_suffix: appended to the event file's name (`.v2`).
        name: ignored (TensorFlow's op name).
        experimental_trackable: ignored.

    Example:
        >>> import dtf, tempfile
        >>> writer = dtf.summary.create_file_writer(tempfile.mkdtemp())
        >>> with writer.as_default(step=0):
        ...     dtf.summary.scalar("loss", 0.25)
        True
    """
    return SummaryWriter(logdir, max_queue, flush_millis, filename_suffix)


def create_noop_writer():
    """A writer that records nothing (summaries under it return False)."""
    return _NoopWriter()


def flush(writer=None, name=None):
    """Flushes `writer`, or the default writer."""
    writer = writer if writer is not None else _state.writer
    if writer is not None:
        writer.flush()
