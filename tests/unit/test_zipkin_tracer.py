"""The Zipkin tracer: parent/child relationships, context, sampling, errors."""

import time

import pytest

from kit import context, errors
from kit.context import TraceContext
from kit.testing.tracing import RecordingTracer, SpanCollector
from kit.tracing import SpanKind, Tracer
from kit.zipkin import ZipkinTracer, b3

TRACE = "463ac35c9f6413ad48485a3953bb6124"
SPAN = "a2fb4a1d1a96d312"


def test_a_zipkin_tracer_is_a_kit_tracer():
    tracer: Tracer = ZipkinTracer("svc", SpanCollector())
    with tracer.span("op", SpanKind.SERVER) as span:
        span.tag("k", "v")
        span.remote_endpoint(service_name="peer", ip="127.0.0.1", port=1)


def test_root_server_span_starts_a_trace_and_names_the_current_context():
    tracer = RecordingTracer("OrderSvc")
    with tracer.span("GET /orders/<order_id>", SpanKind.SERVER, headers={}) as span:
        assert context.current().trace == span.context
    assert context.current().trace is None
    (recorded,) = tracer.spans
    assert recorded is span
    assert recorded.parent_id is None
    assert len(recorded.trace_id) == 32
    assert len(recorded.span_id) == 16
    assert recorded.local.service_name == "ordersvc"
    assert recorded.kind is SpanKind.SERVER


def test_server_span_continues_the_incoming_trace_as_a_child():
    tracer = RecordingTracer()
    headers = {"X-B3-TraceId": TRACE, "X-B3-SpanId": SPAN, "X-B3-Sampled": "1"}
    with tracer.span("rpc", SpanKind.SERVER, headers=headers) as span:
        pass
    assert (span.trace_id, span.parent_id) == (TRACE, SPAN)
    assert span.span_id != SPAN


def test_client_span_is_a_child_of_the_current_span_and_is_injected():
    tracer = RecordingTracer()
    outgoing: dict[str, str] = {}
    with tracer.span("server", SpanKind.SERVER) as server:
        with tracer.span("client", SpanKind.CLIENT) as client:
            tracer.inject(outgoing)
        assert context.current().trace == server.context
    assert client.trace_id == server.trace_id
    assert client.parent_id == server.span_id
    assert b3.extract(outgoing).context == client.context
    assert [s.name for s in tracer.spans] == ["client", "server"]


def test_producer_to_consumer_through_message_headers():
    tracer = RecordingTracer()
    message_headers: dict[str, str] = {"Nats-Msg-Id": "event-1"}
    with tracer.span("publish ORDERS.created", SpanKind.PRODUCER) as producer:
        tracer.inject(message_headers)
    with tracer.span("consume ORDERS.created", SpanKind.CONSUMER, headers=message_headers) as consumer:
        pass
    assert consumer.trace_id == producer.trace_id
    assert consumer.parent_id == producer.span_id


def test_inject_outside_any_span_writes_nothing():
    headers: dict[str, str] = {}
    RecordingTracer().inject(headers)
    assert headers == {}


@pytest.mark.parametrize("headers", [
    {"x-b3-traceid": "not-hex", "x-b3-spanid": SPAN},
    {"b3": "%%%"},
    {"x-b3-traceid": TRACE},
])
def test_malformed_incoming_headers_start_a_new_trace(headers):
    tracer = RecordingTracer()
    with tracer.span("op", SpanKind.SERVER, headers=headers) as span:
        pass
    assert span.parent_id is None
    assert span.trace_id != TRACE
    assert tracer.spans == [span]


@pytest.mark.parametrize("headers", [
    {"X-B3-TraceId": TRACE, "X-B3-SpanId": SPAN, "X-B3-Sampled": "0"},
    {"b3": f"{TRACE}-{SPAN}-0"},
])
def test_an_unsampled_caller_is_honoured_and_the_decision_propagates(headers):
    tracer = RecordingTracer()
    downstream: dict[str, str] = {}
    with tracer.span("op", SpanKind.SERVER, headers=headers) as span, \
            tracer.span("call", SpanKind.CLIENT):
        tracer.inject(downstream)
    assert tracer.spans == []
    assert span.trace_id == TRACE
    assert downstream["x-b3-traceid"] == TRACE
    assert downstream["x-b3-sampled"] == "0"


