"""SQLAlchemy engines for the orders database (SQLite, PostgreSQL, CockroachDB).

URLs without a driver get psycopg 3 (``postgresql://`` -> ``postgresql+psycopg://``). A SQLite file's
directory is created if missing, and SQLite runs in WAL mode with a busy timeout; writing
transactions ask for ``BEGIN IMMEDIATE`` (execution option ``WRITE``) so that two writers queue on
the lock instead of failing when both try to upgrade a read lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from kit.errors import Unavailable

WRITE = "ordersvc_write"
_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg",
            "cockroachdb": "cockroachdb+psycopg"}


def normalise_url(url: str) -> str:
    """Give driver-less PostgreSQL / CockroachDB URLs the psycopg 3 driver."""
    scheme, sep, rest = url.partition("://")
    return _DRIVERS.get(scheme, scheme) + sep + rest


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # BEGIN is emitted below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")


def make_engine(url: str, *, pool_size: int = 16) -> Engine:
    """An engine for the orders database at ``url``.

    The pool keeps as many connections as a worker runs handlers (16): a connection beyond the pool
    is closed when returned, and a new PostgreSQL connection costs a process start, so a pool
    smaller than the concurrency turns load into connection churn.
    """
    parsed = make_url(normalise_url(url))
    overflow = max(1, pool_size // 2)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, pool_size=pool_size, max_overflow=overflow)
        _configure_sqlite(engine)
        return engine
    return create_engine(parsed, pool_size=pool_size, max_overflow=overflow, pool_pre_ping=True)


@contextmanager
def transaction(engine: Engine, *, write: bool = False) -> Iterator[Connection]:
    """One transaction on the orders database; driver failures become ``Unavailable``.

    ``write`` takes SQLite's write lock at ``BEGIN``. Integrity errors pass through unchanged: the
    callers turn them into conflicts or duplicates, which are answers, not outages.
    """
    try:
        with engine.connect() as conn:
            if write:
                conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                yield conn
    except IntegrityError:
        raise
    except SQLAlchemyError as exc:
        raise Unavailable("the orders database is unavailable") from exc


def as_utc(value: datetime) -> datetime:
    """A stored timestamp as an aware UTC datetime (SQLite hands back naive ones; all are UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
