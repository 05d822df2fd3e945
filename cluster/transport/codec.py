"""The wire format of the parameter transport: a fixed header, a msgpack map, the tensor data.

Every message is::

    header (16 bytes, little-endian):  magic b"DTFW" | format version u8 | kind u8 |
                                       reserved u16 (0) | request id u64
    body length (u32, little-endian)
    body:                              one msgpack map whose keys depend on the kind
    data:                              the tensors' bytes, in the order the body lists them

Tensors inside a body are maps ``{"name": str, "dtype": str, "shape": [int, ...]}``; the raw
little-endian, C-ordered bytes of each follow the body, each starting at the next multiple of
8 bytes from the start of the message (zero padding between), the last one ending the
message. Keeping the data out of the body lets msgpack's C unpacker read the (small) body and
each array be a view of the received message: no copy of tensor data and no per-value Python
work, whatever the size.

Kinds and their bodies:

===========  ==========================================================================
PUSH         ``worker`` (int), ``step`` (int), ``shard_size`` (int), ``gradients`` (list of
             tensors), ``assigns`` (list of tensors: new values of non-trainable variables)
PULL         ``known`` (map name -> version the client holds, or nil: send everything),
             ``after_step`` (int or nil: first wait until this many steps are applied),
             ``generation`` (str or nil: the server generation ``known`` came from),
             ``timeout_ms`` (int: the longest the server may wait for ``after_step``)
PULL_REPLY   ``tensors`` (list of tensors), ``versions`` (map name -> version, same names),
             ``generation`` (str: the server's generation)
ERROR        ``code`` (str, ``[A-Z_]+``), ``message`` (str)
ACK          ``result`` (str, one of :data:`PUSH_RESULTS`: what the server did with a push
             or an update; an update answers ``applied`` or ``duplicate``)
UPDATE       ``worker`` (int), ``sequence`` (int), ``gradients`` (list of tensors),
             ``deltas`` (list of tensors: amounts to add to variables): a custom-loop step
PUSH_PULL    a push and the pull of the next step in one call: ``worker``, ``step``,
             ``shard_size``, ``gradients``, ``assigns`` as PUSH; ``known``,
             ``generation``, ``timeout_ms`` as PULL (the server waits for ``step`` to be
             applied in sync mode)
PUSH_PULL_   ``result`` (str, one of :data:`PUSH_RESULTS`), then ``tensors``, ``versions``,
REPLY        ``generation`` as PULL_REPLY (no tensors when the result is ``wait``)
===========  ==========================================================================

Format version 4 (this one) moved the tensor data out of the body (version 3 carried it as
msgpack ``bin`` inside each tensor map, which took either a copy or a walk of the body in
Python to read); version 3 added PUSH_PULL and PUSH_PULL_REPLY; version 2 had added
``shard_size``, ``assigns``, ``after_step``, ``generation`` and ``timeout_ms`` and replaced the
ack's ``applied``/``versions`` by ``result``. A peer of another version is refused by the
header check.

:func:`decode` is written for hostile input: it checks the message size against the
receiver's :class:`Limits` before unpacking anything, unpacks with msgpack's own length limits
(so no declared length can make it allocate more than the message holds), rejects extension
types, unknown or missing keys, wrong types, out-of-range integers, dtypes outside the
whitelist, ``bin`` values, tensors whose bytes run past the message and bytes after the last
tensor. Whatever is wrong, it raises :class:`TransportError` and nothing else. Decoded arrays
are views of the received message (read-only for ``bytes``). Encoding copies each array once,
into the message.

This module is longer than the ~800 lines the layout asks for, on purpose: it is the whole
wire format, each kind's encoder beside its validating decoder, so a field is changed in one
place.

Example:
    >>> import numpy as np
    >>> wire = encode_push(7, worker=0, step=3, shard_size=32,
    ...                    gradients={"dense/kernel": np.ones(2, "float32")})
    >>> msg = decode(wire)
    >>> msg.kind, msg.request_id, msg.step, msg.gradients["dense/kernel"].tolist()
    (<Kind.PUSH: 1>, 7, 3, [1.0, 1.0])
"""

from __future__ import annotations

import functools
import re
import struct
import threading

import msgpack
import numpy as np
from dtf.cluster.transport.messages import (
    DEFAULT_LIMITS,
    Ack,
    ErrorReply,
    Kind,
    Limits,
    PullReply,
    PullRequest,
    PushPullReply,
    PushPullRequest,
    PushRequest,
    TransportError,
    UpdateRequest,
)

__all__ = [
    "FORMAT_VERSION",
    "PUSH_RESULTS",
    "WIRE_DTYPES",
    "Ack",
    "ErrorReply",
    "Kind",
    "Limits",
    "PullReply",
    "PullRequest",
    "PushPullReply",
    "PushPullRequest",
    "PushRequest",
    "TransportError",
    "UpdateRequest",
    "decode",
    "encode_ack",
    "encode_error",
    "encode_pull_reply",
    "encode_pull_request",
    "encode_push",
    "encode_push_pull",
    "encode_push_pull_reply",
    "encode_update",
    "peek_request_id",
]

