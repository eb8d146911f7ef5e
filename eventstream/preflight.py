"""Checks ``eventstream up`` makes before it starts anything, and its readiness probes.

A port in use or an unreachable external server is reported as one line naming it, not as a
traceback from deep inside a child process.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from eventstream.topology import Topology
from kit.nats.servers import nats_server_binary
from kit.zipkin import server as zipkin_server

__all__ = ["check", "grpc_serving", "nats_server_binary"]


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on ``host:port`` (we can bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def database_problem(url: str) -> str | None:
    """Why a non-SQLite database URL cannot be used, or None if it answers."""
    if url.startswith("sqlite"):
        return None
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # any driver error means: cannot use it
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"cannot connect to database {_redact(url)}: {reason}"
    return None


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def check(top: Topology) -> str | None:
    """The first problem that would stop the system from starting, as one line; None if none."""
    if top.trace_ui:
        missing = zipkin_server.missing()
        if missing:
            return f"--trace-ui: {missing}"
    for what, port in top.ports().items():
        if not port_free(port):
            return f"port {port} ({what}) is already in use"
    if not top.embedded_nats:
        servers = [urlsplit(url.strip()) for url in top.nats_url.split(",") if url.strip()]
        # A cluster is usable when any of its servers answers; the client finds the others.
        if not any(reachable(s.hostname or "127.0.0.1", s.port or 4222) for s in servers):
            return f"cannot reach the NATS server at {top.nats_url}"
    for url in (top.db_url, top.orders_db_url):
        problem = database_problem(url)
        if problem:
            return problem
    return None


def grpc_serving(target: str) -> bool:
    """Whether the gRPC server at ``target`` answers the standard health check with SERVING."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
