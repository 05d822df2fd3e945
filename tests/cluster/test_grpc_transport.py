"""The gRPC data plane serving a real ParameterServer: real servers on loopback, real clients,
no mocks. The protocol (duplicates, sync steps, generations) is the ParameterServer's own; these
tests check that gRPC carries it exactly, and that bad or hostile calls change nothing."""

import doctest
import pickle
import socket
import threading
import time

import grpc
import numpy as np
import pytest
from dtf.cluster.parameter_server import ParameterServer, Push
from dtf.cluster.transport import codec, grpc_service, memory
from dtf.cluster.transport.codec import Limits, TransportError
from dtf.cluster.transport.grpc_service import (
    AuthenticationError,
    GrpcServerClient,
    RemoteError,
    serve_parameter_server,
)

from dtf import keras

TOKEN = "job-token-for-tests"
SHAPES = [(), (1,), (7,), (3, 4), (2, 3, 5), (0, 3)]
NAMES = [f"v{i}/dense/kernel/part_{i}" for i in range(len(SHAPES))]


def _values(dtype="float32"):
    rng = np.random.default_rng(0)
    return {name: rng.normal(size=shape).astype(dtype) for name, shape in zip(NAMES, SHAPES)}


def _ps(values=None, mode="async", num_workers=2, lr=1.0, **kwargs):
    return ParameterServer(_values() if values is None else values,
                           keras.optimizers.SGD(lr), num_workers=num_workers, mode=mode,
                           **kwargs)


@pytest.fixture(autouse=True)
def untuned_allocator(monkeypatch):
    """serve_parameter_server tunes the process's allocator; the test processes keep theirs."""
    calls = []
    monkeypatch.setattr(memory, "tune_allocator", lambda: calls.append(1) or True)
    return calls


@pytest.fixture
def served():
    ps = _ps()
    server = serve_parameter_server(ps, TOKEN)
    client = GrpcServerClient(server.address, TOKEN, name="ps 0", timeout_s=10)
    yield ps, server, client
    client.close()
    server.stop()


def _raw_call(address, method, payload, token=TOKEN):
    with grpc.insecure_channel(address) as channel:
        metadata = () if token is None else (("dtf-token", token),)
        return channel.unary_unary(method)(payload, timeout=10, metadata=metadata)


def _ones(name, dtype="float32", scale=1.0):
    return np.full(SHAPES[NAMES.index(name)], scale, dtype)


def test_docstring_examples():
    assert doctest.testmod(grpc_service).failed == 0


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_pull_push_round_trip_matches_the_server(dtype):
    values = _values(dtype)
    ps = _ps(values, lr=0.5)
    with serve_parameter_server(ps, TOKEN) as server, GrpcServerClient(
            server.address, TOKEN) as client:
        got, versions, generation = client.pull()
        assert generation == ps.generation and set(got) == set(NAMES)
        for name, value in values.items():
            assert got[name].dtype == value.dtype and got[name].shape == value.shape
            np.testing.assert_array_equal(got[name], value)
        gradients = {name: (value * 2 + 1).astype(dtype) for name, value in values.items()}
        assert client.push(0, 0, 4, gradients) is Push.APPLIED
        new, new_versions, _ = client.pull(versions, generation=generation)
        assert set(new) == set(NAMES)
        assert all(new_versions[n] > versions[n] for n in NAMES)
        local = ps.pull()[0]
        for name in NAMES:
            np.testing.assert_array_equal(new[name], local[name])
            np.testing.assert_allclose(new[name], values[name] - 0.5 * gradients[name],
                                       rtol=1e-3)
        assert client.pull(new_versions, generation=generation)[0] == {}


def test_pull_returns_only_changed_values_and_everything_for_another_generation(served):
    _, _, client = served
    _, versions, generation = client.pull()
    client.push(0, 0, 1, {NAMES[2]: _ones(NAMES[2])})
    values, changed, same = client.pull(versions, generation=generation)
    assert list(values) == [NAMES[2]] and changed[NAMES[2]] > versions[NAMES[2]]
    assert same == generation
    everything, _, _ = client.pull(versions, generation="an-older-generation")
    assert set(everything) == set(NAMES)


