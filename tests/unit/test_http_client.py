"""HTTPClient against a fake urllib3 pool: URLs, bodies, deadlines and error mapping."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from urllib3 import HTTPHeaderDict
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from kit import context, errors
from kit.http import HTTPClient, empty_decoder, json_body_encoder, json_decoder, no_body


@dataclass(frozen=True)
class GetOrder:
    order_id: str


@dataclass(frozen=True)
class Order:
    order_id: str
    amount: Decimal


@dataclass
class FakeResponse:
    status: int
    data: bytes = b""
    headers: HTTPHeaderDict = field(default_factory=HTTPHeaderDict)


class FakePool:
    """Records requests and answers with a canned response or raises a canned error."""

    def __init__(self, response: FakeResponse | None = None, error: Exception | None = None) -> None:
        self.response = response or FakeResponse(200, b'{"order_id": "o-1", "amount": "1.50"}')
        self.error = error
        self.calls: list[dict[str, Any]] = []
        self.cleared = False

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        self.calls.append({"method": method, "url": url, **kwargs})
        if self.error is not None:
            raise self.error
        return self.response

    def clear(self) -> None:
        self.cleared = True


def problem(status: int, doc: dict[str, Any], **headers: str) -> FakeResponse:
    return FakeResponse(status, json.dumps(doc).encode(),
                        HTTPHeaderDict({"Content-Type": "application/problem+json", **headers}))


def get_order(pool: FakePool, **kwargs: Any) -> HTTPClient[GetOrder, Order]:
    return HTTPClient("get", "http://orders.local:3000/orders/{order_id}", no_body,
                      json_decoder(Order), pool=pool, **kwargs)  # type: ignore[arg-type]


def test_fills_the_url_template_and_decodes_the_response() -> None:
    pool = FakePool()
    assert get_order(pool)(GetOrder("a/b c")) == Order("o-1", Decimal("1.50"))
    call = pool.calls[0]
    assert call["method"] == "GET"
    assert call["url"] == "http://orders.local:3000/orders/a%2Fb%20c"
    assert call["body"] is None
    assert call["retries"] is False and call["redirect"] is False


def test_query_parameters_come_from_the_template() -> None:
    pool = FakePool()
    client = HTTPClient("GET", "http://h/orders?customer_id={order_id}&x=1", no_body, empty_decoder,
                        pool=pool)  # type: ignore[arg-type]
    client(GetOrder("c&d"))
    assert pool.calls[0]["url"] == "http://h/orders?customer_id=c%26d&x=1"


def test_json_body_encoder_sends_json_with_its_content_type() -> None:
    pool = FakePool(FakeResponse(204))
    client = HTTPClient("POST", "http://h/orders", json_body_encoder, empty_decoder, pool=pool,
                        headers={"X-Api-Key": "k"})  # type: ignore[arg-type]
    assert client(Order("o-2", Decimal("3.10"))) is None
    call = pool.calls[0]
    assert json.loads(call["body"]) == {"order_id": "o-2", "amount": "3.10"}
    assert call["headers"]["Content-Type"] == "application/json"
    assert call["headers"]["X-Api-Key"] == "k"
    assert "application/problem+json" in call["headers"]["Accept"]


def test_default_timeout_is_used_and_announced_without_a_deadline() -> None:
    pool = FakePool()
    get_order(pool, timeout=3)(GetOrder("o-1"))
    call = pool.calls[0]
    assert call["timeout"].total == 3
    assert call["headers"]["Request-Timeout"] == "3.000"


def test_the_deadline_narrows_the_timeout() -> None:
    pool = FakePool()
    with context.scope(timeout=0.5):
        get_order(pool, timeout=3)(GetOrder("o-1"))
    call = pool.calls[0]
    assert 0 < call["timeout"].total <= 0.5
    assert 0 < float(call["headers"]["Request-Timeout"]) <= 0.5


def test_an_expired_deadline_fails_without_sending() -> None:
    pool = FakePool()
    with context.scope(timeout=0), pytest.raises(errors.DeadlineExceeded):
        get_order(pool)(GetOrder("o-1"))
    assert pool.calls == []


def test_problem_responses_become_the_original_error() -> None:
    pool = FakePool(problem(400, {"status": 400, "code": "INVALID_ARGUMENT", "detail": "bad",
                                  "errors": [{"field": "order_id", "message": "too long"}]}))
    with pytest.raises(errors.InvalidArgument) as caught:
        get_order(pool)(GetOrder("o-1"))
    assert caught.value.message == "bad"
    assert caught.value.fields == (errors.FieldViolation("order_id", "too long"),)


def test_retry_after_is_read_back() -> None:
    pool = FakePool(problem(503, {"status": 503, "code": "UNAVAILABLE", "detail": "busy"},
                            **{"Retry-After": "7"}))
    with pytest.raises(errors.Unavailable) as caught:
        get_order(pool)(GetOrder("o-1"))
    assert caught.value.retry_after == 7


def test_non_problem_errors_map_by_status() -> None:
    html = HTTPHeaderDict({"Content-Type": "text/html"})
    pool = FakePool(FakeResponse(502, b"<html>bad gateway</html>", html))
    with pytest.raises(errors.Unavailable, match="HTTP 502 Bad Gateway"):
        get_order(pool)(GetOrder("o-1"))


def test_a_malformed_success_body_is_an_internal_error() -> None:
    pool = FakePool(FakeResponse(200, b'{"order_id": 5}'))
    with pytest.raises(errors.Internal, match="unexpected response body"):
        get_order(pool)(GetOrder("o-1"))


@pytest.mark.parametrize(("raised", "expected"), [
    (NewConnectionError(None, "Connection refused"), errors.Unavailable),  # type: ignore[arg-type]
    (MaxRetryError(None, "/", NewConnectionError(None, "refused")), errors.Unavailable),  # type: ignore[arg-type]
    (ConnectTimeoutError("connect timed out"), errors.DeadlineExceeded),
    (ReadTimeoutError(None, "/", "read timed out"), errors.DeadlineExceeded),  # type: ignore[arg-type]
    (ProtocolError("Connection aborted.", ConnectionResetError()), errors.Unavailable),
])
def test_transport_failures_map_to_kit_errors(raised: Exception, expected: type[errors.KitError]) -> None:
    with pytest.raises(expected) as caught:
        get_order(FakePool(error=raised))(GetOrder("o-1"))
    assert "orders.local:3000" in caught.value.message


def test_rejects_urls_that_are_not_http() -> None:
    with pytest.raises(ValueError, match="not an http"):
        HTTPClient("GET", "orders.local/orders", no_body, empty_decoder)


def test_close_clears_only_a_pool_it_created() -> None:
    shared = FakePool()
    get_order(shared).close()
    assert not shared.cleared
    own = HTTPClient("GET", "http://h/x", no_body, empty_decoder)
    own._pool.connection_from_url("http://h/x")
    own.close()
    assert len(own._pool.pools) == 0
