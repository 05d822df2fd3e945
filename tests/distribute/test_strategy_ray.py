"""ParameterServerStrategy on a real local Ray cluster started by the tests: sync fit equals one
process (and the local mode) for 1, 2 and 3 workers, named actors with their nodes and PIDs,
shutdown, and a cluster that cannot place the workers refused before any actor starts."""

import numpy as np
import pytest
from ps_helpers import X, Y, make_model, max_weight_difference, reference_fit

import dtf

PSS = dtf.distribute.ParameterServerStrategy


@pytest.mark.parametrize("num_workers", [1, 2, 3])
def test_sync_fit_on_ray_equals_single_process_and_local_mode(ray_cluster, num_workers):
    reference, ref_history = reference_fit()
    local = PSS(num_workers=num_workers, cluster="local")
    with local.scope():
        local_model = make_model()
    local_model.fit(X, Y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    strategy = PSS(num_workers=num_workers, cluster="ray", transport="ray")
    with strategy.scope():
        model = make_model()
    history = model.fit(X, Y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    assert max_weight_difference(model, reference) < 1e-5
    assert max_weight_difference(model, local_model) < 1e-6
    np.testing.assert_allclose(history.history["loss"], ref_history.history["loss"], rtol=1e-5)
    stats = strategy._job.server_states()[0]
    assert stats["applied_steps"] == 2 * 4 and stats["duplicates"] == 0
    strategy.shutdown()


def test_actors_are_named_and_listed_then_stopped(ray_cluster):
    strategy = PSS(num_workers=2, num_ps=2, cluster="ray", transport="ray", job="named")
    with strategy.scope():
        model = make_model()
    model.fit(X, Y, batch_size=50, epochs=1, verbose=0)
    info = strategy.cluster_info()
    assert sorted(i["name"] for i in info) == [
        "dtf:named:ps:0", "dtf:named:ps:1", "dtf:named:worker:0", "dtf:named:worker:1"]
    assert all(i["pid"] > 0 and i["node_id"] for i in info)
    assert len({i["pid"] for i in info}) == 4  # each actor is its own process
    actor = ray_cluster.get_actor("dtf:named:worker:1", namespace="dtf")
    assert actor is not None
    trained = model.get_weights()
    strategy.shutdown()
    assert strategy.cluster_info() == []
    with pytest.raises(ValueError):
        ray_cluster.get_actor("dtf:named:worker:1", namespace="dtf")
    np.testing.assert_array_equal(model.get_weights()[0], trained[0])  # kept on the driver


def test_more_workers_than_the_cluster_can_place_is_refused_before_any_actor_starts(
        ray_cluster):
    strategy = PSS(num_workers=3, cluster="ray", transport="ray",
                   worker_resources={"num_cpus": 2}, job="too-big")
    with strategy.scope():
        model = make_model()
    with pytest.raises(ValueError, match="cannot place 3 actors"):
        model.fit(X, Y, batch_size=30, verbose=0)
    assert strategy.cluster_info() == []
    names = [a["name"] for a in ray_cluster.util.list_named_actors(all_namespaces=True)]
    assert not any(n.startswith("dtf:too-big:") for n in names)


@pytest.mark.parametrize("transport", ["grpc", "auto"])
def test_sync_fit_over_grpc_and_auto_transports_equals_single_process(ray_cluster, transport):
    reference, _ = reference_fit()
    strategy = PSS(num_workers=2, cluster="ray", transport=transport)
    with strategy.scope():
        model = make_model()
    model.fit(X, Y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    assert max_weight_difference(model, reference) < 1e-5
    if transport == "auto":
        assert strategy._auto_routing is not None
    strategy.shutdown()


def _slow_worker_model(seconds):
    """A model whose forward pass sleeps `seconds` on worker 1 only (a py_function branch that
    does not change the result)."""
    import time

    from dtf.cluster.worker import current_worker_id

    from dtf import keras

    def maybe_sleep(x):
        if current_worker_id() == 1:
            time.sleep(seconds)
        return x

    model = make_model()
    inputs = keras.Input((6,))
    spec = dtf.TensorSpec([None, 6], dtf.float32)
    delayed = keras.layers.Lambda(
        lambda t: t + 0.0 * dtf.py_function(maybe_sleep, [t], spec))(inputs)
    outputs = model(delayed)
    wrapped = keras.Model(inputs, outputs)
    wrapped.compile(keras.optimizers.SGD(0.05),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return wrapped


@pytest.mark.parametrize("mode,bound", [("bounded", 1), ("async", None)])
def test_staleness_with_a_slow_worker_on_ray(ray_cluster, mode, bound):
    strategy = PSS(num_workers=3, cluster="ray", transport="ray", mode=mode,
                   max_staleness=bound, steps_in_flight=6)
    with strategy.scope():
        model = _slow_worker_model(0.03)
    history = model.fit(X, Y, batch_size=12, epochs=2, verbose=0)
    stats = strategy._job.server_states()[0]
    assert stats["applied_steps"] == 3 * 2 * 9
    assert np.isfinite(history.history["loss"]).all()
    if mode == "bounded":
        assert stats["max_lead"] <= bound and stats["waits"] > 0
    else:
        assert stats["max_lead"] > 1
    strategy.shutdown()
