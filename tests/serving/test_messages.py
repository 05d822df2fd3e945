"""The serving wire format on its own: round trips, the checks of encoding, and docstrings."""

import doctest

import numpy as np
import pytest

from dtf.serving import messages
from dtf.serving.messages import Kind, MessageError, TensorInfo

WIRE_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
               "float16", "float32", "float64", "complex64", "complex128"]


@pytest.mark.parametrize("dtype", WIRE_DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 5), (1, 0, 4)])
def test_predict_round_trip(dtype, shape):
    array = (np.arange(int(np.prod(shape))) % 3).astype(dtype).reshape(shape)
    request = messages.decode(messages.encode_predict(2**64 - 1, {"x": array, "y": array[..., None]
                                                                 if shape else array}, "sig"))
    assert request.kind == Kind.PREDICT and request.request_id == 2**64 - 1
    assert request.signature == "sig"
    assert request.inputs["x"].dtype == np.dtype(dtype)
    np.testing.assert_array_equal(request.inputs["x"], array)
    assert not request.inputs["x"].flags.writeable  # a view of the received bytes
    reply = messages.decode(messages.encode_predict_reply(4, "sig", {"out": array}))
    assert reply.kind == Kind.PREDICT_REPLY and reply.signature == "sig"
    np.testing.assert_array_equal(reply.outputs["out"], array)


def test_non_contiguous_and_big_endian_arrays_are_sent_as_values():
    array = np.arange(12, dtype=">f4").reshape(3, 4)[:, ::2]
    out = messages.decode(messages.encode_predict(1, {"x": array})).inputs["x"]
    np.testing.assert_array_equal(out, array)
    assert out.dtype == np.dtype("float32")


def test_health_round_trip():
    x = TensorInfo("x", "float32", (None, 4))
    y = TensorInfo("y", "int64", ())
    signatures = {"a": {"inputs": [x], "outputs": [y]}, "b": {"inputs": [x, y], "outputs": [x]}}
    reply = messages.decode(messages.encode_health_reply(
        8, "NOT_SERVING", "b", 32, signatures, model="Functional", dtf_version="0.1.0"))
    assert (reply.kind, reply.request_id, reply.status, reply.default_signature,
            reply.max_batch, reply.model, reply.dtf_version) == \
        (Kind.HEALTH_REPLY, 8, "NOT_SERVING", "b", 32, "Functional", "0.1.0")
    assert reply.signatures == signatures
    assert messages.decode(messages.encode_health(3)) == messages.HealthRequest(3)


@pytest.mark.parametrize("call, match", [
    (lambda: messages.encode_predict(-1, {}), "request_id"),
    (lambda: messages.encode_predict(1, {"x": np.array(["a"])}), "does not carry"),
    (lambda: messages.encode_predict(1, {"x": np.array([object()])}), "does not carry"),
    (lambda: messages.encode_predict(1, [np.zeros(2)]), "must be a dict"),
    (lambda: messages.encode_predict(1, {3: np.zeros(2)}), "names must be str"),
    (lambda: messages.encode_predict(1, {}, signature=""), "signature must be a str"),
    (lambda: messages.encode_predict_reply(1, None, {}), "signature must be a str"),
    (lambda: messages.encode_health_reply(1, "UP", "a", 1, {}), "status must be one of"),
    (lambda: messages.encode_health_reply(1, "SERVING", "a", 1, {}), "non-empty"),
    (lambda: messages.encode_health_reply(
        1, "SERVING", "a", 0, {"a": {"inputs": [], "outputs": []}}), "max_batch"),
    (lambda: messages.encode_health_reply(
        1, "SERVING", "b", 1, {"a": {"inputs": [], "outputs": []}}), "default signature"),
])
def test_encoding_refuses_what_cannot_be_sent(call, match):
    with pytest.raises(MessageError, match=match):
        call()


def test_decode_refuses_non_bytes_and_oversize():
    with pytest.raises(MessageError, match="must be bytes"):
        messages.decode("text")
    wire = messages.encode_predict(1, {"x": np.zeros(100, "float64")})
    with pytest.raises(MessageError, match="exceeds the receiver's limit of 100 bytes"):
        messages.decode(wire, messages.default_limits(100))
    assert messages.peek_request_id(wire) == 1
    assert messages.peek_request_id(b"short") == 0


def test_health_reply_fields_are_checked():
    good = messages.encode_health_reply(
        1, "SERVING", "a", 1, {"a": {"inputs": [TensorInfo("x", "float32", (None,))],
                                      "outputs": []}})
    header = good[:messages.HEADER_SIZE]
    import msgpack

    from dtf.testing.wire import raw_message

    fields = msgpack.unpackb(good[messages.HEADER_SIZE + 4:])
    for change, match in [
        ({"max_batch": True}, "max_batch"),
        ({"status": 1}, "status"),
        ({"model": "m" * 2000}, "model"),
        ({"model": "m" * 5000}, "max_str_len"),
        ({"signatures": {"a": {"inputs": [{"name": "x", "dtype": "str", "shape": []}],
                               "outputs": []}}}, "dtype 'str'"),
        ({"signatures": {"a": {"inputs": [{"name": "x", "dtype": "int8", "shape": [-1]}],
                               "outputs": []}}}, "shape"),
        ({"signatures": {"a": {"inputs": []}}}, "missing fields"),
        ({"extra": 1}, "unknown fields"),
    ]:
        with pytest.raises(MessageError, match=match):
            messages.decode(raw_message(header, {**fields, **change}))
    with pytest.raises(MessageError, match="not valid msgpack"):
        messages.decode(raw_message(header, b"\xc1"))


def test_docstring_examples():
    result = doctest.testmod(messages, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