def test_duplicates_are_the_parameter_servers_and_counted(served):
    ps, _, client = served
    before = ps.pull()[0][NAMES[1]].copy()
    grad = {NAMES[1]: _ones(NAMES[1])}
    assert client.push(1, 5, 1, grad) is Push.APPLIED
    assert client.push(1, 5, 1, grad) is Push.DUPLICATE
    assert client.push(1, 4, 1, grad) is Push.DUPLICATE
    assert client.push(0, 5, 1, grad) is Push.APPLIED  # another worker
    np.testing.assert_allclose(ps.pull()[0][NAMES[1]], before - 2)
    assert ps.duplicates == 2


def test_sync_steps_average_by_shard_size_and_pull_waits_for_the_step():
    ps = _ps({"w": np.zeros(2, "float32")}, mode="sync", num_workers=2)
    with serve_parameter_server(ps, TOKEN) as server:
        clients = [GrpcServerClient(server.address, TOKEN, timeout_s=10) for _ in range(2)]
        pulled = []
        waiter = threading.Thread(target=lambda: pulled.append(clients[1].pull(after_step=1)))
        waiter.start()
        assert clients[0].push(0, 0, 1, {"w": np.ones(2, "float32")}) is Push.PENDING
        time.sleep(0.2)
        assert not pulled  # step 0 is not applied until worker 1 pushes
        assert clients[1].push(1, 0, 3, {"w": np.zeros(2, "float32")}) is Push.APPLIED
        waiter.join(10)
        np.testing.assert_allclose(pulled[0][0]["w"], [-0.25, -0.25])
        assert clients[0].push(0, 0, 1, {"w": np.ones(2, "float32")}) is Push.DUPLICATE
        for client in clients:
            client.close()


def test_bounded_mode_answers_wait():
    ps = _ps({"w": np.zeros(1, "float32")}, mode="bounded", max_staleness=1)
    with serve_parameter_server(ps, TOKEN) as server, GrpcServerClient(
            server.address, TOKEN) as client:
        grad = {"w": np.ones(1, "float32")}
        assert [client.push(0, s, 1, grad) for s in range(3)] == [
            Push.APPLIED, Push.APPLIED, Push.WAIT]
        assert ps.waits == 1


def test_assigns_reach_non_trainable_variables():
    ps = ParameterServer({"w": np.zeros(2, "float32"), "bn/moving_mean": np.zeros(2, "float32")},
                         keras.optimizers.SGD(1.0), num_workers=1, mode="async",
                         trainable={"bn/moving_mean": False})
    with serve_parameter_server(ps, TOKEN) as server, GrpcServerClient(
            server.address, TOKEN) as client:
        result = client.push(0, 0, 8, {"w": np.ones(2, "float32")},
                             assigns={"bn/moving_mean": np.array([3, 4], "float32")})
        assert result is Push.APPLIED
        values = client.pull()[0]
        np.testing.assert_array_equal(values["bn/moving_mean"], [3, 4])
        np.testing.assert_array_equal(values["w"], [-1, -1])


def test_concurrent_clients(served):
    ps, server, _ = served
    workers, steps, name = 2, 30, NAMES[3]
    start = ps.pull()[0][name].copy()
    errors = []

    def work(worker):
        try:
            with GrpcServerClient(server.address, TOKEN, timeout_s=30) as client:
                known, generation = None, None
                for step in range(steps):
                    assert client.push(worker, step, 1, {name: _ones(name, scale=0.5)}) \
                        is Push.APPLIED
                    _, versions, generation = client.pull(known, generation=generation)
                    known = {**(known or {}), **versions}
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    np.testing.assert_allclose(ps.pull()[0][name], start - 0.5 * workers * steps, rtol=1e-5)
    assert server.stats["errors"] == 0 and ps.applied_steps == workers * steps


@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN + "x"])
def test_wrong_or_missing_token_is_refused_and_nothing_applied(served, token):
    ps, server, _ = served
    versions = dict(ps.versions)
    push = codec.encode_push(1, 0, 0, 1, {NAMES[1]: _ones(NAMES[1])})
    for method, payload in ((grpc_service.PUSH_METHOD, push),
                            (grpc_service.PULL_METHOD, codec.encode_pull_request(1, None)),
                            (grpc_service.ECHO_METHOD, b"hello"),
                            (grpc_service.UPDATE_METHOD, codec.encode_update(
                                1, 0, 0, {NAMES[1]: _ones(NAMES[1])}, {}))):
        with pytest.raises(grpc.RpcError) as info:
            _raw_call(server.address, method, payload, token=token)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert ps.versions == versions and ps.applied_steps == 0
    if token:
        client = GrpcServerClient(server.address, token, name="ps 7")
        with pytest.raises(AuthenticationError, match="pull on ps 7.*refused the token"):
            client.pull()
    assert server.stats["unauthenticated"] >= 4


