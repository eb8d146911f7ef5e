"""Servers of the order service's integration tests: empty databases and a running event store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from eventstoresvc.container import build as build_eventstore
from eventstoresvc.server import EventStoreServer
from kit.testing.nats import NatsServer
from kit.testing.net import free_port


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
def running_eventstore(db_url: str, nats_server: NatsServer) -> Iterator[str]:
    """A running event store service over ``db_url``; yields its ``host:port``."""
    nats_server.start()
    port = free_port()
    server = EventStoreServer(build_eventstore(db_url=db_url, nats_url=nats_server.url, port=port),
                              host="127.0.0.1", port=port)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=1.0, flush_timeout=1.0)
