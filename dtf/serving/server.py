"""`ModelServer`: an exported model's signatures served over gRPC; `serve`, its blocking form.

The service ``dtf.serving.Predictor`` has two unary methods with raw bytes in and out (no
generated protobuf code), carrying :mod:`dtf.serving.messages`:

- ``Predict``: named input tensors for a signature (the server's default when the request
  names none) -> the signature's named outputs. The leading axis of each input is the batch;
  a request may carry up to ``max_batch`` examples.
- ``Health``: the serving status and every signature's inputs and outputs (names, dtypes,
  shapes), the default signature and ``max_batch``.

A request that is malformed (truncated, corrupted, wrong types, sizes over the limits), names
an unknown signature or input, misses an input, or sends one of the wrong dtype or shape ends
with the gRPC status ``INVALID_ARGUMENT`` and a reason naming what is wrong; an error inside the
model ends with ``INTERNAL``. Either way the server goes on serving. With a token, every call
must carry it in the ``dtf-token`` metadata entry (as the parameter-server transport), else it
ends with ``UNAUTHENTICATED`` before anything is decoded.

Calls are served concurrently by a thread pool; the model's compiled plan allocates its
temporaries per call, so concurrent calls do not share buffers. Requests are run one by one,
never concatenated: a row's result can depend on the batch it is computed in (the matrix
product picks its kernel by size), and a served prediction must equal the in-process one.

Example:
    >>> server = ModelServer("mnist_mlp", port=0).start()  # doctest: +SKIP
    >>> PredictClient(server.address).predict(images)["output_0"].shape  # doctest: +SKIP
    (64, 10)
    >>> server.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import hmac
import os
import signal
import sys
import threading
from typing import Self

import grpc
import numpy as np

from dtf.cluster.transport.grpc_service import TOKEN_KEY, bytes_server
from dtf.serving import messages
from dtf.serving.messages import Kind, MessageError, TensorInfo
from dtf.tensor import Tensor

__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_PORT", "ModelServer", "serve"]

SERVICE = "dtf.serving.Predictor"
PREDICT_METHOD = f"/{SERVICE}/Predict"
HEALTH_METHOD = f"/{SERVICE}/Health"
DEFAULT_PORT = 8500
DEFAULT_MAX_BATCH = 1024
DEFAULT_MAX_WORKERS = 16
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# gRPC carries the status details in a header: a reason longer than this is cut.
_MAX_DETAILS = 2000


class _Refused(Exception):
    """A request refused with a gRPC status code and a reason."""

    def __init__(self, code: grpc.StatusCode, reason: str):
        super().__init__(reason)
        self.code = code


def _invalid(reason: str) -> _Refused:
    return _Refused(grpc.StatusCode.INVALID_ARGUMENT, reason)


def _spec_text(info: TensorInfo) -> str:
    dims = ", ".join("None" if d is None else str(d) for d in info.shape)
    return f"{info.name}: {info.dtype}[{dims}]"


class _Signature:
    """One served signature: its concrete function and its inputs' and outputs' specs."""

    def __init__(self, name: str, function):
        self.name = name
        self.concrete = function.get_concrete_function()
        args, kwargs = self.concrete.structured_input_signature
        if kwargs:
            raise ValueError(f"signature {name!r} takes keyword-only inputs {sorted(kwargs)}, "
                             "which dtf serve does not support; export flat named inputs")
        self.inputs = []
        for i, spec in enumerate(args):
            dtype = messages.wire_dtype_name(spec.dtype.as_numpy_dtype)
            if dtype is None or spec.shape.rank is None:
                raise ValueError(f"signature {name!r} input {i} ({spec!r}) cannot be served: "
                                 "the wire format needs a known rank and a numeric or bool dtype")
            self.inputs.append(TensorInfo(spec.name or f"input_{i}", dtype,
                                          tuple(spec.shape.dims)))
        self.input_index = {info.name: i for i, info in enumerate(self.inputs)}
        if len(self.input_index) != len(self.inputs):
            raise ValueError(f"signature {name!r} has repeated input names "
                             f"{[i.name for i in self.inputs]}")
        outputs = self.concrete.structured_outputs
        if not isinstance(outputs, dict):
            raise TypeError(f"signature {name!r} does not return a dict of named tensors")
        self.outputs = []
        for key, tensor in outputs.items():
            shape = tensor.shape
            dtype = np.dtype(tensor.dtype.as_numpy_dtype)
            self.outputs.append(TensorInfo(
                str(key), messages.wire_dtype_name(dtype) or dtype.name,
                tuple(shape.dims) if shape.rank is not None else ()))
        # The inputs whose leading axis is free: their leading sizes are the request's batch.
        self.batched = [i for i, info in enumerate(self.inputs)
                        if info.shape and info.shape[0] is None]
        self.usage = ", ".join(_spec_text(info) for info in self.inputs)

    def arguments(self, inputs: dict, max_batch: int) -> list:
        """The request's arrays in the signature's order, after checking names, dtypes,
        shapes and the batch size; raises _Refused with the reason."""
        unknown = [name for name in inputs if name not in self.input_index]
        missing = [info.name for info in self.inputs if info.name not in inputs]
        if unknown or missing:
            problems = []
            if unknown:
                problems.append(f"unknown input(s) {[f'{n:.80}' for n in unknown[:8]]}")
            if missing:
                problems.append(f"missing input(s) {missing[:8]}")
            raise _invalid(f"{' and '.join(problems)} for signature {self.name!r}; it takes "
                           f"{self.usage}")
        arrays = []
        for info in self.inputs:
            array = inputs[info.name]
            if array.dtype.name != info.dtype:
                raise _invalid(f"input {info.name!r} of signature {self.name!r} is "
                               f"{array.dtype.name} but must be {info.dtype}: cast it before "
                               "sending")
            shape = array.shape
            if len(shape) != len(info.shape) or any(
                    want is not None and got != want for got, want in zip(shape, info.shape)):
                raise _invalid(f"input {info.name!r} of signature {self.name!r} has shape "
                               f"{list(shape)}, which does not fit {_spec_text(info)} (None "
                               "is any size)")
            arrays.append(array)
        if self.batched:
            sizes = {self.inputs[i].name: arrays[i].shape[0] for i in self.batched}
            batch = next(iter(sizes.values()))
            if any(size != batch for size in sizes.values()):
                raise _invalid(f"the inputs of one request must have the same batch size "
                               f"(leading axis), got {sizes}")
            if batch > max_batch:
                raise _invalid(f"batch of {batch} examples is over this server's max_batch "
                               f"of {max_batch}; split it into smaller requests")
        return arrays

    def run(self, arrays: list) -> dict:
        # Passed as Tensors: the call then takes them as they are, where a NumPy array would
        # be copied (the plan never writes into its inputs, and these are read-only anyway).
        # Views of the request at any byte offset: NumPy and BLAS take misaligned data, and
        # copying it first (a misaligned copy is element by element) costs more than it saves.
        outputs = self.concrete(*[Tensor(a) for a in arrays])
        # np.asarray reads a Tensor's value without the copy `.numpy()` makes.
        return {name: np.asarray(value) for name, value in outputs.items()}



def _signatures_of(loaded) -> dict:
    signatures = getattr(loaded, "signatures", None)
    if not isinstance(signatures, dict) or not signatures:
        raise ValueError(
            f"{type(loaded).__name__} has no serving signatures. Serve a model saved with "
            "dtf.saved_model.save(obj, path) (with a signature) or model.export(path).")
    return {name: _Signature(name, fn) for name, fn in signatures.items()}


class ModelServer:
    """Serves an exported model's signatures over gRPC on ``host:port``.

    Args:
        model: the path given to ``dtf.saved_model.save`` / ``model.export``, or what
            ``dtf.saved_model.load`` returned.
        host: the interface to bind (loopback by default; ``"0.0.0.0"`` for other machines).
        port: the port, or 0 for any free one (read it back from ``.port``).
        token: a secret every call must carry as ``dtf-token`` metadata; None: no auth.
        max_batch: the most examples (leading-axis size) one request may carry.
        signature: the signature a request that names none runs.
        max_workers: threads serving calls concurrently.
        max_message_bytes: the largest request or reply.

    Attributes:
        stats: counters ``requests``, ``predictions``, ``invalid``, ``internal`` and
            ``unauthenticated``.

    Raises:
        FileNotFoundError: nothing is saved at ``model``.
        ValueError: ``signature`` is not one of the model's, or a signature cannot be served.

    Example:
        >>> with ModelServer("mnist_mlp", token="s3cret") as server:  # doctest: +SKIP
        ...     client = PredictClient(server.address, token="s3cret")
        ...     client.health()["status"]
        'SERVING'
    """

    def __init__(self, model, host: str = "127.0.0.1", port: int = 0, token: str | None = None,
                 max_batch: int = DEFAULT_MAX_BATCH, signature: str = "serving_default",
                 max_workers: int = DEFAULT_MAX_WORKERS,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES):
        if token is not None and (not isinstance(token, str) or not token):
            raise ValueError("token must be a non-empty str, or None to serve without auth")
        if type(max_batch) is not int or max_batch < 1:
            raise ValueError(f"max_batch must be a positive int, got {max_batch!r}")
        if isinstance(model, (str, os.PathLike)):
            from dtf.saved_model import load

            self.model_path = os.fspath(model)
            loaded = load(model)
        else:
            self.model_path = None
            loaded = model
        self.signatures = _signatures_of(loaded)
        if signature not in self.signatures:
            raise ValueError(f"the model has no signature {signature!r}; it has "
                             f"{sorted(self.signatures)}: pass one of them as signature=")
        self.default_signature = signature
        self.max_batch = max_batch
        self.model_class = str(getattr(loaded, "_metadata", {}).get("class_name", ""))[:256]
        self._token = None if token is None else token.encode()
        self._limits = messages.default_limits(max_message_bytes)
        self.stats = dict.fromkeys(
            ("requests", "predictions", "invalid", "internal", "unauthenticated"), 0)
        self._stats_lock = threading.Lock()
        self._serving = False
        self._warm_up()
        self._server = bytes_server(
            SERVICE, {"Predict": self._handle_predict, "Health": self._handle_health},
            max_message_bytes=max_message_bytes, max_workers=max_workers,
            thread_name_prefix="dtf-serve")
        self.host = host
        try:
            self.port = self._server.add_insecure_port(f"{host}:{port}")
        except RuntimeError as e:
            raise OSError(f"could not bind the model server to {host}:{port}: {e}") from None
        if self.port == 0:
            raise OSError(f"could not bind the model server to {host}:{port}: is the port in "
                          "use? Pick another with port=, or 0 for any free one")

    def _warm_up(self) -> None:
        """Runs each signature once on zeros, so its plan is compiled before the first
        request (and not by several serving threads at once)."""
        for sig in self.signatures.values():
            shapes = [tuple(1 if d is None else d for d in info.shape) for info in sig.inputs]
            if sum(int(np.prod(s)) for s in shapes) > 1 << 24:
                continue  # a huge fixed input: the first request compiles the plan instead
            try:
                sig.run([np.zeros(s, info.dtype) for s, info in zip(shapes, sig.inputs)])
            except Exception:  # noqa: BLE001, S110 - a model may refuse zeros; requests decide
                pass

    @property
    def address(self) -> str:
        """``host:port`` to give clients."""
        return f"{self.host}:{self.port}"

    def start(self) -> ModelServer:
        """Starts serving; returns self."""
        self._server.start()
        self._serving = True
        return self

    def stop(self, grace: float | None = None) -> None:
        """Stops serving; calls in flight get ``grace`` seconds to finish (None: none)."""
        self._serving = False
        self._server.stop(grace).wait()

    def __enter__(self) -> Self:
        return self if self._serving else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _count(self, key: str) -> None:
        with self._stats_lock:
            self.stats[key] += 1

    def _authenticate(self, context) -> None:
        if self._token is None:
            return
        sent = b""
        for key, value in context.invocation_metadata() or ():
            if key == TOKEN_KEY:
                sent = value.encode() if isinstance(value, str) else bytes(value)
        if not hmac.compare_digest(sent, self._token):
            self._count("unauthenticated")
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          f"missing or wrong {TOKEN_KEY!r} metadata; send the server's token")

    def _handle_predict(self, request: bytes, context) -> bytes:
        self._authenticate(context)
        self._count("requests")
        try:
            message = messages.decode(request, self._limits)
            if message.kind != Kind.PREDICT:
                raise _invalid(f"the Predict method takes PREDICT messages, got "
                               f"{message.kind.name}")
            name = message.signature or self.default_signature
            sig = self.signatures.get(name)
            if sig is None:
                raise _invalid(f"unknown signature {name!r:.80}; this server serves "
                               f"{sorted(self.signatures)}")
            arrays = sig.arguments(message.inputs, self.max_batch)
            try:
                outputs = sig.run(arrays)
            except Exception as e:  # noqa: BLE001 - a model error must not take the server down
                raise self._model_error(sig, e) from None
            reply = messages.encode_predict_reply(message.request_id, sig.name, outputs)
            self._count("predictions")
            return reply
        except MessageError as e:
            refused = _invalid(f"malformed request: {e}")
        except _Refused as e:
            refused = e
        except Exception as e:  # noqa: BLE001 - a server bug must not take the service down
            refused = _Refused(grpc.StatusCode.INTERNAL, f"{type(e).__name__}: {e}")
        self._count("invalid" if refused.code == grpc.StatusCode.INVALID_ARGUMENT else "internal")
        context.abort(refused.code, str(refused)[:_MAX_DETAILS])

    @staticmethod
    def _model_error(sig: _Signature, error: Exception) -> _Refused:
        from dtf.errors import InvalidArgumentError

        text = f"signature {sig.name!r} failed on this request: {type(error).__name__}: {error}"
        # Errors the inputs cause (an index out of range...) are the caller's to fix.
        if isinstance(error, (InvalidArgumentError, ValueError)):
            return _invalid(text)
        return _Refused(grpc.StatusCode.INTERNAL, text)

    def _handle_health(self, request: bytes, context) -> bytes:
        self._authenticate(context)
        try:
            message = messages.decode(request, self._limits)
            if message.kind != Kind.HEALTH:
                raise MessageError(f"the Health method takes HEALTH messages, got "
                                   f"{message.kind.name}")
        except MessageError as e:
            self._count("invalid")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"malformed request: {e}"[:_MAX_DETAILS])
        return messages.encode_health_reply(
            message.request_id,
            "SERVING" if self._serving else "NOT_SERVING",
            self.default_signature,
            self.max_batch,
            {name: {"inputs": sig.inputs, "outputs": sig.outputs}
             for name, sig in self.signatures.items()},
            model=self.model_class,
            dtf_version=_dtf_version(),
        )


def _dtf_version() -> str:
    import dtf

    return str(getattr(dtf, "__version__", ""))


def serve(model_path, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          token: str | None = None, *, max_batch: int = DEFAULT_MAX_BATCH,
          signature: str = "serving_default", max_workers: int = DEFAULT_MAX_WORKERS,
          grace_s: float = 5.0, stop_event: threading.Event | None = None,
          log=None) -> None:
    """Serves the model saved at ``model_path`` until SIGINT or SIGTERM (the `dtf serve`
    command), then stops cleanly: calls in flight get ``grace_s`` seconds to finish.

    Args:
        model_path: what ``dtf.saved_model.save`` / ``model.export`` wrote.
        host: the interface to bind; ``"0.0.0.0"`` to be reached from other machines.
        port: the port (0: any free one; the line printed at start names it).
        token: a secret every call must carry as ``dtf-token`` metadata; None: no auth.
        max_batch, signature, max_workers: as `ModelServer`.
        grace_s: how long calls in flight may take to finish when stopping.
        stop_event: also stop when this event is set (a caller that runs `serve` outside
            the main thread, where signals cannot be caught, stops it this way).
        log: where the start and stop lines go (a text stream; default stdout).

    Example:
        >>> serve("mnist_mlp", port=8500)  # doctest: +SKIP
        dtf serve: serving mnist_mlp (signatures: serving_default) on 127.0.0.1:8500, ...
    """
    log = sys.stdout if log is None else log
    server = ModelServer(model_path, host=host, port=port, token=token, max_batch=max_batch,
                         signature=signature, max_workers=max_workers)
    stop = stop_event if stop_event is not None else threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        def on_signal(signum, frame):
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_signal)
    try:
        server.start()
        auth = "token auth" if token is not None else "no auth"
        print(f"dtf serve: serving {model_path} (signatures: "
              f"{', '.join(sorted(server.signatures))}; default {signature}) on "
              f"{server.address}, {auth}, max_batch {max_batch}", file=log, flush=True)
        while not stop.wait(0.5):
            pass
        print(f"dtf serve: stopping ({server.stats['predictions']} predictions served)",
              file=log, flush=True)
    finally:
        server.stop(grace_s)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
