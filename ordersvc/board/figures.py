"""The board's figures: orders by status (read model), outbox backlog and dead letters (JetStream).

Counts by status are one ``GROUP BY`` over the read model's ``orders`` table. The outbox backlog
and the dead-letter count live where ordersvc has no other reason to look: the event store keeps
its relay checkpoint to itself (its ``eventstore_outbox_backlog`` gauge is not served by a process
of ``eventstream up``), and dead letters are a NATS stream. So, given a NATS URL, the board asks
JetStream: the backlog is the newest stored position minus the ``ORDERS`` stream's last sequence
(every event is published once, in position order, and JetStream drops re-publishes by message id,
so the stream's last sequence is the relay's acknowledged position), and the dead letters are the
messages in the ``DLQ`` stream. Both are cached for ``ttl`` seconds; without a NATS URL, or while
NATS cannot be reached, they are None ("n/a" on the page).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from eventstoresvc.jetstream import STREAM_NAME
from kit.nats.deadletter import DEFAULT_STREAM as DEAD_LETTER_STREAM
from kit.nats.security import NatsSecurity
from kit.nats.streams import connection, run_sync
from orders.domain import OrderStatus
from orders.schema import orders

log = logging.getLogger(__name__)


def counts_by_status(engine: Engine) -> dict[str, int]:
    """How many orders the read model has in each status (every status named, zeros included)."""
    stmt = select(orders.c.status, func.count()).group_by(orders.c.status)
    with engine.connect() as conn:
        found = {str(status): int(count) for status, count in conn.execute(stmt)}
    return {status.value: found.get(status.value, 0) for status in OrderStatus}


@dataclass(frozen=True)
class StreamFigures:
    """What JetStream says: the ORDERS stream's last sequence and the dead letters waiting."""

    published: int
    dead_letters: int


async def _stream_figures(nats_url: str, timeout: float, security: NatsSecurity) -> StreamFigures:
    async with connection(nats_url, name="ordersvc-board", timeout=timeout, security=security) as client:
        js = client.jetstream(timeout=timeout)
        published = (await js.stream_info(STREAM_NAME)).state.last_seq
        try:
            dead = (await js.stream_info(DEAD_LETTER_STREAM)).state.messages
        except Exception:  # no dead-letter stream yet: nothing was ever dead-lettered
            dead = 0
        return StreamFigures(int(published), int(dead))


class JetStreamFigures:
    """The ORDERS and DLQ stream figures, read at most every ``ttl`` seconds."""

    def __init__(self, nats_url: str | None, *, ttl: float = 2.0, timeout: float = 1.0) -> None:
        self._nats_url = nats_url
        self._ttl = ttl
        self._timeout = timeout
        self._security = NatsSecurity.from_env()  # read once: files and TLS context, not per refresh
        self._lock = threading.Lock()
        self._read_at = -1e9
        self._figures: StreamFigures | None = None

    def get(self) -> StreamFigures | None:
        """The figures (cached), or None without NATS."""
        if not self._nats_url:
            return None
        with self._lock:
            if time.monotonic() - self._read_at >= self._ttl:
                self._read_at = time.monotonic()
                try:
                    self._figures = run_sync(_stream_figures(self._nats_url, self._timeout, self._security))
                except Exception as exc:
                    log.debug("board: JetStream figures unavailable: %r", exc)
                    self._figures = None
            return self._figures


def backlog(head: int, figures: StreamFigures | None) -> int | None:
    """Events stored but not yet in the ORDERS stream, or None when unknown."""
    return None if figures is None else max(0, head - figures.published)
