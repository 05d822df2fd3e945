"""The transport's wire codec: round trips of every kind, and each validation rule."""

import doctest
import struct

import msgpack
import numpy as np
import pytest
from dtf.cluster.transport import codec
from dtf.cluster.transport.codec import Kind, Limits, TransportError, decode

from dtf.testing.wire import raw_message

DTYPES = sorted(codec.WIRE_DTYPES)
SHAPES = [(), (0,), (1,), (5,), (2, 3), (0, 4), (2, 1, 3), (1, 1, 1, 1, 2)]


def _array(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=shape) * 100
    if np.dtype(dtype).kind == "c":
        values = values + 1j * rng.normal(size=shape)
    return values.astype(dtype)


def _header(kind=Kind.PUSH, request_id=1, version=codec.FORMAT_VERSION, magic=codec.MAGIC):
    return struct.pack("<4sBBHQ", magic, version, int(kind), 0, request_id)


def _raw(kind, body, data_after=b""):
    """A message of `kind` with `body`; its tensors' "data" go after the body."""
    return raw_message(_header(kind), body, data_after)


def _tensor(name="w", dtype="float32", shape=(2,), data=None):
    if data is None:
        data = np.zeros(shape, dtype).tobytes()
    return {"name": name, "dtype": dtype, "shape": list(shape), "data": data}


def _pull_body(**overrides):
    body = {"known": None, "after_step": None, "generation": None, "timeout_ms": 1000}
    body.update(overrides)
    return body


def _push_body(**overrides):
    body = {"worker": 0, "step": 1, "shard_size": 4, "gradients": [_tensor()], "assigns": []}
    body.update(overrides)
    return body


def test_docstring_examples():
    assert doctest.testmod(codec, optionflags=doctest.ELLIPSIS).failed == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_push_round_trip_every_dtype_and_shape(dtype):
    tensors = {f"v3/dense/kernel/part_{i}": _array(dtype, shape, i)
               for i, shape in enumerate(SHAPES)}
    assigns = {"bn/moving_mean": _array(dtype, (3,), 9)}
    msg = decode(codec.encode_push(2**64 - 1, worker=3, step=2**40, shard_size=7,
                                   gradients=tensors, assigns=assigns))
    assert isinstance(msg, codec.PushRequest)
    assert (msg.kind, msg.request_id, msg.worker, msg.step, msg.shard_size) == (
        Kind.PUSH, 2**64 - 1, 3, 2**40, 7)
    assert list(msg.gradients) == list(tensors) and list(msg.assigns) == list(assigns)
    for name, array in [*tensors.items(), *assigns.items()]:
        got = msg.gradients.get(name, msg.assigns.get(name))
        assert got.dtype == array.dtype and got.shape == array.shape
        np.testing.assert_array_equal(got, array)


def test_push_without_assigns_carries_an_empty_map():
    msg = decode(codec.encode_push(1, 0, 0, 1, {"w": np.ones(2)}))
    assert msg.assigns == {} and list(msg.gradients) == ["w"]
    assert decode(codec.encode_push(1, 0, 0, 1, {"w": np.ones(2)}, {})).assigns == {}


def test_push_results_are_the_parameter_servers():
    from dtf.cluster.parameter_server import Push

    assert codec.PUSH_RESULTS == tuple(p.value for p in Push)
    for result in codec.PUSH_RESULTS:
        assert decode(codec.encode_ack(3, result)).result == result


def test_non_contiguous_and_big_endian_arrays_are_sent_as_little_endian_c_order():
    base = np.arange(24, dtype=">f8").reshape(4, 6)
    msg = decode(codec.encode_push(1, 0, 0, 0, {"t": base.T[::2], "b": base}))
    np.testing.assert_array_equal(msg.gradients["t"], base.T[::2])
    assert msg.gradients["b"].dtype == np.dtype("<f8")


def test_decoded_arrays_are_read_only_views():
    msg = decode(codec.encode_push(1, 0, 0, 0, {"w": np.ones(4, "float32")}))
    assert not msg.gradients["w"].flags.writeable


