"""The whole order system in one test process: event store, order service, workers, on real servers.

``System`` runs a real ``eventstoresvc`` (gRPC on a free port, relaying to a real nats-server),
the order service's service layer over the same gRPC store (orders are placed as the API places
them), and any number of worker instances (each with its own container: its own channel and
database pool, as separate processes would have) in background threads, with short ack waits
and backoffs so redeliveries happen within a test.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from eventstoresvc.container import build as build_eventstore
from eventstoresvc.server import EventStoreServer
from kit.endpoint import Middleware
from kit.grpc import dial
from kit.lifecycle import Runnable
from kit.nats import JetStreamPublisher
from kit.testing.nats import NatsServer
from kit.testing.net import free_port
from kit.testing.wait import eventually
from orders.aggregate import Order
from orders.domain import OrderItem, OrderStatus
from orders.engine import make_engine
from orders.eventstore import GRPCEventStore
from orders.ports import RecordedEvent
from orders.readmodel import SqlReadModel
from orders.schema import order_items, orders
from ordersvc.idempotency import SqlIdempotencyStore
from ordersvc.schema import create_schema as create_ordersvc_schema
from ordersvc.service import CreateOrder, EventSourcedOrderService
from workers import runner
from workers.container import Container, build, close
from workers.gateway import ChargeRecord
from workers.settings import WorkerSettings
from workers.sqlstores import SqlChargeLedger, SqlSagaStore

FINAL = (OrderStatus.APPROVED, OrderStatus.REJECTED, OrderStatus.CANCELLED)


def test_settings(nats_url: str, eventstore_addr: str, orders_db_url: str, **changes: Any) -> WorkerSettings:
    """Worker settings for tests: short ack wait and backoff, few deliveries, no DLQ polling."""
    base = WorkerSettings(nats_url=nats_url, eventstore_addr=eventstore_addr, orders_db_url=orders_db_url,
                          concurrency=4, batch=8, max_deliver=3, ack_wait=2.0, backoff=(0.1, 0.2),
                          heartbeat=0.5, sweep_interval=0.2, dead_letter_poll=0, eventstore_timeout=5.0,
                          credit_limit=Decimal("100.00"), closed_restaurants=("closed-1",))
    return replace(base, **changes)


@dataclass
class RunningWorker:
    """One worker instance: its container, what it runs, and the threads running them."""

    name: str
    container: Container
    runnables: list[Runnable]
    stop_event: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def processed(self) -> int:
        """Messages its consumer acknowledged."""
        return int(getattr(self.runnables[0], "processed", 0))

    def start(self) -> None:
        for runnable in self.runnables:
            thread = threading.Thread(target=runnable.run, args=(self.stop_event,), daemon=True,
                                      name=f"test-{self.name}-{runnable.name}")
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(30)
            assert not thread.is_alive(), f"{self.name} did not drain"
        close(self.container)


class System:
    """Event store + order service + workers of one test."""

    def __init__(self, nats: NatsServer, tmp: Path, *, events_db_url: str | None = None,
                 orders_db_url: str | None = None, **settings: Any) -> None:
        self.nats = nats
        self.events_db_url = events_db_url or f"sqlite:///{tmp / 'events.db'}"
        self.orders_db_url = orders_db_url or f"sqlite:///{tmp / 'orders.db'}"
        self.port = free_port()
        self.settings = test_settings(nats.url, f"127.0.0.1:{self.port}", self.orders_db_url, **settings)
        self.workers: list[RunningWorker] = []
        self._eventstore: EventStoreServer | None = None
        self.engine = make_engine(self.orders_db_url, pool_size=4)
        setup = build(self.settings)
        runner.prepare(setup, self.settings)
        close(setup)
        create_ordersvc_schema(self.engine)  # the order service's idempotency keys, for self.orders
        self.start_eventstore()
        self.channel = dial(self.settings.eventstore_addr)
        self.store = GRPCEventStore(self.channel)
        self.read_model = SqlReadModel(self.engine)
        self.orders = EventSourcedOrderService(self.store, self.read_model, SqlIdempotencyStore(self.engine))
        self.ledger = SqlChargeLedger(self.engine)
        self.sagas = SqlSagaStore(self.engine)

    def start_eventstore(self) -> None:
        container = build_eventstore(db_url=self.events_db_url, nats_url=self.nats.url, port=self.port)
        self._eventstore = EventStoreServer(container, host="127.0.0.1", port=self.port)
        self._eventstore.start()

    def start_worker(self, name: str, *, wrap: Middleware[RecordedEvent, object] | None = None,
                     **changes: Any) -> RunningWorker:
        settings = replace(self.settings, **changes)
        container = build(settings, service_name=f"{name}-worker")
        running = RunningWorker(name, container, runner.consumers(container, name, settings, wrap=wrap))
        running.start()
        self.workers.append(running)
        return running

    def start_all(self, instances: int = 1) -> None:
        for _ in range(instances):
            for name in runner.WORKERS:
                self.start_worker(name)

    def place(self, *, restaurant: str = "rest-1", price: str = "12.50", quantity: int = 2) -> str:
        order = self.orders.create_order(CreateOrder(
            customer_id="cust-1", restaurant_id=restaurant,
            items=(OrderItem("p-1", "Pizza", Decimal(price), quantity),),
            idempotency_key=str(uuid.uuid4())))
        return order.order_id

    def events(self, order_id: str) -> list[RecordedEvent]:
        return self.store.load(order_id)

    def types(self, order_id: str) -> list[str]:
        return [e.event_type for e in self.events(order_id)]

    def projected(self, order_id: str) -> Order | None:
        return self.read_model.get(order_id)

    def charges(self) -> list[ChargeRecord]:
        return self.ledger.all()

    def snapshot(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Every row of the read model, sorted."""
        with self.engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(select(orders).order_by(orders.c.order_id))]
            items = [tuple(r) for r in conn.execute(
                select(order_items).order_by(order_items.c.order_id, order_items.c.line))]
        return rows, items

    def wait_final(self, order_ids: list[str], timeout: float = 30.0, *,
                   saga: bool = True) -> dict[str, Order]:
        """Wait until every order is final in the read model (and, by default, in its saga)."""

        def done() -> bool:
            for order_id in order_ids:
                order = self.projected(order_id)
                if order is None or order.status not in FINAL:
                    return False
                if saga:
                    record = self.sagas.get(order_id)
                    if record is None or not record.state.final:
                        return False
            return True

        eventually(done, timeout, interval=0.05,
                   describe=lambda: f"orders not final: {self.describe(order_ids)}")
        return {order_id: self.projected(order_id) for order_id in order_ids}  # type: ignore[misc]

    def wait_caught_up(self, order_ids: list[str], timeout: float = 30.0) -> None:
        """Wait until the read model holds every event the store has for these orders.

        An order can be final in the read model while a last event (the saga's closing one, say)
        is still on its way to the projection.
        """

        def done() -> bool:
            with self.engine.connect() as conn:
                versions = dict(conn.execute(select(orders.c.order_id, orders.c.version)
                                             .where(orders.c.order_id.in_(order_ids))).all())
            return all(versions.get(order_id) == len(self.events(order_id)) for order_id in order_ids)

        eventually(done, timeout, interval=0.05,
                   describe=lambda: f"read model behind the store: {self.describe(order_ids)}")

    def saga_actions(self, order_id: str, expected: set[str], timeout: float = 10.0) -> set[str]:
        """The steps the order's recorded saga transitions name, once they are ``expected``.

        A handler appends its steps before it records its transition, so the handler of the step's
        own event may record the final state first: the history catches up a moment later.
        """

        def actions() -> set[str]:
            record = self.sagas.get(order_id)
            return {a for t in record.history for a in t.actions} if record else set()

        eventually(lambda: actions() == expected, timeout, interval=0.05,
                   describe=lambda: f"saga steps recorded: {actions()}, expected {expected}")
        return actions()

    def describe(self, order_ids: list[str]) -> str:
        lines = []
        for order_id in order_ids:
            order = self.projected(order_id)
            record = self.sagas.get(order_id)
            lines.append(f"{order_id}: {order.status.value if order else None} "
                         f"saga={record.state.value if record else None} events={self.types(order_id)}")
        return "\n".join(lines)

    def close(self) -> None:
        for running in self.workers:
            running.stop()
        self.workers.clear()
        if self._eventstore is not None:
            self._eventstore.stop(grace=1.0, flush_timeout=1.0)
        self.channel.close()
        self.engine.dispose()


def poison(system: System) -> None:
    """An ``ORDERS.created`` no event store ever stored, with data nobody can read."""
    publisher = JetStreamPublisher(nats_url=system.nats.url)
    try:
        publisher.publish("ORDERS.created", b'{"order_id": "ghost", "amount": "lots"}', headers={
            "Event-Id": "poison-1", "Event-Type": "ORDERS.created", "Aggregate-Id": "ghost",
            "Aggregate-Type": "order", "Event-Version": "1", "Event-Position": "999999"}, msg_id="poison-1")
    finally:
        publisher.close()
