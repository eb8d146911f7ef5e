"""OrderLog.at: the history known up to an event, read from the store only when it must be."""

from __future__ import annotations

from decimal import Decimal

import pytest
from workers_fakes import World, append, place

from kit.errors import Conflict
from orders import events
from orders.memory import InMemoryEventStore
from orders.ports import RecordedEvent
from workers.orderlog import OrderLog
from workers.saga import SagaState


class CountingStore(InMemoryEventStore):
    """An in-memory store that counts its reads."""

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    def load(self, aggregate_id: str) -> list[RecordedEvent]:
        self.loads += 1
        return super().load(aggregate_id)


def debit(store: InMemoryEventStore, order_id: str = "o-1") -> RecordedEvent:
    """Append the payment of an order placed with ``place``'s defaults (2 x 12.50)."""
    return append(store, events.PaymentDebited(order_id, "cust-1", Decimal("25.00")), f"{order_id}-debit")


def test_an_order_never_seen_is_read_from_the_store():
    store = CountingStore()
    created = place(store)
    log = OrderLog(store)
    history = log.at(created)
    assert history is not None and history.order.version == 1
    assert store.loads == 1


def test_the_next_event_extends_the_known_history_without_a_read():
    store = CountingStore()
    log = OrderLog(store)
    log.at(place(store))
    debited = debit(store)
    reads = store.loads
    history = log.at(debited)
    assert store.loads == reads
    assert history is not None and history.order.version == 2
    assert history.order.payment.value == "debited"
    assert history == OrderLog(store).load("o-1")


def test_an_event_after_a_gap_is_read_from_the_store():
    store = CountingStore()
    log = OrderLog(store)
    log.at(place(store))
    debit(store)
    cancelled = append(store, events.OrderCancelled("o-1", "changed my mind"), "cancel")
    reads = store.loads
    history = log.at(cancelled)  # version 3 while version 1 is known: 2 is missing
    assert store.loads == reads + 1
    assert history is not None and [e.event_type for e in history.events] == [
        "ORDERS.created", "ORDERS.paymentdebited", "ORDERS.cancelled"]


def test_a_stale_history_fails_its_append_and_the_store_read_tells_the_truth():
    store = CountingStore()
    log = OrderLog(store)
    created = place(store)
    stale = log.at(created)
    assert stale is not None
    append(store, events.OrderCancelled("o-1", "changed my mind"), "cancel")
    with pytest.raises(Conflict):
        log.append(stale, stale.order.debit_payment(), "payment")
    fresh = log.load("o-1")
    assert fresh is not None and fresh.order.status.value == "Cancelled"


def test_the_known_histories_are_bounded():
    store = CountingStore()
    log = OrderLog(store, recent=2)
    for order_id in ("a", "b", "c"):
        log.at(place(store, order_id))
    debited_a, debited_c = debit(store, "a"), debit(store, "c")
    reads = store.loads
    log.at(debited_a)  # "a" was forgotten: read again
    assert store.loads == reads + 1
    log.at(debited_c)  # "c" is known: extended
    assert store.loads == reads + 1


def test_the_saga_reads_an_order_once_while_its_events_arrive_in_order():
    store = CountingStore()
    world = World(store=store)
    created = place(store)
    world.saga.handle(created)
    reads = store.loads
    debited = debit(store)
    approved = append(store, events.OrderApproved("o-1"), "o-1-approve")
    reads_by_helpers = store.loads - reads
    assert world.saga.handle(debited) is SagaState.AWAITING_REVIEW
    assert world.saga.handle(approved) is SagaState.APPROVED
    assert store.loads - reads == reads_by_helpers  # the saga itself read nothing more
    record = world.sagas.get("o-1")
    assert record is not None and record.order_version == 3
