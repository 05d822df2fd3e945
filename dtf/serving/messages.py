"""The wire format of `dtf serve`: a fixed header, a msgpack map, the tensor data.

Every message is::

    header (16 bytes, little-endian):  magic b"DTFS" | format version u8 | kind u8 |
                                       reserved u16 (0) | request id u64
    body length (u32, little-endian)
    body:                              one msgpack map whose keys depend on the kind
    data:                              the tensors' bytes, in the order the body lists them

Tensors are those of the parameter-server transport (:mod:`dtf.cluster.transport.codec`):
maps ``{"name": str, "dtype": str, "shape": [int, ...]}`` in the body, their raw
little-endian, C-ordered bytes after it (8-byte aligned), encoded and decoded by the codec's
own functions (so the same dtype whitelist, byte-count checks and size limits apply).

Kinds and their bodies:

==============  ======================================================================
PREDICT         ``signature`` (str, or nil: the server's default), ``inputs`` (list of
                tensors, one per input of the signature; the leading axis is the batch)
PREDICT_REPLY   ``signature`` (str: the one that ran), ``outputs`` (list of tensors)
HEALTH          no fields (an empty map)
HEALTH_REPLY    ``status`` (``"SERVING"`` or ``"NOT_SERVING"``), ``default_signature`` (str),
                ``max_batch`` (int), ``model`` (str: the saved object's class),
                ``dtf_version`` (str), ``signatures`` (map name -> {``inputs``: [spec],
                ``outputs``: [spec]}, a spec being {``name``, ``dtype``, ``shape``: [int or
                nil]})
==============  ======================================================================

Errors are not messages: the server answers a bad request with the gRPC status
``INVALID_ARGUMENT`` and a reason (see :mod:`dtf.serving.server`).

:func:`decode` is written for hostile input, as the transport codec's: the size is checked
against :class:`Limits` before anything is unpacked, msgpack's own length limits bound every
declared length by the message's size, extension types, unknown or missing fields, wrong
types, out-of-range integers, dtypes outside the whitelist and tensors whose shape does not
match their byte count are refused, and whatever is wrong raises :class:`MessageError` (a
`TransportError`) and nothing else.

Example:
    >>> import numpy as np
    >>> wire = encode_predict(5, {"x": np.ones((2, 3), "float32")})
    >>> msg = decode(wire)
    >>> msg.kind, msg.request_id, msg.signature, msg.inputs["x"].shape
    (<Kind.PREDICT: 1>, 5, None, (2, 3))
"""

from __future__ import annotations

import dataclasses
import enum
import struct

import msgpack
import numpy as np

# The codec's tensor helpers: the tensor format is shared, so its encoder and validating
# decoder are reused rather than copied (the same checks guard both services).
from dtf.cluster.transport.codec import (
    WIRE_DTYPES,
    Limits,
    TransportError,
    _decode_tensors,
    _message,
    _split,
    _tensor_parts,
    _unpack,
)

__all__ = [
    "FORMAT_VERSION",
    "MAX_SIGNATURE_NAME",
    "HealthReply",
    "HealthRequest",
    "Kind",
    "MessageError",
    "PredictReply",
    "PredictRequest",
    "TensorInfo",
    "decode",
    "default_limits",
    "encode_health",
    "encode_health_reply",
    "encode_predict",
    "encode_predict_reply",
]

MAGIC = b"DTFS"
FORMAT_VERSION = 2  # 2: tensor data after the body (the transport codec's version 4)
_HEADER = struct.Struct("<4sBBHQ")
HEADER_SIZE = _HEADER.size
_U64_MAX = 2**64 - 1
MAX_SIGNATURE_NAME = 256
STATUSES = ("SERVING", "NOT_SERVING")
# A health reply describes signatures, not data: it is small, and bounded much tighter.
MAX_HEALTH_BYTES = 1024 * 1024
_MAX_SIGNATURES = 256
_MAX_SPECS = 1024  # inputs or outputs of one signature
_MAX_TEXT = 1024  # model class name, dtf version, status
_MAX_DIM = 2**48


class MessageError(TransportError):
    """A serving message could not be encoded or decoded; the text says what and why."""


class Kind(enum.IntEnum):
    """The message kinds of the serving format."""

    PREDICT = 1
    PREDICT_REPLY = 2
    HEALTH = 3
    HEALTH_REPLY = 4


def default_limits(max_message_bytes: int = 64 * 1024 * 1024) -> Limits:
    """Receiver limits for serving messages of at most ``max_message_bytes``.

    Example:
        >>> default_limits(1024).max_tensor_bytes
        1024
    """
    return Limits(max_message_bytes=max_message_bytes, max_tensors=1024,
                  max_tensor_bytes=max_message_bytes, max_total_tensor_bytes=max_message_bytes,
                  max_ndim=32, max_name_length=512, max_message_text=4096)


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """The name, dtype name and shape (None: any size) of a signature's input or output."""

    name: str
    dtype: str
    shape: tuple


