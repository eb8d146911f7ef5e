"""The metrics listener for processes without an HTTP server (gRPC-only services, workers)."""

import pytest
import urllib3
from prometheus_client import CollectorRegistry

from kit import errors
from kit.middleware.metrics import instrument, start_metrics_server
from kit.testing.net import free_port

pytestmark = pytest.mark.integration


def test_metrics_are_served_over_http():
    registry = CollectorRegistry()

    def debit(request: str) -> str:
        if request == "broke":
            raise errors.FailedPrecondition("insufficient funds")
        return "ok"

    endpoint = instrument("paymentworker", "Debit", registry=registry)(debit)
    endpoint("rich")
    with pytest.raises(errors.FailedPrecondition):
        endpoint("broke")
    port = free_port()
    server = start_metrics_server(port, "127.0.0.1", registry=registry)
    try:
        response = urllib3.request("GET", f"http://127.0.0.1:{port}/metrics", timeout=5, retries=False)
    finally:
        server.shutdown()
        server.server_close()
    assert response.status == 200
    text = response.data.decode()
    assert 'paymentworker_requests_total{method="Debit",outcome="ok"} 1.0' in text
    assert 'paymentworker_requests_total{method="Debit",outcome="failed_precondition"} 1.0' in text
    assert 'paymentworker_request_duration_seconds_count{method="Debit"} 2.0' in text
