"""A parameter store served over gRPC, and its client.

The service has two unary methods, ``/dtf.transport.ParameterStore/Push`` and ``/Pull``, with
raw bytes in and out (the :mod:`codec` messages; no generated protobuf code). Every call must
carry the job's token in the ``dtf-token`` metadata entry: without it the call ends with
``UNAUTHENTICATED`` and nothing is decoded or applied. A request that fails to decode, names an
unknown tensor or has the wrong shape gets an error reply (status OK, an ``ERROR`` message) and
the server goes on serving.

Example:
    >>> import numpy as np
    >>> store = ParameterStore({"w": np.zeros(2, "float32")}, update_fn=sgd_update(0.5))
    >>> with TransportServer(store, token="secret") as server:
    ...     with TransportClient(server.address, token="secret") as client:
    ...         ack = client.push(worker=0, step=0, shard=0, gradients={"w": np.ones(2, "float32")})
    ...         reply = client.pull({"w": 0})
    >>> ack.applied, reply.versions, reply.tensors["w"].tolist()
    (True, {'w': 2}, [-0.5, -0.5])
"""

from __future__ import annotations

import hmac
import itertools
import secrets
import threading
import time
from collections.abc import Callable
from concurrent import futures
from typing import Self

import grpc
import numpy as np
from dtf.cluster.transport import codec
from dtf.cluster.transport.codec import Kind, Limits, TransportError

__all__ = [
    "AuthenticationError",
    "ParameterStore",
    "RemoteError",
    "StoreError",
    "TransportClient",
    "TransportServer",
    "generate_token",
    "sgd_update",
]

SERVICE = "dtf.transport.ParameterStore"
PUSH_METHOD = f"/{SERVICE}/Push"
PULL_METHOD = f"/{SERVICE}/Pull"
TOKEN_KEY = "dtf-token"
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024


class StoreError(TransportError):
    """A request the store refuses; ``code`` goes into the error reply."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class RemoteError(TransportError):
    """The server answered with an error reply; ``code`` is its machine-readable code."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


class AuthenticationError(TransportError):
    """The server refused the call's token."""


def generate_token() -> str:
    """A fresh random job token (URL-safe text, 256 bits)."""
    return secrets.token_urlsafe(32)


def sgd_update(learning_rate: float) -> Callable:
    """An update function for :class:`ParameterStore`: ``value -= learning_rate * gradient``.

    Example:
        >>> update = sgd_update(0.1)
        >>> value = np.ones(2)
        >>> update("w", value, np.ones(2)); value.tolist()
        [0.9, 0.9]
    """

    def update(name, value, gradient):
        value -= value.dtype.type(learning_rate) * gradient

    return update


class ParameterStore:
    """Named float arrays with versions, updated by pushed gradients, read by pulls.

    Versions start at 1 (a client that knows version 0 has never seen a tensor) and go up by
    one each time a push touches the tensor. Each ``(worker, shard)`` pair must push strictly
    increasing steps: a push whose step is not above the last applied one is a duplicate (a
    retry, or a replacement worker replaying a step) and is acknowledged without being applied.

    Args:
        variables: name -> initial value (floating arrays; copied).
        update_fn: ``update_fn(name, value, gradient)`` updates ``value`` in place. It runs
            under the store's lock, once per pushed tensor.

    Example:
        >>> store = ParameterStore({"b": np.zeros(1)}, update_fn=sgd_update(1.0))
        >>> store.push(0, 0, 0, {"b": np.ones(1)}), store.push(0, 0, 0, {"b": np.ones(1)})
        ((True, {'b': 2}), (False, {'b': 2}))
        >>> store.duplicates, store.pull({"b": 0})["b"][1].tolist()
        (1, [-1.0])
    """

    def __init__(self, variables: dict, update_fn: Callable):
        if not callable(update_fn):
            raise TypeError(f"update_fn must be callable, got {type(update_fn).__name__}")
        self.lock = threading.Lock()
        self._values: dict[str, np.ndarray] = {}
        for name, value in variables.items():
            value = np.array(value, copy=True, order="C")
            if value.dtype.kind != "f":
                raise TypeError(
                    f"variable {name!r} has dtype {value.dtype}; the store holds floating "
                    "arrays only (cast it to float32 or float64)"
                )
            self._values[name] = value
        self._versions = dict.fromkeys(self._values, 1)
        self._update_fn = update_fn
        self._last_step: dict[tuple[int, int], int] = {}
        self.duplicates = 0
        self.pushes = 0

    @property
    def names(self) -> list[str]:
        return list(self._values)

    def _check(self, gradients: dict) -> None:
        for name, gradient in gradients.items():
            value = self._values.get(name)
            if value is None:
                raise StoreError(
                    "UNKNOWN_TENSOR", f"no variable named {name!r}; the store holds {self.names}"
                )
            if gradient.shape != value.shape or gradient.dtype != value.dtype:
                raise StoreError(
                    "SHAPE_MISMATCH",
                    f"gradient for {name!r} is {gradient.dtype}{list(gradient.shape)}, but the "
                    f"variable is {value.dtype}{list(value.shape)}",
                )

    def push(self, worker: int, step: int, shard: int, gradients: dict) -> tuple[bool, dict]:
        """Applies one push; returns (applied, the touched tensors' versions).

        Every gradient is checked before any is applied, so a refused push changes nothing.
        """
        with self.lock:
            self._check(gradients)
            key = (worker, shard)
            last = self._last_step.get(key)
            if last is not None and step <= last:
                self.duplicates += 1
                return False, {name: self._versions[name] for name in gradients}
            for name, gradient in gradients.items():
                self._update_fn(name, self._values[name], gradient)
                self._versions[name] += 1
            self._last_step[key] = step
            self.pushes += 1
            return True, {name: self._versions[name] for name in gradients}

    def changed_since(self, known: dict) -> tuple[dict, dict]:
        """(tensors, versions) newer than ``known`` (empty: all). Hold ``lock`` while reading.

        The arrays are the store's own; encode or copy them before releasing the lock.
        """
        names = known if known else self._values
        tensors, versions = {}, {}
        for name in names:
            version = self._versions.get(name)
            if version is None:
                raise StoreError(
                    "UNKNOWN_TENSOR", f"no variable named {name!r}; the store holds {self.names}"
                )
            if version > known.get(name, 0):
                tensors[name] = self._values[name]
                versions[name] = version
        return tensors, versions

    def pull(self, known: dict | None = None) -> dict[str, tuple[int, np.ndarray]]:
        """name -> (version, a copy of the value) for tensors newer than ``known``."""
        with self.lock:
            tensors, versions = self.changed_since(known or {})
            return {name: (versions[name], tensors[name].copy()) for name in tensors}


