"""``ORDERS.reviewrejected``, the event type the workers add: its JSON, the aggregate and read model."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from orders import aggregate, events
from orders.domain import OrderItem, OrderStatus, PaymentStatus
from orders.memory import InMemoryReadModel
from orders.ports import ApplyOutcome, RecordedEvent


def test_it_round_trips_through_its_event_data() -> None:
    event = events.ReviewRejected("o-1", "restaurant r-1 is closed")
    assert event.TYPE in events.EVENT_TYPES
    assert events.decode(event.TYPE, events.encode(event), "o-1") == event


def test_it_keeps_the_order_pending_with_the_reason_until_the_saga_rejects_it() -> None:
    created = aggregate.create("o-1", "c-1", "r-1", [OrderItem("p", "P", Decimal("5.00"), 1)],
                               datetime(2024, 5, 1, tzinfo=UTC))
    history = [created, events.PaymentDebited("o-1", "c-1", Decimal("5.00")),
               events.ReviewRejected("o-1", "closed")]
    order = aggregate.rebuild(history)
    assert order is not None
    assert (order.status, order.payment, order.rejection_reason, order.version) == (
        OrderStatus.PENDING, PaymentStatus.DEBITED, "closed", 3)
    final = aggregate.rebuild([*history, events.PaymentRefunded("o-1", "c-1", Decimal("5.00"), "x"),
                               events.OrderRejected("o-1", "closed")])
    assert final is not None
    assert (final.status, final.payment) == (OrderStatus.REJECTED, PaymentStatus.REFUNDED)


def test_the_read_model_applies_it() -> None:
    created = aggregate.create("o-1", "c-1", "r-1", [OrderItem("p", "P", Decimal("5.00"), 1)],
                               datetime(2024, 5, 1, tzinfo=UTC))
    read_model = InMemoryReadModel()
    stamp = datetime(2024, 5, 1, tzinfo=UTC)
    decided: list[events.DomainEvent] = [
        created, events.PaymentDebited("o-1", "c-1", Decimal("5.00")), events.ReviewRejected("o-1", "closed")]
    stored = [RecordedEvent(event_id=f"e-{v}", event_type=e.TYPE, aggregate_id="o-1",
                            event_data=events.encode(e), version=v, position=v, created_at=stamp)
              for v, e in enumerate(decided, 1)]
    assert [read_model.apply(e) for e in stored] == [ApplyOutcome.APPLIED] * 3
    order = read_model.get("o-1")
    assert order is not None and order.rejection_reason == "closed" and order.status is OrderStatus.PENDING
