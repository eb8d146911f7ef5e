"""The order service with auth on, against a real event store that requires service tokens.

Customers see and change only their own orders (another's answers as a missing one), operators
(``orders:admin``) see all, a bad token changes nothing, the board takes an operator token, and the
event store refuses callers without a ``service`` token; over HTTP and gRPC.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from ordersvc_servers import OrdersService, database_urls, running_eventstore, start_orders

from contracts import eventstore_pb2 as es_pb
from contracts import eventstore_pb2_grpc as es_grpc
from contracts import ordersvc_pb2 as pb
from contracts import ordersvc_pb2_grpc as pb_grpc
from kit import grpc as kit_grpc
from kit.auth import mint_token
from kit.auth.settings import AuthSettings
from kit.testing.auth import OTHER_SECRET, SECRET, forged
from kit.testing.nats import NatsServer
from kit.testing.net import free_port
from ordersvc.grpc import register

AUDIENCE = "eventstream-test"
AUTH = AuthSettings(secret=SECRET, audience=AUDIENCE)


def token(sub: str, *scopes: str, secret: str = SECRET, audience: str = AUDIENCE, ttl: float = 600,
          now: float | None = None) -> str:
    return mint_token(secret, subject=sub, scopes=scopes, audience=audience, ttl=ttl, now=now)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


ALICE, BOB = bearer(token("alice")), bearer(token("bob"))
ADMIN = bearer(token("operator-1", "orders:admin"))


@dataclass
class Secured:
    orders: OrdersService
    eventstore: str


@pytest.fixture
def secured(request: pytest.FixtureRequest, tmp_path: Path, nats_server: NatsServer) -> Iterator[Secured]:
    with database_urls("sqlite", request, tmp_path) as (events_url, orders_url), \
            running_eventstore(events_url, nats_server, AUTH) as address:
        for service in start_orders(address, orders_url, AUTH):
            yield Secured(service, address)


def body(customer: str) -> dict[str, object]:
    return {"customer_id": customer, "restaurant_id": "rest-1",
            "order_items": [{"code": "p-1", "name": "Pizza", "unit_price": "12.50", "quantity": 2}]}


def create(orders: OrdersService, customer: str, headers: dict[str, str]) -> str:
    response = orders.request("POST", "/api/orders", body(customer), headers)
    assert response.status == 201, response.data
    return str(response.json()["order_id"])


def all_orders(orders: OrdersService) -> list[dict[str, object]]:
    response = orders.request("GET", "/api/orders", headers=ADMIN)
    assert response.status == 200, response.data
    return list(response.json()["orders"])


BAD_TOKENS = {
    "none": None,
    "expired": token("alice", ttl=60, now=time.time() - 3600),
    "other key": token("alice", secret=OTHER_SECRET),
    "other audience": token("alice", audience="another-service"),
    "alg none": forged({"alg": "none", "typ": "JWT"},
                       {"sub": "alice", "aud": AUDIENCE, "exp": int(time.time()) + 600}, None),
    "garbage": "not.a.token",
}


@pytest.mark.parametrize("name", BAD_TOKENS)
def test_a_missing_or_bad_token_is_401_and_changes_nothing(secured: Secured, name: str) -> None:
    value = BAD_TOKENS[name]
    headers = {} if value is None else bearer(value)
    for method, path, payload in (("POST", "/api/orders", body("alice")), ("GET", "/api/orders", None),
                                  ("GET", "/api/orders/some-id", None)):
        response = secured.orders.request(method, path, payload, headers)
        assert response.status == 401, (method, path, response.data)
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert value is None or value not in response.data.decode()
    assert all_orders(secured.orders) == []


def test_operational_routes_stay_open(secured: Secured) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/board/static/board.css"):
        assert secured.orders.request("GET", path).status == 200, path


def test_a_customer_creates_orders_only_for_itself(secured: Secured) -> None:
    create(secured.orders, "alice", ALICE)
    refused = secured.orders.request("POST", "/api/orders", body("bob"), ALICE)
    assert refused.status == 403, refused.data
    assert refused.json()["code"] == "PERMISSION_DENIED"
    assert [o["customer_id"] for o in all_orders(secured.orders)] == ["alice"]


def test_another_customers_order_answers_as_a_missing_one(secured: Secured) -> None:
    order_id = create(secured.orders, "alice", ALICE)
    for path in (f"/api/orders/{order_id}", f"/api/orders/{order_id}/events"):
        assert secured.orders.request("GET", path, headers=ALICE).status == 200
        theirs = secured.orders.request("GET", path, headers=BOB)
        missing = secured.orders.request("GET", path.replace(order_id, "no-such-order"), headers=BOB)
        assert theirs.status == missing.status == 404
        assert theirs.json()["title"] == missing.json()["title"]
        assert theirs.json()["detail"] == missing.json()["detail"].replace("no-such-order", order_id)
    cancel = secured.orders.request("POST", f"/api/orders/{order_id}/cancel", {"reason": "x"}, BOB)
    assert cancel.status == 404
    status = secured.orders.request("GET", f"/api/orders/{order_id}", headers=ADMIN).json()["status"]
    assert status != "Cancelled"


def test_a_customer_lists_only_its_own_orders(secured: Secured) -> None:
    mine = create(secured.orders, "alice", ALICE)
    create(secured.orders, "bob", BOB)
    listed = secured.orders.request("GET", "/api/orders", headers=ALICE).json()["orders"]
    assert [o["order_id"] for o in listed] == [mine]
    assert secured.orders.request("GET", "/api/orders?customer_id=bob", headers=ALICE).status == 403
    assert len(all_orders(secured.orders)) == 2


def test_an_operator_reads_and_cancels_any_order(secured: Secured) -> None:
    order_id = create(secured.orders, "alice", ALICE)
    assert secured.orders.request("GET", f"/api/orders/{order_id}", headers=ADMIN).status == 200
    cancel = secured.orders.request("POST", f"/api/orders/{order_id}/cancel", {"reason": "ops"}, ADMIN)
    assert cancel.status == 200, cancel.data


def grpc_call(address: str, method: str, request: object, value: str | None) -> object:
    channel = grpc.insecure_channel(address)
    try:
        stub = pb_grpc.OrderServiceStub(channel)
        metadata = None if value is None else [("authorization", f"Bearer {value}")]
        return getattr(stub, method)(request, metadata=metadata, timeout=10)
    finally:
        channel.close()


def test_the_grpc_api_applies_the_same_rules(secured: Secured) -> None:
    order_id = create(secured.orders, "alice", ALICE)
    port = free_port()
    server = kit_grpc.serve(register(secured.orders.container.servicer()), port=port)
    address = f"127.0.0.1:{port}"
    try:
        alice, bob = token("alice"), token("bob")
        assert grpc_call(address, "GetOrder", pb.GetOrderRequest(order_id=order_id), alice)
        refusals = [
            ("GetOrder", pb.GetOrderRequest(order_id=order_id), None, grpc.StatusCode.UNAUTHENTICATED),
            ("GetOrder", pb.GetOrderRequest(order_id=order_id), bob, grpc.StatusCode.NOT_FOUND),
            ("CancelOrder", pb.CancelOrderRequest(order_id=order_id), bob, grpc.StatusCode.NOT_FOUND),
            ("CreateOrder", pb.CreateOrderRequest(
                customer_id="alice", restaurant_id="r",
                order_items=[pb.OrderItem(code="p", name="P", unit_price="1.00", quantity=1)]),
             bob, grpc.StatusCode.PERMISSION_DENIED),
        ]
        for method, message, value, code in refusals:
            with pytest.raises(grpc.RpcError) as caught:
                grpc_call(address, method, message, value)
            assert caught.value.code() == code, (method, caught.value)
    finally:
        kit_grpc.shutdown(server, 1.0)
    assert [o["order_id"] for o in all_orders(secured.orders)] == [order_id]


def test_the_event_store_requires_a_service_token(secured: Secured) -> None:
    append = es_pb.CreateEventRequest(event=es_pb.Event(
        event_id="e-1", event_type="ORDERS.created", aggregate_id="a-1", aggregate_type="order",
        event_data="{}", stream="ORDERS"))
    channel = grpc.insecure_channel(secured.eventstore)
    try:
        stub = es_grpc.EventStoreStub(channel)
        for value, code in ((None, grpc.StatusCode.UNAUTHENTICATED),
                            (token("alice"), grpc.StatusCode.PERMISSION_DENIED),
                            (token("worker", "service", secret=OTHER_SECRET),
                             grpc.StatusCode.UNAUTHENTICATED)):
            metadata = None if value is None else [("authorization", f"Bearer {value}")]
            with pytest.raises(grpc.RpcError) as caught:
                stub.CreateEvent(append, metadata=metadata, timeout=10)
            assert caught.value.code() == code
        reply = stub.GetEvents(es_pb.GetEventsRequest(aggregate_id="a-1"), timeout=10,
                               metadata=[("authorization", f"Bearer {token('worker', 'service')}")])
        assert list(reply.events) == []
    finally:
        channel.close()


def test_the_board_takes_an_operator_token_by_header_or_cookie(secured: Secured) -> None:
    orders = secured.orders
    page = orders.request("GET", "/board")
    assert page.status == 401 and "Operator token" in page.data.decode()
    assert orders.request("GET", "/board", headers=ALICE).status == 403
    assert orders.request("GET", "/api/board/stats", headers=ALICE).status == 403
    assert orders.request("GET", "/board", headers=ADMIN).status == 200
    refused = orders.http.request("POST", orders.base_url + "/board/login",
                                  fields={"token": token("alice")}, encode_multipart=False,
                                  redirect=False, retries=False)
    assert refused.status == 403 and "Set-Cookie" not in refused.headers
    login = orders.http.request("POST", orders.base_url + "/board/login",
                                fields={"token": ADMIN["Authorization"].split()[1]},
                                encode_multipart=False, redirect=False, retries=False)
    assert login.status == 303 and login.headers["Location"] == "/board"
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    jar = {"Cookie": cookie.split(";", 1)[0]}
    assert orders.request("GET", "/board", headers=jar).status == 200
    assert orders.request("GET", "/api/board/stats", headers=jar).status == 200
