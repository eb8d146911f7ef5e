"""The SQL read model on SQLite and PostgreSQL: idempotent, ordered, race-safe ``apply``; paging."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from kit.errors import InvalidArgument
from orders import aggregate, events
from orders.domain import OrderItem, OrderStatus, PaymentStatus
from orders.engine import make_engine
from orders.ports import ApplyOutcome, OrderQuery, RecordedEvent
from orders.readmodel import SqlReadModel
from ordersvc.idempotency import SqlIdempotencyStore
from ordersvc.ports import Reservation
from ordersvc.schema import create_schema, drop_schema

NOW = datetime(2024, 5, 1, 12, 0, 0, 654321, tzinfo=UTC)
_positions = iter(range(1, 1_000_000))


@pytest.fixture
def engine(db_urls: tuple[str, str]) -> Iterator[Engine]:
    engine = make_engine(db_urls[1])
    drop_schema(engine)
    create_schema(engine)
    create_schema(engine)  # twice: creating the schema is idempotent
    yield engine
    engine.dispose()


def recorded(event: events.DomainEvent, version: int, order_id: str = "o-1") -> RecordedEvent:
    return RecordedEvent(str(uuid.uuid4()), event.TYPE, order_id, events.encode(event), version,
                         next(_positions), NOW)


def created(order_id: str = "o-1", customer: str = "cust-1") -> RecordedEvent:
    event = aggregate.create(order_id, customer, "rest-1",
                             (OrderItem("p-1", "Pizza", Decimal("999999.99"), 1000),
                              OrderItem("c-1", "Cola", Decimal("0.10"), 3)), NOW)
    return recorded(event, 1, order_id)


def test_apply_projects_every_event_once_and_exactly(engine: Engine) -> None:
    model = SqlReadModel(engine)
    first = created()
    assert model.apply(first) is ApplyOutcome.APPLIED
    assert model.apply(first) is ApplyOutcome.DUPLICATE
    debited = recorded(events.PaymentDebited("o-1", "cust-1", Decimal("999999990.30")), 2)
    rejected = recorded(events.OrderRejected("o-1", "kitchen closed"), 3)
    assert model.apply(rejected) is ApplyOutcome.GAP
    assert model.apply(debited) is ApplyOutcome.APPLIED
    assert model.apply(rejected) is ApplyOutcome.APPLIED
    assert model.apply(debited) is ApplyOutcome.DUPLICATE
    order = model.get("o-1")
    assert order is not None
    assert order.amount == Decimal("999999990.30") and order.created_on == NOW
    assert [i.unit_price for i in order.items] == [Decimal("999999.99"), Decimal("0.10")]
    assert (order.status, order.payment, order.rejection_reason, order.version) == (
        OrderStatus.REJECTED, PaymentStatus.DEBITED, "kitchen closed", 3)
    assert model.apply(recorded(events.OrderApproved("o-2"), 2, "o-2")) is ApplyOutcome.GAP
    assert model.get("o-2") is None


def test_concurrent_applies_of_the_same_events_apply_each_once(engine: Engine) -> None:
    model = SqlReadModel(engine)
    history = [created(), recorded(events.PaymentDebited("o-1", "cust-1", Decimal("1")), 2),
               recorded(events.OrderApproved("o-1"), 3)]
    outcomes: list[ApplyOutcome] = []
    barrier = threading.Barrier(4)

    def project() -> None:
        barrier.wait()
        for event in history:
            outcomes.append(model.apply(event))

    threads = [threading.Thread(target=project) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(ApplyOutcome.APPLIED) == 3
    order = model.get("o-1")
    assert order is not None and (order.status, order.version) == (OrderStatus.APPROVED, 3)


def test_list_pages_newest_first_with_filters(engine: Engine) -> None:
    model = SqlReadModel(engine)
    ids = [f"o-{i}" for i in range(7)]
    for i, order_id in enumerate(ids):
        model.apply(created(order_id, customer=f"cust-{i % 3}"))
    model.apply(recorded(events.OrderCancelled("o-3"), 2, "o-3"))
    pages, cursor = [], None
    while True:
        page = model.list(OrderQuery(limit=3, cursor=cursor))
        pages.append([o.order_id for o in page.orders])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == [["o-6", "o-5", "o-4"], ["o-3", "o-2", "o-1"], ["o-0"]]
    assert [o.order_id for o in model.list(OrderQuery(customer_id="cust-0")).orders] == ["o-6", "o-3", "o-0"]
    assert [o.order_id for o in model.list(OrderQuery(status=OrderStatus.CANCELLED)).orders] == ["o-3"]
    with pytest.raises(InvalidArgument):
        model.list(OrderQuery(limit=0))
    with pytest.raises(InvalidArgument):
        model.list(OrderQuery(cursor="not-a-cursor"))


def test_an_idempotency_key_binds_once(engine: Engine) -> None:
    keys = SqlIdempotencyStore(engine)
    first = Reservation("k", "fp-1", "o-1", "e-1", NOW)
    assert keys.reserve(first) == first
    assert keys.reserve(Reservation("k", "fp-2", "o-2", "e-2", datetime.now(UTC))) == first
