"""Prometheus instrumentation middleware and the /metrics exposition helpers."""

import flask
import pytest
from prometheus_client import CollectorRegistry

from kit import errors
from kit.endpoint import chain
from kit.middleware.metrics import add_metrics_route, instrument, metrics_wsgi_app, service_metrics


def echo(request: str) -> str:
    if request == "missing":
        raise errors.NotFound("no such order")
    if request == "bug":
        raise ZeroDivisionError("oops")
    return request


def value(registry, name, **labels):
    return registry.get_sample_value(name, labels)


def test_calls_are_counted_by_outcome_and_timed():
    registry = CollectorRegistry()
    endpoint = instrument("ordersvc", "GetOrder", registry=registry)(echo)
    assert endpoint("a") == "a"
    assert endpoint("b") == "b"
    with pytest.raises(errors.NotFound):
        endpoint("missing")
    with pytest.raises(ZeroDivisionError):
        endpoint("bug")
    assert value(registry, "ordersvc_requests_total", method="GetOrder", outcome="ok") == 2
    assert value(registry, "ordersvc_requests_total", method="GetOrder", outcome="not_found") == 1
    assert value(registry, "ordersvc_requests_total", method="GetOrder", outcome="internal") == 1
    assert value(registry, "ordersvc_request_duration_seconds_count", method="GetOrder") == 4
    assert value(registry, "ordersvc_request_duration_seconds_sum", method="GetOrder") >= 0
    assert value(registry, "ordersvc_request_duration_seconds_bucket", method="GetOrder", le="+Inf") == 4


def test_methods_of_one_service_share_metrics_and_keep_their_labels():
    registry = CollectorRegistry()
    create = instrument("order-svc", "CreateOrder", registry=registry)(echo)
    get = chain(instrument("order-svc", "GetOrder", registry=registry))(echo)
    create("x")
    get("y")
    get("z")
    assert value(registry, "order_svc_requests_total", method="CreateOrder", outcome="ok") == 1
    assert value(registry, "order_svc_requests_total", method="GetOrder", outcome="ok") == 2
    assert service_metrics("order-svc", registry=registry) is service_metrics("order_svc", registry=registry)


def test_kit_error_codes_become_lower_case_outcomes():
    registry = CollectorRegistry()

    def conflict(request: object) -> None:
        raise errors.Conflict("version 3 exists")

    with pytest.raises(errors.Conflict):
        instrument("svc", "Append", registry=registry)(conflict)(None)
    assert value(registry, "svc_requests_total", method="Append", outcome="aborted") == 1


def test_a_service_name_that_cannot_name_a_metric_is_refused():
    with pytest.raises(ValueError, match="Prometheus"):
        instrument("9lives", "m", registry=CollectorRegistry())


def test_the_wsgi_app_exposes_the_registry():
    registry = CollectorRegistry()
    instrument("paymentworker", "Debit", registry=registry)(echo)("x")
    app = metrics_wsgi_app(registry)
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"] = status
        seen["headers"] = dict(headers)

    body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": ""},
                        start_response))
    assert seen["status"].startswith("200")
    assert b'paymentworker_requests_total{method="Debit",outcome="ok"} 1.0' in body


def test_a_flask_app_serves_metrics():
    registry = CollectorRegistry()
    instrument("ordersvc", "ListOrders", registry=registry)(echo)("x")
    app = flask.Flask("test")
    add_metrics_route(app, registry=registry)
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    assert b'ordersvc_request_duration_seconds_count{method="ListOrders"} 1.0' in response.data
