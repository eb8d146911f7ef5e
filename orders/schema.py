"""The read model's tables in the orders database: ``orders`` and ``order_items``.

``create_schema(engine)`` creates what is missing and is safe to run again; ``eventstream bootstrap
--orders-db-url`` calls it, as do the order service and the projection on start. Money is stored as
whole cents (``BigInteger``), exact on every backend.
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
)

metadata = MetaData()

orders = Table(
    "orders", metadata,
    Column("order_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("restaurant_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("payment", String(16), nullable=False),
    Column("created_on", DateTime(timezone=True), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("rejection_reason", String(500), nullable=False, default=""),
    Column("cancellation_reason", String(500), nullable=False, default=""),
    # The last applied event of the order: its version (what makes ``apply`` idempotent) and position.
    Column("version", Integer, nullable=False),
    Column("last_position", BigInteger, nullable=False),
    # The global position of ORDERS.created: unique and increasing, the list's sort key and cursor.
    Column("created_position", BigInteger, nullable=False, unique=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_orders_customer_position", orders.c.customer_id, orders.c.created_position)
Index("ix_orders_status_position", orders.c.status, orders.c.created_position)

order_items = Table(
    "order_items", metadata,
    Column("order_id", String(64), ForeignKey("orders.order_id", ondelete="CASCADE"), primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("unit_price_cents", BigInteger, nullable=False),
    Column("quantity", Integer, nullable=False),
)

def create_schema(engine: Engine) -> None:
    """Create the read model's tables and indexes that do not exist yet."""
    metadata.create_all(engine, checkfirst=True)


def drop_schema(engine: Engine) -> None:
    """Drop the read model's tables (a replay rebuilds them; tests)."""
    metadata.drop_all(engine, checkfirst=True)
