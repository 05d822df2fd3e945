"""A `ParameterServer` served over gRPC, and the client workers use to reach it.

The service ``dtf.transport.ParameterServer`` has five unary methods with raw bytes in and
out (no generated protobuf code): ``Push``, ``Pull``, ``PushPull`` and ``Update`` take and
answer :mod:`codec` messages and call the served
:class:`~dtf.cluster.parameter_server.ParameterServer`'s own ``push``, ``pull``, ``push_pull``
and ``apply_update`` (so the duplicate rules, sync averaging and generations are the server's,
whichever transport carries the call); ``Echo`` answers its request bytes unchanged (for
measuring the transport, see :mod:`selection`). ``PushPull`` is a worker's whole step in one
call: its gradients up, the parameters changed by the step back (in sync mode once every
worker's push of the step is in), the same shape as an echo.

``Steps`` carries the same PUSH_PULL messages on one bidirectional stream per client: a
request, then its reply, in turn. A worker's steps go this way: a message on an open stream
skips what gRPC does for every unary call (a new call object, metadata, the status and a hop
through the server's thread pool), a quarter to a third of a small call's round trip here (see
``scripts/bench/transport.py``). An open stream keeps one of the server's threads, so at most
``max_streams`` are open at a time; a client refused one (``RESOURCE_EXHAUSTED``), or whose
stream breaks, makes its calls unary instead. The client bounds its wait for each reply
itself (a watchdog thread cancels a stream whose reply is overdue), as a unary call's deadline
would.

Every call must carry the job's token in the ``dtf-token`` metadata entry (a stream: when it
opens): without it the call ends with ``UNAUTHENTICATED`` and nothing is decoded or applied.
A request that fails to decode, names an unknown variable, has a gradient of the wrong shape,
or that the server refuses gets an error reply (status OK, an ``ERROR`` message with a code;
on a stream, the reply to that message, the stream staying open) and the server goes on
serving.

Example:
    >>> import numpy as np
    >>> from dtf import keras
    >>> from dtf.cluster.parameter_server import ParameterServer
    >>> ps = ParameterServer({"w": np.zeros(2, "float32")}, keras.optimizers.SGD(0.5),
    ...                      num_workers=1, mode="async")
    >>> server = serve_parameter_server(ps, token="secret")
    >>> client = GrpcServerClient(server.address, token="secret", name="ps 0")
    >>> client.push(worker=0, step=0, shard_size=8, gradients={"w": np.ones(2, "float32")})
    <Push.APPLIED: 'applied'>
    >>> values, versions, generation = client.pull()
    >>> values["w"].tolist(), generation == ps.generation
    ([-0.5, -0.5], True)
    >>> result, values, versions, generation = client.push_pull(
    ...     0, 1, 8, {"w": np.ones(2, "float32")}, known_versions=versions,
    ...     generation=generation)
    >>> result, values["w"].tolist()
    ('applied', [-1.0, -1.0])
    >>> client.close(); server.stop()
"""

from __future__ import annotations

import hmac
import itertools
import os
import secrets
import threading
import time
import weakref
from concurrent import futures
from typing import Self

import grpc
import numpy as np
from dtf.cluster.parameter_server import Push
from dtf.cluster.transport import codec, memory, streams
from dtf.cluster.transport.codec import Kind, Limits, TransportError

__all__ = [
    "AuthenticationError",
    "GrpcServerClient",
    "RemoteError",
    "TransportServer",
    "generate_token",
    "serve_parameter_server",
]

