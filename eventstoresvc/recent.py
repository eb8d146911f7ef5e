"""The events this process committed last, kept in memory for the relay and for waiting readers.

After each group commit the writer thread adds the batch's new events here, in position order (it
commits one batch at a time, so commit order is position order). The relay reads the events after
its checkpoint from this window instead of from the database when the window holds them; it holds
them only as a run without gaps starting right after the checkpoint, because positions are dense:
a missing position (committed by another process, or evicted from the window) sends the relay to
the database. So the window saves reads, never decides what is published.

Readers that wait for new commits (``wait``) and listeners (the relay's event loop) are told about
each commit; a counter of commits lets a waiter notice one that happened before it started waiting.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence

from eventstoresvc.domain import RecordedEvent

DEFAULT_CAPACITY = 8192


class RecentCommits:
    """A bounded window of the latest events committed by this process, oldest first."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._events: deque[RecordedEvent] = deque(maxlen=capacity)
        self._changed = threading.Condition()
        self._commits = 0
        self._listeners: list[Callable[[], None]] = []

    def add(self, events: Sequence[RecordedEvent]) -> None:
        """Record a committed batch (positions ascending, above everything added before)."""
        with self._changed:
            self._events.extend(events)
            self._commits += 1
            self._changed.notify_all()
            listeners = tuple(self._listeners)
        for listener in listeners:
            listener()

    def listen(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after every commit (from the writer thread); returns an unsubscribe."""
        with self._changed:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._changed:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    @property
    def commits(self) -> int:
        """How many batches have been added so far."""
        with self._changed:
            return self._commits

    def wait(self, seen: int, timeout: float) -> None:
        """Block until a batch is added after the ``seen``-th (or ``timeout`` seconds pass)."""
        with self._changed:
            self._changed.wait_for(lambda: self._commits != seen, timeout)

    def last_position(self) -> int:
        """The highest position added (0 if none)."""
        with self._changed:
            return self._events[-1].position if self._events else 0

    def after(self, position: int, limit: int) -> list[RecordedEvent] | None:
        """The run of consecutive positions from ``position + 1`` (up to ``limit``); an empty list
        when ``position`` is the last one this process committed; None when the window cannot tell
        (``position + 1`` is not in it: ask the database)."""
        wanted = position + 1
        with self._changed:
            events = self._events
            if events and events[-1].position == position:
                return []
            if not events or events[0].position > wanted or events[-1].position < wanted:
                return None
            index = wanted - events[0].position  # exact when the window has no gaps, the usual case
            if index >= len(events) or events[index].position != wanted:
                index = next((i for i, e in enumerate(events) if e.position >= wanted), len(events))
                if index == len(events) or events[index].position != wanted:
                    return None
            run: list[RecordedEvent] = []
            for i in range(index, min(len(events), index + limit)):
                event = events[i]
                if event.position != wanted:
                    break
                run.append(event)
                wanted += 1
            return run