def test_echo_returns_the_bytes(served):
    _, _, client = served
    for payload in (b"", b"x", bytes(range(256)) * 4000):
        assert client.echo(payload) == payload


@pytest.mark.parametrize(
    "payload",
    [b"", b"garbage", b"DTFW" + b"\xff" * 40, codec.encode_pull_request(1, {}) + b"\xc1"],
)
def test_malformed_bytes_get_an_error_reply_and_the_server_keeps_serving(served, payload):
    ps, server, client = served
    for method in (grpc_service.PUSH_METHOD, grpc_service.PULL_METHOD,
                   grpc_service.UPDATE_METHOD):
        reply = codec.decode(_raw_call(server.address, method, payload))
        assert isinstance(reply, codec.ErrorReply) and reply.code == "INVALID_MESSAGE"
    assert ps.applied_steps == 0
    assert client.push(0, 0, 1, {NAMES[1]: _ones(NAMES[1])}) is Push.APPLIED
    assert set(client.pull()[0]) == set(NAMES)


def test_fuzzed_messages_through_the_server(served):
    _, server, client = served
    rng = np.random.default_rng(0)
    wire = bytearray(codec.encode_push(1, 0, 0, 1, {NAMES[2]: _ones(NAMES[2])}))
    with grpc.insecure_channel(server.address) as channel:
        push = channel.unary_unary(grpc_service.PUSH_METHOD)
        for _ in range(200):
            mutated = bytearray(wire)
            mutated[int(rng.integers(len(wire)))] = int(rng.integers(256))
            reply = codec.decode(push(bytes(mutated), timeout=10, metadata=(("dtf-token", TOKEN),)))
            assert reply.kind in (codec.Kind.ACK, codec.Kind.ERROR)
    assert set(client.pull()[0]) == set(NAMES)
    assert client.push(1, 10**6, 1, {NAMES[2]: _ones(NAMES[2])}) is Push.APPLIED


def test_refused_requests_name_the_problem_and_change_nothing(served):
    ps, server, client = served
    versions = dict(ps.versions)
    with pytest.raises(RemoteError, match=r"UNKNOWN_VARIABLE: push of worker 0, step 0 on ps 0"
                                          r".*\['nope'\]") as info:
        client.push(0, 0, 1, {NAMES[1]: _ones(NAMES[1]), "nope": np.ones(1, "float32")})
    assert info.value.code == "UNKNOWN_VARIABLE"
    with pytest.raises(RemoteError, match=r"SHAPE_MISMATCH.*float32\[2\].*float32\[1\]"):
        client.push(0, 0, 1, {NAMES[1]: np.ones(2, "float32")})
    with pytest.raises(RemoteError, match="SHAPE_MISMATCH"):
        client.push(0, 0, 1, {NAMES[1]: np.ones(1, "complex64")})
    with pytest.raises(RemoteError, match="SHAPE_MISMATCH"):
        client.push(0, 0, 1, {}, assigns={NAMES[0]: np.ones(3, "float32")})
    with pytest.raises(RemoteError, match="INVALID_ARGUMENT.*worker 9 is not one of the 2"):
        client.push(9, 0, 1, {NAMES[1]: _ones(NAMES[1])})
    assert ps.versions == versions and ps.applied_steps == 0 and ps.duplicates == 0
    wrong_kind = codec.encode_pull_request(9, {})
    reply = codec.decode(_raw_call(server.address, grpc_service.PUSH_METHOD, wrong_kind))
    assert reply.code == "WRONG_KIND" and reply.request_id == 9
    assert client.push(0, 0, 1, {NAMES[1]: _ones(NAMES[1])}) is Push.APPLIED


def test_a_step_that_never_comes_times_out_naming_the_server_and_step():
    ps = _ps({"w": np.zeros(1, "float32")}, mode="sync", name="dtf:job:ps:0")
    with serve_parameter_server(ps, TOKEN) as server, GrpcServerClient(
            server.address, TOKEN, name="dtf:job:ps:0", timeout_s=0.3) as client:
        start = time.perf_counter()
        with pytest.raises(TimeoutError, match=r"pull after step 1 on dtf:job:ps:0.*step 0 was "
                                               r"not applied.*workers \[0, 1\]"):
            client.pull(after_step=1)
        assert time.perf_counter() - start < 5
        assert client.push(0, 0, 1, {"w": np.ones(1, "float32")}) is Push.PENDING


