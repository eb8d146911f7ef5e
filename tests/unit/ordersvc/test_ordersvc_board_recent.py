"""The board's fold of recent orders: statuses as the domain computes them, and the order rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from orders import aggregate, events
from orders.domain import OrderItem
from orders.events import DomainEvent, OrderApproved, PaymentDebited
from orders.ports import RecordedEvent
from ordersvc.board.recent import RecentOrders

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def recorded(event: DomainEvent, order_id: str, version: int, position: int,
             at: datetime = NOW) -> RecordedEvent:
    return RecordedEvent(event_id=f"{order_id}-{version}", event_type=event.TYPE, aggregate_id=order_id,
                         event_data=events.encode(event), version=version, position=position, created_at=at)


def created(order_id: str, position: int, at: datetime = NOW) -> RecordedEvent:
    items = [OrderItem("p-1", "Pizza", Decimal("12.50"), 2)]
    event = aggregate.create(order_id, "cust-1", "rest-1", items, at)
    return recorded(event, order_id, 1, position, at)


def test_an_order_is_folded_from_pending_to_approved() -> None:
    recent = RecentOrders()
    first = recent.apply(created("o-1", 1))
    assert first is not None and first.status.value == "Pending" and first.amount == Decimal("25.00")
    assert recent.apply(recorded(PaymentDebited("o-1", "cust-1", Decimal("25.00")), "o-1", 2, 2)) is not None
    approved = recent.apply(recorded(OrderApproved("o-1"), "o-1", 3, 3))
    assert approved is not None and approved.status.value == "Approved" and approved.version == 3
    assert recent.rows() == [{"order_id": "o-1", "customer_id": "cust-1", "amount": "25.00",
                              "status": "Approved", "created_on": "2026-01-01T12:00:00.000000Z",
                              "version": 3}]


def test_an_unknown_order_or_a_version_seen_already_changes_nothing() -> None:
    recent = RecentOrders()
    assert recent.apply(recorded(OrderApproved("o-9"), "o-9", 3, 1)) is None
    recent.apply(created("o-1", 2))
    assert recent.apply(created("o-1", 2)) is None
    assert recent.apply(recorded(OrderApproved("o-1"), "o-1", 1, 3)) is None
    assert [row["status"] for row in recent.rows()] == ["Pending"]


def test_only_the_newest_orders_are_kept_newest_first() -> None:
    recent = RecentOrders(limit=3)
    for n in range(5):
        recent.apply(created(f"o-{n}", n + 1))
    assert [row["order_id"] for row in recent.rows()] == ["o-4", "o-3", "o-2"]


def test_the_rate_counts_orders_created_in_each_second_of_the_last_minute() -> None:
    recent = RecentOrders()
    recent.apply(created("old", 1, NOW - timedelta(seconds=90)))
    for n in range(3):
        recent.apply(created(f"o-{n}", n + 2, NOW - timedelta(seconds=0.5)))
    rate, series = recent.rate(NOW)
    assert rate == 3 / 60 and series[-1] == 3 and sum(series) == 3
