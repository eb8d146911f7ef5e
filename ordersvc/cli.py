"""``eventstream ordersvc``: serve the order API over HTTP (waitress) and gRPC in one process.

Every flag has an environment twin (``--eventstore-addr`` -> ``EVENTSTREAM_EVENTSTORE_ADDR``), see
``kit.options``. SIGTERM / SIGINT stop it gracefully: the gRPC server refuses new calls and
lets those in flight finish, waitress closes its listener, then the channel and pool are released.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

from kit.options import option

DEFAULT_GRPC_PORT = 50052


@click.command("ordersvc")
@option("--port", default=3000, type=click.IntRange(0, 65535), help="HTTP port.")
@option("--grpc-port", default=DEFAULT_GRPC_PORT, type=click.IntRange(0, 65535), help="gRPC port.")
@option("--host", default="0.0.0.0", help="Address to listen on.")
@option("--eventstore-addr", default="127.0.0.1:50051", help="Event store gRPC address (host:port).")
@option("--orders-db-url", default="sqlite:///.eventstream/orders.db",
        help="Orders database (read model, idempotency keys), an SQLAlchemy URL.")
@option("--zipkin-url", default="", help="Zipkin base URL; empty disables tracing.")
@option("--threads", default=8, type=click.IntRange(1, 256), help="HTTP worker threads.")
@option("--shutdown-grace", default=10.0, type=float, help="Seconds in-flight calls get on shutdown.")
def ordersvc(port: int, grpc_port: int, host: str, eventstore_addr: str, orders_db_url: str,
             zipkin_url: str, threads: int, shutdown_grace: float) -> None:
    """Run the order service: HTTP on --port, gRPC on --grpc-port, events in --eventstore-addr."""
    import waitress.server

    from kit import grpc as kit_grpc
    from kit import logs
    from ordersvc.container import Settings, build, close
    from ordersvc.grpc import register
    from ordersvc.schema import create_schema

    logs.configure()  # EVENTSTREAM_LOG_LEVEL / EVENTSTREAM_LOG_FORMAT: one structured line per request
    container = build(Settings(eventstore_addr=eventstore_addr, orders_db_url=orders_db_url,
                               zipkin_url=zipkin_url or None, port=port))
    create_schema(container.engine())
    grpc_server = kit_grpc.serve(register(container.servicer()), host=host, port=grpc_port)
    http_server = waitress.server.create_server(container.app(), host=host, port=port,
                                                threads=threads, ident="ordersvc")
    http_thread = threading.Thread(target=http_server.run, name="waitress", daemon=True)
    http_thread.start()
    log = logging.getLogger("ordersvc")
    log.info("ordersvc serving HTTP on %s:%d and gRPC on %s:%d", host, port, host, grpc_port)

    stop_requested = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop_requested.wait(1.0):
        pass
    log.info("ordersvc stopping")
    kit_grpc.shutdown(grpc_server, shutdown_grace)
    http_server.close()
    http_thread.join(timeout=shutdown_grace)
    close(container)
