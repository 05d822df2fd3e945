"""Fuzzing the wire codec: whatever the bytes, decode returns a message or raises TransportError.

Seeded, so failures reproduce; each case is small, so the whole file runs in a few seconds.
"""

import struct
import time

import msgpack
import numpy as np
import pytest
from dtf.cluster.transport import codec
from dtf.cluster.transport.codec import Kind, Limits, TransportError, decode

from dtf.testing.wire import raw_message

LIMITS = Limits(max_message_bytes=1 << 20, max_tensors=64, max_tensor_bytes=1 << 16,
                max_total_tensor_bytes=1 << 17)


def _samples():
    rng = np.random.default_rng(0)
    return [
        codec.encode_push(3, 1, 2, 16, {
            "v3/dense/kernel/part_1": rng.normal(size=(4, 3)).astype("float32"),
            "dense/bias": np.zeros(3, "float64"),
            "mask": np.array([True, False]),
            "ids": np.arange(5, dtype="int64"),
        }, {"bn/moving_mean": np.ones(2, "float32")}),
        codec.encode_pull_request(4, {"dense/kernel": 3, "dense/bias": 0}, 7, "0123abcd", 500),
        codec.encode_pull_reply(5, {"w": np.ones((2, 2), "float16")}, {"w": 9}, "0123abcd"),
        codec.encode_error(6, "INVALID_MESSAGE", "bad"),
        codec.encode_ack(7, "pending"),
        codec.encode_update(8, 1, 3, {"w": np.ones(2, "float32")},
                            {"count": np.array(1, "int64")}),
        codec.encode_push_pull(9, 1, 4, 16, {
            "dense/kernel": rng.normal(size=(3, 2)).astype("float32"),
            "ids": np.arange(3, dtype="int32"),
        }, {"bn/moving_var": np.ones(2, "float64")}, {"dense/kernel": 3, "ids": -1}, "0123abcd",
            250),
        codec.encode_push_pull_reply(10, "pending", {"w": np.ones((2, 3), "float32")},
                                     {"w": 11}, "0123abcd"),
    ]


def _decode_or_transport_error(message, limits=LIMITS):
    try:
        return decode(message, limits)
    except TransportError:
        return None


@pytest.mark.parametrize("index", range(8))
def test_every_truncation(index):
    wire = _samples()[index]
    assert decode(wire, LIMITS).kind in set(Kind)
    for end in range(len(wire)):
        with pytest.raises(TransportError):
            decode(wire[:end], LIMITS)


@pytest.mark.parametrize("index", range(8))
def test_byte_flips(index):
    rng = np.random.default_rng(index)
    wire = bytearray(_samples()[index])
    for _ in range(1500):
        mutated = bytearray(wire)
        for _ in range(int(rng.integers(1, 4))):
            position = int(rng.integers(len(mutated)))
            mutated[position] = int(rng.integers(256))
        _decode_or_transport_error(bytes(mutated))


def test_random_bytes_after_a_valid_header():
    rng = np.random.default_rng(1)
    for kind in Kind:
        header = struct.pack("<4sBBHQ", codec.MAGIC, codec.FORMAT_VERSION, int(kind), 0, 1)
        for _ in range(400):
            body = rng.integers(0, 256, size=int(rng.integers(0, 64)), dtype=np.uint8).tobytes()
            _decode_or_transport_error(header + body)


# Values of every msgpack type, to put in each field in turn.
WRONG_VALUES = [None, True, -1, 2**64 - 1, 1.5, "s", b"b", [], [1, [2]], {}, {"a": 1},
                msgpack.ExtType(1, b"x"), "x" * 600, list(range(100))]


def _bodies():
    tensor = {"name": "w", "dtype": "float32", "shape": [2], "data": b"\x00" * 8}
    return {
        Kind.PUSH: {"worker": 0, "step": 0, "shard_size": 1, "gradients": [tensor],
                    "assigns": [dict(tensor, name="a")]},
        Kind.PULL: {"known": {"w": 1}, "after_step": 3, "generation": "g", "timeout_ms": 10},
        Kind.PULL_REPLY: {"tensors": [tensor], "versions": {"w": 1}, "generation": "g"},
        Kind.ERROR: {"code": "E", "message": "m"},
        Kind.ACK: {"result": "applied"},
        Kind.UPDATE: {"worker": 0, "sequence": 0, "gradients": [tensor],
                      "deltas": [dict(tensor, name="d")]},
        Kind.PUSH_PULL: {"worker": 0, "step": 0, "shard_size": 1, "gradients": [tensor],
                         "assigns": [dict(tensor, name="a")], "known": {"w": 1},
                         "generation": "g", "timeout_ms": 10},
        Kind.PUSH_PULL_REPLY: {"result": "applied", "tensors": [tensor], "versions": {"w": 1},
                               "generation": "g"},
    }, tensor