MAGIC = b"DTFW"
FORMAT_VERSION = 4
_HEADER = struct.Struct("<4sBBHQ")
HEADER_SIZE = _HEADER.size
_U64_MAX = 2**64 - 1
_I63_MAX = 2**63 - 1
_I63_MIN = -(2**63)  # versions are any int64: a client may say -1 for "never seen"
_MAX_DIM = 2**48  # a bound on one axis; the byte-count check catches the rest
_BODY_LENGTH = struct.Struct("<I")
_DATA_ALIGN = 8  # each tensor's bytes start at a multiple of this from the message start
_PADDING = bytes(_DATA_ALIGN)
_CODE_RE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
# What a parameter server can answer to a push: the values of
# `dtf.cluster.parameter_server.Push`, kept here so the codec needs no server code.
PUSH_RESULTS = ("applied", "pending", "duplicate", "stale", "wait")
MAX_GENERATION_LENGTH = 128
MAX_TIMEOUT_MS = 7 * 24 * 3600 * 1000  # a week: a bound, not a policy

# The dtypes a tensor may carry; anything else (object, strings, structured...) is refused.
WIRE_DTYPES = {
    name: np.dtype(name).newbyteorder("<")
    for name in (
        "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float16", "float32", "float64", "complex64", "complex128",
    )
}


# ----------------------------------------------------------------------------- encoding

_packers = threading.local()  # .packer: this thread's msgpack Packer


def _pack(obj) -> bytes:
    # One Packer per thread, reused: msgpack.packb builds a new one (and its buffer) per call,
    # the larger part of packing the small objects the encoders pack.
    try:
        packer = _packers.packer
    except AttributeError:
        packer = _packers.packer = msgpack.Packer(use_bin_type=True)
    return packer.pack(obj)


def _array_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x90 | n,))
    return b"\xdc" + struct.pack(">H", n) if n < 65536 else b"\xdd" + struct.pack(">I", n)


def _map_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x80 | n,))
    return b"\xde" + struct.pack(">H", n) if n < 65536 else b"\xdf" + struct.pack(">I", n)


# Packed once: the constant parts of a tensor entry. Encoding runs on every push and pull, so
# the per-tensor work is one dict lookup (an entry is packed once per name, dtype and shape).
_TENSOR_START = _map_header(3) + _pack("name")
_WIRE_ENTRY = {}  # any byte order of a wire dtype -> (wire dtype, packed dtype field + shape key)
for _name, _wire in WIRE_DTYPES.items():
    _entry = (_wire, _pack("dtype") + _pack(_name) + _pack("shape"))
    for _dtype in (_wire, _wire.newbyteorder(">"), np.dtype(_name)):
        _WIRE_ENTRY[_dtype] = _entry
_PUSH_KEYS = [_pack(key) for key in ("worker", "step", "shard_size", "gradients", "assigns")]
_UPDATE_KEYS = [_pack(key) for key in ("worker", "sequence", "gradients", "deltas")]
_PULL_REPLY_KEYS = [_pack(key) for key in ("tensors", "versions", "generation")]
# A push_pull's three leading ints go in one struct.pack: each as msgpack int 64 (0xd3), a
# valid if not minimal encoding that both readers take, so the layout is fixed.
_PUSH_PULL_INTS = struct.Struct(
    ">B" + "".join(f"{len(_pack(key))}sBq" for key in ("worker", "step", "shard_size")))
_PUSH_PULL_KEY_BYTES = [_pack(key) for key in ("worker", "step", "shard_size")]
_PUSH_PULL_TAIL_KEYS = [_pack(key) for key in ("gradients", "assigns", "known", "generation",
                                                "timeout_ms")]
_NIL = _pack(None)
# The reply's constant start for each push result: map header, "result", the result.
_PUSH_PULL_REPLY_START = {result: _map_header(4) + _pack("result") + _pack(result)
                          + _PULL_REPLY_KEYS[0] for result in PUSH_RESULTS}


def _header(kind: Kind, request_id: int) -> bytes:
    if type(request_id) is not int or not 0 <= request_id <= _U64_MAX:
        raise TransportError(f"request_id must be an int in [0, 2**64), got {request_id!r}")
    return _HEADER.pack(MAGIC, FORMAT_VERSION, int(kind), 0, request_id)


def _check_int(what: str, value, low: int = 0, high: int = _I63_MAX) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TransportError(f"{what} must be an int, got {type(value).__name__}")
    value = int(value)
    if not low <= value <= high:
        raise TransportError(f"{what} must be in [{low}, {high}], got {value}")
    return value


# (name, dtype, shape) -> the packed tensor entry: a worker sends the same tensors every
# step, so each entry is packed once. Only entries of arrays that go on the wire as they are
# (exact ndarray, wire dtype, C order) are kept; bounded, cleared when full.
_ENTRY_CACHE: dict = {}
_ENTRY_CACHE_SIZE = 8192


