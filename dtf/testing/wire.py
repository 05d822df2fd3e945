"""Messages of the transport's layout built by hand, valid or not, for codec tests.

The transport codec (`dtf.cluster.transport.codec`) and `dtf serve`'s messages are a 16-byte
header, the body length (u32), a msgpack body, and the tensors' bytes after it, 8-byte aligned.
Tests that check what a decoder refuses need bodies the encoders would never write: write the
body as a dict whose tensor maps carry their bytes under ``"data"``, and :func:`raw_message`
moves those bytes after the body, in order.
"""

from __future__ import annotations

import struct

import msgpack

__all__ = ["raw_message"]

_ALIGN = 8


def raw_message(header: bytes, body, data_after: bytes = b"") -> bytes:
    """`header`, the body length, `body` packed, then each tensor's ``"data"`` bytes.

    Args:
        header: the 16 header bytes (any, valid or not).
        body: a msgpack-able structure; a dict with a ``"data"`` entry of bytes inside a list
            is a tensor map: its bytes are moved after the body (any other ``"data"`` value
            stays in the map). Or the packed body as bytes.
        data_after: extra bytes appended at the very end.

    Example:
        >>> msg = raw_message(bytes(16), {"t": [{"name": "w", "data": b"abc"}]})
        >>> len(msg), msg[-3:]
        (35, b'abc')
    """
    chunks: list = []

    def strip(value):
        if isinstance(value, dict):
            data = value.get("data")
            if isinstance(data, (bytes, bytearray, memoryview)):
                chunks.append(bytes(data))
                value = {k: v for k, v in value.items() if k != "data"}
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    packed = body if isinstance(body, bytes) else msgpack.packb(strip(body), use_bin_type=True)
    out = bytearray(header + struct.pack("<I", len(packed)) + packed)
    for chunk in chunks:
        out += bytes(-len(out) % _ALIGN) + chunk
    return bytes(out + data_after)
