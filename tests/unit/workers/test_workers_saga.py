"""The saga's rules and its coordinator over fakes: compensations, timeouts, idempotent steps."""

from __future__ import annotations

from decimal import Decimal

from workers_fakes import World, append, place, types

from orders import events
from orders.decisions import decision_id
from orders.memory import InMemoryEventStore
from orders.ports import RecordedEvent
from workers.gateway import ChargeStatus
from workers.saga import SagaState, next_step, state_of


def run_workers(world: World, order_id: str = "o-1") -> None:
    """Payment then review, as the workers would."""
    world.payment.handle(world.store.load(order_id)[0])
    last = world.store.load(order_id)[-1]
    world.review.handle(last)


def saga_all(world: World, order_id: str = "o-1") -> None:
    """Deliver every event of the order to the saga, as its consumer would."""
    for event in world.store.load(order_id):
        world.saga.handle(event)


def test_an_approved_order_needs_nothing(world: World) -> None:
    place(world.store)
    run_workers(world)
    saga_all(world)
    assert types(world.store)[-1] == "ORDERS.approved"
    record = world.sagas.get("o-1")
    assert record is not None and record.state is SagaState.APPROVED
    assert [t.handled_event_type for t in record.history] == [
        "ORDERS.created", "ORDERS.paymentdebited", "ORDERS.approved"]


def test_a_failed_payment_is_concluded_by_a_rejection_with_its_reason(world: World) -> None:
    place(world.store, price="80.00", quantity=2)
    world.payment.handle(world.store.load("o-1")[0])
    failed = world.store.load("o-1")[-1]
    assert world.saga.handle(failed) is SagaState.REJECTED
    last = world.store.load("o-1")[-1]
    assert last.event_id == decision_id("o-1", "reject")
    assert events.decode(last.event_type, last.event_data, "o-1") == events.OrderRejected(
        "o-1", "amount 160.00 exceeds the credit limit 100.00")
    assert [c.status for c in world.ledger.all()] == [ChargeStatus.DECLINED]


def test_a_review_rejection_after_a_debit_refunds_then_rejects(world: World) -> None:
    place(world.store, restaurant="closed-1")
    run_workers(world)
    saga_all(world)
    assert types(world.store) == ["ORDERS.created", "ORDERS.paymentdebited", "ORDERS.reviewrejected",
                                  "ORDERS.paymentrefunded", "ORDERS.rejected"]
    assert [c.status for c in world.ledger.all()] == [ChargeStatus.REFUNDED]
    history = world.orders.load("o-1")
    assert history is not None
    assert (history.order.status.value, history.order.payment.value, history.order.rejection_reason) == (
        "Rejected", "refunded", "restaurant closed-1 is closed")
    record = world.sagas.get("o-1")
    assert record is not None and record.state is SagaState.REJECTED
    # The saga reads the order's whole history, so the first event it handles already shows the rejection.
    assert [a for t in record.history for a in t.actions] == ["ORDERS.paymentrefunded", "ORDERS.rejected"]


def test_redelivered_events_take_no_step_twice_and_are_recorded_once(world: World) -> None:
    place(world.store, restaurant="closed-1")
    run_workers(world)
    saga_all(world)
    saga_all(world)
    assert types(world.store).count("ORDERS.paymentrefunded") == 1
    assert types(world.store).count("ORDERS.rejected") == 1
    record = world.sagas.get("o-1")
    assert record is not None and len(record.history) == len(world.store.load("o-1"))


def test_a_debited_order_cancelled_by_the_customer_is_refunded(world: World) -> None:
    place(world.store)
    world.payment.handle(world.store.load("o-1")[0])
    cancelled = append(world.store, events.OrderCancelled("o-1", "changed my mind"), "c-1")
    assert world.saga.handle(cancelled) is SagaState.CANCELLED
    assert types(world.store)[-1] == "ORDERS.paymentrefunded"
    assert [c.status for c in world.ledger.all()] == [ChargeStatus.REFUNDED]


def test_a_stuck_paid_order_is_refunded_and_cancelled_by_the_sweep(world: World) -> None:
    place(world.store)
    world.payment.handle(world.store.load("o-1")[0])  # review never comes
    saga_all(world)
    assert world.saga.sweep() == 0
    world.clock.advance(61)
    assert world.saga.sweep() == 1
    assert types(world.store)[-2:] == ["ORDERS.paymentrefunded", "ORDERS.cancelled"]
    last = world.store.load("o-1")[-1]
    assert events.decode(last.event_type, last.event_data, "o-1") == events.OrderCancelled("o-1", "timeout")
    record = world.sagas.get("o-1")
    assert record is not None and record.state is SagaState.CANCELLED
    assert record.history[-1].handled_event_type == "saga.timeout"
    assert world.saga.sweep() == 0


def test_a_stuck_unpaid_order_is_cancelled_and_payment_then_leaves_it_alone(world: World) -> None:
    created = place(world.store)
    world.saga.handle(created)
    world.clock.advance(120)
    world.saga.sweep()
    assert types(world.store) == ["ORDERS.created", "ORDERS.cancelled"]
    world.payment.handle(created)
    assert world.ledger.all() == []


def test_next_step_and_state_follow_the_order() -> None:
    world = World()
    place(world.store)
    history = world.orders.load("o-1")
    assert history is not None
    assert next_step(history) is None and state_of(history) is SagaState.AWAITING_PAYMENT
    step = next_step(history, timed_out=True)
    assert step is not None and step.name == "cancel"
    world.payment.handle(world.store.load("o-1")[0])
    history = world.orders.load("o-1")
    assert history is not None and state_of(history) is SagaState.AWAITING_REVIEW
    step = next_step(history, timed_out=True)
    assert step is not None and step.name == "refund"
    assert state_of(history, timed_out=True) is SagaState.COMPENSATING


class CountingStore(InMemoryEventStore):
    """An in-memory store that counts its reads."""

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    def load(self, aggregate_id: str) -> list[RecordedEvent]:
        self.loads += 1
        return super().load(aggregate_id)


def test_the_saga_reads_an_order_once_while_its_events_arrive_in_order():
    store = CountingStore()
    world = World(store=store)
    created = place(store)
    world.saga.handle(created)
    reads = store.loads
    debited = append(store, events.PaymentDebited("o-1", "cust-1", Decimal("25.00")), "o-1-debit")
    approved = append(store, events.OrderApproved("o-1"), "o-1-approve")
    reads_by_helpers = store.loads - reads
    assert world.saga.handle(debited) is SagaState.AWAITING_REVIEW
    assert world.saga.handle(approved) is SagaState.APPROVED
    assert store.loads - reads == reads_by_helpers  # the saga itself read nothing more
    record = world.sagas.get("o-1")
    assert record is not None and record.order_version == 3


def test_a_batch_takes_the_same_steps_as_one_event_at_a_time_and_records_each_event_once(
        world: World) -> None:
    place(world.store, restaurant="closed-1")
    place(world.store, order_id="o-2")
    run_workers(world, "o-1")
    run_workers(world, "o-2")
    batch = [*world.store.load("o-1"), *world.store.load("o-2")]
    states = world.saga.handle_batch(batch)
    assert states == [SagaState.REJECTED] * 3 + [SagaState.APPROVED] * 3
    assert world.saga.handle_batch(batch) == states  # a redelivered batch changes nothing
    assert types(world.store).count("ORDERS.paymentrefunded") == 1
    for order_id in ("o-1", "o-2"):
        record = world.sagas.get(order_id)
        assert record is not None
        assert [t.handled_event_id for t in record.history] == [
            e.event_id for e in batch if e.aggregate_id == order_id]
