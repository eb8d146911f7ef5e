"""The orders read model over SQLAlchemy Core: queries for the API, ``apply`` for projections.

``apply(event)`` is the projection step the projection worker and this service share. It is
idempotent and safe under concurrency: the order row stores the version of the last event applied,
and an event is applied only as the next version, in the same transaction as its effect (a
compare-and-set on ``version``); a creation races on the primary key. Events it has seen return
``DUPLICATE``, events after a missing one ``GAP`` (apply the earlier ones first), and neither
changes anything.

The list is ordered newest first by the global position of each order's creation event, which is
unique and never reused, so the opaque cursor (that position, encoded) pages without skipping or
repeating orders while new ones arrive.
"""

from __future__ import annotations

import base64
import binascii
import builtins
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, Engine, Row, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from kit.errors import InvalidArgument
from orders import events, money
from orders.aggregate import Order
from orders.domain import MAX_REASON_LENGTH
from orders.engine import as_utc, reads, transaction
from orders.ports import ApplyOutcome, OrderPage, OrderQuery, RecordedEvent
from orders.projecting import order_of, project_batch
from orders.schema import order_items, orders

MAX_LIMIT = 100
_CURSOR_PREFIX = "p1:"


def encode_cursor(position: int) -> str:
    """The opaque cursor of the page after the order created at ``position``."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The position a cursor stands for; ``InvalidArgument`` (field ``cursor``) if it is not one."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if text.startswith(_CURSOR_PREFIX) and text[len(_CURSOR_PREFIX):].isdigit():
            return int(text[len(_CURSOR_PREFIX):])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise InvalidArgument.for_field("cursor", "is not a cursor returned by this API")


_ORDER = select(orders).where(orders.c.order_id == bindparam("order_id"))
_ITEMS = (select(order_items).where(order_items.c.order_id == bindparam("order_id"))
          .order_by(order_items.c.line))


class SqlReadModel:
    """``ReadModel`` in the orders database; database failures raise ``Unavailable``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _connect(self, *, write: bool = False) -> AbstractContextManager[Connection]:
        return transaction(self._engine, write=write)

    def get(self, order_id: str) -> Order | None:
        """The projected order, or None (two reads: an order's items never change once stored)."""
        with reads(self._engine) as conn:
            row = conn.execute(_ORDER, {"order_id": order_id}).first()
            if row is None:
                return None
            return order_of(row, conn.execute(_ITEMS, {"order_id": order_id}).all())

    def list(self, query: OrderQuery) -> OrderPage:
        """Orders newest first, filtered, ``query.limit`` (1-100) at a time."""
        if not 1 <= query.limit <= MAX_LIMIT:
            raise InvalidArgument.for_field("limit", f"must be between 1 and {MAX_LIMIT}")
        conditions = []
        if query.cursor:
            conditions.append(orders.c.created_position < decode_cursor(query.cursor))
        if query.customer_id is not None:
            conditions.append(orders.c.customer_id == query.customer_id)
        if query.status is not None:
            conditions.append(orders.c.status == query.status.value)
        statement = (select(orders).where(*conditions)
                     .order_by(orders.c.created_position.desc()).limit(query.limit + 1))
        with reads(self._engine) as conn:  # a page's orders, then their items, which never change
            rows = conn.execute(statement).all()
            page = rows[:query.limit]
            items = self._items(conn, [row.order_id for row in page])
        next_cursor = encode_cursor(page[-1].created_position) if len(rows) > query.limit else None
        return OrderPage([order_of(row, items.get(row.order_id, [])) for row in page], next_cursor)

    @staticmethod
    def _items(conn: Connection, order_ids: Sequence[str]) -> dict[str, builtins.list[Row[Any]]]:
        found: dict[str, builtins.list[Row[Any]]] = {}
        if not order_ids:
            return found
        statement = (select(order_items).where(order_items.c.order_id.in_(order_ids))
                     .order_by(order_items.c.order_id, order_items.c.line))
        for row in conn.execute(statement):
            found.setdefault(row.order_id, []).append(row)
        return found

    def reset(self) -> None:
        """Delete every projected order, so that a replay rebuilds them from the first event.

        Only the projection's tables: the order service's idempotency keys in the same database
        belong to the API, not to the projection, and stay.
        """
        with self._connect(write=True) as conn:
            conn.execute(delete(order_items))
            conn.execute(delete(orders))

    def apply(self, event: RecordedEvent) -> ApplyOutcome:
        """Project ``event`` unless it is already reflected or comes after a missing one.

        Raises ``ValueError`` for event data that cannot be read (a poison message for a worker).
        """
        domain_event = events.decode(event.event_type, event.event_data, event.aggregate_id)
        try:
            with self._connect(write=True) as conn:
                if isinstance(domain_event, events.OrderCreated):
                    return self._insert(conn, event, domain_event)
                return self._update(conn, event, domain_event)
        except IntegrityError:
            # A concurrent apply of the same creation committed first.
            return ApplyOutcome.DUPLICATE

    def apply_many(self, batch: Sequence[RecordedEvent]) -> builtins.list[ApplyOutcome]:
        """Project the events of ``batch`` in their order in one transaction (see ``apply``).

        If the transaction loses a race (a concurrent apply of a creation), it is rolled back and
        the events are applied one by one instead.
        """
        decoded = [events.decode(e.event_type, e.event_data, e.aggregate_id) for e in batch]
        try:
            with self._connect(write=True) as conn:
                return project_batch(conn, batch, decoded)
        except IntegrityError:
            return [self.apply(event) for event in batch]

    def _insert(self, conn: Connection, event: RecordedEvent,
                created: events.OrderCreated) -> ApplyOutcome:
        exists = conn.execute(select(orders.c.version).where(orders.c.order_id == event.aggregate_id))
        if exists.first() is not None:
            return ApplyOutcome.DUPLICATE
        order = Order.created(created)
        conn.execute(insert(orders).values(
            order_id=event.aggregate_id, customer_id=order.customer_id,
            restaurant_id=order.restaurant_id, status=order.status.value, payment=order.payment.value,
            created_on=order.created_on, amount_cents=money.to_cents(order.amount),
            rejection_reason="", cancellation_reason="", version=event.version,
            last_position=event.position, created_position=event.position,
            updated_at=as_utc(event.created_at),
        ))
        if order.items:
            conn.execute(insert(order_items), [
                {"order_id": event.aggregate_id, "line": line, "code": item.code, "name": item.name,
                 "unit_price_cents": money.to_cents(item.unit_price), "quantity": item.quantity}
                for line, item in enumerate(order.items)
            ])
        return ApplyOutcome.APPLIED

    def _update(self, conn: Connection, event: RecordedEvent,
                domain_event: events.DomainEvent | None) -> ApplyOutcome:
        row = conn.execute(select(orders).where(orders.c.order_id == event.aggregate_id)).first()
        if row is None:
            return ApplyOutcome.GAP
        if event.version <= row.version:
            return ApplyOutcome.DUPLICATE
        if event.version > row.version + 1:
            return ApplyOutcome.GAP
        current = order_of(row, ())
        after = current.apply(domain_event)
        changed = conn.execute(
            update(orders)
            .where(orders.c.order_id == event.aggregate_id, orders.c.version == row.version)
            .values(status=after.status.value, payment=after.payment.value,
                    rejection_reason=after.rejection_reason[:MAX_REASON_LENGTH],
                    cancellation_reason=after.cancellation_reason[:MAX_REASON_LENGTH],
                    version=event.version, last_position=event.position,
                    updated_at=as_utc(event.created_at))
        )
        return ApplyOutcome.APPLIED if changed.rowcount == 1 else ApplyOutcome.DUPLICATE
