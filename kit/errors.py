"""One error taxonomy for every service and transport.

Services raise these exceptions; each transport has exactly one place that turns them into its own
status (HTTP problem+json, gRPC status code) and its client turns them back, so a ``NotFound`` raised
in a service arrives as ``NotFound`` at a kit client whatever the transport in between.
The codes and their names follow the gRPC canonical codes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class Code(enum.Enum):
    """Canonical error codes; the value is the gRPC canonical name."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    ABORTED = "ABORTED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    INTERNAL = "INTERNAL"
    UNAVAILABLE = "UNAVAILABLE"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"

    @property
    def http_status(self) -> int:
        """The HTTP status code for this error code."""
        return HTTP_STATUS[self]

    @property
    def slug(self) -> str:
        """A lower-case, dash-separated name, used in problem type URIs."""
        return self.name.lower().replace("_", "-")


HTTP_STATUS: Mapping[Code, int] = {
    Code.INVALID_ARGUMENT: 400,
    Code.FAILED_PRECONDITION: 409,
    Code.UNAUTHENTICATED: 401,
    Code.PERMISSION_DENIED: 403,
    Code.NOT_FOUND: 404,
    Code.ALREADY_EXISTS: 409,
    Code.ABORTED: 409,
    Code.RESOURCE_EXHAUSTED: 429,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
    Code.DEADLINE_EXCEEDED: 504,
}


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request: a dotted path (``order_items.0.quantity``) and why."""

    field: str
    message: str


class KitError(Exception):
    """Base of the taxonomy; ``code`` says which kind, ``message`` is safe to show to a caller."""

    code: Code = Code.INTERNAL
    title: str = "Internal error"
    retryable: bool = False

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message or self.title)
        self.message = message or self.title
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidArgument(KitError):
    """The request is malformed or a field is invalid; ``fields`` says which and why."""

    code = Code.INVALID_ARGUMENT
    title = "Invalid argument"

    def __init__(
        self,
        message: str = "",
        *,
        fields: Iterable[FieldViolation] = (),
        retry_after: float | None = None,
    ) -> None:
        self.fields = tuple(fields)
        if not message and self.fields:
            message = "; ".join(f"{f.field}: {f.message}" for f in self.fields)
        super().__init__(message, retry_after=retry_after)

    @classmethod
    def for_field(cls, field: str, message: str) -> InvalidArgument:
        """An error about a single field."""
        return cls(fields=[FieldViolation(field, message)])


class NotFound(KitError):
    """The thing asked for does not exist."""

    code = Code.NOT_FOUND
    title = "Not found"


class AlreadyExists(KitError):
    """The thing to create exists already."""

    code = Code.ALREADY_EXISTS
    title = "Already exists"


class Conflict(KitError):
    """A concurrent change won (optimistic concurrency); re-read and try again."""

    code = Code.ABORTED
    title = "Conflict"


class FailedPrecondition(KitError):
    """The system is not in a state that allows this operation (e.g. cancel an approved order)."""

    code = Code.FAILED_PRECONDITION
    title = "Failed precondition"


class Unauthenticated(KitError):
    """The caller did not prove who it is."""

    code = Code.UNAUTHENTICATED
    title = "Unauthenticated"


class PermissionDenied(KitError):
    """The caller may not do this."""

    code = Code.PERMISSION_DENIED
    title = "Permission denied"


class Unavailable(KitError):
    """A dependency is down or overloaded; the call may succeed if retried later."""

    code = Code.UNAVAILABLE
    title = "Service unavailable"
    retryable = True


class DeadlineExceeded(KitError):
    """The call's deadline passed before it completed."""

    code = Code.DEADLINE_EXCEEDED
    title = "Deadline exceeded"
    retryable = True


class ResourceExhausted(KitError):
    """A quota or rate limit was hit; back off and retry later."""

    code = Code.RESOURCE_EXHAUSTED
    title = "Resource exhausted"
    retryable = True


class Internal(KitError):
    """An unexpected failure; details are logged, never sent to the caller."""

    code = Code.INTERNAL
    title = "Internal error"


BY_CODE: Mapping[Code, type[KitError]] = {
    Code.INVALID_ARGUMENT: InvalidArgument,
    Code.NOT_FOUND: NotFound,
    Code.ALREADY_EXISTS: AlreadyExists,
    Code.ABORTED: Conflict,
    Code.FAILED_PRECONDITION: FailedPrecondition,
    Code.UNAUTHENTICATED: Unauthenticated,
    Code.PERMISSION_DENIED: PermissionDenied,
    Code.UNAVAILABLE: Unavailable,
    Code.DEADLINE_EXCEEDED: DeadlineExceeded,
    Code.RESOURCE_EXHAUSTED: ResourceExhausted,
    Code.INTERNAL: Internal,
}


def from_code(
    code: Code,
    message: str = "",
    *,
    fields: Iterable[FieldViolation] = (),
    retry_after: float | None = None,
) -> KitError:
    """Build the error of the given code; used by transport clients to rebuild a remote error."""
    cls = BY_CODE[code]
    if cls is InvalidArgument:
        return InvalidArgument(message, fields=fields, retry_after=retry_after)
    return cls(message, retry_after=retry_after)


def as_kit_error(exc: BaseException) -> KitError:
    """Return ``exc`` if it is a KitError, else an ``Internal`` that hides its details."""
    if isinstance(exc, KitError):
        return exc
    return Internal()