class TransportServer:
    """Serves a :class:`ParameterStore` over gRPC on ``host:port`` (port 0 picks a free one).

    Args:
        store: the parameter store to serve.
        token: the job's secret; calls must send it as ``dtf-token`` metadata.
        host: the interface to bind (loopback by default).
        port: the port, or 0 for any free one (read it back from ``.port``).
        max_message_bytes: the largest message received or sent.
        max_workers: threads serving calls concurrently.
        limits: decode limits for requests (defaults follow ``max_message_bytes``).

    Attributes:
        stats: counters (``requests``, ``errors``, ``unauthenticated``).
    """

    def __init__(
        self,
        store: ParameterStore,
        token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_workers: int = 8,
        limits: Limits | None = None,
    ):
        if not isinstance(token, str) or not token:
            raise ValueError("token must be a non-empty str; make one with generate_token()")
        self.store = store
        self._token = token.encode()
        self._limits = limits or Limits(
            max_message_bytes=max_message_bytes,
            max_tensor_bytes=max_message_bytes,
            max_total_tensor_bytes=max_message_bytes,
        )
        self.stats = {"requests": 0, "errors": 0, "unauthenticated": 0}
        self._stats_lock = threading.Lock()
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            # Without this a second server could bind the same explicit port and steal calls.
            ("grpc.so_reuseport", 0),
        ]
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="dtf-ps"),
            options=options,
        )
        handlers = {
            "Push": grpc.unary_unary_rpc_method_handler(self._handle_push),
            "Pull": grpc.unary_unary_rpc_method_handler(self._handle_pull),
        }
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, handlers),)
        )
        self.host = host
        self.port = self._server.add_insecure_port(f"{host}:{port}")
        if self.port == 0:
            raise OSError(f"could not bind the transport server to {host}:{port}")
        self._started = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> TransportServer:
        self._server.start()
        self._started = True
        return self

    def stop(self, grace: float | None = None) -> None:
        """Stops serving; calls in flight get ``grace`` seconds to finish."""
        self._server.stop(grace).wait()
        self._started = False

    def __enter__(self) -> Self:
        return self.start() if not self._started else self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _count(self, key: str) -> None:
        with self._stats_lock:
            self.stats[key] += 1

    def _authenticate(self, context) -> None:
        sent = b""
        for key, value in context.invocation_metadata() or ():
            if key == TOKEN_KEY:
                sent = value.encode() if isinstance(value, str) else bytes(value)
        if not hmac.compare_digest(sent, self._token):
            self._count("unauthenticated")
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                f"missing or wrong {TOKEN_KEY!r} metadata; use the job's token",
            )

    def _serve(self, request: bytes, context, expected: Kind, handle) -> bytes:
        self._authenticate(context)
        self._count("requests")
        request_id = codec.peek_request_id(request)
        try:
            message = codec.decode(request, self._limits)
            if message.kind != expected:
                raise StoreError(
                    "WRONG_KIND", f"the {expected.name.title()} method takes {expected.name} "
                    f"messages, got {message.kind.name}"
                )
            return handle(message)
        except StoreError as e:
            self._count("errors")
            return codec.encode_error(request_id, e.code, str(e))
        except TransportError as e:
            self._count("errors")
            return codec.encode_error(request_id, "INVALID_MESSAGE", str(e))
        except Exception as e:  # noqa: BLE001 - an update_fn bug must not take the server down
            self._count("errors")
            return codec.encode_error(request_id, "INTERNAL", f"{type(e).__name__}: {e}")

    def _handle_push(self, request: bytes, context) -> bytes:
        def handle(push):
            applied, versions = self.store.push(push.worker, push.step, push.shard, push.tensors)
            return codec.encode_ack(push.request_id, applied, versions)

        return self._serve(request, context, Kind.PUSH, handle)

    def _handle_pull(self, request: bytes, context) -> bytes:
        def handle(pull):
            # Encoded under the lock: the reply is one consistent snapshot, copied once.
            with self.store.lock:
                tensors, versions = self.store.changed_since(pull.known)
                return codec.encode_pull_reply(pull.request_id, tensors, versions)

        return self._serve(request, context, Kind.PULL, handle)


