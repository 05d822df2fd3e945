"""The transport's wire codec: round trips of every kind, and each validation rule."""

import doctest
import struct

import msgpack
import numpy as np
import pytest
from dtf.cluster.transport import codec
from dtf.cluster.transport.codec import Kind, Limits, TransportError, decode

DTYPES = sorted(codec.WIRE_DTYPES)
SHAPES = [(), (0,), (1,), (5,), (2, 3), (0, 4), (2, 1, 3), (1, 1, 1, 1, 2)]


@pytest.fixture(autouse=True, params=["msgpack", "view"])
def reader(request, monkeypatch):
    """Runs each test with both body readers: msgpack's C unpacker and msgpack_view."""
    if request.param == "view":
        monkeypatch.setattr(codec, "ZERO_COPY_MIN_BYTES", 0)
    return request.param


def _array(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=shape) * 100
    if np.dtype(dtype).kind == "c":
        values = values + 1j * rng.normal(size=shape)
    return values.astype(dtype)


def _header(kind=Kind.PUSH, request_id=1, version=codec.FORMAT_VERSION, magic=codec.MAGIC):
    return struct.pack("<4sBBHQ", magic, version, int(kind), 0, request_id)


def _raw(kind, body):
    return _header(kind) + msgpack.packb(body, use_bin_type=True)


def _tensor(name="w", dtype="float32", shape=(2,), data=None):
    if data is None:
        data = np.zeros(shape, dtype).tobytes()
    return {"name": name, "dtype": dtype, "shape": list(shape), "data": data}


def _push_body(**overrides):
    body = {"worker": 0, "step": 1, "shard": 0, "tensors": [_tensor()]}
    body.update(overrides)
    return body


def test_docstring_examples():
    assert doctest.testmod(codec, optionflags=doctest.ELLIPSIS).failed == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_push_round_trip_every_dtype_and_shape(dtype):
    tensors = {f"t{i}": _array(dtype, shape, i) for i, shape in enumerate(SHAPES)}
    msg = decode(codec.encode_push(2**64 - 1, worker=3, step=2**40, shard=7, tensors=tensors))
    assert isinstance(msg, codec.Push)
    assert (msg.kind, msg.request_id, msg.worker, msg.step, msg.shard) == (
        Kind.PUSH, 2**64 - 1, 3, 2**40, 7)
    assert list(msg.tensors) == list(tensors)
    for name, array in tensors.items():
        got = msg.tensors[name]
        assert got.dtype == array.dtype and got.shape == array.shape
        np.testing.assert_array_equal(got, array)


def test_non_contiguous_and_big_endian_arrays_are_sent_as_little_endian_c_order():
    base = np.arange(24, dtype=">f8").reshape(4, 6)
    msg = decode(codec.encode_push(1, 0, 0, 0, {"t": base.T[::2], "b": base}))
    np.testing.assert_array_equal(msg.tensors["t"], base.T[::2])
    assert msg.tensors["b"].dtype == np.dtype("<f8")


def test_decoded_arrays_are_read_only_views():
    msg = decode(codec.encode_push(1, 0, 0, 0, {"w": np.ones(4, "float32")}))
    assert not msg.tensors["w"].flags.writeable


def test_pull_request_reply_error_ack_round_trip():
    req = decode(codec.encode_pull_request(9, {"a": 0, "b": 12}))
    assert (req.kind, req.request_id, req.known) == (Kind.PULL, 9, {"a": 0, "b": 12})
    assert decode(codec.encode_pull_request(1, {})).known == {}

    reply = decode(codec.encode_pull_reply(4, {"a": np.eye(3)}, {"a": 5}))
    assert reply.kind == Kind.PULL_REPLY and reply.versions == {"a": 5}
    np.testing.assert_array_equal(reply.tensors["a"], np.eye(3))

    err = decode(codec.encode_error(5, "BAD_SHAPE", "tensor 'w' has shape (3,), expected (2,)"))
    assert (err.kind, err.code, err.message) == (
        Kind.ERROR, "BAD_SHAPE", "tensor 'w' has shape (3,), expected (2,)")

    ack = decode(codec.encode_ack(6, False, {"w": 3}))
    assert (ack.kind, ack.applied, ack.versions) == (Kind.ACK, False, {"w": 3})