def _header(kind):
    return struct.pack("<4sBBHQ", codec.MAGIC, codec.FORMAT_VERSION, int(kind), 0, 1)


def _send(kind, body):
    """`body` as a message of `kind`; its tensors' "data" bytes go after the body."""
    return raw_message(_header(kind), body)


def _with_length(kind, body: bytes, declared=None):
    """Header, a body length (`declared`, or the body's own), then the bytes of `body`."""
    length = len(body) if declared is None else declared
    return _header(kind) + struct.pack("<I", length) + body


def test_wrong_type_in_every_field():
    bodies, tensor = _bodies()
    for kind, body in bodies.items():
        assert decode(_send(kind, body), LIMITS).kind == kind
        for field in body:
            for value in WRONG_VALUES:
                _decode_or_transport_error(_send(kind, dict(body, **{field: value})))
        for key in ("tensors", "gradients", "assigns", "deltas"):
            if key not in body:
                continue
            for field in tensor:
                for value in WRONG_VALUES:
                    bad = dict(tensor, **{field: value})
                    _decode_or_transport_error(_send(kind, dict(body, **{key: [bad]})))


def test_huge_declared_sizes_do_not_allocate():
    declarations = [
        b"\xc6\xff\xff\xff\xff",  # bin 32 of 4 GiB
        b"\xdb\xff\xff\xff\xff",  # str 32 of 4 GiB
        b"\xdd\xff\xff\xff\xff",  # array 32 of 4G entries
        b"\xdf\xff\xff\xff\xff",  # map 32 of 4G entries
        b"\xc9\xff\xff\xff\xff\x01",  # ext 32 of 4 GiB
    ]
    for declaration in declarations:
        start = time.perf_counter()
        with pytest.raises(TransportError):
            decode(_with_length(Kind.PUSH, declaration + b"\x00" * 16), LIMITS)
        assert time.perf_counter() - start < 1.0
    with pytest.raises(TransportError, match="runs past the end"):  # a body of 4 GiB
        decode(_with_length(Kind.PUSH, b"\x80", declared=2**32 - 1), LIMITS)
    # A tensor claiming a shape far larger than its bytes: refused before any reshape.
    tensor = {"name": "w", "dtype": "float64", "shape": [2**48, 2**48, 2**48], "data": b""}
    body = {"worker": 0, "step": 0, "shard_size": 0, "gradients": [tensor], "assigns": []}
    with pytest.raises(TransportError, match="needs"):
        decode(_send(Kind.PUSH, body), LIMITS)


@pytest.mark.parametrize("opener", [b"\x91", b"\x81\xa1k"])
def test_deep_nesting(opener):
    for depth in (10, 1000, 100_000):
        start = time.perf_counter()
        with pytest.raises(TransportError):
            decode(_with_length(Kind.PULL, opener * depth + b"\xc0"), Limits())
        assert time.perf_counter() - start < 2.0


def test_random_structures():
    rng = np.random.default_rng(2)

    def value(depth):
        choice = int(rng.integers(8 if depth < 4 else 5))
        if choice == 0:
            return int(rng.integers(-(2**40), 2**40))
        if choice == 1:
            return ["name", "dtype", "shape", "data", "float32", "w"][int(rng.integers(6))]
        if choice == 2:
            return rng.bytes(int(rng.integers(0, 16)))
        if choice == 3:
            return bool(rng.integers(2))
        if choice == 4:
            return None
        if choice == 5:
            return [value(depth + 1) for _ in range(int(rng.integers(0, 4)))]
        keys = ["name", "dtype", "shape", "data", "tensors", "known", "versions", "worker",
                "gradients", "assigns", "after_step", "generation", "result", "sequence",
                "deltas", "shard_size", "timeout_ms", "step"]
        return {keys[int(rng.integers(len(keys)))]: value(depth + 1)
                for _ in range(int(rng.integers(0, 4)))}

    for _ in range(3000):
        kind = list(Kind)[int(rng.integers(len(Kind)))]
        _decode_or_transport_error(_send(kind, value(0)))
