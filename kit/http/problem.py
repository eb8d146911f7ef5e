"""RFC 9457 problem details: errors to ``application/problem+json`` and back.

The server side turns any exception into a problem response; the client side turns a problem
response back into the ``kit.errors`` exception it came from. The document looks like::

    {"type": "urn:problem-type:not-found", "title": "Not found", "status": 404,
     "detail": "order 42 not found", "instance": "/orders/42", "code": "NOT_FOUND"}

- Errors of the kit taxonomy get ``type`` ``urn:problem-type:<code slug>``, their title, their
  message as ``detail`` and the canonical ``code``; ``InvalidArgument`` adds
  ``"errors": [{"field": ..., "message": ...}]``.
- Plain HTTP conditions (unknown route 404, 405, 413, 415, a werkzeug 400, ``HTTPProblem``) have no
  meaning beyond their status, so they use ``type`` ``about:blank``, the status phrase as ``title``
  and no ``code``.
- Anything else is an unexpected failure: a 500 ``INTERNAL`` problem whose body says nothing about
  the exception (the server adapter logs it).

An ``UNAUTHENTICATED`` problem carries ``WWW-Authenticate: Bearer`` (RFC 6750), naming the scheme
the caller must use. ``Retry-After`` (whole seconds, rounded up) is set when the error carries
``retry_after``, and always for ``UNAVAILABLE`` (one second unless the error says otherwise).
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import flask
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from kit.errors import (
    Code,
    FieldViolation,
    InvalidArgument,
    KitError,
    as_kit_error,
    from_code,
)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:problem-type:"
BEARER_CHALLENGE = "Bearer"
"""The ``WWW-Authenticate`` challenge of a 401."""
UNAVAILABLE_RETRY_AFTER = 1.0
"""Seconds a client is told to wait after a 503 whose error names no ``retry_after``."""


class HTTPProblem(Exception):
    """An HTTP-only failure with no kit error code (415, 413, ...), answered as an about:blank problem."""

    def __init__(self, status: int, detail: str = "", *, title: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        phrase = _phrase(status)
        super().__init__(detail or phrase)
        self.status = status
        self.title = title or phrase
        self.detail = detail or phrase
        self.headers = dict(headers or {})


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def problem_document(exc: BaseException, instance: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The status, problem document and extra headers that answer ``exc`` at path ``instance``."""
    headers: dict[str, str] = {}
    if isinstance(exc, HTTPProblem):
        headers.update(exc.headers)
        return exc.status, _plain(exc.status, exc.title, exc.detail, instance), headers
    if isinstance(exc, HTTPException) and exc.code is not None:
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        detail = exc.description or _phrase(exc.code)
        return exc.code, _plain(exc.code, _phrase(exc.code), detail, instance), headers
    error = as_kit_error(exc)
    code = error.code
    status = code.http_status
    doc: dict[str, Any] = {
        "type": TYPE_PREFIX + code.slug,
        "title": error.title,
        "status": status,
        "detail": error.message,
        "instance": instance,
        "code": code.value,
    }
    if isinstance(error, InvalidArgument) and error.fields:
        doc["errors"] = [{"field": f.field, "message": f.message} for f in error.fields]
    retry_after = error.retry_after
    if retry_after is None and code is Code.UNAVAILABLE:
        retry_after = UNAVAILABLE_RETRY_AFTER
    if code is Code.UNAUTHENTICATED:
        headers["WWW-Authenticate"] = BEARER_CHALLENGE
    if retry_after is not None:
        headers["Retry-After"] = str(max(0, math.ceil(retry_after)))
    return status, doc, headers


def _plain(status: int, title: str, detail: str, instance: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail,
            "instance": instance}


def problem_response(exc: BaseException, request: flask.Request) -> flask.Response:
    """Answer ``exc`` as an ``application/problem+json`` response (the default error encoder)."""
    status, doc, headers = problem_document(exc, request.path)
    response = flask.Response(json.dumps(doc).encode(), status, content_type=PROBLEM_JSON)
    if headers:
        response.headers.update(headers)
    return response


# How a kit client reads an error status that carries no problem ``code`` (a proxy's 502, a
# framework's 404 or 415): the closest canonical code; other 4xx blame the request, other 5xx the server.
STATUS_CODES: Mapping[int, Code] = {
    400: Code.INVALID_ARGUMENT,
    401: Code.UNAUTHENTICATED,
    403: Code.PERMISSION_DENIED,
    404: Code.NOT_FOUND,
    408: Code.DEADLINE_EXCEEDED,
    409: Code.ABORTED,
    410: Code.NOT_FOUND,
    412: Code.FAILED_PRECONDITION,
    413: Code.INVALID_ARGUMENT,
    415: Code.INVALID_ARGUMENT,
    422: Code.INVALID_ARGUMENT,
    428: Code.FAILED_PRECONDITION,
    429: Code.RESOURCE_EXHAUSTED,
    500: Code.INTERNAL,
    502: Code.UNAVAILABLE,
    503: Code.UNAVAILABLE,
    504: Code.DEADLINE_EXCEEDED,
}


def code_for_status(status: int) -> Code:
    """The canonical code a bare HTTP error status maps to."""
    code = STATUS_CODES.get(status)
    if code is not None:
        return code
    return Code.INVALID_ARGUMENT if status < 500 else Code.INTERNAL


def error_from_response(status: int, headers: Mapping[str, str], body: bytes) -> KitError:
    """Rebuild the kit error an HTTP error response stands for.

    A problem document with a known ``code`` gives back that error with its detail, field
    violations and ``Retry-After``; any other error response maps by status (``code_for_status``)
    with the problem's detail or the status phrase as message.
    """
    retry_after = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
    doc = _json_object(body)
    message = ""
    code: Code | None = None
    fields: list[FieldViolation] = []
    if doc is not None:
        detail = doc.get("detail") or doc.get("title")
        if isinstance(detail, str):
            message = detail
        raw_code = doc.get("code")
        if isinstance(raw_code, str) and raw_code in Code.__members__:
            code = Code[raw_code]
        raw_errors = doc.get("errors")
        if isinstance(raw_errors, list):
            fields = [
                FieldViolation(str(e.get("field", "")), str(e.get("message", "")))
                for e in raw_errors if isinstance(e, dict)
            ]
    if code is None:
        code = code_for_status(status)
    if not message:
        message = f"HTTP {status} {_phrase(status)}"
    return from_code(code, message, fields=fields, retry_after=retry_after)


def _json_object(body: bytes) -> dict[str, Any] | None:
    if not body:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
