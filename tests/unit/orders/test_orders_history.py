"""The order history: rebuilt from stored events; OrderLog.at reads the store only when it must."""

from __future__ import annotations

import pytest
from orders_fakes import CountingStore, append, debit, place

from kit.errors import Conflict, Internal
from orders import events
from orders.history import OrderLog, rebuild
from orders.memory import InMemoryEventStore


def test_a_history_is_rebuilt_from_its_events_and_none_from_none():
    store = InMemoryEventStore()
    place(store)
    debit(store)
    history = rebuild(store.load("o-1"))
    assert history is not None and history.order.version == 2 and len(history.events) == 2
    assert history.has("ORDERS.paymentdebited") and not history.has("ORDERS.approved")
    assert history.last("ORDERS.created") == history.events[0]
    assert rebuild([]) is None


def test_a_history_that_makes_no_sense_is_internal():
    store = InMemoryEventStore()
    place(store)
    debited = debit(store)
    with pytest.raises(Internal, match="o-1"):
        rebuild([debited])  # a payment before the order exists


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
        log.append(stale, stale.order.debit_payment(), "payment-1")
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
