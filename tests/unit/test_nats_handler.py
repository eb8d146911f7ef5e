"""kit.nats.handler: how a message's fate follows from what decode and the endpoint did."""

from __future__ import annotations

import pytest

from kit.context import current
from kit.errors import Conflict, InvalidArgument, NotFound, Unavailable
from kit.nats.handler import ACKED, Handler, Verdict
from kit.nats.message import Message, lower_headers
from kit.testing.tracing import RecordingTracer
from kit.tracing import SpanKind

TRACE = "463ac35c9f6413ad48485a3953bb6124"
PARENT = "a2fb4a1d1a96d312"


def message(data: bytes = b"{}", **headers: str) -> Message:
    return Message("ORDERS.created", data, lower_headers(headers), stream_sequence=7, num_delivered=2)


def handler(endpoint, decode=lambda m: m.data, tracer=None, observed=None):
    kwargs = {} if tracer is None else {"tracer": tracer}
    return Handler(endpoint, decode, stream="ORDERS", consumer="payment",
                   observe=None if observed is None else observed.append, **kwargs)


def test_success_is_acked_and_timed() -> None:
    seen: list[bytes] = []
    observed: list[float] = []
    outcome = handler(seen.append, observed=observed)(message(b"hello"))
    assert outcome is ACKED
    assert seen == [b"hello"]
    assert len(observed) == 1 and observed[0] >= 0


def test_undecodable_message_is_dead_lettered_without_calling_the_endpoint() -> None:
    calls: list[object] = []

    def decode(m: Message) -> object:
        raise ValueError("not JSON")

    outcome = handler(calls.append, decode=decode)(message())
    assert outcome.verdict is Verdict.DEAD_LETTER
    assert outcome.reason == "undecodable message: ValueError: not JSON"
    assert calls == []


@pytest.mark.parametrize("error", [InvalidArgument("amount must be positive"), NotFound("no order"),
                                   Conflict("version 3 exists")])
def test_non_retryable_kit_errors_are_dead_lettered(error: Exception) -> None:
    def endpoint(request: object) -> None:
        raise error

    outcome = handler(endpoint)(message())
    assert outcome.verdict is Verdict.DEAD_LETTER
    assert str(error) in outcome.reason


def test_retryable_kit_errors_are_retried_with_their_retry_after() -> None:
    def endpoint(request: object) -> None:
        raise Unavailable("database down", retry_after=3.0)

    outcome = handler(endpoint)(message())
    assert outcome.verdict is Verdict.RETRY
    assert outcome.retry_after == 3.0
    assert outcome.reason == "UNAVAILABLE: database down"


def test_unexpected_exceptions_are_retried() -> None:
    def endpoint(request: object) -> None:
        raise ConnectionResetError("peer reset")

    outcome = handler(endpoint)(message())
    assert outcome.verdict is Verdict.RETRY
    assert outcome.reason == "ConnectionResetError: peer reset"
    assert outcome.retry_after is None


def test_endpoint_runs_in_a_scope_carrying_the_headers_and_a_consumer_span() -> None:
    tracer = RecordingTracer()
    seen = {}

    def endpoint(request: object) -> None:
        ctx = current()
        seen["event-id"] = ctx.metadata.get("event-id")
        seen["trace"] = ctx.trace

    outcome = handler(endpoint, tracer=tracer)(
        message(**{"Event-Id": "e-1", "X-B3-TraceId": TRACE, "X-B3-SpanId": PARENT, "X-B3-Sampled": "1"}))
    assert outcome is ACKED
    [span] = tracer.spans
    assert span.kind is SpanKind.CONSUMER
    assert span.name == "ORDERS.created"
    assert span.trace_id == TRACE and span.parent_id == PARENT
    assert span.tags["messaging.subject"] == "ORDERS.created"
    assert span.tags["messaging.stream"] == "ORDERS"
    assert span.tags["messaging.delivery_count"] == "2"
    assert span.tags["messaging.stream_sequence"] == "7"
    assert "error" not in span.tags
    assert seen["event-id"] == "e-1"
    assert seen["trace"] is not None and seen["trace"].span_id == span.span_id
    assert current().trace is None  # the scope ended with the message


def test_failures_are_tagged_on_the_span() -> None:
    tracer = RecordingTracer()

    def endpoint(request: object) -> None:
        raise InvalidArgument("bad amount")

    handler(endpoint, tracer=tracer)(message())
    [span] = tracer.spans
    assert span.tags["error"] == "INVALID_ARGUMENT: bad amount"
