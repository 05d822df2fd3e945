"""The ``Steps`` stream of the gRPC data plane: a worker's push_pull calls on one open
bidirectional stream per client. Real servers on loopback, real clients and real
ParameterServers, no mocks: each test checks that the stream carries the protocol exactly
(values, request ids, duplicates) and that a refused, broken, stuck, hostile or abandoned
stream degrades to correct unary calls instead of wrong answers."""

import gc
import queue
import sys
import threading
import time

import grpc
import numpy as np
import pytest
from dtf.cluster.parameter_server import ParameterServer
from dtf.cluster.transport import codec, grpc_service, memory, streams
from dtf.cluster.transport.codec import Kind
from dtf.cluster.transport.grpc_service import (
    AuthenticationError,
    GrpcServerClient,
    TransportServer,
    serve_parameter_server,
)

from dtf import keras

TOKEN = "job-token-for-stream-tests"


@pytest.fixture(autouse=True)
def untuned_allocator(monkeypatch):
    """serve_parameter_server tunes the process's allocator; the test processes keep theirs."""
    monkeypatch.setattr(memory, "tune_allocator", lambda: True)


def _ps(size=2, mode="async", num_workers=1, cls=ParameterServer):
    return cls({"w": np.zeros(size, "float32")}, keras.optimizers.SGD(1.0),
               num_workers=num_workers, mode=mode)


def _grad(scale=1.0, size=2):
    return {"w": np.full(size, scale, "float32")}


def _in_threads(work, count=2):
    """Runs `work(i)` for i < count in threads; the errors they raised (none: [])."""
    errors = []

    def run(i):
        try:
            work(i)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return errors


def _eventually(predicate, timeout_s=2.0):
    """Polls `predicate` until it holds (True) or `timeout_s` passes (False)."""
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def served():
    ps = _ps(num_workers=2)
    server = serve_parameter_server(ps, TOKEN)
    client = GrpcServerClient(server.address, TOKEN, name="ps 0", timeout_s=10)
    yield ps, server, client
    client.close()
    server.stop()


class _RawStream:
    """A ``Steps`` stream opened by hand: `ask` sends one message and decodes its reply."""

    def __init__(self, address, token=TOKEN):
        self.channel = grpc.insecure_channel(address)
        self.requests = queue.SimpleQueue()
        method = self.channel.stream_stream(grpc_service.STEPS_METHOD,
                                            _registered_method=True)
        metadata = () if token is None else ((grpc_service.TOKEN_KEY, token),)
        # The timeout is only a safety net against a hung test.
        self.replies = method(iter(self.requests.get, None), metadata=metadata, timeout=10)

    def send(self, payload: bytes) -> None:
        self.requests.put(payload)

    def receive(self):
        return codec.decode(next(self.replies))

    def ask(self, payload: bytes):
        self.send(payload)
        return self.receive()

    def close(self) -> None:
        self.requests.put(None)
        self.replies.cancel()
        self.channel.close()


def _consumer_threads() -> int:
    """gRPC's threads feeding a client stream's requests (one per open stream)."""
    frames = sys._current_frames()
    count = 0
    for thread in threading.enumerate():
        frame = frames.get(thread.ident)
        while frame is not None:
            if frame.f_code.co_name == "consume_request_iterator":
                count += 1
                break
            frame = frame.f_back
    return count


# --------------------------------------------------------------------- many steps, one stream


