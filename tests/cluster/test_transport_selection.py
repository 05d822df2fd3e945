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
    ALWAYS_GRPC,
    ALWAYS_RAY,
    AutoServerClient,
    Routing,
    choose_routing,
    measure_round_trip,
    routing_from_times,
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


def test_the_routing_is_the_crossover_either_way_round():
    # Ray per-byte: 0.01 ms, 1 ms, 10 ms against a fixed 4 ms over gRPC: gRPC from 1 MB
    per_byte, fixed = _times(per_byte_s=1e-8), _times(fixed_s=0.004)
    assert routing_from_times(SIZES, per_byte, fixed) == Routing("ray", "grpc", 1_000_000)
    # ... and the other way round (one machine: Ray's shared memory wins the large arrays)
    assert routing_from_times(SIZES, fixed, per_byte) == Routing("grpc", "ray", 1_000_000)
    assert routing_from_times(SIZES, _times(0.006), _times(0.001)) == ALWAYS_GRPC
    assert routing_from_times(SIZES, _times(0.001), _times(0.006)) == ALWAYS_RAY


def test_the_large_sizes_do_not_decide_for_the_small_ones():
    # Measured on the 2-core machine, a strategy starting: gRPC wins up to 4 MB, Ray at 16 MB
    # by more than gRPC wins all the others together. One threshold "gRPC from N" could only
    # send everything over Ray; the routing keeps gRPC for the small messages.
    sizes = [4096, 65536, 262144, 1 << 20, 4 << 20, 16 << 20]
    ray = [0.001593, 0.001265, 0.001665, 0.004329, 0.006833, 0.013903]
    grpc = [0.000573, 0.000497, 0.000648, 0.001188, 0.005152, 0.022021]
    assert routing_from_times(sizes, ray, grpc) == Routing("grpc", "ray", 16 << 20)


def test_the_routing_minimises_the_total_time():
    # Ray fixed 4 ms; gRPC 0.01 ms, 1 ms, 10 ms: gRPC below 1 MB, Ray from there (6.01 ms in
    # all) beats always gRPC (11.01 ms) and always Ray (12 ms).
    fixed = _times(fixed_s=0.004)
    assert routing_from_times(SIZES, fixed, _times(per_byte_s=1e-8)) == \
        Routing("grpc", "ray", 1_000_000)
    assert routing_from_times(SIZES, _times(0.002), _times(0.002)) == ALWAYS_GRPC  # a tie


def test_routing_way_and_text():
    routing = Routing("grpc", "ray", 1 << 20)
    assert [routing.way(n) for n in (0, (1 << 20) - 1, 1 << 20)] == ["grpc", "grpc", "ray"]
    assert str(ALWAYS_RAY) == "Ray actor calls for every message"
    assert str(ALWAYS_GRPC) == "gRPC for every message"
    with pytest.raises(ValueError, match="'ray' or 'grpc'"):
        Routing("tcp", "ray", 10)
    with pytest.raises(ValueError, match="threshold"):
        Routing("ray", "grpc", -1)


def test_choose_routing_measures_both_echoes_at_every_size():
    calls = {"ray": [], "grpc": []}

    def echo(name):
        return lambda payload: (calls[name].append(len(payload)), payload)[1]

    choose_routing(echo("ray"), echo("grpc"), [10, 20], repeats=3)
    assert sorted(set(calls["ray"])) == sorted(set(calls["grpc"])) == [10, 20]
    assert len(calls["ray"]) == len(calls["grpc"]) == 2 * (3 + 1)  # warm-up + repeats


def test_choose_routing_with_a_real_grpc_echo(served):
    _, client = served
    in_process = bytes  # a copy in this process: no transport beats it
    assert choose_routing(in_process, client.echo, [4096, 1 << 20], repeats=3) == ALWAYS_RAY
    # a fixed 0.1 s "Ray": gRPC wins both sizes, and every larger message until its growing
    # time reaches 0.1 s (far beyond 1 MB: the lines cross there)
    routing = choose_routing(_sleeper(0.1), client.echo, [4096, 1 << 20], repeats=3)
    assert routing.below == "grpc" and routing.above == "ray"
    assert routing.threshold > 8 << 20
    with pytest.raises(ValueError, match="at least one"):
        choose_routing(in_process, client.echo, [])


def test_routing_by_size_with_one_duplicate_rule(served):
    ps, grpc_client = served
    routing = Routing("ray", "grpc", 10_000)  # "small" (16 bytes) over Ray, "big" over gRPC
    auto = AutoServerClient(ps, grpc_client, routing, pull_bytes=16)
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
    over_grpc = AutoServerClient(ps, grpc_client, routing, pull_bytes=200_016)
    same, same_versions, same_generation = over_grpc.pull()
    assert over_grpc.routed == {"ray": 0, "grpc": 1}
    assert same_versions == versions and same_generation == generation
    np.testing.assert_array_equal(same["small"], values["small"])
    assert over_grpc.pull(versions, generation=generation)[0] == {}
    assert set(over_grpc.pull(versions, generation="another")[0]) == {"small", "big"}


def test_assigns_count_toward_the_route_and_reach_the_server(served):
    ps, grpc_client = served
    auto = AutoServerClient(ps, grpc_client, Routing("ray", "grpc", 10_000), pull_bytes=0)
    result = auto.push(1, 0, 1, {"small": np.ones(4, "float32")},
                       assigns={"big": np.full(50_000, 7, "float32")})
    assert result is Push.APPLIED and auto.routed["grpc"] == 1
    np.testing.assert_array_equal(ps.pull()[0]["big"], 7)