@dataclasses.dataclass
class PredictRequest:
    """Named input tensors for ``signature`` (None: the server's default)."""

    request_id: int
    signature: str | None
    inputs: dict[str, np.ndarray]
    kind: Kind = Kind.PREDICT


@dataclasses.dataclass
class PredictReply:
    """The named outputs of the signature that ran."""

    request_id: int
    signature: str
    outputs: dict[str, np.ndarray]
    kind: Kind = Kind.PREDICT_REPLY


@dataclasses.dataclass
class HealthRequest:
    """Asks for the server's status and what it serves."""

    request_id: int
    kind: Kind = Kind.HEALTH


@dataclasses.dataclass
class HealthReply:
    """The server's status, its signatures (name -> ``{"inputs": [TensorInfo], "outputs":
    [TensorInfo]}``), the default one, the largest batch it takes, and versions."""

    request_id: int
    status: str
    default_signature: str
    max_batch: int
    model: str
    dtf_version: str
    signatures: dict[str, dict[str, list[TensorInfo]]]
    kind: Kind = Kind.HEALTH_REPLY


# ----------------------------------------------------------------------------- encoding

def _pack(obj) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def _header(kind: Kind, request_id: int) -> bytes:
    if type(request_id) is not int or not 0 <= request_id <= _U64_MAX:
        raise MessageError(f"request_id must be an int in [0, 2**64), got {request_id!r}")
    return _HEADER.pack(MAGIC, FORMAT_VERSION, int(kind), 0, request_id)


def _check_signature_name(value, optional: bool) -> str | None:
    if value is None and optional:
        return None
    if type(value) is not str or not 0 < len(value) <= MAX_SIGNATURE_NAME:
        raise MessageError(
            f"signature must be a str of 1 to {MAX_SIGNATURE_NAME} characters"
            f"{' or None' if optional else ''}, got {value!r:.80}"
        )
    return value


def _tensors(parts: list, data: list, tensors: dict, what: str) -> None:
    try:
        _tensor_parts(parts, data, tensors, what)
    except TransportError as e:
        raise MessageError(str(e)) from None


_PREDICT_START = b"\x82" + _pack("signature")  # a 2-entry map, then its first key
_INPUTS_KEY = _pack("inputs")
_OUTPUTS_KEY = _pack("outputs")


def encode_predict(request_id: int, inputs: dict, signature: str | None = None) -> bytes:
    """Encodes a predict request: ``inputs`` (name -> array) for ``signature``.

    Example:
        >>> len(encode_predict(1, {"x": np.zeros((1, 4), "float32")}, "serving_default"))
        104
    """
    header = _header(Kind.PREDICT, request_id)
    parts, data = [_PREDICT_START, _pack(_check_signature_name(signature, optional=True)),
                   _INPUTS_KEY], []
    _tensors(parts, data, inputs, "inputs")
    return _message(header, parts, data)


def encode_predict_reply(request_id: int, signature: str, outputs: dict) -> bytes:
    """Encodes the outputs (name -> array) of ``signature``.

    Example:
        >>> decode(encode_predict_reply(1, "s", {"y": np.ones(2, "int32")})).outputs["y"]
        array([1, 1], dtype=int32)
    """
    header = _header(Kind.PREDICT_REPLY, request_id)
    parts, data = [_PREDICT_START, _pack(_check_signature_name(signature, optional=False)),
                   _OUTPUTS_KEY], []
    _tensors(parts, data, outputs, "outputs")
    return _message(header, parts, data)


def encode_health(request_id: int) -> bytes:
    """Encodes a health request.

    Example:
        >>> decode(encode_health(9)).kind
        <Kind.HEALTH: 3>
    """
    return _message(_header(Kind.HEALTH, request_id), [b"\x80"], [])


def _spec_entry(info: TensorInfo) -> dict:
    return {"name": info.name, "dtype": info.dtype, "shape": list(info.shape)}


