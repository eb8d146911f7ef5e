"""The contracts of the order domain's ports, run against every adapter and the fake standing in for it.

Each suite runs on the in-memory fake (``orders.memory``, ``ordersvc.memory``) and on the real
adapters: the SQL read model and idempotency keys on SQLite and PostgreSQL, and the gRPC event
store adapter against a running event store service over either database. A fake that passes them
keeps the promises the unit tests built on it rely on.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from ordersvc_servers import database_urls, running_eventstore
from sqlalchemy import Engine

from kit.errors import Conflict, InvalidArgument
from kit.grpc import dial
from orders import aggregate, events
from orders.domain import OrderItem, OrderStatus, PaymentStatus
from orders.engine import make_engine
from orders.eventstore import GRPCEventStore
from orders.memory import InMemoryEventStore, InMemoryReadModel
from orders.ports import ApplyOutcome, Event, EventStore, OrderQuery, ReadModel, RecordedEvent
from orders.readmodel import SqlReadModel
from ordersvc.idempotency import SqlIdempotencyStore
from ordersvc.memory import InMemoryIdempotencyStore
from ordersvc.ports import IdempotencyStore, Reservation
from ordersvc.schema import create_schema, drop_schema

pytestmark = pytest.mark.integration

ADAPTERS = ["memory", "sqlite", "postgresql"]
NOW = datetime(2024, 5, 1, 12, 0, 0, 654321, tzinfo=UTC)
_positions = iter(range(1, 1_000_000))


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> str:
    """The fake, then the real adapter on each database."""
    return str(request.param)


@pytest.fixture
def engine(adapter: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine | None]:
    """An engine on a fresh orders database of the adapter's backend (None for the fake)."""
    if adapter == "memory":
        yield None
        return
    with database_urls(adapter, request, tmp_path) as (_, orders_url):
        engine = make_engine(orders_url)
        drop_schema(engine)
        create_schema(engine)
        create_schema(engine)  # twice: creating the schema is idempotent
        yield engine
        engine.dispose()


@pytest.fixture
def model(engine: Engine | None) -> ReadModel:
    """The read model under test."""
    return InMemoryReadModel() if engine is None else SqlReadModel(engine)


@pytest.fixture
def keys(engine: Engine | None) -> IdempotencyStore:
    """The idempotency key store under test."""
    return InMemoryIdempotencyStore() if engine is None else SqlIdempotencyStore(engine)


