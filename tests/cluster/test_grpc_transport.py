"""The gRPC parameter transport: real servers on loopback, real clients, no mocks."""

import doctest
import threading

import grpc
import numpy as np
import pytest
from dtf.cluster.transport import codec, grpc_service
from dtf.cluster.transport.codec import Limits, TransportError
from dtf.cluster.transport.grpc_service import (
    AuthenticationError,
    ParameterStore,
    RemoteError,
    TransportClient,
    TransportServer,
    sgd_update,
)

TOKEN = "job-token-for-tests"
SHAPES = [(), (1,), (7,), (3, 4), (2, 3, 5), (0, 3)]


def _variables(dtype="float32"):
    rng = np.random.default_rng(0)
    return {f"v{i}": rng.normal(size=shape).astype(dtype) for i, shape in enumerate(SHAPES)}


def _assign(name, value, gradient):
    value[...] = gradient


@pytest.fixture
def served():
    store = ParameterStore(_variables(), update_fn=sgd_update(1.0))
    with TransportServer(store, token=TOKEN) as server:
        yield store, server


def _raw_call(address, method, payload, token=TOKEN):
    with grpc.insecure_channel(address) as channel:
        metadata = () if token is None else (("dtf-token", token),)
        return channel.unary_unary(method)(payload, timeout=10, metadata=metadata)


def test_docstring_examples():
    assert doctest.testmod(grpc_service).failed == 0


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_round_trip_dtypes_and_shapes(dtype):
    variables = _variables(dtype)
    store = ParameterStore(variables, update_fn=_assign)
    with TransportServer(store, token=TOKEN) as server, TransportClient(
        server.address, TOKEN
    ) as client:
        first = client.pull()
        assert first.versions == dict.fromkeys(variables, 1)
        for name, value in variables.items():
            assert first.tensors[name].dtype == value.dtype
            np.testing.assert_array_equal(first.tensors[name], value)

        new = {name: (value * 2 + 1).astype(dtype) for name, value in variables.items()}
        ack = client.push(worker=0, step=0, shard=0, gradients=new)
        assert ack.applied and ack.versions == dict.fromkeys(variables, 2)

        second = client.pull(first.versions)
        assert second.versions == dict.fromkeys(variables, 2)
        for name, value in new.items():
            np.testing.assert_array_equal(second.tensors[name], value)
        assert client.pull(second.versions).tensors == {}


def test_pull_returns_only_changed_tensors(served):
    _, server = served
    with TransportClient(server.address, TOKEN) as client:
        known = client.pull().versions
        client.push(0, 0, 0, {"v2": np.ones(7, "float32")})
        reply = client.pull(known)
        assert list(reply.tensors) == ["v2"] and reply.versions == {"v2": 2}


def test_duplicate_push_is_acknowledged_not_applied(served):
    store, server = served
    with TransportClient(server.address, TOKEN) as client:
        before = store.pull()["v1"][1]
        assert client.push(3, 5, 1, {"v1": np.ones(1, "float32")}).applied
        assert not client.push(3, 5, 1, {"v1": np.ones(1, "float32")}).applied
        assert not client.push(3, 4, 1, {"v1": np.ones(1, "float32")}).applied
        assert client.push(3, 5, 2, {"v1": np.ones(1, "float32")}).applied  # another shard
        np.testing.assert_allclose(store.pull()["v1"][1], before - 2)
        assert store.duplicates == 2


def test_concurrent_clients(served):
    store, server = served
    workers, steps = 6, 25
    start = store.pull()["v3"][1]
    errors = []

    def work(worker):
        try:
            with TransportClient(server.address, TOKEN) as client:
                known = {}
                for step in range(steps):
                    grad = np.full((3, 4), 0.5, "float32")
                    assert client.push(worker, step, worker, {"v3": grad}).applied
                    known.update(client.pull(known).versions)
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    version, value = store.pull()["v3"]
    assert version == 1 + workers * steps
    np.testing.assert_allclose(value, start - 0.5 * workers * steps, rtol=1e-5)
    assert server.stats["errors"] == 0


@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN + "x"])
def test_wrong_or_missing_token_is_refused_and_nothing_applied(served, token):
    store, server = served
    before = store.pull()
    push = codec.encode_push(1, 0, 0, 0, {"v1": np.ones(1, "float32")})
    with pytest.raises(grpc.RpcError) as info:
        _raw_call(server.address, grpc_service.PUSH_METHOD, push, token=token)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    after = store.pull()
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}
    if token is not None:
        with TransportClient(server.address, token, retries=0) as client, pytest.raises(
            AuthenticationError, match="refused the token"
        ):
            client.pull()
    assert server.stats["unauthenticated"] >= 1


@pytest.mark.parametrize(
    "payload",
    [b"", b"garbage", b"DTFW" + b"\xff" * 40, codec.encode_pull_request(1, {})[:-1] + b"\xc1"],
)
def test_malformed_bytes_get_an_error_reply_and_the_server_keeps_serving(served, payload):
    _, server = served
    for method in (grpc_service.PUSH_METHOD, grpc_service.PULL_METHOD):
        reply = codec.decode(_raw_call(server.address, method, payload))
        assert isinstance(reply, codec.ErrorReply) and reply.code == "INVALID_MESSAGE"
    with TransportClient(server.address, TOKEN) as client:
        assert client.push(0, 0, 0, {"v1": np.ones(1, "float32")}).applied
        assert client.pull({"v1": 1}).versions == {"v1": 2}


