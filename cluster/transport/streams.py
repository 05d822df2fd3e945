"""The client side of a parameter server's ``Steps`` stream (see :mod:`grpc_service`).

A `Stream` is one open bidirectional gRPC stream: requests go into a queue that gRPC's sending
thread reads, and replies come back in order. A stream has no per-message deadline, so one
watchdog thread per process cancels a stream whose reply is overdue: its `deadline` is set
while the client waits for a reply.

Example:
    >>> stream = Stream(channel.stream_stream(STEPS_METHOD), metadata)  # doctest: +SKIP
    >>> stream.requests.put(request); reply = next(stream.replies)  # doctest: +SKIP
"""

from __future__ import annotations

import queue
import threading
import time
import weakref

__all__ = ["WATCHDOG_PERIOD_S", "Stream"]

# How often the watchdog looks for stream replies past their deadline.
WATCHDOG_PERIOD_S = 0.5


class Stream:
    """A client's open ``Steps`` stream: requests go into a queue that gRPC's sending thread
    reads, replies come back in order. One call at a time: `pending` refers to the call whose
    reply is due; `deadline` (monotonic seconds) is set while `finish` waits for that reply,
    and the watchdog gives up on it then (a reply that came in time is returned however late
    `finish` asks for it, as a unary call's)."""

    __slots__ = ("__weakref__", "broken", "deadline", "pending", "replies", "requests",
                 "timed_out")

    def __init__(self, method, metadata):
        self.requests = queue.SimpleQueue()
        self.pending = None  # weakref to the _Call whose reply comes next
        self.deadline = None
        self.timed_out = self.broken = False
        self.replies = method(iter(self.requests.get, None), metadata=metadata)
        # A stream dropped unclosed (its client garbage-collected) still ends the request
        # iterator, or gRPC's thread sending the requests would wait on the queue forever.
        weakref.finalize(self, self.requests.put, None)
        _watchdog.watch(self)

    def close(self) -> None:
        self.broken = True
        self.requests.put(None)  # ends the request iterator, so gRPC's sending thread exits
        self.replies.cancel()


class _Watchdog:
    """One thread per process that cancels streams whose reply is past its deadline (a
    stream has no per-message deadline of its own); it runs while streams exist."""

    def __init__(self):
        self._streams = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread = None

    def watch(self, stream: Stream) -> None:
        with self._lock:
            self._streams.add(stream)
            if self._thread is None or not self._thread.is_alive():  # none yet, or forked
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="dtf-stream-watchdog")
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(WATCHDOG_PERIOD_S)
            with self._lock:
                streams = list(self._streams)
                if not streams:
                    self._thread = None
                    return
            now = time.monotonic()
            for stream in streams:
                deadline = stream.deadline
                if deadline is not None and now > deadline and not stream.broken:
                    stream.timed_out = True
                    stream.close()


_watchdog = _Watchdog()
