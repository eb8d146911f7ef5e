"""The HTTP server adapter: serves one endpoint as a Flask view (Go kit's ``transport/http.Server``).

``HTTPServer(endpoint, decode, encode)`` is a view function::

    app.add_url_rule("/orders/<order_id>", view_func=HTTPServer(get_order, query_request(GetOrder),
                     json_response()), methods=["GET"])

Per request it opens a SERVER span named ``name`` or the route template, runs the ``before`` hooks,
opens a ``kit.context.scope`` with the request's metadata and deadline, decodes, calls the endpoint,
encodes, and runs the ``after`` hooks on the response. Any exception on the way is answered by the
error encoder (problem+json by default).

Authentication: with ``auth`` (a ``kit.auth.BearerAuth``), the request's ``Authorization: Bearer``
token is verified before anything else; a missing or bad one is answered 401 problem+json with
``WWW-Authenticate: Bearer`` and the endpoint is not called. The verified claims are the context's
``claims``; the header itself is then never put in the context metadata.

Request context:

- ``metadata``: the headers named in ``metadata_headers`` (lower-case keys), plus whatever the
  ``before`` hooks return.
- deadline: a ``Request-Timeout`` (or ``X-Request-Timeout``) header holding the seconds the caller
  will wait, as a decimal number (``2.5``); kit clients send it. A request that arrives with no time
  left is answered 504 without calling the endpoint; a malformed value is a 400.

Span tags: ``http.method``, ``http.path``, ``http.route``, ``http.status_code``, and ``error`` when the
status is 5xx or the endpoint raised an unexpected exception (client errors are not server errors).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeAlias, TypeVar

import flask
from werkzeug.exceptions import HTTPException

from kit import context
from kit.errors import DeadlineExceeded, InvalidArgument, KitError
from kit.http.problem import HTTPProblem, problem_response
from kit.tracing import NOOP_TRACER, SpanKind, Tracer

Req = TypeVar("Req")
Resp = TypeVar("Resp")

RequestDecoder: TypeAlias = Callable[[flask.Request, Mapping[str, Any]], Req]
"""Builds the endpoint's request from the Flask request and the route's path parameters."""
ResponseEncoder: TypeAlias = Callable[[Resp], flask.Response]
"""Builds the HTTP response from the endpoint's response."""
BeforeHook: TypeAlias = Callable[[flask.Request], Mapping[str, str] | None]
"""Runs before decoding; may raise a kit error, or return metadata to add to the request context."""
AfterHook: TypeAlias = Callable[[flask.Request, flask.Response], None]
"""Runs on every response the adapter produces (problems included); may change its headers.
An exception it raises is left to Flask (``install_problem_handlers`` answers it with a 500)."""
Authenticator: TypeAlias = Callable[[Mapping[str, str]], Mapping[str, Any]]
"""Verifies a request's headers (``kit.auth.BearerAuth``): the claims, or ``Unauthenticated``."""
ErrorEncoder: TypeAlias = Callable[[BaseException, flask.Request], flask.Response]
"""Answers an exception raised by a hook, the decoder, the endpoint or the encoder."""

DEFAULT_METADATA_HEADERS = ("x-request-id", "idempotency-key")
TIMEOUT_HEADERS = ("Request-Timeout", "X-Request-Timeout")

_log = logging.getLogger("kit.http")
_EXPECTED = (KitError, HTTPProblem, HTTPException)
_TIMEOUT_KEYS = tuple("HTTP_" + h.upper().replace("-", "_") for h in TIMEOUT_HEADERS)


def _environ_key(header: str) -> str:
    name = header.upper().replace("-", "_")
    return name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name


