"""Projecting a batch of events into the read model in one transaction and a few statements.

``project_batch`` reads the batch's orders once, locked (``FOR UPDATE``, in order-id order, so two
batches wait for each other instead of deadlocking; SQLite's write lock is taken at ``BEGIN``),
decides every event in Python exactly as ``SqlReadModel.apply`` does one at a time, then writes
the new orders and their items in one multi-row insert each and the changed orders in one
executemany update. Statements are built once. A creation that another writer inserted first
surfaces as ``IntegrityError``: the caller rolls back and applies the events one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from orders import events, money
from orders.aggregate import Order
from orders.domain import MAX_REASON_LENGTH, OrderItem, OrderStatus, PaymentStatus
from orders.engine import as_utc
from orders.ports import ApplyOutcome, RecordedEvent
from orders.schema import order_items, orders

_LOCK_ORDERS = (select(orders).where(orders.c.order_id.in_(bindparam("ids", expanding=True)))
                .order_by(orders.c.order_id).with_for_update())
_INSERT_ORDERS = insert(orders)
_INSERT_ITEMS = insert(order_items)
_UPDATE_ORDER = (update(orders)
                 .where(orders.c.order_id == bindparam("target"), orders.c.version == bindparam("was"))
                 .values(status=bindparam("status"), payment=bindparam("payment"),
                         rejection_reason=bindparam("rejection_reason"),
                         cancellation_reason=bindparam("cancellation_reason"),
                         version=bindparam("version"), last_position=bindparam("last_position"),
                         updated_at=bindparam("updated_at")))


@dataclass
class _State:
    """An order of the batch as the events applied so far leave it."""

    order: Order
    stored_version: int  # 0: created in this batch
    created_position: int
    last: RecordedEvent | None = None  # the last event applied in this batch


def project_batch(conn: Connection, batch: Sequence[RecordedEvent],
                  decoded: Sequence[events.DomainEvent | None]) -> list[ApplyOutcome]:
    """Apply ``batch`` (its events ``decoded``) in the transaction of ``conn``; an outcome each."""
    ids = sorted({event.aggregate_id for event in batch})
    states = {row.order_id: _State(order_of(row, ()), row.version, row.created_position)
              for row in conn.execute(_LOCK_ORDERS, {"ids": ids})}
    outcomes: list[ApplyOutcome] = []
    for event, domain_event in zip(batch, decoded, strict=True):
        state = states.get(event.aggregate_id)
        if isinstance(domain_event, events.OrderCreated):
            if state is not None:
                outcomes.append(ApplyOutcome.DUPLICATE)
                continue
            states[event.aggregate_id] = _State(Order.created(domain_event), 0, event.position, event)
            outcomes.append(ApplyOutcome.APPLIED)
            continue
        if state is None or event.version > state.order.version + 1:
            outcomes.append(ApplyOutcome.GAP)
            continue
        if event.version <= state.order.version:
            outcomes.append(ApplyOutcome.DUPLICATE)
            continue
        state.order = state.order.apply(domain_event)
        state.last = event
        outcomes.append(ApplyOutcome.APPLIED)
    _write(conn, [s for s in states.values() if s.last is not None])
    return outcomes


def _write(conn: Connection, changed: Sequence[_State]) -> None:
    created = [s for s in changed if s.stored_version == 0]
    if created:
        conn.execute(_INSERT_ORDERS, [{
            "order_id": s.order.order_id, "customer_id": s.order.customer_id,
            "restaurant_id": s.order.restaurant_id, "created_on": s.order.created_on,
            "amount_cents": money.to_cents(s.order.amount), "created_position": s.created_position,
            **_progress(s)} for s in created])
        items = [{"order_id": s.order.order_id, "line": line, "code": item.code, "name": item.name,
                  "unit_price_cents": money.to_cents(item.unit_price), "quantity": item.quantity}
                 for s in created for line, item in enumerate(s.order.items)]
        if items:
            conn.execute(_INSERT_ITEMS, items)
    updated = [{"target": s.order.order_id, "was": s.stored_version, **_progress(s)}
               for s in changed if s.stored_version > 0]
    if updated:  # the rows are locked: every update matches its row
        conn.execute(_UPDATE_ORDER, updated)


def _progress(state: _State) -> dict[str, Any]:
    order, last = state.order, state.last
    assert last is not None
    return {"status": order.status.value, "payment": order.payment.value,
            "rejection_reason": order.rejection_reason[:MAX_REASON_LENGTH],
            "cancellation_reason": order.cancellation_reason[:MAX_REASON_LENGTH],
            "version": last.version, "last_position": last.position,
            "updated_at": as_utc(last.created_at)}


def order_of(row: Any, items: Sequence[Any]) -> Order:
    """The order a row of ``orders`` and its rows of ``order_items`` describe."""
    return Order(
        order_id=row.order_id, customer_id=row.customer_id, restaurant_id=row.restaurant_id,
        created_on=as_utc(row.created_on), amount=money.from_cents(row.amount_cents),
        items=tuple(OrderItem(i.code, i.name, money.from_cents(i.unit_price_cents), i.quantity)
                    for i in items),
        status=OrderStatus(row.status), payment=PaymentStatus(row.payment),
        rejection_reason=row.rejection_reason, cancellation_reason=row.cancellation_reason,
        version=row.version,
    )
