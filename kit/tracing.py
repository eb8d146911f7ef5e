"""The tracing seam transports call: a ``Tracer`` opens spans and propagates their context.

Server and consumer adapters open a SERVER / CONSUMER span from the incoming headers (B3); client
and producer adapters open a CLIENT / PRODUCER span as a child of the current one and ``inject`` its
context into the outgoing headers. While a span is open, ``kit.context.current().trace`` names it.
``NOOP_TRACER`` is the default: tracing off, at almost no cost. The Zipkin implementation lives in
``kit.zipkin``; tests use ``kit.testing`` collectors.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, MutableMapping
from contextlib import AbstractContextManager
from typing import Protocol


class SpanKind(enum.Enum):
    """The role of a span, as in Zipkin v2."""

    SERVER = "SERVER"
    CLIENT = "CLIENT"
    PRODUCER = "PRODUCER"
    CONSUMER = "CONSUMER"


class Span(Protocol):
    """An open span that adapters annotate."""

    def tag(self, key: str, value: str) -> None:
        """Attach a string tag (``http.status_code``, ``error``, ...)."""

    def remote_endpoint(self, *, service_name: str | None = None, ip: str | None = None,
                        port: int | None = None) -> None:
        """Name the peer of this span (the server a client calls, the client a server answers)."""


class Tracer(Protocol):
    """Opens spans and moves their context in and out of carrier headers."""

    def span(
        self, name: str, kind: SpanKind, *, headers: Mapping[str, str] | None = None
    ) -> AbstractContextManager[Span]:
        """Open a span named ``name`` (low cardinality: a route template or RPC method).

        For SERVER and CONSUMER spans ``headers`` are the incoming headers (keys case-insensitive
        as given by the transport); their B3 context, if valid, makes this span a child, otherwise a
        new trace starts. CLIENT and PRODUCER spans are children of the current span, or, given
        ``headers`` that carry a context, of that one (a message published on behalf of an earlier
        request). An exception leaving the block is tagged as ``error`` and re-raised.
        """

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Write the current span's context into outgoing headers (B3), if any span is open."""


class _NoopSpan:
    """A span that records nothing; also its own context manager, so opening one allocates nothing."""

    def __enter__(self) -> _NoopSpan:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def tag(self, key: str, value: str) -> None:
        del key, value

    def remote_endpoint(self, *, service_name: str | None = None, ip: str | None = None,
                        port: int | None = None) -> None:
        del service_name, ip, port


_NOOP_SPAN = _NoopSpan()


class NoopTracer:
    """A tracer that records and propagates nothing."""

    def span(
        self, name: str, kind: SpanKind, *, headers: Mapping[str, str] | None = None
    ) -> AbstractContextManager[Span]:
        """Open a span that records nothing."""
        del name, kind, headers
        return _NOOP_SPAN

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Write nothing."""
        del headers


NOOP_TRACER: Tracer = NoopTracer()
