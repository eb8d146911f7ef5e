"""The SQL adapter of the storage port: SQLite, PostgreSQL and CockroachDB through SQLAlchemy Core.

Appends go through a ``GroupCommitter``: one transaction per batch of concurrent appends, which
locks the position counter (see ``positions``), decides every append of the batch against the
committed state (idempotent duplicate, version conflict, or accepted), then inserts the accepted
events and their outbox entries and advances the counter. Each caller gets its own outcome, so one
conflicting append never fails its batch mates.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, Select, delete, func, insert, select
from sqlalchemy import exc as sa_exc

from eventstoresvc import positions, transactions
from eventstoresvc.domain import (
    Event,
    EventQuery,
    ExpectedVersion,
    Metadata,
    RecordedEvent,
    conflict_message,
)
from eventstoresvc.groupcommit import GroupCommitter
from eventstoresvc.schema import events, outbox
from kit import context
from kit.errors import Conflict, DeadlineExceeded, KitError


@dataclass(frozen=True)
class _Append:
    event: Event
    expected: ExpectedVersion


def _record(row: RowMapping) -> RecordedEvent:
    created_at: datetime = row["created_at"]
    if created_at.tzinfo is None:  # SQLite keeps no zone; we always write UTC
        created_at = created_at.replace(tzinfo=UTC)
    return RecordedEvent(
        event_id=row["event_id"], event_type=row["event_type"], aggregate_id=row["aggregate_id"],
        aggregate_type=row["aggregate_type"], event_data=row["event_data"], stream=row["stream"],
        version=row["version"], position=row["position"], created_at=created_at,
        metadata=Metadata(
            correlation_id=row["correlation_id"], causation_id=row["causation_id"],
            trace_id=row["trace_id"], span_id=row["span_id"], parent_span_id=row["parent_span_id"],
            sampled=row["sampled"],
        ),
    )


def _records(conn: Connection, stmt: Select[Any]) -> list[RecordedEvent]:
    return [_record(row) for row in conn.execute(stmt).mappings()]


def _row(event: RecordedEvent) -> dict[str, Any]:
    meta = event.metadata
    return {
        "position": event.position, "event_id": event.event_id, "event_type": event.event_type,
        "aggregate_id": event.aggregate_id, "aggregate_type": event.aggregate_type,
        "stream": event.stream, "version": event.version, "event_data": event.event_data,
        "correlation_id": meta.correlation_id, "causation_id": meta.causation_id,
        "trace_id": meta.trace_id, "span_id": meta.span_id, "parent_span_id": meta.parent_span_id,
        "sampled": meta.sampled, "created_at": event.created_at,
    }


def _append_batch(conn: Connection, batch: Sequence[_Append]) -> list[RecordedEvent | BaseException]:
    """Decide and write a batch inside one transaction; pure database work, safe to re-run."""
    head = positions.lock_head(conn)  # first: everything read below is committed state
    ids = {a.event.event_id for a in batch}
    stored = {r.event_id: r for r in map(_record, conn.execute(
        select(events).where(events.c.event_id.in_(ids))).mappings())}
    aggregates = {a.event.aggregate_id for a in batch}
    versions: dict[str, int] = {
        aggregate_id: version for aggregate_id, version in conn.execute(
            select(events.c.aggregate_id, func.max(events.c.version))
            .where(events.c.aggregate_id.in_(aggregates)).group_by(events.c.aggregate_id)).tuples()
    }
    now = datetime.now(UTC)
    outcomes: list[RecordedEvent | BaseException] = []
    accepted: list[RecordedEvent] = []
    for item in batch:
        event = item.event
        prior = stored.get(event.event_id)
        if prior is not None:
            outcomes.append(prior if event.same_content(prior) else Conflict(
                f"event {event.event_id!r} is already stored with a different content "
                f"(aggregate {prior.aggregate_id!r}, version {prior.version})"))
            continue
        current = versions.get(event.aggregate_id, 0)
        if not item.expected.allows(current):
            outcomes.append(Conflict(conflict_message(event.aggregate_id, current, item.expected)))
            continue
        head += 1
        record = RecordedEvent(
            event_id=event.event_id, event_type=event.event_type, aggregate_id=event.aggregate_id,
            aggregate_type=event.aggregate_type, event_data=event.event_data, stream=event.stream,
            version=current + 1, position=head, created_at=now, metadata=event.metadata,
        )
        versions[event.aggregate_id] = record.version
        stored[event.event_id] = record
        accepted.append(record)
        outcomes.append(record)
    if accepted:
        conn.execute(insert(events), [_row(r) for r in accepted])
        conn.execute(insert(outbox), [{"position": r.position, "event_id": r.event_id} for r in accepted])
        positions.advance_head(conn, head)
    return outcomes


class SqlEventRepository:
    """``EventRepository`` over a SQLAlchemy engine (schema from ``schema.create_schema``)."""

    def __init__(self, engine: Engine, *, max_batch: int = 500) -> None:
        self._engine = engine
        self._changed = threading.Condition()
        self._commits = 0  # counts committing batches, so a waiter cannot miss a notification
        self._committer: GroupCommitter[_Append, RecordedEvent] = GroupCommitter(
            self._commit, max_batch=max_batch, name="eventstore-append")

    @property
    def engine(self) -> Engine:
        """The engine this repository writes to."""
        return self._engine

    def _commit(self, batch: Sequence[_Append]) -> Sequence[RecordedEvent | BaseException]:
        try:
            outcomes = transactions.run(self._engine, lambda conn: _append_batch(conn, batch), write=True)
        except sa_exc.IntegrityError:
            # Only a writer that bypasses the counter lock can get here; decide each append alone so
            # that one bad append does not fail the others.
            if len(batch) > 1:
                return [o for item in batch for o in self._commit([item])]
            return [Conflict("a concurrent append to this aggregate won; re-read and retry")]
        except KitError as exc:
            return [exc] * len(batch)
        if any(isinstance(o, RecordedEvent) for o in outcomes):
            with self._changed:
                self._commits += 1
                self._changed.notify_all()
        return outcomes

    def append(self, event: Event, expected: ExpectedVersion) -> RecordedEvent:
        """Append through the group committer, within the current request's deadline."""
        context.check_deadline()
        try:
            return self._committer.submit(_Append(event, expected), timeout=context.current().remaining())
        except concurrent.futures.TimeoutError:
            raise DeadlineExceeded(
                "the append did not finish in time; its outcome is unknown, retry with the same event_id"
            ) from None

    def read(self, query: EventQuery) -> list[RecordedEvent]:
        """Stored events matching ``query``, oldest position first."""
        stmt = select(events).order_by(events.c.position)
        if query.event_id:
            stmt = stmt.where(events.c.event_id == query.event_id)
        if query.aggregate_id:
            stmt = stmt.where(events.c.aggregate_id == query.aggregate_id)
        if query.event_types:
            stmt = stmt.where(events.c.event_type.in_(query.event_types))
        if query.from_position > 1:
            stmt = stmt.where(events.c.position >= query.from_position)
        if query.limit is not None:
            stmt = stmt.limit(query.limit)
        return transactions.run(self._engine, lambda conn: _records(conn, stmt))

    def head(self) -> int:
        """The highest committed position."""
        return transactions.run(self._engine, positions.read_head)

    def wait_for_append(self, after: int, timeout: float) -> int:
        """Wait for a commit of this process (or ``timeout``), then return the committed head."""
        with self._changed:
            seen = self._commits
        head = self.head()
        if head > after:
            return head
        with self._changed:
            self._changed.wait_for(lambda: self._commits != seen, timeout)
        return self.head()

    def pending(self, limit: int) -> list[RecordedEvent]:
        """Events still in the outbox, oldest position first."""
        stmt = (select(events).join(outbox, outbox.c.position == events.c.position)
                .order_by(events.c.position).limit(limit))
        return transactions.run(self._engine, lambda conn: _records(conn, stmt))

    def mark_published(self, positions_: Sequence[int]) -> None:
        """Delete the outbox entries of ``positions_``."""
        if not positions_:
            return
        stmt = delete(outbox).where(outbox.c.position.in_(list(positions_)))
        transactions.run(self._engine, lambda conn: conn.execute(stmt), write=True)

    def backlog(self) -> int:
        """The number of outbox entries."""
        stmt = select(func.count()).select_from(outbox)
        return transactions.run(self._engine, lambda conn: int(conn.execute(stmt).scalar_one()))

    def close(self) -> None:
        """Commit queued appends and stop the writer thread (the engine is the caller's)."""
        self._committer.close()
