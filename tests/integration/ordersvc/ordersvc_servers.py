"""Servers of the order service's integration tests: empty databases and a running event store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import urllib3

from eventstoresvc.container import build as build_eventstore
from eventstoresvc.server import EventStoreServer
from kit.auth.settings import AuthSettings
from kit.grpc.tls import ClientTLS
from kit.testing.http import serve_wsgi
from kit.testing.nats import NatsServer
from kit.testing.net import free_port
from orders.engine import make_engine
from ordersvc.container import Container, Settings, build, close
from ordersvc.schema import create_schema, drop_schema


@contextmanager
def database_urls(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(event store URL, orders URL): empty databases of ``backend`` ("sqlite" or "postgresql")."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}", f"sqlite:///{tmp_path / 'orders.db'}"
        return
    server, _ = request.getfixturevalue("postgres")
    events_db, orders_db = server.create_database(), server.create_database()
    try:
        yield server.url(events_db), server.url(orders_db)
    finally:
        server.drop_database(events_db)
        server.drop_database(orders_db)


@contextmanager
def running_eventstore(db_url: str, nats_server: NatsServer,
                       auth: AuthSettings | None = None) -> Iterator[str]:
    """A running event store service over ``db_url`` (requiring ``auth`` tokens when given);
    yields its ``host:port``."""
    nats_server.start()
    port = free_port()
    server = EventStoreServer(build_eventstore(db_url=db_url, nats_url=nats_server.url, port=port),
                              host="127.0.0.1", port=port,
                              auth=None if auth is None else auth.authenticator())
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=1.0, flush_timeout=1.0)


@dataclass
class OrdersService:
    """The running order service of a test."""

    container: Container
    base_url: str
    http: urllib3.PoolManager

    def request(self, method: str, path: str, body: object = None,
                headers: dict[str, str] | None = None) -> urllib3.BaseHTTPResponse:
        """Send a request (``body`` as JSON) and return the response, whatever its status."""
        return self.http.request(method, self.base_url + path, json=body, headers=headers,
                                 retries=False, timeout=10.0)


def start_orders(eventstore_addr: str, orders_db_url: str, auth: AuthSettings | None = None,
                 client_tls: ClientTLS | None = None) -> Iterator[OrdersService]:
    """Run the order service's app under waitress against ``eventstore_addr`` (with ``auth``)."""
    engine = make_engine(orders_db_url, pool_size=1)
    drop_schema(engine)
    create_schema(engine)
    engine.dispose()
    container = build(Settings(eventstore_addr=eventstore_addr, orders_db_url=orders_db_url,
                               eventstore_timeout=2.0, auth=auth or AuthSettings(),
                               client_tls=client_tls))
    pool = urllib3.PoolManager(maxsize=16)
    try:
        with serve_wsgi(container.app(), threads=8) as base_url:
            yield OrdersService(container, base_url, pool)
    finally:
        pool.clear()
        close(container)