def test_many_async_steps_ride_one_stream():
    ps = _ps()
    with serve_parameter_server(ps, TOKEN) as server, GrpcServerClient(
            server.address, TOKEN, timeout_s=10) as client:
        known, generation = None, None
        for step in range(20):
            handle = client.push_pull_async(0, step, 1, _grad(), known_versions=known,
                                            generation=generation)
            assert handle.stream is not None and handle.future is None
            result, values, versions, generation = client.finish(handle)
            assert result == "applied" and generation == ps.generation
            np.testing.assert_array_equal(values["w"], [-(step + 1.0)] * 2)
            known = {**(known or {}), **versions}
            assert server.stats["streams"] == 1
        # Nothing changed since the last reply: nothing comes back but the result.
        assert client.push_pull(0, 20, 1, {"w": np.zeros(2, "float32")},
                                known_versions=known, generation=generation)[0] == "applied"
        assert server.stats["requests"] == 21 and server.stats["errors"] == 0
        assert server.stats["streams"] == 1 and server.stats["streams_refused"] == 0
        assert ps.applied_steps == 21 and ps.duplicates == 0 and client.reconnects == 0
        # A replayed step on the stream is the server's duplicate, values still come back.
        result, values, _, _ = client.push_pull(0, 3, 1, _grad())
        assert result == "duplicate" and values["w"].tolist() == [-20.0, -20.0]
        assert ps.duplicates == 1


def test_sync_steps_of_two_clients_in_threads_each_on_its_own_stream():
    ps = _ps(mode="sync", num_workers=2)
    steps, shard_sizes = 8, (1, 3)
    with serve_parameter_server(ps, TOKEN) as server:
        clients = [GrpcServerClient(server.address, TOKEN, name=f"ps for {w}", timeout_s=10)
                   for w in range(2)]
        replies = {}

        def work(worker):
            known, generation = None, None
            for step in range(steps):
                reply = clients[worker].push_pull(
                    worker, step, shard_sizes[worker], _grad(worker + 1.0),
                    known_versions=known, generation=generation)
                known, generation = {**(known or {}), **reply[2]}, reply[3]
                replies[worker, step] = reply

        assert not _in_threads(work)
        # Each step's gradient is the shard-size-weighted mean: (1 * 1 + 3 * 2) / 4.
        for step in range(steps):
            results = {replies[w, step][0] for w in range(2)}
            assert results == {"pending", "applied"}
            for worker in range(2):
                np.testing.assert_allclose(replies[worker, step][1]["w"],
                                           [-1.75 * (step + 1)] * 2)
        assert ps.applied_steps == steps and ps.duplicates == 0
        assert server.stats["streams"] == 2 and server.stats["streams_refused"] == 0
        assert server.stats["requests"] == 2 * steps and server.stats["errors"] == 0
        for client in clients:
            client.close()
        assert _eventually(lambda: server.stats["streams"] == 0)


def test_one_client_shared_by_two_threads_stays_correct(served):
    # One client, two workers at once: one call rides the stream, the other goes unary while
    # the stream's reply is due; every reply is the call's own.
    ps, server, client = served
    steps = 15

    def work(worker):
        for step in range(steps):
            handle = client.push_pull_async(worker, step, 1, _grad(0.5))
            result, values, _, generation = client.finish(handle)
            assert result == "applied" and generation == ps.generation
            assert values["w"].shape == (2,)

    assert not _in_threads(work)
    assert ps.applied_steps == 2 * steps and ps.duplicates == 0
    np.testing.assert_allclose(ps.pull()[0]["w"], [-0.5 * 2 * steps] * 2)
    assert server.stats["streams"] == 1 and server.stats["errors"] == 0


# ----------------------------------------------------------------------------------- auth


@pytest.mark.parametrize("token", ["wrong", TOKEN + "x", TOKEN[:-1]])
def test_a_wrong_token_is_refused_when_the_stream_opens(served, token):
    ps, server, _ = served
    versions = dict(ps.versions)
    with GrpcServerClient(server.address, token, name="ps 9", timeout_s=5) as wrong:
        with pytest.raises(AuthenticationError,
                           match=r"push_pull of worker 0, step 0 on ps 9.*refused the token"):
            wrong.push_pull(0, 0, 1, _grad())
        handle = wrong.push_pull_async(1, 0, 1, _grad())
        with pytest.raises(AuthenticationError, match="refused the token"):
            wrong.finish(handle)
        assert wrong._streaming  # refused for its token, not for want of streams
    assert ps.applied_steps == 0 and ps.versions == versions
    assert server.stats["unauthenticated"] >= 2 and server.stats["requests"] == 0
    assert server.stats["streams"] == 0 and server.stats["streams_refused"] == 0


