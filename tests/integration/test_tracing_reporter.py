"""The Zipkin reporter against real HTTP collectors: delivery, a dead one, a slow one."""

import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from kit.testing.net import free_port
from kit.testing.tracing import SpanSchema, ZipkinCollector
from kit.tracing import SpanKind
from kit.zipkin import HTTPReporter, ZipkinTracer, tracer_from_env

pytestmark = pytest.mark.integration

SCHEMA_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "zipkin2-api.yaml"


def dropped(registry: CollectorRegistry) -> float:
    return sum(registry.get_sample_value("kit_tracing_spans_dropped_total", {"reason": reason}) or 0.0
               for reason in ("queue_full", "send_failed", "closed"))


def serve_requests(tracer: ZipkinTracer, count: int) -> None:
    for i in range(count):
        with tracer.span("GET /orders/<order_id>", SpanKind.SERVER, headers={}) as server:
            server.tag("http.status_code", "200")
            with tracer.span("eventstore.EventStore/GetEvents", SpanKind.CLIENT) as client:
                client.remote_endpoint(service_name="eventstoresvc", ip="127.0.0.1", port=50051)
                client.tag("request", str(i))


def test_batches_reach_a_real_collector_as_valid_zipkin_json():
    assert SCHEMA_FILE.is_file(), f"Zipkin's API file is missing at {SCHEMA_FILE} (shared/ beside the repo)"
    schema = SpanSchema(SCHEMA_FILE)
    with ZipkinCollector() as collector:
        reporter = HTTPReporter(collector.url, batch_size=5, flush_interval=0.05,
                                registry=CollectorRegistry())
        tracer = ZipkinTracer("ordersvc", reporter, port=3000)
        serve_requests(tracer, 10)
        spans = collector.wait_for_spans(20)
        assert reporter.close(timeout=5)
    assert len(spans) == 20
    assert len(collector.batches) >= 4
    assert all(len(batch) <= 5 for batch in collector.batches)
    for batch in collector.batches:
        schema.validate_list(batch)
    servers = {s["id"]: s for s in spans if s["kind"] == "SERVER"}
    clients = [s for s in spans if s["kind"] == "CLIENT"]
    assert len(servers) == len(clients) == 10
    for client in clients:
        parent = servers[client["parentId"]]
        assert client["traceId"] == parent["traceId"]
    assert reporter.dropped == 0


def test_tracer_from_env_reports_to_the_configured_url():
    with ZipkinCollector() as collector:
        tracer = tracer_from_env("workers", environ={"EVENTSTREAM_ZIPKIN_URL": collector.url})
        assert isinstance(tracer, ZipkinTracer)
        with tracer.span("consume ORDERS.created", SpanKind.CONSUMER, headers={}):
            pass
        assert tracer.reporter.close(timeout=5)  # type: ignore[attr-defined]
        (span,) = collector.wait_for_spans(1)
    assert span["localEndpoint"]["serviceName"] == "workers"


def test_an_unreachable_zipkin_neither_fails_nor_slows_requests():
    registry = CollectorRegistry()
    dead = f"http://127.0.0.1:{free_port()}"
    reporter = HTTPReporter(dead, queue_size=50, batch_size=10, flush_interval=0.01, timeout=0.5,
                            registry=registry)
    tracer = ZipkinTracer("ordersvc", reporter)
    started = time.monotonic()
    serve_requests(tracer, 100)
    elapsed = time.monotonic() - started
    reporter.flush(timeout=5)
    assert elapsed < 1.0
    assert reporter.sent == 0
    assert reporter.dropped == 200
    assert dropped(registry) == 200
    reporter.close(timeout=5)


def test_a_slow_zipkin_neither_blocks_requests_nor_grows_memory():
    registry = CollectorRegistry()
    with ZipkinCollector(delay=5.0) as collector:
        reporter = HTTPReporter(collector.url, queue_size=20, batch_size=5, flush_interval=0.01,
                                timeout=0.3, registry=registry)
        tracer = ZipkinTracer("ordersvc", reporter)
        started = time.monotonic()
        serve_requests(tracer, 200)
        elapsed = time.monotonic() - started
        # Waiting on the collector even once per batch would take seconds (its 0.3 s timeout, its
        # 5 s delay); 200 requests that never wait finish far inside this generous bound.
        assert elapsed < 3.0
        assert reporter.dropped >= 400 - 20 - 5
        assert dropped(registry) == reporter.dropped
        assert reporter.sent == 0
        reporter.close(timeout=0.5)
