"""Run a unit of SQL work in a transaction, retrying what the database asks to retry.

CockroachDB runs every transaction SERIALIZABLE and aborts one side of a conflict with SQLSTATE
40001, expecting the client to run the whole transaction again; PostgreSQL reports deadlocks
(40P01) and SQLite a busy database the same way. ``run`` re-runs the callback in a fresh
transaction with jittered backoff, which is what ``sqlalchemy_cockroachdb.run_transaction`` does,
but for every backend. The callback must only touch the database: it can run several times, so it
never publishes, sends or calls anything outside the transaction.

``read`` runs plain reads the same way but outside a transaction (no ``BEGIN`` / ``COMMIT`` round
trips on a server database). A connection found dropped is replaced and the work run again, once.

Driver errors leave as kit errors: connection failures and exhausted retries as ``Unavailable``,
anything else as ``Internal``; ``IntegrityError`` is re-raised for the caller to interpret.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sa_exc

from kit import sql
from kit.errors import Internal, KitError, Unavailable

T = TypeVar("T")
log = logging.getLogger(__name__)

RETRY_SQLSTATES = frozenset({"40001", "40P01"})
MAX_ATTEMPTS = 12


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver error (psycopg 3 / psycopg2), or None."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code if isinstance(code, str) else None


def is_retryable(exc: BaseException) -> bool:
    """Whether the database asks for the transaction to be run again."""
    if sqlstate(exc) in RETRY_SQLSTATES:
        return True
    message = str(getattr(exc, "orig", exc)).lower()
    return isinstance(exc, sa_exc.OperationalError) and "database is locked" in message


def translate(exc: BaseException) -> KitError:
    """The kit error a driver failure surfaces as."""
    if isinstance(exc, KitError):
        return exc
    if is_retryable(exc):
        return Unavailable("the event database is too busy; retry", retry_after=0.5)
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.OperationalError | sa_exc.InterfaceError) or (
        isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
    ):
        return Unavailable("the event database is unavailable", retry_after=1.0)
    return Internal()


def backoff(attempt: int, *, base: float = 0.005, cap: float = 0.5) -> float:
    """Full-jitter exponential backoff for retry ``attempt`` (0-based), in seconds."""
    return random.uniform(0, min(cap, base * 2**attempt))


def run(
    engine: Engine,
    work: Callable[[Connection], T],
    *,
    write: bool = False,
    attempts: int = MAX_ATTEMPTS,
) -> T:
    """Run ``work`` in a transaction and commit; retry it on serialisation failures.

    ``write`` starts SQLite transactions with ``BEGIN IMMEDIATE`` (the write lock up front).
    """

    def transaction() -> T:
        with engine.connect() as conn:
            if write:
                conn = sql.writing(conn)
            with conn.begin():
                return work(conn)

    return _attempt(transaction, attempts)


def read(engine: Engine, work: Callable[[Connection], T], *, attempts: int = MAX_ATTEMPTS) -> T:
    """Run ``work``, plain reads each standing on its own, outside a transaction (``kit.sql.autocommit``)."""

    def reads() -> T:
        with sql.autocommit(engine) as conn:
            return work(conn)

    return _attempt(reads, attempts)


def _attempt(work: Callable[[], T], attempts: int) -> T:
    # A connection the server dropped is found on first use (the event store's engines do not
    # ping on checkout): SQLAlchemy then replaces the pool's connections and the work runs again,
    # which is safe because it only touches the database. Once only: a server that is down is
    # ``Unavailable`` at once.
    reconnected = False
    for attempt in range(attempts):
        try:
            return work()
        except sa_exc.IntegrityError:
            raise
        except (sa_exc.DBAPIError, sa_exc.TimeoutError) as exc:
            if is_retryable(exc) and attempt + 1 < attempts:
                log.debug("retrying transaction after %s (attempt %d)", sqlstate(exc), attempt + 1)
                time.sleep(backoff(attempt))
                continue
            if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated and not reconnected:
                log.info("database connection lost; running the work again on a new one")
                reconnected = True
                continue
            raise translate(exc) from exc
    raise AssertionError("unreachable")  # the loop returns or raises