@pytest.mark.parametrize("token", [None, "", "nope"])
def test_a_raw_stream_without_the_token_applies_nothing(served, token):
    ps, server, client = served
    before = ps.pull()[0]["w"].copy()
    raw = _RawStream(server.address, token=token)
    try:
        with pytest.raises(grpc.RpcError) as info:
            raw.ask(codec.encode_push_pull(1, 0, 0, 1, _grad()))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        raw.close()
    assert ps.applied_steps == 0
    np.testing.assert_array_equal(ps.pull()[0]["w"], before)
    assert server.stats["requests"] == 0 and server.stats["streams"] == 0
    assert client.push_pull(0, 0, 1, _grad())[0] == "applied"  # the right token still works


# ---------------------------------------------------------------------------- max_streams


def test_a_client_refused_a_stream_calls_unary_and_gets_the_same_answers():
    ps = _ps(num_workers=2)
    with serve_parameter_server(ps, TOKEN, max_streams=1) as server:
        first = GrpcServerClient(server.address, TOKEN, name="first", timeout_s=10)
        second = GrpcServerClient(server.address, TOKEN, name="second", timeout_s=10)
        try:
            assert first.push_pull(0, 0, 1, _grad())[0] == "applied"
            assert server.stats["streams"] == 1
            result, values, versions, generation = second.push_pull(1, 0, 1, _grad())
            assert result == "applied" and values["w"].tolist() == [-2.0, -2.0]
            assert server.stats["streams_refused"] == 1 and second._streaming is False
            for step in range(1, 6):
                handle = second.push_pull_async(1, step, 1, _grad(), known_versions=versions,
                                                generation=generation)
                assert handle.stream is None  # unary from now on, never asking again
                result, values, new_versions, generation = second.finish(handle)
                assert result == "applied" and new_versions["w"] > versions["w"]
                versions = new_versions
                assert first.push_pull(0, step, 1, _grad())[0] == "applied"
            np.testing.assert_array_equal(ps.pull()[0]["w"], [-12.0, -12.0])
            assert server.stats["streams_refused"] == 1 and server.stats["streams"] == 1
            assert first._streaming is True
            assert server.stats["requests"] == 12 and server.stats["errors"] == 0
            assert ps.applied_steps == 12 and ps.duplicates == 0
        finally:
            first.close()
            second.close()


def test_a_freed_stream_slot_is_used_by_a_new_client():
    ps = _ps(num_workers=2)
    with serve_parameter_server(ps, TOKEN, max_streams=1) as server:
        with GrpcServerClient(server.address, TOKEN, timeout_s=10) as first:
            first.push_pull(0, 0, 1, _grad())
        assert _eventually(lambda: server.stats["streams"] == 0)
        with GrpcServerClient(server.address, TOKEN, timeout_s=10) as second:
            assert second.push_pull(1, 0, 1, _grad())[0] == "applied"
            assert second._streaming and server.stats["streams"] == 1
        assert server.stats["streams_refused"] == 0


@pytest.mark.parametrize("max_streams, max_workers", [(-1, 64), (64, 64), (65, 64), (4, 4),
                                                      (5, 4), (1, 1)])
def test_max_streams_out_of_range_is_refused(max_streams, max_workers):
    with pytest.raises(ValueError, match=rf"max_streams must be in \[0, max_workers="
                                         rf"{max_workers}\).*got {max_streams}"):
        serve_parameter_server(_ps(), TOKEN, max_streams=max_streams, max_workers=max_workers)


def test_max_streams_in_range_and_its_default():
    for max_streams, max_workers in ((0, 1), (3, 4), (63, 64)):
        server = TransportServer(_ps(), TOKEN, max_streams=max_streams, max_workers=max_workers)
        assert server.max_streams == max_streams
        server.stop()
    server = TransportServer(_ps(), TOKEN, max_workers=10)
    assert server.max_streams == 5  # half the threads, so unary calls always find one
    server.stop()