def test_pull_request_reply_error_ack_round_trip():
    req = decode(codec.encode_pull_request(9, {"a": 0, "b": 12, "c": -1}, 5, "gen-1", 2500))
    assert (req.kind, req.request_id, req.known, req.after_step, req.generation,
            req.timeout_ms) == (Kind.PULL, 9, {"a": 0, "b": 12, "c": -1}, 5, "gen-1", 2500)
    plain = decode(codec.encode_pull_request(1, None))
    assert (plain.known, plain.after_step, plain.generation) == (None, None, None)
    assert decode(codec.encode_pull_request(1, {})).known == {}

    reply = decode(codec.encode_pull_reply(4, {"a": np.eye(3)}, {"a": 5}, "gen-1"))
    assert reply.kind == Kind.PULL_REPLY and reply.versions == {"a": 5}
    assert reply.generation == "gen-1"
    np.testing.assert_array_equal(reply.tensors["a"], np.eye(3))
    assert decode(codec.encode_pull_reply(4, {}, {}, "")).tensors == {}

    err = decode(codec.encode_error(5, "BAD_SHAPE", "tensor 'w' has shape (3,), expected (2,)"))
    assert (err.kind, err.code, err.message) == (
        Kind.ERROR, "BAD_SHAPE", "tensor 'w' has shape (3,), expected (2,)")

    ack = decode(codec.encode_ack(6, "duplicate"))
    assert (ack.kind, ack.request_id, ack.result) == (Kind.ACK, 6, "duplicate")


def test_push_pull_round_trip():
    grads = {"dense/kernel": _array("float32", (3, 4)), "ids": np.arange(3, dtype="int64")}
    wire = codec.encode_push_pull(11, 2, 2**40, 64, grads, {"bn/mean": np.ones(2, "float16")},
                                  {"dense/kernel": 7, "ids": -1}, "gen-2", 1500)
    msg = decode(wire)
    assert (msg.kind, msg.request_id, msg.worker, msg.step, msg.shard_size, msg.known,
            msg.generation, msg.timeout_ms) == (Kind.PUSH_PULL, 11, 2, 2**40, 64,
                                                {"dense/kernel": 7, "ids": -1}, "gen-2", 1500)
    for name, array in grads.items():
        np.testing.assert_array_equal(msg.gradients[name], array)
        assert not msg.gradients[name].flags.writeable
    np.testing.assert_array_equal(msg.assigns["bn/mean"], np.ones(2, "float16"))
    plain = decode(codec.encode_push_pull(1, 0, 0, 1, {}))
    assert (plain.assigns, plain.known, plain.generation, plain.timeout_ms) == (
        {}, None, None, 120_000)

    reply = decode(codec.encode_push_pull_reply(12, "stale", {"a": np.eye(2)}, {"a": 3}, "g"))
    assert (reply.kind, reply.request_id, reply.result, reply.versions, reply.generation) == (
        Kind.PUSH_PULL_REPLY, 12, "stale", {"a": 3}, "g")
    np.testing.assert_array_equal(reply.tensors["a"], np.eye(2))
    assert decode(codec.encode_push_pull_reply(1, "wait", {}, {}, "g")).tensors == {}


def test_push_pull_encode_refuses_bad_arguments():
    grads = {"w": np.ones(2, "float32")}
    for kwargs, match in [
        ({"worker": -1}, "worker must be in"),
        ({"step": 1.5}, "step must be an int"),
        ({"shard_size": True}, "shard_size must be an int"),
        ({"timeout_ms": 2**62}, "timeout_ms must be in"),
        ({"known": {"w": "1"}}, "must be an int"),
        ({"generation": 3}, "generation must be a str"),
        ({"gradients": [1]}, "gradients must be a dict"),
        ({"assigns": {"a": np.array(["x"], dtype=object)}}, "dtype object"),
    ]:
        args = {"request_id": 1, "worker": 0, "step": 0, "shard_size": 1, "gradients": grads,
                **kwargs}
        with pytest.raises(TransportError, match=match):
            codec.encode_push_pull(**args)
    with pytest.raises(TransportError, match="result must be one of"):
        codec.encode_push_pull_reply(1, "done", {}, {}, "g")
    with pytest.raises(TransportError, match="one version per tensor"):
        codec.encode_push_pull_reply(1, "applied", grads, {}, "g")


