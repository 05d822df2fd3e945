"""Where a job's parameter servers and workers run: Ray actors, or objects in this process.

A runtime starts actors from a class and its arguments and gives back `Actor` handles whose
`call(method, *args)` returns a `Future`. `RayRuntime` makes named Ray actors
(`dtf:<job>:ps:<i>`, `dtf:<job>:worker:<i>`, in a namespace) that Ray restarts when their process
dies; `LocalRuntime` builds the same classes in this process and runs each call at once, so the
local mode runs exactly the code of the distributed one. Failures come back as the exceptions
below, each naming the actor and the call.

Example:
    >>> runtime = LocalRuntime()
    >>> ps = runtime.start(ParameterServer, "ps", 0, values, optimizer, 2)
    >>> ps.call("stats").result()["applied_steps"]
    0
"""

from __future__ import annotations

import contextlib
import os
import socket
import traceback

import numpy as np

__all__ = ["ActorDied", "CallTimeout", "LocalRuntime", "RayRuntime", "RemoteFailure",
           "make_runtime"]


class ActorDied(RuntimeError):
    """An actor's process died while (or before) running a call."""

    def __init__(self, actor, what, cause=""):
        super().__init__(f"{actor} died during {what}{f': {cause}' if cause else ''}.")
        self.actor = actor
        self.what = what


class CallTimeout(TimeoutError):
    """A call got no reply in time: the actor is stuck, overloaded, or waits on another."""

    def __init__(self, actor, what, timeout_s):
        super().__init__(f"{actor} did not finish {what} within {timeout_s:.0f} s; it is stuck "
                         "or waits on another actor (see the other errors, or raise "
                         "step_timeout_s).")
        self.actor = actor
        self.what = what


class RemoteFailure(RuntimeError):
    """The call raised an exception in the actor; the message holds the actor's traceback."""

    def __init__(self, actor, what, error, remote_traceback):
        super().__init__(f"{what} failed on {actor}: {type(error).__name__}: {error}\n\n"
                         f"Traceback in {actor}:\n{remote_traceback}")
        self.actor = actor
        self.what = what
        self.error = error
        self.remote_traceback = remote_traceback

    def user_error(self) -> BaseException:
        """The actor's own exception (its type and message), noting where it was raised and
        the actor's traceback; this failure itself when that exception cannot be had."""
        error = self.error
        if not isinstance(error, BaseException) or type(error).__name__ in (
                "RayTaskError", "_Remote"):
            return self
        try:
            error.add_note(f"Raised in {self.actor} during {self.what}. Traceback there:\n"
                           f"{self.remote_traceback}")
        except (AttributeError, TypeError):
            return self
        return error


def _process_info(name) -> dict:
    node = None
    try:
        import ray

        if ray.is_initialized():
            node = ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - Ray absent or not in an actor: no node id to report
        node = None
    return {"name": name, "pid": os.getpid(), "host": socket.gethostname(), "node_id": node}


class _DoneFuture:
    """A local call's outcome (it ran when called)."""

    def __init__(self, value=None, error=None):
        self._value = value
        self._error = error

    def done(self) -> bool:
        return True

    def result(self, timeout=None):
        if self._error is not None:
            raise self._error
        return self._value


class _LocalActor:
    def __init__(self, name, role, index, instance):
        self.name = name
        self.role = role
        self.index = index
        self.instance = instance

    def call(self, method, *args, what=None, **kwargs):
        try:
            return _DoneFuture(getattr(self.instance, method)(*args, **kwargs))
        except Exception as e:  # noqa: BLE001 - the future re-raises it, as a Ray call would
            failure = RemoteFailure(self.name, what or method, e, traceback.format_exc())
            failure.__cause__ = e
            return _DoneFuture(error=failure)

    def info(self) -> dict:
        return dict(_process_info(self.name), role=self.role, index=self.index)

    def kill(self, restart=False) -> None:
        close = getattr(self.instance, "close", None)
        if close is not None:
            close()


class LocalRuntime:
    """Actors as objects of this process; every call runs when made (in call order)."""

    kind = "local"

    def __init__(self, job="local"):
        self.job = job

    def start(self, cls, role, index, *args, resources=None, restartable=False, concurrency=1,
              **kwargs):
        from dtf.variables import no_variable_creators

        with no_variable_creators():  # a strategy's scope must not capture the actors' state
            instance = cls(*args, **kwargs)
        return _LocalActor(f"dtf:{self.job}:{role}:{index}", role, index, instance)

    def put(self, value):
        """A snapshot of `value`, as Ray's object store takes one: its arrays copied, so the
        caller may change theirs afterwards."""
        from dtf import nest

        return nest.map_structure(
            lambda leaf: leaf.copy() if isinstance(leaf, np.ndarray) else leaf, value)

    def wait_any(self, futures, timeout):
        return list(futures)

    def shutdown(self, actors) -> None:
        for actor in actors:
            actor.kill()


class _RayFuture:
    def __init__(self, ref, actor, what):
        self.ref = ref
        self.actor = actor
        self.what = what

    def done(self) -> bool:
        import ray

        ready, _ = ray.wait([self.ref], timeout=0)
        return bool(ready)

    def result(self, timeout=None):
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

        try:
            return ray.get(self.ref, timeout=timeout)
        except GetTimeoutError:
            raise CallTimeout(self.actor, self.what, timeout) from None
        except RayActorError as e:
            raise ActorDied(self.actor, self.what, _first_line(e)) from None
        except RayTaskError as e:
            cause = e.cause if getattr(e, "cause", None) is not None else e
            raise RemoteFailure(self.actor, self.what, cause, _remote_traceback(e)) from cause


