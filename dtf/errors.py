"""Exceptions with TensorFlow's names (`dtf.errors.InvalidArgumentError`, ...).

`OpError` takes TensorFlow's `(node_def, op, message)` arguments; a single argument is the
message, which is how dtf raises them.
"""

from __future__ import annotations


class OpError(Exception):
    """An error raised by an op. `message` says what went wrong and how to fix it."""

    error_code = 2

    def __init__(self, node_def=None, op=None, message=None, *args):
        if message is None and op is None:
            message, node_def = node_def, None
        super().__init__(message)
        self.node_def = node_def
        self.op = op
        self.message = message

    def __str__(self):
        return str(self.message)


def _code(name, code, doc):
    cls = type(name, (OpError,), {"error_code": code, "__doc__": doc})
    return cls


CancelledError = _code("CancelledError", 1, "An operation or step was cancelled.")
UnknownError = _code("UnknownError", 2, "An unknown error.")
InvalidArgumentError = _code("InvalidArgumentError", 3,
                             "An op received an argument it cannot accept (shape, dtype, value).")
DeadlineExceededError = _code("DeadlineExceededError", 4, "A deadline expired.")
NotFoundError = _code("NotFoundError", 5, "A requested entity was not found.")
AlreadyExistsError = _code("AlreadyExistsError", 6, "An entity already exists.")
PermissionDeniedError = _code("PermissionDeniedError", 7, "The caller may not do this.")
ResourceExhaustedError = _code("ResourceExhaustedError", 8, "A resource ran out.")
FailedPreconditionError = _code("FailedPreconditionError", 9,
                                "The system is not in a state for this operation.")
AbortedError = _code("AbortedError", 10, "The operation was aborted.")
OutOfRangeError = _code("OutOfRangeError", 11, "An operation went past the valid range.")
UnimplementedError = _code("UnimplementedError", 12, "The operation is not implemented.")
InternalError = _code("InternalError", 13, "An internal invariant broke.")
UnavailableError = _code("UnavailableError", 14, "A service is unavailable.")
DataLossError = _code("DataLossError", 15, "Unrecoverable data loss or corruption.")
UnauthenticatedError = _code("UnauthenticatedError", 16, "The request is not authenticated.")


class OperatorNotAllowedInGraphError(TypeError):
    """A Python operation that needs a tensor's value (`if x:`, `while x:`, `bool(x)`) was used
    on a symbolic tensor of a function being traced: use `dtf.cond` / `dtf.while_loop`."""
