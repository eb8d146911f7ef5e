"""The one load -> decide -> append -> retry-on-conflict loop of the order domain."""

from __future__ import annotations

from decimal import Decimal

import pytest
from orders_fakes import CountingStore, append, debit, place

from kit.errors import Conflict, FailedPrecondition, NotFound, Unavailable
from orders import events
from orders.decisions import ATTEMPTS, Decision, decide, decide_or_retry_later, decision_id
from orders.history import OrderHistory, OrderLog
from orders.ports import Event, RecordedEvent


class AlwaysBeaten(CountingStore):
    """A store where another writer always gets in first: every append of an approval conflicts."""

    def append(self, event: Event, expected_version: int) -> RecordedEvent:
        if event.event_type == events.OrderApproved.TYPE:
            self.appends += 1
            raise Conflict(f"aggregate {event.aggregate_id!r} moved on")
        return super().append(event, expected_version)


def approve(history: OrderHistory) -> Decision[str]:
    """Approve a Pending order; say so when it is not."""
    if history.order.status.value != "Pending":
        return Decision("already " + history.order.status.value)
    return Decision("approved", history.order.approve(), decision_id(history.order.order_id, "review"))


def missing() -> Exception:
    return NotFound("no such order")


def test_a_decision_is_appended_at_the_version_it_was_based_on() -> None:
    store = CountingStore()
    place(store)
    debit(store)
    decided = decide(OrderLog(store), "o-1", approve, missing=missing)
    assert decided.result == "approved"
    assert decided.appended == (events.OrderApproved("o-1"),)
    assert decided.history.order.version == 3
    stored = store.load("o-1")[-1]
    assert (stored.event_id, stored.version) == (decision_id("o-1", "review"), 3)
    assert decided.history.events[-1] == stored


def test_a_lost_race_re_reads_and_decides_again() -> None:
    store = CountingStore()
    place(store)
    log = OrderLog(store)
    seen: list[int] = []

    def cancel_once_raced(history: OrderHistory) -> Decision[int]:
        seen.append(history.order.version)
        if len(seen) == 1:  # another writer gets in between this read and its append
            debit(store)
        return Decision(history.order.version, events.OrderCancelled("o-1", "changed my mind"),
                        f"cancel-{len(seen)}")

    decided = decide(log, "o-1", cancel_once_raced, missing=missing)
    assert seen == [1, 2]
    assert decided.result == 2
    assert [e.event_type for e in store.load("o-1")] == [
        "ORDERS.created", "ORDERS.paymentdebited", "ORDERS.cancelled"]


def test_attempts_exhausted_raise_the_conflict_or_the_given_error() -> None:
    store = AlwaysBeaten()
    place(store)
    debit(store)
    log = OrderLog(store)
    before = store.appends
    with pytest.raises(Conflict):
        decide(log, "o-1", approve, missing=missing, attempts=3)
    assert store.appends - before == 3
    with pytest.raises(Unavailable, match="kept changing"):
        decide(log, "o-1", approve, missing=missing, attempts=2,
               exhausted=lambda: Unavailable("order o-1 kept changing"))
    assert store.appends - before == 5


def test_a_decision_that_raises_is_an_answer_and_stores_nothing() -> None:
    store = CountingStore()
    place(store)
    append(store, events.OrderCancelled("o-1"), "c-1")

    def cancel(history: OrderHistory) -> Decision[None]:
        return Decision(None, history.order.cancel("again"), "c-2")

    with pytest.raises(FailedPrecondition):
        decide(OrderLog(store), "o-1", cancel, missing=missing)
    assert store.loads == 2  # the helper's read and one decision: no retry
    assert len(store.load("o-1")) == 2


def test_a_decision_without_an_event_appends_nothing() -> None:
    store = CountingStore()
    place(store)
    append(store, events.OrderCancelled("o-1"), "c-1")
    decided = decide(OrderLog(store), "o-1", approve, missing=missing)
    assert decided.result == "already Cancelled" and decided.appended == ()
    assert store.appends == 2


def test_an_order_the_store_has_not_got_raises_the_missing_error() -> None:
    with pytest.raises(NotFound):
        decide(OrderLog(CountingStore()), "o-1", approve, missing=missing)


def test_a_repeated_decision_is_stored_once() -> None:
    store = CountingStore()
    place(store)
    debit(store)
    stale = OrderLog(store).load("o-1")
    assert stale is not None
    first = decide(OrderLog(store), "o-1", approve, missing=missing)
    # The same decision again, on the history it was first taken from (a redelivered message, or a
    # retried append whose reply was lost): the store recognises the event id and keeps it once.
    again = decide(OrderLog(store), "o-1", approve, missing=missing, first=lambda: stale)
    assert again.result == "approved"
    assert again.history == first.history
    assert [e.event_id for e in store.load("o-1")].count(decision_id("o-1", "review")) == 1


def test_steps_continue_on_the_history_after_each_append_within_their_bound() -> None:
    store = CountingStore()
    place(store)

    def step(history: OrderHistory) -> Decision[int]:
        version = history.order.version
        if version == 1:
            return Decision(1, events.PaymentDebited("o-1", "cust-1", Decimal("25.00")), "d", final=False)
        if version == 2:
            return Decision(2, events.OrderApproved("o-1"), "a", final=False)
        return Decision(version)

    decided = decide(OrderLog(store), "o-1", step, missing=missing, steps=1)
    assert (decided.result, decided.history.order.version) == (1, 2)
    decided = decide(OrderLog(store), "o-1", step, missing=missing, steps=5)
    assert decided.result == 3 and decided.appended == (events.OrderApproved("o-1"),)
    assert decided.history.order.status.value == "Approved"


def test_a_consumer_hears_of_a_missing_or_restless_order_as_unavailable() -> None:
    with pytest.raises(Unavailable, match="not in the event store"):
        decide_or_retry_later(OrderLog(CountingStore()), "o-1", approve, what="the review")
    store = AlwaysBeaten()
    place(store)
    debit(store)
    with pytest.raises(Unavailable, match="kept changing; the review will be retried"):
        decide_or_retry_later(OrderLog(store), "o-1", approve, what="the review")
    assert store.appends == 2 + ATTEMPTS
