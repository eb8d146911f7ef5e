"""The event store's storage port: what the service needs from a database.

Adapters: ``sqlstore.SqlEventRepository`` (SQLite, PostgreSQL, CockroachDB) and
``memory.InMemoryEventRepository`` (unit tests). One contract suite
(``tests/integration/eventstore/test_repository_contract.py``) runs against every adapter.

Errors are kit errors: ``Conflict`` for a version mismatch or an event id stored with another
content (the message names the aggregate's current version), ``Unavailable`` when the database
cannot be reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from eventstoresvc.domain import Event, EventQuery, ExpectedVersion, RecordedEvent


class EventRepository(Protocol):
    """Append-only event storage with a global order and a transactional outbox."""

    def append(self, event: Event, expected: ExpectedVersion) -> RecordedEvent:
        """Store ``event`` as the next version of its aggregate, with its outbox entry, atomically.

        An event whose id is already stored with the same content is not stored again: the stored
        record is returned (whatever ``expected`` says, since the first attempt already passed it).
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

    def pending(self, limit: int) -> list[RecordedEvent]:
        """Up to ``limit`` events not yet marked published, in ascending global position."""
        ...

    def mark_published(self, positions: Sequence[int]) -> None:
        """Remove the outbox entries of these positions: JetStream has acknowledged them."""
        ...

    def backlog(self) -> int:
        """How many events wait in the outbox."""
        ...

    def close(self) -> None:
        """Finish pending appends and release the database."""
        ...
