"""One request through HTTP server -> gRPC client -> gRPC server is one trace at a real collector."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import urllib3
from prometheus_client import CollectorRegistry

from kit import context
from kit.endpoint import chain
from kit.grpc import dial, json_client, json_method, service
from kit.http import HTTPServer, create_app, json_response, query_request, register
from kit.middleware.logging import logging_middleware
from kit.middleware.metrics import instrument
from kit.testing.grpc import serve_grpc
from kit.testing.http import serve_wsgi
from kit.testing.logging import capture_logs
from kit.testing.tracing import SpanSchema, ZipkinCollector
from kit.zipkin import HTTPReporter, ZipkinTracer

pytestmark = pytest.mark.integration

SCHEMA_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "zipkin2-api.yaml"
TRACE = "463ac35c9f6413ad48485a3953bb6124"


@dataclass(frozen=True)
class GetOrder:
    order_id: str


@dataclass(frozen=True)
class GetEvents:
    aggregate_id: str


@dataclass(frozen=True)
class Events:
    aggregate_id: str
    count: int


@dataclass(frozen=True)
class Order:
    order_id: str
    events: int


@dataclass
class System:
    base_url: str
    collector: ZipkinCollector
    reporters: list[HTTPReporter]
    seen_by_store: list  # the trace context the event store saw, per call
    registry: CollectorRegistry

    def flush(self) -> None:
        for reporter in self.reporters:
            assert reporter.flush(timeout=5)


@pytest.fixture
def system() -> Iterator[System]:
    registry = CollectorRegistry()
    seen: list = []
    with ZipkinCollector() as collector:
        order_reporter = HTTPReporter(collector.url, flush_interval=0.05, registry=registry)
        store_reporter = HTTPReporter(collector.url, flush_interval=0.05, registry=registry)
        order_tracer = ZipkinTracer("ordersvc", order_reporter, ip="127.0.0.1", port=3000)
        store_tracer = ZipkinTracer("eventstoresvc", store_reporter, ip="127.0.0.1", port=50051)

        def get_events(request: GetEvents) -> Events:
            seen.append(context.current().trace)
            return Events(request.aggregate_id, 3)

        store = service("eventstore.EventStore", {"GetEvents": json_method(get_events, GetEvents)},
                        tracer=store_tracer)
        with serve_grpc(store) as target:
            channel = dial(target)
            fetch_events = json_client(channel, "/eventstore.EventStore/GetEvents", GetEvents, Events,
                                       timeout=5, tracer=order_tracer)

            def get_order(request: GetOrder) -> Order:
                events = fetch_events(GetEvents(request.order_id))
                return Order(request.order_id, events.count)

            # Outermost first: metrics time the whole call, the log line names the span's trace.
            logger = logging.getLogger("test.e2e.ordersvc")
            endpoint = chain(instrument("ordersvc", "GetOrder", registry=registry),
                             logging_middleware(logger, "GetOrder"))(get_order)
            app = create_app(__name__)
            register(app, "/orders/<order_id>",
                     HTTPServer(endpoint, query_request(GetOrder), json_response(), tracer=order_tracer))
            with serve_wsgi(app) as base_url:
                yield System(base_url, collector, [order_reporter, store_reporter], seen, registry)
            channel.close()
        order_reporter.close(timeout=2)
        store_reporter.close(timeout=2)


def test_one_request_is_one_trace_with_correct_parents(system):
    assert SCHEMA_FILE.is_file(), f"Zipkin's API file is missing at {SCHEMA_FILE} (shared/ beside the repo)"
    with capture_logs("test.e2e.ordersvc") as logs:
        response = urllib3.request("GET", f"{system.base_url}/orders/o-42", timeout=10, retries=False)
    assert response.status == 200
    assert response.json() == {"order_id": "o-42", "events": 3}
    system.flush()
    spans = system.collector.wait_for_spans(3)
    assert len(spans) == 3

    schema = SpanSchema(SCHEMA_FILE)
    for batch in system.collector.batches:
        schema.validate_list(batch)
    by_kind_and_service = {(s["kind"], s["localEndpoint"]["serviceName"]): s for s in spans}
    http_server = by_kind_and_service["SERVER", "ordersvc"]
    grpc_client = by_kind_and_service["CLIENT", "ordersvc"]
    grpc_server = by_kind_and_service["SERVER", "eventstoresvc"]

    assert {s["traceId"] for s in spans} == {http_server["traceId"]}
    assert "parentId" not in http_server
    assert grpc_client["parentId"] == http_server["id"]
    assert grpc_server["parentId"] == grpc_client["id"]
    assert len({s["id"] for s in spans}) == 3

    assert http_server["name"] == "/orders/<order_id>"
    assert grpc_client["name"] == grpc_server["name"] == "/eventstore.EventStore/GetEvents"
    assert http_server["tags"]["http.method"] == "GET"
    assert http_server["tags"]["http.status_code"] == "200"
    assert "error" not in http_server["tags"]

    # Children start after and end before their parents (1 ms of slack for clock rounding).
    slack = 1000
    for parent, child in ((http_server, grpc_client), (grpc_client, grpc_server)):
        assert parent["timestamp"] <= child["timestamp"] + slack
        assert child["timestamp"] + child["duration"] <= parent["timestamp"] + parent["duration"] + slack
    assert all(s["duration"] >= 1 for s in spans)

    (store_saw,) = system.seen_by_store
    assert (store_saw.trace_id, store_saw.span_id) == (grpc_server["traceId"], grpc_server["id"])
    (line,) = logs.fields()
    assert line["trace_id"] == http_server["traceId"]
    assert line["outcome"] == "ok"
    assert system.registry.get_sample_value(
        "ordersvc_requests_total", {"method": "GetOrder", "outcome": "ok"}) == 1


def test_an_unsampled_caller_is_honoured_across_both_hops(system):
    headers = {"b3": f"{TRACE}-a2fb4a1d1a96d312-0"}
    response = urllib3.request("GET", f"{system.base_url}/orders/o-7", headers=headers, timeout=10,
                               retries=False)
    assert response.status == 200
    system.flush()
    (store_saw,) = system.seen_by_store
    assert store_saw.trace_id == TRACE
    assert store_saw.sampled is False
    assert system.collector.spans() == []


def test_a_malformed_b3_header_starts_a_new_trace_and_the_request_succeeds(system):
    headers = {"X-B3-TraceId": "zzz", "X-B3-SpanId": "!", "X-B3-Sampled": "maybe"}
    response = urllib3.request("GET", f"{system.base_url}/orders/o-9", headers=headers, timeout=10,
                               retries=False)
    assert response.status == 200
    system.flush()
    spans = system.collector.wait_for_spans(3)
    assert len({s["traceId"] for s in spans}) == 1
    roots = [s for s in spans if "parentId" not in s]
    assert [r["localEndpoint"]["serviceName"] for r in roots] == ["ordersvc"]
