"""The workers' endpoints: each service's ``handle`` as a kit endpoint, with logging and metrics.

Middleware order, outermost first: logging, then metrics, so a log line's duration covers what the
metrics see. Metrics are ``worker_<name>_requests_total{method="handle",outcome}`` and
``worker_<name>_request_duration_seconds``; the consumer adds its own (``kit.nats.metrics``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kit.endpoint import Endpoint, Middleware
from kit.middleware.observed import observed
from orders.ports import RecordedEvent

LOG = logging.getLogger("workers")


def make_endpoint(handle: Callable[[RecordedEvent], object]) -> Endpoint[RecordedEvent, object]:
    """``handle`` as an endpoint (what the JetStream consumer calls)."""

    def endpoint(event: RecordedEvent) -> object:
        return handle(event)

    return endpoint


def instrumented(worker: str, endpoint: Endpoint[RecordedEvent, object]) -> Endpoint[RecordedEvent, object]:
    """``endpoint`` wrapped in logging and metrics middleware."""
    middleware: Middleware[RecordedEvent, object] = observed(
        LOG.getChild(worker), f"worker_{worker}", "handle", logged_as=worker)
    return middleware(endpoint)
