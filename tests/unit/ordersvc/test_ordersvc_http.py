"""The HTTP transport over a mocked service: routes, codecs, status codes and problem documents."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from unittest.mock import create_autospec

import flask
import pytest
from flask.testing import FlaskClient

from kit.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from orders.aggregate import Order
from orders.domain import OrderItem, OrderStatus
from orders.ports import OrderPage, OrderQuery, RecordedEvent
from ordersvc.endpoints import make_endpoints
from ordersvc.http import MAX_BODY, build_app
from ordersvc.service import CreateOrder, IdempotencyKeyReused, OrderService

ORDER = Order(order_id="o-1", customer_id="cust-1", restaurant_id="rest-1",
              created_on=datetime(2024, 5, 1, 12, tzinfo=UTC), amount=Decimal("37.50"),
              items=(OrderItem("p-1", "Pizza", Decimal("12.50"), 3),))
BODY = {"customer_id": "cust-1", "restaurant_id": "rest-1",
        "order_items": [{"code": "p-1", "name": "Pizza", "unit_price": 12.50, "quantity": 3}]}


@pytest.fixture
def service() -> OrderService:
    mock: OrderService = create_autospec(OrderService, instance=True)
    return mock


@pytest.fixture
def client(service: OrderService) -> FlaskClient:
    app: flask.Flask = build_app(make_endpoints(service), readiness=lambda: {"eventstore": "ok"})
    return app.test_client()


def test_post_creates_with_201_location_and_exact_json(client: FlaskClient, service: OrderService) -> None:
    service.create_order.return_value = ORDER  # type: ignore[attr-defined]
    response = client.post("/api/orders", json=BODY, headers={"Idempotency-Key": "k-1"})
    assert response.status_code == 201
    assert response.headers["Location"] == "/api/orders/o-1"
    assert b'"amount":37.50' in response.data and b'"unit_price":12.50' in response.data
    assert response.json is not None
    assert {k: response.json[k] for k in ("order_id", "status", "created_on")} == {
        "order_id": "o-1", "status": "Pending", "created_on": "2024-05-01T12:00:00.000000Z"}
    service.create_order.assert_called_once_with(CreateOrder(  # type: ignore[attr-defined]
        "cust-1", "rest-1", (OrderItem("p-1", "Pizza", Decimal("12.50"), 3),), "k-1"))


def test_prices_are_read_without_floats(client: FlaskClient, service: OrderService) -> None:
    service.create_order.return_value = ORDER  # type: ignore[attr-defined]
    raw = b'{"customer_id":"c","restaurant_id":"r","order_items":[{"code":"a","name":"b",' \
          b'"unit_price":0.10000000000000001,"quantity":1}]}'
    client.post("/api/orders", data=raw, content_type="application/json")
    command = service.create_order.call_args.args[0]  # type: ignore[attr-defined]
    assert command.items[0].unit_price == Decimal("0.10000000000000001")  # the domain refuses it


@pytest.mark.parametrize(("body", "field"), [
    (b"{", "body"),
    (b"[]", "body"),
    (b"", "body"),
    (b'{"restaurant_id": "r", "order_items": []}', "customer_id"),
    (b'{"customer_id": 5, "restaurant_id": "r", "order_items": []}', "customer_id"),
    (b'{"customer_id": "c", "restaurant_id": "r", "order_items": {}}', "order_items"),
    (b'{"customer_id": "c", "restaurant_id": "r", "order_items": [], "amount": 1}', "amount"),
    (b'{"customer_id": "c", "restaurant_id": "r", "order_items": [{"code": "a", "name": "b", '
     b'"unit_price": 1, "quantity": 1.5}]}', "order_items.0.quantity"),
    (b'{"customer_id": "c", "restaurant_id": "r", "order_items": [{"code": "a", "name": "b", '
     b'"unit_price": true, "quantity": 1}]}', "order_items.0.unit_price"),
    (b'{"customer_id": "c", "restaurant_id": "r", "order_items": [{"code": "a", "name": "b", '
     b'"unit_price": 1, "quantity": "1"}]}', "order_items.0.quantity"),
])
def test_malformed_bodies_are_400_naming_the_field(client: FlaskClient, service: OrderService,
                                                   body: bytes, field: str) -> None:
    response = client.post("/api/orders", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert response.json is not None
    assert field in [e["field"] for e in response.json["errors"]]
    service.create_order.assert_not_called()  # type: ignore[attr-defined]


def test_wrong_content_type_is_415(client: FlaskClient, service: OrderService) -> None:
    response = client.post("/api/orders", data="customer_id=c",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    service.create_order.assert_not_called()  # type: ignore[attr-defined]


def test_a_body_over_the_limit_is_413(client: FlaskClient, service: OrderService) -> None:
    response = client.post("/api/orders", data=b" " * (MAX_BODY + 1), content_type="application/json")
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"
    service.create_order.assert_not_called()  # type: ignore[attr-defined]


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "caf\u00e9"])
def test_a_bad_idempotency_key_is_400(client: FlaskClient, key: str) -> None:
    response = client.post("/api/orders", json=BODY, headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert response.json is not None and response.json["errors"][0]["field"] == "Idempotency-Key"


@pytest.mark.parametrize(("error", "status"), [
    (IdempotencyKeyReused("other body"), 422),
    (InvalidArgument.for_field("order_items.0.quantity", "must be between 1 and 1000"), 400),
    (Unavailable("the event store is unavailable"), 503),
])
def test_service_errors_map_to_statuses(client: FlaskClient, service: OrderService,
                                        error: Exception, status: int) -> None:
    service.create_order.side_effect = error  # type: ignore[attr-defined]
    response = client.post("/api/orders", json=BODY)
    assert response.status_code == status
    assert response.json is not None and response.json["status"] == status
    if status == 503:
        assert response.headers["Retry-After"] == "1"


def test_get_order_and_its_errors(client: FlaskClient, service: OrderService) -> None:
    service.get_order.side_effect = lambda order_id: ORDER if order_id == "o-1" else (  # type: ignore[attr-defined]
        _raise(NotFound(f"order {order_id} not found")))
    assert client.get("/api/orders/o-1").json["order_id"] == "o-1"  # type: ignore[index]
    missing = client.get("/api/orders/o-2")
    assert missing.status_code == 404 and missing.json["code"] == "NOT_FOUND"  # type: ignore[index]


def _raise(error: Exception) -> Order:
    raise error


def test_list_decodes_the_query(client: FlaskClient, service: OrderService) -> None:
    service.list_orders.return_value = OrderPage([ORDER], "next")  # type: ignore[attr-defined]
    response = client.get("/api/orders?customer_id=cust-1&status=Pending&limit=5&cursor=abc")
    assert response.json is not None
    assert [o["order_id"] for o in response.json["orders"]] == ["o-1"]
    assert response.json["next_cursor"] == "next"
    service.list_orders.assert_called_once_with(  # type: ignore[attr-defined]
        OrderQuery(customer_id="cust-1", status=OrderStatus.PENDING, limit=5, cursor="abc"))


@pytest.mark.parametrize("query", ["status=Shipped", "limit=many", "colour=red"])
def test_bad_list_queries_are_400(client: FlaskClient, service: OrderService, query: str) -> None:
    assert client.get(f"/api/orders?{query}").status_code == 400
    service.list_orders.assert_not_called()  # type: ignore[attr-defined]


def test_cancel_with_and_without_a_reason(client: FlaskClient, service: OrderService) -> None:
    service.cancel_order.return_value = ORDER  # type: ignore[attr-defined]
    assert client.post("/api/orders/o-1/cancel").status_code == 200
    assert client.post("/api/orders/o-1/cancel", json={"reason": "late"}).status_code == 200
    assert service.cancel_order.call_args_list[0].args == ("o-1", "")  # type: ignore[attr-defined]
    assert service.cancel_order.call_args_list[1].args == ("o-1", "late")  # type: ignore[attr-defined]
    assert client.post("/api/orders/o-1/cancel", json={"why": "late"}).status_code == 400
    service.cancel_order.side_effect = FailedPrecondition("order o-1 is Approved")  # type: ignore[attr-defined]
    refused = client.post("/api/orders/o-1/cancel")
    assert refused.status_code == 409 and refused.json["code"] == "FAILED_PRECONDITION"  # type: ignore[index]


def test_history_lists_the_events_with_their_data(client: FlaskClient, service: OrderService) -> None:
    service.order_history.return_value = [RecordedEvent(  # type: ignore[attr-defined]
        event_id="e-1", event_type="ORDERS.paymentdebited", aggregate_id="o-1",
        event_data='{"order_id":"o-1","amount":37.50}', version=2, position=7,
        created_at=datetime(2024, 5, 1, tzinfo=UTC))]
    response = client.get("/api/orders/o-1/events")
    assert response.status_code == 200
    assert b'"data":{"order_id":"o-1","amount":37.50}' in response.data
    assert response.json["events"][0]["version"] == 2  # type: ignore[index]


def test_operational_routes(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ready", "checks": {"eventstore": "ok"}}
    spec = client.get("/openapi.json").json
    assert spec is not None and "/api/orders/{order_id}/cancel" in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and b"openapi.json" in docs.data
    assert b"http://" not in docs.data and b"https://" not in docs.data  # self-contained: no CDN
    assert client.get("/metrics").status_code == 200
    assert client.get("/nowhere").content_type == "application/problem+json"
    assert client.delete("/api/orders").status_code == 405


def test_readyz_is_503_when_a_dependency_fails(service: OrderService) -> None:
    app = build_app(make_endpoints(service), readiness=lambda: {"eventstore": "failing: RpcError"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