def _tensor_parts(parts: list, data: list, tensors: dict, what: str = "tensors") -> None:
    """Appends the body entries of `tensors` to `parts` and their arrays to `data`."""
    if not isinstance(tensors, dict):
        raise TransportError(f"{what} must be a dict of name -> array, got {type(tensors)}")
    parts.append(_array_header(len(tensors)))
    cache = _ENTRY_CACHE
    for name, array in tensors.items():
        if type(array) is np.ndarray and array.flags.c_contiguous:
            entry = cache.get((name, array.dtype, array.shape))
            if entry is not None:
                parts.append(entry)
                data.append(array)
                continue
        _new_tensor_entry(parts, data, name, array)


def _message(header: bytes, parts: list, data: list) -> bytes:
    """header | body length | body (`parts` joined) | each array of `data`, 8-byte aligned:
    b"".join takes each array's buffer, so its bytes are copied once, into the message."""
    body = b"".join(parts)
    pieces = [header, _BODY_LENGTH.pack(len(body)), body]
    offset = HEADER_SIZE + 4 + len(body)
    for array in data:
        pad = -offset % _DATA_ALIGN
        if pad:
            pieces.append(_PADDING[:pad])
        pieces.append(array)
        offset += pad + array.nbytes
    return b"".join(pieces)


def _new_tensor_entry(parts: list, data: list, name, array) -> None:
    """Appends one tensor's entry and data, checking name and dtype; caches the packed entry."""
    if not isinstance(name, str):
        raise TransportError(f"tensor names must be str, got {name!r}")
    original = array
    array = np.asarray(array)
    entry = _WIRE_ENTRY.get(array.dtype)
    if entry is None:
        raise TransportError(
            f"tensor {name!r} has dtype {array.dtype}, which the wire format does not "
            f"carry; cast it to one of {sorted(WIRE_DTYPES)}"
        )
    wire, dtype_and_shape_key = entry
    # Little-endian and C-ordered; no copy for the usual native contiguous arrays.
    array = np.asarray(array, dtype=wire, order="C")
    packed = b"".join((_TENSOR_START, _pack(name), dtype_and_shape_key, _pack(array.shape)))
    if type(original) is np.ndarray and original.flags.c_contiguous and original.dtype == wire:
        if len(_ENTRY_CACHE) >= _ENTRY_CACHE_SIZE:
            _ENTRY_CACHE.clear()
        _ENTRY_CACHE[(name, array.dtype, array.shape)] = packed
    parts.append(packed)
    data.append(memoryview(array.reshape(-1).view(np.uint8)))


def _versions(what: str, versions: dict) -> dict:
    if not isinstance(versions, dict):
        raise TransportError(f"{what} must be a dict of name -> version, got {type(versions)}")
    for name, version in versions.items():
        # Checked in place (this runs on every pull); the error text is built only on failure.
        if type(name) is not str or type(version) is not int or not \
                _I63_MIN <= version <= _I63_MAX:
            if not isinstance(name, str):
                raise TransportError(f"{what} names must be str, got {name!r}")
            return {n: _check_int(f"{what}[{n!r}]", v, _I63_MIN) for n, v in versions.items()}
    return versions


def _generation(value) -> str:
    if not isinstance(value, str) or len(value) > MAX_GENERATION_LENGTH:
        raise TransportError(f"generation must be a str of at most {MAX_GENERATION_LENGTH} "
                             f"characters, got {value!r}")
    return value


def encode_push(request_id: int, worker: int, step: int, shard_size: int, gradients: dict,
                assigns: dict | None = None) -> bytes:
    """Encodes a worker's push: its gradients for ``step`` computed on ``shard_size``
    examples, and ``assigns`` (new values of non-trainable variables; None: none).

    Example:
        >>> len(encode_push(1, 0, 0, 8, {"b": np.zeros(3, "float32")})) > 16
        True
    """
    header = _header(Kind.PUSH, request_id)
    parts = [
        _map_header(5),
        _PUSH_KEYS[0], _pack(_check_int("worker", worker)),
        _PUSH_KEYS[1], _pack(_check_int("step", step)),
        _PUSH_KEYS[2], _pack(_check_int("shard_size", shard_size)),
        _PUSH_KEYS[3],
    ]
    data = []
    _tensor_parts(parts, data, gradients, "gradients")
    parts.append(_PUSH_KEYS[4])
    _tensor_parts(parts, data, {} if assigns is None else assigns, "assigns")
    return _message(header, parts, data)


