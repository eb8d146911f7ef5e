"""Endpoints served by a real waitress server and called through HTTPClient over loopback TCP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
import urllib3

from kit import context, errors
from kit.http import (
    HTTPClient,
    HTTPServer,
    create_app,
    empty_decoder,
    empty_response,
    json_body_encoder,
    json_decoder,
    json_request,
    json_response,
    no_body,
    query_request,
    register,
)
from kit.testing.http import serve_wsgi
from kit.testing.net import free_port
from kit.tracing import SpanKind

pytestmark = pytest.mark.integration

ERROR_CLASSES = sorted(errors.BY_CODE.values(), key=lambda c: c.__name__)


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
class Kind:
    kind: str


@dataclass(frozen=True)
class Nap:
    seconds: float


@dataclass(frozen=True)
class Seen:
    remaining: float | None
    request_id: str | None


class PropagationTracer:
    """Injects a fixed trace id and remembers the trace id each SERVER span received."""

    def __init__(self) -> None:
        self.received: list[str | None] = []

    @contextmanager
    def span(self, name: str, kind: SpanKind, *,
             headers: Mapping[str, str] | None = None) -> Iterator[object]:
        if kind is SpanKind.SERVER:
            self.received.append((headers or {}).get("X-B3-TraceId"))
        yield type("Span", (), {"tag": lambda *a: None, "remote_endpoint": lambda *a, **k: None})()

    def inject(self, headers: MutableMapping[str, str]) -> None:
        headers["X-B3-TraceId"] = "80f198ee56343ba864fe8b2a57d3eff7"


def raise_kind(req: Kind) -> None:
    cls = next(c for c in ERROR_CLASSES if c.__name__ == req.kind)
    if cls is errors.InvalidArgument:
        raise errors.InvalidArgument("order is invalid", fields=[
            errors.FieldViolation("order_items.0.quantity", "must be positive"),
            errors.FieldViolation("customer_id", "unknown customer")])
    raise cls(f"{req.kind}: the order service says no")


def nap(req: Nap) -> None:
    time.sleep(req.seconds)


def seen(req: object) -> Seen:
    return Seen(context.current().remaining(), context.current().metadata.get("x-request-id"))


calls: list[str] = []
tracer = PropagationTracer()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = create_app(__name__)
    register(app, "/orders", HTTPServer(lambda r: r, json_request(CreateOrder), json_response(201)),
             ["POST"])
    register(app, "/raise/<kind>", HTTPServer(raise_kind, query_request(Kind), empty_response()))
    register(app, "/nap", HTTPServer(nap, query_request(Nap), empty_response()))
    register(app, "/seen", HTTPServer(seen, lambda r, a: calls.append("seen"), json_response(),
                                      tracer=tracer))  # type: ignore[arg-type]
    with serve_wsgi(app) as url:
        yield url


def test_a_json_request_round_trips(base_url: str) -> None:
    create = HTTPClient("POST", f"{base_url}/orders", json_body_encoder, json_decoder(CreateOrder))
    order = CreateOrder("c-1", Decimal("19.99"), [Item("A1", 2)])
    assert create(order) == order


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_kit_error_arrives_as_itself(base_url: str, cls: type[errors.KitError]) -> None:
    call = HTTPClient("GET", f"{base_url}/raise/{{kind}}", no_body, empty_decoder)
    with pytest.raises(cls) as caught:
        call(Kind(cls.__name__))
    error = caught.value
    assert type(error) is cls
    if cls is errors.InvalidArgument:
        assert error.message == "order is invalid"
        assert error.fields == (  # type: ignore[attr-defined]
            errors.FieldViolation("order_items.0.quantity", "must be positive"),
            errors.FieldViolation("customer_id", "unknown customer"))
    else:
        assert error.message == f"{cls.__name__}: the order service says no"


def test_validation_errors_keep_their_fields(base_url: str) -> None:
    def raw_json(body: object, headers: dict[str, str]) -> bytes:
        headers["Content-Type"] = "application/json"
        return json.dumps(body).encode()

    create = HTTPClient("POST", f"{base_url}/orders", raw_json, json_decoder(CreateOrder))
    with pytest.raises(errors.InvalidArgument) as caught:
        create({"customer_id": "c-1", "amount": "1", "order_items": [{"code": "A1", "quantity": "many"}]})
    assert [f.field for f in caught.value.fields] == ["order_items.0.quantity"]


def test_an_unknown_route_is_not_found(base_url: str) -> None:
    with pytest.raises(errors.NotFound):
        HTTPClient("GET", f"{base_url}/nowhere", no_body, empty_decoder)(None)


def test_the_deadline_crosses_the_hop(base_url: str) -> None:
    call = HTTPClient("GET", f"{base_url}/seen", no_body, json_decoder(Seen), timeout=30)
    with context.scope(timeout=2):
        remote = call(None)
    assert remote.remaining is not None and 0 < remote.remaining <= 2


def test_an_expired_deadline_fails_fast_without_a_request(base_url: str) -> None:
    call = HTTPClient("GET", f"{base_url}/seen", no_body, json_decoder(Seen))
    before = len(calls)
    with context.scope(timeout=0.001):
        time.sleep(0.01)
        with pytest.raises(errors.DeadlineExceeded):
            call(None)
    assert len(calls) == before


def test_a_slow_server_is_a_deadline_exceeded(base_url: str) -> None:
    call = HTTPClient("GET", f"{base_url}/nap?seconds={{seconds}}", no_body, empty_decoder)
    with context.scope(timeout=0.1), pytest.raises(errors.DeadlineExceeded):
        call(Nap(0.5))


def test_connection_refused_is_unavailable() -> None:
    call = HTTPClient("GET", f"http://127.0.0.1:{free_port()}/orders", no_body, empty_decoder)
    with pytest.raises(errors.Unavailable, match="cannot connect"):
        call(None)


def test_trace_context_is_injected_and_received(base_url: str) -> None:
    call = HTTPClient("GET", f"{base_url}/seen", no_body, json_decoder(Seen), tracer=tracer,
                      headers={"X-Request-Id": "req-42"})  # type: ignore[arg-type]
    assert call(None).request_id == "req-42"
    assert tracer.received[-1] == "80f198ee56343ba864fe8b2a57d3eff7"


def test_a_shared_pool_serves_concurrent_callers(base_url: str) -> None:
    pool = urllib3.PoolManager(maxsize=4)
    create = HTTPClient("POST", f"{base_url}/orders", json_body_encoder, json_decoder(CreateOrder),
                        pool=pool)
    results: list[CreateOrder] = []

    def work(i: int) -> None:
        results.append(create(CreateOrder(f"c-{i}", Decimal(i))))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.customer_id for r in results) == sorted(f"c-{i}" for i in range(8))


def test_serve_wsgi_stops_the_server_and_its_connections() -> None:
    app = create_app(__name__)
    register(app, "/ping", HTTPServer(lambda r: None, lambda r, a: None, empty_response()))
    with serve_wsgi(app) as url:
        ping = HTTPClient("GET", f"{url}/ping", no_body, empty_decoder)
        assert ping(None) is None
    with pytest.raises(errors.Unavailable):
        HTTPClient("GET", f"{url}/ping", no_body, empty_decoder)(None)
    assert not [t for t in threading.enumerate() if t.name == f"waitress-{url.rsplit(':', 1)[1]}"]
