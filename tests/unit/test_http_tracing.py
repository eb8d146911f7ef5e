"""The HTTP adapters open SERVER and CLIENT spans with the right names and tags, and inject context."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import flask
import pytest
from urllib3 import HTTPHeaderDict

from kit import errors
from kit.http import HTTPClient, HTTPServer, create_app, json_response, no_body, query_request, register
from kit.http.server import WSGIHeaders
from kit.tracing import SpanKind


@dataclass
class RecordedSpan:
    name: str
    kind: SpanKind
    headers: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)
    remote: dict[str, object] = field(default_factory=dict)

    def tag(self, key: str, value: str) -> None:
        self.tags[key] = value

    def remote_endpoint(self, *, service_name: str | None = None, ip: str | None = None,
                        port: int | None = None) -> None:
        self.remote = {"service_name": service_name, "ip": ip, "port": port}


class RecordingTracer:
    """Keeps every span it opens; ``inject`` writes a fixed trace id."""

    def __init__(self) -> None:
        self.spans: list[RecordedSpan] = []
        self.injected = 0

    @contextmanager
    def span(self, name: str, kind: SpanKind, *,
             headers: Mapping[str, str] | None = None) -> Iterator[RecordedSpan]:
        span = RecordedSpan(name, kind, dict(headers.items()) if headers else {})
        self.spans.append(span)
        try:
            yield span
        except Exception as exc:
            span.tag("error", str(exc))
            raise

    def inject(self, headers: MutableMapping[str, str]) -> None:
        self.injected += 1
        headers["x-b3-traceid"] = "463ac35c9f6413ad48485a3953bb6124"


@dataclass(frozen=True)
class GetOrder:
    order_id: str


@dataclass(frozen=True)
class Order:
    order_id: str


def get_order(req: GetOrder) -> Order:
    if req.order_id == "missing":
        raise errors.NotFound("no such order")
    if req.order_id == "down":
        raise errors.Unavailable("backend down")
    if req.order_id == "bug":
        raise RuntimeError("oops")
    return Order(req.order_id)


@pytest.fixture
def tracer() -> RecordingTracer:
    return RecordingTracer()


@pytest.fixture
def client(tracer: RecordingTracer) -> flask.testing.FlaskClient:
    app = create_app(__name__)
    register(app, "/orders/<order_id>", HTTPServer(get_order, query_request(GetOrder), json_response(),
                                                   tracer=tracer))  # type: ignore[arg-type]
    register(app, "/named/<order_id>", HTTPServer(get_order, query_request(GetOrder), json_response(),
                                                  tracer=tracer, name="get_order"))  # type: ignore[arg-type]
    return app.test_client()


def test_server_span_is_named_after_the_route_and_tagged(
        client: flask.testing.FlaskClient, tracer: RecordingTracer) -> None:
    resp = client.get("/orders/o-1", headers={"X-B3-TraceId": "463ac35c9f6413ad48485a3953bb6124"})
    assert resp.status_code == 200
    (span,) = tracer.spans
    assert (span.name, span.kind) == ("/orders/<order_id>", SpanKind.SERVER)
    assert span.tags == {"http.method": "GET", "http.path": "/orders/o-1",
                         "http.route": "/orders/<order_id>", "http.status_code": "200"}
    assert span.headers["x-b3-traceid"] == "463ac35c9f6413ad48485a3953bb6124"


def test_server_span_name_can_be_set(client: flask.testing.FlaskClient, tracer: RecordingTracer) -> None:
    client.get("/named/o-1")
    assert tracer.spans[0].name == "get_order"
    assert tracer.spans[0].tags["http.route"] == "/named/<order_id>"


@pytest.mark.parametrize(("order_id", "status", "error"), [
    ("missing", "404", None), ("down", "503", "backend down"), ("bug", "500", "RuntimeError"),
])
def test_server_span_tags_errors_for_5xx_only(
        client: flask.testing.FlaskClient, tracer: RecordingTracer,
        order_id: str, status: str, error: str | None) -> None:
    client.get(f"/orders/{order_id}")
    (span,) = tracer.spans
    assert span.tags["http.status_code"] == status
    assert span.tags.get("error") == error


class FakePool:
    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body
        self.headers: dict[str, str] = {}

    def request(self, method: str, url: str, *, headers: dict[str, str], **kwargs: object) -> object:
        self.headers = dict(headers)
        return type("Response", (), {"status": self.status, "data": self.body,
                                     "headers": HTTPHeaderDict({"Content-Type": "application/json"})})()


def test_client_span_is_opened_tagged_and_injected(tracer: RecordingTracer) -> None:
    pool = FakePool(204, b"")
    client = HTTPClient("DELETE", "http://10.0.0.7:3000/orders/{order_id}", no_body, lambda *a: None,
                        pool=pool, tracer=tracer)  # type: ignore[arg-type]
    client(GetOrder("o-1"))
    (span,) = tracer.spans
    assert (span.name, span.kind) == ("/orders/{order_id}", SpanKind.CLIENT)
    assert span.tags == {"http.method": "DELETE", "http.path": "/orders/o-1", "http.status_code": "204"}
    assert span.remote == {"service_name": None, "ip": "10.0.0.7", "port": 3000}
    assert tracer.injected == 1
    assert pool.headers["x-b3-traceid"] == "463ac35c9f6413ad48485a3953bb6124"


def test_client_span_records_the_error_and_names_a_host_peer(tracer: RecordingTracer) -> None:
    client = HTTPClient("GET", "http://orders/orders/{order_id}", no_body, lambda *a: None,
                        pool=FakePool(503, b""), tracer=tracer, name="orders.get")  # type: ignore[arg-type]
    with pytest.raises(errors.Unavailable):
        client(GetOrder("o-1"))
    (span,) = tracer.spans
    assert span.name == "orders.get"
    assert span.tags["http.status_code"] == "503"
    assert "error" in span.tags
    assert span.remote == {"service_name": "orders", "ip": None, "port": 80}


def test_wsgi_headers_is_a_case_insensitive_mapping() -> None:
    headers = WSGIHeaders({"HTTP_X_B3_TRACEID": "abc", "CONTENT_TYPE": "application/json",
                           "CONTENT_LENGTH": "", "wsgi.version": (1, 0)})
    assert headers["X-B3-TraceId"] == headers.get("x-b3-traceid") == "abc"
    assert headers.get("X-Missing") is None
    assert sorted(headers) == ["content-type", "x-b3-traceid"]
    assert len(headers) == 2
    assert dict(headers.items()) == {"x-b3-traceid": "abc", "content-type": "application/json"}
