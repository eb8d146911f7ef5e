"""Fakes and helpers of the workers' unit tests: in-memory ports, orders placed in a fake store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from orders import aggregate, events
from orders.domain import OrderItem
from orders.history import OrderLog
from orders.memory import InMemoryEventStore
from orders.ports import RecordedEvent
from workers.coordinator import SagaCoordinator
from workers.gateway import InMemoryChargeLedger, SimulatedGateway
from workers.payment import PaymentService
from workers.review import ReviewService, closed_restaurants
from workers.sagastore import InMemorySagaStore

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def place(store: InMemoryEventStore, order_id: str = "o-1", *, price: str = "12.50", quantity: int = 2,
          restaurant: str = "rest-1", created_on: datetime = T0) -> RecordedEvent:
    """Append ``ORDERS.created`` of a new order; return it as stored."""
    created = aggregate.create(order_id, "cust-1", restaurant,
                               [OrderItem("p-1", "Pizza", Decimal(price), quantity)], created_on)
    return store.append(events.new_event(f"{order_id}-created", created), 0)


def append(store: InMemoryEventStore, event: events.DomainEvent, event_id: str) -> RecordedEvent:
    """Append ``event`` at the order's current version."""
    version = len(store.load(event.order_id))
    return store.append(events.new_event(event_id, event), version)


def types(store: InMemoryEventStore, order_id: str = "o-1") -> list[str]:
    """The event types of an order, in version order."""
    return [e.event_type for e in store.load(order_id)]


@dataclass
class Clock:
    """A settable clock."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class World:
    """Every worker service over the same in-memory store, ledger and saga store."""

    store: InMemoryEventStore = field(default_factory=InMemoryEventStore)
    ledger: InMemoryChargeLedger = field(default_factory=InMemoryChargeLedger)
    sagas: InMemorySagaStore = field(default_factory=InMemorySagaStore)
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        self.orders = OrderLog(self.store)
        self.gateway = SimulatedGateway(self.ledger, credit_limit=Decimal("100.00"))
        self.payment = PaymentService(self.orders, self.gateway)
        self.review = ReviewService(self.orders, [closed_restaurants(["closed-1"])])
        self.saga = SagaCoordinator(self.orders, self.gateway, self.sagas, timeout=60.0, clock=self.clock)
