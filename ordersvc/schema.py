"""The order service's own table in the orders database: the idempotency keys of create requests.

``create_schema(engine)`` creates what the order service needs and is missing (this table and the
read model's, ``orders.schema``) and is safe to run again.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table

from orders import schema as read_model

metadata = MetaData()

idempotency_keys = Table(
    "order_idempotency_keys", metadata,
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("order_id", String(64), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("created_on", DateTime(timezone=True), nullable=False),
)


def create_schema(engine: Engine) -> None:
    """Create the read model's tables and the idempotency-key table where they do not exist yet."""
    read_model.create_schema(engine)
    metadata.create_all(engine, checkfirst=True)


def drop_schema(engine: Engine) -> None:
    """Drop the order service's tables, the read model's included (tests)."""
    metadata.drop_all(engine, checkfirst=True)
    read_model.drop_schema(engine)