SERVICE = "dtf.transport.ParameterServer"
PUSH_METHOD = f"/{SERVICE}/Push"
PULL_METHOD = f"/{SERVICE}/Pull"
ECHO_METHOD = f"/{SERVICE}/Echo"
UPDATE_METHOD = f"/{SERVICE}/Update"
PUSH_PULL_METHOD = f"/{SERVICE}/PushPull"
STEPS_METHOD = f"/{SERVICE}/Steps"
_METHODS = (PUSH_METHOD, PULL_METHOD, ECHO_METHOD, UPDATE_METHOD, PUSH_PULL_METHOD)
TOKEN_KEY = "dtf-token"
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024
# A sync pull with after_step blocks a serving thread until its step is applied, so the pool
# must hold every worker's waiting pull and still serve their pushes.
DEFAULT_MAX_WORKERS = 64
# How much longer than the server's own wait a pull's gRPC deadline runs, so a server-side
# TimeoutError comes back as a reply (naming the missing workers) before the deadline fires.
_PULL_DEADLINE_MARGIN_S = 10.0
_RESULTS = {push.value: push for push in Push}


class RemoteError(TransportError):
    """The server answered with an error reply; ``code`` is its machine-readable code
    (``INVALID_MESSAGE``, ``UNKNOWN_VARIABLE``, ``SHAPE_MISMATCH``, ``INVALID_ARGUMENT``,
    ``WRONG_KIND``, ``INTERNAL``)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


class AuthenticationError(TransportError):
    """The server refused the call's token."""


def bytes_server(service, handlers, max_message_bytes, max_workers, thread_name_prefix,
                 stream_handlers=None):
    """A gRPC server (not started, no port yet) whose `service` has unary methods taking and
    returning raw bytes: `handlers` maps each method name to `handler(request, context)`;
    `stream_handlers`, bidirectional streams of bytes, each name to
    `handler(request_iterator, context)` yielding replies. Used by the parameter servers' data
    plane and by `dtf serve`."""
    options = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        # Without this a second server could bind the same explicit port and steal calls.
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers,
                                                    thread_name_prefix=thread_name_prefix),
                         options=options)
    methods = {name: grpc.unary_unary_rpc_method_handler(handler)
               for name, handler in handlers.items()}
    methods.update({name: grpc.stream_stream_rpc_method_handler(handler)
                    for name, handler in (stream_handlers or {}).items()})
    server.add_registered_method_handlers(service, methods)
    return server


def generate_token() -> str:
    """A fresh random job token (URL-safe text, 256 bits).

    Example:
        >>> len(generate_token()) >= 43
        True
    """
    return secrets.token_urlsafe(32)


