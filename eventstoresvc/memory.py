"""An in-memory ``EventRepository`` with the same behaviour as the SQL one, for unit tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from eventstoresvc.decide import Batch, Decider
from eventstoresvc.domain import Append, AppendOutcome, Event, EventQuery, ExpectedVersion, RecordedEvent

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement


class InMemoryEventRepository:
    """Events in a list; positions and versions assigned under one lock."""

    def __init__(self) -> None:
        self._events: list[RecordedEvent] = []
        self._by_id: dict[str, RecordedEvent] = {}
        self._versions: dict[str, int] = {}
        self._checkpoint = 0
        self._listeners: list[Callable[[], None]] = []
        self._changed = threading.Condition()

    def append(self, event: Event, expected: ExpectedVersion) -> RecordedEvent:
        """Store ``event`` as the next version of its aggregate, or return the stored duplicate."""
        outcome = self.append_batch([Append(event, expected)])[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def append_batch(self, items: Sequence[Append], *, all_or_nothing: bool = False) -> list[AppendOutcome]:
        """Decide ``items`` in order under the lock (see ``decide``); store the accepted ones."""
        with self._changed:
            decider = Decider(self._by_id, self._versions, len(self._events), datetime.now(UTC))
            outcomes = decider.decide(Batch(tuple(items), all_or_nothing))
            if not decider.accepted:
                return outcomes
            self._events.extend(decider.accepted)
            self._changed.notify_all()
            listeners = tuple(self._listeners)
        for listener in listeners:
            listener()
        return outcomes

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

    def on_commit(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after every stored append; returns an unsubscribe."""
        with self._changed:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._changed:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def pending(self, limit: int) -> list[RecordedEvent]:
        """Events after the checkpoint, oldest position first."""
        return self.events_after(self._checkpoint, limit)

    def events_after(self, position: int, limit: int) -> list[RecordedEvent]:
        """Up to ``limit`` events after ``position``, oldest first."""
        with self._changed:
            return self._events[max(0, position):max(0, position) + limit]

    def recent_after(self, position: int, limit: int) -> list[RecordedEvent] | None:
        """Everything is in memory here."""
        return self.events_after(position, limit)

    def published_through(self) -> int:
        """The checkpoint."""
        with self._changed:
            return self._checkpoint

    def mark_published(self, positions: Sequence[int], guard: ColumnElement[bool] | None = None) -> None:
        """Advance the checkpoint over a consecutive acknowledged run right after it."""
        if guard is not None:
            raise ValueError("an in-memory store is one process: it has no relay lease to guard with")
        if not positions:
            return
        first, last = min(positions), max(positions)
        if len(set(positions)) != last - first + 1:
            raise ValueError(f"positions {first}..{last} have holes; only a consecutive run can be marked")
        with self._changed:
            if self._checkpoint < first - 1:
                raise ValueError(
                    f"the checkpoint is at {self._checkpoint}; marking {first}..{last} would skip")
            self._checkpoint = max(self._checkpoint, last)

    def backlog(self) -> int:
        """How many events are above the checkpoint."""
        with self._changed:
            return len(self._events) - self._checkpoint

    def close(self) -> None:
        """Nothing to release."""
