"""Which replica's relay may publish: a lease row in the event database with a fencing token.

Every ``eventstoresvc`` replica serves appends and reads, but only one relay may move the
checkpoint at a time. The ``relay_lease`` row names the holder, until when the lease runs (in the
database's own clock, milliseconds, so replicas' clocks never need to agree) and a fencing token
that grows by one with every new holder.

- ``acquire`` takes the row only once it has expired (or already is ours), raising the token.
- ``renew`` extends it only while it is still ours and unexpired: a holder that lost it cannot
  come back without acquiring again, which a newer holder's unexpired lease prevents.
- ``release`` ends it at once on a clean shutdown, so another replica need not wait.
- ``Fence`` is what the holder's relay checks: ``holds()`` is a local deadline, taken *before*
  each acquire or renew statement was sent and shortened by a margin, so it runs out before the
  database's expiry does and a paused or partitioned holder stops publishing before anyone else
  may start; ``clause()`` is the SQL condition the checkpoint update carries, so a holder that
  lost the lease cannot move the checkpoint even if its local clock says otherwise.

Why the database rather than a NATS KV key with a TTL: the checkpoint lives in the database, so a
lease there fences the checkpoint update in the same statement; a KV lease could lapse between
the check and the update.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import BigInteger, ColumnElement, Engine, and_, exists, or_, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement

from eventstoresvc import transactions
from eventstoresvc.schema import LEASE_ID, relay_lease

SAFETY = 0.2  # the share of the lease a holder gives up to clock drift and statement time


class LeaseLost(Exception):
    """The relay lease is no longer this holder's: stop publishing, do not move the checkpoint."""


class db_now_ms(FunctionElement[int]):  # noqa: N801 - named like the SQL function it stands for
    """The database's current time in milliseconds since the epoch (wall clock, not transaction start)."""

    type = BigInteger()
    inherit_cache = True


@compiles(db_now_ms)
def _now_postgres(element: db_now_ms, compiler: SQLCompiler, **kw: object) -> str:
    return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"


@compiles(db_now_ms, "sqlite")
def _now_sqlite(element: db_now_ms, compiler: SQLCompiler, **kw: object) -> str:
    return "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"


@dataclass
class Fence:
    """A holder's view of its lease: the token, and the local deadline it must stop publishing by."""

    token: int
    deadline: float  # time.monotonic()

    def holds(self) -> bool:
        """Whether this holder may still publish (its local deadline has not passed)."""
        return time.monotonic() < self.deadline

    def clause(self) -> ColumnElement[bool]:
        """True in SQL while the lease row is still this token's and unexpired."""
        row = relay_lease.c
        return exists().where(row.id == LEASE_ID, row.token == self.token, row.expires_ms > db_now_ms())

    def lose(self) -> None:
        """Stop at once (the lease was found lost or given up)."""
        self.deadline = 0.0


class RelayLease:
    """Acquire, renew and release the relay lease in ``engine`` as ``holder``, for ``ttl`` seconds."""

    def __init__(self, engine: Engine, holder: str, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError("the lease must last a positive time")
        self._engine = engine
        self.holder = holder
        self.ttl = ttl
        self._ttl_ms = int(ttl * 1000)

    def _local_deadline(self, sent_at: float) -> float:
        return sent_at + self.ttl * (1 - SAFETY)

    def acquire(self) -> Fence | None:
        """Take the lease if it has expired or is ours; the new fence, or None if another holds it."""
        row = relay_lease.c
        now = db_now_ms()
        stmt = (update(relay_lease)
                .where(row.id == LEASE_ID, or_(row.expires_ms <= now, row.holder == self.holder))
                .values(holder=self.holder, token=row.token + 1, expires_ms=now + self._ttl_ms)
                .returning(row.token))
        sent_at = time.monotonic()
        token = transactions.run(self._engine, lambda conn: conn.execute(stmt).scalar(), write=True)
        return None if token is None else Fence(int(token), self._local_deadline(sent_at))

    def renew(self, fence: Fence) -> bool:
        """Extend the lease of ``fence``; False (and the fence lost) if it is no longer ours."""
        row = relay_lease.c
        now = db_now_ms()
        stmt = (update(relay_lease)
                .where(and_(row.id == LEASE_ID, row.token == fence.token, row.holder == self.holder,
                            row.expires_ms > now))
                .values(expires_ms=now + self._ttl_ms))
        sent_at = time.monotonic()
        renewed = transactions.run(self._engine, lambda conn: conn.execute(stmt).rowcount == 1, write=True)
        if renewed:
            fence.deadline = self._local_deadline(sent_at)
        else:
            fence.lose()
        return bool(renewed)

    def release(self, fence: Fence) -> None:
        """End the lease now, if it is still ``fence``'s, so another replica may take over at once."""
        fence.lose()
        row = relay_lease.c
        stmt = update(relay_lease).where(row.id == LEASE_ID, row.token == fence.token).values(expires_ms=0)
        transactions.run(self._engine, lambda conn: conn.execute(stmt), write=True)

    def current(self) -> tuple[str, int, bool]:
        """Who holds the lease: (holder, token, unexpired), for operators and tests."""
        row = relay_lease.c
        stmt = select(row.holder, row.token, row.expires_ms > db_now_ms()).where(row.id == LEASE_ID)
        found = transactions.read(self._engine, lambda conn: conn.execute(stmt).one())
        return str(found[0]), int(found[1]), bool(found[2])
