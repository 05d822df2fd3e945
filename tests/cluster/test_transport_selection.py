"""transport="auto": measuring the crossover size, and routing calls by size to one server.

The gRPC side is a real server on loopback serving a real ParameterServer; the Ray side of the
routing tests is that same ParameterServer called in-process (it has the same pull/push), so
these tests need no Ray. Ray itself is measured by scripts/bench/transport.py."""

import doctest
import pickle
import time

import numpy as np
import pytest
from dtf.cluster.parameter_server import ParameterServer, Push
from dtf.cluster.transport import memory, selection
from dtf.cluster.transport.grpc_service import GrpcServerClient, serve_parameter_server
from dtf.cluster.transport.selection import (
    ALWAYS_RAY,
    AutoServerClient,
    choose_threshold,
    measure_round_trip,
    threshold_from_times,
)

from dtf import keras

TOKEN = "selection-test-token"


@pytest.fixture(autouse=True)
def untuned_allocator(monkeypatch):
    """serve_parameter_server tunes the process's allocator; the test processes keep theirs."""
    calls = []
    monkeypatch.setattr(memory, "tune_allocator", lambda: calls.append(1) or True)
    return calls


@pytest.fixture
def served():
    ps = ParameterServer({"small": np.zeros(4, "float32"), "big": np.zeros(50_000, "float32")},
                         keras.optimizers.SGD(1.0), num_workers=2, mode="async")
    server = serve_parameter_server(ps, TOKEN)
    client = GrpcServerClient(server.address, TOKEN, name="ps 0", timeout_s=10)
    yield ps, client
    client.close()
    server.stop()


def _sleeper(fixed_s=0.0, per_byte_s=0.0):
    def echo(payload):
        time.sleep(fixed_s + per_byte_s * len(payload))
        return payload

    return echo


def test_docstring_examples():
    assert doctest.testmod(selection).failed == 0


def test_measure_round_trip_over_grpc(served):
    _, client = served
    seconds = measure_round_trip(client.echo, 64 << 10, repeats=3)
    assert seconds > 0
    with pytest.raises(ValueError, match="must return its payload"):
        measure_round_trip(lambda b: b[:-1], 10)
    with pytest.raises(ValueError, match="repeats"):
        measure_round_trip(client.echo, 10, repeats=0)
    with pytest.raises(ValueError, match="nbytes"):
        measure_round_trip(client.echo, -1)


SIZES = [1_000, 100_000, 1_000_000]


def _times(fixed_s=0.0, per_byte_s=0.0, sizes=SIZES):
    return [fixed_s + per_byte_s * size for size in sizes]


def test_the_threshold_is_the_crossover():
    # Ray per-byte: 0.01 ms, 1 ms, 10 ms against a fixed 4 ms over gRPC: gRPC from 1 MB
    per_byte, fixed = _times(per_byte_s=1e-8), _times(fixed_s=0.004)
    assert threshold_from_times(SIZES, per_byte, fixed) == 1_000_000
    assert threshold_from_times(SIZES, _times(0.006), _times(0.001)) == 0
    assert threshold_from_times(SIZES, _times(0.001), _times(0.006)) == ALWAYS_RAY


def test_the_threshold_minimises_the_total_time():
    # Ray fixed 4 ms; gRPC 0.01 ms, 1 ms, 10 ms. gRPC loses only the largest size, and by less
    # than it wins the others: always gRPC (11 ms in all) beats always Ray (12 ms).
    fixed = _times(fixed_s=0.004)
    assert threshold_from_times(SIZES, fixed, _times(per_byte_s=1e-8)) == 0
    slow_large = _times(per_byte_s=3e-8)  # 0.03 ms, 3 ms, 30 ms: now always Ray wins
    assert threshold_from_times(SIZES, fixed, slow_large) == ALWAYS_RAY


def test_the_threshold_takes_the_last_winning_run():
    sizes = [1_000, 10_000, 100_000, 1_000_000]
    bumpy_grpc = [0.001, 0.006, 0.001, 0.001]  # wins at 1 KB, loses at 10 KB, wins from 100 KB
    assert threshold_from_times(sizes, [0.003] * 4, bumpy_grpc) == 100_000