# ----------------------------------------------------------------- hostile messages, raw


def test_malformed_messages_on_a_stream_get_error_replies_and_it_stays_open(served):
    ps, server, client = served
    valid = codec.encode_push_pull(41, 0, 0, 1, _grad())
    raw = _RawStream(server.address)
    try:
        for garbage in (b"garbage", b"", b"DTFW" + b"\xff" * 40, valid[:-3], valid + b"\xc1"):
            reply = raw.ask(garbage)
            assert isinstance(reply, codec.ErrorReply) and reply.code == "INVALID_MESSAGE"
        assert server.stats["streams"] == 1
        reply = raw.ask(codec.encode_push(7, 0, 0, 1, _grad()))
        assert reply.kind == Kind.ERROR and reply.code == "WRONG_KIND"
        assert reply.request_id == 7 and "PUSH" in reply.message
        reply = raw.ask(codec.encode_pull_request(8, None))
        assert reply.code == "WRONG_KIND" and reply.request_id == 8
        reply = raw.ask(codec.encode_push_pull(9, 0, 0, 1, {"nope": np.ones(2, "float32")}))
        assert reply.code == "UNKNOWN_VARIABLE" and "nope" in reply.message
        reply = raw.ask(codec.encode_push_pull(10, 0, 0, 1, {"w": np.ones(3, "float32")}))
        assert reply.code == "SHAPE_MISMATCH" and reply.request_id == 10
        reply = raw.ask(codec.encode_push_pull(11, 5, 0, 1, _grad()))
        assert reply.code == "INVALID_ARGUMENT" and reply.request_id == 11
        assert ps.applied_steps == 0 and server.stats["errors"] == 10
        reply = raw.ask(valid)
        assert reply.kind == Kind.PUSH_PULL_REPLY and reply.request_id == 41
        assert reply.result == "applied" and reply.tensors["w"].tolist() == [-1.0, -1.0]
        assert reply.generation == ps.generation
        assert server.stats["streams"] == 1 and server.stats["requests"] == 11
    finally:
        raw.close()
    assert ps.applied_steps == 1
    assert _eventually(lambda: server.stats["streams"] == 0)
    assert client.push_pull(1, 0, 1, _grad())[0] == "applied"


def test_fuzzed_messages_on_one_stream_each_get_a_reply(served):
    _, server, client = served
    rng = np.random.default_rng(0)
    wire = codec.encode_push_pull(1, 0, 0, 1, _grad(0.0))
    raw = _RawStream(server.address)
    try:
        for _ in range(150):
            mutated = bytearray(wire)
            mutated[int(rng.integers(len(wire)))] = int(rng.integers(256))
            reply = raw.ask(bytes(mutated))
            assert reply.kind in (Kind.PUSH_PULL_REPLY, Kind.ERROR)
        reply = raw.ask(codec.encode_push_pull(10**6, 1, 10**6, 1, _grad(0.0)))
        assert reply.kind == Kind.PUSH_PULL_REPLY and reply.request_id == 10**6
        assert server.stats["streams"] == 1 and server.stats["requests"] == 151
    finally:
        raw.close()
    assert client.push_pull(1, 10**6 + 1, 1, _grad(0.0))[0] == "applied"


def test_pipelined_requests_on_a_stream_are_answered_in_order(served):
    ps, server, _ = served
    raw = _RawStream(server.address)
    try:
        for step in range(5):
            raw.send(codec.encode_push_pull(100 + step, 0, step, 1, _grad()))
        raw.send(b"garbage")
        raw.send(codec.encode_push_pull(200, 1, 0, 1, _grad()))
        for step in range(5):
            reply = raw.receive()
            assert reply.request_id == 100 + step and reply.result == "applied"
            assert reply.tensors["w"].tolist() == [-(step + 1.0)] * 2
        assert raw.receive().code == "INVALID_MESSAGE"
        reply = raw.receive()
        assert reply.request_id == 200 and reply.tensors["w"].tolist() == [-6.0, -6.0]
    finally:
        raw.close()
    assert ps.applied_steps == 6 and server.stats["errors"] == 1


