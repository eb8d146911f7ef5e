"""The background reporter with an in-memory transport: batching, dropping, flushing."""

import json
import threading

from prometheus_client import CollectorRegistry

from kit.testing.tracing import RecordingTracer
from kit.tracing import SpanKind
from kit.zipkin import HTTPReporter, ZipkinTracer


class MemoryTransport:
    def __init__(self, *, fail: bool = False, gate: threading.Event | None = None) -> None:
        self.batches: list[list[dict]] = []
        self.fail = fail
        self.gate = gate
        self.entered = threading.Event()

    def __call__(self, payload: bytes) -> None:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail:
            raise ConnectionRefusedError("nobody listens")
        self.batches.append(json.loads(payload))


def finished_spans(count: int):
    source = RecordingTracer("svc")
    for i in range(count):
        with source.span(f"op{i}", SpanKind.SERVER):
            pass
    return source.spans


def dropped(registry: CollectorRegistry, reason: str) -> float:
    return registry.get_sample_value("kit_tracing_spans_dropped_total", {"reason": reason}) or 0.0


def test_spans_are_delivered_in_batches():
    transport = MemoryTransport()
    reporter = HTTPReporter(transport=transport, batch_size=4, flush_interval=10,
                            registry=CollectorRegistry())
    for span in finished_spans(10):
        reporter.report(span)
    assert reporter.close(timeout=5)
    sizes = [len(batch) for batch in transport.batches]
    assert sum(sizes) == 10
    assert max(sizes) <= 4
    assert [span["name"] for batch in transport.batches for span in batch] == [f"op{i}" for i in range(10)]
    assert reporter.sent == 10
    assert reporter.dropped == 0


def test_a_full_queue_drops_and_counts_without_blocking():
    registry = CollectorRegistry()
    gate = threading.Event()
    transport = MemoryTransport(gate=gate)
    reporter = HTTPReporter(transport=transport, queue_size=5, batch_size=1, flush_interval=0.01,
                            registry=registry)
    spans = finished_spans(12)
    reporter.report(spans[0])
    assert transport.entered.wait(5)  # the sender is now stuck on the first span
    for span in spans[1:]:
        reporter.report(span)
    assert reporter.dropped == 6
    assert dropped(registry, "queue_full") == 6
    gate.set()
    assert reporter.close(timeout=5)
    assert reporter.sent == 6


def test_a_failing_transport_counts_dropped_spans():
    registry = CollectorRegistry()
    reporter = HTTPReporter(transport=MemoryTransport(fail=True), registry=registry)
    tracer = ZipkinTracer("svc", reporter)
    for _ in range(3):
        with tracer.span("op", SpanKind.SERVER):
            pass
    reporter.flush(timeout=5)
    assert reporter.dropped == 3
    assert dropped(registry, "send_failed") == 3
    reporter.close(timeout=5)


def test_spans_after_close_are_dropped():
    registry = CollectorRegistry()
    reporter = HTTPReporter(transport=MemoryTransport(), registry=registry)
    reporter.close(timeout=5)
    reporter.report(finished_spans(1)[0])
    assert dropped(registry, "closed") == 1


def test_flush_delivers_without_waiting_for_the_interval():
    transport = MemoryTransport()
    reporter = HTTPReporter(transport=transport, flush_interval=60, registry=CollectorRegistry())
    for span in finished_spans(3):
        reporter.report(span)
    assert reporter.flush(timeout=5)
    assert sum(len(batch) for batch in transport.batches) == 3
    reporter.close(timeout=5)


def test_a_reporter_needs_somewhere_to_send():
    try:
        HTTPReporter()
    except ValueError as exc:
        assert "zipkin_url" in str(exc)
    else:
        raise AssertionError("HTTPReporter() without a destination was accepted")


def test_a_span_json_cannot_hold_is_dropped_and_counted_the_rest_delivered():
    registry = CollectorRegistry()
    transport = MemoryTransport()
    reporter = HTTPReporter(transport=transport, flush_interval=3600, registry=registry)
    good, bad = finished_spans(2)
    bad.tags["weird"] = object()  # type: ignore[assignment]  # bypasses tag(), which stringifies
    reporter.report(good)
    reporter.report(bad)
    assert reporter.flush(5)
    assert [[span["name"] for span in batch] for batch in transport.batches] == [[good.name]]
    assert reporter.dropped == 1
    assert dropped(registry, "send_failed") == 1
    reporter.close()
