"""The event store's storage port: what the service needs from a database.

Adapters: ``sqlstore.SqlEventRepository`` (SQLite, PostgreSQL, CockroachDB) and
``memory.InMemoryEventRepository`` (unit tests). One contract suite
(``tests/integration/eventstore/test_repository_contract.py``) runs against every adapter.

Errors are kit errors: ``Conflict`` (an ``AppendConflict``) for a version mismatch or an event id
stored with another content (the message names the aggregate's current version), ``Unavailable``
when the database cannot be reached.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from eventstoresvc.domain import Append, AppendOutcome, Event, EventQuery, ExpectedVersion, RecordedEvent

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement


class EventRepository(Protocol):
    """Append-only event storage with a global order and a transactional outbox.

    The outbox is the log itself plus a relay checkpoint: the last position JetStream has
    acknowledged, advanced only over a consecutive run after it. Because positions are dense and
    commit-ordered, "above the checkpoint" is exactly "committed but not yet published", and the
    checkpoint update is the "mark published" of every event it passes.
    """

    def append(self, event: Event, expected: ExpectedVersion) -> RecordedEvent:
        """Store ``event`` as the next version of its aggregate, with its outbox entry, atomically.

        An event whose id is already stored with the same content is not stored again: the stored
        record is returned (whatever ``expected`` says, since the first attempt already passed it).
        """
        ...

    def append_batch(self, items: Sequence[Append], *, all_or_nothing: bool = False) -> list[AppendOutcome]:
        """Decide ``items`` in order and store the accepted ones in one transaction; one outcome each.

        Each item is decided as ``append`` would decide it (an earlier item of the same aggregate
        counts), but a refusal is returned as that item's ``AppendConflict`` instead of raised, and
        the other items are still stored unless ``all_or_nothing`` is set: then nothing is stored,
        the conflicting items keep their conflicts and every other item is ``NotApplied``. The
        events stored get consecutive positions in item order. Failures of the database itself
        (``Unavailable``, ``DeadlineExceeded``) are raised for the whole batch.
        """
        ...

    def read(self, query: EventQuery) -> list[RecordedEvent]:
        """Stored events matching ``query``, in ascending global position."""
        ...

    def head(self) -> int:
        """The highest committed position (0 when empty); every lower position is committed too."""
        ...

    def wait_for_append(self, after: int, timeout: float) -> int:
        """Block until the head passes ``after`` (or ``timeout`` seconds elapse); return the head.

        Appends by other processes are noticed by polling, at most ``timeout`` seconds late.
        """
        ...

    def on_commit(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after every append of this process that stored events (from the
        appending thread: keep it short); returns a function that unsubscribes it."""
        ...

    def pending(self, limit: int) -> list[RecordedEvent]:
        """Up to ``limit`` events after the relay checkpoint, in ascending global position."""
        ...

    def events_after(self, position: int, limit: int) -> list[RecordedEvent]:
        """Up to ``limit`` events with a position above ``position``, ascending (the relay's read)."""
        ...

    def recent_after(self, position: int, limit: int) -> list[RecordedEvent] | None:
        """Like ``events_after`` from memory only, without blocking: the consecutive events after
        ``position`` that this process committed recently, ``[]`` if ``position`` is the last one
        it committed, None if it cannot tell (then ``events_after`` must be asked)."""
        ...

    def published_through(self) -> int:
        """The relay checkpoint: every position up to it is acknowledged by JetStream (0: none)."""
        ...

    def mark_published(self, positions: Sequence[int], guard: ColumnElement[bool] | None = None) -> None:
        """Move the checkpoint over ``positions``, a consecutive run right after it that JetStream
        has acknowledged; positions at or below the checkpoint change nothing. Raises ValueError
        if the run has holes or starts beyond the checkpoint + 1 (that would skip an event), and
        ``LeaseLost`` if a ``guard`` (the relay lease's fence, SQL stores only) does not hold."""
        ...

    def backlog(self) -> int:
        """How many committed events are above the checkpoint (not yet acknowledged)."""
        ...

    def close(self) -> None:
        """Finish pending appends and release the database."""
        ...