def test_a_bare_b3_0_starts_an_unsampled_trace():
    tracer = RecordingTracer()
    downstream: dict[str, str] = {}
    with tracer.span("op", SpanKind.SERVER, headers={"b3": "0"}):
        tracer.inject(downstream)
    assert tracer.spans == []
    assert downstream["x-b3-sampled"] == "0"
    assert len(downstream["x-b3-traceid"]) == 32


def test_debug_forces_reporting_even_at_zero_sampling():
    tracer = RecordingTracer(sample_rate=0.0)
    with tracer.span("op", SpanKind.SERVER, headers={"b3": "d"}):
        pass
    (span,) = tracer.spans
    assert span.context.debug


def test_sample_rate_zero_reports_nothing_but_still_propagates_ids():
    tracer = RecordingTracer(sample_rate=0.0)
    headers: dict[str, str] = {}
    with tracer.span("op", SpanKind.SERVER), tracer.span("call", SpanKind.CLIENT):
        tracer.inject(headers)
    assert tracer.spans == []
    assert headers["x-b3-sampled"] == "0"


def test_sampling_is_decided_at_the_root_and_inherited():
    tracer = RecordingTracer(sample_rate=0.5)
    for _ in range(50):
        with tracer.span("root", SpanKind.SERVER) as root, tracer.span("child", SpanKind.CLIENT) as child:
            pass
        assert child.sampled == root.sampled
    assert 0 < len(tracer.spans) < 100
    assert len(tracer.spans) % 2 == 0


def test_invalid_sample_rate_is_refused():
    with pytest.raises(ValueError, match="sample_rate"):
        ZipkinTracer("svc", SpanCollector(), sample_rate=1.5)


def test_an_error_is_tagged_and_reraised():
    tracer = RecordingTracer()
    with pytest.raises(errors.NotFound), tracer.span("op", SpanKind.SERVER):
        raise errors.NotFound("order 42 not found")
    with pytest.raises(RuntimeError), tracer.span("op2", SpanKind.CLIENT):
        raise RuntimeError("boom")
    assert tracer.collector.named("op").tags["error"] == "NOT_FOUND: order 42 not found"
    assert tracer.collector.named("op2").tags["error"] == "boom"
    assert context.current().trace is None


def test_an_error_tag_set_by_the_adapter_is_kept():
    tracer = RecordingTracer()
    with pytest.raises(errors.Unavailable), tracer.span("op", SpanKind.CLIENT) as span:
        span.tag("error", "503")
        raise errors.Unavailable("down")
    assert tracer.spans[0].tags["error"] == "503"


def test_timestamps_are_epoch_microseconds_and_durations_positive():
    tracer = RecordingTracer()
    before = time.time_ns() // 1000
    with tracer.span("op", SpanKind.SERVER) as span:
        time.sleep(0.002)
    after = time.time_ns() // 1000
    assert before <= span.timestamp_us <= after
    assert 2000 <= span.duration_us <= after - before + 1


def test_a_server_span_without_headers_joins_the_current_trace():
    tracer = RecordingTracer()
    with context.scope(trace=TraceContext(TRACE, SPAN, None, True)), \
            tracer.span("local", SpanKind.SERVER) as span:
        pass
    assert (span.trace_id, span.parent_id) == (TRACE, SPAN)


def test_a_failing_reporter_never_fails_the_request():
    class Exploding:
        def report(self, span):
            raise RuntimeError("reporter bug")

    tracer = ZipkinTracer("svc", Exploding())
    with tracer.span("op", SpanKind.SERVER) as span:
        result = "handled"
    assert result == "handled"
    assert span.duration_us >= 1