def test_fuzzed_messages_through_the_server(served):
    store, server = served
    rng = np.random.default_rng(0)
    wire = bytearray(codec.encode_push(1, 0, 0, 0, {"v2": np.ones(7, "float32")}))
    with grpc.insecure_channel(server.address) as channel:
        push = channel.unary_unary(grpc_service.PUSH_METHOD)
        for _ in range(200):
            mutated = bytearray(wire)
            mutated[int(rng.integers(len(wire)))] = int(rng.integers(256))
            reply = codec.decode(push(bytes(mutated), timeout=10, metadata=(("dtf-token", TOKEN),)))
            assert reply.kind in (codec.Kind.ACK, codec.Kind.ERROR)
    with TransportClient(server.address, TOKEN) as client:
        assert set(client.pull().tensors) == set(store.names)


def test_refused_requests_name_the_problem_and_change_nothing(served):
    store, server = served
    with TransportClient(server.address, TOKEN) as client:
        with pytest.raises(RemoteError, match="UNKNOWN_TENSOR.*'nope'") as info:
            client.push(0, 0, 0, {"v1": np.ones(1, "float32"), "nope": np.ones(1, "float32")})
        assert info.value.code == "UNKNOWN_TENSOR"
        with pytest.raises(RemoteError, match=r"SHAPE_MISMATCH.*float32\[2\].*float32\[1\]"):
            client.push(0, 0, 0, {"v1": np.ones(2, "float32")})
        with pytest.raises(RemoteError, match="SHAPE_MISMATCH"):
            client.push(0, 0, 0, {"v1": np.ones(1, "float64")})
        with pytest.raises(RemoteError, match="UNKNOWN_TENSOR"):
            client.pull({"nope": 0})
        assert store.pull()["v1"][0] == 1
        wrong_kind = codec.encode_pull_request(9, {})
        reply = codec.decode(_raw_call(server.address, grpc_service.PUSH_METHOD, wrong_kind))
        assert reply.code == "WRONG_KIND" and reply.request_id == 9


def test_update_function_errors_become_internal_error_replies():
    def broken(name, value, gradient):
        raise RuntimeError("boom")

    store = ParameterStore({"w": np.zeros(2)}, update_fn=broken)
    with TransportServer(store, token=TOKEN) as server, TransportClient(
        server.address, TOKEN
    ) as client:
        with pytest.raises(RemoteError, match="INTERNAL.*RuntimeError: boom"):
            client.push(0, 0, 0, {"w": np.ones(2)})
        assert client.pull().versions == {"w": 1}


def test_message_size_limit():
    store = ParameterStore({"w": np.zeros(1024, "float32")}, update_fn=_assign)
    with TransportServer(store, token=TOKEN, max_message_bytes=8192) as server:
        with TransportClient(server.address, TOKEN, max_message_bytes=1 << 20) as client:
            with pytest.raises(TransportError, match="RESOURCE_EXHAUSTED"):
                client.push(0, 0, 0, {"w": np.zeros(4096, "float64")})
            assert client.pull().versions == {"w": 1}
        small = Limits(max_message_bytes=1000)
        with TransportClient(server.address, TOKEN, limits=small) as client, pytest.raises(
            TransportError, match="exceeds the receiver's limit"
        ):
            client.pull()


def test_reconnect_after_server_restart():
    store = ParameterStore({"w": np.zeros(3)}, update_fn=sgd_update(1.0))
    server = TransportServer(store, token=TOKEN).start()
    port = server.port
    client = TransportClient(server.address, TOKEN, timeout=5, retries=5, retry_backoff=0.05)
    try:
        assert client.push(0, 0, 0, {"w": np.ones(3)}).applied
        server.stop()
        with pytest.raises(TransportError, match="UNAVAILABLE"):
            TransportClient(server.address, TOKEN, retries=1, retry_backoff=0.01).pull()
        # The server comes back while the client is retrying its push on fresh channels.
        restarted = []
        timer = threading.Timer(
            0.3, lambda: restarted.append(TransportServer(store, token=TOKEN, port=port).start())
        )
        timer.start()
        assert client.push(0, 1, 0, {"w": np.ones(3)}).applied
        timer.join()
        server = restarted[0]
        np.testing.assert_allclose(client.pull().tensors["w"], -2.0)
        assert client.reconnects >= 1
    finally:
        client.close()
        server.stop()


def test_call_timeout():
    release = threading.Event()

    def slow(name, value, gradient):
        release.wait(10)

    store = ParameterStore({"w": np.zeros(1)}, update_fn=slow)
    with TransportServer(store, token=TOKEN) as server, TransportClient(
        server.address, TOKEN, timeout=0.2
    ) as client:
        with pytest.raises(TransportError, match="longer than 0.2 s"):
            client.push(0, 0, 0, {"w": np.ones(1)})
        release.set()


def test_bad_construction():
    with pytest.raises(TypeError, match="floating arrays only"):
        ParameterStore({"i": np.arange(3)}, update_fn=_assign)
    with pytest.raises(TypeError, match="update_fn must be callable"):
        ParameterStore({}, update_fn=None)
    with pytest.raises(ValueError, match="non-empty str"):
        TransportServer(ParameterStore({}, update_fn=_assign), token="")
