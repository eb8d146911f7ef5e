"""The workers' tables in the orders database: saga state and history, and the simulated ledger.

``create_schema(engine)`` creates what is missing and is safe to run again; ``eventstream bootstrap``
calls it for the orders database (``workers.schema:create_schema``), and the saga and payment
workers call it on start-up.

- ``saga_instances``: one row per order: its saga state, the order version that state was computed
  from (updates only move forward) and when the order started (the timeout's reference);
- ``saga_transitions``: the saga's history, one row per handled event (unique per order and event
  id, so a redelivered event is recorded once) with the state it led to and the events appended;
- ``payment_charges``: the simulated gateway's charges by charge id.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

saga_instances = Table(
    "saga_instances", metadata,
    Column("order_id", String(64), primary_key=True),
    Column("state", String(32), nullable=False),
    Column("order_version", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_saga_instances_state_started", saga_instances.c.state, saga_instances.c.started_at)

saga_transitions = Table(
    "saga_transitions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", String(64), nullable=False),
    Column("handled_event_id", String(64), nullable=False),
    Column("handled_event_type", String(64), nullable=False),
    Column("state", String(32), nullable=False),
    Column("actions", String(500), nullable=False, default=""),
    Column("order_version", Integer, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("order_id", "handled_event_id", name="uq_saga_transitions_event"),
)

payment_charges = Table(
    "payment_charges", metadata,
    Column("charge_id", String(64), primary_key=True),
    Column("order_id", String(64), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(500), nullable=False, default=""),
)


def create_schema(engine: Engine) -> None:
    """Create the workers' tables and indexes that do not exist yet."""
    metadata.create_all(engine, checkfirst=True)


def drop_schema(engine: Engine) -> None:
    """Drop the workers' tables (tests)."""
    metadata.drop_all(engine, checkfirst=True)
