"""The event store's command: ``eventstream eventstoresvc``.

Every flag has an environment twin (``--db-url`` -> ``EVENTSTREAM_DB_URL``), see
``kit.options``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kit.options import auth_checked, auth_options, option, tls_from_env

if TYPE_CHECKING:
    from kit.auth.settings import AuthSettings

DEFAULT_DB_URL = "sqlite:///eventstore.db"
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


@click.command("eventstoresvc")
@option("--port", default=50051, type=click.IntRange(0, 65535), help="gRPC port.")
@option("--host", default="127.0.0.1", help="Address to listen on (beyond loopback: auth or --insecure).")
@option("--db-url", default=DEFAULT_DB_URL, help="Event store database (SQLAlchemy URL).")
@option("--nats-url", default=DEFAULT_NATS_URL, help="NATS server the outbox relay publishes to.")
@option("--zipkin-url", default="", help="Zipkin base URL; empty disables tracing.")
@option("--max-event-bytes", default=64 * 1024, type=click.IntRange(1), help="Largest event_data accepted.")
@option("--max-batch-events", default=1000, type=click.IntRange(1),
        help="Most events one AppendEvents call may carry.")
@option("--relay-lease", default=3.0, type=click.FloatRange(0.3),
        help="Seconds the relay leader's lease lasts; another replica takes over within about that.")
@option("--relay-poll", default=0.1, type=click.FloatRange(0.01),
        help="Seconds between the relay's reads for other replicas' commits (its own wake it at once).")
@option("--metrics-port", default=0, type=click.IntRange(0, 65535),
        help="Serve /metrics (relay leadership, backlog, requests) here; 0: off.")
@option("--shutdown-grace", default=10.0, type=float, help="Seconds in-flight calls get on shutdown.")
@auth_options
def eventstoresvc(port: int, host: str, db_url: str, nats_url: str, zipkin_url: str,
                  max_event_bytes: int, max_batch_events: int, relay_lease: float, relay_poll: float,
                  metrics_port: int, shutdown_grace: float, auth: AuthSettings) -> None:
    """Run the event store: gRPC on --port, appends to --db-url, publishes to JetStream.

    With auth on, appends and reads need a token with scope ``service``; health stays open.
    With ``EVENTSTREAM_TLS_CERT`` / ``_KEY`` it serves TLS, mutual TLS with ``EVENTSTREAM_TLS_CA``.
    """
    from eventstoresvc.container import build
    from eventstoresvc.server import EventStoreServer
    from kit import logs
    from kit.lifecycle import Served, run_until_signal
    from kit.middleware.metrics import start_metrics_server

    auth_checked(auth, host)
    server_tls, _ = tls_from_env()
    logs.configure()  # EVENTSTREAM_LOG_LEVEL / EVENTSTREAM_LOG_FORMAT: one structured line per request
    container = build(db_url=db_url, nats_url=nats_url, port=port, zipkin_url=zipkin_url or None,
                      max_data_bytes=max_event_bytes, max_batch_events=max_batch_events,
                      relay_lease=relay_lease, relay_poll=relay_poll)
    server = EventStoreServer(container, host=host, port=port, auth=auth.authenticator(),
                              tls=server_tls)
    metrics = start_metrics_server(metrics_port, host) if metrics_port else None
    try:
        run_until_signal([Served("eventstoresvc", server.start,
                                 lambda: server.stop(grace=shutdown_grace, flush_timeout=shutdown_grace))])
    finally:
        if metrics is not None:
            metrics.shutdown()