class _Refused(Exception):
    """A request the service refuses before the parameter server sees it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class TransportServer:
    """Serves a `ParameterServer` over gRPC on ``host:port`` (port 0 picks a free one).

    Use :func:`serve_parameter_server` to make and start one.

    Args:
        server: the `ParameterServer` (anything with its ``push``/``pull`` and ``variables``).
        token: the job's secret; calls must send it as ``dtf-token`` metadata.
        host: the interface to bind (loopback by default).
        port: the port, or 0 for any free one (read it back from ``.port``).
        max_message_bytes: the largest message received or sent.
        max_workers: threads serving calls concurrently (a waiting sync pull holds one, an
            open ``Steps`` stream one).
        limits: decode limits for requests (defaults follow ``max_message_bytes``).
        max_streams: the most ``Steps`` streams open at once (default: half of
            ``max_workers``, so unary calls always find threads); later ones are refused with
            ``RESOURCE_EXHAUSTED`` and their clients call unary methods instead.

    Attributes:
        stats: counters (``requests``, ``errors``, ``unauthenticated``, ``streams``: open
            ``Steps`` streams, ``streams_refused``).
    """

    def __init__(self, server, token: str, host: str = "127.0.0.1", port: int = 0,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
                 max_workers: int = DEFAULT_MAX_WORKERS, limits: Limits | None = None,
                 max_streams: int | None = None):
        if not isinstance(token, str) or not token:
            raise ValueError("token must be a non-empty str; make one with generate_token()")
        self.max_streams = max_workers // 2 if max_streams is None else int(max_streams)
        if not 0 <= self.max_streams < max_workers:
            raise ValueError(f"max_streams must be in [0, max_workers={max_workers}): each "
                             f"open stream holds a thread; got {max_streams}")
        self.server = server
        self._token = token.encode()
        self._limits = limits or Limits(
            max_message_bytes=max_message_bytes,
            max_tensor_bytes=max_message_bytes,
            max_total_tensor_bytes=max_message_bytes,
        )
        self._specs: dict = {}  # name -> (shape, dtype) of the served variables, filled lazily
        # (name, dtype, shape) of arrays found to fit their variable: a worker sends the same
        # ones every step, so each is checked once (np.can_cast is a microsecond a tensor).
        self._fitting: set = set()
        self.stats = {"requests": 0, "errors": 0, "unauthenticated": 0, "streams": 0,
                      "streams_refused": 0}
        self._stats_lock = threading.Lock()
        self._server = bytes_server(SERVICE, {
            "Push": self._handle_push, "Pull": self._handle_pull, "Echo": self._handle_echo,
            "Update": self._handle_update, "PushPull": self._handle_push_pull,
        }, max_message_bytes=max_message_bytes, max_workers=max_workers,
            thread_name_prefix="dtf-ps", stream_handlers={"Steps": self._handle_steps})
        self.host = host
        self.port = self._server.add_insecure_port(f"{host}:{port}")
        if self.port == 0:
            raise OSError(f"could not bind the transport server to {host}:{port}")
        self._started = False

    @property
    def address(self) -> str:
        """``host:port`` to give clients."""
        return f"{self.host}:{self.port}"

    def start(self) -> TransportServer:
        """Starts serving; returns self."""
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

    def _check_shapes(self, arrays: dict) -> None:
        """Refuses arrays whose shape differs from their variable's, or whose dtype does not
        cast safely to it: numpy would broadcast or wrap them into the variable silently."""
        fitting = self._fitting
        for name, array in arrays.items():
            key = (name, array.dtype, array.shape)
            if key in fitting:
                continue
            spec = self._specs.get(name)
            if spec is None:
                variable = self.server.variables.get(name)
                if variable is None:
                    continue  # the server's push names the unknown variables itself
                spec = self._specs[name] = (tuple(variable.shape),
                                            np.dtype(variable.dtype.as_numpy_dtype))
            shape, dtype = spec
            if array.shape != shape or not np.can_cast(array.dtype, dtype, "same_kind"):
                raise _Refused(
                    "SHAPE_MISMATCH",
                    f"the array sent for {name!r} is {array.dtype}{list(array.shape)}, but the "
                    f"variable is {dtype}{list(shape)}: send one of the variable's shape and "
                    "dtype",
                )
            if len(fitting) < 65536:  # bounded: variables are few, hostile names many
                fitting.add(key)

    def _serve(self, request: bytes, context, expected: Kind, handle) -> bytes:
        self._authenticate(context)
        return self._answer(request, expected, handle)

    def _answer(self, request: bytes, expected: Kind, handle) -> bytes:
        """`handle(message)` of the decoded request, or the error reply saying why not."""
        self._count("requests")
        try:
            message = codec.decode(request, self._limits)
            if message.kind != expected:
                raise _Refused(
                    "WRONG_KIND", f"the {expected.name.title()} method takes {expected.name} "
                    f"messages, got {message.kind.name}"
                )
            return handle(message)
        except _Refused as e:
            code, text = e.code, str(e)
        except TransportError as e:
            code, text = "INVALID_MESSAGE", str(e)
        except KeyError as e:  # the server names the unknown variables
            code, text = "UNKNOWN_VARIABLE", str(e.args[0]) if e.args else repr(e)
        except TimeoutError as e:
            code, text = "TIMEOUT", str(e)
        except ValueError as e:
            code, text = "INVALID_ARGUMENT", str(e)
        except Exception as e:  # noqa: BLE001 - a server bug must not take the service down
            code, text = "INTERNAL", f"{type(e).__name__}: {e}"
        self._count("errors")
        return codec.encode_error(codec.peek_request_id(request), code, text)

    def _push(self, push) -> bytes:
        self._check_shapes(push.gradients)
        self._check_shapes(push.assigns)
        result = self.server.push(push.worker, push.step, push.shard_size, push.gradients,
                                  push.assigns or None)
        return codec.encode_ack(push.request_id, result.value)

    def _pull(self, pull) -> bytes:
        # The server hands out its current arrays and replaces (never mutates) them, so the
        # reply is encoded outside its lock and still one consistent snapshot.
        values, versions, generation = self.server.pull(
            pull.known, pull.after_step, pull.timeout_ms / 1000, pull.generation)
        return codec.encode_pull_reply(pull.request_id, values, versions, generation)

    def _push_pull(self, message) -> bytes:
        self._check_shapes(message.gradients)
        self._check_shapes(message.assigns)
        # The server's push_pull waits (sync mode) for the step under the request's timeout,
        # as a pull does; its arrays are replaced, never mutated, so encoding outside its lock
        # still sends one consistent snapshot.
        result, values, versions, generation = self.server.push_pull(
            message.worker, message.step, message.shard_size, message.gradients,
            message.assigns or None, message.known, message.generation,
            message.timeout_ms / 1000)
        return codec.encode_push_pull_reply(message.request_id, result, values, versions,
                                            generation)

    def _handle_push_pull(self, request: bytes, context) -> bytes:
        return self._serve(request, context, Kind.PUSH_PULL, self._push_pull)

    def _answer_step(self, request: bytes) -> bytes:
        return self._answer(request, Kind.PUSH_PULL, self._push_pull)

    def _handle_steps(self, requests, context):
        """A client's stream of PUSH_PULL messages, each answered in turn; the token is
        checked once, when the stream opens."""
        self._authenticate(context)
        with self._stats_lock:
            if self.stats["streams"] >= self.max_streams:
                self.stats["streams_refused"] += 1
                refused = True
            else:
                self.stats["streams"] += 1
                refused = False
        if refused:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"{self.max_streams} streams are open, the most this server keeps; "
                          "make unary PushPull calls")
        try:
            # `yield from map`: this frame keeps neither the request (the worker's gradients:
            # the decoded arrays are views of it) nor the reply (a copy of the parameters)
            # while the stream waits for the next step.
            yield from map(self._answer_step, requests)
        finally:
            with self._stats_lock:
                self.stats["streams"] -= 1

    def _update(self, update) -> bytes:
        self._check_shapes(update.gradients)
        self._check_shapes(update.deltas)
        applied = self.server.apply_update(update.worker, update.sequence, update.gradients,
                                           update.deltas)
        return codec.encode_ack(update.request_id, "applied" if applied else "duplicate")

    def _handle_update(self, request: bytes, context) -> bytes:
        return self._serve(request, context, Kind.UPDATE, self._update)

    def _handle_push(self, request: bytes, context) -> bytes:
        return self._serve(request, context, Kind.PUSH, self._push)

    def _handle_pull(self, request: bytes, context) -> bytes:
        return self._serve(request, context, Kind.PULL, self._pull)

    def _handle_echo(self, request: bytes, context) -> bytes:
        self._authenticate(context)
        return request


def _describe(what) -> str:
    return what if isinstance(what, str) else what()


class _Call:
    """A `push_pull` started by `push_pull_async`, and what a retry or an error needs.

    On the client's ``Steps`` stream (``stream`` set) the request is sent when the call
    starts and `finish` reads its reply. Otherwise it is a unary call, and as a grpc future
    costs about twice a blocking call (its reply is handed from grpc's polling thread to the
    waiting one), it is not sent when it is started: it waits in this thread's list of unsent
    calls. Starting a second call sends the first as a future (two servers' calls then
    overlap), and `finish` sends the others still unsent as futures and makes its own as a
    blocking call.
    """

    __slots__ = ("__weakref__", "client", "deadline", "future", "request", "request_id", "sent",
                 "step", "stream", "worker")

    def __init__(self, client, request, request_id, deadline, worker, step):
        self.client, self.request, self.request_id = client, request, request_id
        self.deadline, self.worker, self.step = deadline, worker, step
        self.future = self.stream = self.sent = None

    def send(self) -> None:
        """Sends the call as a grpc future (a send that fails at once is seen in `finish`);
        nothing for a call sent or finished already (e.g. finished in another thread)."""
        if self.future is not None or self.request is None or self.stream is not None:
            return
        client = self.client
        calls = client._calls if client._pid == os.getpid() and client._calls else \
            client._connect()
        self.future = calls[PUSH_PULL_METHOD].future(self.request, timeout=self.deadline,
                                                     metadata=client._metadata)


_unsent = threading.local()  # .calls: this thread's _Calls started and not yet sent


def _unsent_calls() -> list:
    calls = getattr(_unsent, "calls", None)
    if calls is None:
        calls = _unsent.calls = []
    return calls


def serve_parameter_server(ps, token: str, host: str = "127.0.0.1", port: int = 0,
                           tune_allocator: bool = True, **limits) -> TransportServer:
    """Starts serving `ps` (a `ParameterServer`) over gRPC; returns the started server.

    Args:
        ps: the parameter server whose ``push``/``pull`` the service calls.
        token: the job's secret (see :func:`generate_token`).
        host: the interface to bind; ``"0.0.0.0"`` for other machines to reach it.
        port: the port, 0 for any free one.
        tune_allocator: call :func:`dtf.cluster.transport.memory.tune_allocator` first, so
            this process reuses large message buffers instead of page-faulting fresh ones on
            every call (40 MB messages move 3-4x faster here); it changes the whole process's
            allocator, which suits a parameter-server process.
        **limits: ``max_message_bytes``, ``max_workers`` or ``limits`` of
            :class:`TransportServer`.

    Returns:
        The running `TransportServer`: ``.address`` for clients, ``.stop()`` to end it.

    Example:
        >>> server = serve_parameter_server(ps, generate_token())  # doctest: +SKIP
        >>> server.address  # doctest: +SKIP
        '127.0.0.1:40113'
    """
    if tune_allocator:
        memory.tune_allocator()
    return TransportServer(ps, token, host=host, port=port, **limits).start()


class GrpcServerClient:
    """A gRPC-served parameter server with the `pull`/`push`/`push_pull` of a local
    `ParameterServer`.

    `push_pull` is a worker's step in one call; `push_pull_async` and `finish` split it so a
    worker can have one call in flight to each of several servers (as
    `dtf.cluster.servers.ShardedServer` does). The channel opens on first use, and again in a new process: a client can be pickled and
    sent to a Ray actor. A call that cannot reach the server is retried a few times on a fresh
    channel (safe for pushes: a push the server did receive comes back ``DUPLICATE``), then
    raises `ConnectionError`.

    Args:
        address: ``host:port`` of the `TransportServer`.
        token: the job's token.
        name: how errors name the server (e.g. its actor name).
        timeout_s: the longest a call may take, and the longest a sync pull waits for its step.
        max_message_bytes: the largest message sent or received.
        retries: reconnect-and-retry attempts after the first for an unreachable server.

    Raises (from `pull`, `push`, `push_pull` and `finish`):
        TimeoutError: no reply within ``timeout_s``, or the server's wait for a step timed out.
        ConnectionError: the server cannot be reached.
        AuthenticationError: the server refused the token.
        RemoteError: the server refused the request (unknown variable, wrong shape...).

    Example:
        >>> client = GrpcServerClient("10.0.0.5:50051", token, name="dtf:job:ps:0")  # doctest: +SKIP
        >>> client.push(0, 12, 64, gradients)  # doctest: +SKIP
        <Push.PENDING: 'pending'>
        >>> handle = client.push_pull_async(0, 13, 64, gradients, known_versions=versions,
        ...                                 generation=generation)  # doctest: +SKIP
        >>> result, values, versions, generation = client.finish(handle)  # doctest: +SKIP
    """

    def __init__(self, address: str, token: str, name: str = "parameter server",
                 timeout_s: float = 120.0, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
                 retries: int = 3):
        if not isinstance(token, str) or not token:
            raise ValueError("token must be a non-empty str: the job's token")
        self.address = address
        self.name = name
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self._token = token
        self._max_message_bytes = int(max_message_bytes)
        self._metadata = ((TOKEN_KEY, token),)
        self._limits = Limits(max_message_bytes=max_message_bytes,
                              max_tensor_bytes=max_message_bytes,
                              max_total_tensor_bytes=max_message_bytes)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._channel = None
        self._calls: dict = {}
        self._pid = None
        self._stream = None  # the open Steps stream (of this process's channel), if any
        self._streaming = True  # False once the server refused a stream: calls go unary
        self.reconnects = 0

    def __reduce__(self):
        return GrpcServerClient, (self.address, self._token, self.name, self.timeout_s,
                                  self._max_message_bytes, self.retries)

    def __repr__(self) -> str:
        return f"GrpcServerClient({self.address!r}, name={self.name!r})"

    def _connect(self, fresh: bool = False) -> dict:
        with self._lock:
            if fresh or self._channel is None or self._pid != os.getpid():
                if self._channel is not None and self._pid == os.getpid():
                    self._close_stream()
                    self._channel.close()
                options = [("grpc.max_receive_message_length", self._max_message_bytes),
                           ("grpc.max_send_message_length", self._max_message_bytes)]
                self._channel = grpc.insecure_channel(self.address, options=options)
                self._calls = {method: self._channel.unary_unary(method, _registered_method=True)
                               for method in _METHODS}
                self._calls[STEPS_METHOD] = self._channel.stream_stream(
                    STEPS_METHOD, _registered_method=True)
                self._stream = None  # a stream of another process's channel is not ours
                self._pid = os.getpid()
            return self._calls

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _stream_for(self, call: _Call) -> streams.Stream | None:
        """The open stream, taken for `call`; None when `call` must go unary (the server
        refused streams, or another call's reply is due on the stream)."""
        if not self._streaming:
            return None
        calls = self._calls if self._pid == os.getpid() and self._calls else self._connect()
        with self._lock:
            stream = self._stream
            if stream is not None and not stream.broken and stream.pending is not None:
                if stream.pending() is not None:
                    return None  # another call of this client is in flight on it
                # that call was dropped unfinished: its late reply would answer this one
                stream.close()
            if stream is None or stream.broken:
                stream = self._stream = streams.Stream(calls[STEPS_METHOD], self._metadata)
            stream.pending = weakref.ref(call)
            return stream

    def _stream_reply(self, handle: _Call, what) -> bytes:
        """`handle`'s reply from the stream; when the stream fails, the call made unary."""
        stream = handle.stream
        # No sooner than the watchdog's next look: gRPC reads a reply off the stream only on
        # next(), and a stream cancelled first would lose one that came in time.
        stream.deadline = max(handle.sent + handle.deadline,
                              time.monotonic() + 2 * streams.WATCHDOG_PERIOD_S)
        try:
            return next(stream.replies)
        except (grpc.RpcError, StopIteration) as e:
            failed = e
        finally:
            stream.deadline = stream.pending = None
        with self._lock:
            if self._stream is stream:
                self._close_stream()
            else:
                stream.close()
        if stream.timed_out:
            raise TimeoutError(
                f"{_describe(what)} on {self.name} ({self.address}) got no reply within "
                f"{handle.deadline:g} s: the server is stuck or overloaded") from None
        code = failed.code() if isinstance(failed, grpc.RpcError) else None
        if code == grpc.StatusCode.UNAUTHENTICATED:
            self._check_retryable(failed, 0, handle.deadline, what)
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            self._streaming = False  # the server keeps no more streams: unary from now on
        # The request may or may not have reached the server: sent again, a push it applied
        # comes back DUPLICATE (as a unary call's retry would).
        return self._rpc(PUSH_PULL_METHOD, handle.request, handle.deadline, what)

    def close(self) -> None:
        """Closes the channel and the stream (a later call opens new ones)."""
        with self._lock:
            if self._channel is not None and self._pid == os.getpid():
                self._close_stream()
                self._channel.close()
            self._channel, self._calls, self._stream = None, {}, None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _rpc(self, method: str, request: bytes, timeout_s: float, what,
             failed: grpc.RpcError | None = None) -> bytes:
        """One call, retried on a fresh channel while the server is unreachable; `what`
        describes the call for errors (a str, or a function building it only when one is
        raised). `failed`: the error of a first attempt already made (an async call's)."""
        calls = self._calls if self._pid == os.getpid() and self._calls else self._connect()
        delay = 0.05
        for attempt in range(self.retries + 1):
            if failed is None:
                try:
                    return calls[method](request, timeout=timeout_s, metadata=self._metadata)
                except grpc.RpcError as e:
                    failed = e
            self._check_retryable(failed, attempt, timeout_s, what)
            failed = None
            time.sleep(delay)
            delay *= 2
            self.reconnects += 1
            calls = self._connect(fresh=True)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _check_retryable(self, e: grpc.RpcError, attempt: int, timeout_s: float, what) -> None:
        """Raises the error `e` means, unless it is an unreachable server with retries left."""
        code = e.code()
        where = f"{_describe(what)} on {self.name} ({self.address})"
        if code == grpc.StatusCode.UNAUTHENTICATED:
            raise AuthenticationError(
                f"{where}: the server refused the token ({e.details()}); the client "
                "needs the job's token") from None
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            raise TimeoutError(f"{where} got no reply within {timeout_s:g} s: the "
                               "server is stuck or overloaded") from None
        if code != grpc.StatusCode.UNAVAILABLE:
            raise TransportError(f"{where} failed: {code.name}: {e.details()}") from None
        if attempt == self.retries:
            raise ConnectionError(
                f"{where} failed: the server is unreachable after {attempt + 1} "
                f"attempt(s) ({e.details()})") from None

    def _reply(self, reply: bytes, request_id: int, expected: Kind, what):
        message = codec.decode(reply, self._limits)
        if message.kind is expected and message.request_id == request_id:
            return message
        if message.kind == Kind.ERROR:
            where = f"{_describe(what)} on {self.name} ({self.address})"
            if message.code == "TIMEOUT":
                raise TimeoutError(f"{where}: {message.message}")
            raise RemoteError(message.code, f"{where}: {message.message}")
        raise TransportError(f"{_describe(what)} on {self.name}: expected the {expected.name} "
                             f"reply to "
                             f"request {request_id}, got {message.kind.name} "
                             f"{message.request_id}")

    def push(self, worker, step, shard_size, gradients, assigns=None) -> Push:
        """Sends `worker`'s gradients for `step` (computed on `shard_size` examples) and
        `assigns`; returns the server's `Push` result."""
        def what():
            return f"push of worker {worker}, step {step}"

        request_id = next(self._ids)
        request = codec.encode_push(request_id, worker, step, shard_size, gradients, assigns)
        reply = self._rpc(PUSH_METHOD, request, self.timeout_s, what)
        return _RESULTS[self._reply(reply, request_id, Kind.ACK, what).result]

    def pull(self, known_versions=None, after_step=None, generation=None):
        """`(values, versions, generation)` of the values newer than `known_versions` (see
        `ParameterServer.pull`); the arrays are read-only."""
        def what():
            return "pull" if after_step is None else f"pull after step {after_step}"

        request_id = next(self._ids)
        request = codec.encode_pull_request(request_id, known_versions, after_step, generation,
                                            round(self.timeout_s * 1000))
        deadline = self.timeout_s + (_PULL_DEADLINE_MARGIN_S if after_step is not None else 0)
        reply = self._reply(self._rpc(PULL_METHOD, request, deadline, what), request_id,
                            Kind.PULL_REPLY, what)
        return reply.tensors, reply.versions, reply.generation

    def push_pull(self, worker, step, shard_size, gradients, assigns=None, known_versions=None,
                  generation=None, timeout_s=None):
        """`push`, then the values newer than `known_versions` once the step is applied (sync
        mode) or at once, in one call: `(Push value, values, versions, generation)` as
        `ParameterServer.push_pull` (nothing pulled when the result is ``"wait"``).
        `timeout_s` (None: the client's) bounds the server's wait for the step."""
        return self.finish(self.push_pull_async(worker, step, shard_size, gradients, assigns,
                                                known_versions, generation, timeout_s))

    def push_pull_async(self, worker, step, shard_size, gradients, assigns=None,
                        known_versions=None, generation=None, timeout_s=None):
        """Starts a `push_pull` and returns at once: a handle for `finish`, so one worker can
        have calls to several servers in flight. Encoding errors raise here. The call is sent
        when another call starts in this thread or when it is finished, whichever comes
        first (a lone call is then one blocking call, half the cost of a grpc future)."""
        wait_s = self.timeout_s if timeout_s is None else float(timeout_s)
        request_id = next(self._ids)
        request = codec.encode_push_pull(request_id, worker, step, shard_size, gradients,
                                         assigns, known_versions, generation,
                                         round(wait_s * 1000))
        call = _Call(self, request, request_id, wait_s + _PULL_DEADLINE_MARGIN_S, worker, step)
        unsent = _unsent_calls()
        for earlier in unsent:  # a second call in flight: the earlier ones go out now
            earlier.send()
        stream = self._stream_for(call)
        if stream is None:
            unsent[:] = (call,)
        else:
            unsent.clear()
            call.stream = stream
            call.sent = time.monotonic()
            stream.requests.put(request)
        return call

    def finish(self, handle, what=None):
        """The result of a call started by `push_pull_async`: `(Push value, values, versions,
        generation)`; raises what `push_pull` raises. `what` names the call in errors
        (default: the push's worker and step)."""
        if not isinstance(handle, _Call) or handle.client is not self:
            raise TypeError(f"finish takes a handle from this client's push_pull_async, got "
                            f"{handle!r}")
        if handle.request is None:
            raise ValueError(f"the push_pull of worker {handle.worker}, step {handle.step} was "
                             "finished already: each handle is finished once")
        what = what or (lambda: f"push_pull of worker {handle.worker}, step {handle.step}")
        failed = None
        unsent = _unsent_calls()
        for other in unsent:  # calls started and not sent: they go out now, overlapping this one
            if other is not handle:
                other.send()
        unsent.clear()
        if handle.stream is not None:
            reply = self._stream_reply(handle, what)
        elif handle.future is None:
            reply = self._rpc(PUSH_PULL_METHOD, handle.request, handle.deadline, what)
        else:
            try:
                reply = handle.future.result()
            except grpc.RpcError as e:
                failed = e
            if failed is not None:  # unreachable: retried (a push received twice: DUPLICATE)
                reply = self._rpc(PUSH_PULL_METHOD, handle.request, handle.deadline, what,
                                  failed)
        handle.request = handle.future = handle.stream = None
        message = self._reply(reply, handle.request_id, Kind.PUSH_PULL_REPLY, what)
        return message.result, message.tensors, message.versions, message.generation

    def apply_update(self, worker, sequence, gradients, deltas) -> bool:
        """Sends a custom-loop step's changes (see `ParameterServer.apply_update`); returns
        whether the server applied them (False: a sequence number it has seen)."""
        def what():
            return f"update {sequence} of worker {worker}"

        request_id = next(self._ids)
        request = codec.encode_update(request_id, worker, sequence, gradients, deltas)
        reply = self._rpc(UPDATE_METHOD, request, self.timeout_s, what)
        return self._reply(reply, request_id, Kind.ACK, what).result == "applied"

    def echo(self, payload: bytes) -> bytes:
        """Sends `payload` and returns the server's copy of it (for measuring round trips)."""
        return self._rpc(ECHO_METHOD, payload, self.timeout_s,
                         lambda: f"echo of {len(payload)} bytes")
