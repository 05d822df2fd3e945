"""Moving parameters and gradients between workers and parameter servers.

``codec`` is the wire format (a versioned header and a msgpack map, tensors as raw
little-endian bytes, every field validated on decode; ``msgpack_view`` reads large bodies
without copying tensor data); ``grpc_service`` serves a parameter store over gRPC with per-call
token authentication, and its client; ``memory.tune_allocator`` keeps large message buffers
from being re-faulted on every call in parameter-server and worker processes.
"""

from dtf.cluster.transport.codec import (
    Ack,
    ErrorReply,
    Kind,
    Limits,
    PullReply,
    PullRequest,
    Push,
    TransportError,
    decode,
    encode_ack,
    encode_error,
    encode_pull_reply,
    encode_pull_request,
    encode_push,
)

__all__ = [
    "Ack",
    "ErrorReply",
    "Kind",
    "Limits",
    "PullReply",
    "PullRequest",
    "Push",
    "TransportError",
    "decode",
    "encode_ack",
    "encode_error",
    "encode_pull_reply",
    "encode_pull_request",
    "encode_push",
]
