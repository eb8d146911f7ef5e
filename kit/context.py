"""Request context carried by ``contextvars``: trace ids, deadline, metadata and verified claims.

Transports open a scope when a request arrives (from headers or gRPC metadata) and clients read it
when they call out, so the deadline and trace flow through a service without a ``ctx`` argument on
every function. Transports that authenticate a request put the verified token claims there too
(``kit.auth``); the raw token never enters the context. ``contextvars`` follow threads started
with ``contextvars.copy_context()`` and asyncio tasks, and are isolated between concurrent requests.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from kit import errors


@dataclass(frozen=True)
class TraceContext:
    """The identity of the current span, as propagated in B3 headers (ids are lower-case hex)."""

    trace_id: str
    span_id: str
    parent_id: str | None = None
    sampled: bool | None = None
    debug: bool = False


_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class RequestContext:
    """What a request carries besides its payload.

    ``deadline`` is an absolute ``time.monotonic()`` instant, or None for no deadline.
    ``metadata`` holds the incoming headers / metadata a service may care about (lower-case keys).
    ``claims`` are the verified claims of the caller's bearer token, or None when unauthenticated.
    """

    trace: TraceContext | None = None
    deadline: float | None = None
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    claims: Mapping[str, Any] | None = None

    def remaining(self) -> float | None:
        """Seconds left before the deadline (may be negative), or None without a deadline."""
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        remaining = self.remaining()
        return remaining is not None and remaining <= 0


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "kit_request_context", default=RequestContext()  # noqa: B039 (frozen, immutable)
)


def current() -> RequestContext:
    """The context of the request being handled (an empty one outside any request)."""
    return _current.get()


class _Scope:
    """Sets a context on enter and restores the previous one on exit (cheaper than a generator)."""

    __slots__ = ("_ctx", "_token")

    def __init__(self, ctx: RequestContext) -> None:
        self._ctx = ctx
        self._token: contextvars.Token[RequestContext] | None = None

    def __enter__(self) -> RequestContext:
        self._token = _current.set(self._ctx)
        return self._ctx

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _current.reset(self._token)


def scope(
    *,
    trace: TraceContext | None = None,
    deadline: float | None = None,
    timeout: float | None = None,
    metadata: Mapping[str, str] | None = None,
    claims: Mapping[str, Any] | None = None,
) -> AbstractContextManager[RequestContext]:
    """Run a block under a derived context; fields not given are inherited from the current one.

    A deadline can only be narrowed: the earlier of the inherited deadline, ``deadline`` and
    ``now + timeout`` wins. ``metadata`` is merged over the inherited metadata; ``claims``
    replace the inherited ones.
    """
    parent = _current.get()
    new_deadline = parent.deadline
    if timeout is not None:
        by_timeout = time.monotonic() + timeout
        deadline = by_timeout if deadline is None else min(deadline, by_timeout)
    if deadline is not None and (new_deadline is None or deadline < new_deadline):
        new_deadline = deadline
    merged = parent.metadata
    if metadata:
        merged = MappingProxyType({**parent.metadata, **metadata} if merged else metadata)
    return _Scope(RequestContext(trace or parent.trace, new_deadline, merged,
                                 parent.claims if claims is None else claims))


def check_deadline() -> None:
    """Raise ``DeadlineExceeded`` if the current request's deadline has passed."""
    if _current.get().expired():
        raise errors.DeadlineExceeded("deadline exceeded before the call")