def test_a_silent_server_times_out_and_an_absent_one_is_unreachable():
    with socket.socket() as silent:  # accepts TCP, never speaks gRPC
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        client = GrpcServerClient(address, TOKEN, name="ps 3", timeout_s=0.3)
        with pytest.raises(TimeoutError, match=r"push of worker 1, step 7 on ps 3.*within"):
            client.push(1, 7, 1, {"w": np.ones(1, "float32")})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"
    client = GrpcServerClient(closed, TOKEN, name="ps 4", timeout_s=5, retries=1)
    with pytest.raises(ConnectionError, match=r"push of worker 0, step 2 on ps 4.*unreachable"):
        client.push(0, 2, 1, {"w": np.ones(1, "float32")})


def test_client_pickles_and_reconnects_in_its_new_home(served):
    ps, _, client = served
    assert client.push(0, 0, 1, {NAMES[1]: _ones(NAMES[1])}) is Push.APPLIED
    copy = pickle.loads(pickle.dumps(client))
    assert (copy.address, copy.name, copy.timeout_s) == (client.address, "ps 0", 10.0)
    assert copy.push(0, 1, 1, {NAMES[1]: _ones(NAMES[1])}) is Push.APPLIED
    assert copy.pull()[2] == ps.generation


def test_message_size_limits():
    ps = _ps({"w": np.zeros(4096, "float32")})
    with serve_parameter_server(ps, TOKEN, max_message_bytes=8192) as server:
        with GrpcServerClient(server.address, TOKEN, max_message_bytes=1 << 20) as client:
            with pytest.raises(TransportError, match="RESOURCE_EXHAUSTED"):
                client.push(0, 0, 1, {"w": np.zeros(4096, "float32")})
            with pytest.raises(TransportError, match="RESOURCE_EXHAUSTED"):
                client.pull()  # the 16 KB reply is over the server's send limit
        assert ps.applied_steps == 0
    small = _ps({"w": np.zeros(300, "float32")})
    with serve_parameter_server(small, TOKEN) as server, GrpcServerClient(
            server.address, TOKEN, max_message_bytes=1000) as client, pytest.raises(
            TransportError, match="exceeds|RESOURCE_EXHAUSTED"):
        client.pull()
    limits = Limits(max_tensors=2)
    with serve_parameter_server(ps, TOKEN, limits=limits) as server, GrpcServerClient(
            server.address, TOKEN) as client, pytest.raises(
            RemoteError, match="INVALID_MESSAGE.*over the limit of 2"):
        client.push(0, 0, 1, {}, assigns={f"a{i}": np.ones(1) for i in range(3)})


def test_reconnect_after_server_restart():
    ps = _ps({"w": np.zeros(3)})
    server = serve_parameter_server(ps, TOKEN)
    port = server.port
    client = GrpcServerClient(server.address, TOKEN, timeout_s=5, retries=6)
    try:
        assert client.push(0, 0, 1, {"w": np.ones(3)}) is Push.APPLIED
        server.stop()
        restarted = []
        timer = threading.Timer(
            0.3, lambda: restarted.append(serve_parameter_server(ps, TOKEN, port=port)))
        timer.start()
        assert client.push(0, 1, 1, {"w": np.ones(3)}) is Push.APPLIED
        timer.join()
        server = restarted[0]
        np.testing.assert_allclose(client.pull()[0]["w"], -2.0)
        assert client.reconnects >= 1
    finally:
        client.close()
        server.stop()


def test_bad_construction():
    with pytest.raises(ValueError, match="non-empty str"):
        serve_parameter_server(_ps(), token="")
    with pytest.raises(ValueError, match="token"):
        GrpcServerClient("127.0.0.1:1", token="")


