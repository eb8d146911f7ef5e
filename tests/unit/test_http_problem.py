"""The problem+json wire format both ways: documents from errors, errors from responses."""

from __future__ import annotations

import email.utils
import json
import time

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from kit import errors
from kit.http.problem import (
    HTTPProblem,
    code_for_status,
    error_from_response,
    parse_retry_after,
    problem_document,
)


def round_trip(exc: BaseException) -> errors.KitError:
    status, doc, headers = problem_document(exc, "/x")
    return error_from_response(status, headers, json.dumps(doc).encode())


@pytest.mark.parametrize("cls", list(errors.BY_CODE.values()), ids=lambda c: c.__name__)
def test_every_error_survives_the_wire_format(cls: type[errors.KitError]) -> None:
    back = round_trip(cls("it went wrong", retry_after=4))
    assert type(back) is cls
    assert back.message == "it went wrong"
    assert back.retry_after == 4


def test_field_violations_survive_the_wire_format() -> None:
    violations = [errors.FieldViolation("order_items.0.quantity", "must be positive"),
                  errors.FieldViolation("amount", "required")]
    back = round_trip(errors.InvalidArgument(fields=violations))
    assert isinstance(back, errors.InvalidArgument)
    assert back.fields == tuple(violations)


def test_unexpected_exceptions_become_a_bare_internal_problem() -> None:
    status, doc, headers = problem_document(KeyError("customer table"), "/orders")
    assert status == 500
    assert doc == {"type": "urn:problem-type:internal", "title": "Internal error", "status": 500,
                   "detail": "Internal error", "instance": "/orders", "code": "INTERNAL"}
    assert headers == {}


def test_unavailable_always_says_when_to_retry() -> None:
    assert problem_document(errors.Unavailable("db down"), "/")[2] == {"Retry-After": "1"}
    assert problem_document(errors.Unavailable("db down", retry_after=0.2), "/")[2] == {"Retry-After": "1"}
    assert problem_document(errors.Unavailable("db down", retry_after=30), "/")[2] == {"Retry-After": "30"}


def test_werkzeug_errors_are_about_blank_problems() -> None:
    status, doc, headers = problem_document(MethodNotAllowed(valid_methods=["GET", "HEAD"]), "/o")
    assert (status, doc["type"], doc["title"]) == (405, "about:blank", "Method Not Allowed")
    assert "code" not in doc
    assert headers == {"Allow": "GET, HEAD"}
    assert problem_document(NotFound(), "/o")[1]["title"] == "Not Found"


def test_http_problem_defaults_its_title_and_detail_to_the_status_phrase() -> None:
    status, doc, _ = problem_document(HTTPProblem(415), "/o")
    assert (status, doc["title"], doc["detail"]) == (415, "Unsupported Media Type", "Unsupported Media Type")


@pytest.mark.parametrize(("status", "cls"), [
    (400, errors.InvalidArgument), (401, errors.Unauthenticated), (403, errors.PermissionDenied),
    (404, errors.NotFound), (405, errors.InvalidArgument), (409, errors.Conflict),
    (413, errors.InvalidArgument), (415, errors.InvalidArgument), (429, errors.ResourceExhausted),
    (500, errors.Internal), (501, errors.Internal), (502, errors.Unavailable),
    (503, errors.Unavailable), (504, errors.DeadlineExceeded),
])
def test_bare_statuses_map_to_sensible_errors(status: int, cls: type[errors.KitError]) -> None:
    error = error_from_response(status, {"Content-Type": "text/html"}, b"<h1>oops</h1>")
    assert type(error) is cls
    assert error.message.startswith(f"HTTP {status} ")
    assert errors.BY_CODE[code_for_status(status)] is cls


def test_about_blank_problem_keeps_its_detail_and_maps_by_status() -> None:
    status, doc, headers = problem_document(HTTPProblem(415, "send JSON"), "/o")
    error = error_from_response(status, headers, json.dumps(doc).encode())
    assert type(error) is errors.InvalidArgument
    assert error.message == "send JSON"


def test_unknown_problem_code_falls_back_to_the_status() -> None:
    body = json.dumps({"status": 501, "code": "UNIMPLEMENTED", "detail": "no such method"}).encode()
    error = error_from_response(501, {}, body)
    assert type(error) is errors.Internal
    assert error.message == "no such method"


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after(None) is None
    assert parse_retry_after("whenever") is None
    later = parse_retry_after(email.utils.formatdate(time.time() + 60, usegmt=True))
    assert later is not None and 50 < later <= 60
    assert parse_retry_after(email.utils.formatdate(time.time() - 60, usegmt=True)) == 0
