"""The payment worker's service over fakes: one charge and one decision per order, whatever happens."""

from __future__ import annotations

from decimal import Decimal

import pytest
from workers_fakes import World, append, place, types

from kit.errors import Unavailable
from orders import events
from orders.decisions import decision_id
from orders.history import OrderLog
from orders.memory import InMemoryEventStore
from orders.ports import Event, RecordedEvent
from workers.gateway import ChargeStatus, InMemoryChargeLedger, SimulatedGateway
from workers.payment import PaymentOutcome, PaymentService, charge_id


def test_an_order_within_the_credit_limit_is_debited_once(world: World) -> None:
    created = place(world.store)
    assert world.payment.handle(created) is PaymentOutcome.DEBITED
    assert types(world.store) == ["ORDERS.created", "ORDERS.paymentdebited"]
    stored = world.store.load("o-1")[1]
    assert stored.event_id == decision_id("o-1", "payment")
    assert events.decode(stored.event_type, stored.event_data, "o-1") == events.PaymentDebited(
        "o-1", "cust-1", Decimal("25.00"))
    [charge] = world.ledger.all()
    assert (charge.charge.charge_id, charge.status, charge.charge.amount) == (
        charge_id("o-1"), ChargeStatus.DEBITED, Decimal("25.00"))


def test_a_redelivery_neither_charges_nor_records_again(world: World) -> None:
    created = place(world.store)
    world.payment.handle(created)
    assert world.payment.handle(created) is PaymentOutcome.ALREADY_DECIDED
    assert types(world.store).count("ORDERS.paymentdebited") == 1
    assert len(world.ledger.all()) == 1


def test_an_amount_above_the_credit_limit_fails_with_the_gateways_reason(world: World) -> None:
    created = place(world.store, price="60.00", quantity=2)
    assert world.payment.handle(created) is PaymentOutcome.FAILED
    stored = world.store.load("o-1")[-1]
    decoded = events.decode(stored.event_type, stored.event_data, "o-1")
    assert isinstance(decoded, events.PaymentFailed)
    assert decoded.reason == "amount 120.00 exceeds the credit limit 100.00"
    assert [c.status for c in world.ledger.all()] == [ChargeStatus.DECLINED]


def test_an_order_cancelled_before_payment_is_not_charged(world: World) -> None:
    created = place(world.store)
    append(world.store, events.OrderCancelled("o-1", "changed my mind"), "cancel-1")
    assert world.payment.handle(created) is PaymentOutcome.NOT_PENDING
    assert world.ledger.all() == []
    assert types(world.store) == ["ORDERS.created", "ORDERS.cancelled"]


class CancelBeforeFirstAppend(InMemoryEventStore):
    """A store where the customer cancels the order just before the payment's append."""

    def __init__(self) -> None:
        super().__init__()
        self.raced = False

    def append(self, event: Event, expected_version: int) -> RecordedEvent:
        if event.event_type == events.PaymentDebited.TYPE and not self.raced:
            self.raced = True
            append(self, events.OrderCancelled(event.aggregate_id, "too slow"), "cancel-race")
        return super().append(event, expected_version)


def test_a_cancellation_winning_the_race_voids_the_charge() -> None:
    store = CancelBeforeFirstAppend()
    ledger = InMemoryChargeLedger()
    service = PaymentService(OrderLog(store), SimulatedGateway(ledger))
    created = place(store)
    assert service.handle(created) is PaymentOutcome.NOT_PENDING
    assert types(store) == ["ORDERS.created", "ORDERS.cancelled"]
    assert [c.status for c in ledger.all()] == [ChargeStatus.REFUNDED]


def test_a_transient_gateway_failure_is_retryable_and_records_nothing(world: World) -> None:
    flaky = PaymentService(world.orders, SimulatedGateway(world.ledger, failure_rate=0.5, chance=lambda: 0.1))
    created = place(world.store)
    with pytest.raises(Unavailable) as raised:
        flaky.handle(created)
    assert raised.value.retryable
    assert world.ledger.all() == []
    assert types(world.store) == ["ORDERS.created"]
    assert world.payment.handle(created) is PaymentOutcome.DEBITED


def test_an_order_missing_from_the_store_is_retried_not_decided(world: World) -> None:
    ghost = place(InMemoryEventStore(), "ghost")
    with pytest.raises(Unavailable):
        world.payment.handle(ghost)
    assert world.ledger.all() == []


def test_other_events_are_ignored(world: World) -> None:
    place(world.store)
    cancelled = append(world.store, events.OrderCancelled("o-1"), "c-1")
    assert world.payment.handle(cancelled) is PaymentOutcome.IGNORED
    assert world.ledger.all() == []
