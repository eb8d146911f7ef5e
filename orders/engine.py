"""The orders database (SQLite, PostgreSQL, CockroachDB): its engine and its transactions.

Engines are ``kit.sql``'s; writing transactions ask for ``BEGIN IMMEDIATE`` on SQLite (``write``)
so that two writers queue on the lock instead of failing when both try to upgrade a read lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from kit import sql
from kit.errors import Unavailable


def make_engine(url: str, *, pool_size: int = 16, pre_ping: bool = True) -> Engine:
    """An engine for the orders database at ``url``.

    The pool keeps as many connections as a worker runs handlers (16); see ``kit.sql.make_engine``
    (``pre_ping``: test each connection on checkout, for callers that do not retry).
    """
    return sql.make_engine(url, pool_size=pool_size, pre_ping=pre_ping)


@contextmanager
def transaction(engine: Engine, *, write: bool = False) -> Iterator[Connection]:
    """One transaction on the orders database; driver failures become ``Unavailable``.

    ``write`` takes SQLite's write lock at ``BEGIN``. Integrity errors pass through unchanged: the
    callers turn them into conflicts or duplicates, which are answers, not outages.
    """
    try:
        with engine.connect() as conn:
            if write:
                conn = sql.writing(conn)
            with conn.begin():
                yield conn
    except IntegrityError:
        raise
    except SQLAlchemyError as exc:
        raise Unavailable("the orders database is unavailable") from exc


@contextmanager
def reads(engine: Engine) -> Iterator[Connection]:
    """Plain reads on the orders database, outside a transaction (``kit.sql.autocommit``); driver
    failures become ``Unavailable``."""
    try:
        with sql.autocommit(engine) as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise Unavailable("the orders database is unavailable") from exc


def as_utc(value: datetime) -> datetime:
    """A stored timestamp as an aware UTC datetime (SQLite hands back naive ones; all are UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
