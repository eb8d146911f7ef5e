"""The Zipkin span kit records: an open span while its block runs, a finished record afterwards.

Spans are built here rather than with py-zipkin's ``zipkin_span``: that one keeps its state in
thread-locals (kit propagates context with ``contextvars``, which also follow asyncio tasks) and does
more work per span than a request path can afford. A span is its own context manager, so opening one
allocates one object; the reporter's background thread encodes the finished spans to Zipkin v2 JSON
(see ``kit.zipkin.encoding``).
"""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager
from types import TracebackType
from typing import NamedTuple, Protocol

from kit import context as kit_context
from kit import errors
from kit.context import TraceContext
from kit.tracing import SpanKind


class Endpoint(NamedTuple):
    """A node of the service graph: the local service or the peer of a span."""

    service_name: str | None = None
    ip: str | None = None
    port: int | None = None


class Reporter(Protocol):
    """Receives finished, sampled spans; must return at once (no IO on the caller's thread)."""

    def report(self, span: ZipkinSpan) -> None:
        """Accept one finished span for delivery."""


def error_text(exc: BaseException) -> str:
    """The ``error`` tag value for an exception: its code name for kit errors, else its message."""
    if isinstance(exc, errors.KitError):
        return f"{exc.code.name}: {exc.message}"
    return str(exc) or type(exc).__name__


class ZipkinSpan:
    """A span: open while its ``with`` block runs, then a record handed to the reporter if sampled.

    Ids are lower-case hex; ``timestamp_us`` is epoch microseconds and ``duration_us`` microseconds
    (at least 1), set when the block ends. While the block runs ``kit.context.current().trace`` is
    this span's ``context``.
    """

    __slots__ = (
        "_reporter",
        "_scope",
        "_start_ns",
        "context",
        "duration_us",
        "kind",
        "local",
        "name",
        "remote",
        "tags",
        "timestamp_us",
    )

    def __init__(
        self,
        name: str,
        kind: SpanKind,
        context: TraceContext,
        local: Endpoint,
        reporter: Reporter | None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.context = context
        self.local = local
        self.remote: Endpoint | None = None
        self.tags: dict[str, str] = {}
        self.timestamp_us = 0
        self.duration_us = 0
        self._start_ns = 0
        self._reporter = reporter
        self._scope: AbstractContextManager[object] | None = None

    @property
    def trace_id(self) -> str:
        """The trace this span belongs to."""
        return self.context.trace_id

    @property
    def span_id(self) -> str:
        """This span's id."""
        return self.context.span_id

    @property
    def parent_id(self) -> str | None:
        """The parent span's id, None for a root span."""
        return self.context.parent_id

    @property
    def sampled(self) -> bool:
        """Whether this span is reported (unsampled spans still propagate their ids)."""
        return bool(self.context.sampled)

    def tag(self, key: str, value: str) -> None:
        """Attach a string tag (``http.status_code``, ``error``, ...)."""
        self.tags[key] = str(value)

    def remote_endpoint(self, *, service_name: str | None = None, ip: str | None = None,
                        port: int | None = None) -> None:
        """Name the peer of this span (the server a client calls, the client a server answers)."""
        self.remote = Endpoint(service_name, ip, port)

    def __enter__(self) -> ZipkinSpan:
        self.timestamp_us = time.time_ns() // 1000
        self._start_ns = time.perf_counter_ns()
        scope = kit_context.scope(trace=self.context)
        scope.__enter__()
        self._scope = scope
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.duration_us = max(1, (time.perf_counter_ns() - self._start_ns) // 1000)
        if self._scope is not None:
            self._scope.__exit__(None, None, None)
            self._scope = None
        if exc is not None and "error" not in self.tags:
            self.tags["error"] = error_text(exc)
        if self._reporter is not None and self.context.sampled:
            try:
                self._reporter.report(self)
            except Exception:
                # Tracing must never fail the traced request; reporters count their own drops.
                logging.getLogger(__name__).warning("span reporter failed", exc_info=True)

    def __repr__(self) -> str:
        return (
            f"ZipkinSpan(name={self.name!r}, kind={self.kind.value}, trace_id={self.trace_id}, "
            f"span_id={self.span_id}, parent_id={self.parent_id}, tags={self.tags!r})"
        )