def encode_update(request_id: int, worker: int, sequence: int, gradients: dict,
                  deltas: dict) -> bytes:
    """Encodes a custom-loop step's changes: ``gradients`` for the optimizer and ``deltas``
    to add to variables.

    Example:
        >>> decode(encode_update(1, 0, 4, {}, {"count": np.ones((), "int64")})).deltas["count"]
        array(1)
    """
    header = _header(Kind.UPDATE, request_id)
    parts = [
        _map_header(4),
        _UPDATE_KEYS[0], _pack(_check_int("worker", worker)),
        _UPDATE_KEYS[1], _pack(_check_int("sequence", sequence)),
        _UPDATE_KEYS[2],
    ]
    data = []
    _tensor_parts(parts, data, gradients, "gradients")
    parts.append(_UPDATE_KEYS[3])
    _tensor_parts(parts, data, deltas, "deltas")
    return _message(header, parts, data)


def encode_pull_request(request_id: int, known: dict | None, after_step: int | None = None,
                        generation: str | None = None, timeout_ms: int = 120_000) -> bytes:
    """Encodes a pull request: the versions the client holds (None: send everything), the
    number of applied steps to wait for (None: do not wait), the server generation the
    versions came from, and the longest the server may wait, in milliseconds.

    Example:
        >>> msg = decode(encode_pull_request(2, {"w": 3}, after_step=4, generation="g1"))
        >>> msg.known, msg.after_step, msg.generation
        ({'w': 3}, 4, 'g1')
    """
    body = _pack({
        "known": None if known is None else _versions("known", known),
        "after_step": None if after_step is None else _check_int("after_step", after_step),
        "generation": None if generation is None else _generation(generation),
        "timeout_ms": _check_int("timeout_ms", timeout_ms, 0, MAX_TIMEOUT_MS),
    })
    return _message(_header(Kind.PULL, request_id), [body], [])


def encode_pull_reply(request_id: int, tensors: dict, versions: dict, generation: str) -> bytes:
    """Encodes the tensors that changed, their versions (the same names in both) and the
    server's generation."""
    versions = _versions("versions", versions)
    if versions.keys() != tensors.keys():
        raise TransportError(
            f"a pull reply needs one version per tensor; tensors {sorted(tensors)}, "
            f"versions {sorted(versions)}"
        )
    header = _header(Kind.PULL_REPLY, request_id)
    parts, data = [_map_header(3), _PULL_REPLY_KEYS[0]], []
    _tensor_parts(parts, data, tensors)
    parts += (_PULL_REPLY_KEYS[1], _pack(versions), _PULL_REPLY_KEYS[2],
              _pack(_generation(generation)))
    return _message(header, parts, data)


def _fast_int(what: str, value, high: int = _I63_MAX) -> int:
    # The usual case (a plain int in range) is two checks; _check_int words the errors.
    if type(value) is int and 0 <= value <= high:
        return value
    return _check_int(what, value, 0, high)


def encode_push_pull(request_id: int, worker: int, step: int, shard_size: int, gradients: dict,
                     assigns: dict | None = None, known: dict | None = None,
                     generation: str | None = None, timeout_ms: int = 120_000) -> bytes:
    """Encodes a worker's step in one message: the push of `encode_push` and the pull of
    `encode_pull_request` (``known`` versions, ``generation``; the server waits at most
    ``timeout_ms`` for the step in sync mode).

    Example:
        >>> msg = decode(encode_push_pull(1, 0, 5, 8, {"w": np.ones(2, "float32")},
        ...                               known={"w": 3}, generation="g1"))
        >>> msg.kind.name, msg.step, msg.known, msg.generation
        ('PUSH_PULL', 5, {'w': 3}, 'g1')
    """
    keys = _PUSH_PULL_KEY_BYTES
    header = _header(Kind.PUSH_PULL, request_id)
    parts = [
        _PUSH_PULL_INTS.pack(
            0x88,
            keys[0], 0xD3, _fast_int("worker", worker),
            keys[1], 0xD3, _fast_int("step", step),
            keys[2], 0xD3, _fast_int("shard_size", shard_size)),
        _PUSH_PULL_TAIL_KEYS[0],
    ]
    data = []
    _tensor_parts(parts, data, gradients, "gradients")
    parts.append(_PUSH_PULL_TAIL_KEYS[1])
    _tensor_parts(parts, data, {} if assigns is None else assigns, "assigns")
    parts += (
        _PUSH_PULL_TAIL_KEYS[2], _NIL if known is None else _pack(_versions("known", known)),
        _PUSH_PULL_TAIL_KEYS[3], _NIL if generation is None else _pack(_generation(generation)),
        _PUSH_PULL_TAIL_KEYS[4], _pack(_fast_int("timeout_ms", timeout_ms, MAX_TIMEOUT_MS)),
    )
    return _message(header, parts, data)


