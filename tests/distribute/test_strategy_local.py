"""ParameterServerStrategy in the local (single-process) mode: the same parameter-server and
worker code as on Ray, without Ray. Sync training equals one process; async and bounded
converge; the driver's model keeps working; bad input fails before any actor starts."""

import numpy as np
import pytest
from ps_helpers import X, Y, make_model, max_weight_difference, reference_fit

import dtf
from dtf import keras

PSS = dtf.distribute.ParameterServerStrategy


@pytest.mark.parametrize("num_workers,steps_per_execution", [(1, 1), (2, 1), (3, 1), (2, 3)])
def test_sync_fit_equals_single_process(num_workers, steps_per_execution):
    reference, ref_history = reference_fit()
    strategy = PSS(num_workers=num_workers, cluster="local")
    with strategy.scope():
        model = make_model(steps_per_execution=steps_per_execution)
    history = model.fit(X, Y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    assert max_weight_difference(model, reference) < 1e-5
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(history.history[key], ref_history.history[key], rtol=1e-5)
    strategy.shutdown()


def test_sync_fit_over_two_partitioned_parameter_servers_equals_single_process():
    reference, _ = reference_fit()
    partitioner = dtf.distribute.experimental.partitioners.MinSizePartitioner(
        min_shard_bytes=64, max_shards=2)
    strategy = PSS(num_workers=2, num_ps=2, cluster="local", variable_partitioner=partitioner)
    with strategy.scope():
        model = make_model()
    model.fit(X, Y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    placement = strategy._job.placement
    assert any(placement.is_partitioned(k) for k in placement)
    assert all(placement.bytes_on(i) > 0 for i in range(2))
    assert max_weight_difference(model, reference) < 1e-5


def test_fit_on_a_batched_dataset_equals_single_process():
    reference = make_model()
    dataset = dtf.data.Dataset.from_tensor_slices((X, Y)).batch(25)
    reference.fit(dataset, epochs=2, verbose=0)
    strategy = PSS(num_workers=2, cluster="local")
    with strategy.scope():
        model = make_model()
    model.fit(dataset, epochs=2, verbose=0)
    assert max_weight_difference(model, reference) < 1e-5


@pytest.mark.parametrize("mode,staleness", [("async", None), ("bounded", 1)])
def test_async_and_bounded_training_converge(mode, staleness):
    strategy = PSS(num_workers=2, cluster="local", mode=mode, max_staleness=staleness)
    with strategy.scope():
        model = make_model()
    history = model.fit(X, Y, batch_size=20, epochs=8, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    stats = strategy._job.server_states()[0]
    assert stats["applied_steps"] == 2 * 8 * 5  # every shard applied on arrival, once


def test_driver_model_predicts_evaluates_saves_and_sets_weights(tmp_path):
    strategy = PSS(num_workers=2, cluster="local")
    with strategy.scope():
        model = make_model()
    model.fit(X, Y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    trained = model.get_weights()
    server_values = strategy._job.servers[0].instance.pull()[0]
    key = model.weights[0]._key
    np.testing.assert_array_equal(trained[0], server_values[key])  # fetched on demand
    assert model.predict(X[:4], verbose=0).shape == (4, 3)
    loss, accuracy = model.evaluate(X, Y, verbose=0)
    assert np.isfinite(loss) and 0 <= accuracy <= 1
    model.summary(print_fn=lambda *a, **k: None)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.get_weights()[0], trained[0])
    # a driver write goes to the servers before the next step
    model.set_weights([np.zeros_like(w) for w in trained])
    strategy._job.flush()
    np.testing.assert_array_equal(strategy._job.servers[0].instance.pull()[0][key], 0)


def test_history_has_per_step_timing_and_bytes():
    strategy = PSS(num_workers=2, cluster="local")
    with strategy.scope():
        model = make_model()
    history = model.fit(X, Y, batch_size=50, epochs=2, shuffle=False, verbose=0)
    for key in ("pull", "compute", "push", "wait", "bytes_pulled", "bytes_pushed"):
        assert len(history.timing[key]) == 2
    assert len(history.steps) == 4 and history.timing["bytes_pushed"][0] > 0
    assert "pull" not in history.history  # timings stay out of the metrics


def test_callbacks_run_on_the_driver(tmp_path):
    strategy = PSS(num_workers=2, cluster="local")
    with strategy.scope():
        model = make_model()
    seen = []
    callbacks = [keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, l: seen.append(b)),
                 keras.callbacks.ModelCheckpoint(str(tmp_path / "best.weights.h5"),
                                                 save_weights_only=True, monitor="loss"),
                 keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)]
    history = model.fit(X, Y, batch_size=50, epochs=5, shuffle=False, verbose=0,
                        callbacks=callbacks)
    assert len(history.history["loss"]) == 2  # stopped early
    assert seen == [0, 1, 0, 1]
    assert (tmp_path / "best.weights.h5").exists()


def test_shuffled_fit_trains_and_sees_every_row_once_per_epoch():
    strategy = PSS(num_workers=2, cluster="local")
    with strategy.scope():
        model = make_model(metrics=())
    history = model.fit(X, Y, batch_size=16, epochs=6, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_model_built_outside_the_scope_is_refused_before_any_actor_starts():
    strategy = PSS(num_workers=2, cluster="local")
    model = make_model()
    with pytest.raises(ValueError, match="inside `with strategy.scope\\(\\):`"), \
            strategy.scope():
        model.fit(X, Y, verbose=0)
    with strategy.scope():
        in_scope = make_model()
    mixed = keras.Sequential([in_scope, keras.layers.Dense(2)])
    mixed.build((None, 6))
    mixed.compile("sgd", "mse")
    with pytest.raises(ValueError, match="created outside it"):
        mixed.fit(X, np.zeros((100, 2), "float32"), verbose=0)
    assert strategy.cluster_info() == []


@pytest.mark.parametrize("kwargs,message", [
    ({"batch_size": 1}, "batch_size=1 is the global batch"),
    ({"x": X[:1], "y": Y[:1]}, "cannot be split across 2 workers"),
])
def test_data_that_cannot_be_split_is_refused_before_any_actor_starts(kwargs, message):
    strategy = PSS(num_workers=2, cluster="local")
    with strategy.scope():
        model = make_model()
    call = {"x": X, "y": Y, "verbose": 0}
    call.update(kwargs)
    with pytest.raises(ValueError, match=message):
        model.fit(**call)
    assert strategy.cluster_info() == []


def test_a_generator_is_refused():
    strategy = PSS(num_workers=2, cluster="local")
    with strategy.scope():
        model = make_model()
    with pytest.raises(ValueError, match="cannot split a Python generator"):
        model.fit(((X[:10], Y[:10]) for _ in range(3)), steps_per_epoch=3, verbose=0)


@pytest.mark.parametrize("kwargs,message", [
    ({"num_workers": 0}, "num_workers must be a positive int"),
    ({"mode": "eager"}, "mode must be one of"),
    ({"mode": "bounded"}, "needs max_staleness"),
    ({"cluster": "k8s"}, "cluster must be 'ray' or 'local'"),
    ({"transport": "tcp"}, "transport must be one of"),
    ({"worker_resources": {"gpus": 1}}, "worker_resources must be a dict"),
])
def test_bad_strategy_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PSS(**kwargs)


def test_variables_in_scope_are_ps_variables_and_get_strategy():
    strategy = PSS(num_workers=1, cluster="local")
    assert not dtf.distribute.has_strategy()
    with strategy.scope():
        v = dtf.Variable(1.0)
        assert dtf.distribute.get_strategy() is strategy
    assert type(v).__name__ == "PSVariable" and not v.hosted
    assert float(v.numpy()) == 1.0
    assert strategy.num_replicas_in_sync == 1
    assert float(strategy.reduce("SUM", dtf.constant([1.0, 2.0]), axis=0)) == 3.0


def test_a_second_fit_continues_and_a_replacement_worker_would_replay_only_the_latest_setup():
    reference = make_model()
    reference.fit(X, Y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    reference.fit(X, Y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    strategy = PSS(num_workers=2, cluster="local")
    with strategy.scope():
        model = make_model()
    model.fit(X, Y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    model.fit(X, Y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    assert max_weight_difference(model, reference) < 1e-5
    log = strategy._job._setup_log[0]
    assert [method for method, _ in log] == ["connect", "setup_fit"]  # old data is freed