def _push_pull_body(**overrides):
    body = {"worker": 0, "step": 3, "shard_size": 8, "gradients": [_tensor()], "assigns": [],
            "known": {"w": 1}, "generation": "g", "timeout_ms": 100}
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    "body, match",
    [
        (_push_pull_body(step=-1), "step must be in"),
        (_push_pull_body(worker="0"), "worker must be an int"),
        (_push_pull_body(shard_size=2**63), "shard_size must be in|not valid msgpack"),
        (_push_pull_body(known=[]), "known must be a map"),
        (_push_pull_body(known={"w": 1.0}), "must be an int"),
        (_push_pull_body(generation=b"g"), "max_bin_len"),  # a body carries no bin
        (_push_pull_body(timeout_ms=-5), "timeout_ms must be in"),
        (_push_pull_body(gradients=[_tensor(), _tensor()]), "appears twice"),
        (_push_pull_body(assigns=[_tensor(dtype="object")]), "allowed dtypes"),
        (_push_pull_body(gradients=[_tensor(shape=(3,), data=b"\0" * 8)]),
         "needs 12 bytes from byte"),
        ({k: v for k, v in _push_pull_body().items() if k != "known"}, "missing fields"),
        (_push_pull_body(after_step=1), "unknown fields"),
    ],
)
def test_push_pull_field_validation(body, match):
    with pytest.raises(TransportError, match=match):
        decode(_raw(Kind.PUSH_PULL, body))


@pytest.mark.parametrize(
    "body, match",
    [
        ({"result": "later", "tensors": [], "versions": {}, "generation": "g"},
         "result must be one of"),
        ({"result": "applied", "tensors": [_tensor()], "versions": {}, "generation": "g"},
         "differ"),
        ({"result": "applied", "tensors": [], "versions": {}, "generation": None},
         "generation must be a str"),
        ({"result": "applied", "tensors": [], "versions": {}}, "missing fields"),
    ],
)
def test_push_pull_reply_field_validation(body, match):
    with pytest.raises(TransportError, match=match):
        decode(_raw(Kind.PUSH_PULL_REPLY, body))


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
        codec.encode_pull_reply(1, {"a": np.ones(1)}, {}, "g")
    with pytest.raises(TransportError, match="generation must be a str"):
        codec.encode_pull_reply(1, {}, {}, None)
    with pytest.raises(TransportError, match="generation must be a str"):
        codec.encode_pull_request(1, None, generation="g" * 129)
    with pytest.raises(TransportError, match="after_step must be in"):
        codec.encode_pull_request(1, None, after_step=-1)
    with pytest.raises(TransportError, match="timeout_ms must be in"):
        codec.encode_pull_request(1, None, timeout_ms=-5)
    with pytest.raises(TransportError, match="push result must be one of"):
        codec.encode_ack(1, "done")
    with pytest.raises(TransportError, match="assigns must be a dict"):
        codec.encode_push(1, 0, 0, 1, {}, [np.ones(1)])
    with pytest.raises(TransportError, match="error code"):
        codec.encode_error(1, "lower case", "x")


