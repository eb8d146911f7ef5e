"""Server-Sent Events: a ``text/event-stream`` Flask view over a generator, for any kit service.

``EventStream(source)`` is a view. Per request it reads the id to resume after (the
``Last-Event-ID`` header that a reconnecting ``EventSource`` sends, else the ``last_event_id`` query
parameter, for a first connection that already knows where it stands), takes one of
``max_subscribers`` slots (past the bound it answers 429 problem+json with ``Retry-After``), calls
``source(last_event_id)`` and streams what the iterator it returns yields:

- a ``ServerSentEvent`` is sent as one event (``id:``, ``event:``, ``data:`` lines);
- ``None`` means "nothing new yet": when ``heartbeat`` seconds have passed since the last write a
  comment line (``: keep-alive``) is sent, which keeps proxies from closing an idle stream and is
  how a vanished client is noticed (the write fails, the server closes the iterator).

A source must therefore yield ``None`` at least every ``heartbeat`` seconds while idle
(``Broadcaster`` subscriptions do: ``Subscription.items(wait)``). ``source`` is called before the
response starts, so it may raise a kit error (``InvalidArgument`` for a malformed id) and the client
gets a problem+json answer; the iterator it returns is closed when the stream ends, whichever side
ends it, and the slot is freed then. Each stream holds one server thread for its life (WSGI), which
is why the number of subscribers is bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import flask

from kit.errors import ResourceExhausted
from kit.http.problem import problem_response

LAST_EVENT_ID = "Last-Event-ID"
LAST_EVENT_ID_PARAM = "last_event_id"
HEARTBEAT = 15.0
EVENT_STREAM = "text/event-stream"

Source = Callable[[str | None], Iterator["ServerSentEvent | None"]]
"""Called with the id to resume after (None: from now); returns the events to send."""


@dataclass(frozen=True)
class ServerSentEvent:
    """One event: ``data`` (any text, newlines allowed), an optional ``id`` and ``event`` name."""

    data: str
    id: str | None = None
    event: str | None = None

    def encode(self) -> bytes:
        """The event in the ``text/event-stream`` format, ending with the blank line."""
        lines = []
        if self.event is not None:
            lines.append(f"event: {_field(self.event)}")
        if self.id is not None:
            lines.append(f"id: {_field(self.id)}")
        lines.extend(f"data: {line}" for line in self.data.replace("\r\n", "\n").split("\n"))
        return ("\n".join(lines) + "\n\n").encode()


def _field(value: str) -> str:
    if any(c in value for c in "\r\n\x00"):
        raise ValueError(f"an SSE field must be one line without NUL: {value!r}")
    return value


class SubscriberSlots:
    """A thread-safe count of open streams, bounded by ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._active = 0

    def acquire(self) -> bool:
        """Take a slot; False when all ``limit`` are taken."""
        with self._lock:
            if self._active >= self.limit:
                return False
            self._active += 1
            return True

    def release(self) -> None:
        """Give a slot back."""
        with self._lock:
            self._active -= 1

    @property
    def active(self) -> int:
        """Slots taken now."""
        with self._lock:
            return self._active


class EventStream:
    """A Flask view streaming ``source(last_event_id)`` as Server-Sent Events."""

    def __init__(self, source: Source, *, heartbeat: float = HEARTBEAT, max_subscribers: int = 16,
                 retry_ms: int | None = None, retry_after: float = 1.0, name: str = "event_stream") -> None:
        self._source = source
        self._heartbeat = heartbeat
        self._retry_ms = retry_ms
        self._retry_after = retry_after
        self.slots = SubscriberSlots(max_subscribers)
        self.__name__ = name

    def __call__(self, **view_args: Any) -> flask.Response:
        """Answer the current request with the stream, or a problem when it cannot start."""
        del view_args
        request = flask.request
        last_id = request.headers.get(LAST_EVENT_ID) or request.args.get(LAST_EVENT_ID_PARAM) or None
        if not self.slots.acquire():
            exc = ResourceExhausted(f"at most {self.slots.limit} event streams may be open at once",
                                    retry_after=self._retry_after)
            return problem_response(exc, request)
        try:
            events = self._source(last_id)
        except Exception as exc:
            self.slots.release()
            return problem_response(exc, request)
        response = flask.Response(self._stream(events), mimetype=EVENT_STREAM)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
        return response

    def _stream(self, events: Iterator[ServerSentEvent | None]) -> _Stream:
        return _Stream(events, self.slots, self._heartbeat, self._retry_ms)


class _Stream:
    """The response body: closing it (even before the first write) closes the source and frees the slot."""

    def __init__(self, events: Iterator[ServerSentEvent | None], slots: SubscriberSlots,
                 heartbeat: float, retry_ms: int | None) -> None:
        self._events = events
        self._slots = slots
        self._heartbeat = heartbeat
        self._retry_ms = retry_ms
        self._lock = threading.Lock()
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        # The first write sends the headers at once, so the client sees the stream open.
        yield (f"retry: {self._retry_ms}\n\n" if self._retry_ms else ": connected\n\n").encode()
        written = time.monotonic()
        for event in self._events:
            if event is not None:
                yield event.encode()
                written = time.monotonic()
            elif time.monotonic() - written >= self._heartbeat:
                yield b": keep-alive\n\n"
                written = time.monotonic()

    def close(self) -> None:
        """Close the source and free the slot, once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        close = getattr(self._events, "close", None)
        try:
            if close is not None:
                close()
        finally:
            self._slots.release()
