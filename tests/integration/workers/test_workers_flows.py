"""The order flows end to end on real servers: approval, declined payment, review rejection, timeout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from workers_harness import System

from kit.testing.nats import NatsServer
from kit.testing.postgres import Postgres
from orders.domain import OrderStatus, PaymentStatus
from workers.gateway import ChargeStatus
from workers.saga import SagaState

COCKROACH_DIALECT = "cockroach-dialect-on-postgres"


@pytest.fixture(params=["sqlite", "postgresql", COCKROACH_DIALECT])
def any_backend(request: pytest.FixtureRequest, nats_server: NatsServer, tmp_path: Path) -> Iterator[System]:
    """The system with both databases on each SQL backend in turn.

    cockroach-dialect-on-postgres is the cockroachdb:// dialect over the PostgreSQL server: it tests
    the dialect, not CockroachDB (no CockroachDB server runs here).
    """
    if request.param == "sqlite":
        running = System(nats_server, tmp_path)
    else:
        server: Postgres = request.getfixturevalue("postgres")[0]
        events_db, orders_db = server.create_database(), server.create_database()
        driver = "cockroachdb+psycopg" if request.param == COCKROACH_DIALECT else "postgresql+psycopg"
        running = System(nats_server, tmp_path, events_db_url=server.url(events_db, driver=driver),
                         orders_db_url=server.url(orders_db, driver=driver))
    try:
        yield running
    finally:
        running.close()
        if request.param != "sqlite":
            server.drop_database(events_db)
            server.drop_database(orders_db)


def test_orders_are_paid_reviewed_and_approved_or_compensated(any_backend: System) -> None:
    system = any_backend
    system.start_all()
    approved = [system.place() for _ in range(3)]
    declined = system.place(price="60.00", quantity=2)
    closed = system.place(restaurant="closed-1")
    final = system.wait_final([*approved, declined, closed])

    for order_id in approved:
        assert final[order_id].status is OrderStatus.APPROVED
        assert final[order_id].payment is PaymentStatus.DEBITED
        assert system.types(order_id) == ["ORDERS.created", "ORDERS.paymentdebited", "ORDERS.approved"]

    assert system.types(declined) == ["ORDERS.created", "ORDERS.paymentfailed", "ORDERS.rejected"]
    assert final[declined].status is OrderStatus.REJECTED
    assert final[declined].rejection_reason == "amount 120.00 exceeds the credit limit 100.00"

    assert system.types(closed) == ["ORDERS.created", "ORDERS.paymentdebited", "ORDERS.reviewrejected",
                                    "ORDERS.paymentrefunded", "ORDERS.rejected"]
    assert (final[closed].status, final[closed].payment) == (OrderStatus.REJECTED, PaymentStatus.REFUNDED)
    assert final[closed].rejection_reason == "restaurant closed-1 is closed"

    by_order = {c.charge.order_id: c.status for c in system.charges()}
    assert by_order == {**dict.fromkeys(approved, ChargeStatus.DEBITED), declined: ChargeStatus.DECLINED,
                        closed: ChargeStatus.REFUNDED}
    saga = system.sagas.get(closed)
    assert saga is not None and saga.state is SagaState.REJECTED
    # Handlers of two events of one order may both take a step; the store keeps it once (above).
    steps = {"ORDERS.paymentrefunded", "ORDERS.rejected"}
    assert system.saga_actions(closed, steps) == steps


def test_an_order_stuck_before_review_is_refunded_and_cancelled_after_the_deadline(system: System) -> None:
    for name in ("payment", "projection"):
        system.start_worker(name)
    system.start_worker("saga", saga_timeout=1.0)
    order_id = system.place()
    final = system.wait_final([order_id])
    assert system.types(order_id) == ["ORDERS.created", "ORDERS.paymentdebited", "ORDERS.paymentrefunded",
                                      "ORDERS.cancelled"]
    assert (final[order_id].status, final[order_id].cancellation_reason) == (OrderStatus.CANCELLED, "timeout")
    assert [c.status for c in system.charges()] == [ChargeStatus.REFUNDED]
    saga = system.sagas.get(order_id)
    assert saga is not None and saga.state is SagaState.CANCELLED
    # The sweep or a late event's handler, whichever sees the deadline pass first, compensates.
    steps = {"ORDERS.paymentrefunded", "ORDERS.cancelled"}
    assert system.saga_actions(order_id, steps) == steps
