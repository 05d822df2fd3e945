"""Ray actors for the parameter server and the workers, and the handle workers use to reach a
parameter-server actor as if it were local.

`ParameterServer` and `Worker` are plain classes; here they become Ray actors, named
`dtf:<job>:ps:<i>` and `dtf:<job>:worker:<i>` in a namespace, so `ray.get_actor` finds them and
operators see them by name. A worker actor is given a `RemoteServer`: the same `pull`/`push` as a
local `ParameterServer`, each a blocking call on the actor (with a timeout, so a dead or stuck
server raises an error naming the actor instead of hanging).

Example:
    >>> ps = start_parameter_server("job1", 0, values, optimizer, num_workers=2)
    >>> worker = start_worker("job1", 0, model_config, "mse")
    >>> ray.get(worker.run_step.remote(RemoteServer(ps, "dtf:job1:ps:0"), 0, x, y))
"""

from __future__ import annotations

__all__ = ["RemoteServer", "actor_name", "start_parameter_server", "start_worker"]

DEFAULT_TIMEOUT_S = 120.0


def actor_name(job: str, role: str, index: int) -> str:
    """The Ray actor name of a job's parameter server or worker: `dtf:<job>:<role>:<index>`."""
    return f"dtf:{job}:{role}:{index}"


class RemoteServer:
    """A parameter-server actor with the `pull`/`push` of a local `ParameterServer`.

    Args:
        actor: the actor handle.
        name: the actor's name, for errors.
        timeout_s: how long a call may wait for the actor's reply.
    """

    def __init__(self, actor, name="parameter server", timeout_s=DEFAULT_TIMEOUT_S):
        self._actor = actor
        self._name = name
        self._timeout_s = float(timeout_s)

    def _get(self, ref, what):
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        try:
            return ray.get(ref, timeout=self._timeout_s)
        except GetTimeoutError:
            raise TimeoutError(f"{what} on {self._name} got no reply within "
                               f"{self._timeout_s:.0f} s: the actor is stuck or overloaded.") \
                from None
        except RayActorError as e:
            raise RuntimeError(f"{what} on {self._name} failed: the actor died ({e}).") from e

    def pull(self, known_versions=None, after_step=None):
        return self._get(self._actor.pull.remote(known_versions, after_step,
                                                 self._timeout_s), "pull")

    def push(self, worker, step, shard_size, gradients):
        return self._get(self._actor.push.remote(worker, step, shard_size, gradients),
                         f"push of worker {worker}, step {step}")

    def __reduce__(self):
        return RemoteServer, (self._actor, self._name, self._timeout_s)


def start_parameter_server(job, index, values, optimizer, num_workers, mode="sync",
                           max_staleness=None, trainable=None, namespace="dtf",
                           resources=None):
    """Starts parameter server `index` of `job` as a named Ray actor; returns its handle."""
    import ray
    from dtf.cluster.parameter_server import ParameterServer

    options = {"name": actor_name(job, "ps", index), "namespace": namespace,
               "max_concurrency": max(4, int(num_workers) * 2)}
    options.update(resources or {})
    return ray.remote(ParameterServer).options(**options).remote(
        values, optimizer, num_workers, mode=mode, max_staleness=max_staleness,
        trainable=trainable)


def start_worker(job, index, model_config, loss, custom_objects=None, namespace="dtf",
                 resources=None):
    """Starts worker `index` of `job` as a named Ray actor; returns its handle."""
    import ray
    from dtf.cluster.worker import Worker

    options = {"name": actor_name(job, "worker", index), "namespace": namespace}
    options.update(resources or {})
    return ray.remote(Worker).options(**options).remote(index, model_config, loss,
                                                        custom_objects=custom_objects)