def encode_push_pull_reply(request_id: int, result: str, tensors: dict, versions: dict,
                           generation: str) -> bytes:
    """Encodes the answer to a push_pull: the push's result and the pulled tensors, their
    versions (the same names) and the server's generation.

    Example:
        >>> msg = decode(encode_push_pull_reply(1, "applied", {"w": np.zeros(2, "float32")},
        ...                                     {"w": 4}, "g1"))
        >>> msg.result, msg.versions, msg.tensors["w"].tolist()
        ('applied', {'w': 4}, [0.0, 0.0])
    """
    start = _PUSH_PULL_REPLY_START.get(result) if type(result) is str else None
    if start is None:
        raise TransportError(f"a push result must be one of {PUSH_RESULTS}, got {result!r}")
    versions = _versions("versions", versions)
    if versions.keys() != tensors.keys():
        raise TransportError(
            f"a push_pull reply needs one version per tensor; tensors {sorted(tensors)}, "
            f"versions {sorted(versions)}"
        )
    header = _header(Kind.PUSH_PULL_REPLY, request_id)
    parts, data = [start], []
    _tensor_parts(parts, data, tensors)
    parts += (_PULL_REPLY_KEYS[1], _pack(versions), _PULL_REPLY_KEYS[2],
              _pack(_generation(generation)))
    return _message(header, parts, data)


def encode_error(request_id: int, code: str, message: str) -> bytes:
    """Encodes an error reply; ``code`` is upper-case letters, digits and underscores.

    Example:
        >>> decode(encode_error(3, "UNKNOWN_TENSOR", "no tensor 'x'")).code
        'UNKNOWN_TENSOR'
    """
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
        raise TransportError(f"error code must match {_CODE_RE.pattern}, got {code!r}")
    if not isinstance(message, str):
        raise TransportError(f"error message must be str, got {type(message).__name__}")
    # Truncated rather than refused: an error about an error would hide the first one.
    message = message[: DEFAULT_LIMITS.max_message_text]
    return _message(_header(Kind.ERROR, request_id), [_pack({"code": code, "message": message})],
                    [])


def encode_ack(request_id: int, result: str) -> bytes:
    """Encodes the acknowledgement of a push: what the server did with it.

    Example:
        >>> decode(encode_ack(4, "pending")).result
        'pending'
    """
    if result not in PUSH_RESULTS:
        raise TransportError(f"a push result must be one of {PUSH_RESULTS}, got {result!r}")
    return _message(_header(Kind.ACK, request_id), [_pack({"result": result})], [])


# ----------------------------------------------------------------------------- decoding


def peek_request_id(message) -> int:
    """The request id of a message whose header is intact, else 0 (for error replies)."""
    try:
        magic, _, _, _, request_id = _HEADER.unpack_from(message, 0)
    except (struct.error, TypeError, ValueError):
        return 0
    return request_id if magic == MAGIC else 0


def decode(message, limits: Limits = DEFAULT_LIMITS):
    """Decodes and validates one message; raises TransportError for anything malformed.

    Args:
        message: the received bytes (bytes, bytearray or memoryview).
        limits: the receiver's bounds on sizes and counts.

    Returns:
        A PushRequest, PullRequest, PullReply, ErrorReply, Ack, UpdateRequest, PushPullRequest
        or PushPullReply. Arrays are read-only views of the message's unpacked bytes.

    Example:
        >>> decode(b"nonsense")
        Traceback (most recent call last):
        ...
        dtf.cluster.transport.messages.TransportError: message of 8 bytes is shorter than the 16-byte header
    """
    if not isinstance(message, (bytes, bytearray, memoryview)):
        raise TransportError(f"a message must be bytes, got {type(message).__name__}")
    view = memoryview(message)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    size = view.nbytes
    if size > limits.max_message_bytes:
        raise TransportError(
            f"message of {size} bytes exceeds the receiver's limit of "
            f"{limits.max_message_bytes} bytes"
        )
    if size < HEADER_SIZE:
        raise TransportError(
            f"message of {size} bytes is shorter than the {HEADER_SIZE}-byte header"
        )
    magic, version, kind, reserved, request_id = _HEADER.unpack_from(view, 0)
    if magic != MAGIC:
        raise TransportError(f"bad magic {bytes(magic)!r}: not a dtf transport message")
    if version != FORMAT_VERSION:
        raise TransportError(
            f"format version {version} is not supported (this side speaks {FORMAT_VERSION}); "
            "run the same dtf version on both ends"
        )
    if reserved != 0:
        raise TransportError(f"reserved header field must be 0, got {reserved}")
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise TransportError(f"unknown message kind {kind}")
    body, data = _split(view)
    decoded = decoder(request_id, _unpack(body, limits), limits, data)
    data.finish()
    return decoded


def _split(view: memoryview) -> tuple[memoryview, _Data]:
    """The body and the tensor data of a message whose 16-byte header was checked (shared
    with `dtf.serving.messages`, whose messages have the same layout)."""
    size = view.nbytes
    if size < HEADER_SIZE + _BODY_LENGTH.size:
        raise TransportError(f"message of {size} bytes ends before its body length")
    (body_length,) = _BODY_LENGTH.unpack_from(view, HEADER_SIZE)
    body_end = HEADER_SIZE + _BODY_LENGTH.size + body_length
    if body_end > size:
        raise TransportError(
            f"the body of {body_length} bytes runs past the end of the {size}-byte message")
    return view[HEADER_SIZE + _BODY_LENGTH.size:body_end], _Data(view, body_end, size)


