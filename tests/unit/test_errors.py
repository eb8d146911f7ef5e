import pytest

from kit import errors
from kit.errors import Code, FieldViolation


@pytest.mark.parametrize(
    ("cls", "code", "status"),
    [
        (errors.InvalidArgument, Code.INVALID_ARGUMENT, 400),
        (errors.NotFound, Code.NOT_FOUND, 404),
        (errors.AlreadyExists, Code.ALREADY_EXISTS, 409),
        (errors.Conflict, Code.ABORTED, 409),
        (errors.FailedPrecondition, Code.FAILED_PRECONDITION, 409),
        (errors.Unauthenticated, Code.UNAUTHENTICATED, 401),
        (errors.PermissionDenied, Code.PERMISSION_DENIED, 403),
        (errors.Unavailable, Code.UNAVAILABLE, 503),
        (errors.DeadlineExceeded, Code.DEADLINE_EXCEEDED, 504),
        (errors.ResourceExhausted, Code.RESOURCE_EXHAUSTED, 429),
        (errors.Internal, Code.INTERNAL, 500),
    ],
)
def test_every_error_has_its_code_and_http_status(cls, code, status):
    error = cls("boom")
    assert error.code is code
    assert code.http_status == status
    assert str(error) == "boom"
    rebuilt = errors.from_code(code, "boom")
    assert type(rebuilt) is cls
    assert rebuilt.message == "boom"


def test_every_code_maps_to_exactly_one_class():
    assert set(errors.BY_CODE) == set(Code)
    assert {cls.code for cls in errors.BY_CODE.values()} == set(Code)


def test_invalid_argument_summarises_its_fields():
    error = errors.InvalidArgument(fields=[FieldViolation("a", "required"), FieldViolation("b.0", "bad")])
    assert error.message == "a: required; b.0: bad"
    assert errors.InvalidArgument.for_field("x", "too long").fields == (FieldViolation("x", "too long"),)


def test_from_code_keeps_fields_and_retry_after():
    error = errors.from_code(Code.INVALID_ARGUMENT, "bad", fields=[FieldViolation("f", "m")],
                             retry_after=2.0)
    assert isinstance(error, errors.InvalidArgument)
    assert error.fields == (FieldViolation("f", "m"),)
    assert error.retry_after == 2.0


def test_default_message_is_the_title():
    assert errors.NotFound().message == "Not found"


def test_unknown_exceptions_become_internal_without_their_text():
    error = errors.as_kit_error(RuntimeError("secret connection string"))
    assert isinstance(error, errors.Internal)
    assert "secret" not in error.message
    original = errors.NotFound("x")
    assert errors.as_kit_error(original) is original


def test_retryable_flags():
    assert errors.Unavailable().retryable
    assert errors.DeadlineExceeded().retryable
    assert errors.ResourceExhausted().retryable
    assert not errors.NotFound().retryable
    assert not errors.Conflict().retryable
