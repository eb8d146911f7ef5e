"""The real Zipkin server of kit.testing: it starts, takes the kit reporter's spans, answers its
query API with them, and stops without leaving a process or a port behind."""

import pytest
from prometheus_client import CollectorRegistry

from kit.testing.net import free_port
from kit.testing.requires import unavailable
from kit.testing.wait import eventually
from kit.testing.zipkin import ZipkinServer, zipkin_missing
from kit.tracing import SpanKind
from kit.zipkin import HTTPReporter, ZipkinTracer
from kit.zipkin.server import healthy

pytestmark = pytest.mark.integration


def test_spans_reported_by_kit_come_back_from_the_query_api_and_stop_ends_the_server():
    reason = zipkin_missing()
    if reason:
        unavailable(reason)
    server = ZipkinServer(port=free_port())
    with server:
        assert server.running and healthy(server.url)
        reporter = HTTPReporter(server.url, flush_interval=0.05, registry=CollectorRegistry())
        tracer = ZipkinTracer("fixture-svc", reporter, port=3000)
        with tracer.span("GET /things", SpanKind.SERVER, headers={}) as root, \
                tracer.span("things.Get", SpanKind.CLIENT) as child:
            child.remote_endpoint(service_name="thing-store", ip="127.0.0.1", port=50051)
        assert reporter.close(timeout=5)
        trace_id = root.trace_id

        trace = eventually(lambda: len(server.trace(trace_id)) == 2 and server.trace(trace_id))
        kinds = {span["kind"]: span for span in trace}
        assert kinds["CLIENT"]["parentId"] == kinds["SERVER"]["id"]
        assert server.services() == ["fixture-svc"]
        assert [{span["id"] for span in t} for t in server.traces("fixture-svc")] == [
            {span["id"] for span in trace}]
        assert server.trace("f" * 32) == []  # a trace it never saw
        assert server.trace_url(trace_id) == f"{server.url}/zipkin/traces/{trace_id}"
    assert not server.running
    assert not healthy(server.url)
    assert not server.root.exists()