# ------------------------------------------------------------------------ server restart


@pytest.mark.parametrize("same_server", [True, False])
def test_a_server_restarted_on_the_same_port_between_two_steps(same_server):
    ps = _ps()
    server = serve_parameter_server(ps, TOKEN)
    port = server.port
    client = GrpcServerClient(server.address, TOKEN, name="ps 2", timeout_s=5)
    try:
        result, values, versions, generation = client.push_pull(0, 0, 1, _grad())
        assert result == "applied" and server.stats["streams"] == 1
        server.stop()
        ps2 = ps if same_server else _ps()
        server = serve_parameter_server(ps2, TOKEN, port=port)
        # The stream broke with the old server: this step is retried as a unary call.
        result, values, versions, generation = client.push_pull(
            0, 1, 1, _grad(), known_versions=versions, generation=generation)
        expected = -2.0 if same_server else -1.0
        assert result == "applied" and values["w"].tolist() == [expected] * 2
        assert generation == ps2.generation
        # The next step opens a stream to the new server.
        result, values, _, _ = client.push_pull(0, 2, 1, _grad(), known_versions=versions,
                                                generation=generation)
        assert result == "applied" and values["w"].tolist() == [expected - 1.0] * 2
        assert server.stats["streams"] == 1 and server.stats["requests"] == 2
        assert ps2.duplicates == 0 and server.stats["errors"] == 0
        assert ps2.applied_steps == (3 if same_server else 2)
    finally:
        client.close()
        server.stop()


def test_a_server_that_comes_back_while_the_client_retries():
    ps = _ps()
    server = serve_parameter_server(ps, TOKEN)
    port = server.port
    client = GrpcServerClient(server.address, TOKEN, timeout_s=5, retries=6)
    restarted = []
    try:
        assert client.push_pull(0, 0, 1, _grad())[0] == "applied"
        server.stop()
        timer = threading.Timer(
            0.3, lambda: restarted.append(serve_parameter_server(ps, TOKEN, port=port)))
        timer.start()
        result, values, _, _ = client.push_pull(0, 1, 1, _grad())
        timer.join()
        assert result == "applied" and values["w"].tolist() == [-2.0, -2.0]
        assert client.reconnects >= 1
        assert client.push_pull(0, 2, 1, _grad())[1]["w"].tolist() == [-3.0, -3.0]
        assert restarted[0].stats["streams"] == 1
        assert ps.applied_steps == 3 and ps.duplicates == 0
    finally:
        client.close()
        for started in restarted:
            started.stop()


# ---------------------------------------------------------------------------- the watchdog


