"""Custom training loops across the cluster with ClusterCoordinator: per-worker datasets,
scheduled steps whose optimizer updates run on the parameter servers, metrics updated by every
worker, errors with the worker's traceback, in the local mode and on a real Ray cluster."""

import numpy as np
import pytest
from ps_helpers import X, Y

import dtf
from dtf import keras
from dtf.distribute.coordinator import ClusterCoordinator, RemoteValue

PSS = dtf.distribute.ParameterServerStrategy


def _setup(strategy):
    with strategy.scope():
        dtf.random.set_seed(1)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
        optimizer = keras.optimizers.SGD(0.2)
        accuracy = keras.metrics.SparseCategoricalAccuracy()
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def dataset_fn():
        return dtf.data.Dataset.from_tensor_slices((X, Y)).batch(10).repeat()

    @dtf.function
    def train_step(iterator):
        def replica_fn(batch):
            x, y = batch
            with dtf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = loss_fn(y, logits)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            accuracy.update_state(y, logits)
            return loss

        losses = strategy.run(replica_fn, args=(next(iterator),))
        return strategy.reduce("SUM", losses, axis=None)

    return model, accuracy, dataset_fn, train_step


def _train(strategy, steps=30):
    model, accuracy, dataset_fn, train_step = _setup(strategy)
    coordinator = ClusterCoordinator(strategy)
    iterator = iter(coordinator.create_per_worker_dataset(dataset_fn))
    values = [coordinator.schedule(train_step, args=(iterator,)) for _ in range(steps)]
    coordinator.join()
    assert coordinator.done()
    return model, accuracy, values, coordinator


@pytest.mark.parametrize("cluster", ["local", "ray"])
def test_scheduled_steps_train_on_the_parameter_servers(cluster, request):
    if cluster == "ray":
        request.getfixturevalue("ray_cluster")
    strategy = PSS(num_workers=2, cluster=cluster, transport="ray")
    model, accuracy, values, _ = _train(strategy)
    assert all(isinstance(v, RemoteValue) for v in values)
    losses = [float(v.fetch()) for v in values]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    # every worker's metric updates count: 30 steps of 10 examples
    assert int(accuracy.count.numpy()) == 300
    applied = sum(s["applied_steps"] for s in strategy._job.server_states())
    assert applied == 0  # custom-loop updates are not fit steps...
    server = strategy._job.servers[0]
    iterations = server.call("optimizer_slots").result(30)[0]
    assert int(iterations) == 30  # ...but each scheduled apply_gradients ran once, there
    on_server = server.call("pull").result(30)[0][model.weights[0]._key]
    np.testing.assert_array_equal(model.get_weights()[0], on_server)  # fetched on demand
    strategy.shutdown()


def test_a_worker_error_reaches_the_driver_with_its_traceback():
    strategy = PSS(num_workers=2, cluster="local")
    coordinator = ClusterCoordinator(strategy)

    def failing(x):
        raise KeyError(f"no such thing: {x}")

    value = coordinator.schedule(failing, args=(3,))
    with pytest.raises(KeyError, match="no such thing: 3") as info:
        value.fetch()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "worker:" in notes and "in failing" in notes
    with pytest.raises(KeyError):
        coordinator.join()


def test_an_exhausted_per_worker_iterator_raises_out_of_range():
    strategy = PSS(num_workers=1, cluster="local")
    coordinator = ClusterCoordinator(strategy)
    per_worker = coordinator.create_per_worker_dataset(
        lambda: dtf.data.Dataset.from_tensor_slices(np.arange(2.0)))
    iterator = iter(per_worker)

    @dtf.function
    def take(it):
        return next(it)

    values = [coordinator.schedule(take, args=(iterator,)) for _ in range(3)]
    assert [float(v.fetch()) for v in values[:2]] == [0.0, 1.0]
    with pytest.raises(dtf.errors.OutOfRangeError):
        values[2].fetch()


def test_per_worker_iterators_cannot_be_read_on_the_driver():
    strategy = PSS(num_workers=1, cluster="local")
    coordinator = ClusterCoordinator(strategy)
    iterator = iter(coordinator.create_per_worker_dataset(
        lambda: dtf.data.Dataset.range(3)))
    with pytest.raises(TypeError, match="read on the workers"):
        next(iterator)