def test_encode_refuses_bad_arguments():
    with pytest.raises(TransportError, match="dtype object"):
        codec.encode_push(1, 0, 0, 0, {"w": np.array(["x"], dtype=object)})
    with pytest.raises(TransportError, match="worker must be an int"):
        codec.encode_push(1, True, 0, 0, {})
    with pytest.raises(TransportError, match="step must be in"):
        codec.encode_push(1, 0, -1, 0, {})
    with pytest.raises(TransportError, match="request_id"):
        codec.encode_push(-1, 0, 0, 0, {})
    with pytest.raises(TransportError, match="one version per tensor"):
        codec.encode_pull_reply(1, {"a": np.ones(1)}, {})
    with pytest.raises(TransportError, match="error code"):
        codec.encode_error(1, "lower case", "x")


def test_header_checks():
    good = codec.encode_pull_request(1, {})
    with pytest.raises(TransportError, match="shorter than the 16-byte header"):
        decode(good[:10])
    with pytest.raises(TransportError, match="bad magic"):
        decode(b"XXXX" + good[4:])
    with pytest.raises(TransportError, match="format version 2 is not supported"):
        decode(_header(Kind.PULL, version=2) + good[16:])
    with pytest.raises(TransportError, match="unknown message kind 9"):
        decode(good[:5] + b"\x09" + good[6:])
    with pytest.raises(TransportError, match="reserved header field"):
        decode(good[:6] + b"\x01\x00" + good[8:])
    with pytest.raises(TransportError, match="must be bytes"):
        decode("a string")


def test_receiver_limits():
    wire = codec.encode_push(1, 0, 0, 0, {"a": np.ones(100), "b": np.ones(100)})
    with pytest.raises(TransportError, match="exceeds the receiver's limit"):
        decode(wire, Limits(max_message_bytes=len(wire) - 1))
    with pytest.raises(TransportError, match="not valid msgpack|over the limit of 799"):
        decode(wire, Limits(max_tensor_bytes=799))
    with pytest.raises(TransportError, match="total over 1000 bytes"):
        decode(wire, Limits(max_total_tensor_bytes=1000))
    with pytest.raises(TransportError):
        decode(wire, Limits(max_tensors=1))
    with pytest.raises(TransportError, match="axes, over the limit"):
        decode(codec.encode_push(1, 0, 0, 0, {"a": np.ones((1,) * 10)}), Limits(max_ndim=9))
    with pytest.raises(TransportError, match="characters"):
        decode(codec.encode_push(1, 0, 0, 0, {"a" * 20: np.ones(1)}), Limits(max_name_length=19))


@pytest.mark.parametrize(
    "body, match",
    [
        ([1, 2], "body must be a map"),
        (_push_body(extra=1), "unknown fields"),
        ({"worker": 0, "step": 1, "shard": 0}, "missing fields"),
        (_push_body(worker="0"), "worker must be an int"),
        (_push_body(worker=True), "worker must be an int"),
        (_push_body(step=-1), "step must be in"),
        (_push_body(shard=1.5), "shard must be an int"),
        (_push_body(tensors={}), "tensors must be a list"),
        (_push_body(tensors=[[1]]), "must be a map"),
        (_push_body(tensors=[dict(_tensor(), extra=1)]), "exactly the fields"),
        (_push_body(tensors=[_tensor(name=3)]), "name must be a str"),
        (_push_body(tensors=[_tensor(name="")]), "1 to 512 characters"),
        (_push_body(tensors=[_tensor(dtype="object")]), "allowed dtypes"),
        (_push_body(tensors=[_tensor(dtype="<f4")]), "allowed dtypes"),
        (_push_body(tensors=[dict(_tensor(), shape=(2,))]), None),
        (_push_body(tensors=[dict(_tensor(), shape=[-1])]), r"shape\[0\] must be in"),
        (_push_body(tensors=[dict(_tensor(), shape=[2.0])]), r"shape\[0\] must be an int"),
        (_push_body(tensors=[dict(_tensor(), shape="2")]), "shape must be a list"),
        (_push_body(tensors=[dict(_tensor(), shape=[2**40, 2**40])]), "needs"),
        (_push_body(tensors=[dict(_tensor(), data=b"\x00" * 7)]), "needs 8 bytes but carries 7"),
        (_push_body(tensors=[dict(_tensor(), data="12345678")]), "data must be msgpack bin"),
        (_push_body(tensors=[_tensor(), _tensor()]), "appears twice"),
    ],
)
def test_push_field_validation(body, match):
    if match is None:  # msgpack has no tuples: a tuple shape packs as a list and is fine
        assert decode(_raw(Kind.PUSH, body)).tensors["w"].shape == (2,)
        return
    with pytest.raises(TransportError, match=match):
        decode(_raw(Kind.PUSH, body))


