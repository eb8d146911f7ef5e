"""The HTTP transport: the order endpoints as Flask views (``kit.http.HTTPServer``).

Routes::

    POST /api/orders                     201 + Location; Idempotency-Key honoured
    GET  /api/orders?customer_id=&status=&limit=&cursor=
    GET  /api/orders/<order_id>
    POST /api/orders/<order_id>/cancel   optional body {"reason": "..."}
    GET  /api/orders/<order_id>/events
    GET  /healthz  /readyz  /metrics  /openapi.json  /docs

Errors are ``application/problem+json`` (``kit.http.problem``) with the field at fault for a 400;
a reused idempotency key with another body is a 422. Flask request objects stop here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import flask

from kit.auth.bearer import Authenticator
from kit.errors import FieldViolation, InvalidArgument
from kit.http import HTTPServer, create_app, json_request, query_request, register
from kit.http.codecs import read_json_body
from kit.http.problem import PROBLEM_JSON, problem_document, problem_response
from kit.middleware.metrics import add_metrics_route
from kit.tracing import NOOP_TRACER, Tracer
from orders import jsontext
from orders.aggregate import Order
from orders.ports import OrderQuery
from ordersvc import openapi
from ordersvc.board import Board, BoardAccess, register_board
from ordersvc.endpoints import CancelOrderRequest, Endpoints, GetOrderRequest, OrderHistoryRequest
from ordersvc.requests import ListOrdersInput, parse_create_order
from ordersvc.service import CreateOrder, IdempotencyKeyReused, check_idempotency_key
from ordersvc.views import history_view, order_view, page_view

T = TypeVar("T")
MAX_BODY = 256 * 1024
"""Largest request body accepted (bytes): a full order of 100 long lines fits many times over."""
IDEMPOTENCY_HEADER = "Idempotency-Key"


def error_encoder(exc: BaseException, request: flask.Request) -> flask.Response:
    """problem+json for every error; a reused idempotency key answers 422 Unprocessable Content."""
    if not isinstance(exc, IdempotencyKeyReused):
        return problem_response(exc, request)
    _, doc, headers = problem_document(exc, request.path)
    doc["status"] = 422
    response = flask.Response(json.dumps(doc).encode(), 422, content_type=PROBLEM_JSON)
    response.headers.update(headers)
    return response


def json_view(render: Callable[[T], Any], status: int = 200,
              headers: Callable[[T], Mapping[str, str]] | None = None) -> Callable[[T], flask.Response]:
    """An encoder answering ``render(response)`` as exact JSON (money as numbers)."""

    def encode(resp: T) -> flask.Response:
        response = flask.Response(jsontext.dumps(render(resp)), status, content_type="application/json")
        if headers is not None:
            response.headers.update(headers(resp))
        return response

    return encode


def order_location(order: Order) -> Mapping[str, str]:
    """The ``Location`` of a created order."""
    return {"Location": f"/api/orders/{order.order_id}"}


def decode_create_order(request: flask.Request, view_args: Mapping[str, Any]) -> CreateOrder:
    """The create command from the JSON body and the ``Idempotency-Key`` header."""
    del view_args
    raw = read_json_body(request, MAX_BODY)
    if not raw:
        raise InvalidArgument(fields=[FieldViolation("body", "an order is required")])
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None:
        try:
            check_idempotency_key(key)
        except InvalidArgument as exc:
            raise InvalidArgument(fields=[FieldViolation(IDEMPOTENCY_HEADER, f.message)
                                          for f in exc.fields]) from None
    return parse_create_order(raw, key)


def decode_list_orders(request: flask.Request, view_args: Mapping[str, Any]) -> OrderQuery:
    """The list query from the query string."""
    return query_request(ListOrdersInput)(request, view_args).query()


def register_api(app: flask.Flask, endpoints: Endpoints, *, tracer: Tracer = NOOP_TRACER,
                 auth: Authenticator | None = None) -> None:
    """Route the order API on ``app``; with ``auth`` every route needs a verified bearer token."""

    def server(name: str, endpoint: Callable[[Any], Any], decode: Any, encode: Any) -> HTTPServer[Any, Any]:
        return HTTPServer(endpoint, decode, encode, error_encoder=error_encoder, tracer=tracer, name=name,
                          auth=auth)

    register(app, "/api/orders", server(
        "POST /api/orders", endpoints.create_order, decode_create_order,
        json_view(order_view, 201, order_location)), methods=["POST"])
    register(app, "/api/orders", server(
        "GET /api/orders", endpoints.list_orders, decode_list_orders, json_view(page_view)))
    register(app, "/api/orders/<order_id>", server(
        "GET /api/orders/{order_id}", endpoints.get_order, query_request(GetOrderRequest),
        json_view(order_view)))
    register(app, "/api/orders/<order_id>/cancel", server(
        "POST /api/orders/{order_id}/cancel", endpoints.cancel_order,
        json_request(CancelOrderRequest, max_body=MAX_BODY), json_view(order_view)), methods=["POST"])
    register(app, "/api/orders/<order_id>/events", server(
        "GET /api/orders/{order_id}/events", endpoints.order_history,
        query_request(OrderHistoryRequest), json_view(history_view)))


def register_operations(app: flask.Flask, readiness: Callable[[], Mapping[str, str]]) -> None:
    """Health, readiness, metrics and the API description."""

    def healthz() -> flask.Response:
        return flask.jsonify(status="ok")

    def readyz() -> flask.Response:
        checks = dict(readiness())
        ready = all(outcome == "ok" for outcome in checks.values())
        response = flask.jsonify(status="ready" if ready else "unavailable", checks=checks)
        if not ready:
            response.status_code = 503
            response.headers["Retry-After"] = "1"
        return response

    def spec() -> flask.Response:
        return flask.jsonify(openapi.spec())

    def docs() -> flask.Response:
        return flask.Response(openapi.DOCS_HTML, content_type="text/html; charset=utf-8")

    app.add_url_rule("/healthz", endpoint="healthz", view_func=healthz)
    app.add_url_rule("/readyz", endpoint="readyz", view_func=readyz)
    app.add_url_rule("/openapi.json", endpoint="openapi", view_func=spec)
    app.add_url_rule("/docs", endpoint="docs", view_func=docs)
    add_metrics_route(app)


def build_app(endpoints: Endpoints, *, readiness: Callable[[], Mapping[str, str]],
              tracer: Tracer = NOOP_TRACER, board: Board | None = None,
              auth: Authenticator | None = None) -> flask.Flask:
    """The order service's Flask app: the API, the operational routes and the live board.

    With ``auth``, the API needs a bearer token and the board an operator (``orders:admin``) token;
    health, readiness, metrics and the API description stay open.
    """
    app = create_app("ordersvc", max_content_length=MAX_BODY)
    register_api(app, endpoints, tracer=tracer, auth=auth)
    register_operations(app, readiness)
    if board is not None and auth is not None:
        access = BoardAccess(auth)
        access.register(app)
        register_board(app, board, protect=access.protect)
    elif board is not None:
        register_board(app, board)
    return app
