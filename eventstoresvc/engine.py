"""SQLAlchemy engines for the event store's databases, tuned per backend.

URLs without a driver get psycopg 3 (``postgresql://`` -> ``postgresql+psycopg://``,
``cockroachdb://`` -> ``cockroachdb+psycopg://``). SQLite gets WAL (readers never block the writer),
a busy timeout, and explicit ``BEGIN``: pysqlite's own transaction handling is switched off so
that a writing transaction can start with ``BEGIN IMMEDIATE`` and hold the write lock from its first
statement (the counter read in ``positions.lock_head`` must already be under the lock).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 10_000
IMMEDIATE = "eventstore_immediate"  # execution option: start SQLite transactions with BEGIN IMMEDIATE

_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg",
                    "cockroachdb": "cockroachdb+psycopg"}


def normalise_url(url: str) -> str:
    """Give driver-less PostgreSQL / CockroachDB URLs the psycopg 3 driver."""
    scheme, sep, rest = url.partition("://")
    return _DEFAULT_DRIVERS.get(scheme, scheme) + sep + rest


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, *, pool_size: int = 16, echo: bool = False) -> Engine:
    """An engine for ``url`` configured for the event store's access pattern.

    The pool keeps as many connections as the service has request threads (16): a connection
    beyond the pool is closed when returned, and a new PostgreSQL connection costs a process start,
    so a pool smaller than the concurrency turns load into connection churn.
    """
    url = normalise_url(url)
    overflow = max(1, pool_size // 2)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, echo=echo, pool_size=pool_size, max_overflow=overflow)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, echo=echo, pool_size=pool_size, max_overflow=overflow, pool_pre_ping=True)
