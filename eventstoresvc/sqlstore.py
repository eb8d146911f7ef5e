"""The SQL adapter of the storage port: SQLite, PostgreSQL and CockroachDB through SQLAlchemy Core.

Appends go through a ``GroupCommitter``: one transaction per group of concurrent callers (each a
``decide.Batch``: one event for ``append``, many for ``append_batch``), which locks the position
counter (see ``positions``), decides every append of the group against the committed state
(idempotent duplicate, version conflict, or accepted; see ``decide``), then inserts the accepted
events and advances the counter. Each caller gets its own outcomes, so one conflicting append never
fails its group mates (an all-or-nothing caller's batch fails only itself). The ``events`` table
is also the outbox: what is above the relay checkpoint is unpublished (see ``schema``), so an
append writes nothing but its event row and the counter.

The transaction costs four statements whatever its size: the counter lock, one lookup of the batch's
event ids (idempotent retries) and its aggregates' current versions, one multi-row insert
(executemany, pipelined by psycopg 3) and the counter update.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    RowMapping,
    Select,
    bindparam,
    func,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy import exc as sa_exc

from eventstoresvc import positions, transactions
from eventstoresvc.decide import Batch, Decider
from eventstoresvc.domain import (
    Append,
    AppendConflict,
    AppendOutcome,
    ConflictReason,
    Event,
    EventQuery,
    ExpectedVersion,
    Metadata,
    RecordedEvent,
)
from eventstoresvc.groupcommit import GroupCommitter
from eventstoresvc.lease import LeaseLost
from eventstoresvc.recent import RecentCommits
from eventstoresvc.schema import CHECKPOINT_ID, COUNTER_ID, event_positions, events, relay_checkpoint
from kit import context
from kit.errors import DeadlineExceeded, KitError


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


def _records(conn: Connection, stmt: Select[Any],
             parameters: dict[str, Any] | None = None) -> list[RecordedEvent]:
    return [_record(row) for row in conn.execute(stmt, parameters).mappings()]


_BY_AGGREGATE = (select(events).where(events.c.aggregate_id == bindparam("aggregate_id"))
                 .order_by(events.c.position))


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


_latest = events.alias("latest")
# One read per batch: the batch's event ids already stored (idempotent retries, id conflicts) and
# the latest event of each of its aggregates (their current versions). Built once, so its cache
# key is memoised.
_LOOKUP = union_all(
    select(events).where(events.c.event_id.in_(bindparam("ids", expanding=True))),
    select(events).where(
        events.c.aggregate_id.in_(bindparam("aggregates", expanding=True)),
        events.c.version == select(func.max(_latest.c.version))
        .where(_latest.c.aggregate_id == events.c.aggregate_id).scalar_subquery(),
    ),
)
_INSERT = insert(events)


def _append_batch(
    conn: Connection, batches: Sequence[Batch]
) -> tuple[list[list[AppendOutcome]], list[RecordedEvent]]:
    """Decide and write batches inside one transaction; pure database work, safe to re-run.

    Returns each batch's outcomes and, in position order, the events this transaction stored.
    """
    head = positions.lock_head(conn)  # first: everything read below is committed state
    ids = {a.event.event_id for b in batches for a in b.items}
    stored: dict[str, RecordedEvent] = {}
    versions: dict[str, int] = {}
    aggregates = {a.event.aggregate_id for b in batches for a in b.items}
    for row in conn.execute(_LOOKUP, {"ids": list(ids), "aggregates": list(aggregates)}).mappings():
        record = _record(row)
        if record.event_id in ids:
            stored[record.event_id] = record
        versions[record.aggregate_id] = max(versions.get(record.aggregate_id, 0), record.version)
    decider = Decider(stored, versions, head, datetime.now(UTC))
    outcomes = [decider.decide(batch) for batch in batches]
    if decider.accepted:
        conn.execute(_INSERT, [_row(r) for r in decider.accepted])
        positions.advance_head(conn, decider.head)
    return outcomes, decider.accepted


class SqlEventRepository:
    """``EventRepository`` over a SQLAlchemy engine (schema from ``schema.create_schema``)."""

    def __init__(self, engine: Engine, *, max_batch: int = 500) -> None:
        self._engine = engine
        self._recent = RecentCommits()
        # ``max_batch`` counts events: one big AppendEvents call is a transaction of its own.
        self._committer: GroupCommitter[Batch, list[AppendOutcome]] = GroupCommitter(
            self._commit, max_batch=max_batch, name="eventstore-append", weight=lambda b: len(b.items))

    @property
    def engine(self) -> Engine:
        """The engine this repository writes to."""
        return self._engine

    def _commit(self, batches: Sequence[Batch]) -> Sequence[list[AppendOutcome] | BaseException]:
        try:
            outcomes, written = transactions.run(
                self._engine, lambda conn: _append_batch(conn, batches), write=True)
        except sa_exc.IntegrityError:
            # Only a writer that bypasses the counter lock can get here; decide each batch alone so
            # that one bad batch does not fail the others.
            if len(batches) > 1:
                return [o for batch in batches for o in self._commit([batch])]
            return [[AppendConflict("a concurrent append to this aggregate won; re-read and retry",
                                    reason=ConflictReason.CONCURRENT_APPEND)
                     for _ in batches[0].items]]
        except KitError as exc:
            return [exc] * len(batches)
        if written:  # only what this batch stored: an idempotent retry's record was committed before
            self._recent.add(written)
        return outcomes

    def _submit(self, batch: Batch) -> list[AppendOutcome]:
        context.check_deadline()
        try:
            return self._committer.submit(batch, timeout=context.current().remaining())
        except TimeoutError:
            raise DeadlineExceeded(
                "the append did not finish in time; its outcome is unknown, retry with the same event_id"
            ) from None

    def append(self, event: Event, expected: ExpectedVersion) -> RecordedEvent:
        """Append through the group committer, within the current request's deadline."""
        outcome = self._submit(Batch((Append(event, expected),)))[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def append_batch(self, items: Sequence[Append], *, all_or_nothing: bool = False) -> list[AppendOutcome]:
        """Decide ``items`` in order in one transaction (shared with concurrent appends)."""
        return self._submit(Batch(tuple(items), all_or_nothing))

    def read(self, query: EventQuery) -> list[RecordedEvent]:
        """Stored events matching ``query``, oldest position first."""
        if query == EventQuery(aggregate_id=query.aggregate_id) and query.aggregate_id:
            # The hot read (an order's history): a statement built once, its cache key memoised.
            return transactions.read(self._engine, lambda conn: _records(
                conn, _BY_AGGREGATE, {"aggregate_id": query.aggregate_id}))
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
        return transactions.read(self._engine, lambda conn: _records(conn, stmt))

    def head(self) -> int:
        """The highest committed position."""
        return transactions.read(self._engine, positions.read_head)

    def wait_for_append(self, after: int, timeout: float) -> int:
        """Wait for a commit of this process (or ``timeout``), then return the committed head."""
        seen = self._recent.commits
        head = self.head()
        if head > after:
            return head
        self._recent.wait(seen, timeout)
        return self.head()

    def on_commit(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after each commit that stored events; returns an unsubscribe."""
        return self._recent.listen(listener)

    def pending(self, limit: int) -> list[RecordedEvent]:
        """Events after the relay checkpoint (not yet published), oldest position first."""
        checkpoint = select(relay_checkpoint.c.position).where(relay_checkpoint.c.id == CHECKPOINT_ID)
        stmt = (select(events).where(events.c.position > checkpoint.scalar_subquery())
                .order_by(events.c.position).limit(limit))
        return transactions.read(self._engine, lambda conn: _records(conn, stmt))

    def recent_after(self, position: int, limit: int) -> list[RecordedEvent] | None:
        """What the window of this process's recent commits knows about the events after
        ``position`` (see ``RecentCommits.after``); never blocks on the database."""
        return self._recent.after(position, limit)

    def events_after(self, position: int, limit: int) -> list[RecordedEvent]:
        """Up to ``limit`` events after ``position``, oldest first, from the database."""
        stmt = select(events).where(events.c.position > position).order_by(events.c.position).limit(limit)
        return transactions.read(self._engine, lambda conn: _records(conn, stmt))

    def published_through(self) -> int:
        """The relay checkpoint: every position up to it is acknowledged by JetStream."""
        stmt = select(relay_checkpoint.c.position).where(relay_checkpoint.c.id == CHECKPOINT_ID)
        return transactions.read(self._engine, lambda conn: int(conn.execute(stmt).scalar_one()))

    def mark_published(self, positions_: Sequence[int], guard: ColumnElement[bool] | None = None) -> None:
        """Advance the relay checkpoint over ``positions_``, the acknowledged run right after it.

        Raises ValueError if the positions have a hole or start past the checkpoint + 1: moving the
        checkpoint over an unpublished event would lose it. Positions already at or below the
        checkpoint are accepted and change nothing (a repeated mark). A ``guard`` (the relay lease's
        fence) must also hold, else ``LeaseLost`` and nothing moves.
        """
        if not positions_:
            return
        first, last = min(positions_), max(positions_)
        if len(set(positions_)) != last - first + 1:
            raise ValueError(f"positions {first}..{last} have holes; only a consecutive run can be marked")
        row = relay_checkpoint.c
        stmt = (update(relay_checkpoint)
                .where(row.id == CHECKPOINT_ID, row.position >= first - 1, row.position < last,
                       *(() if guard is None else (guard,)))
                .values(position=last))

        def advance(conn: Connection) -> None:
            if conn.execute(stmt).rowcount == 0:
                if guard is not None and not conn.execute(select(guard)).scalar():
                    raise LeaseLost("the relay lease was lost; the checkpoint stays")
                current = int(conn.execute(select(row.position).where(row.id == CHECKPOINT_ID)).scalar_one())
                if current < first - 1:
                    raise ValueError(f"the checkpoint is at {current}; marking {first}..{last} would skip")

        transactions.run(self._engine, advance, write=True)

    def backlog(self) -> int:
        """How many committed events are not yet published (head minus checkpoint)."""
        head = select(event_positions.c.value).where(event_positions.c.id == COUNTER_ID).scalar_subquery()
        checkpoint = (select(relay_checkpoint.c.position).where(relay_checkpoint.c.id == CHECKPOINT_ID)
                      .scalar_subquery())
        stmt = select(head - checkpoint)
        return transactions.read(self._engine, lambda conn: max(0, int(conn.execute(stmt).scalar_one())))

    def close(self) -> None:
        """Commit queued appends and stop the writer thread (the engine is the caller's)."""
        self._committer.close()
