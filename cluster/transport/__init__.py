"""Moving parameters and gradients between workers and parameter servers.

``codec`` is the wire format (a versioned header, a msgpack map, then the tensors as raw
little-endian bytes that decode as views of the message, every field validated on decode; its
message classes are in ``messages``); ``grpc_service`` serves a
:class:`~dtf.cluster.parameter_server.ParameterServer` over gRPC with per-call token
authentication (``serve_parameter_server``) and its client (``GrpcServerClient``), whose
steps ride one open stream per server (``streams``: the client's side of it and the watchdog
that bounds each reply's wait); ``selection`` measures Ray against gRPC and routes each call by its size
(``transport="auto"``); ``memory.tune_allocator`` keeps large message buffers from being
re-faulted on every call in parameter-server and worker processes.
"""

from dtf.cluster.transport.codec import (
    Ack,
    ErrorReply,
    Kind,
    Limits,
    PullReply,
    PullRequest,
    PushPullReply,
    PushPullRequest,
    PushRequest,
    TransportError,
    UpdateRequest,
    decode,
    encode_ack,
    encode_error,
    encode_pull_reply,
    encode_pull_request,
    encode_push,
    encode_push_pull,
    encode_push_pull_reply,
    encode_update,
)

__all__ = [
    "Ack",
    "ErrorReply",
    "Kind",
    "Limits",
    "PullReply",
    "PullRequest",
    "PushPullReply",
    "PushPullRequest",
    "PushRequest",
    "TransportError",
    "UpdateRequest",
    "decode",
    "encode_ack",
    "encode_error",
    "encode_pull_reply",
    "encode_pull_request",
    "encode_push",
    "encode_push_pull",
    "encode_push_pull_reply",
    "encode_update",
]