def _first_line(error) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _remote_traceback(error) -> str:
    text = str(error)
    start = text.find("Traceback")
    return text[start:] if start >= 0 else text


class _RayActor:
    def __init__(self, name, role, index, handle):
        self.name = name
        self.role = role
        self.index = index
        self.handle = handle
        self._info = None

    def call(self, method, *args, what=None, **kwargs):
        ref = getattr(self.handle, method).remote(*args, **kwargs)
        return _RayFuture(ref, self.name, what or method)

    def info(self, timeout=30.0) -> dict:
        info = self.call("process_info", self.name).result(timeout)
        return dict(info, role=self.role, index=self.index)

    def kill(self, restart=False) -> None:
        """Stops the actor's process; with `restart`, Ray starts a fresh one."""
        import ray

        with contextlib.suppress(Exception):  # already gone
            ray.kill(self.handle, no_restart=not restart)


def _with_process_info(cls):
    """`cls` with a `process_info` method (where the actor runs), for `cluster_info`."""

    class Actor(cls):
        def process_info(self, name):
            return _process_info(name)

    Actor.__name__ = Actor.__qualname__ = cls.__name__
    return Actor


class RayRuntime:
    """Named Ray actors in `namespace`; connects to `address` (or `RAY_ADDRESS`), else starts an
    embedded local Ray.

    Args:
        job: the job name in actor names.
        address: a Ray cluster's address; None: `RAY_ADDRESS`, else a local Ray.
        namespace: the Ray namespace of the actors.
        max_restarts: how often Ray restarts a dead actor.
    """

    kind = "ray"

    def __init__(self, job, address=None, namespace="dtf", max_restarts=4):
        import ray

        self.job = job
        self.namespace = namespace
        self.max_restarts = int(max_restarts)
        self.started_ray = False
        if not ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS")
            kwargs = {"namespace": namespace, "log_to_driver": True,
                      "include_dashboard": False}
            if address is None:
                kwargs["num_cpus"] = max(os.cpu_count() or 1, 1)
                # parameters and gradients of small models (~100 KB) go inline with the call
                # instead of through the object store: measured 2.8x -> 3.6x for 4 async workers
                kwargs["_system_config"] = {"max_direct_call_object_size": 1 << 20}
            ray.init(address=address, **kwargs)
            self.started_ray = True
        self._classes: dict = {}

    def start(self, cls, role, index, *args, resources=None, restartable=True, concurrency=1,
              **kwargs):
        import ray

        remote_cls = self._classes.get(cls)
        if remote_cls is None:
            remote_cls = self._classes[cls] = ray.remote(_with_process_info(cls))
        name = f"dtf:{self.job}:{role}:{index}"
        options = {"name": name, "namespace": self.namespace, "lifetime": None,
                   "max_restarts": self.max_restarts if restartable else 0,
                   "max_task_retries": 0, "max_concurrency": int(concurrency),
                   # a threaded actor: glibc would give each thread its own heap arena, and
                   # memory freed in one is not reused by the others (a parameter server
                   # moving large arrays on many threads would hold several copies)
                   "runtime_env": {"env_vars": {"MALLOC_ARENA_MAX": "2"}}}
        options.update(resources or {})
        handle = remote_cls.options(**options).remote(*args, **kwargs)
        return _RayActor(name, role, index, handle)

    def put(self, value):
        import ray

        return ray.put(value)

    def wait_any(self, futures, timeout):
        """The futures among `futures` that are done (waits until at least one is, at most
        `timeout` seconds)."""
        import ray

        by_ref = {f.ref: f for f in futures}
        ready, _ = ray.wait(list(by_ref), num_returns=1, timeout=timeout)
        ready_all, _ = ray.wait(list(by_ref), num_returns=len(by_ref), timeout=0)
        return [by_ref[r] for r in set(ready) | set(ready_all)]

    def check_resources(self, count, resources) -> None:
        """Raises before any actor starts when the cluster cannot place `count` actors each
        asking for `resources`."""
        import ray

        if not resources:
            return
        total = ray.cluster_resources()
        for key, amount in _resource_demand(resources).items():
            need = amount * count
            have = total.get(key, 0.0)
            if need > have:
                raise ValueError(
                    f"The Ray cluster cannot place {count} actors asking for {resources}: they "
                    f"need {need:g} {key} and the cluster has {have:g}. Use fewer workers, "
                    "smaller worker_resources/ps_resources, or a larger cluster.")

    def shutdown(self, actors) -> None:
        for actor in actors:
            actor.kill()


def _resource_demand(resources) -> dict:
    demand = {}
    for key, value in resources.items():
        if key == "num_cpus":
            demand["CPU"] = float(value)
        elif key == "num_gpus":
            demand["GPU"] = float(value)
        elif key == "memory":
            demand["memory"] = float(value)
        elif key == "resources":
            demand.update({k: float(v) for k, v in value.items()})
    return demand


def make_runtime(cluster, job, address=None, namespace="dtf", max_restarts=4):
    """The runtime for `ParameterServerStrategy(cluster=...)`: "ray" or "local"."""
    if cluster == "local":
        return LocalRuntime(job)
    if cluster == "ray":
        return RayRuntime(job, address=address, namespace=namespace, max_restarts=max_restarts)
    raise ValueError(f"cluster must be 'ray' or 'local', got {cluster!r}.")
