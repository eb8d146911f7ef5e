"""Prometheus instrumentation as endpoint middleware, and ways to expose ``/metrics``.

``instrument(service, method)`` counts calls in ``<service>_requests_total{method,outcome}``
(outcome ``ok`` or the lower-case error code name: ``not_found``, ``internal``, ...) and times them
in the ``<service>_request_duration_seconds{method}`` histogram. The metric objects are created once
per service and registry (Prometheus refuses a second registration) and the labelled children once
per middleware, so a call costs an ``inc`` and an ``observe``.

HTTP services mount ``metrics_wsgi_app()`` or call ``add_metrics_route(app)``; gRPC-only and worker
processes call ``start_metrics_server(port)``.
"""

from __future__ import annotations

import re
import threading
import time
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    make_wsgi_app,
    start_http_server,
)

from kit import errors
from kit.endpoint import Endpoint, Middleware
from kit.registries import per_registry

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer
    from wsgiref.types import WSGIApplication

    from flask import Flask

Req = TypeVar("Req")
Resp = TypeVar("Resp")

# Finer than Prometheus' defaults at the low end: in-process endpoints answer in milliseconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class ServiceMetrics(NamedTuple):
    """The request counter and latency histogram of one service."""

    requests: Counter
    duration: Histogram


@per_registry
def _services(registry: CollectorRegistry) -> dict[str, ServiceMetrics]:
    """The metrics of every service registered in ``registry``, by metric prefix."""
    return {}


_services_lock = threading.Lock()


def metric_prefix(service: str) -> str:
    """The metric name prefix for a service name (``order-svc`` -> ``order_svc``)."""
    prefix = re.sub(r"[^a-zA-Z0-9_]", "_", service)
    if not _NAME.fullmatch(prefix):
        raise ValueError(f"service name {service!r} cannot prefix a Prometheus metric name")
    return prefix


def service_metrics(service: str, *, registry: CollectorRegistry = REGISTRY) -> ServiceMetrics:
    """The metrics of ``service`` in ``registry``, created on first use."""
    prefix = metric_prefix(service)
    with _services_lock:
        services = _services(registry)
        metrics = services.get(prefix)
        if metrics is None:
            metrics = services[prefix] = ServiceMetrics(
                Counter(f"{prefix}_requests_total", f"Requests handled by {service}, by outcome.",
                        ["method", "outcome"], registry=registry),
                Histogram(f"{prefix}_request_duration_seconds",
                          f"Time {service} took to handle a request.", ["method"],
                          buckets=BUCKETS, registry=registry),
            )
        return metrics


def outcome(exc: BaseException | None) -> str:
    """The ``outcome`` label of a call: ``ok`` or the lower-case error code name."""
    if exc is None:
        return "ok"
    if isinstance(exc, errors.KitError):
        return exc.code.name.lower()
    return errors.Code.INTERNAL.name.lower()


def instrument(
    service: str, method: str, *, registry: CollectorRegistry = REGISTRY
) -> Middleware[Req, Resp]:
    """Middleware counting and timing calls of ``method`` in the metrics of ``service``."""
    metrics = service_metrics(service, registry=registry)
    ok = metrics.requests.labels(method=method, outcome="ok")
    failed: dict[str, Counter] = {}
    observe = metrics.duration.labels(method=method).observe
    perf_counter = time.perf_counter

    def failure(exc: BaseException) -> Counter:
        label = outcome(exc)
        child = failed.get(label)
        if child is None:
            child = failed[label] = metrics.requests.labels(method=method, outcome=label)
        return child

    def middleware(endpoint: Endpoint[Req, Resp]) -> Endpoint[Req, Resp]:
        def instrumented(request: Req) -> Resp:
            start = perf_counter()
            try:
                response = endpoint(request)
            except Exception as exc:
                observe(perf_counter() - start)
                failure(exc).inc()
                raise
            observe(perf_counter() - start)
            ok.inc()
            return response

        return instrumented

    return middleware


def metrics_wsgi_app(registry: CollectorRegistry = REGISTRY) -> WSGIApplication:
    """A WSGI app serving the registry in the Prometheus text format (mount it at ``/metrics``)."""
    app: WSGIApplication = make_wsgi_app(registry)
    return app


def add_metrics_route(app: Flask, path: str = "/metrics", *,
                      registry: CollectorRegistry = REGISTRY) -> None:
    """Serve the registry at ``path`` of a Flask app."""

    def metrics() -> tuple[bytes, int, dict[str, str]]:
        return generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}

    app.add_url_rule(path, endpoint="kit_metrics", view_func=metrics, methods=["GET"])


def start_metrics_server(port: int, addr: str = "0.0.0.0", *,
                         registry: CollectorRegistry = REGISTRY) -> WSGIServer:
    """Serve ``/metrics`` on ``addr:port`` from a daemon thread; ``shutdown()`` the result to stop.

    For processes without an HTTP server of their own: gRPC-only services and workers.
    """
    server, _thread = start_http_server(port, addr, registry=registry)
    return server
