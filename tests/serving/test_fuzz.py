"""Hostile bytes at a real model server: truncated, corrupted, mistyped and oversized requests
all end with INVALID_ARGUMENT and a reason, and the server answers correctly afterwards."""

import struct

import grpc
import numpy as np
import pytest
from dtf.cluster.transport.grpc_service import TOKEN_KEY

from dtf.serving import messages
from dtf.serving.server import HEALTH_METHOD, PREDICT_METHOD
from dtf.testing.wire import raw_message
from tests.serving.conftest import TOKEN, images

HEADER = struct.Struct("<4sBBHQ")
NAME = "images"


@pytest.fixture(scope="module")
def raw(server):
    """Calls with raw bytes: returns (status code, details, reply bytes or None)."""
    channel = grpc.insecure_channel(server.address)
    methods = {name: channel.unary_unary(name, _registered_method=True)
               for name in (PREDICT_METHOD, HEALTH_METHOD)}

    def call(request: bytes, method: str = PREDICT_METHOD):
        try:
            reply = methods[method](request, timeout=10, metadata=((TOKEN_KEY, TOKEN),))
        except grpc.RpcError as e:
            return e.code(), e.details(), None
        return grpc.StatusCode.OK, "", reply

    yield call
    channel.close()


@pytest.fixture(scope="module")
def check_alive(raw, mlp_signature):
    """Asserts that the server still answers a valid request correctly."""
    x = images(2, seed=99)
    want = mlp_signature(x)["output_0"].numpy()

    def check():
        code, details, reply = raw(messages.encode_predict(7, {NAME: x}))
        assert code == grpc.StatusCode.OK, details
        out = messages.decode(reply)
        assert out.request_id == 7
        np.testing.assert_array_equal(out.outputs["output_0"], want)

    return check


def assert_invalid(raw, request, method=PREDICT_METHOD, match=None):
    code, details, _ = raw(request, method)
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details, bytes(request[:64]))
    assert details  # always a reason
    if match is not None:
        assert match in details, details


def body(fields, kind=messages.Kind.PREDICT, version=messages.FORMAT_VERSION, magic=b"DTFS",
         reserved=0):
    # the tensors' "data" go after the body, as the format lays them out
    return raw_message(HEADER.pack(magic, version, int(kind), reserved, 3), fields)


def tensor(name=NAME, dtype="float32", shape=(1, 784), data=None):
    if data is None:
        data = np.zeros(shape, dtype).tobytes()
    return {"name": name, "dtype": dtype, "shape": list(shape), "data": data}


def test_truncations(raw, check_alive):
    valid = messages.encode_predict(1, {NAME: images(1, 0)}, "serving_default")
    structure = len(valid) - 784 * 4  # header and msgpack; then the tensor data
    cuts = list(range(structure + 1)) + list(range(structure + 1, len(valid), 97))
    for cut in cuts:
        assert_invalid(raw, valid[:cut])
    check_alive()


def test_byte_flips(raw, check_alive):
    """Every byte of the header and msgpack structure, changed three ways. The request id
    (bytes 8-16) and the tensor data are left alone: any value there is a valid request."""
    valid = messages.encode_predict(1, {NAME: images(1, 0)}, "serving_default")
    structure = len(valid) - 784 * 4
    rng = np.random.default_rng(0)
    for position in [p for p in range(structure) if not 8 <= p < 16]:
        for xor in (0xFF, 1 << int(rng.integers(8)), int(rng.integers(1, 256))):
            corrupt = bytearray(valid)
            corrupt[position] ^= xor
            assert_invalid(raw, bytes(corrupt))
    check_alive()


