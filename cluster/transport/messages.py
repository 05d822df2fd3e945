"""The messages of the wire format (see :mod:`codec` for the bytes): their kinds, the decoded
forms :func:`codec.decode` returns, the receiver's limits, and the one error type.

Example:
    >>> Kind.PUSH_PULL.name, Limits().max_ndim
    ('PUSH_PULL', 32)
"""

from __future__ import annotations

import dataclasses
import enum

import numpy as np

__all__ = [
    "DEFAULT_LIMITS",
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
]


class TransportError(ValueError):
    """A message could not be encoded, decoded or served; the text says what and why."""


class Kind(enum.IntEnum):
    """The message kinds of the wire format."""

    PUSH = 1
    PULL = 2
    PULL_REPLY = 3
    ERROR = 4
    ACK = 5
    UPDATE = 6
    PUSH_PULL = 7
    PUSH_PULL_REPLY = 8


@dataclasses.dataclass(frozen=True)
class Limits:
    """Receiver-side bounds that :func:`decode` enforces before trusting a message.

    Attributes:
        max_message_bytes: the largest whole message accepted.
        max_tensors: the most tensors (or version entries) in one message.
        max_tensor_bytes: the largest single tensor's data.
        max_total_tensor_bytes: the largest sum of tensor data in one message.
        max_ndim: the most axes a tensor may have.
        max_name_length: the longest tensor name, in characters.
        max_message_text: the longest error message text, in characters.
    """

    max_message_bytes: int = 256 * 1024 * 1024
    max_tensors: int = 4096
    max_tensor_bytes: int = 256 * 1024 * 1024
    max_total_tensor_bytes: int = 256 * 1024 * 1024
    max_ndim: int = 32
    max_name_length: int = 512
    max_message_text: int = 16384


DEFAULT_LIMITS = Limits()


@dataclasses.dataclass
class PushRequest:
    """A worker's gradients for one step, computed on ``shard_size`` examples, and the new
    values of non-trainable variables the step computed (``assigns``, possibly empty)."""

    request_id: int
    worker: int
    step: int
    shard_size: int
    gradients: dict[str, np.ndarray]
    assigns: dict[str, np.ndarray]
    kind: Kind = Kind.PUSH


@dataclasses.dataclass
class UpdateRequest:
    """A custom-loop step of a worker (its ``sequence``-th scheduled function): gradients to
    apply through the optimizer and ``deltas`` to add to variables."""

    request_id: int
    worker: int
    sequence: int
    gradients: dict[str, np.ndarray]
    deltas: dict[str, np.ndarray]
    kind: Kind = Kind.UPDATE


@dataclasses.dataclass
class PullRequest:
    """A pull: the versions the client holds (None: it holds nothing), the step to wait for
    (None: no wait), the server generation its versions came from, and how long to wait."""

    request_id: int
    known: dict[str, int] | None
    after_step: int | None
    generation: str | None
    timeout_ms: int
    kind: Kind = Kind.PULL


@dataclasses.dataclass
class PullReply:
    """Tensors that changed since the request's versions, with their current versions, and the
    server's generation."""

    request_id: int
    tensors: dict[str, np.ndarray]
    versions: dict[str, int]
    generation: str
    kind: Kind = Kind.PULL_REPLY


@dataclasses.dataclass
class PushPullRequest:
    """A worker's step in one call: its push (as `PushRequest`), then a pull of what changed
    since ``known`` (as `PullRequest`) once the step is applied (sync) or at once."""

    request_id: int
    worker: int
    step: int
    shard_size: int
    gradients: dict[str, np.ndarray]
    assigns: dict[str, np.ndarray]
    known: dict[str, int] | None
    generation: str | None
    timeout_ms: int
    kind: Kind = Kind.PUSH_PULL


@dataclasses.dataclass
class PushPullReply:
    """What the server did with the push (``PUSH_RESULTS``), and the pull's tensors, versions
    and generation."""

    request_id: int
    result: str
    tensors: dict[str, np.ndarray]
    versions: dict[str, int]
    generation: str
    kind: Kind = Kind.PUSH_PULL_REPLY


@dataclasses.dataclass
class ErrorReply:
    """The receiver refused a request: a machine-readable code and a human message."""

    request_id: int
    code: str
    message: str
    kind: Kind = Kind.ERROR


@dataclasses.dataclass
class Ack:
    """A push was received; ``result`` says what the server did with it (``PUSH_RESULTS``)."""

    request_id: int
    result: str
    kind: Kind = Kind.ACK
