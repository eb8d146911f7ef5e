"""The event store's use cases: append, read, and follow the log.

``follow`` is how ``GetEventsStream`` works: it reads pages by global position from where the
client wants to start, then waits for new commits and reads again, until it is stopped. Because
commit order equals position order (see ``positions``), reading ``position >= next`` after seeing
the head never misses an event and never repeats one, so there is no special "switch" from
catch-up to live: live is catch-up that has caught up. It is woken by commits of this process
and polls every ``poll_interval`` seconds for commits of other processes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace

from eventstoresvc.domain import Append, AppendOutcome, Event, EventQuery, ExpectedVersion, RecordedEvent
from eventstoresvc.repository import EventRepository
from eventstoresvc.validation import Limits, validate_append, validate_batch, validate_query
from kit import context

NEVER = threading.Event()  # a stop signal nobody sets


def _with_request_trace(event: Event) -> Event:
    """Record the trace of the current request unless the client named one explicitly."""
    trace = context.current().trace
    if event.metadata.trace_id or trace is None:
        return event
    sampled = "d" if trace.debug else "" if trace.sampled is None else "1" if trace.sampled else "0"
    metadata = replace(event.metadata, trace_id=trace.trace_id, span_id=trace.span_id,
                       parent_span_id=trace.parent_id or "", sampled=sampled)
    return replace(event, metadata=metadata)


class EventStoreService:
    """Validates requests and runs them against an ``EventRepository``."""

    def __init__(
        self,
        repository: EventRepository,
        *,
        limits: Limits | None = None,
        poll_interval: float = 0.25,
        page_size: int = 500,
    ) -> None:
        self._repository = repository
        self._limits = limits or Limits()
        self._poll_interval = poll_interval
        self._page_size = page_size
        self._closing = threading.Event()

    def create_event(self, event: Event, expected: ExpectedVersion | None = None) -> RecordedEvent:
        """Validate and append ``event``; return it as stored (also for an idempotent retry)."""
        expected = expected or ExpectedVersion.any()
        event = validate_append(event, expected, self._limits)
        return self._repository.append(_with_request_trace(event), expected)

    def append_events(self, items: Sequence[Append], *, all_or_nothing: bool = False) -> list[AppendOutcome]:
        """Validate every item, then append them in order in one transaction; one outcome each.

        A bad item fails the whole call with ``InvalidArgument`` before anything is stored. Conflicts
        are outcomes, not errors (see ``EventRepository.append_batch``).
        """
        checked = validate_batch(items, self._limits)
        return self._repository.append_batch(
            [replace(item, event=_with_request_trace(item.event)) for item in checked],
            all_or_nothing=all_or_nothing)

    def get_events(self, query: EventQuery) -> list[RecordedEvent]:
        """Stored events matching ``query`` in global position order."""
        return self._repository.read(validate_query(query))

    def follow(self, query: EventQuery, stop: threading.Event = NEVER) -> Iterator[RecordedEvent]:
        """Events matching ``query`` from ``query.from_position`` on, then live ones, until stopped.

        Ends when ``stop`` is set, the request's deadline passes, or the service closes.
        ``query.limit`` is ignored: a stream has no end.
        """
        return self._follow(validate_query(replace(query, limit=None)), stop)

    def _follow(self, query: EventQuery, stop: threading.Event) -> Iterator[RecordedEvent]:
        next_position = max(query.from_position, 1)

        def running() -> bool:
            return not (stop.is_set() or self._closing.is_set() or context.current().expired())

        while running():
            head = self._repository.head()
            page: list[RecordedEvent] = []
            if head >= next_position:
                page = self._repository.read(
                    replace(query, from_position=next_position, limit=self._page_size))
                # Everything up to the head (and up to the last event read) was visible to that read.
                next_position = max(head, page[-1].position if page else 0) + 1
                if len(page) == self._page_size:
                    next_position = page[-1].position + 1
            for event in page:
                yield event
                if not running():
                    return
            if len(page) < self._page_size:
                self._repository.wait_for_append(next_position - 1, self._wait_time())

    def _wait_time(self) -> float:
        remaining = context.current().remaining()
        return self._poll_interval if remaining is None else max(0.0, min(self._poll_interval, remaining))

    def close(self) -> None:
        """End every running ``follow`` (at its next poll)."""
        self._closing.set()
