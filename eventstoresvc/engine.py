"""SQLAlchemy engines for the event store's databases: ``kit.sql`` engines, tuned for appends.

SQLite runs with ``synchronous=NORMAL`` (in WAL mode a commit survives a crash of the process, not a
power loss) and writing transactions begin with ``BEGIN IMMEDIATE`` (``kit.sql.writing``), so that the
counter read in ``positions.lock_head`` is already under the write lock. Connections are not
pinged on checkout (a round trip per transaction): ``transactions`` runs the work again on a new
connection when the server had dropped the old one.
"""

from __future__ import annotations

from sqlalchemy import Engine

from kit import sql


def make_engine(url: str, *, pool_size: int = 16, echo: bool = False) -> Engine:
    """An engine for ``url``; the pool keeps as many connections as the service has request threads."""
    return sql.make_engine(url, pool_size=pool_size, echo=echo, sqlite_synchronous="NORMAL",
                           pre_ping=False)
