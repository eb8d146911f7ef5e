"""``eventstream ordersvc``: serve the order API over HTTP (waitress) and gRPC in one process.

Every flag has an environment twin (``--eventstore-addr`` -> ``EVENTSTREAM_EVENTSTORE_ADDR``), see
``kit.options``. SIGTERM / SIGINT stop it gracefully: the gRPC server refuses new calls and
lets those in flight finish, waitress closes its listener, then the channel and pool are released.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kit.options import auth_checked, auth_options, option, tls_from_env

if TYPE_CHECKING:
    from kit.auth.settings import AuthSettings

DEFAULT_GRPC_PORT = 50052


@click.command("ordersvc")
@option("--port", default=3000, type=click.IntRange(0, 65535), help="HTTP port.")
@option("--grpc-port", default=DEFAULT_GRPC_PORT, type=click.IntRange(0, 65535), help="gRPC port.")
@option("--host", default="127.0.0.1", help="Address to listen on (beyond loopback: auth or --insecure).")
@option("--grpc-host", default="", help="Address gRPC listens on, if not --host (HTTP behind a local proxy).")
@option("--eventstore-addr", default="127.0.0.1:50051",
        help="Event store gRPC address (host:port); replicas comma-separated.")
@option("--orders-db-url", default="sqlite:///.eventstream/orders.db",
        help="Orders database (read model, idempotency keys), an SQLAlchemy URL.")
@option("--zipkin-url", default="", help="Zipkin base URL; empty disables tracing.")
@option("--nats-url", default="", help="NATS, for the board's outbox backlog and dead letters; empty: n/a.")
@option("--threads", default=8, type=click.IntRange(1, 256), help="HTTP worker threads.")
@option("--shutdown-grace", default=10.0, type=float, help="Seconds in-flight calls get on shutdown.")
@auth_options
def ordersvc(port: int, grpc_port: int, host: str, grpc_host: str, eventstore_addr: str, orders_db_url: str,
             zipkin_url: str, nats_url: str, threads: int, shutdown_grace: float,
             auth: AuthSettings) -> None:
    """Run the order service: HTTP on --port, gRPC on --grpc-port, events in --eventstore-addr.

    With auth on, every API call needs a bearer token: a customer's (``sub``) sees its own orders,
    an operator's (scope ``orders:admin``) all of them and the board; it sends its own ``service``
    token to the event store.
    """
    from kit import logs
    from kit.lifecycle import Served, run_until_signal
    from ordersvc.container import Settings, build
    from ordersvc.schema import create_schema
    from ordersvc.servers import OrderServers

    grpc_host = grpc_host or host
    auth_checked(auth, host, grpc_host, caller="ordersvc")
    server_tls, client_tls = tls_from_env()
    logs.configure()  # EVENTSTREAM_LOG_LEVEL / EVENTSTREAM_LOG_FORMAT: one structured line per request
    container = build(Settings(eventstore_addr=eventstore_addr, orders_db_url=orders_db_url,
                               zipkin_url=zipkin_url or None, nats_url=nats_url or None,
                               port=port, auth=auth, client_tls=client_tls))
    create_schema(container.engine())
    servers = OrderServers(container, host=host, port=port, grpc_host=grpc_host, grpc_port=grpc_port,
                           threads=threads, grace=shutdown_grace, tls=server_tls)
    run_until_signal([Served("ordersvc", servers.start, servers.stop)])