class _Data:
    """The tensor data after a message's body: each tensor's bytes in turn, as a view."""

    __slots__ = ("buffer", "end", "offset")

    def __init__(self, buffer: memoryview, offset: int, end: int):
        self.buffer, self.offset, self.end = buffer, offset, end

    def take(self, name: str, shape: list, dtype: np.dtype, nbytes: int) -> np.ndarray:
        start = self.offset + (-self.offset % _DATA_ALIGN)
        if start != self.offset and start <= self.end and \
                self.buffer[self.offset:start] != _PADDING[:start - self.offset]:
            raise TransportError(f"the padding before tensor {name!r} is not zero bytes")
        stop = start + nbytes
        if stop > self.end:
            raise TransportError(
                f"tensor {name!r} needs {nbytes} bytes from byte {start}, but the message ends "
                f"at byte {self.end}")
        self.offset = stop
        if not nbytes:  # nothing to view; read-only like the views
            empty = np.empty(shape, dtype)
            empty.flags.writeable = False
            return empty
        # np.ndarray over the buffer: a view, half the cost of frombuffer + reshape
        return np.ndarray(shape, dtype, self.buffer, start)

    def finish(self) -> None:
        if self.offset != self.end:
            raise TransportError(
                f"{self.end - self.offset} bytes follow the last tensor's data; a message ends "
                "with it")


def _reject_ext(code, data):
    raise TransportError(f"msgpack extension type {code} is not allowed")


@functools.lru_cache(maxsize=16)
def _msgpack_bounds(limits: Limits) -> tuple[int, int]:
    """(most entries in an array or map, most bytes in a str) that a valid body can need."""
    return (max(limits.max_tensors, limits.max_ndim, 8),
            max(limits.max_name_length, limits.max_message_text) * 4)


def _unpack(body: memoryview, limits: Limits):
    n = body.nbytes
    # Every container and string is bounded by the body's own size, so no declared length can
    # make msgpack allocate more than the message holds; nesting is bounded by msgpack's stack.
    small, max_str = _msgpack_bounds(limits)
    try:
        return msgpack.unpackb(
            body,
            raw=False,
            use_list=True,
            strict_map_key=True,
            ext_hook=_reject_ext,
            max_bin_len=0,  # tensor data follows the body; a body carries no bin
            max_str_len=min(n, max_str),
            max_array_len=min(n, small),
            max_map_len=min(n, small),
            max_ext_len=0,
        )
    except TransportError:
        raise
    except Exception as e:  # noqa: BLE001 - msgpack raises many unrelated types; callers see one
        raise TransportError(
            f"message body is not valid msgpack: {type(e).__name__}: {e}"
        ) from None


_PUSH_FIELDS = ("worker", "step", "shard_size", "gradients", "assigns")
_PULL_FIELDS = ("known", "after_step", "generation", "timeout_ms")
_PULL_REPLY_FIELDS = ("tensors", "versions", "generation")
_ERROR_FIELDS = ("code", "message")
_ACK_FIELDS = ("result",)
_UPDATE_FIELDS = ("worker", "sequence", "gradients", "deltas")
_PUSH_PULL_FIELDS = _PUSH_FIELDS + ("known", "generation", "timeout_ms")
_PUSH_PULL_REPLY_FIELDS = ("result",) + _PULL_REPLY_FIELDS


def _fields(body, kind: Kind, expected: tuple) -> dict:
    if type(body) is dict and body.keys() == _FIELD_SETS[kind]:
        return body
    if type(body) is not dict:
        raise TransportError(f"{kind.name} body must be a map, got {type(body).__name__}")
    keys = set(body)
    unknown = sorted(map(repr, keys - set(expected)))
    missing = sorted(set(expected) - keys)
    raise TransportError(
        f"{kind.name} body has unknown fields {unknown} and missing fields {missing}; "
        f"expected exactly {list(expected)}"
    )


# The decoders below run on every message: each check is inline, and error text (names,
# positions) is formatted only once a check has failed.


