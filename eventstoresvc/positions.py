"""The global position: a total order of events that no catch-up reader can skip.

The problem: a reader that follows the log with ``position > last_seen`` misses an event if a
smaller position becomes visible *after* a larger one. That happens with SQL sequences or
auto-increment ids, which are handed out at insert time while transactions commit in any order,
and CockroachDB offers no ``LOCK TABLE`` to serialise writers.

The strategy: positions come from a single-row counter, ``event_positions``. Every append
transaction first locks that row (``SELECT ... FOR UPDATE``; on SQLite the ``BEGIN IMMEDIATE``
write lock does the same), reads the last position, inserts its events at the following positions,
writes the new value back and commits, which releases the lock. So appenders are serialised on the
row and **commit order equals position order**: when a reader sees position *n*, every position
below *n* is already committed and visible. Positions are dense (no holes), because a transaction
that rolls back also rolls back its counter update.

The price is one appender at a time per database. Group commit (``groupcommit``) pays it back:
concurrent appends of a process are merged into one transaction with one counter update, so the
lock is taken once per batch instead of once per event. On CockroachDB the row lock turns
contention into serialisable retries (SQLSTATE 40001), retried by ``transactions.run``.

Readers also use the counter: ``head()`` (the counter's committed value) is a watermark below which
everything is visible, which lets a follower skip rows it has already scanned.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select, update

from eventstoresvc.schema import COUNTER_ID, event_positions

# Built once: a statement object reused for every execution keeps its memoised cache key.
_HEAD = select(event_positions.c.value).where(event_positions.c.id == COUNTER_ID)
_LOCKED_HEAD = _HEAD.with_for_update()
_ADVANCE = (update(event_positions).where(event_positions.c.id == COUNTER_ID)
            .values(value=bindparam("new_head")))


def lock_head(conn: Connection) -> int:
    """Lock the counter row for this transaction and return the last assigned position."""
    # SQLite has no FOR UPDATE; its write lock is taken at BEGIN (IMMEDIATE)
    value: int = conn.execute(_HEAD if conn.dialect.name == "sqlite" else _LOCKED_HEAD).scalar_one()
    return value


def advance_head(conn: Connection, new_head: int) -> None:
    """Set the last assigned position (inside the transaction that holds the lock)."""
    conn.execute(_ADVANCE, {"new_head": new_head})


def read_head(conn: Connection) -> int:
    """The last committed position, without locking."""
    value: int = conn.execute(_HEAD).scalar_one()
    return value