def encode_health_reply(request_id: int, status: str, default_signature: str, max_batch: int,
                        signatures: dict, model: str = "", dtf_version: str = "") -> bytes:
    """Encodes the server's status and signatures (name -> {"inputs": [TensorInfo],
    "outputs": [TensorInfo]}).

    Example:
        >>> x = TensorInfo("x", "float32", (None, 4))
        >>> reply = decode(encode_health_reply(2, "SERVING", "f", 64,
        ...                                    {"f": {"inputs": [x], "outputs": [x]}}))
        >>> reply.status, reply.signatures["f"]["inputs"][0].shape
        ('SERVING', (None, 4))
    """
    if status not in STATUSES:
        raise MessageError(f"status must be one of {STATUSES}, got {status!r}")
    body = {
        "status": status,
        "default_signature": _check_signature_name(default_signature, optional=False),
        "max_batch": max_batch,
        "model": model,
        "dtf_version": dtf_version,
        "signatures": {
            name: {"inputs": [_spec_entry(i) for i in sig["inputs"]],
                   "outputs": [_spec_entry(o) for o in sig["outputs"]]}
            for name, sig in signatures.items()
        },
    }
    packed = _pack(body)
    # Decoding our own reply checks every field with the receiver's rules, so a reply the
    # client would refuse is caught here, on the server, with the reason.
    _decode_health_reply(request_id, _unpack_health(memoryview(packed)))
    return _message(_header(Kind.HEALTH_REPLY, request_id), [packed], [])


# ----------------------------------------------------------------------------- decoding

def peek_request_id(message) -> int:
    """The request id of a message whose header is intact, else 0."""
    try:
        magic, _, _, _, request_id = _HEADER.unpack_from(message, 0)
    except (struct.error, TypeError, ValueError):
        return 0
    return request_id if magic == MAGIC else 0


def decode(message, limits: Limits | None = None):
    """Decodes and validates one message; raises MessageError for anything malformed.

    Args:
        message: the received bytes (bytes, bytearray or memoryview).
        limits: the receiver's bounds (default: :func:`default_limits`).

    Returns:
        A PredictRequest, PredictReply, HealthRequest or HealthReply. Arrays are read-only
        views of the received bytes.

    Example:
        >>> decode(b"DTFW" + bytes(12))
        Traceback (most recent call last):
        ...
        dtf.serving.messages.MessageError: bad magic b'DTFW': not a dtf serving message (b'DTFS')
    """
    limits = _DEFAULT_LIMITS if limits is None else limits
    if not isinstance(message, (bytes, bytearray, memoryview)):
        raise MessageError(f"a message must be bytes, got {type(message).__name__}")
    view = memoryview(message)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    size = view.nbytes
    if size > limits.max_message_bytes:
        raise MessageError(f"message of {size} bytes exceeds the receiver's limit of "
                           f"{limits.max_message_bytes} bytes")
    if size < HEADER_SIZE:
        raise MessageError(f"message of {size} bytes is shorter than the {HEADER_SIZE}-byte "
                           "header")
    magic, version, kind, reserved, request_id = _HEADER.unpack_from(view, 0)
    if magic != MAGIC:
        raise MessageError(f"bad magic {bytes(magic)!r}: not a dtf serving message ({MAGIC!r})")
    if version != FORMAT_VERSION:
        raise MessageError(f"format version {version} is not supported (this side speaks "
                           f"{FORMAT_VERSION}); use the same dtf version on client and server")
    if reserved != 0:
        raise MessageError(f"reserved header field must be 0, got {reserved}")
    if kind not in (Kind.PREDICT, Kind.PREDICT_REPLY, Kind.HEALTH, Kind.HEALTH_REPLY):
        raise MessageError(f"unknown message kind {kind}")
    try:
        body, data = _split(view)
        if kind in (Kind.PREDICT, Kind.PREDICT_REPLY):
            decoded = _decode_predict(Kind(kind), request_id, _unpack(body, limits), limits,
                                      data)
        elif kind == Kind.HEALTH:
            if bytes(body) != b"\x80":
                raise MessageError("a HEALTH body must be an empty msgpack map")
            decoded = HealthRequest(request_id)
        else:
            decoded = _decode_health_reply(request_id, _unpack_health(body))
        data.finish()
    except MessageError:
        raise
    except TransportError as e:
        raise MessageError(str(e)) from None
    return decoded


_DEFAULT_LIMITS = default_limits()


def _fields(body, kind: Kind, expected: frozenset) -> dict:
    if type(body) is not dict:
        raise MessageError(f"{kind.name} body must be a map, got {type(body).__name__}")
    if body.keys() != expected:
        keys = set(body)
        unknown = sorted(str(key)[:80] for key in keys - expected)[:16]
        missing = sorted(expected - keys)
        raise MessageError(f"{kind.name} body has unknown fields {unknown} and missing fields "
                           f"{missing}; expected exactly {sorted(expected)}")
    return body


_PREDICT_FIELDS = frozenset(("signature", "inputs"))
_PREDICT_REPLY_FIELDS = frozenset(("signature", "outputs"))


def _decode_predict(kind: Kind, request_id: int, body, limits: Limits, data):
    if kind == Kind.PREDICT:
        body = _fields(body, kind, _PREDICT_FIELDS)
        signature = _check_signature_name(body["signature"], optional=True)
        inputs = _decode_tensor_list(body["inputs"], limits, data, "inputs")
        return PredictRequest(request_id, signature, inputs)
    body = _fields(body, kind, _PREDICT_REPLY_FIELDS)
    signature = _check_signature_name(body["signature"], optional=False)
    return PredictReply(request_id, signature, _decode_tensor_list(body["outputs"], limits,
                                                                   data, "outputs"))


