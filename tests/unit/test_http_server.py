"""HTTPServer, the generic codecs and the app's problem handlers, through Flask's test client."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal

import flask
import pydantic
import pytest

from kit import context, errors
from kit.http import (
    HTTPProblem,
    HTTPServer,
    create_app,
    empty_response,
    json_request,
    json_response,
    query_request,
    register,
)


@dataclass(frozen=True)
class Item:
    code: str
    quantity: int


@dataclass(frozen=True)
class CreateOrder:
    customer_id: str
    amount: Decimal
    order_items: list[Item] = field(default_factory=list)


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_id: str
    amount: Decimal


@pydantic.with_config(extra="forbid")
@dataclass(frozen=True)
class Strict:
    name: str


@dataclass(frozen=True)
class AddItem:
    order_id: str
    code: str
    quantity: int = 1


@dataclass(frozen=True)
class Search:
    status: list[str] = field(default_factory=list)
    limit: int = 10
    customer_id: str | None = None


@dataclass(frozen=True)
class Kind:
    kind: str


@dataclass(frozen=True)
class Seen:
    remaining: float | None
    metadata: dict[str, str]


ERROR_CLASSES = sorted(errors.BY_CODE.values(), key=lambda c: c.__name__)


def create_order(req: CreateOrder) -> Order:
    return Order(order_id="o-1", customer_id=req.customer_id, amount=req.amount)


def raise_kind(req: Kind) -> None:
    if req.kind == "boom":
        raise RuntimeError("secret database password in here")
    cls = next(c for c in ERROR_CLASSES if c.__name__ == req.kind)
    if cls is errors.InvalidArgument:
        raise errors.InvalidArgument("bad order", fields=[errors.FieldViolation("amount", "too big")])
    raise cls(f"{req.kind} happened")


def see_context(req: object) -> Seen:
    ctx = context.current()
    return Seen(ctx.remaining(), dict(ctx.metadata))


@pytest.fixture
def app() -> flask.Flask:
    app = create_app(__name__, TESTING=True, max_content_length=None)
    register(app, "/orders", HTTPServer(
        create_order, json_request(CreateOrder),
        json_response(201, headers_fn=lambda o: {"Location": f"/orders/{o.order_id}"}),
    ), ["POST"])
    register(app, "/strict", HTTPServer(lambda r: r, json_request(Strict, max_body=64), json_response()),
             ["POST"])
    register(app, "/orders/<order_id>/items", HTTPServer(lambda r: r, json_request(AddItem),
                                                         json_response()), ["POST"])
    register(app, "/search", HTTPServer(lambda r: r, query_request(Search), json_response()))
    register(app, "/search-body", HTTPServer(lambda r: r, json_request(Search, query=True),
                                             json_response()), ["POST"])
    register(app, "/raise/<kind>", HTTPServer(raise_kind, query_request(Kind), empty_response()),
             ["GET", "POST"])
    register(app, "/context", HTTPServer(
        see_context, lambda request, args: None, json_response(),
        before=[lambda request: {"X-Tenant": request.headers.get("X-Tenant", "none")}],
    ), ["GET"])

    def deny(request: flask.Request) -> None:
        raise errors.Unauthenticated("who are you?")

    register(app, "/private", HTTPServer(create_order, json_request(CreateOrder), json_response(),
                                         before=[deny]), ["POST"])

    def stamp(request: flask.Request, response: flask.Response) -> None:
        response.headers["X-Served-By"] = "kit"

    register(app, "/stamped/<kind>", HTTPServer(raise_kind, query_request(Kind), empty_response(),
                                                after=[stamp]), ["GET"])

    @app.get("/plain")
    def plain() -> str:
        raise ValueError("plain view secret")

    return app


@pytest.fixture
def client(app: flask.Flask) -> flask.testing.FlaskClient:
    return app.test_client()


def problem(response: flask.testing.TestResponse) -> dict[str, object]:
    assert response.content_type == "application/problem+json"
    doc = json.loads(response.data)
    assert doc["status"] == response.status_code
    return doc  # type: ignore[no-any-return]


def test_json_request_and_response_round_trip(client: flask.testing.FlaskClient) -> None:
    resp = client.post("/orders", json={"customer_id": "c-1", "amount": "12.50"})
    assert resp.status_code == 201
    assert resp.content_type == "application/json"
    assert resp.headers["Location"] == "/orders/o-1"
    assert resp.get_json() == {"order_id": "o-1", "customer_id": "c-1", "amount": "12.50"}


def test_malformed_json_is_a_400_naming_the_body(client: flask.testing.FlaskClient) -> None:
    resp = client.post("/orders", data=b"{not json", content_type="application/json")
    doc = problem(resp)
    assert resp.status_code == 400
    assert doc["code"] == "INVALID_ARGUMENT"
    assert doc["type"] == "urn:problem-type:invalid-argument"
    assert doc["errors"] == [{"field": "body", "message": "not valid JSON"}]
    assert doc["instance"] == "/orders"


def test_wrong_types_name_each_field(client: flask.testing.FlaskClient) -> None:
    resp = client.post("/orders", json={"customer_id": "c", "amount": "lots",
                                        "order_items": [{"code": "x", "quantity": "many"}]})
    doc = problem(resp)
    fields = {e["field"] for e in doc["errors"]}  # type: ignore[attr-defined]
    assert fields == {"amount", "order_items.0.quantity"}


def test_missing_fields_are_named(client: flask.testing.FlaskClient) -> None:
    doc = problem(client.post("/orders", json={}))
    assert {e["field"] for e in doc["errors"]} == {"customer_id", "amount"}  # type: ignore[attr-defined]


def test_unknown_fields_are_rejected_when_the_dataclass_forbids_extras(
        client: flask.testing.FlaskClient) -> None:
    doc = problem(client.post("/strict", json={"name": "a", "colour": "red"}))
    assert [e["field"] for e in doc["errors"]] == ["colour"]  # type: ignore[attr-defined]


def test_a_json_array_body_is_a_400(client: flask.testing.FlaskClient) -> None:
    resp = client.post("/orders/o-1/items", json=[1, 2])
    assert resp.status_code == 400
    assert problem(resp)["errors"][0]["field"] == "body"  # type: ignore[index]


def test_wrong_content_type_is_a_415(client: flask.testing.FlaskClient) -> None:
    resp = client.post("/orders", data="customer_id=c", content_type="application/x-www-form-urlencoded")
    doc = problem(resp)
    assert resp.status_code == 415
    assert doc["type"] == "about:blank"
    assert doc["title"] == "Unsupported Media Type"
    assert "code" not in doc


def test_problem_json_subtypes_count_as_json(client: flask.testing.FlaskClient) -> None:
    resp = client.post("/strict", data=b'{"name": "a"}', content_type="application/merge-patch+json")
    assert resp.status_code == 200


def test_announced_huge_body_is_a_413_without_reading_it(client: flask.testing.FlaskClient) -> None:
    class Unreadable(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise AssertionError("the body must not be read")

        def readinto(self, buffer: object) -> int:
            raise AssertionError("the body must not be read")

    resp = client.post("/strict", input_stream=Unreadable(b"{}"), content_type="application/json",
                       environ_overrides={"CONTENT_LENGTH": str(10 << 20)})
    doc = problem(resp)
    assert resp.status_code == 413
    assert "64 bytes" in doc["detail"]  # type: ignore[operator]


def test_chunked_body_over_the_limit_is_a_413(client: flask.testing.FlaskClient) -> None:
    body = b'{"name": "' + b"x" * 10_000 + b'"}'
    resp = client.post("/strict", input_stream=io.BytesIO(body), content_type="application/json",
                       headers={"Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True})
    assert resp.status_code == 413
    assert problem(resp)["detail"] == "the body must not exceed 64 bytes"


def test_chunked_body_under_the_limit_is_read(client: flask.testing.FlaskClient) -> None:
    resp = client.post("/strict", input_stream=io.BytesIO(b'{"name": "x"}'),
                       content_type="application/json", headers={"Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True})
    assert resp.get_json() == {"name": "x"}


def test_flask_max_content_length_answers_413_problem() -> None:
    app = create_app(__name__, max_content_length=16)
    register(app, "/orders", HTTPServer(create_order, json_request(CreateOrder), json_response()),
             ["POST"])
    resp = app.test_client().post("/orders", json={"customer_id": "c" * 100, "amount": 1})
    assert resp.status_code == 413
    assert problem(resp)["type"] == "about:blank"


def test_path_params_merge_into_the_body_and_win(client: flask.testing.FlaskClient) -> None:
    resp = client.post("/orders/o-9/items", json={"order_id": "other", "code": "A1", "quantity": 3})
    assert resp.get_json() == {"order_id": "o-9", "code": "A1", "quantity": 3}


def test_an_empty_body_counts_as_an_empty_object(client: flask.testing.FlaskClient) -> None:
    resp = client.post("/orders/o-9/items")
    assert problem(resp)["errors"] == [{"field": "code", "message": "Field required"}]


def test_query_request_converts_values_and_collects_lists(client: flask.testing.FlaskClient) -> None:
    resp = client.get("/search?status=created&status=approved&limit=5")
    assert resp.get_json() == {"status": ["created", "approved"], "limit": 5, "customer_id": None}
    doc = problem(client.get("/search?limit=ten"))
    assert [e["field"] for e in doc["errors"]] == ["limit"]  # type: ignore[attr-defined]


def test_json_request_can_merge_query_args(client: flask.testing.FlaskClient) -> None:
    resp = client.post("/search-body?customer_id=c-7&status=x", json={"limit": 2})
    assert resp.get_json() == {"status": ["x"], "limit": 2, "customer_id": "c-7"}


def test_unknown_route_is_a_404_problem(client: flask.testing.FlaskClient) -> None:
    resp = client.get("/nowhere")
    doc = problem(resp)
    assert resp.status_code == 404
    assert doc["type"] == "about:blank"
    assert doc["title"] == "Not Found"
    assert doc["instance"] == "/nowhere"


def test_wrong_method_is_a_405_problem_with_allow(client: flask.testing.FlaskClient) -> None:
    resp = client.delete("/orders")
    assert resp.status_code == 405
    assert problem(resp)["title"] == "Method Not Allowed"
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) >= {"POST", "OPTIONS"}


def test_unexpected_exception_is_a_500_without_details(
        client: flask.testing.FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="kit.http"):
        resp = client.get("/raise/boom")
    doc = problem(resp)
    assert resp.status_code == 500
    assert doc["code"] == "INTERNAL"
    body = resp.get_data(as_text=True)
    assert "secret" not in body and "Traceback" not in body and "RuntimeError" not in body
    assert any(r.exc_info and "secret" in str(r.exc_info[1]) for r in caplog.records)


def test_exception_in_a_plain_view_is_a_500_problem(
        client: flask.testing.FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="kit.http"):
        resp = client.get("/plain")
    assert resp.status_code == 500
    assert "secret" not in resp.get_data(as_text=True)
    assert problem(resp)["code"] == "INTERNAL"
    assert caplog.records


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_kit_error_maps_to_its_status_and_problem(
        client: flask.testing.FlaskClient, cls: type[errors.KitError]) -> None:
    resp = client.get(f"/raise/{cls.__name__}")
    doc = problem(resp)
    assert resp.status_code == cls.code.http_status
    assert doc["code"] == cls.code.value
    assert doc["type"] == f"urn:problem-type:{cls.code.slug}"
    assert doc["title"] == cls.title
    assert doc["instance"] == f"/raise/{cls.__name__}"
    if cls is errors.InvalidArgument:
        assert doc["detail"] == "bad order"
        assert doc["errors"] == [{"field": "amount", "message": "too big"}]
    else:
        assert doc["detail"] == f"{cls.__name__} happened"
        assert "errors" not in doc
    if cls is errors.Unavailable:
        assert resp.headers["Retry-After"] == "1"
    else:
        assert "Retry-After" not in resp.headers


def test_retry_after_is_sent_rounded_up() -> None:
    app = create_app(__name__)

    def limited(req: object) -> None:
        raise errors.ResourceExhausted("slow down", retry_after=2.2)

    register(app, "/limited", HTTPServer(limited, lambda r, a: None, empty_response()))
    resp = app.test_client().get("/limited")
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "3"


def test_http_problem_raised_by_an_endpoint_is_answered_as_is() -> None:
    app = create_app(__name__)

    def teapot(req: object) -> None:
        raise HTTPProblem(418, "short and stout", headers={"X-Pot": "1"})

    register(app, "/tea", HTTPServer(teapot, lambda r, a: None, empty_response()))
    resp = app.test_client().get("/tea")
    doc = problem(resp)
    assert (resp.status_code, doc["title"], doc["detail"]) == (418, "I'm a Teapot", "short and stout")
    assert resp.headers["X-Pot"] == "1"


def test_request_timeout_header_sets_the_deadline(client: flask.testing.FlaskClient) -> None:
    seen = client.get("/context", headers={"Request-Timeout": "5"}).get_json()
    assert 0 < seen["remaining"] <= 5
    assert client.get("/context").get_json()["remaining"] is None
    legacy = client.get("/context", headers={"X-Request-Timeout": "2.5"}).get_json()
    assert 0 < legacy["remaining"] <= 2.5


def test_expired_request_timeout_is_a_504_without_calling_the_endpoint() -> None:
    calls = []
    app = create_app(__name__)
    register(app, "/work", HTTPServer(calls.append, lambda r, a: None, empty_response()))
    resp = app.test_client().get("/work", headers={"Request-Timeout": "0"})
    assert resp.status_code == 504
    assert problem(resp)["code"] == "DEADLINE_EXCEEDED"
    assert calls == []


def test_malformed_request_timeout_is_a_400(client: flask.testing.FlaskClient) -> None:
    doc = problem(client.get("/context", headers={"Request-Timeout": "soon"}))
    assert doc["errors"] == [{"field": "Request-Timeout", "message": "must be a number of seconds"}]


def test_selected_headers_and_before_hooks_fill_the_metadata(client: flask.testing.FlaskClient) -> None:
    seen = client.get("/context", headers={"X-Request-Id": "r-1", "X-Tenant": "acme",
                                           "X-Other": "ignored"}).get_json()
    assert seen["metadata"] == {"x-request-id": "r-1", "x-tenant": "acme"}


def test_metadata_headers_can_be_chosen() -> None:
    app = create_app(__name__)
    register(app, "/context", HTTPServer(see_context, lambda request, args: None, json_response(),
                                         metadata_headers=["Authorization"]))
    seen = app.test_client().get("/context", headers={"Authorization": "Bearer t",
                                                      "X-Request-Id": "r-1"}).get_json()
    assert seen["metadata"] == {"authorization": "Bearer t"}


def test_a_before_hook_can_refuse_the_request(client: flask.testing.FlaskClient) -> None:
    resp = client.post("/private", json={"customer_id": "c", "amount": 1})
    assert resp.status_code == 401
    assert problem(resp)["detail"] == "who are you?"


def test_after_hooks_see_successes_and_problems(client: flask.testing.FlaskClient) -> None:
    assert client.get("/stamped/NotFound").headers["X-Served-By"] == "kit"
    app = create_app(__name__)

    def stamp(request: flask.Request, response: flask.Response) -> None:
        response.headers["X-Served-By"] = "kit"

    register(app, "/ok", HTTPServer(lambda r: None, lambda r, a: None, empty_response(), after=[stamp]))
    resp = app.test_client().get("/ok")
    assert (resp.status_code, resp.headers["X-Served-By"]) == (204, "kit")


def test_server_is_usable_with_add_url_rule_directly() -> None:
    app = flask.Flask(__name__)
    app.add_url_rule("/orders/<order_id>/items", view_func=HTTPServer(
        lambda r: r, json_request(AddItem), json_response()), methods=["POST"])
    resp = app.test_client().post("/orders/o-2/items", json={"code": "B"})
    assert resp.get_json() == {"order_id": "o-2", "code": "B", "quantity": 1}