class _StuckServer(ParameterServer):
    """A ParameterServer whose push_pull of the steps in ``stuck`` hangs until ``release``
    is set (2 s at most)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stuck = set()
        self.release = threading.Event()
        self.entered = threading.Event()  # set once a stuck step is being held

    def push_pull(self, worker, step, *args, **kwargs):
        if step in self.stuck:
            self.entered.set()
            self.release.wait(2.0)
        return super().push_pull(worker, step, *args, **kwargs)


@pytest.fixture
def short_deadlines(monkeypatch):
    """Stream deadlines of a fraction of a second: the call's wait + 0.3 s, checked every
    0.05 s."""
    monkeypatch.setattr(grpc_service, "_PULL_DEADLINE_MARGIN_S", 0.3)
    monkeypatch.setattr(streams, "WATCHDOG_PERIOD_S", 0.05)


@pytest.mark.parametrize("max_streams", [None, 0], ids=["stream", "unary"])
def test_a_stuck_server_times_out_naming_the_worker_and_step(short_deadlines, max_streams):
    ps = _ps(cls=_StuckServer, num_workers=2)
    ps.stuck.add(3)
    server = serve_parameter_server(ps, TOKEN, max_streams=max_streams)
    client = GrpcServerClient(server.address, TOKEN, name="ps 5", timeout_s=1.0)
    try:
        assert client.push_pull(1, 2, 1, _grad(), timeout_s=0.2)[0] == "applied"
        with pytest.raises(TimeoutError, match=r"push_pull of worker 1, step 3 on ps 5 "
                                               r"\(127\.0\.0\.1:\d+\).*no reply"):
            client.push_pull(1, 3, 1, _grad(), timeout_s=0.2)
        ps.release.set()  # the server is responsive again; the stuck step goes through
        assert _eventually(lambda: ps.applied_steps == 2)
        result, values, _, _ = client.push_pull(1, 4, 1, _grad(), timeout_s=0.2)
        assert result == "applied" and values["w"].tolist() == [-3.0, -3.0]
        if max_streams is None:  # the timed-out stream was closed, a new one opened
            assert _eventually(lambda: server.stats["streams"] == 1)
            assert client._streaming
        assert ps.applied_steps == 3 and ps.duplicates == 0
    finally:
        ps.release.set()
        client.close()
        server.stop()


@pytest.mark.parametrize("max_streams", [None, 0], ids=["stream", "unary"])
def test_a_reply_that_came_in_time_is_returned_however_late_finish_is(short_deadlines,
                                                                      max_streams):
    # A worker overlapping its next batch's work with the step's push_pull finishes late.
    ps = _ps()
    server = serve_parameter_server(ps, TOKEN, max_streams=max_streams)
    client = GrpcServerClient(server.address, TOKEN, timeout_s=1.0)
    try:
        assert client.push_pull(0, 0, 1, _grad(), timeout_s=0.2)[0] == "applied"
        handle = client.push_pull_async(0, 1, 1, _grad(), timeout_s=0.2)
        if handle.stream is not None:  # sent at once (a lone unary call waits for finish)
            assert _eventually(lambda: ps.applied_steps == 2)  # the reply is on its way
        time.sleep(0.8)  # past the call's 0.5 s deadline, the reply long since arrived
        result, values, _, _ = client.finish(handle)
        assert result == "applied" and values["w"].tolist() == [-2.0, -2.0]
    finally:
        client.close()
        server.stop()


# --------------------------------------------------------------------- abandoned handles


def test_an_abandoned_handle_does_not_answer_the_next_call(served):
    ps, server, client = served
    handle = client.push_pull_async(0, 0, 1, _grad())
    assert handle.stream is not None
    abandoned_id = handle.request_id
    del handle  # never finished: its reply is left on the stream
    assert _eventually(lambda: ps.applied_steps == 1)
    handle = client.push_pull_async(0, 1, 1, _grad())
    assert handle.stream is not None and handle.request_id != abandoned_id
    result, values, _, generation = client.finish(handle)  # its own reply, not step 0's
    assert result == "applied" and values["w"].tolist() == [-2.0, -2.0]
    assert generation == ps.generation
    result, values, _, _ = client.push_pull(0, 2, 1, _grad())
    assert result == "applied" and values["w"].tolist() == [-3.0, -3.0]
    # The abandoned call's stream was closed; one stream stays open.
    assert _eventually(lambda: server.stats["streams"] == 1)
    assert ps.applied_steps == 3 and ps.duplicates == 0 and server.stats["errors"] == 0


def test_an_abandoned_handle_whose_reply_is_still_due():
    ps = _ps(cls=_StuckServer)
    ps.stuck.add(0)
    with serve_parameter_server(ps, TOKEN) as server, GrpcServerClient(
            server.address, TOKEN, timeout_s=5) as client:
        handle = client.push_pull_async(0, 0, 1, _grad())
        assert ps.entered.wait(2.0)  # the server holds step 0: its reply is not written yet
        del handle
        # Step 1 goes on a new stream and is applied while step 0 is stuck; its reply is
        # its own, not the abandoned call's when that one comes.
        result, values, _, _ = client.push_pull(0, 1, 1, _grad())
        assert result == "applied" and values["w"].tolist() == [-1.0, -1.0]
        ps.release.set()
        assert _eventually(lambda: ps.duplicates == 1)  # step 0, after step 1: a duplicate
        assert client.push_pull(0, 2, 1, _grad())[1]["w"].tolist() == [-2.0, -2.0]
        assert _eventually(lambda: server.stats["streams"] == 1)
        assert ps.applied_steps == 2


@pytest.mark.parametrize("finish_first", [0, 1])
def test_two_handles_of_one_client_in_flight_at_once(served, finish_first):
    ps, server, client = served
    handles = [client.push_pull_async(0, 0, 1, _grad()),
               client.push_pull_async(1, 0, 1, _grad(2.0))]
    assert handles[0].stream is not None
    assert handles[1].stream is None  # the stream's reply is due: the second goes unary
    order = (finish_first, 1 - finish_first)
    results = {i: client.finish(handles[i]) for i in order}
    # Each reply holds at least its own push (-1 or -2), and the other's if applied first.
    for i, own in ((0, -1.0), (1, -2.0)):
        result, values, _, generation = results[i]
        assert result == "applied" and generation == ps.generation
        assert values["w"].tolist() in ([own] * 2, [-3.0] * 2)
    np.testing.assert_array_equal(ps.pull()[0]["w"], [-3.0, -3.0])
    # The stream is free again: the next call rides it.
    handle = client.push_pull_async(0, 1, 1, _grad())
    assert handle.stream is not None
    assert client.finish(handle)[1]["w"].tolist() == [-4.0, -4.0]
    assert server.stats["streams"] == 1 and server.stats["requests"] == 3
    assert ps.applied_steps == 3 and ps.duplicates == 0


# ------------------------------------------------------------------------------- close


def test_close_ends_the_stream_and_a_later_call_opens_a_new_one(served):
    ps, server, client = served
    assert client.push_pull(0, 0, 1, _grad())[0] == "applied"
    assert server.stats["streams"] == 1
    client.close()
    assert _eventually(lambda: server.stats["streams"] == 0)
    client.close()  # closing twice is harmless
    result, values, _, _ = client.push_pull(0, 1, 1, _grad())
    assert result == "applied" and values["w"].tolist() == [-2.0, -2.0]
    assert server.stats["streams"] == 1 and client._streaming
    assert ps.applied_steps == 2 and server.stats["streams_refused"] == 0
    with client:
        assert client.push_pull(0, 2, 1, _grad())[0] == "applied"
    assert _eventually(lambda: server.stats["streams"] == 0)


def test_a_client_dropped_without_close_leaves_no_thread_behind(served):
    _, server, _ = served
    before = _consumer_threads()
    for step in range(3):
        client = GrpcServerClient(server.address, TOKEN, timeout_s=5)
        assert client.push_pull(0, step, 1, _grad())[0] == "applied"
        del client
    gc.collect()
    assert _eventually(lambda: server.stats["streams"] == 0)
    assert _eventually(lambda: _consumer_threads() <= before)


@pytest.mark.parametrize("num_workers", [2, 40])
def test_a_parameter_server_actor_keeps_a_stream_for_every_worker(num_workers):
    from dtf.cluster.ps_actor import ParameterServerActor

    server = ParameterServerActor({"w": np.zeros(2, "float32")}, keras.optimizers.SGD(0.5),
                                  num_workers, mode="async", grpc_token=TOKEN)
    try:
        grpc_server = server._grpc_server
        assert grpc_server.max_streams >= num_workers
        clients = [GrpcServerClient(server.grpc_address(), TOKEN, timeout_s=10)
                   for _ in range(num_workers)]
        for worker, client in enumerate(clients):
            assert client.push_pull(worker, 0, 1, _grad())[0] == "applied"
        assert grpc_server.stats["streams"] == num_workers
        assert grpc_server.stats["streams_refused"] == 0
        for client in clients:
            client.close()
    finally:
        server.close()
