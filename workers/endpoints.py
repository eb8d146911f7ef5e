"""The workers' endpoints: each service's ``handle`` as a kit endpoint, with logging and metrics.

Middleware order, outermost first: logging, then metrics, so a log line's duration covers what the
metrics see. Metrics are ``worker_<name>_requests_total{method="handle",outcome}`` (``handle_batch``
for a batch endpoint, one call per batch) and ``worker_<name>_request_duration_seconds``; the
consumer adds its own (``kit.nats.metrics``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from kit.endpoint import Endpoint, Middleware
from kit.middleware.observed import observed

LOG = logging.getLogger("workers")
Req = TypeVar("Req")


def make_endpoint(handle: Callable[[Req], object]) -> Endpoint[Req, object]:
    """``handle`` as an endpoint (what the JetStream consumer calls)."""

    def endpoint(request: Req) -> object:
        return handle(request)

    return endpoint


def instrumented(worker: str, endpoint: Endpoint[Req, object],
                 method: str = "handle") -> Endpoint[Req, object]:
    """``endpoint`` wrapped in logging and metrics middleware."""
    middleware: Middleware[Req, object] = observed(
        LOG.getChild(worker), f"worker_{worker}", method, logged_as=worker)
    return middleware(endpoint)