class WSGIHeaders(Mapping[str, str]):
    """A read-only, case-insensitive mapping view of the request headers in a WSGI environ.

    Iteration yields lower-case header names. It is what tracers get as the incoming carrier.
    """

    __slots__ = ("_environ",)

    def __init__(self, environ: Mapping[str, Any]) -> None:
        self._environ = environ

    def __getitem__(self, key: str) -> str:
        return str(self._environ[_environ_key(key)])

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def items(self) -> ItemsView[str, str]:
        """All headers at once, in one pass over the environ (carriers such as B3 read them whole)."""
        return self._all().items()

    def _all(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for key, value in self._environ.items():
            if key.startswith("HTTP_"):
                found[key[5:].replace("_", "-").lower()] = value
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
                found[key.replace("_", "-").lower()] = value
        return found


def request_timeout(environ: Mapping[str, Any]) -> float | None:
    """The seconds the caller will wait, from the request's timeout header, or None."""
    raw = None
    for key in _TIMEOUT_KEYS:
        raw = environ.get(key)
        if raw is not None:
            break
    else:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if math.isnan(seconds):
        raise InvalidArgument.for_field(TIMEOUT_HEADERS[0], "must be a number of seconds")
    return max(seconds, 0.0)


class HTTPServer(Generic[Req, Resp]):
    """A Flask view function that serves ``endpoint`` through ``decode`` and ``encode``."""

    __slots__ = ("__name__", "_after", "_auth", "_before", "_decode", "_encode", "_endpoint",
                 "_error_encoder", "_metadata_keys", "_name", "_tracer")

    def __init__(
        self,
        endpoint: Callable[[Req], Resp],
        decode: RequestDecoder[Req],
        encode: ResponseEncoder[Resp],
        *,
        before: Iterable[BeforeHook] = (),
        after: Iterable[AfterHook] = (),
        error_encoder: ErrorEncoder = problem_response,
        tracer: Tracer = NOOP_TRACER,
        name: str | None = None,
        metadata_headers: Iterable[str] = DEFAULT_METADATA_HEADERS,
        auth: Authenticator | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._auth = auth
        self._decode = decode
        self._encode = encode
        self._before = tuple(before)
        self._after = tuple(after)
        self._error_encoder = error_encoder
        self._tracer = tracer
        self._name = name
        # With auth on, the bearer token stays out of the context even if named here.
        self._metadata_keys = tuple((h.lower(), _environ_key(h)) for h in metadata_headers
                                    if auth is None or h.lower() != "authorization")
        # Flask names the URL rule's endpoint after the view function unless told otherwise.
        self.__name__ = name or getattr(endpoint, "__name__", type(self).__name__)

    @property
    def name(self) -> str | None:
        """The span name given at construction (None: spans are named after the route template)."""
        return self._name

    def __call__(self, **view_args: Any) -> flask.Response:
        """Handle the current Flask request; Flask passes the route's path parameters."""
        request: flask.Request = flask.request._get_current_object()  # type: ignore[attr-defined]
        environ = request.environ
        path = request.path
        rule = request.url_rule
        route = rule.rule if rule is not None else path
        with self._tracer.span(self._name or route, SpanKind.SERVER,
                               headers=WSGIHeaders(environ)) as span:
            span.tag("http.method", request.method)
            span.tag("http.path", path)
            span.tag("http.route", route)
            error: str | None = None
            unexpected = False
            try:
                response = self._respond(request, view_args, environ)
            except Exception as exc:
                if isinstance(exc, _EXPECTED):
                    error = str(exc)
                else:
                    _log.exception("unhandled exception serving %s %s", request.method, path)
                    unexpected = True
                    span.tag("error", type(exc).__name__)
                response = self._error_encoder(exc, request)
            for hook in self._after:
                hook(request, response)
            status = response.status_code
            span.tag("http.status_code", str(status))
            if status >= 500 and not unexpected:
                span.tag("error", error or str(status))
        return response

    def _respond(self, request: flask.Request, view_args: Mapping[str, Any],
                 environ: Mapping[str, Any]) -> flask.Response:
        claims = None if self._auth is None else self._auth(WSGIHeaders(environ))
        metadata: dict[str, str] | None = None
        for name, key in self._metadata_keys:
            value = environ.get(key)
            if value is not None:
                if metadata is None:
                    metadata = {}
                metadata[name] = value
        for hook in self._before:
            extra = hook(request)
            if extra:
                metadata = {**(metadata or {}), **{k.lower(): v for k, v in extra.items()}}
        timeout = request_timeout(environ)
        if metadata is None and timeout is None and claims is None:
            # Nothing to add to the inherited context: skip the scope on the common path.
            return self._encode(self._endpoint(self._decode(request, view_args)))
        if timeout is not None and timeout <= 0:
            raise DeadlineExceeded("the caller's deadline passed before the request was handled")
        with context.scope(metadata=metadata, timeout=timeout, claims=claims):
            return self._encode(self._endpoint(self._decode(request, view_args)))
