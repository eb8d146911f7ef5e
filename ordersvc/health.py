"""Liveness and readiness: is the process up, and can it reach what it needs to serve.

Readiness runs each named probe (the event store's gRPC health service, a ``SELECT 1`` on the orders
database); a probe passes by returning and fails by raising. A load balancer keeps an instance that
is not ready out of rotation without restarting it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

Probe = Callable[[], None]


class Readiness:
    """Runs named probes; ``check()`` maps each name to ``"ok"`` or why it failed."""

    def __init__(self, probes: Mapping[str, Probe]) -> None:
        self._probes = dict(probes)

    def check(self) -> dict[str, str]:
        """The outcome of every probe."""
        results: dict[str, str] = {}
        for name, probe in self._probes.items():
            try:
                probe()
            except Exception as exc:
                log.info("readiness probe %s failed: %r", name, exc)
                results[name] = f"failing: {type(exc).__name__}"
            else:
                results[name] = "ok"
        return results


def grpc_health_probe(channel: grpc.Channel, service: str = "", *, timeout: float = 1.0) -> Probe:
    """A probe asking a server's ``grpc.health.v1.Health`` whether ``service`` is SERVING."""
    stub = health_pb2_grpc.HealthStub(channel)

    def probe() -> None:
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            raise RuntimeError(f"health status {reply.status}")

    return probe


def database_probe(engine: Engine) -> Probe:
    """A probe running ``SELECT 1`` on ``engine``."""

    def probe() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    return probe