def test_choose_threshold_measures_both_echoes_at_every_size():
    calls = {"ray": [], "grpc": []}

    def echo(name):
        return lambda payload: (calls[name].append(len(payload)), payload)[1]

    choose_threshold(echo("ray"), echo("grpc"), [10, 20], repeats=3)
    assert sorted(set(calls["ray"])) == sorted(set(calls["grpc"])) == [10, 20]
    assert len(calls["ray"]) == len(calls["grpc"]) == 2 * (3 + 1)  # warm-up + repeats


def test_choose_threshold_with_a_real_grpc_echo(served):
    _, client = served
    in_process = bytes  # a copy in this process: no transport beats it
    assert choose_threshold(in_process, client.echo, [4096, 1 << 20], repeats=3) == ALWAYS_RAY
    assert choose_threshold(_sleeper(0.1), client.echo, [4096, 1 << 20], repeats=3) == 0
    with pytest.raises(ValueError, match="at least one"):
        choose_threshold(in_process, client.echo, [])


def test_routing_by_size_with_one_duplicate_rule(served):
    ps, grpc_client = served
    threshold = 10_000  # "small" (16 bytes) goes over Ray, "big" (200 KB) over gRPC
    auto = AutoServerClient(ps, grpc_client, threshold, pull_bytes=16)
    small, big = {"small": np.ones(4, "float32")}, {"big": np.ones(50_000, "float32")}
    assert auto.push(0, 0, 1, small) is Push.APPLIED
    assert auto.routed == {"ray": 1, "grpc": 0}
    # The same step again, now big enough for gRPC: the server's duplicate rule answers.
    assert auto.push(0, 0, 1, big) is Push.DUPLICATE
    assert auto.routed == {"ray": 1, "grpc": 1} and ps.duplicates == 1
    assert auto.push(0, 1, 1, big) is Push.APPLIED
    values, versions, generation = auto.pull()  # pull_bytes 16: over Ray
    assert auto.routed == {"ray": 2, "grpc": 2} and generation == ps.generation
    np.testing.assert_array_equal(values["big"], -np.ones(50_000))
    over_grpc = AutoServerClient(ps, grpc_client, threshold, pull_bytes=200_016)
    same, same_versions, same_generation = over_grpc.pull()
    assert over_grpc.routed == {"ray": 0, "grpc": 1}
    assert same_versions == versions and same_generation == generation
    np.testing.assert_array_equal(same["small"], values["small"])
    assert over_grpc.pull(versions, generation=generation)[0] == {}
    assert set(over_grpc.pull(versions, generation="another")[0]) == {"small", "big"}


def test_assigns_count_toward_the_route_and_reach_the_server(served):
    ps, grpc_client = served
    auto = AutoServerClient(ps, grpc_client, 10_000, pull_bytes=0)
    result = auto.push(1, 0, 1, {"small": np.ones(4, "float32")},
                       assigns={"big": np.full(50_000, 7, "float32")})
    assert result is Push.APPLIED and auto.routed["grpc"] == 1
    np.testing.assert_array_equal(ps.pull()[0]["big"], 7)


@pytest.mark.parametrize("threshold, expected", [(0, "grpc"), (ALWAYS_RAY, "ray")])
def test_always_one_way(served, threshold, expected):
    ps, grpc_client = served
    auto = AutoServerClient(ps, grpc_client, threshold, pull_bytes=200_016)
    auto.push(0, 0, 1, {"small": np.ones(4, "float32")})
    auto.pull()
    assert auto.routed[expected] == 2


def test_errors_are_the_servers_whichever_way(served):
    ps, grpc_client = served
    for threshold in (0, ALWAYS_RAY):
        auto = AutoServerClient(ps, grpc_client, threshold, pull_bytes=0)
        with pytest.raises((KeyError, ValueError), match="nope"):
            auto.push(0, 0, 1, {"nope": np.ones(1, "float32")})


