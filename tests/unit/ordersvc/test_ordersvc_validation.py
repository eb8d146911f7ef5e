"""Bad input through the whole stack (HTTP app, service, domain) over in-memory ports: each bad body
is a 400 (or 413 / 415) naming the field, and nothing is stored; random bodies never cause a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.memory import InMemoryEventStore, InMemoryReadModel
from ordersvc.endpoints import make_endpoints
from ordersvc.http import build_app
from ordersvc.memory import InMemoryIdempotencyStore
from ordersvc.service import EventSourcedOrderService

ITEM = {"code": "p-1", "name": "Pizza", "unit_price": "12.50", "quantity": 2}


def order(**changes: Any) -> dict[str, Any]:
    return {"customer_id": "cust-1", "restaurant_id": "rest-1", "order_items": [ITEM], **changes}


def item(**changes: Any) -> dict[str, Any]:
    return order(order_items=[{**ITEM, **changes}])


class Stack:
    def __init__(self) -> None:
        self.store = InMemoryEventStore()
        service = EventSourcedOrderService(self.store, InMemoryReadModel(), InMemoryIdempotencyStore())
        self.client: FlaskClient = build_app(make_endpoints(service), readiness=dict).test_client()


@pytest.fixture
def stack() -> Stack:
    return Stack()


@pytest.mark.parametrize(("body", "field"), [
    (order(customer_id=""), "customer_id"),
    (order(customer_id="c" * 65), "customer_id"),
    (order(restaurant_id=None), "restaurant_id"),
    (order(order_items=[]), "order_items"),
    (order(order_items=[ITEM] * 101), "order_items"),
    (item(quantity=0), "order_items.0.quantity"),
    (item(quantity=-3), "order_items.0.quantity"),
    (item(quantity=1001), "order_items.0.quantity"),
    (item(quantity=2.5), "order_items.0.quantity"),
    (item(unit_price=-0.01), "order_items.0.unit_price"),
    (item(unit_price=0), "order_items"),
    (order(order_items=[ITEM, {**ITEM, "quantity": 1}]), "order_items.1.code"),
    (item(unit_price="1000000.01"), "order_items.0.unit_price"),
    (order(amount=25), "amount"),
    (order(order_items={"0": ITEM}), "order_items"),
    (item(unit_price="1.234"), "order_items.0.unit_price"),
    (item(unit_price=1.234), "order_items.0.unit_price"),
    (item(unit_price="NaN"), "order_items.0.unit_price"),
    (item(unit_price="1e400"), "order_items.0.unit_price"),
    (item(unit_price="1e-400"), "order_items.0.unit_price"),
    (item(name="n" * 201), "order_items.0.name"),
    (item(code=""), "order_items.0.code"),
    (item(colour="red"), "order_items.0.colour"),
    (order(status="Approved"), "status"),
])
def test_each_bad_field_is_a_400_naming_it_and_nothing_is_stored(stack: Stack, body: dict[str, Any],
                                                                  field: str) -> None:
    response = stack.client.post("/api/orders", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.data
    assert response.json is not None
    assert field in [e["field"] for e in response.json["errors"]]
    assert stack.store.all_events() == []


def test_the_valid_body_is_accepted(stack: Stack) -> None:
    response = stack.client.post("/api/orders", json=order())
    assert response.status_code == 201 and response.json is not None
    assert response.json["amount"] == 25


def test_a_free_line_is_accepted_beside_a_paid_one(stack: Stack) -> None:
    napkins = {"code": "n-1", "name": "Napkins", "unit_price": 0, "quantity": 4}
    response = stack.client.post("/api/orders", json=order(order_items=[ITEM, napkins]))
    assert response.status_code == 201 and response.json is not None
    assert response.json["amount"] == 25


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children,
                                                                      max_size=4),
    max_leaves=12,
)
fields = st.sampled_from(["customer_id", "restaurant_id", "order_items", "amount", "status", ""])
item_fields = st.sampled_from(["code", "name", "unit_price", "quantity", "extra"])


@st.composite
def bad_bodies(draw: st.DrawFn) -> bytes:
    """Mostly-valid orders with one or more parts replaced by random JSON, or random bytes."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=200))
    body = order()
    if kind == 1:
        body[draw(fields)] = draw(json_values)
    elif kind == 2:
        body["order_items"] = [{**ITEM, draw(item_fields): draw(json_values)}]
    else:
        body = draw(json_values)
    return json.dumps(body).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=bad_bodies(), content_type=st.sampled_from(["application/json", "text/plain"]))
def test_random_bodies_never_cause_a_500_and_a_refusal_stores_nothing(raw: bytes, content_type: str) -> None:
    stack = Stack()
    response = stack.client.post("/api/orders", data=raw, content_type=content_type)
    assert response.status_code in (201, 400, 413, 415), response.data
    if response.status_code == 201:
        assert len(stack.store.all_events()) == 1
    else:
        assert response.content_type == "application/problem+json"
        assert stack.store.all_events() == []
