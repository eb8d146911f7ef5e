"""One order placed on the whole system (`eventstream up`) is one trace across every service.

The system reports to a real HTTP span intake (``ZipkinCollector``); every span it receives is
validated against the official Zipkin v2 schema. The order's trace must hold SERVER, CLIENT,
PRODUCER and CONSUMER spans, have exactly one root, no span whose parent is missing, and every
CONSUMER span must be the child of the PRODUCER span of the relay's publish of its event.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from e2e_system import System

from kit.testing.tracing import SpanSchema, ZipkinCollector
from kit.testing.wait import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SCHEMA_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "zipkin2-api.yaml"
SERVICES = {"ordersvc", "eventstoresvc", "payment-worker", "projection-worker", "review-worker",
            "saga-worker"}
EVENTS = 3  # created, paymentdebited, approved


def trace_of(collector: ZipkinCollector, trace_id: str) -> list[dict[str, Any]]:
    return [span for span in collector.spans() if span["traceId"] == trace_id]


def consumed_everywhere(spans: list[dict[str, Any]]) -> bool:
    """Whether the approval has been consumed by every worker that listens to it."""
    consumers = Counter(span["name"] for span in spans if span.get("kind") == "CONSUMER")
    return consumers["ORDERS.approved"] >= 2  # the projection and the saga


def test_one_order_is_one_trace_with_producer_spans_and_no_orphans(tmp_path: Path) -> None:
    with ZipkinCollector() as collector:
        system = System(tmp_path / "system", zipkin_url=collector.url)
        system.start()
        try:
            order = system.place(2)  # an order that is approved
            assert order.kind == "approve"
            system.wait_final([order])
            events = system.events(order.order_id)
            assert [e["event_type"] for e in events] == order.expected_events
            created = next(span for span in collector.spans() if span.get("kind") == "SERVER"
                           and span["localEndpoint"]["serviceName"] == "ordersvc"
                           and span.get("tags", {}).get("http.method") == "POST")
            trace_id = created["traceId"]
            eventually(lambda: consumed_everywhere(trace_of(collector, trace_id)), timeout=30,
                       describe=lambda: "the approval's CONSUMER spans reached the collector")
        finally:
            assert system.stop() == 0, system.log()
    spans = trace_of(collector, trace_id)
    SpanSchema(SCHEMA_FILE).validate_list(collector.spans())

    by_id = {span["id"]: span for span in spans}
    assert len(by_id) == len(spans), "a span id is reported twice"
    roots = [span for span in spans if "parentId" not in span]
    assert roots == [created], f"the trace has roots {roots}"
    orphans = [span for span in spans if "parentId" in span and span["parentId"] not in by_id]
    assert not orphans, f"spans whose parent is not in the trace: {orphans}"

    assert {span["kind"] for span in spans} == {"SERVER", "CLIENT", "PRODUCER", "CONSUMER"}
    assert {span["localEndpoint"]["serviceName"] for span in spans} == SERVICES

    producers = [span for span in spans if span["kind"] == "PRODUCER"]
    assert sorted(span["name"] for span in producers) == sorted(order.expected_events)
    assert {span["localEndpoint"]["serviceName"] for span in producers} == {"eventstoresvc"}
    for producer in producers:  # the publish is a child of the append that stored the event
        parent = by_id[producer["parentId"]]
        assert (parent["kind"], parent["localEndpoint"]["serviceName"]) == ("SERVER", "eventstoresvc")
    consumers = [span for span in spans if span["kind"] == "CONSUMER"]
    assert consumers
    for consumer in consumers:
        parent = by_id[consumer["parentId"]]
        assert parent["kind"] == "PRODUCER" and parent["name"] == consumer["name"], consumer
    assert len(producers) == EVENTS