@pytest.fixture
def store(adapter: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    """The event store port under test: the fake, or the gRPC adapter and a running event store."""
    if adapter == "memory":
        yield InMemoryEventStore()
        return
    with (database_urls(adapter, request, tmp_path) as (events_url, _),
          running_eventstore(events_url, request.getfixturevalue("nats_server")) as address):
        channel = dial(address)
        try:
            yield GRPCEventStore(channel)
        finally:
            channel.close()


def recorded(event: events.DomainEvent, version: int, order_id: str = "o-1") -> RecordedEvent:
    return RecordedEvent(event_id=str(uuid.uuid4()), event_type=event.TYPE, aggregate_id=order_id,
                         event_data=events.encode(event), version=version, position=next(_positions),
                         created_at=NOW)


ITEMS = (OrderItem("p-1", "Pizza", Decimal("999999.99"), 1000), OrderItem("c-1", "Cola", Decimal("0.10"), 3))


def created(order_id: str = "o-1", customer: str = "cust-1") -> RecordedEvent:
    return recorded(aggregate.create(order_id, customer, "rest-1", ITEMS, NOW), 1, order_id)


def new_created(order_id: str) -> Event:
    """``ORDERS.created`` of a new order, to append."""
    return events.new_event(str(uuid.uuid4()), aggregate.create(order_id, "cust-1", "rest-1", ITEMS, NOW))


# The read model.

def test_apply_projects_every_event_once_and_exactly(model: ReadModel) -> None:
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


def test_concurrent_applies_of_the_same_events_apply_each_once(model: ReadModel) -> None:
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


def test_apply_many_projects_a_batch_in_order_with_an_outcome_each(model: ReadModel) -> None:
    o1 = [created(), recorded(events.PaymentDebited("o-1", "cust-1", Decimal("1")), 2),
          recorded(events.OrderApproved("o-1"), 3)]
    o2, o3 = created("o-2"), recorded(events.OrderApproved("o-3"), 2, "o-3")
    outcomes = model.apply_many([o1[0], o2, o1[1], o1[0], o1[2], o3])
    assert outcomes == [ApplyOutcome.APPLIED, ApplyOutcome.APPLIED, ApplyOutcome.APPLIED,
                        ApplyOutcome.DUPLICATE, ApplyOutcome.APPLIED, ApplyOutcome.GAP]
    order = model.get("o-1")
    assert order is not None and (order.status, order.version) == (OrderStatus.APPROVED, 3)
    assert model.apply_many(o1) == [ApplyOutcome.DUPLICATE] * 3


def test_concurrent_batches_of_overlapping_orders_apply_each_event_once(model: ReadModel) -> None:
    def history(order_id: str) -> list[RecordedEvent]:
        debited = events.PaymentDebited(order_id, "cust-1", Decimal("1"))
        return [created(order_id), recorded(debited, 2, order_id),
                recorded(events.OrderApproved(order_id), 3, order_id)]

    batches = [[*history("o-1"), *history("o-2")], [*history("o-2"), *history("o-1")],
               history("o-1"), [*history("o-2"), *history("o-3")]]
    outcomes: list[ApplyOutcome] = []
    barrier = threading.Barrier(len(batches))

    def project(batch: list[RecordedEvent]) -> None:
        barrier.wait()
        outcomes.extend(model.apply_many(batch))

    threads = [threading.Thread(target=project, args=(batch,)) for batch in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(ApplyOutcome.APPLIED) == 9
    for order_id in ("o-1", "o-2", "o-3"):
        order = model.get(order_id)
        assert order is not None and (order.status, order.version) == (OrderStatus.APPROVED, 3)


def test_a_batch_with_unreadable_event_data_changes_nothing(model: ReadModel) -> None:
    unreadable = dataclasses.replace(created("o-9"), event_data='{"not": "an order"}')
    with pytest.raises(ValueError):
        model.apply_many([created("o-8"), unreadable])
    assert model.get("o-8") is None


def test_list_pages_newest_first_with_filters(model: ReadModel) -> None:
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


def test_a_reset_forgets_every_order_and_a_replay_rebuilds_it(model: ReadModel) -> None:
    history = [created(), recorded(events.PaymentDebited("o-1", "cust-1", Decimal("1")), 2)]
    for event in history:
        model.apply(event)
    model.reset()
    assert model.get("o-1") is None and model.list(OrderQuery()).orders == []
    assert [model.apply(event) for event in history] == [ApplyOutcome.APPLIED] * 2
    order = model.get("o-1")
    assert order is not None and order.payment is PaymentStatus.DEBITED


@pytest.mark.parametrize("adapter", ["sqlite", "postgresql"], indirect=True)
def test_a_reset_keeps_the_idempotency_keys(model: ReadModel, keys: IdempotencyStore) -> None:
    first = Reservation("k", "fp-1", "o-1", "e-1", NOW)
    keys.reserve(first)
    model.apply(created())
    model.reset()
    assert keys.reserve(Reservation("k", "fp-2", "o-2", "e-2", NOW)) == first


# The idempotency keys.

def test_an_idempotency_key_binds_once(keys: IdempotencyStore) -> None:
    first = Reservation("k", "fp-1", "o-1", "e-1", NOW)
    assert keys.reserve(first) == first
    assert keys.reserve(Reservation("k", "fp-2", "o-2", "e-2", datetime.now(UTC))) == first


def test_concurrent_reservations_of_one_key_agree_on_the_first(keys: IdempotencyStore) -> None:
    proposals = [Reservation("k", f"fp-{i}", f"o-{i}", f"e-{i}", NOW) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        bound = list(pool.map(keys.reserve, proposals))
    assert len(set(bound)) == 1 and bound[0] in proposals


# The event store port.

def order_id() -> str:
    return str(uuid.uuid4())


def test_appends_get_the_next_version_and_load_reads_them_in_order(store: EventStore) -> None:
    oid = order_id()
    first = store.append(new_created(oid), 0)
    second = store.append(events.new_event(str(uuid.uuid4()),
                                           events.PaymentDebited(oid, "cust-1", Decimal("12.50"))), 1)
    assert (first.version, second.version) == (1, 2) and second.position > first.position > 0
    assert store.load(oid) == [first, second]
    assert store.load(order_id()) == []
    assert (second.aggregate_type, second.stream, second.metadata.correlation_id) == (
        events.AGGREGATE_TYPE, events.STREAM, oid)
    assert second.created_at.tzinfo is not None


def test_an_append_at_a_stale_version_is_a_conflict_and_stores_nothing(store: EventStore) -> None:
    oid = order_id()
    store.append(new_created(oid), 0)
    with pytest.raises(Conflict):
        store.append(events.new_event(str(uuid.uuid4()), events.OrderCancelled(oid)), 0)
    with pytest.raises(Conflict):
        store.append(events.new_event(str(uuid.uuid4()), events.OrderCancelled(oid)), 2)
    assert len(store.load(oid)) == 1


def test_a_repeated_append_is_kept_once(store: EventStore) -> None:
    oid = order_id()
    event = new_created(oid)
    stored = store.append(event, 0)
    assert store.append(event, 0) == stored
    assert store.load(oid) == [stored]


def test_an_event_id_stored_with_other_content_is_a_conflict(store: EventStore) -> None:
    oid = order_id()
    event = new_created(oid)
    store.append(event, 0)
    with pytest.raises(Conflict):
        store.append(events.new_event(event.event_id, events.OrderCancelled(oid)), 1)
    assert len(store.load(oid)) == 1


def test_of_concurrent_appends_at_one_version_one_wins(store: EventStore) -> None:
    oid = order_id()
    store.append(new_created(oid), 0)
    attempts = [events.new_event(f"{oid}-{i}", events.OrderCancelled(oid, f"try {i}")) for i in range(4)]

    def append(event: Event) -> bool:
        try:
            store.append(event, 1)
        except Conflict:
            return False
        return True

    with ThreadPoolExecutor(4) as pool:
        won = list(pool.map(append, attempts))
    assert won.count(True) == 1
    assert [e.version for e in store.load(oid)] == [1, 2]
