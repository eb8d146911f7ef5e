"""Helpers of the order domain's unit tests: orders placed in, and events appended to, a fake store."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from orders import aggregate, events
from orders.domain import OrderItem
from orders.memory import InMemoryEventStore
from orders.ports import Event, RecordedEvent

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class CountingStore(InMemoryEventStore):
    """An in-memory store that counts its reads and appends."""

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0
        self.appends = 0

    def load(self, aggregate_id: str) -> list[RecordedEvent]:
        self.loads += 1
        return super().load(aggregate_id)

    def append(self, event: Event, expected_version: int) -> RecordedEvent:
        self.appends += 1
        return super().append(event, expected_version)


def place(store: InMemoryEventStore, order_id: str = "o-1") -> RecordedEvent:
    """Append ``ORDERS.created`` of a new order of 2 x 12.50; return it as stored."""
    created = aggregate.create(order_id, "cust-1", "rest-1",
                               [OrderItem("p-1", "Pizza", Decimal("12.50"), 2)], T0)
    return store.append(events.new_event(f"{order_id}-created", created), 0)


def append(store: InMemoryEventStore, event: events.DomainEvent, event_id: str) -> RecordedEvent:
    """Append ``event`` at the order's current version."""
    return store.append(events.new_event(event_id, event), len(store.load(event.order_id)))


def debit(store: InMemoryEventStore, order_id: str = "o-1") -> RecordedEvent:
    """Append the payment of an order placed with ``place`` (2 x 12.50)."""
    return append(store, events.PaymentDebited(order_id, "cust-1", Decimal("25.00")), f"{order_id}-debit")