@pytest.mark.parametrize("routing, expected", [(ALWAYS_GRPC, "grpc"), (ALWAYS_RAY, "ray")])
def test_always_one_way(served, routing, expected):
    ps, grpc_client = served
    auto = AutoServerClient(ps, grpc_client, routing, pull_bytes=200_016)
    auto.push(0, 0, 1, {"small": np.ones(4, "float32")})
    auto.pull()
    assert auto.routed[expected] == 2


def test_errors_are_the_servers_whichever_way(served):
    ps, grpc_client = served
    for routing in (ALWAYS_GRPC, ALWAYS_RAY):
        auto = AutoServerClient(ps, grpc_client, routing, pull_bytes=0)
        with pytest.raises((KeyError, ValueError), match="nope"):
            auto.push(0, 0, 1, {"nope": np.ones(1, "float32")})


def test_pickles_with_picklable_clients(served):
    _, grpc_client = served
    routing = Routing("ray", "grpc", 1 << 20)
    auto = AutoServerClient(grpc_client, grpc_client, routing, pull_bytes=5)
    copy = pickle.loads(pickle.dumps(auto))
    assert (copy.routing, copy.pull_bytes) == (routing, 5)
    assert copy.push(0, 0, 1, {"small": np.ones(4, "float32")}) is Push.APPLIED


def test_bad_arguments():
    with pytest.raises(TypeError, match="Routing"):
        AutoServerClient(None, None, 1 << 20, 0)
    with pytest.raises(ValueError, match="pull_bytes"):
        AutoServerClient(None, None, ALWAYS_GRPC, 1.5)


def test_custom_loop_updates_are_routed_by_size(served):
    ps, grpc_client = served
    auto = AutoServerClient(ps, grpc_client, Routing("ray", "grpc", 10_000), pull_bytes=0)
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
    auto = AutoServerClient(ps, grpc_client, Routing("ray", "grpc", 10_000), pull_bytes=0)
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
    auto = AutoServerClient(deferred, grpc_client, Routing("ray", "grpc", 10_000), pull_bytes=0)
    handles = [auto.push_pull_async(0, 0, 1, {"small": np.ones(4, "float32")}),
               auto.push_pull_async(1, 0, 1, {"big": np.ones(50_000, "float32")})]
    assert auto.routed == {"ray": 1, "grpc": 1}  # the Ray-side call runs in finish
    results = [auto.finish(handle, f"step 0 of worker {w}") for w, handle in enumerate(handles)]
    assert [r[0] for r in results] == ["applied", "applied"] and ps.applied_steps == 2
    assert deferred.whats == ["step 0 of worker 0"]
    assert auto.finish(auto.push_pull_async(0, 1, 1, {"small": np.ones(4, "f4")}))[0] == "applied"
    with pytest.raises(TypeError, match="push_pull_async"):
        auto.finish("not a handle")
    for routing in (ALWAYS_GRPC, ALWAYS_RAY):  # errors are the server's, whichever way
        auto = AutoServerClient(ps, grpc_client, routing, pull_bytes=0)
        with pytest.raises((KeyError, ValueError), match="nope"):
            auto.finish(auto.push_pull_async(0, 5, 1, {"nope": np.ones(1, "float32")}))


def test_pulls_are_routed_by_the_bytes_the_placement_now_puts_on_the_server(served):
    # A job started with almost nothing hosted, then given a large model: its workers' pulls
    # must follow the new placement's bytes, not the size at start (the clients are made once).
    from dtf.cluster.servers import ShardedServer
    from dtf.cluster.sharding import plan_placement

    ps, grpc_client = served
    auto = AutoServerClient(ps, grpc_client, Routing("grpc", "ray", 100_000), pull_bytes=16)
    placement = plan_placement({"small": ((4,), "float32")}, 1)
    assert ShardedServer([auto], placement).servers[0].pull_bytes == 16
    placement.extend({"big": ((50_000,), "float32")})
    ShardedServer([auto], placement.to_dict())  # what a worker's set_placement builds
    assert auto.pull_bytes == 200_016
    auto.pull()
    assert auto.routed == {"ray": 1, "grpc": 0}


def test_one_way_for_every_size_hands_larger_messages_to_the_other_from_the_crossover():
    # Measured on the 2-core machine: gRPC just wins 16 MB, but its time grows faster (it
    # copies each message whole), so 40 MB goes over Ray. The lines cross at ~20 MB.
    sizes = [4096, 65536, 262144, 1 << 20, 4 << 20, 16 << 20]
    ray = [0.001593, 0.001265, 0.001665, 0.004329, 0.006833, 0.013903]
    grpc = [0.000573, 0.000497, 0.000648, 0.001188, 0.005000, 0.013500]
    routing = routing_from_times(sizes, ray, grpc)
    assert routing.below == "grpc" and routing.above == "ray"
    assert 16 << 20 <= routing.threshold <= 24 << 20
    assert routing.way(16 << 20) == "grpc" and routing.way(40 << 20) == "ray"
    # the other way round: Ray wins every size, gRPC's cost per byte is the smaller
    assert routing_from_times(sizes, grpc, ray).below == "ray"
    assert routing_from_times(sizes, grpc, ray).way(40 << 20) == "grpc"
    # slopes in the winner's favour: one way for everything still
    assert routing_from_times(SIZES, _times(0.006, 1e-9), _times(0.001, 1e-9)) == ALWAYS_GRPC
    assert routing_from_times([1 << 20], [0.002], [0.001]) == ALWAYS_GRPC  # one size: no slope