def _decode_tensor_list(value, limits: Limits, data, what: str) -> dict:
    try:
        tensors, _ = _decode_tensors(value, limits, data, what)
    except TransportError as e:
        raise MessageError(str(e)) from None
    return tensors


def _reject_ext(code, data):
    raise MessageError(f"msgpack extension type {code} is not allowed")


def _unpack_health(body: memoryview):
    n = body.nbytes
    if n > MAX_HEALTH_BYTES:
        raise MessageError(f"health reply of {n} bytes is over the limit of {MAX_HEALTH_BYTES}")
    try:
        return msgpack.unpackb(
            body, raw=False, use_list=True, strict_map_key=True, ext_hook=_reject_ext,
            max_bin_len=0, max_str_len=min(n, 4 * _MAX_TEXT),
            max_array_len=min(n, _MAX_SPECS), max_map_len=min(n, _MAX_SIGNATURES),
            max_ext_len=0,
        )
    except MessageError:
        raise
    except Exception as e:  # noqa: BLE001 - msgpack raises many unrelated types; callers see one
        raise MessageError(f"health reply is not valid msgpack: {type(e).__name__}: {e}") \
            from None


_HEALTH_REPLY_FIELDS = frozenset(
    ("status", "default_signature", "max_batch", "model", "dtf_version", "signatures"))
_SIGNATURE_FIELDS = frozenset(("inputs", "outputs"))
_SPEC_FIELDS = frozenset(("name", "dtype", "shape"))


def _text(what: str, value) -> str:
    if type(value) is not str or len(value) > _MAX_TEXT:
        raise MessageError(f"{what} must be a str of at most {_MAX_TEXT} characters")
    return value


def _decode_spec(what: str, entry) -> TensorInfo:
    if type(entry) is not dict or entry.keys() != _SPEC_FIELDS:
        raise MessageError(f"{what} must be a map with exactly the fields name, dtype, shape")
    name, dtype, shape = entry["name"], entry["dtype"], entry["shape"]
    if type(name) is not str or not 0 < len(name) <= _MAX_TEXT:
        raise MessageError(f"{what} name must be a non-empty str of at most {_MAX_TEXT} "
                           "characters")
    if type(dtype) is not str or dtype not in WIRE_DTYPES:
        raise MessageError(f"{what} {name!r} has dtype {dtype!r:.40}; allowed dtypes are "
                           f"{sorted(WIRE_DTYPES)}")
    if type(shape) is not list or len(shape) > 32 or not all(
            d is None or (type(d) is int and 0 <= d <= _MAX_DIM) for d in shape):
        raise MessageError(f"{what} {name!r} shape must be a list of at most 32 sizes (ints or "
                           "nil)")
    return TensorInfo(name, dtype, tuple(shape))


def _decode_health_reply(request_id: int, body) -> HealthReply:
    body = _fields(body, Kind.HEALTH_REPLY, _HEALTH_REPLY_FIELDS)
    status = body["status"]
    if type(status) is not str or status not in STATUSES:
        raise MessageError(f"status must be one of {STATUSES}, got {status!r:.40}")
    max_batch = body["max_batch"]
    if type(max_batch) is not int or not 1 <= max_batch <= 2**31:
        raise MessageError(f"max_batch must be an int in [1, 2**31], got {max_batch!r:.40}")
    signatures = body["signatures"]
    if type(signatures) is not dict or not signatures:
        raise MessageError("signatures must be a non-empty map")
    decoded = {}
    for name, sig in signatures.items():
        _check_signature_name(name, optional=False)
        sig = _fields(sig, Kind.HEALTH_REPLY, _SIGNATURE_FIELDS)
        decoded[name] = {}
        for part in ("inputs", "outputs"):
            entries = sig[part]
            if type(entries) is not list:
                raise MessageError(f"signature {name!r} {part} must be a list")
            decoded[name][part] = [_decode_spec(f"signature {name!r} {part[:-1]}", e)
                                   for e in entries]
    default = _check_signature_name(body["default_signature"], optional=False)
    if default not in decoded:
        raise MessageError(f"default signature {default!r} is not among the signatures "
                           f"{sorted(decoded)}")
    return HealthReply(request_id, status, default, max_batch,
                       _text("model", body["model"]), _text("dtf_version", body["dtf_version"]),
                       decoded)


def wire_dtype_name(dtype) -> str | None:
    """The wire name of a NumPy dtype, or None when the wire format cannot carry it."""
    dtype = np.dtype(dtype)
    return dtype.name if dtype.name in WIRE_DTYPES else None

