"""A strict msgpack reader that returns ``bin`` values as views of the input, not copies.

msgpack's own unpacker copies every ``bin`` into a new ``bytes``; for a 40 MB tensor that is a
40 MB copy on every receive. This reader walks the same format in Python and hands ``bin``
values back as ``memoryview`` slices of the message, so :func:`codec.decode` can wrap them with
``np.frombuffer`` without copying. It is used for large messages only (the Python walk costs a
microsecond or so per value, which small messages feel and large ones do not).

It is stricter than msgpack: extension types, the reserved byte 0xc1, non-str map keys and
repeated keys are refused; containers nest at most ``max_depth`` deep; every declared length is
checked against the bytes that remain before anything is sliced, so nothing it allocates is
larger than the message. Errors are ``ValueError`` with the offset.

Example:
    >>> import msgpack
    >>> value = read(memoryview(msgpack.packb({"a": [1, b"xy"]})), max_len=16, max_depth=4)
    >>> value["a"][0], bytes(value["a"][1])
    (1, b'xy')
"""

from __future__ import annotations

import struct

__all__ = ["read"]

_INTS = {
    0xCC: struct.Struct(">B"), 0xCD: struct.Struct(">H"), 0xCE: struct.Struct(">I"),
    0xCF: struct.Struct(">Q"), 0xD0: struct.Struct(">b"), 0xD1: struct.Struct(">h"),
    0xD2: struct.Struct(">i"), 0xD3: struct.Struct(">q"),
    0xCA: struct.Struct(">f"), 0xCB: struct.Struct(">d"),
}
_STRS = {0xD9: struct.Struct(">B"), 0xDA: struct.Struct(">H"), 0xDB: struct.Struct(">I")}
_BINS = {0xC4: struct.Struct(">B"), 0xC5: struct.Struct(">H"), 0xC6: struct.Struct(">I")}
_ARRAYS = {0xDC: struct.Struct(">H"), 0xDD: struct.Struct(">I")}
_MAPS = {0xDE: struct.Struct(">H"), 0xDF: struct.Struct(">I")}
_CONSTANTS = {0xC0: None, 0xC2: False, 0xC3: True}


def read(view: memoryview, max_len: int, max_depth: int):
    """Reads exactly one msgpack value filling ``view`` (a 1-D byte memoryview).

    Args:
        view: the bytes; ``bin`` values come back as slices of it.
        max_len: the most entries in an array or map, and the most bytes in a str.
        max_depth: the deepest nesting of arrays and maps.

    Raises:
        ValueError: the bytes are not one valid value within the limits.
    """
    end = len(view)

    def need(pos: int, n: int) -> None:
        if n > end - pos:
            raise ValueError(f"at byte {pos}: {n} bytes declared, {end - pos} remain")

    def length(pos: int, fmt: struct.Struct) -> tuple[int, int]:
        need(pos, fmt.size)
        return fmt.unpack_from(view, pos)[0], pos + fmt.size

    def value(pos: int, depth: int):
        if pos >= end:
            raise ValueError(f"at byte {pos}: the message ends inside a value")
        byte = view[pos]
        pos += 1
        if byte <= 0x7F:
            return byte, pos
        if byte >= 0xE0:
            return byte - 0x100, pos
        if byte >= 0xA0 and byte <= 0xBF:
            return text(pos, byte & 0x1F)
        if byte >= 0x80 and byte <= 0x9F:
            count = byte & 0x0F
            return (array if byte >= 0x90 else mapping)(pos, count, depth)
        if byte in _CONSTANTS:
            return _CONSTANTS[byte], pos
        if byte in _INTS:
            fmt = _INTS[byte]
            need(pos, fmt.size)
            return fmt.unpack_from(view, pos)[0], pos + fmt.size
        if byte in _STRS:
            n, pos = length(pos, _STRS[byte])
            return text(pos, n)
        if byte in _BINS:
            n, pos = length(pos, _BINS[byte])
            need(pos, n)
            return view[pos:pos + n], pos + n
        if byte in _ARRAYS:
            n, pos = length(pos, _ARRAYS[byte])
            return array(pos, n, depth)
        if byte in _MAPS:
            n, pos = length(pos, _MAPS[byte])
            return mapping(pos, n, depth)
        raise ValueError(f"at byte {pos - 1}: type byte {byte:#04x} (extension or reserved) "
                         "is not allowed")

    def text(pos: int, n: int):
        if n > max_len:
            raise ValueError(f"at byte {pos}: str of {n} bytes is over the limit {max_len}")
        need(pos, n)
        try:
            return str(view[pos:pos + n], "utf-8"), pos + n
        except UnicodeDecodeError as e:
            raise ValueError(f"at byte {pos}: str is not UTF-8 ({e.reason})") from None

    def container(pos: int, n: int, depth: int, what: str) -> None:
        if depth >= max_depth:
            raise ValueError(f"at byte {pos}: nesting deeper than {max_depth}")
        if n > max_len:
            raise ValueError(f"at byte {pos}: {what} of {n} entries is over the limit {max_len}")
        need(pos, n)  # every entry takes at least one byte

    def array(pos: int, n: int, depth: int):
        container(pos, n, depth, "array")
        items = []
        for _ in range(n):
            item, pos = value(pos, depth + 1)
            items.append(item)
        return items, pos

    def mapping(pos: int, n: int, depth: int):
        container(pos, 2 * n, depth, "map")
        items = {}
        for _ in range(n):
            key_pos = pos
            key, pos = value(pos, depth + 1)
            if type(key) is not str:
                raise ValueError(f"at byte {key_pos}: map keys must be str, got {type(key).__name__}")
            if key in items:
                raise ValueError(f"at byte {key_pos}: map key {key!r} repeats")
            items[key], pos = value(pos, depth + 1)
        return items, pos

    result, pos = value(0, 0)
    if pos != end:
        raise ValueError(f"{end - pos} unexpected bytes after the value")
    return result