def test_custom_loop_updates_are_applied_once():
    ps = ParameterServer({"w": np.zeros(2, "float32"), "count": np.zeros((), "int64")},
                         keras.optimizers.SGD(0.5), num_workers=2, mode="sync",
                         trainable={"count": False})
    with serve_parameter_server(ps, TOKEN) as server, GrpcServerClient(
            server.address, TOKEN, name="ps 1") as client:
        gradients, deltas = {"w": np.ones(2, "float32")}, {"count": np.array(3, "int64")}
        assert client.apply_update(1, 0, gradients, deltas) is True
        assert client.apply_update(1, 0, gradients, deltas) is False  # replayed: not again
        assert client.apply_update(0, 0, {}, deltas) is True
        values = client.pull()[0]
        np.testing.assert_array_equal(values["w"], [-0.5, -0.5])
        assert int(values["count"]) == 6 and ps.duplicates == 1
        with pytest.raises(RemoteError, match=r"SHAPE_MISMATCH: update 1 of worker 0 on ps 1"):
            client.apply_update(0, 1, {}, {"count": np.ones(2, "int64")})
        assert int(client.pull()[0]["count"]) == 6


def test_serving_tunes_the_allocator_unless_told_not_to(untuned_allocator):
    serve_parameter_server(_ps(), TOKEN).stop()
    assert untuned_allocator == [1]
    serve_parameter_server(_ps(), TOKEN, tune_allocator=False).stop()
    assert untuned_allocator == [1]


# ----------------------------------------------------------------------------- push_pull


def test_push_pull_applies_and_returns_only_what_changed(served):
    ps, _, client = served
    _, versions, generation = client.pull()
    name = NAMES[2]
    before = ps.pull()[0][name].copy()
    result, values, new_versions, new_generation = client.push_pull(
        0, 0, 1, {name: _ones(name)}, known_versions=versions, generation=generation)
    assert result == "applied" and new_generation == generation == ps.generation
    assert list(values) == [name] and list(new_versions) == [name]
    np.testing.assert_allclose(values[name], before - 1.0)
    assert not values[name].flags.writeable
    assert new_versions[name] == ps.versions[name]
    # A generation the server does not have: everything comes back.
    result, values, _, _ = client.push_pull(0, 1, 1, {name: _ones(name)},
                                            known_versions=versions, generation="old")
    assert result == "applied" and set(values) == set(NAMES)
    # No known versions: everything too; a replayed step is the server's duplicate.
    result, values, _, _ = client.push_pull(0, 1, 1, {name: _ones(name)})
    assert result == "duplicate" and set(values) == set(NAMES) and ps.duplicates == 1


