"""The Order aggregate: creation, every event applied, decisions and their preconditions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kit.errors import FailedPrecondition, InvalidArgument
from orders import aggregate, events
from orders.aggregate import InvalidHistory, Order
from orders.domain import MAX_ITEMS, MAX_QUANTITY, OrderItem, OrderStatus, PaymentStatus

NOW = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
PIZZA = OrderItem("p-1", "Pizza", Decimal("12.5"), 2)
COLA = OrderItem("c-1", "Cola", Decimal("0.10"), 3)


def created(items: tuple[OrderItem, ...] = (PIZZA, COLA)) -> events.OrderCreated:
    return aggregate.create("o-1", "cust-1", "rest-1", items, NOW)


def pending() -> Order:
    order = aggregate.rebuild([created()])
    assert order is not None
    return order


def test_create_computes_the_exact_amount_and_starts_pending() -> None:
    event = created()
    assert event.amount == Decimal("25.30")
    assert [i.unit_price for i in event.items] == [Decimal("12.50"), Decimal("0.10")]
    order = Order.created(event)
    assert (order.status, order.payment, order.version) == (OrderStatus.PENDING, PaymentStatus.NONE, 1)


def test_created_event_data_is_the_go_original_order_json() -> None:
    data = json.loads(events.encode(created()))
    assert data == {
        "order_id": "o-1", "customer_id": "cust-1", "restaurant_id": "rest-1", "status": "Pending",
        "created_on": "2024-05-01T12:00:00.123456Z", "amount": 25.3,
        "order_items": [{"code": "p-1", "name": "Pizza", "unit_price": 12.5, "quantity": 2},
                        {"code": "c-1", "name": "Cola", "unit_price": 0.1, "quantity": 3}],
    }
    assert '"amount":25.30' in events.encode(created())


@pytest.mark.parametrize("event", [
    created(),
    events.OrderCancelled("o-1", "changed my mind"),
    events.PaymentDebited("o-1", "cust-1", Decimal("25.30")),
    events.PaymentFailed("o-1", "cust-1", Decimal("25.30"), "card declined"),
    events.PaymentRefunded("o-1", "cust-1", Decimal("25.30"), "cancelled"),
    events.OrderApproved("o-1"),
    events.OrderRejected("o-1", "kitchen closed"),
])
def test_every_event_round_trips_through_its_event_data(event: events.DomainEvent) -> None:
    assert events.decode(event.TYPE, events.encode(event), "o-1") == event
    assert event.TYPE in events.EVENT_TYPES


def test_decoding_is_tolerant_of_extra_fields_and_a_missing_order_id() -> None:
    decoded = events.decode("ORDERS.approved", '{"reviewer": "bob"}', "o-9")
    assert decoded == events.OrderApproved("o-9")
    assert events.decode("ORDERS.somethingnew", "{}", "o-9") is None


@pytest.mark.parametrize("data", ["[]", '{"order_id": 5}', '{"customer_id": "c", "amount": "x"}', "{"])
def test_undecodable_event_data_is_a_value_error(data: str) -> None:
    with pytest.raises(ValueError):
        events.decode("ORDERS.paymentdebited", data, "o-1")


def test_happy_path_payment_then_approval() -> None:
    order = pending()
    order = order.apply(order.debit_payment())
    assert order.payment is PaymentStatus.DEBITED and order.status is OrderStatus.PENDING
    order = order.apply(order.approve())
    assert order.status is OrderStatus.APPROVED and order.version == 3


def test_failed_payment_rejects_the_order_with_its_reason() -> None:
    order = pending()
    order = order.apply(order.fail_payment("card declined"))
    assert order.status is OrderStatus.REJECTED
    assert order.rejection_reason == "card declined"
    assert order.payment is PaymentStatus.FAILED


def test_rejection_after_debit_allows_a_refund() -> None:
    order = pending()
    order = order.apply(order.debit_payment())
    with pytest.raises(FailedPrecondition):
        order.refund_payment()
    order = order.apply(order.reject("kitchen closed"))
    assert (order.status, order.rejection_reason) == (OrderStatus.REJECTED, "kitchen closed")
    order = order.apply(order.refund_payment("rejected"))
    assert order.payment is PaymentStatus.REFUNDED


def test_cancel_is_allowed_only_while_pending() -> None:
    order = pending()
    cancelled = order.apply(order.cancel("too slow"))
    assert (cancelled.status, cancelled.cancellation_reason) == (OrderStatus.CANCELLED, "too slow")
    with pytest.raises(FailedPrecondition, match="Cancelled"):
        cancelled.cancel()
    approved = order.apply(order.debit_payment())
    approved = approved.apply(approved.approve())
    with pytest.raises(FailedPrecondition, match="Approved"):
        approved.cancel()


def test_approval_needs_a_payment_and_payment_happens_once() -> None:
    order = pending()
    with pytest.raises(FailedPrecondition):
        order.approve()
    paid = order.apply(order.debit_payment())
    with pytest.raises(FailedPrecondition):
        paid.debit_payment()
    with pytest.raises(FailedPrecondition):
        paid.fail_payment("late failure")


def test_unknown_events_are_counted_but_change_nothing_else() -> None:
    order = pending()
    assert order.apply(None) == Order(**{**order.__dict__, "version": 2})


def test_rebuild_needs_creation_first_and_only_once() -> None:
    assert aggregate.rebuild([]) is None
    with pytest.raises(InvalidHistory):
        aggregate.rebuild([events.OrderApproved("o-1")])
    with pytest.raises(InvalidHistory):
        aggregate.rebuild([created(), created()])


def test_rebuild_replays_in_order() -> None:
    order = aggregate.rebuild([created(), events.PaymentDebited("o-1", "cust-1", Decimal("25.30")),
                               events.OrderRejected("o-1", "no drivers")])
    assert order is not None
    assert (order.status, order.payment, order.version) == (OrderStatus.REJECTED, PaymentStatus.DEBITED, 3)


@pytest.mark.parametrize(("items", "field"), [
    ((), "order_items"),
    ((PIZZA,) * (MAX_ITEMS + 1), "order_items"),
    ((OrderItem("p", "P", Decimal("1"), 0),), "order_items.0.quantity"),
    ((OrderItem("p", "P", Decimal("1"), MAX_QUANTITY + 1),), "order_items.0.quantity"),
    ((OrderItem("p", "P", Decimal("-1"), 1),), "order_items.0.unit_price"),
    ((OrderItem("p", "P", Decimal("1.001"), 1),), "order_items.0.unit_price"),
    ((OrderItem("", "P", Decimal("1"), 1),), "order_items.0.code"),
    ((OrderItem("p", "x" * 201, Decimal("1"), 1),), "order_items.0.name"),
    ((OrderItem("p", "bad\nname", Decimal("1"), 1),), "order_items.0.name"),
    ((OrderItem("p", "P", Decimal("0"), 1),), "order_items"),
    ((OrderItem("p", "P", Decimal("0"), 1), OrderItem("q", "Q", Decimal("0.00"), 9)), "order_items"),
    ((PIZZA, COLA, OrderItem("p-1", "Pizza", Decimal("12.5"), 1)), "order_items.2.code"),
])
def test_invalid_new_orders_name_the_field(items: tuple[OrderItem, ...], field: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        aggregate.create("o-1", "cust-1", "rest-1", items, NOW)
    assert field in [f.field for f in raised.value.fields]


def test_customer_and_restaurant_are_required_and_bounded() -> None:
    with pytest.raises(InvalidArgument) as raised:
        aggregate.create("o-1", " ", "r" * 65, (PIZZA,), NOW)
    assert [f.field for f in raised.value.fields] == ["customer_id", "restaurant_id"]


def test_a_product_may_be_listed_once_and_each_repeat_names_the_first_line() -> None:
    with pytest.raises(InvalidArgument) as raised:
        created((PIZZA, COLA, PIZZA, OrderItem("c-1", "Cola", Decimal("0.10"), 1)))
    assert [(f.field, f.message) for f in raised.value.fields] == [
        ("order_items.2.code", "duplicates order_items.0.code"),
        ("order_items.3.code", "duplicates order_items.1.code")]


def test_an_order_must_cost_something_but_a_line_may_be_free() -> None:
    free = OrderItem("n-1", "Napkins", Decimal("0"), 2)
    assert created((PIZZA, free)).amount == Decimal("25.00")
    with pytest.raises(InvalidArgument) as raised:
        created((free,))
    assert [(f.field, f.message) for f in raised.value.fields] == [
        ("order_items", "must add up to more than 0.00")]


def test_line_problems_are_reported_without_a_misleading_total() -> None:
    with pytest.raises(InvalidArgument) as raised:
        created((OrderItem("p", "P", Decimal("0"), 0),))
    assert [f.field for f in raised.value.fields] == ["order_items.0.quantity"]
