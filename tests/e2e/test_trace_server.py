"""One order placed on the whole system is one trace in a real Zipkin server, and its UI shows it.

`eventstream up --zipkin-url` reports to a Zipkin server started by ``kit.testing.zipkin`` (the
``io.zipkin:zipkin-server`` jar, in-memory storage, on a free loopback port). One order is placed;
then Zipkin's own query API must return exactly one trace for it, spanning the order service, the
event store and every worker, with SERVER, CLIENT, PRODUCER and CONSUMER spans, one root and no
orphan; and headless Chromium (Playwright driving Debian's ``chromium``) must find every service of
the order on the trace's page in the Zipkin UI, saved as ``test-artifacts/trace-ui.png``.

Without the Zipkin jar, Java or Chromium these tests skip with the install command; under CI
(``CI`` set) they fail instead, since ``.ci/run`` installs all three.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from e2e_browser import artifact, headless_chromium
from e2e_system import PlacedOrder, System

from kit.testing.requires import unavailable
from kit.testing.wait import eventually
from kit.testing.zipkin import ZipkinServer, running_zipkin, zipkin_missing

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SERVICES = {"ordersvc", "eventstoresvc", "payment-worker", "projection-worker", "review-worker",
            "saga-worker"}
ROOT_SPAN = "post /api/orders"  # Zipkin stores span names in lower case


@dataclass
class TracedOrder:
    """The order the module placed and its trace as the Zipkin server returned it."""

    order: PlacedOrder
    trace_id: str
    spans: list[dict[str, Any]]


@pytest.fixture(scope="module")
def zipkin() -> Iterator[ZipkinServer]:
    reason = zipkin_missing()
    if reason:
        unavailable(reason)
    with running_zipkin() as server:
        yield server


def service(span: dict[str, Any]) -> str:
    return str(span["localEndpoint"]["serviceName"])


def order_traces(zipkin: ZipkinServer) -> list[list[dict[str, Any]]]:
    """The traces the server holds whose root is an order placement."""
    return zipkin.traces("ordersvc", span_name=ROOT_SPAN)


def complete(spans: list[dict[str, Any]]) -> bool:
    """Whether the approval has been consumed by both workers that listen to it (the last spans)."""
    consumers = Counter(span["name"] for span in spans if span.get("kind") == "CONSUMER")
    return consumers["orders.approved"] >= 2 and {service(span) for span in spans} == SERVICES


@pytest.fixture(scope="module")
def traced(zipkin: ZipkinServer, tmp_path_factory: pytest.TempPathFactory) -> TracedOrder:
    """One `eventstream up` reporting to ``zipkin``, one approved order, the system stopped again."""
    system = System(tmp_path_factory.mktemp("trace-server") / "system", zipkin_url=zipkin.url)
    system.start()
    try:
        order = system.place(2)  # an order that is approved
        assert order.kind == "approve"
        system.wait_final([order])
        found = eventually(lambda: [t for t in order_traces(zipkin) if complete(t)], timeout=60,
                           describe=lambda: f"the order's trace in Zipkin: {order_traces(zipkin)}")
        trace_id = found[0][0]["traceId"]
    finally:
        assert system.stop() == 0, system.log()
    # Stopped: every process has flushed its reporter, so the server holds the whole trace now.
    return TracedOrder(order, trace_id, zipkin.trace(trace_id))


def test_the_server_returns_one_trace_for_the_order_across_every_service(
        zipkin: ZipkinServer, traced: TracedOrder) -> None:
    spans = traced.spans
    assert [trace[0]["traceId"] for trace in order_traces(zipkin)] == [traced.trace_id]
    assert set(zipkin.services()) == SERVICES

    by_id = {span["id"]: span for span in spans}
    assert len(by_id) == len(spans), "a span id is stored twice"
    roots = [span for span in spans if "parentId" not in span]
    assert [(service(span), span["kind"], span["name"]) for span in roots] == [
        ("ordersvc", "SERVER", ROOT_SPAN)], f"the trace has roots {roots}"
    orphans = [span for span in spans if "parentId" in span and span["parentId"] not in by_id]
    assert not orphans, f"spans whose parent is not in the trace: {orphans}"
    assert {span["kind"] for span in spans} == {"SERVER", "CLIENT", "PRODUCER", "CONSUMER"}
    assert {service(span) for span in spans} == SERVICES

    producers = sorted(span["name"] for span in spans if span["kind"] == "PRODUCER")
    assert producers == sorted(event.lower() for event in traced.order.expected_events)
    for consumer in (span for span in spans if span["kind"] == "CONSUMER"):
        parent = by_id[consumer["parentId"]]
        assert parent["kind"] == "PRODUCER" and parent["name"] == consumer["name"], consumer

    # Stitched into that one trace: every other trace the server holds is one of the test's own
    # reads of the order service (its polling of the read model), not a piece of the order.
    others = [span for trace in zipkin.traces(limit=1000) for span in trace
              if span["traceId"] != traced.trace_id]
    assert {(service(span), span["kind"], span["name"].split()[0]) for span in others} <= {
        ("ordersvc", "SERVER", "get")}, others


def test_the_trace_ui_shows_every_service_of_the_order(zipkin: ZipkinServer,
                                                         traced: TracedOrder) -> None:
    screenshot = artifact("trace-ui.png")
    with headless_chromium() as browser:
        # Tall enough for all of the order's span rows, which the UI lists in a scrolling pane.
        page = browser.new_page(viewport={"width": 1400, "height": 1150})
        page.goto(zipkin.trace_url(traced.trace_id))

        def rendered() -> str | None:
            text = page.inner_text("body")
            return text if all(f"{name}: " in text for name in SERVICES) else None

        text = eventually(rendered, timeout=30, interval=0.2,
                          describe=lambda: f"the trace page shows:\n{page.inner_text('body')[:3000]}")
        page.screenshot(path=str(screenshot))

    assert f"ordersvc: {ROOT_SPAN}" in text
    assert re.search(rf"Services\s*{len(SERVICES)}\b", text), text[:500]
    assert re.search(rf"Total Spans\s*{len(traced.spans)}\b", text), text[:500]
    assert traced.trace_id in text
    assert screenshot.stat().st_size > 10_000