class TransportClient:
    """Pushes gradients to and pulls parameters from a :class:`TransportServer`.

    A call that cannot reach the server (``UNAVAILABLE``) reconnects on a fresh channel and is
    retried up to ``retries`` times; retrying a push is safe because the store drops a step it
    has already applied for the same worker and shard.

    Args:
        address: ``host:port`` of the server.
        token: the job's token.
        timeout: seconds each call may take before it fails.
        retries: reconnect-and-retry attempts after the first for an unreachable server.
        retry_backoff: seconds before the first retry (doubling after each).
        max_message_bytes: the largest message sent or received.
        limits: decode limits for replies (defaults follow ``max_message_bytes``).
    """

    def __init__(
        self,
        address: str,
        token: str,
        timeout: float = 30.0,
        retries: int = 3,
        retry_backoff: float = 0.05,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        limits: Limits | None = None,
    ):
        self.address = address
        self.timeout = timeout
        self.retries = retries
        self.retry_backoff = retry_backoff
        self._metadata = ((TOKEN_KEY, token),)
        self._options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        self._limits = limits or Limits(
            max_message_bytes=max_message_bytes,
            max_tensor_bytes=max_message_bytes,
            max_total_tensor_bytes=max_message_bytes,
        )
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._channel = None
        self._calls = None
        self.reconnects = 0
        self._connect()

    def _connect(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel = grpc.insecure_channel(self.address, options=self._options)
            self._calls = {
                method: self._channel.unary_unary(method) for method in (PUSH_METHOD, PULL_METHOD)
            }

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
                self._channel = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method: str, request: bytes, request_id: int, expected: Kind):
        delay = self.retry_backoff
        for attempt in range(self.retries + 1):
            try:
                reply = self._calls[method](request, timeout=self.timeout, metadata=self._metadata)
                break
            except grpc.RpcError as e:
                code = e.code()
                if code == grpc.StatusCode.UNAUTHENTICATED:
                    raise AuthenticationError(
                        f"{self.address} refused the token: {e.details()}"
                    ) from None
                if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise TransportError(
                        f"{method} to {self.address} took longer than {self.timeout} s"
                    ) from None
                if code != grpc.StatusCode.UNAVAILABLE or attempt == self.retries:
                    raise TransportError(
                        f"{method} to {self.address} failed after {attempt + 1} attempt(s): "
                        f"{code.name}: {e.details()}"
                    ) from None
                time.sleep(delay)
                delay *= 2
                self.reconnects += 1
                self._connect()
        message = codec.decode(reply, self._limits)
        if message.request_id != request_id:
            raise TransportError(
                f"reply to request {request_id} carries request id {message.request_id}"
            )
        if message.kind == Kind.ERROR:
            raise RemoteError(message.code, message.message)
        if message.kind != expected:
            raise TransportError(f"expected a {expected.name} reply, got {message.kind.name}")
        return message

    def push(self, worker: int, step: int, shard: int, gradients: dict) -> codec.Ack:
        """Sends one step's gradients; returns the Ack (``applied`` False for a duplicate)."""
        request_id = next(self._ids)
        request = codec.encode_push(request_id, worker, step, shard, gradients)
        return self._call(PUSH_METHOD, request, request_id, Kind.ACK)

    def pull(self, known: dict | None = None) -> codec.PullReply:
        """Fetches tensors newer than ``known`` (name -> version; None or {}: everything)."""
        request_id = next(self._ids)
        request = codec.encode_pull_request(request_id, known or {})
        return self._call(PULL_METHOD, request, request_id, Kind.PULL_REPLY)
