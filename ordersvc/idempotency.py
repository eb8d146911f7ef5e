"""Idempotency keys in the orders database: each key is bound, once, to the first request using it.

``reserve`` inserts the key with the order id, event id and creation time the request would use;
when the key exists already (a retry, or a concurrent request with the same key) the unique key
makes the insert fail and the stored binding is returned instead. Every request with the key then
appends the very same ``ORDERS.created`` event, which the event store keeps once: one order, one
response. A key whose first append failed stays bound to its request, and retrying that request
completes the order. Keys are kept; pruning old ones is an operator's job (``created_on``).
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import Engine, bindparam, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from kit import sql
from kit.errors import Internal, Unavailable
from ordersvc.ports import Reservation
from ordersvc.schema import idempotency_keys

_RESERVE = insert(idempotency_keys)
_BOUND = select(idempotency_keys).where(idempotency_keys.c.key == bindparam("key"))


class SqlIdempotencyStore:
    """``IdempotencyStore`` in the orders database; database failures raise ``Unavailable``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def reserve(self, proposal: Reservation) -> Reservation:
        """Bind ``proposal.key`` to ``proposal`` unless it is bound already; return the binding."""
        try:
            try:
                with sql.autocommit(self._engine, write=True) as conn:  # one INSERT: atomic alone
                    conn.execute(_RESERVE, {
                        "key": proposal.key, "fingerprint": proposal.fingerprint,
                        "order_id": proposal.order_id, "event_id": proposal.event_id,
                        "created_on": proposal.created_on})
                return proposal
            except IntegrityError:
                pass
            with sql.autocommit(self._engine) as conn:
                row = conn.execute(_BOUND, {"key": proposal.key}).first()
        except SQLAlchemyError as exc:
            raise Unavailable("the orders database is unavailable") from exc
        if row is None:
            raise Internal("an idempotency key vanished while being reserved")
        created_on = row.created_on
        created_on = created_on.replace(tzinfo=UTC) if created_on.tzinfo is None else created_on
        return Reservation(key=row.key, fingerprint=row.fingerprint, order_id=row.order_id,
                           event_id=row.event_id, created_on=created_on.astimezone(UTC))