def _int_field(what: str, value, low: int = 0, high: int = _I63_MAX) -> int:
    if type(value) is not int:
        raise TransportError(f"{what} must be an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise TransportError(f"{what} must be in [{low}, {high}], got {value}")
    return value


def _name(what: str, value, limits: Limits) -> str:
    if type(value) is not str:
        raise TransportError(f"{what} must be a str, got {type(value).__name__}")
    if not 0 < len(value) <= limits.max_name_length:
        raise TransportError(
            f"{what} must have 1 to {limits.max_name_length} characters, got {len(value)}"
        )
    return value


def _decode_versions(what: str, value, limits: Limits) -> dict:
    if type(value) is not dict:
        raise TransportError(f"{what} must be a map of name -> version, got {type(value).__name__}")
    if len(value) > limits.max_tensors:
        raise TransportError(f"{what} has {len(value)} entries, over the limit {limits.max_tensors}")
    max_name = limits.max_name_length
    for name, version in value.items():
        if type(name) is not str or not 0 < len(name) <= max_name:
            _name(f"a name in {what}", name, limits)
        if type(version) is not int or not _I63_MIN <= version <= _I63_MAX:
            _int_field(f"{what}[{name!r}]", version, _I63_MIN)
    return value


_TENSOR_FIELDS = frozenset(("name", "dtype", "shape"))


def _decode_tensor(index: int, entry, limits: Limits, data: _Data
                   ) -> tuple[str, np.ndarray, int]:
    if type(entry) is not dict or entry.keys() != _TENSOR_FIELDS:
        raise TransportError(
            f"tensor #{index} must be a map with exactly the fields name, dtype and shape"
        )
    name = entry["name"]
    if type(name) is not str or not 0 < len(name) <= limits.max_name_length:
        _name(f"tensor #{index} name", name, limits)
    dtype_name = entry["dtype"]
    dtype = WIRE_DTYPES.get(dtype_name) if type(dtype_name) is str else None
    if dtype is None:
        raise TransportError(
            f"tensor {name!r} has dtype {dtype_name!r}; allowed dtypes are {sorted(WIRE_DTYPES)}"
        )
    shape = entry["shape"]
    if type(shape) is not list:
        raise TransportError(
            f"tensor {name!r} shape must be a list of ints, got {type(shape).__name__}")
    if len(shape) > limits.max_ndim:
        raise TransportError(
            f"tensor {name!r} has {len(shape)} axes, over the limit {limits.max_ndim}")
    count = 1
    for dim in shape:
        if type(dim) is not int or not 0 <= dim <= _MAX_DIM:
            axis = next(i for i, d in enumerate(shape) if d is dim)
            _int_field(f"tensor {name!r} shape[{axis}]", dim, 0, _MAX_DIM)
        count *= dim
    nbytes = count * dtype.itemsize
    if nbytes > limits.max_tensor_bytes:
        raise TransportError(
            f"tensor {name!r} of shape {shape} and dtype {dtype_name} needs {nbytes} bytes, "
            f"over the limit of {limits.max_tensor_bytes}"
        )
    return name, data.take(name, shape, dtype, nbytes), nbytes


def _decode_tensors(value, limits: Limits, data: _Data, what: str = "tensors",
                    total: int = 0) -> tuple[dict[str, np.ndarray], int]:
    """The tensors of one list field, and the running total of tensor bytes in the message."""
    if type(value) is not list:
        raise TransportError(f"{what} must be a list, got {type(value).__name__}")
    if not value:
        return {}, total
    if len(value) > limits.max_tensors:
        raise TransportError(
            f"message carries {len(value)} {what}, over the limit of {limits.max_tensors}"
        )
    tensors = {}
    for index, entry in enumerate(value):
        if type(entry) is not dict:
            raise TransportError(f"tensor #{index} must be a map, got {type(entry).__name__}")
        name, array, nbytes = _decode_tensor(index, entry, limits, data)
        if name in tensors:
            raise TransportError(f"tensor {name!r} appears twice in one message")
        total += nbytes
        if total > limits.max_total_tensor_bytes:
            raise TransportError(
                f"tensors total over {limits.max_total_tensor_bytes} bytes, the receiver's limit"
            )
        tensors[name] = array
    return tensors, total


def _decode_generation(value) -> str:
    if type(value) is not str or len(value) > MAX_GENERATION_LENGTH:
        raise TransportError(f"generation must be a str of at most {MAX_GENERATION_LENGTH} "
                             "characters")
    return value


def _decode_push(request_id, body, limits, data) -> PushRequest:
    body = _fields(body, Kind.PUSH, _PUSH_FIELDS)
    gradients, total = _decode_tensors(body["gradients"], limits, data, "gradients")
    assigns, _ = _decode_tensors(body["assigns"], limits, data, "assigns", total)
    return PushRequest(
        request_id,
        worker=_int_field("worker", body["worker"]),
        step=_int_field("step", body["step"]),
        shard_size=_int_field("shard_size", body["shard_size"]),
        gradients=gradients,
        assigns=assigns,
    )


def _decode_update(request_id, body, limits, data) -> UpdateRequest:
    body = _fields(body, Kind.UPDATE, _UPDATE_FIELDS)
    gradients, total = _decode_tensors(body["gradients"], limits, data, "gradients")
    deltas, _ = _decode_tensors(body["deltas"], limits, data, "deltas", total)
    return UpdateRequest(
        request_id,
        worker=_int_field("worker", body["worker"]),
        sequence=_int_field("sequence", body["sequence"]),
        gradients=gradients,
        deltas=deltas,
    )


def _decode_pull(request_id, body, limits, data) -> PullRequest:
    body = _fields(body, Kind.PULL, _PULL_FIELDS)
    known, after_step, generation = body["known"], body["after_step"], body["generation"]
    return PullRequest(
        request_id,
        known=None if known is None else _decode_versions("known", known, limits),
        after_step=None if after_step is None else _int_field("after_step", after_step),
        generation=None if generation is None else _decode_generation(generation),
        timeout_ms=_int_field("timeout_ms", body["timeout_ms"], 0, MAX_TIMEOUT_MS),
    )


def _pulled(body, limits, data, what: str) -> tuple[dict, dict]:
    """The tensors and versions of a reply that carries pulled values (one version each)."""
    tensors, _ = _decode_tensors(body["tensors"], limits, data)
    versions = _decode_versions("versions", body["versions"], limits)
    if tensors.keys() != versions.keys():
        raise TransportError(
            f"{what} tensors {sorted(tensors)} and versions {sorted(versions)} differ"
        )
    return tensors, versions


def _decode_pull_reply(request_id, body, limits, data) -> PullReply:
    body = _fields(body, Kind.PULL_REPLY, _PULL_REPLY_FIELDS)
    tensors, versions = _pulled(body, limits, data, "pull reply")
    return PullReply(request_id, tensors=tensors, versions=versions,
                     generation=_decode_generation(body["generation"]))


def _decode_error(request_id, body, limits, data) -> ErrorReply:
    body = _fields(body, Kind.ERROR, _ERROR_FIELDS)
    code, message = body["code"], body["message"]
    if type(code) is not str or not _CODE_RE.fullmatch(code):
        raise TransportError(f"error code must match {_CODE_RE.pattern}, got {code!r}")
    if type(message) is not str or len(message) > limits.max_message_text:
        raise TransportError(
            f"error message must be a str of at most {limits.max_message_text} characters"
        )
    return ErrorReply(request_id, code=code, message=message)


def _decode_ack(request_id, body, limits, data) -> Ack:
    body = _fields(body, Kind.ACK, _ACK_FIELDS)
    result = body["result"]
    if type(result) is not str or result not in PUSH_RESULTS:
        raise TransportError(f"result must be one of {PUSH_RESULTS}, got {result!r}")
    return Ack(request_id, result=result)


def _decode_push_pull(request_id, body, limits, data) -> PushPullRequest:
    body = _fields(body, Kind.PUSH_PULL, _PUSH_PULL_FIELDS)
    gradients, total = _decode_tensors(body["gradients"], limits, data, "gradients")
    assigns, _ = _decode_tensors(body["assigns"], limits, data, "assigns", total)
    known, generation = body["known"], body["generation"]
    worker, step, shard_size = body["worker"], body["step"], body["shard_size"]
    timeout_ms = body["timeout_ms"]
    if not (type(worker) is int and type(step) is int and type(shard_size) is int
            and type(timeout_ms) is int and 0 <= worker <= _I63_MAX and 0 <= step <= _I63_MAX
            and 0 <= shard_size <= _I63_MAX and 0 <= timeout_ms <= MAX_TIMEOUT_MS):
        _int_field("worker", worker)
        _int_field("step", step)
        _int_field("shard_size", shard_size)
        _int_field("timeout_ms", timeout_ms, 0, MAX_TIMEOUT_MS)
    if known is not None:
        _decode_versions("known", known, limits)
    if generation is not None and (type(generation) is not str
                                   or len(generation) > MAX_GENERATION_LENGTH):
        _decode_generation(generation)
    return PushPullRequest(request_id, worker, step, shard_size, gradients, assigns, known,
                           generation, timeout_ms)


def _decode_push_pull_reply(request_id, body, limits, data) -> PushPullReply:
    body = _fields(body, Kind.PUSH_PULL_REPLY, _PUSH_PULL_REPLY_FIELDS)
    result = body["result"]
    if type(result) is not str or result not in PUSH_RESULTS:
        raise TransportError(f"result must be one of {PUSH_RESULTS}, got {result!r}")
    tensors, versions = _pulled(body, limits, data, "push_pull reply")
    return PushPullReply(request_id, result=result, tensors=tensors, versions=versions,
                         generation=_decode_generation(body["generation"]))


_FIELD_SETS = {kind: frozenset(fields) for kind, fields in (
    (Kind.PUSH, _PUSH_FIELDS), (Kind.PULL, _PULL_FIELDS), (Kind.PULL_REPLY, _PULL_REPLY_FIELDS),
    (Kind.ERROR, _ERROR_FIELDS), (Kind.ACK, _ACK_FIELDS), (Kind.UPDATE, _UPDATE_FIELDS),
    (Kind.PUSH_PULL, _PUSH_PULL_FIELDS), (Kind.PUSH_PULL_REPLY, _PUSH_PULL_REPLY_FIELDS))}

_DECODERS = {
    Kind.PUSH: _decode_push,
    Kind.PULL: _decode_pull,
    Kind.PULL_REPLY: _decode_pull_reply,
    Kind.ERROR: _decode_error,
    Kind.ACK: _decode_ack,
    Kind.UPDATE: _decode_update,
    Kind.PUSH_PULL: _decode_push_pull,
    Kind.PUSH_PULL_REPLY: _decode_push_pull_reply,
}
