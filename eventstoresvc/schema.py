"""The event store's tables (SQLAlchemy Core), portable across SQLite, PostgreSQL and CockroachDB.

- ``events``: the log. ``position`` is the global order (see ``positions``), unique
  ``event_id`` makes retries idempotent, unique ``(aggregate_id, version)`` is the optimistic
  concurrency guard. ``event_data`` is stored as text, byte for byte what the client sent.
- ``event_positions``: one row holding the last assigned global position.
- ``outbox``: one row per event not yet acknowledged by JetStream, deleted when it is.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    select,
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

outbox = Table(
    "outbox",
    metadata,
    Column("position", BigInteger, ForeignKey("events.position"), primary_key=True, autoincrement=False),
    Column("event_id", String(128), nullable=False),
)

COUNTER_ID = 1


def create_schema(engine: Engine) -> None:
    """Create the tables and the position counter row if missing; safe to run any number of times."""
    metadata.create_all(engine, checkfirst=True)
    with engine.begin() as conn:
        present = conn.execute(select(event_positions.c.id).where(event_positions.c.id == COUNTER_ID)).first()
        if present is None:
            conn.execute(insert(event_positions).values(id=COUNTER_ID, value=0))


def drop_schema(engine: Engine) -> None:
    """Drop the event store's tables (tests and tooling only)."""
    metadata.drop_all(engine, checkfirst=True)