@pytest.mark.parametrize(
    "kind, body, match",
    [
        (Kind.PULL, {"known": []}, "known must be a map"),
        (Kind.PULL, {"known": {"a": -1}}, "must be in"),
        (Kind.PULL, {"known": {"a": "1"}}, "must be an int"),
        (Kind.PULL, {"known": {1: 1}}, "not valid msgpack|must be a str"),
        (Kind.PULL_REPLY, {"tensors": [_tensor()], "versions": {}}, "differ"),
        (Kind.ERROR, {"code": "bad", "message": "x"}, "error code"),
        (Kind.ERROR, {"code": "E", "message": b"x"}, "error message"),
        (Kind.ACK, {"applied": 1, "versions": {}}, "applied must be a bool"),
        (Kind.ACK, {"applied": True}, "missing fields"),
    ],
)
def test_other_kinds_field_validation(kind, body, match):
    with pytest.raises(TransportError, match=match):
        decode(_raw(kind, body))


def test_extension_types_and_trailing_bytes_are_refused():
    ext = msgpack.packb({"known": msgpack.ExtType(5, b"abc")})
    with pytest.raises(TransportError, match="max_ext_len|extension"):
        decode(_header(Kind.PULL) + ext)
    timestamp = msgpack.packb({"known": msgpack.Timestamp(1)}, datetime=False)
    with pytest.raises(TransportError, match="max_ext_len|extension"):
        decode(_header(Kind.PULL) + timestamp)
    with pytest.raises(TransportError, match="not valid msgpack"):
        decode(codec.encode_pull_request(1, {}) + b"\x00")


def test_decode_accepts_memoryview_and_bytearray():
    wire = codec.encode_push(1, 0, 0, 0, {"w": np.arange(3.0)})
    for message in (memoryview(wire), bytearray(wire)):
        np.testing.assert_array_equal(decode(message).tensors["w"], np.arange(3.0))


def test_large_messages_decode_without_copying_tensor_data(reader):
    wire = codec.encode_push(1, 0, 0, 0, {"w": np.arange(20_000, dtype="float64")})
    array = decode(wire).tensors["w"]
    np.testing.assert_array_equal(array, np.arange(20_000))
    shares = np.shares_memory(array, np.frombuffer(wire, np.uint8))
    assert shares == (reader == "view" or len(wire) >= codec.ZERO_COPY_MIN_BYTES)


def test_view_reader_refuses_repeated_keys_and_reserved_bytes():
    from dtf.cluster.transport import msgpack_view

    with pytest.raises(ValueError, match="repeats"):
        msgpack_view.read(memoryview(b"\x82\xa1a\x01\xa1a\x02"), max_len=8, max_depth=4)
    with pytest.raises(ValueError, match="0xc1"):
        msgpack_view.read(memoryview(b"\xc1"), max_len=8, max_depth=4)
    with pytest.raises(ValueError, match="not UTF-8"):
        msgpack_view.read(memoryview(b"\xa1\xff"), max_len=8, max_depth=4)
    assert msgpack_view.read(memoryview(msgpack.packb([1.5, -3, None])), 8, 4) == [1.5, -3, None]
