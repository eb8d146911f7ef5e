"""The event store's tables (SQLAlchemy Core), portable across SQLite, PostgreSQL and CockroachDB.

- ``events``: the log. ``position`` is the global order (see ``positions``), unique
  ``event_id`` makes retries idempotent, unique ``(aggregate_id, version)`` is the optimistic
  concurrency guard. ``event_data`` is stored as text, byte for byte what the client sent.
- ``event_positions``: one row holding the last assigned global position.
- ``relay_checkpoint``: one row holding the last position JetStream has acknowledged, in order.
- ``relay_lease``: one row naming the replica whose relay may publish, until when (in the
  database's clock), and its fencing token (``lease``).

The outbox is the ``events`` table itself: the events after the relay checkpoint are the ones not
yet published. That needs no row per event and no per-event "mark published" write, and it is
exact only because positions are commit-ordered and dense (``positions``): every event at or below
the checkpoint is committed and published, every event above it is still to publish. An append
commits its event, which *is* its outbox entry, atomically with nothing else to keep in step.

Earlier releases kept an ``outbox`` table with a row per unpublished event; ``create_schema``
migrates it (the checkpoint starts just below its oldest row) and drops it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    inspect,
    select,
    text,
)

metadata = MetaData()

events = Table(
    "events",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", String(128), nullable=False, unique=True),
    Column("event_type", String(128), nullable=False),
    Column("aggregate_id", String(128), nullable=False),
    Column("aggregate_type", String(128), nullable=False),
    Column("stream", String(128), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("event_data", Text, nullable=False),
    Column("correlation_id", String(128), nullable=False, default=""),
    Column("causation_id", String(128), nullable=False, default=""),
    Column("trace_id", String(32), nullable=False, default=""),
    Column("span_id", String(16), nullable=False, default=""),
    Column("parent_span_id", String(16), nullable=False, default=""),
    Column("sampled", String(1), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("aggregate_id", "version", name="uq_events_aggregate_version"),
    Index("ix_events_event_type_position", "event_type", "position"),
)

event_positions = Table(
    "event_positions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("value", BigInteger, nullable=False),
)

relay_checkpoint = Table(
    "relay_checkpoint",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("position", BigInteger, nullable=False),
)

relay_lease = Table(
    "relay_lease",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("holder", String(200), nullable=False),
    Column("token", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
)

COUNTER_ID = 1
CHECKPOINT_ID = 1
LEASE_ID = 1
LEGACY_OUTBOX = "outbox"


def _initial_checkpoint(conn: Connection) -> int:
    """Where a new checkpoint starts: below the oldest legacy outbox row, else at the head."""
    if inspect(conn).has_table(LEGACY_OUTBOX):
        oldest = conn.execute(text(f"SELECT min(position) FROM {LEGACY_OUTBOX}")).scalar()
        conn.execute(text(f"DROP TABLE {LEGACY_OUTBOX}"))
        if oldest is not None:
            return int(oldest) - 1
    head = conn.execute(select(event_positions.c.value).where(event_positions.c.id == COUNTER_ID)).scalar()
    return int(head or 0)


def create_schema(engine: Engine) -> None:
    """Create the tables and their single rows if missing; safe to run any number of times."""
    metadata.create_all(engine, checkfirst=True)
    with engine.begin() as conn:
        present = conn.execute(select(event_positions.c.id).where(event_positions.c.id == COUNTER_ID)).first()
        if present is None:
            conn.execute(insert(event_positions).values(id=COUNTER_ID, value=0))
        present = conn.execute(
            select(relay_checkpoint.c.id).where(relay_checkpoint.c.id == CHECKPOINT_ID)).first()
        if present is None:
            start = _initial_checkpoint(conn)
            conn.execute(insert(relay_checkpoint).values(id=CHECKPOINT_ID, position=start))
        if conn.execute(select(relay_lease.c.id).where(relay_lease.c.id == LEASE_ID)).first() is None:
            conn.execute(insert(relay_lease).values(id=LEASE_ID, holder="", token=0, expires_ms=0))


def drop_schema(engine: Engine) -> None:
    """Drop the event store's tables (tests and tooling only)."""
    metadata.drop_all(engine, checkfirst=True)
