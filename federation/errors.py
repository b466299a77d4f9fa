"""The errors libfed raises, named by what went wrong rather than where.

Each service raises these; the adapters translate them once: the gRPC servicers
to a status code (:attr:`LibfedError.grpc_code`), the OAI-PMH provider to an
OAI error code, the CLI to a message and an exit code.
"""

from __future__ import annotations

import grpc


class LibfedError(Exception):
    """Base of every error libfed raises on purpose."""

    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL


class InvalidArgument(LibfedError):
    """The caller sent something malformed or out of range."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(LibfedError):
    """A record, item, request, cluster or node that does not exist."""

    grpc_code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(LibfedError):
    """The thing the caller wants to create exists already."""

    grpc_code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(LibfedError):
    """The request is well formed, but the current state does not allow it."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


class Unauthenticated(LibfedError):
    """No credentials, or credentials nobody issued."""

    grpc_code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(LibfedError):
    """Known caller, but not allowed to do this (e.g. acting for another node)."""

    grpc_code = grpc.StatusCode.PERMISSION_DENIED


class Unavailable(LibfedError):
    """A peer could not be reached or did not answer in time."""

    grpc_code = grpc.StatusCode.UNAVAILABLE


class ConfigError(LibfedError):
    """A configuration file is missing, unreadable or inconsistent."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


class RecordError(LibfedError):
    """A bibliographic record could not be read; carries where it was."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, reason: str, *, source: str = "", position: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.source = source
        self.position = position

    def __str__(self) -> str:
        if self.source:
            return f"{self.source}:#{self.position}: {self.reason}"
        return self.reason


#: The errors a peer's gRPC status code stands for, derived from the classes above.
_BY_STATUS: dict[grpc.StatusCode, type[LibfedError]] = {
    kind.grpc_code: kind
    for kind in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        Unauthenticated,
        PermissionDenied,
        Unavailable,
    )
}


def error_for_status(code: grpc.StatusCode) -> type[LibfedError] | None:
    """The libfed error a gRPC status from a peer stands for; None for any other code.

    Clients of our own services (the node's link to the coordinator, the web's
    calls to nodes) turn a peer's status back into the error it was raised as,
    so the CLI and the pages can handle it by meaning.
    """
    return _BY_STATUS.get(code)
