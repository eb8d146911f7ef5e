"""Bad input to a real order service (waitress + Flask, and its gRPC API) over a real event store, on
SQLite and PostgreSQL: every edge of a new order gets its documented answer naming the field, and a
refusal stores nothing: no event, no read-model row, no idempotency key."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import grpc
import pytest
from sqlalchemy import Table, func, select

from contracts import ordersvc_pb2 as pb
from contracts import ordersvc_pb2_grpc as pb_grpc
from eventstoresvc.schema import events as events_table
from kit.errors import InvalidArgument
from kit.grpc.status import from_rpc_error
from kit.testing.grpc import serve_grpc
from orders.engine import make_engine
from orders.jsontext import loads
from orders.schema import order_items as order_items_table
from orders.schema import orders as orders_table
from ordersvc.grpc import register
from ordersvc.schema import idempotency_keys

# The fixture's type lives in this directory's conftest, which is not importable by a unique name.
OrdersService = Any

PIZZA = {"code": "p-1", "name": "Pizza", "unit_price": "12.50", "quantity": 2}
COLA = {"code": "c-1", "name": "Cola", "unit_price": "0.10", "quantity": 3}
JSON = {"Content-Type": "application/json"}


def order(**changes: Any) -> dict[str, Any]:
    return {"customer_id": "cust-1", "restaurant_id": "rest-1", "order_items": [PIZZA, COLA], **changes}


def item(**changes: Any) -> dict[str, Any]:
    return order(order_items=[PIZZA, {**COLA, **changes}])


def free(code: str) -> dict[str, Any]:
    return {"code": code, "name": "Napkins", "unit_price": "0", "quantity": 1}


# (what, body, field named): each answers 400 problem+json with errors[].field == field.
REFUSED: list[tuple[str, Any, str]] = [
    ("no items", order(order_items=[]), "order_items"),
    ("items null", order(order_items=None), "order_items"),
    ("items missing", {"customer_id": "cust-1", "restaurant_id": "rest-1"}, "order_items"),
    ("items an object", order(order_items={"0": PIZZA}), "order_items"),
    ("101 items", order(order_items=[{**PIZZA, "code": f"p-{i}"} for i in range(101)]), "order_items"),
    ("zero quantity", item(quantity=0), "order_items.1.quantity"),
    ("negative quantity", item(quantity=-1), "order_items.1.quantity"),
    ("quantity over 1000", item(quantity=1001), "order_items.1.quantity"),
    ("quantity as text", item(quantity="3"), "order_items.1.quantity"),
    ("fractional quantity", item(quantity=2.5), "order_items.1.quantity"),
    ("every line free", order(order_items=[free("n-1"), free("n-2")]), "order_items"),
    ("negative price", item(unit_price="-0.10"), "order_items.1.unit_price"),
    ("price of 3 decimals", item(unit_price="0.105"), "order_items.1.unit_price"),
    ("price over the maximum", item(unit_price="1000000.01"), "order_items.1.unit_price"),
    ("price as a list", item(unit_price=[1]), "order_items.1.unit_price"),
    ("duplicate code", order(order_items=[PIZZA, COLA, {**PIZZA, "quantity": 1}]), "order_items.2.code"),
    ("customer id too long", order(customer_id="c" * 65), "customer_id"),
    ("restaurant id too long", order(restaurant_id="r" * 65), "restaurant_id"),
    ("code too long", item(code="c" * 65), "order_items.1.code"),
    ("name too long", item(name="n" * 201), "order_items.1.name"),
    ("blank customer id", order(customer_id="  "), "customer_id"),
    ("control character", item(name="Co\x00la"), "order_items.1.name"),
    ("number as customer id", order(customer_id=42), "customer_id"),
    ("unknown top-level field", order(amount="0.00"), "amount"),
    ("unknown item field", item(discount="100%"), "order_items.1.discount"),
    ("top-level array", [order()], "body"),
    ("top-level null", None, "body"),
]
# (what, raw body, headers, status, field or None) for what is refused before the body is read.
REFUSED_RAW: list[tuple[str, bytes, dict[str, str], int, str | None]] = [
    ("malformed JSON", b'{"customer_id": "cust-1",', JSON, 400, "body"),
    ("NaN price", json.dumps(item()).replace('"0.10"', "NaN").encode(), JSON, 400, "body"),
    ("empty body", b"", JSON, 400, "body"),
    ("huge body", b" " * (300 * 1024), JSON, 413, None),
    ("form body", b"customer_id=cust-1", {"Content-Type": "application/x-www-form-urlencoded"}, 415, None),
    ("text body", json.dumps(order()).encode(), {"Content-Type": "text/plain"}, 415, None),
    ("no content type", json.dumps(order()).encode(), {}, 415, None),
    ("bad Idempotency-Key", json.dumps(order()).encode(), {**JSON, "Idempotency-Key": "a key"}, 400,
     "Idempotency-Key"),
]


def stored(orders: OrdersService, events_url: str) -> dict[str, int]:
    """How many rows each table that a create request writes holds."""

    def count(conn: Any, table: Table) -> int:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    with orders.container.engine().connect() as conn:
        counts = {"orders": count(conn, orders_table), "order_items": count(conn, order_items_table),
                  "idempotency_keys": count(conn, idempotency_keys)}
    engine = make_engine(events_url, pool_size=1)
    try:
        with engine.connect() as conn:
            counts["events"] = count(conn, events_table)
    finally:
        engine.dispose()
    return counts


NOTHING = {"orders": 0, "order_items": 0, "idempotency_keys": 0, "events": 0}


def post(orders: OrdersService, raw: bytes, headers: dict[str, str]) -> Any:
    return orders.http.request("POST", orders.base_url + "/api/orders", body=raw, headers=headers,
                               retries=False, timeout=10.0)


def test_an_order_of_no_items_is_a_400_naming_order_items_and_stores_nothing(
        orders: OrdersService, db_urls: tuple[str, str]) -> None:
    for key in (None, "empty-order-1"):
        headers = JSON if key is None else {**JSON, "Idempotency-Key": key}
        response = post(orders, json.dumps(order(order_items=[])).encode(), headers)
        assert response.status == 400, response.data
        assert response.headers["Content-Type"] == "application/problem+json"
        assert [e["field"] for e in loads(response.data)["errors"]] == ["order_items"]
    assert stored(orders, db_urls[0]) == NOTHING


def test_an_order_that_adds_up_to_nothing_is_refused_but_a_free_line_beside_a_paid_one_is_not(
        orders: OrdersService, db_urls: tuple[str, str]) -> None:
    nothing = post(orders, json.dumps(order(order_items=[free("n-1")])).encode(),
                   {**JSON, "Idempotency-Key": "free-1"})
    assert nothing.status == 400, nothing.data
    assert [(e["field"], e["message"]) for e in loads(nothing.data)["errors"]] == [
        ("order_items", "must add up to more than 0.00")]
    assert stored(orders, db_urls[0]) == NOTHING
    paid = post(orders, json.dumps(order(order_items=[PIZZA, free("n-1")])).encode(), JSON)
    assert paid.status == 201, paid.data
    assert loads(paid.data)["amount"] == Decimal("25.00")


def test_each_edge_gets_its_answer_naming_the_field_and_stores_nothing(
        orders: OrdersService, db_urls: tuple[str, str]) -> None:
    for what, body, field in REFUSED:
        response = post(orders, json.dumps(body).encode(), JSON)
        assert response.status == 400, (what, response.data)
        assert response.headers["Content-Type"] == "application/problem+json", what
        assert field in [e["field"] for e in loads(response.data)["errors"]], (what, response.data)
    for what, raw, headers, status, named in REFUSED_RAW:
        response = post(orders, raw, headers)
        assert response.status == status, (what, response.data)
        assert response.headers["Content-Type"] == "application/problem+json", what
        if named is not None:
            assert named in [e["field"] for e in loads(response.data)["errors"]], (what, response.data)
    assert stored(orders, db_urls[0]) == NOTHING
    # The counts above count what a create writes: one accepted order shows in each of them.
    accepted = post(orders, json.dumps(order()).encode(), {**JSON, "Idempotency-Key": "good-1"})
    assert accepted.status == 201, accepted.data
    assert stored(orders, db_urls[0]) == {"orders": 1, "order_items": 2, "idempotency_keys": 1,
                                          "events": 1}


def grpc_fields(exc: grpc.RpcError) -> list[str]:
    """The fields an INVALID_ARGUMENT status names in its BadRequest details."""
    assert exc.code() is grpc.StatusCode.INVALID_ARGUMENT, exc
    error = from_rpc_error(exc)
    assert isinstance(error, InvalidArgument)
    return [violation.field for violation in error.fields]


def line(code: str, unit_price: str, quantity: int = 1) -> pb.OrderItem:
    return pb.OrderItem(code=code, name="Pizza", unit_price=unit_price, quantity=quantity)


@pytest.mark.parametrize(("items", "field"), [
    ([], "order_items"),
    ([line("n-1", "0.00")], "order_items"),
    ([line("p-1", "12.50"), line("p-1", "12.50", 2)], "order_items.1.code"),
    ([line("p-1", "12.50", 0)], "order_items.0.quantity"),
])
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_grpc_refuses_the_same_edges_with_the_field_violation(
        orders: OrdersService, db_urls: tuple[str, str], items: list[pb.OrderItem], field: str) -> None:
    with serve_grpc(register(orders.container.servicer())) as target, grpc.insecure_channel(target) as ch:
        stub = pb_grpc.OrderServiceStub(ch)
        with pytest.raises(grpc.RpcError) as raised:
            stub.CreateOrder(pb.CreateOrderRequest(customer_id="cust-1", restaurant_id="rest-1",
                                                   order_items=items, idempotency_key="grpc-1"))
    assert grpc_fields(raised.value) == [field]
    assert stored(orders, db_urls[0]) == NOTHING
