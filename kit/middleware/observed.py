"""The usual pair for a service's endpoints: a log line per call, then Prometheus metrics.

Logging is outermost, so a logged duration covers everything the metrics measure. Every service
of the order system wraps its endpoints with ``observed``; tracing comes from the transports.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from kit.endpoint import Middleware, chain
from kit.middleware.logging import logging_middleware
from kit.middleware.metrics import instrument

Req = TypeVar("Req")
Resp = TypeVar("Resp")


def observed(logger: logging.Logger, service: str, method: str, *,
             logged_as: str | None = None) -> Middleware[Req, Resp]:
    """Log each call to ``logger`` (as ``logged_as``, default ``method``), count and time it in
    ``<service>_requests_total{method,outcome}`` / ``<service>_request_duration_seconds``."""
    return chain(logging_middleware(logger, logged_as or method), instrument(service, method))
