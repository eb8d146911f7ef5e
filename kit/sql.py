"""SQLAlchemy engines for a service's database: SQLite, PostgreSQL or CockroachDB from one URL.

URLs without a driver get psycopg 3 (``postgresql://`` -> ``postgresql+psycopg://``,
``cockroachdb://`` -> ``cockroachdb+psycopg://``). A SQLite file's directory is created if missing;
SQLite runs in WAL mode (readers never block the writer) with a busy timeout, and pysqlite's own
transaction handling is switched off so that a writing transaction can begin with
``BEGIN IMMEDIATE`` (``writing(conn)``) and hold the write lock from its first statement: two
writers then queue on the lock instead of failing when both try to upgrade a read lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

T = TypeVar("T")
SQLITE_BUSY_TIMEOUT_MS = 10_000
WRITE = "kit_sql_write"
"""Execution option: begin SQLite transactions with ``BEGIN IMMEDIATE`` (other backends ignore it)."""

_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg",
            "cockroachdb": "cockroachdb+psycopg"}


def normalise_url(url: str) -> str:
    """Give driver-less PostgreSQL / CockroachDB URLs the psycopg 3 driver."""
    scheme, sep, rest = url.partition("://")
    return _DRIVERS.get(scheme, scheme) + sep + rest


@contextmanager
def autocommit(engine: Engine, *, write: bool = False) -> Iterator[Connection]:
    """A connection whose statements each commit on their own, with no transaction around them.

    On PostgreSQL and CockroachDB the connection is in autocommit mode: no ``BEGIN`` and ``COMMIT``
    round trips (they cost more than a short ``SELECT`` or a one-row ``INSERT``), and each statement
    sees what was committed when it started, so use it where every statement stands on its own.
    SQLite gets an ordinary transaction (it has no round trips to save), ``BEGIN IMMEDIATE`` if
    ``write``.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            with (writing(conn) if write else conn).begin():
                yield conn
        else:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")


def writing(conn: Connection) -> Connection:
    """``conn`` with its next transaction taking SQLite's write lock at ``BEGIN``."""
    return conn.execution_options(**{WRITE: True})


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # BEGIN is emitted below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")


def make_engine(url: str, *, pool_size: int = 16, echo: bool = False,
                sqlite_synchronous: str = "FULL", pre_ping: bool = True) -> Engine:
    """An engine for ``url`` whose pool keeps ``pool_size`` connections (and half as many more).

    Size the pool to the threads that use it: a connection beyond the pool is closed when returned,
    and a new PostgreSQL connection costs a process start, so a pool smaller than the concurrency
    turns load into connection churn. ``sqlite_synchronous`` is SQLite's ``synchronous`` pragma
    (``FULL``: a commit survives a power loss; ``NORMAL``: only a process crash). ``pre_ping``
    tests a server connection on each checkout (a round trip) so that one the server dropped is
    replaced before use; without it, the first statement on a dropped connection fails, SQLAlchemy
    replaces the pool's connections, and the caller must retry (worth it where every transaction
    is retried anyway).
    """
    parsed = make_url(normalise_url(url))
    overflow = max(1, pool_size // 2)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=echo, pool_size=pool_size, max_overflow=overflow)
        _configure_sqlite(engine, sqlite_synchronous)
        return engine
    return create_engine(parsed, echo=echo, pool_size=pool_size, max_overflow=overflow,
                         pool_pre_ping=pre_ping)


def with_engine(url: str, use: Callable[[Engine], T]) -> T:
    """``use`` an engine of one connection to ``url`` (a set-up step), disposed of afterwards."""
    engine = make_engine(url, pool_size=1)
    try:
        return use(engine)
    finally:
        engine.dispose()
