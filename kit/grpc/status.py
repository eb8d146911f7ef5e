"""The one mapping between kit errors and gRPC statuses, used by both sides of the gRPC transport.

A server turns a ``KitError`` into a status with the matching canonical code and the richer error
model of ``google.rpc.Status`` in the ``grpc-status-details-bin`` trailer: an ``InvalidArgument``'s
field violations travel as ``google.rpc.BadRequest``, any ``retry_after`` as ``google.rpc.RetryInfo``.
A client turns the status back into the same kit error class, so a ``NotFound`` raised in a service
arrives as ``NotFound`` at a kit client.

gRPC codes kit has no class for are folded in deliberately: ``CANCELLED`` becomes ``Unavailable``
(a call cancelled under a client, usually because the server shut down, may succeed if retried),
``OUT_OF_RANGE`` becomes ``InvalidArgument`` (the request asked past the end), and ``UNKNOWN``,
``UNIMPLEMENTED``, ``DATA_LOSS`` and anything else become ``Internal`` with a generic message, because
their details come from servers that may not mean them for callers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from kit.errors import Code, FieldViolation, InvalidArgument, KitError, from_code

_LOG = logging.getLogger("kit.grpc")

DETAILS_KEY = "grpc-status-details-bin"
"""The trailing metadata key that carries the serialized ``google.rpc.Status``."""

GRPC_CODES: Mapping[Code, grpc.StatusCode] = {code: grpc.StatusCode[code.value] for code in Code}
"""The gRPC status code of each kit error code (kit codes are named after the gRPC ones)."""

KIT_CODES: Mapping[grpc.StatusCode, Code] = {
    **{status: code for code, status in GRPC_CODES.items()},
    grpc.StatusCode.CANCELLED: Code.UNAVAILABLE,
    grpc.StatusCode.OUT_OF_RANGE: Code.INVALID_ARGUMENT,
}
"""The kit error code of each gRPC status code a client may see; codes not listed are ``INTERNAL``."""

_KEEP_DETAILS = frozenset(GRPC_CODES.values())


def to_status(error: KitError) -> grpc.Status:
    """Build the gRPC status a server aborts with for ``error``, rich details included."""
    code = GRPC_CODES[error.code]
    details: list[any_pb2.Any] = []
    if isinstance(error, InvalidArgument) and error.fields:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=f.field, description=f.message)
                for f in error.fields
            ]
        )
        details.append(_pack(bad_request))
    if error.retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(round(error.retry_after * 1e9))
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    status: grpc.Status = rpc_status.to_status(
        status_pb2.Status(code=code.value[0], message=error.message, details=details)
    )
    return status


def _pack(message: error_details_pb2.BadRequest | error_details_pb2.RetryInfo) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def from_rpc_error(exc: grpc.RpcError) -> KitError:
    """Rebuild the kit error a failed call stands for, from its status code and rich details."""
    code_of = getattr(exc, "code", None)
    grpc_code = code_of() if callable(code_of) else grpc.StatusCode.UNKNOWN
    kit_code = KIT_CODES.get(grpc_code, Code.INTERNAL)
    if grpc_code not in _KEEP_DETAILS:
        _LOG.debug("gRPC call failed with %s: %s", grpc_code, _details(exc))
        if grpc_code is grpc.StatusCode.CANCELLED:
            return from_code(kit_code, "call cancelled")
        if kit_code is Code.INTERNAL:
            return from_code(kit_code, f"remote call failed with {grpc_code.name}")
    fields, retry_after = _rich_details(_trailing(exc))
    return from_code(kit_code, _details(exc), fields=fields, retry_after=retry_after)


def _details(exc: grpc.RpcError) -> str:
    details_of = getattr(exc, "details", None)
    details = details_of() if callable(details_of) else None
    return details if isinstance(details, str) else ""


def _trailing(exc: grpc.RpcError) -> Iterable[tuple[str, str | bytes]]:
    trailing_of = getattr(exc, "trailing_metadata", None)
    trailing = trailing_of() if callable(trailing_of) else None
    return trailing or ()


def _rich_details(
    trailing: Iterable[tuple[str, str | bytes]],
) -> tuple[list[FieldViolation], float | None]:
    fields: list[FieldViolation] = []
    retry_after: float | None = None
    for key, value in trailing:
        if key != DETAILS_KEY or not isinstance(value, bytes):
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except DecodeError:
            _LOG.warning("ignoring undecodable %s trailer", DETAILS_KEY)
            return fields, retry_after
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad_request = error_details_pb2.BadRequest()
                detail.Unpack(bad_request)
                fields.extend(
                    FieldViolation(v.field, v.description) for v in bad_request.field_violations
                )
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry_info = error_details_pb2.RetryInfo()
                detail.Unpack(retry_info)
                retry_after = retry_info.retry_delay.ToNanoseconds() / 1e9
    return fields, retry_after
