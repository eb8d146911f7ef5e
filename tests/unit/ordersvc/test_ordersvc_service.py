"""The order service over in-memory ports: appends, versions, idempotency, read-your-writes."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from kit.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from orders import events
from orders.domain import OrderItem, OrderStatus
from orders.memory import InMemoryEventStore, InMemoryReadModel
from orders.ports import Event, OrderQuery, RecordedEvent
from ordersvc.memory import InMemoryIdempotencyStore
from ordersvc.service import CreateOrder, EventSourcedOrderService, IdempotencyKeyReused

ITEMS = (OrderItem("p-1", "Pizza", Decimal("9.99"), 3),)


class Fixture:
    def __init__(self) -> None:
        self.store = InMemoryEventStore()
        self.read_model = InMemoryReadModel()
        self.keys = InMemoryIdempotencyStore()
        self.service = EventSourcedOrderService(self.store, self.read_model, self.keys)


@pytest.fixture
def fx() -> Fixture:
    return Fixture()


def place(fx: Fixture, key: str | None = None, customer: str = "cust-1") -> str:
    return fx.service.create_order(CreateOrder(customer, "rest-1", ITEMS, key)).order_id


def stored(event_id: str, event_type: str, order_id: str, data: str) -> Event:
    """An order event to append, as a worker would."""
    return Event(event_id=event_id, event_type=event_type, aggregate_id=order_id,
                 aggregate_type=events.AGGREGATE_TYPE, event_data=data, stream=events.STREAM)


def test_create_appends_one_created_event_at_version_one(fx: Fixture) -> None:
    order = fx.service.create_order(CreateOrder("cust-1", "rest-1", ITEMS))
    stored = fx.store.all_events()
    assert [(e.event_type, e.aggregate_id, e.version) for e in stored] == [
        ("ORDERS.created", order.order_id, 1)]
    assert order.amount == Decimal("29.97") and order.status is OrderStatus.PENDING
    assert events.decode(stored[0].event_type, stored[0].event_data, order.order_id) == events.OrderCreated(
        order.order_id, "cust-1", "rest-1", order.created_on, Decimal("29.97"), ITEMS)


def test_a_new_order_is_readable_at_once(fx: Fixture) -> None:
    order_id = place(fx)
    assert fx.read_model.get(order_id) is not None
    assert fx.service.get_order(order_id).order_id == order_id


def test_get_falls_back_to_the_event_store_when_the_read_model_has_nothing(fx: Fixture) -> None:
    order_id = place(fx)
    fx.read_model = InMemoryReadModel()
    service = EventSourcedOrderService(fx.store, fx.read_model, fx.keys)
    assert service.get_order(order_id).order_id == order_id
    assert fx.read_model.get(order_id) is not None  # and the read model caught up


def test_get_reads_the_event_store_when_the_read_model_fails(fx: Fixture) -> None:
    order_id = place(fx)

    class Broken(InMemoryReadModel):
        def get(self, order_id: str) -> None:
            raise Unavailable("database down")

    service = EventSourcedOrderService(fx.store, Broken(), fx.keys)
    assert service.get_order(order_id).order_id == order_id


def test_unknown_and_malformed_ids_are_not_found(fx: Fixture) -> None:
    for order_id in ("does-not-exist", "has space", "x" * 300, ""):
        with pytest.raises(NotFound):
            fx.service.get_order(order_id)
        with pytest.raises(NotFound):
            fx.service.cancel_order(order_id)
        with pytest.raises(NotFound):
            fx.service.order_history(order_id)


def test_cancel_appends_at_the_version_it_decided_on(fx: Fixture) -> None:
    order_id = place(fx)
    cancelled = fx.service.cancel_order(order_id, "changed my mind")
    assert (cancelled.status, cancelled.version) == (OrderStatus.CANCELLED, 2)
    history = fx.service.order_history(order_id)
    assert [e.event_type for e in history] == ["ORDERS.created", "ORDERS.cancelled"]
    assert fx.service.get_order(order_id).status is OrderStatus.CANCELLED
    with pytest.raises(FailedPrecondition):
        fx.service.cancel_order(order_id)


def test_cancel_re_decides_when_a_concurrent_event_wins(fx: Fixture) -> None:
    order_id = place(fx)
    real_append = fx.store.append
    raced = []

    def append_after_a_worker(event: Event, expected_version: int) -> RecordedEvent:
        if not raced:
            raced.append(True)
            real_append(stored("worker-1", "ORDERS.paymentdebited", order_id,
                               '{"customer_id": "cust-1", "amount": 29.97}'), 1)
        return real_append(event, expected_version)

    fx.store.append = append_after_a_worker  # type: ignore[method-assign]
    cancelled = fx.service.cancel_order(order_id)
    assert cancelled.version == 3 and cancelled.status is OrderStatus.CANCELLED
    assert [e.version for e in fx.store.load(order_id)] == [1, 2, 3]


def test_cancel_loses_to_an_approval_that_got_in_first(fx: Fixture) -> None:
    order_id = place(fx)
    fx.store.append(stored("w1", "ORDERS.paymentdebited", order_id,
                           '{"customer_id": "cust-1", "amount": 29.97}'), 1)
    fx.store.append(stored("w2", "ORDERS.approved", order_id, "{}"), 2)
    with pytest.raises(FailedPrecondition, match="Approved"):
        fx.service.cancel_order(order_id)


def test_same_key_same_request_is_one_order_and_the_same_result(fx: Fixture) -> None:
    first = fx.service.create_order(CreateOrder("cust-1", "rest-1", ITEMS, "key-1"))
    again = fx.service.create_order(CreateOrder("cust-1", "rest-1", ITEMS, "key-1"))
    assert again == first
    assert len(fx.store.all_events()) == 1


def test_same_key_equal_prices_written_differently_match(fx: Fixture) -> None:
    first = place(fx, "key-1")
    items = (OrderItem("p-1", "Pizza", Decimal("9.990"), 3),)
    assert fx.service.create_order(CreateOrder("cust-1", "rest-1", items, "key-1")).order_id == first


def test_same_key_other_request_is_refused_and_stores_nothing(fx: Fixture) -> None:
    place(fx, "key-1")
    with pytest.raises(IdempotencyKeyReused):
        place(fx, "key-1", customer="cust-2")
    assert len(fx.store.all_events()) == 1


def test_concurrent_requests_with_one_key_make_one_order(fx: Fixture) -> None:
    results: list[str] = []
    barrier = threading.Barrier(8)

    def call() -> None:
        barrier.wait()
        results.append(place(fx, "key-race"))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 8
    assert len(fx.store.all_events()) == 1


def test_a_failed_append_with_a_key_completes_on_retry(fx: Fixture) -> None:
    fx.store.unavailable = True
    with pytest.raises(Unavailable):
        place(fx, "key-1")
    assert fx.store.all_events() == []
    fx.store.unavailable = False
    order_id = place(fx, "key-1")
    assert [e.aggregate_id for e in fx.store.all_events()] == [order_id]


def test_an_unreachable_store_writes_nothing(fx: Fixture) -> None:
    order_id = place(fx)
    fx.store.unavailable = True
    with pytest.raises(Unavailable):
        place(fx)
    with pytest.raises(Unavailable):
        fx.service.cancel_order(order_id)
    fx.store.unavailable = False
    assert len(fx.store.all_events()) == 1
    assert [o.status for o in fx.read_model] == [OrderStatus.PENDING]


def test_a_projection_failure_does_not_fail_the_write(fx: Fixture) -> None:
    class Broken(InMemoryReadModel):
        def apply(self, event: RecordedEvent) -> None:  # type: ignore[override]
            raise Unavailable("database down")

    service = EventSourcedOrderService(fx.store, Broken(), fx.keys)
    order = service.create_order(CreateOrder("cust-1", "rest-1", ITEMS))
    assert service.get_order(order.order_id) == order


def test_an_id_clash_on_create_is_a_conflict(fx: Fixture) -> None:
    ids = iter(["same", "e1", "same", "e2"])
    service = EventSourcedOrderService(fx.store, fx.read_model, fx.keys, new_id=lambda: next(ids))
    service.create_order(CreateOrder("cust-1", "rest-1", ITEMS))
    with pytest.raises(Conflict):
        service.create_order(CreateOrder("cust-1", "rest-1", ITEMS))


def test_invalid_orders_store_nothing(fx: Fixture) -> None:
    with pytest.raises(InvalidArgument):
        fx.service.create_order(CreateOrder("", "rest-1", ITEMS))
    with pytest.raises(InvalidArgument) as raised:
        fx.service.create_order(CreateOrder("cust-1", "rest-1", ITEMS, "bad key with spaces"))
    assert raised.value.fields[0].field == "idempotency_key"
    assert fx.store.all_events() == []


def test_list_pages_newest_first_with_filters(fx: Fixture) -> None:
    ids = [place(fx, customer=f"cust-{i % 2}") for i in range(5)]
    fx.service.cancel_order(ids[0])
    page = fx.service.list_orders(OrderQuery(limit=2))
    assert [o.order_id for o in page.orders] == [ids[4], ids[3]]
    page2 = fx.service.list_orders(OrderQuery(limit=2, cursor=page.next_cursor))
    page3 = fx.service.list_orders(OrderQuery(limit=2, cursor=page2.next_cursor))
    assert [o.order_id for o in page2.orders + page3.orders] == [ids[2], ids[1], ids[0]]
    assert page3.next_cursor is None
    mine = fx.service.list_orders(OrderQuery(customer_id="cust-0"))
    assert [o.order_id for o in mine.orders] == [ids[4], ids[2], ids[0]]
    cancelled = fx.service.list_orders(OrderQuery(status=OrderStatus.CANCELLED))
    assert [o.order_id for o in cancelled.orders] == [ids[0]]
    with pytest.raises(InvalidArgument):
        fx.service.list_orders(OrderQuery(cursor="garbage"))