def test_pickles_with_picklable_clients(served):
    _, grpc_client = served
    auto = AutoServerClient(grpc_client, grpc_client, 1 << 20, pull_bytes=5)
    copy = pickle.loads(pickle.dumps(auto))
    assert (copy.threshold_bytes, copy.pull_bytes) == (1 << 20, 5)
    assert copy.push(0, 0, 1, {"small": np.ones(4, "float32")}) is Push.APPLIED


def test_bad_arguments():
    with pytest.raises(ValueError, match="threshold_bytes"):
        AutoServerClient(None, None, -1, 0)
    with pytest.raises(ValueError, match="pull_bytes"):
        AutoServerClient(None, None, 0, 1.5)


def test_custom_loop_updates_are_routed_by_size(served):
    ps, grpc_client = served
    auto = AutoServerClient(ps, grpc_client, 10_000, pull_bytes=0)
    assert auto.apply_update(0, 0, {"small": np.ones(4, "float32")}, {}) is True
    assert auto.routed == {"ray": 1, "grpc": 0}
    assert auto.apply_update(0, 0, {"big": np.ones(50_000, "float32")}, {}) is False
    assert auto.apply_update(0, 1, {}, {"big": np.ones(50_000, "float32")}) is True
    assert auto.routed == {"ray": 1, "grpc": 2}
    np.testing.assert_array_equal(ps.pull()[0]["big"], 1)


class _Deferred:
    """An in-process server with the async interface of Ray's RemoteServer: the call runs in
    `finish` (as a Ray call would complete), and `finish` records the `what` it was given."""

    def __init__(self, ps):
        self.ps, self.whats = ps, []

    def push_pull_async(self, *args):
        return lambda: self.ps.push_pull(*args)

    def finish(self, handle, what="call"):
        self.whats.append(what)
        return handle()


def test_push_pull_is_routed_by_the_push_bytes(served):
    ps, grpc_client = served
    auto = AutoServerClient(ps, grpc_client, 10_000, pull_bytes=0)
    small, big = {"small": np.ones(4, "float32")}, {"big": np.ones(50_000, "float32")}
    result, values, versions, generation = auto.push_pull(0, 0, 1, small)
    assert result == "applied" and auto.routed == {"ray": 1, "grpc": 0}
    assert set(values) == {"small", "big"} and generation == ps.generation
    result, values, _, _ = auto.push_pull(0, 1, 1, big, known_versions=versions,
                                          generation=generation)
    assert result == "applied" and auto.routed == {"ray": 1, "grpc": 1}
    assert list(values) == ["big"]
    np.testing.assert_array_equal(values["big"], -np.ones(50_000))
    # Assigns count toward the route, and a replayed step is the server's duplicate.
    result, _, _, _ = auto.push_pull(0, 1, 1, small, assigns={"big": np.zeros(50_000, "f4")})
    assert result == "duplicate" and auto.routed["grpc"] == 2 and ps.duplicates == 1


def test_push_pull_async_and_finish_whichever_way(served):
    ps, grpc_client = served
    deferred = _Deferred(ps)
    auto = AutoServerClient(deferred, grpc_client, 10_000, pull_bytes=0)
    handles = [auto.push_pull_async(0, 0, 1, {"small": np.ones(4, "float32")}),
               auto.push_pull_async(1, 0, 1, {"big": np.ones(50_000, "float32")})]
    assert auto.routed == {"ray": 1, "grpc": 1}  # the Ray-side call runs in finish
    results = [auto.finish(handle, f"step 0 of worker {w}") for w, handle in enumerate(handles)]
    assert [r[0] for r in results] == ["applied", "applied"] and ps.applied_steps == 2
    assert deferred.whats == ["step 0 of worker 0"]
    assert auto.finish(auto.push_pull_async(0, 1, 1, {"small": np.ones(4, "f4")}))[0] == "applied"
    with pytest.raises(TypeError, match="push_pull_async"):
        auto.finish("not a handle")
    for threshold in (0, ALWAYS_RAY):  # errors are the server's, whichever way
        auto = AutoServerClient(ps, grpc_client, threshold, pull_bytes=0)
        with pytest.raises((KeyError, ValueError), match="nope"):
            auto.finish(auto.push_pull_async(0, 5, 1, {"nope": np.ones(1, "float32")}))
