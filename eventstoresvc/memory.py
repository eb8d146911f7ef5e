"""An in-memory ``EventRepository`` with the same behaviour as the SQL one, for unit tests."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from eventstoresvc.domain import Event, EventQuery, ExpectedVersion, RecordedEvent, conflict_message
from kit.errors import Conflict


class InMemoryEventRepository:
    """Events in a list; positions and versions assigned under one lock."""

    def __init__(self) -> None:
        self._events: list[RecordedEvent] = []
        self._by_id: dict[str, RecordedEvent] = {}
        self._versions: dict[str, int] = {}
        self._outbox: dict[int, RecordedEvent] = {}
        self._changed = threading.Condition()

    def append(self, event: Event, expected: ExpectedVersion) -> RecordedEvent:
        """Store ``event`` as the next version of its aggregate, or return the stored duplicate."""
        with self._changed:
            prior = self._by_id.get(event.event_id)
            if prior is not None:
                if event.same_content(prior):
                    return prior
                raise Conflict(f"event {event.event_id!r} is already stored with a different content "
                               f"(aggregate {prior.aggregate_id!r}, version {prior.version})")
            current = self._versions.get(event.aggregate_id, 0)
            if not expected.allows(current):
                raise Conflict(conflict_message(event.aggregate_id, current, expected))
            record = RecordedEvent(
                event_id=event.event_id, event_type=event.event_type, aggregate_id=event.aggregate_id,
                aggregate_type=event.aggregate_type, event_data=event.event_data, stream=event.stream,
                version=current + 1, position=len(self._events) + 1, created_at=datetime.now(UTC),
                metadata=event.metadata,
            )
            self._events.append(record)
            self._by_id[record.event_id] = record
            self._versions[record.aggregate_id] = record.version
            self._outbox[record.position] = record
            self._changed.notify_all()
            return record

    def read(self, query: EventQuery) -> list[RecordedEvent]:
        """Stored events matching ``query``, oldest position first."""
        with self._changed:
            found = [e for e in self._events if query.matches(e)]
        return found if query.limit is None else found[: query.limit]

    def head(self) -> int:
        """The highest position stored."""
        with self._changed:
            return len(self._events)

    def wait_for_append(self, after: int, timeout: float) -> int:
        """Block until an event past ``after`` is stored or ``timeout`` passes; return the head."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._events) > after, timeout)
            return len(self._events)

    def pending(self, limit: int) -> list[RecordedEvent]:
        """Outbox entries, oldest position first."""
        with self._changed:
            return [self._outbox[p] for p in sorted(self._outbox)[:limit]]

    def mark_published(self, positions: Sequence[int]) -> None:
        """Drop these outbox entries."""
        with self._changed:
            for position in positions:
                self._outbox.pop(position, None)

    def backlog(self) -> int:
        """How many outbox entries remain."""
        with self._changed:
            return len(self._outbox)

    def close(self) -> None:
        """Nothing to release."""