def test_header_checks():
    good = codec.encode_pull_request(1, {})
    with pytest.raises(TransportError, match="shorter than the 16-byte header"):
        decode(good[:10])
    with pytest.raises(TransportError, match="bad magic"):
        decode(b"XXXX" + good[4:])
    with pytest.raises(TransportError, match="format version 1 is not supported"):
        decode(_header(Kind.PULL, version=1) + good[16:])
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
        ({"worker": 0, "step": 1, "shard_size": 0, "gradients": []}, "missing fields"),
        (dict(_push_body(), shard=0), "unknown fields"),
        (_push_body(worker="0"), "worker must be an int"),
        (_push_body(worker=True), "worker must be an int"),
        (_push_body(step=-1), "step must be in"),
        (_push_body(shard_size=1.5), "shard_size must be an int"),
        (_push_body(shard_size=None), "shard_size must be an int"),
        (_push_body(gradients={}), "gradients must be a list"),
        (_push_body(assigns=None), "assigns must be a list"),
        (_push_body(assigns=[[1]]), "must be a map"),
        (_push_body(gradients=[[1]]), "must be a map"),
        (_push_body(gradients=[dict(_tensor(), extra=1)]), "exactly the fields"),
        (_push_body(gradients=[_tensor(name=3)]), "name must be a str"),
        (_push_body(gradients=[_tensor(name="")]), "1 to 512 characters"),
        (_push_body(gradients=[_tensor(dtype="object")]), "allowed dtypes"),
        (_push_body(gradients=[_tensor(dtype="<f4")]), "allowed dtypes"),
        (_push_body(gradients=[dict(_tensor(), shape=(2,))]), None),
        (_push_body(gradients=[dict(_tensor(), shape=[-1])]), r"shape\[0\] must be in"),
        (_push_body(gradients=[dict(_tensor(), shape=[2.0])]), r"shape\[0\] must be an int"),
        (_push_body(gradients=[dict(_tensor(), shape="2")]), "shape must be a list"),
        (_push_body(gradients=[dict(_tensor(), shape=[2**40, 2**40])]), "needs"),
        (_push_body(gradients=[dict(_tensor(), data=b"\x00" * 7)]), "needs 8 bytes from byte"),
        (_push_body(gradients=[dict(_tensor(), data="12345678")]), "exactly the fields"),
        (_push_body(gradients=[_tensor(), _tensor()]), "appears twice"),
    ],
)
def test_push_field_validation(body, match):
    if match is None:  # msgpack has no tuples: a tuple shape packs as a list and is fine
        assert decode(_raw(Kind.PUSH, body)).gradients["w"].shape == (2,)
        return
    with pytest.raises(TransportError, match=match):
        decode(_raw(Kind.PUSH, body))


def test_total_tensor_bytes_count_gradients_and_assigns_together():
    wire = codec.encode_push(1, 0, 0, 1, {"a": np.ones(100)}, {"b": np.ones(100)})
    assert set(decode(wire, Limits(max_total_tensor_bytes=1600)).assigns) == {"b"}
    with pytest.raises(TransportError, match="total over 1599 bytes"):
        decode(wire, Limits(max_total_tensor_bytes=1599))


@pytest.mark.parametrize(
    "kind, body, match",
    [
        (Kind.PULL, _pull_body(known=[]), "known must be a map"),
        (Kind.PULL, _pull_body(known={"a": 2**63}), "must be in"),
        (Kind.PULL, _pull_body(known={"a": "1"}), "must be an int"),
        (Kind.PULL, _pull_body(known={1: 1}), "not valid msgpack|must be a str"),
        (Kind.PULL, _pull_body(after_step=-1), "after_step must be in"),
        (Kind.PULL, _pull_body(after_step="3"), "after_step must be an int"),
        (Kind.PULL, _pull_body(generation=7), "generation must be a str"),
        (Kind.PULL, _pull_body(generation="g" * 129), "generation must be a str"),
        (Kind.PULL, _pull_body(timeout_ms=None), "timeout_ms must be an int"),
        (Kind.PULL, _pull_body(timeout_ms=2**62), "timeout_ms must be in"),
        (Kind.PULL, {"known": None}, "missing fields"),
        (Kind.PULL_REPLY, {"tensors": [_tensor()], "versions": {}, "generation": "g"}, "differ"),
        (Kind.PULL_REPLY, {"tensors": [], "versions": {}, "generation": None},
         "generation must be a str"),
        (Kind.PULL_REPLY, {"tensors": [], "versions": {}}, "missing fields"),
        (Kind.ERROR, {"code": "bad", "message": "x"}, "error code"),
        (Kind.ERROR, {"code": "E", "message": b"x"}, "max_bin_len"),  # a body carries no bin
        (Kind.ERROR, {"code": "E", "message": 7}, "error message"),
        (Kind.ACK, {"result": 1}, "result must be one of"),
        (Kind.ACK, {"result": "done"}, "result must be one of"),
        (Kind.ACK, {"applied": True, "versions": {}}, "unknown fields"),
    ],
)
def test_other_kinds_field_validation(kind, body, match):
    with pytest.raises(TransportError, match=match):
        decode(_raw(kind, body))