def test_random_garbage(raw, check_alive):
    rng = np.random.default_rng(1)
    for size in (0, 1, 15, 16, 17, 100, 5000):
        assert_invalid(raw, rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        # A valid header in front of garbage.
        garbage = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        assert_invalid(raw, HEADER.pack(b"DTFS", messages.FORMAT_VERSION, 1, 0, 5) + garbage)
    check_alive()


@pytest.mark.parametrize("request_bytes, match", [
    (body({"signature": None, "inputs": [tensor()]}, magic=b"DTFW"), "bad magic"),
    (body({"signature": None, "inputs": [tensor()]}, version=1), "format version 1"),
    (body({"signature": None, "inputs": [tensor()]}, reserved=1), "reserved"),
    (body({"signature": None, "inputs": [tensor()]}, kind=9), "unknown message kind 9"),
    (body({"signature": "s", "outputs": [tensor()]}, kind=messages.Kind.PREDICT_REPLY),
     "takes PREDICT messages"),
    (body(b"\x80", kind=messages.Kind.HEALTH), "takes PREDICT messages"),
    (body([1, 2]), "must be a map"),
    (body({"signature": None}), "missing fields ['inputs']"),
    (body({"signature": None, "inputs": [tensor()], "extra": 1}), "unknown fields ['extra']"),
    (body({"signature": 5, "inputs": [tensor()]}), "signature must be a str"),
    (body({"signature": "", "inputs": [tensor()]}), "signature must be a str"),
    (body({"signature": "x" * 300, "inputs": [tensor()]}), "signature must be a str"),
    (body({"signature": None, "inputs": {"a": 1}}), "inputs must be a list"),
    (body({"signature": None, "inputs": [1]}), "tensor #0 must be a map"),
    (body({"signature": None, "inputs": [{"name": NAME}]}), "exactly the fields"),
    (body({"signature": None, "inputs": [tensor(name=7)]}), "name must be a str"),
    (body({"signature": None, "inputs": [tensor(name="")]}), "1 to 512 characters"),
    (body({"signature": None, "inputs": [tensor(name="n" * 600)]}), "1 to 512 characters"),
    (body({"signature": None, "inputs": [tensor(dtype="object", data=b"")]}), "dtype 'object'"),
    (body({"signature": None, "inputs": [tensor(dtype=4, data=b"")]}), "dtype 4"),
    (body({"signature": None, "inputs": [tensor(dtype="float32", data="text")]}),
     "exactly the fields"),
    (body({"signature": None, "inputs": [dict(tensor(), shape="1,784")]}),
     "shape must be a list"),
    (body({"signature": None, "inputs": [dict(tensor(), shape=[1, -784])]}), "shape[1]"),
    (body({"signature": None, "inputs": [dict(tensor(), shape=[1.0, 784])]}), "shape[0]"),
    (body({"signature": None, "inputs": [dict(tensor(), shape=[1] * 40)]}), "40 axes"),
    (body({"signature": None, "inputs": [dict(tensor(), shape=[2**40, 2**40])]}), "needs"),
    (body({"signature": None, "inputs": [dict(tensor(), shape=[2, 784])]}), "needs 6272 bytes"),
    (body({"signature": None, "inputs": [tensor(), tensor()]}), "appears twice"),
    (body({"signature": None, "inputs": [tensor()] * 2000}), "2000 exceeds max_array_len(1024)"),
    (body({"signature": None, "inputs": []}), "missing input(s) ['images']"),
    (body({"signature": None, "inputs": [tensor(dtype="float64")]}), "is float64"),
    # Names from the request are quoted and escaped in the reason.
    (body({"signature": "bad\nname\u2603", "inputs": [tensor()]}),
     "unknown signature 'bad\\nname\u2603'"),
    (body({"signature": None, "inputs": [tensor(), tensor(name="\x00\r\n")]}),
     "unknown input(s) ['\\x00\\r\\n']"),
])
def test_malformed_fields(raw, check_alive, request_bytes, match):
    assert_invalid(raw, request_bytes, match=match)
    check_alive()


def _huge(declared: bytes) -> bytes:
    """A request whose msgpack declares a huge container or bin but carries a few bytes."""
    return raw_message(HEADER.pack(b"DTFS", messages.FORMAT_VERSION, 1, 0, 3),
                       declared + b"\x00" * 32)


@pytest.mark.parametrize("declared", [
    b"\xdf\xff\xff\xff\xff",  # map32 with 2**32 - 1 entries
    b"\xdd\xff\xff\xff\xff",  # array32
    b"\xc6\xff\xff\xff\xf0",  # bin32 of 4 GB
    b"\xdb\xff\xff\xff\xf0",  # str32 of 4 GB
    b"\x82\xa9signature\xc0\xa6inputs\xdd\x7f\xff\xff\xff",  # 2**31 tensors
    b"\x82\xa9signature\xc0\xa6inputs\x91\x84\xa4name\xdb\x7f\xff\xff\xff",  # a 2 GB name
    b"\x82\xa9signature\xc0\xa6inputs\x91\x84\xa4data\xc6\x7f\xff\xff\xff",  # 2 GB of data
    b"\xc7\x01\x05x",  # an extension type
    b"\x91" * 5000,  # nested lists, 5000 deep
])
def test_huge_declared_sizes(raw, check_alive, declared):
    assert_invalid(raw, _huge(declared))
    check_alive()


def test_large_requests_are_checked_as_small_ones(raw, check_alive):
    """A request of 200 KB: cuts around its body and data, flips in its structure, a byte
    after its data."""
    big = messages.encode_predict(1, {NAME: images(64, 0)})
    assert len(big) > 64 * 1024
    structure = len(big) - 64 * 784 * 4
    for cut in (structure - 1, structure + 10, len(big) - 1):
        assert_invalid(raw, big[:cut])
    for position in (16, 17, structure - 2):
        corrupt = bytearray(big)
        corrupt[position] ^= 0xFF
        assert_invalid(raw, bytes(corrupt))
    assert_invalid(raw, big + b"\x00", match="malformed")
    check_alive()


def test_health_method_refuses_other_messages(raw, check_alive):
    assert_invalid(raw, messages.encode_predict(1, {NAME: images(1, 0)}), HEALTH_METHOD,
                   match="takes HEALTH messages")
    assert_invalid(raw, body(b"\x81\xa1a\x01", kind=messages.Kind.HEALTH), HEALTH_METHOD,
                   match="empty msgpack map")
    assert_invalid(raw, b"", HEALTH_METHOD)
    code, _, reply = raw(messages.encode_health(11), HEALTH_METHOD)
    assert code == grpc.StatusCode.OK and messages.decode(reply).request_id == 11
    check_alive()


def test_server_counts_refusals(server, raw):
    before = dict(server.stats)
    assert_invalid(raw, b"junk")
    assert server.stats["invalid"] == before["invalid"] + 1
    assert server.stats["internal"] == before["internal"]
