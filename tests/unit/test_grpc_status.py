"""The mapping between kit errors and gRPC statuses, both ways, without a network."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from kit import errors
from kit.grpc.status import DETAILS_KEY, GRPC_CODES, KIT_CODES, from_rpc_error, to_status
from kit.testing.grpc import AbortedCall


def over_the_wire(status: grpc.Status) -> AbortedCall:
    return AbortedCall(status.code, status.details, tuple(status.trailing_metadata))


@pytest.mark.parametrize("cls", list(errors.BY_CODE.values()), ids=lambda c: c.__name__)
def test_every_kit_error_survives_the_round_trip(cls: type[errors.KitError]) -> None:
    sent = cls("it went wrong", retry_after=2.25)
    back = from_rpc_error(over_the_wire(to_status(sent)))
    assert type(back) is cls
    assert back.message == "it went wrong"
    assert back.retry_after == 2.25


def test_each_kit_code_has_the_grpc_code_of_the_same_name() -> None:
    assert {code.value for code in GRPC_CODES} == {status.name for status in GRPC_CODES.values()}
    assert len(set(GRPC_CODES.values())) == len(errors.Code)
    assert all(KIT_CODES[status] is code for code, status in GRPC_CODES.items())


def test_field_violations_travel_as_google_rpc_bad_request() -> None:
    status = to_status(errors.InvalidArgument(fields=[errors.FieldViolation("a.0", "too small")]))
    assert status.code is grpc.StatusCode.INVALID_ARGUMENT
    (key, raw), = status.trailing_metadata
    assert key == DETAILS_KEY
    rich = status_pb2.Status.FromString(raw)
    assert rich.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    bad_request = error_details_pb2.BadRequest()
    assert rich.details[0].Unpack(bad_request)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [("a.0", "too small")]

    back = from_rpc_error(over_the_wire(status))
    assert isinstance(back, errors.InvalidArgument)
    assert back.fields == (errors.FieldViolation("a.0", "too small"),)
    assert back.message == "a.0: too small"


def test_an_error_without_retry_after_sends_no_retry_info() -> None:
    (_, raw), = to_status(errors.NotFound("gone")).trailing_metadata
    assert list(status_pb2.Status.FromString(raw).details) == []
    assert from_rpc_error(over_the_wire(to_status(errors.NotFound("gone")))).retry_after is None


@pytest.mark.parametrize(("code", "expected"), [
    (grpc.StatusCode.CANCELLED, errors.Unavailable),
    (grpc.StatusCode.OUT_OF_RANGE, errors.InvalidArgument),
    (grpc.StatusCode.UNKNOWN, errors.Internal),
    (grpc.StatusCode.UNIMPLEMENTED, errors.Internal),
    (grpc.StatusCode.DATA_LOSS, errors.Internal),
])
def test_codes_without_a_kit_class_fold_into_one(code: grpc.StatusCode,
                                                 expected: type[errors.KitError]) -> None:
    assert type(from_rpc_error(AbortedCall(code, "details"))) is expected


def test_details_of_unknown_failures_are_not_passed_on() -> None:
    error = from_rpc_error(AbortedCall(grpc.StatusCode.UNKNOWN, "Exception calling application: pw=1"))
    assert "pw=1" not in error.message
    assert "UNKNOWN" in error.message


def test_a_plain_grpc_status_keeps_its_message() -> None:
    error = from_rpc_error(AbortedCall(grpc.StatusCode.UNAVAILABLE, "failed to connect"))
    assert isinstance(error, errors.Unavailable)
    assert error.message == "failed to connect"


def test_an_rpc_error_without_a_status_is_internal() -> None:
    assert type(from_rpc_error(grpc.RpcError())) is errors.Internal


def test_undecodable_rich_details_are_ignored() -> None:
    call = AbortedCall(grpc.StatusCode.INVALID_ARGUMENT, "bad", ((DETAILS_KEY, b"\xff\xff\xff"),))
    error = from_rpc_error(call)
    assert isinstance(error, errors.InvalidArgument)
    assert error.message == "bad"
    assert error.fields == ()
