"""`PredictClient`: calls a `dtf serve` model server (`dtf.serving.ModelServer`) over gRPC.

Example:
    >>> client = PredictClient("127.0.0.1:8500")  # doctest: +SKIP
    >>> client.predict(np.zeros((2, 784), "float32"))["output_0"].shape  # doctest: +SKIP
    (2, 10)
"""

from __future__ import annotations

import itertools
import threading
from typing import Self

import grpc
import numpy as np

from dtf.cluster.transport.grpc_service import TOKEN_KEY
from dtf.serving import messages
from dtf.serving.messages import Kind, MessageError
from dtf.serving.server import DEFAULT_MAX_MESSAGE_BYTES, HEALTH_METHOD, PREDICT_METHOD

__all__ = ["AuthenticationError", "InvalidRequestError", "PredictClient", "ServingError"]


class ServingError(RuntimeError):
    """A call to the model server failed; the text says why (``code``: the gRPC status name,
    or None when the reply itself was wrong)."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


class InvalidRequestError(ServingError, ValueError):
    """The server refused the request (``INVALID_ARGUMENT``): unknown signature or input,
    wrong dtype or shape, batch too large, malformed bytes. The text is the server's reason."""


class AuthenticationError(ServingError, PermissionError):
    """The server refused the call's token (``UNAUTHENTICATED``)."""


