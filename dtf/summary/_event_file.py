"""TFRecord-framed event files: what TensorBoard reads.

Each record is `uint64 length | uint32 masked_crc32c(length) | data | uint32
masked_crc32c(data)`, little-endian, with CRC-32C (Castagnoli) masked as TensorFlow does:
`((crc >> 15 | crc << 17) + 0xa282ead8) mod 2**32`. The file starts with an `Event` whose
`file_version` is `brain.Event:2`. Its name is TensorFlow's:
`events.out.tfevents.<seconds>.<host>.<pid>.<n>.v2`.
"""

from __future__ import annotations

import itertools
import os
import socket
import struct
import threading
import time

from dtf.summary._proto import encode_event

__all__ = ["EventFileWriter", "crc32c", "masked_crc32c"]


def _make_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _make_table()


def crc32c(data: bytes) -> int:
    """CRC-32C of `data` (table-driven; records are small: a scalar event is ~70 bytes)."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame_record(data: bytes) -> bytes:
    """One TFRecord: the length, its CRC, the data, its CRC."""
    header = struct.pack("<Q", len(data))
    return (header + struct.pack("<I", masked_crc32c(header)) + data
            + struct.pack("<I", masked_crc32c(data)))


_file_counter = itertools.count()


class EventFileWriter:
    """Appends events to a new event file in `logdir` (created if missing).

    Events are buffered and reach the disk when `max_queue` are pending, when `flush_millis`
    have passed since the last flush, on `flush()` and on `close()`.
    """

    def __init__(self, logdir, max_queue=10, flush_millis=120000, filename_suffix=".v2"):
        self.logdir = os.fspath(logdir)
        os.makedirs(self.logdir, exist_ok=True)
        now = time.time()
        name = (f"events.out.tfevents.{int(now):010d}.{socket.gethostname()}.{os.getpid()}."
                f"{next(_file_counter)}{filename_suffix or ''}")
        self.path = os.path.join(self.logdir, name)
        self._file = open(self.path, "wb")  # noqa: SIM115  (open until close())
        self._max_queue = max(int(max_queue), 1)
        self._flush_seconds = flush_millis / 1000.0
        self._pending = []
        self._last_flush = now
        self._lock = threading.Lock()
        header = encode_event(int(now), file_version="brain.Event:2", source_writer="dtf.summary")
        self._file.write(frame_record(header))
        self._file.flush()

    @property
    def closed(self):
        return self._file is None

    def add_event(self, event: bytes):
        """Queues one encoded `Event`."""
        with self._lock:
            if self._file is None:
                raise ValueError(f"The summary writer for {self.logdir} is closed; create a new "
                                 "one with dtf.summary.create_file_writer.")
            self._pending.append(frame_record(event))
            if (len(self._pending) >= self._max_queue
                    or time.time() - self._last_flush >= self._flush_seconds):
                self._flush_locked()

    def flush(self):
        with self._lock:
            if self._file is not None:
                self._flush_locked()

    def _flush_locked(self):
        if self._pending:
            self._file.write(b"".join(self._pending))
            self._pending.clear()
        self._file.flush()
        self._last_flush = time.time()

    def close(self):
        with self._lock:
            if self._file is None:
                return
            self._flush_locked()
            self._file.close()
            self._file = None