def test_push_pull_in_sync_mode_returns_once_the_step_is_applied():
    ps = _ps({"w": np.zeros(2, "float32"), "b": np.zeros(3, "float32")}, mode="sync",
             num_workers=2)
    with serve_parameter_server(ps, TOKEN) as server:
        clients = [GrpcServerClient(server.address, TOKEN, timeout_s=10) for _ in range(2)]
        state = [({}, None), ({}, None)]
        replies = {}

        def step(worker, step_index, shard_size, grad):
            known, generation = state[worker]
            reply = clients[worker].push_pull(
                worker, step_index, shard_size, {"w": np.full(2, grad, "float32"),
                                                 "b": np.full(3, grad, "float32")},
                known_versions=known or None, generation=generation)
            state[worker] = ({**known, **reply[2]}, reply[3])
            replies[worker, step_index] = reply

        first = threading.Thread(target=step, args=(0, 0, 1, 1.0))
        first.start()
        time.sleep(0.2)
        assert first.is_alive() and ps.applied_steps == 0  # waits for worker 1's push
        step(1, 0, 3, 0.0)
        first.join(10)
        for worker in (0, 1):
            _result, values, versions, generation = replies[worker, 0]
            np.testing.assert_allclose(values["w"], [-0.25, -0.25])
            assert generation == ps.generation and versions == ps.versions
        assert {replies[0, 0][0], replies[1, 0][0]} == {"pending", "applied"}
        # Step 1, both in threads: each gets the step's result and only what changed.
        threads = [threading.Thread(target=step, args=(w, 1, 2, 1.0)) for w in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert ps.applied_steps == 2
        for worker in (0, 1):
            np.testing.assert_allclose(replies[worker, 1][1]["b"], [-1.25] * 3)
        for client in clients:
            client.close()


def _fan_out(max_streams=None):
    servers = [_ps({f"w{i}": np.zeros(2, "float32")}, num_workers=1) for i in range(3)]
    started = [serve_parameter_server(ps, TOKEN, max_streams=max_streams) for ps in servers]
    clients = [GrpcServerClient(s.address, TOKEN, name=f"ps {i}", timeout_s=10)
               for i, s in enumerate(started)]
    return servers, started, clients


def _check_fanned_out(servers, clients, handles, step):
    first = clients[0].finish(handles[0], f"step {step}")
    results = [first] + [c.finish(h, f"step {step}") for c, h in zip(clients[1:], handles[1:])]
    for i, (result, values, _versions, generation) in enumerate(results):
        assert result == "applied" and generation == servers[i].generation
        np.testing.assert_allclose(values[f"w{i}"], [-1.0 - step] * 2)
    with pytest.raises(ValueError, match="finished already"):
        clients[0].finish(handles[0])
    with pytest.raises(TypeError, match="push_pull_async"):
        clients[1].finish(handles[0])  # another client's handle
    with pytest.raises(TypeError, match="push_pull_async"):
        clients[0].finish(object(), "step 0")


def test_push_pull_async_fans_out_to_several_servers_on_streams():
    servers, started, clients = _fan_out()
    try:
        for step in range(2):
            handles = [client.push_pull_async(0, step, 1, {f"w{i}": np.ones(2, "float32")})
                       for i, client in enumerate(clients)]
            # Each call is on its client's stream, sent when it starts: all overlap.
            assert all(h.stream is not None and h.future is None for h in handles)
            _check_fanned_out(servers, clients, handles, step)
            # one stream per client, kept open from step to step
            assert [s.stats["streams"] for s in started] == [1, 1, 1]
            assert [s.stats["requests"] for s in started] == [step + 1] * 3
    finally:
        for client, server in zip(clients, started):
            client.close()
            server.stop()


def test_push_pull_async_fans_out_to_several_servers_unary():
    # Servers that keep no streams: each client is refused once, then calls unary methods.
    servers, started, clients = _fan_out(max_streams=0)
    try:
        for i, client in enumerate(clients):
            assert client.push_pull(0, 0, 1, {f"w{i}": np.ones(2, "float32")})[0] == "applied"
        assert [s.stats["streams_refused"] for s in started] == [1, 1, 1]
        handles = [client.push_pull_async(0, 1, 1, {f"w{i}": np.ones(2, "float32")})
                   for i, client in enumerate(clients)]
        # A call is sent when the next one starts; the last waits for a finish.
        assert [h.future is None for h in handles] == [False, False, True]
        assert all(h.stream is None for h in handles)
        first = clients[0].finish(handles[0], "step 1")
        assert handles[2].future is not None  # finishing one sent the rest: all overlap
        results = [first] + [c.finish(h, "step 1") for c, h in zip(clients[1:], handles[1:])]
        for i, (result, values, _versions, generation) in enumerate(results):
            assert result == "applied" and generation == servers[i].generation
            np.testing.assert_allclose(values[f"w{i}"], [-2.0, -2.0])
        assert [s.stats["streams_refused"] for s in started] == [1, 1, 1]
    finally:
        for client, server in zip(clients, started):
            client.close()
            server.stop()


def test_sharded_server_uses_one_grpc_call_per_server_and_step():
    from dtf.cluster.servers import ShardedServer
    from dtf.cluster.sharding import plan_placement

    values = {"a": np.zeros((4, 2), "float32"), "b": np.zeros(3, "float32")}
    placement = plan_placement({k: (v.shape, v.dtype) for k, v in values.items()}, num_ps=2)
    shares = placement.split(values)
    servers = [_ps(share, num_workers=1) for share in shares]
    started = [serve_parameter_server(ps, TOKEN) for ps in servers]
    clients = [GrpcServerClient(s.address, TOKEN, timeout_s=10) for s in started]
    try:
        sharded = ShardedServer(clients, placement)
        sharded.pull()
        result, changed = sharded.push_pull(0, 0, 1, {k: np.ones_like(v)
                                                      for k, v in values.items()})
        assert Push(result) is Push.APPLIED and set(changed) == set(values)
        for key, value in changed.items():
            np.testing.assert_allclose(value, -np.ones_like(values[key]))
        assert sum(s.stats["requests"] for s in started) == 2 + 2  # one pull, one push_pull each
    finally:
        for client, server in zip(clients, started):
            client.close()
            server.stop()


def test_push_pull_bounded_mode_answers_wait_without_values():
    ps = _ps({"w": np.zeros(1, "float32")}, mode="bounded", max_staleness=1)
    with serve_parameter_server(ps, TOKEN) as server, GrpcServerClient(
            server.address, TOKEN) as client:
        grad = {"w": np.ones(1, "float32")}
        assert [client.push_pull(0, s, 1, grad)[0] for s in range(2)] == ["applied"] * 2
        assert client.push_pull(0, 2, 1, grad) == ("wait", {}, {}, ps.generation)


def test_push_pull_errors_are_the_blocking_calls(served):
    ps, server, client = served
    before = ps.pull()[0]
    with pytest.raises(RemoteError, match=r"UNKNOWN_VARIABLE.*push_pull of worker 0, step 0 "
                                          r"on ps 0") as info:
        client.push_pull(0, 0, 1, {"nope": np.ones(2, "float32")})
    assert info.value.code == "UNKNOWN_VARIABLE"
    with pytest.raises(RemoteError, match="SHAPE_MISMATCH"):
        client.finish(client.push_pull_async(0, 0, 1, {NAMES[2]: np.ones(3, "float32")}),
                      "step 0 of worker 0")
    with pytest.raises(TransportError, match="worker must be in"):
        client.push_pull_async(-1, 0, 1, {})
    wrong = GrpcServerClient(server.address, "wrong", timeout_s=5)
    with pytest.raises(AuthenticationError, match="refused the token"):
        wrong.push_pull(0, 0, 1, {NAMES[2]: _ones(NAMES[2])})
    wrong.close()
    # The Push method refuses a push_pull message and the PushPull method a push.
    push = codec.encode_push(1, 0, 0, 1, {NAMES[2]: _ones(NAMES[2])})
    reply = codec.decode(_raw_call(server.address, grpc_service.PUSH_PULL_METHOD, push))
    assert reply.kind == codec.Kind.ERROR and reply.code == "WRONG_KIND"
    after = ps.pull()[0]
    assert all(np.array_equal(before[n], after[n]) for n in NAMES)
    assert ps.applied_steps == 0


def test_push_pull_times_out_naming_the_server_and_step_or_is_unreachable():
    ps = _ps({"w": np.zeros(1, "float32")}, mode="sync", name="dtf:job:ps:0")
    with serve_parameter_server(ps, TOKEN) as server, GrpcServerClient(
            server.address, TOKEN, name="dtf:job:ps:0", timeout_s=0.3) as client:
        start = time.perf_counter()
        with pytest.raises(TimeoutError, match=r"push_pull of worker 0, step 0 on dtf:job:ps:0"
                                               r".*step 0 was not applied.*workers \[1\]"):
            client.push_pull(0, 0, 1, {"w": np.ones(1, "float32")})
        assert time.perf_counter() - start < 5
        # The push itself was taken: the same step again is a duplicate.
        assert client.push(0, 0, 1, {"w": np.ones(1, "float32")}) is Push.DUPLICATE
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"
    client = GrpcServerClient(closed, TOKEN, name="ps 4", timeout_s=5, retries=1)
    handle = client.push_pull_async(0, 2, 1, {"w": np.ones(1, "float32")})
    with pytest.raises(ConnectionError, match=r"push of worker 0, step 2 on ps 4.*unreachable"):
        client.finish(handle, "push of worker 0, step 2")


def test_push_pull_reconnects_after_a_server_restart():
    ps = _ps({"w": np.zeros(1, "float32")}, num_workers=1)
    server = serve_parameter_server(ps, TOKEN)
    port = server.port
    client = GrpcServerClient(server.address, TOKEN, timeout_s=5)
    assert client.push_pull(0, 0, 1, {"w": np.ones(1, "float32")})[0] == "applied"
    server.stop()
    server = serve_parameter_server(ps, TOKEN, port=port)
    try:
        result, values, _, _ = client.push_pull(0, 1, 1, {"w": np.ones(1, "float32")})
        assert result == "applied" and values["w"].tolist() == [-2.0]
    finally:
        client.close()
        server.stop()


def test_push_pull_started_in_one_thread_can_finish_in_another(served):
    ps, _, client = served
    name = NAMES[2]
    handle = client.push_pull_async(0, 0, 1, {name: _ones(name)})
    results = []
    finisher = threading.Thread(target=lambda: results.append(client.finish(handle)))
    finisher.start()
    finisher.join(10)
    assert results[0][0] == "applied"
    # The next call in the first thread does not send the finished one again.
    assert client.push_pull(0, 1, 1, {name: _ones(name)})[0] == "applied"
    assert ps.applied_steps == 2 and ps.duplicates == 0