class PredictClient:
    """A client of a `dtf serve` model server; safe to share between threads.

    Args:
        address: ``host:port`` of the server.
        token: the server's token, or None when it serves without auth.
        timeout_s: the longest one call may take.
        max_message_bytes: the largest request or reply.

    Raises (from `predict` and `health`):
        InvalidRequestError: the server refused the request; the text says why.
        AuthenticationError: the server refused the token.
        TimeoutError: no reply within ``timeout_s``.
        ConnectionError: the server cannot be reached.
        ServingError: any other failure (an error inside the model: code ``INTERNAL``).

    Example:
        >>> with PredictClient("127.0.0.1:8500", token="s3cret") as client:  # doctest: +SKIP
        ...     probabilities = client.predict({"images": batch})["output_0"]
    """

    def __init__(self, address: str, token: str | None = None, timeout_s: float = 30.0,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES):
        if token is not None and (not isinstance(token, str) or not token):
            raise ValueError("token must be a non-empty str, or None for a server without auth")
        self.address = address
        self.timeout_s = float(timeout_s)
        self._metadata = () if token is None else ((TOKEN_KEY, token),)
        self._limits = messages.default_limits(max_message_bytes)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._health = None  # the first health reply: the signatures' specs
        options = [("grpc.max_receive_message_length", max_message_bytes),
                   ("grpc.max_send_message_length", max_message_bytes)]
        self._channel = grpc.insecure_channel(address, options=options)
        self._predict = self._channel.unary_unary(PREDICT_METHOD, _registered_method=True)
        self._health_call = self._channel.unary_unary(HEALTH_METHOD, _registered_method=True)

    def __repr__(self) -> str:
        return f"PredictClient({self.address!r})"

    def close(self) -> None:
        """Closes the channel."""
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method, request: bytes, what: str) -> bytes:
        try:
            return method(request, timeout=self.timeout_s, metadata=self._metadata)
        except grpc.RpcError as e:
            code, details = e.code(), e.details()
            where = f"{what} on the model server at {self.address}"
            if code == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidRequestError(f"{where} was refused: {details}", code.name) \
                    from None
            if code == grpc.StatusCode.UNAUTHENTICATED:
                raise AuthenticationError(f"{where} was refused: {details}; pass the server's "
                                          "token as PredictClient(..., token=)", code.name) \
                    from None
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise TimeoutError(f"{where} got no reply within {self.timeout_s:g} s: the "
                                   "server is stuck or overloaded (raise timeout_s?)") from None
            if code == grpc.StatusCode.UNAVAILABLE:
                raise ConnectionError(f"{where} failed: the server cannot be reached "
                                      f"({details}); is `dtf serve` running there?") from None
            if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise ServingError(f"{where} failed: {details}; the request or reply is over "
                                   "the message size limit: send smaller batches", code.name) \
                    from None
            raise ServingError(f"{where} failed: {code.name}: {details}", code.name) from None

    def _decode(self, reply: bytes, request_id: int, expected: Kind, what: str):
        try:
            message = messages.decode(reply, self._limits)
        except MessageError as e:
            raise ServingError(f"{what}: the server's reply is malformed: {e}") from None
        if message.kind != expected or message.request_id != request_id:
            raise ServingError(f"{what}: expected the {expected.name} reply to request "
                               f"{request_id}, got {message.kind.name} {message.request_id}")
        return message

    def health(self) -> dict:
        """The server's status and what it serves.

        Returns:
            A dict: ``status`` (``"SERVING"``), ``default_signature``, ``max_batch``,
            ``model`` (the saved class), ``dtf_version`` and ``signatures``: name ->
            ``{"inputs": {name: (dtype, shape)}, "outputs": {name: (dtype, shape)}}`` with
            None for sizes that may vary.

        Example:
            >>> client.health()["signatures"]["serving_default"]["inputs"]  # doctest: +SKIP
            {'sequential_input': ('float32', (None, 784))}
        """
        reply = self._health_reply(fresh=True)
        return {
            "status": reply.status,
            "default_signature": reply.default_signature,
            "max_batch": reply.max_batch,
            "model": reply.model,
            "dtf_version": reply.dtf_version,
            "signatures": {
                name: {part: {i.name: (i.dtype, i.shape) for i in infos}
                       for part, infos in sig.items()}
                for name, sig in reply.signatures.items()
            },
        }

    def _health_reply(self, fresh: bool = False) -> messages.HealthReply:
        if self._health is not None and not fresh:
            return self._health
        request_id = next(self._ids)
        reply = self._call(self._health_call, messages.encode_health(request_id), "health")
        health = self._decode(reply, request_id, Kind.HEALTH_REPLY, "health")
        with self._lock:
            self._health = health
        return health

    def predict(self, inputs, signature: str | None = None) -> dict:
        """Runs ``signature`` (None: the server's default) on ``inputs``.

        Args:
            inputs: a dict of input name -> array (the leading axis is the batch), or one
                array for a signature with a single input. Arrays that are not NumPy arrays
                (lists, dtf tensors) are converted to the input's dtype, and NumPy arrays of
                the same kind (float64 for a float32 input, say) are cast to it, as calling
                the loaded signature in-process would.
            signature: the signature to run.

        Returns:
            A dict of output name -> NumPy array (read-only views of the reply).

        Example:
            >>> client.predict(np.zeros((1, 784), "float32"))  # doctest: +SKIP
            {'output_0': array([[...]], dtype=float32)}
        """
        health = self._health_reply()
        name = signature if signature is not None else health.default_signature
        specs = health.signatures.get(name)
        if specs is None:
            health = self._health_reply(fresh=True)  # the server may serve another model now
            specs = health.signatures.get(name)
        if isinstance(inputs, dict):
            named = dict(inputs)
        else:
            if specs is None or len(specs["inputs"]) != 1:
                takes = "an unknown signature" if specs is None else \
                    f"{[i.name for i in specs['inputs']]}"
                raise InvalidRequestError(
                    f"predict got one array, but signature {name!r} takes {takes}; pass a dict "
                    "of input name -> array")
            named = {specs["inputs"][0].name: inputs}
        if specs is not None:
            dtypes = {info.name: np.dtype(info.dtype) for info in specs["inputs"]}
            named = {key: _convert(value, dtypes.get(key)) for key, value in named.items()}
        else:
            named = {key: np.asarray(value) for key, value in named.items()}
        request_id = next(self._ids)
        what = f"predict ({name!r})"
        try:
            request = messages.encode_predict(request_id, named, signature)
        except MessageError as e:
            raise InvalidRequestError(f"{what}: cannot send these inputs: {e}") from None
        reply = self._call(self._predict, request, what)
        return self._decode(reply, request_id, Kind.PREDICT_REPLY, what).outputs


def _convert(value, dtype):
    """``value`` as an array of ``dtype`` when that is how the signature would take it."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()  # a dtf Tensor or Variable
    if dtype is None:
        return np.asarray(value)
    value = np.asarray(value)
    if value.dtype != dtype and np.can_cast(value.dtype, dtype, "same_kind"):
        return value.astype(dtype)
    return value
