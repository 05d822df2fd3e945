"""The parameter server as the runtime starts it: a `ParameterServer` that also serves its gRPC
data plane when the strategy's transport uses one.

With `grpc_token`, the server listens on a free port as soon as it is built (also when Ray
restarts it after a crash: it comes back serving, on a new port the job asks for), and only
clients holding the job's token are served.

Example:
    >>> server = ParameterServerActor(values, optimizer_config, 2, grpc_token=token)
    >>> client = GrpcServerClient(server.grpc_address(), token)
"""

from __future__ import annotations

from dtf.cluster.parameter_server import ParameterServer

__all__ = ["ParameterServerActor"]


class ParameterServerActor(ParameterServer):
    """A `ParameterServer` with its gRPC service (see the module docstring).

    Args:
        *args, **kwargs: as `ParameterServer`.
        grpc_token: the job's token; None serves no gRPC.
        tune_allocator: tune this process's allocator for large gRPC messages (see
            `serve_parameter_server`): for transport "grpc". Not for "auto": its routing is
            measured untuned, and a tuned heap keeps its high-water mark of freed message
            buffers (the server's private memory then grew past its variables, slots and
            one gradient per worker).
    """

    def __init__(self, *args, grpc_token=None, tune_allocator=False, **kwargs):
        super().__init__(*args, **kwargs)
        self._grpc_server = None
        if grpc_token is not None:
            import socket

            from dtf.cluster.transport.grpc_service import (
                DEFAULT_MAX_WORKERS,
                serve_parameter_server,
            )

            host = socket.gethostbyname(socket.gethostname())
            # Threads for every worker's stream (half the pool goes to streams) and for as
            # many unary calls again: a sync step holds one thread per worker while it waits.
            self._grpc_server = serve_parameter_server(
                self, grpc_token, host=host, tune_allocator=tune_allocator,
                max_workers=max(DEFAULT_MAX_WORKERS, 2 * self.num_workers + 16))

    def grpc_address(self) -> str:
        """`host:port` of the gRPC service."""
        if self._grpc_server is None:
            raise RuntimeError(f"{self.name} serves no gRPC (the strategy's transport is 'ray').")
        return self._grpc_server.address

    def echo(self, payload):
        """Returns `payload` (measures a Ray actor call's round trip, for transport='auto')."""
        return payload

    def close(self) -> None:
        if self._grpc_server is not None:
            self._grpc_server.stop(0)
            self._grpc_server = None