def test_extension_types_bins_and_trailing_bytes_are_refused():
    ext = msgpack.packb(_pull_body(known=msgpack.ExtType(5, b"abc")))
    with pytest.raises(TransportError, match="max_ext_len|extension"):
        decode(_raw(Kind.PULL, ext))
    timestamp = msgpack.packb(_pull_body(known=msgpack.Timestamp(1)), datetime=False)
    with pytest.raises(TransportError, match="max_ext_len|extension"):
        decode(_raw(Kind.PULL, timestamp))
    # the version 3 form, a tensor's bytes as a bin inside the body, is no longer taken
    inline = msgpack.packb(_push_body(gradients=[_tensor()]), use_bin_type=True)
    with pytest.raises(TransportError, match="max_bin_len|not valid msgpack"):
        decode(_raw(Kind.PUSH, inline))
    with pytest.raises(TransportError, match="1 bytes follow the last tensor"):
        decode(codec.encode_pull_request(1, {}) + b"\x00")
    with pytest.raises(TransportError, match="3 bytes follow the last tensor"):
        decode(_raw(Kind.PUSH, _push_body(), data_after=b"abc"))


def test_body_length_is_checked():
    wire = codec.encode_pull_request(1, {})
    with pytest.raises(TransportError, match="ends before its body length"):
        decode(wire[:18])
    too_long = wire[:16] + struct.pack("<I", len(wire)) + wire[20:]
    with pytest.raises(TransportError, match="runs past the end"):
        decode(too_long)
    short = wire[:16] + struct.pack("<I", len(wire) - 21) + wire[20:]
    with pytest.raises(TransportError, match="not valid msgpack"):
        decode(short)


def test_tensor_data_is_aligned_and_in_body_order():
    wire = codec.encode_push(1, 0, 0, 0, {"a": np.arange(3, dtype="int8"),
                                          "b": np.arange(2.0)}, {"c": np.ones(1, "float32")})
    msg = decode(wire)
    base = np.frombuffer(wire, np.uint8).ctypes.data
    for array in (*msg.gradients.values(), *msg.assigns.values()):
        assert (array.ctypes.data - base) % 8 == 0
    np.testing.assert_array_equal(msg.gradients["b"], [0.0, 1.0])
    assert len(wire) % 8 == 4  # ends with the last tensor's 4 bytes, no padding after it


def test_decode_accepts_memoryview_and_bytearray():
    wire = codec.encode_push(1, 0, 0, 0, {"w": np.arange(3.0)})
    for message in (memoryview(wire), bytearray(wire)):
        np.testing.assert_array_equal(decode(message).gradients["w"], np.arange(3.0))


@pytest.mark.parametrize("size", [16, 20_000])
def test_messages_decode_without_copying_tensor_data(size):
    wire = codec.encode_push(1, 0, 0, 0, {"w": np.arange(size, dtype="float64")})
    array = decode(wire).gradients["w"]
    np.testing.assert_array_equal(array, np.arange(size))
    assert np.shares_memory(array, np.frombuffer(wire, np.uint8))


def test_update_round_trip_and_validation():
    msg = decode(codec.encode_update(8, worker=2, sequence=17,
                                     gradients={"w": np.ones(3, "float32")},
                                     deltas={"metric/count": np.array(4, "int64")}))
    assert isinstance(msg, codec.UpdateRequest)
    assert (msg.kind, msg.request_id, msg.worker, msg.sequence) == (Kind.UPDATE, 8, 2, 17)
    np.testing.assert_array_equal(msg.gradients["w"], np.ones(3))
    assert msg.deltas["metric/count"].shape == () and int(msg.deltas["metric/count"]) == 4
    good = {"worker": 0, "sequence": 1, "gradients": [], "deltas": [_tensor()]}
    assert list(decode(_raw(Kind.UPDATE, good)).deltas) == ["w"]
    for bad, match in [(dict(good, sequence=-1), "sequence must be in"),
                       (dict(good, deltas={}), "deltas must be a list"),
                       (dict(good, step=1), "unknown fields"),
                       ({"worker": 0, "sequence": 1, "gradients": []}, "missing fields")]:
        with pytest.raises(TransportError, match=match):
            decode(_raw(Kind.UPDATE, bad))
    with pytest.raises(TransportError, match="deltas must be a dict"):
        codec.encode_update(1, 0, 0, {}, None)


def test_messages_docstring_examples():
    from dtf.cluster.transport import messages

    assert doctest.testmod(messages).failed == 0
