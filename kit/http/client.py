"""The HTTP client adapter: a remote HTTP endpoint as a local endpoint (Go kit's ``transport/http.Client``).

``HTTPClient("GET", "http://orders:3000/orders/{order_id}", no_body, json_decoder(Order))`` is a
callable ``GetOrder -> Order``: ``{name}`` placeholders in the URL are filled from the request's
attributes (URL-quoted), so query parameters work too (``/orders?customer_id={customer_id}``).

Each call:

- takes its timeout from ``min(timeout, kit.context.current().remaining())``; a deadline that has
  already passed raises ``DeadlineExceeded`` without sending anything. The server learns the time
  left from a ``Request-Timeout`` header (seconds), so deadlines cross the hop.
- opens a CLIENT span (tags ``http.method``, ``http.path``, ``http.status_code``; errors are tagged by
  the tracer as they leave the span) and injects its context into the outgoing headers.
- sends ``Authorization: Bearer <token>`` when given ``token`` (a string, or a callable asked for
  the current token on every call, e.g. a ``kit.auth.RefreshingToken``).
- turns an error response back into the kit error it came from (``kit.http.problem``), connection
  failures into ``Unavailable`` and timeouts into ``DeadlineExceeded``.

Connections are kept alive in a urllib3 ``PoolManager`` (thread-safe), one per client unless one is
shared through ``pool``. Nothing is retried here: retries are a middleware's decision.
"""

from __future__ import annotations

import ipaddress
import string
from collections.abc import Callable, Mapping
from typing import Generic, TypeAlias, TypeVar
from urllib.parse import quote, urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
)

from kit import context
from kit.auth.tokens import TokenSource, authorization_value
from kit.errors import DeadlineExceeded, KitError, Unavailable
from kit.http.problem import PROBLEM_JSON, error_from_response
from kit.http.server import TIMEOUT_HEADERS
from kit.tracing import NOOP_TRACER, SpanKind, Tracer

Req = TypeVar("Req")
Resp = TypeVar("Resp")

RequestEncoder: TypeAlias = Callable[[Req, dict[str, str]], bytes | None]
"""Returns the body for a request (None for none) and may set headers such as Content-Type."""
ResponseDecoder: TypeAlias = Callable[[int, Mapping[str, str], bytes], Resp]
"""Builds the response from a non-error status, the response headers and the body."""

DEFAULT_TIMEOUT = 10.0
_ACCEPT = f"application/json, {PROBLEM_JSON}"


class HTTPClient(Generic[Req, Resp]):
    """An endpoint that calls ``method url`` over HTTP with ``encode`` and ``decode``."""

    def __init__(
        self,
        method: str,
        url: str,
        encode: RequestEncoder[Req],
        decode: ResponseDecoder[Resp],
        *,
        pool: urllib3.PoolManager | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        tracer: Tracer = NOOP_TRACER,
        headers: Mapping[str, str] | None = None,
        name: str | None = None,
        token: TokenSource | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self._method = method.upper()
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._path = url[len(self._origin):] or "/"
        self._params = tuple(
            field for _, field, _, _ in string.Formatter().parse(self._path) if field
        )
        self._encode = encode
        self._decode = decode
        self._owns_pool = pool is None
        self._pool = pool if pool is not None else urllib3.PoolManager(maxsize=8)
        self._timeout = timeout
        self._tracer = tracer
        self._headers = {"Accept": _ACCEPT, **(headers or {})}
        self._name = name or urlsplit(self._path).path
        self._token = token
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._host_is_ip = _is_ip(parts.hostname)

    def __call__(self, request: Req) -> Resp:
        """Send ``request`` and return the decoded response, or raise the kit error it stands for."""
        timeout = self._timeout
        remaining = context.current().remaining()
        if remaining is not None:
            if remaining <= 0:
                raise DeadlineExceeded("deadline exceeded before the call")
            timeout = min(timeout, remaining)
        path = self._path
        if self._params:
            path = path.format_map(
                {p: quote(str(getattr(request, p)), safe="") for p in self._params}
            )
        headers = dict(self._headers)
        body = self._encode(request, headers)
        headers[TIMEOUT_HEADERS[0]] = f"{timeout:.3f}"
        if self._token is not None:
            headers["Authorization"] = authorization_value(self._token)
        with self._tracer.span(self._name, SpanKind.CLIENT) as span:
            span.tag("http.method", self._method)
            span.tag("http.path", path.partition("?")[0])
            if self._host_is_ip:
                span.remote_endpoint(ip=self._host, port=self._port)
            else:
                span.remote_endpoint(service_name=self._host, port=self._port)
            self._tracer.inject(headers)
            try:
                response = self._pool.request(
                    self._method, self._origin + path, body=body, headers=headers,
                    timeout=urllib3.Timeout(total=timeout), retries=False, redirect=False,
                )
            except HTTPError as exc:
                raise _transport_error(exc, self._origin) from exc
            status = response.status
            span.tag("http.status_code", str(status))
            if status >= 400:
                raise error_from_response(status, response.headers, response.data)
            return self._decode(status, response.headers, response.data)

    def close(self) -> None:
        """Close the pooled connections if this client created its pool."""
        if self._owns_pool:
            self._pool.clear()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _transport_error(exc: HTTPError, origin: str) -> KitError:
    if isinstance(exc, MaxRetryError) and isinstance(exc.reason, HTTPError):
        exc = exc.reason
    if isinstance(exc, NewConnectionError):
        return Unavailable(f"cannot connect to {origin}")
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
        return DeadlineExceeded(f"{origin} did not answer in time")
    return Unavailable(f"connection to {origin} failed: {type(exc).__name__}")
