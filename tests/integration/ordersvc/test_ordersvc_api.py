"""The order API end to end: waitress + Flask + the order service + a real event store service,
on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from contracts import ordersvc_pb2 as pb
from contracts import ordersvc_pb2_grpc as pb_grpc
from kit.testing.grpc import serve_grpc
from orders.engine import make_engine
from orders.jsontext import loads
from orders.schema import orders as orders_table
from ordersvc.grpc import register

# The fixture's type lives in this directory's conftest, which is not importable by a unique name.
OrdersService = Any
Body = Callable[..., dict[str, object]]


def test_post_then_get_reads_its_own_write(orders: OrdersService, new_order: Body) -> None:
    created = orders.request("POST", "/api/orders", new_order())
    assert created.status == 201, created.data
    order = loads(created.data)
    assert order["amount"] == Decimal("25.30") and b'"amount":25.30' in created.data
    assert order["status"] == "Pending" and order["created_on"].endswith("Z")
    read = orders.request("GET", created.headers["Location"])
    assert read.status == 200
    assert loads(read.data) == order


def test_cancel_is_recorded_and_then_refused(orders: OrdersService, new_order: Body) -> None:
    order_id = loads(orders.request("POST", "/api/orders", new_order()).data)["order_id"]
    cancelled = orders.request("POST", f"/api/orders/{order_id}/cancel", {"reason": "too slow"})
    assert cancelled.status == 200 and loads(cancelled.data)["status"] == "Cancelled"
    assert loads(orders.request("GET", f"/api/orders/{order_id}").data)["status"] == "Cancelled"
    again = orders.request("POST", f"/api/orders/{order_id}/cancel")
    assert again.status == 409 and loads(again.data)["code"] == "FAILED_PRECONDITION"
    history = loads(orders.request("GET", f"/api/orders/{order_id}/events").data)
    assert [(e["event_type"], e["version"]) for e in history["events"]] == [
        ("ORDERS.created", 1), ("ORDERS.cancelled", 2)]
    assert history["events"][1]["data"] == {"order_id": order_id, "reason": "too slow"}


def test_list_pages_and_filters(orders: OrdersService, new_order: Body) -> None:
    ids = [loads(orders.request("POST", "/api/orders", new_order(customer_id=f"cust-{i % 2}")).data)
           ["order_id"] for i in range(5)]
    orders.request("POST", f"/api/orders/{ids[2]}/cancel")
    seen: list[str] = []
    cursor = ""
    while True:
        page = loads(orders.request("GET", f"/api/orders?limit=2{cursor}").data)
        seen += [o["order_id"] for o in page["orders"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == ids[::-1]
    mine = loads(orders.request("GET", "/api/orders?customer_id=cust-0&status=Pending").data)
    assert [o["order_id"] for o in mine["orders"]] == [ids[4], ids[0]]
    assert orders.request("GET", "/api/orders?cursor=bogus").status == 400


def test_unknown_orders_are_404(orders: OrdersService) -> None:
    for path in ("/api/orders/nope", "/api/orders/nope/events"):
        response = orders.request("GET", path)
        assert response.status == 404 and loads(response.data)["code"] == "NOT_FOUND"
    assert orders.request("POST", "/api/orders/nope/cancel").status == 404


def test_idempotency_key_replays_refuses_and_survives_a_race(orders: OrdersService, new_order: Body) -> None:
    first = orders.request("POST", "/api/orders", new_order(), {"Idempotency-Key": "k-1"})
    again = orders.request("POST", "/api/orders", new_order(), {"Idempotency-Key": "k-1"})
    assert (first.status, again.status) == (201, 201) and first.data == again.data
    other = orders.request("POST", "/api/orders", new_order(customer_id="cust-2"), {"Idempotency-Key": "k-1"})
    assert other.status == 422

    statuses: list[int] = []
    bodies: set[bytes] = set()
    barrier = threading.Barrier(6)

    def post() -> None:
        barrier.wait()
        response = orders.request("POST", "/api/orders", new_order(customer_id="racer"),
                                  {"Idempotency-Key": "k-race"})
        statuses.append(response.status)
        bodies.add(response.data)

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [201] * 6 and len(bodies) == 1
    order_id = loads(bodies.pop())["order_id"]
    history = loads(orders.request("GET", f"/api/orders/{order_id}/events").data)
    assert len(history["events"]) == 1
    listed = loads(orders.request("GET", "/api/orders?customer_id=racer").data)
    assert [o["order_id"] for o in listed["orders"]] == [order_id]


def test_bad_requests_through_waitress(orders: OrdersService, new_order: Body) -> None:
    too_big = orders.http.request("POST", orders.base_url + "/api/orders", body=b" " * (300 * 1024),
                                  headers={"Content-Type": "application/json"}, retries=False)
    assert too_big.status == 413
    form = orders.http.request("POST", orders.base_url + "/api/orders", body=b"a=b",
                               headers={"Content-Type": "application/x-www-form-urlencoded"}, retries=False)
    assert form.status == 415
    bad = orders.request("POST", "/api/orders", new_order(order_items=[]))
    assert bad.status == 400 and loads(bad.data)["errors"][0]["field"] == "order_items"
    with orders.container.engine().connect() as conn:
        assert conn.execute(select(func.count()).select_from(orders_table)).scalar_one() == 0


def test_health_and_readiness(orders: OrdersService) -> None:
    assert orders.request("GET", "/healthz").status == 200
    ready = orders.request("GET", "/readyz")
    assert ready.status == 200, ready.data
    assert loads(ready.data)["checks"] == {"eventstore": "ok", "orders_db": "ok"}
    metrics = orders.request("GET", "/metrics")
    assert b"ordersvc_requests_total" in metrics.data


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_unreachable_event_store_is_503_and_writes_nothing(orders_without_eventstore: OrdersService,
                                                              new_order: Body) -> None:
    service = orders_without_eventstore
    response = service.request("POST", "/api/orders", new_order())
    assert response.status == 503, response.data
    assert response.headers["Content-Type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) >= 1
    with service.container.engine().connect() as conn:
        assert conn.execute(select(func.count()).select_from(orders_table)).scalar_one() == 0
    assert service.request("GET", "/api/orders/some-order").status == 503
    ready = service.request("GET", "/readyz")
    assert ready.status == 503 and loads(ready.data)["checks"]["orders_db"] == "ok"


def test_grpc_api_over_the_same_service(orders: OrdersService) -> None:
    with serve_grpc(register(orders.container.servicer())) as target, grpc.insecure_channel(target) as ch:
        stub = pb_grpc.OrderServiceStub(ch)
        created = stub.CreateOrder(pb.CreateOrderRequest(
            customer_id="cust-g", restaurant_id="rest-1",
            order_items=[pb.OrderItem(code="p", name="Pasta", unit_price="7.25", quantity=4)]))
        assert (created.amount, created.status, created.version) == ("29.00", "Pending", 1)
        assert stub.GetOrder(pb.GetOrderRequest(order_id=created.order_id)).amount == "29.00"
        cancelled = stub.CancelOrder(pb.CancelOrderRequest(order_id=created.order_id))
        assert cancelled.status == "Cancelled"
        with pytest.raises(grpc.RpcError) as raised:
            stub.CancelOrder(pb.CancelOrderRequest(order_id=created.order_id))
        assert raised.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    via_http = loads(orders.request("GET", f"/api/orders/{created.order_id}").data)
    assert via_http["status"] == "Cancelled" and via_http["amount"] == Decimal("29.00")


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_orders_database_dropping_its_connections_costs_at_most_one_503(
        orders: OrdersService, new_order: Body, backend: str) -> None:
    created = orders.request("POST", "/api/orders", new_order()).json()
    admin = make_engine(orders.container.engine().url.render_as_string(hide_password=False),
                        pool_size=1)
    try:  # drop the service's pooled connections, as a database restart does
        with admin.connect() as conn:
            dropped = conn.exec_driver_sql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()").scalar_one()
    finally:
        admin.dispose()
    assert dropped >= 1
    del backend
    # A read falls back to the event store; a write answers 503 once while the pool is replaced.
    assert orders.request("GET", f"/api/orders/{created['order_id']}").status == 200
    statuses = [orders.request("POST", "/api/orders", new_order()).status for _ in range(3)]
    assert statuses.count(503) <= 1 and statuses[-1] == 201, statuses
