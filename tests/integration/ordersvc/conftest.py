"""Fixtures of the order service's integration tests: a real event store service, real databases.

Each test gets an in-process ``eventstoresvc`` (gRPC on a free port, relaying to a real
``nats-server``) over a fresh database of the backend under test, an empty orders database on the
same backend, and the order service's HTTP app under a real waitress server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import urllib3
from ordersvc_servers import database_urls, running_eventstore

from kit.testing.http import serve_wsgi
from kit.testing.nats import NatsServer, running_nats
from kit.testing.net import free_port
from kit.testing.postgres import Postgres, running_postgres
from orders.engine import make_engine
from ordersvc.container import Container, Settings, build, close
from ordersvc.schema import create_schema, drop_schema

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """A real ``nats-server -js`` for the event store's relay."""
    with running_nats() as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[tuple[Postgres, str]]:
    """A real PostgreSQL server and a database for this run."""
    with running_postgres() as server:
        yield server


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each SQL backend in turn."""
    return str(request.param)


@pytest.fixture
def db_urls(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(event store URL, orders URL): empty databases of the backend under test."""
    with database_urls(backend, request, tmp_path) as urls:
        yield urls


@pytest.fixture
def eventstore(db_urls: tuple[str, str], nats_server: NatsServer) -> Iterator[str]:
    """A running event store service; yields its ``host:port``."""
    with running_eventstore(db_urls[0], nats_server) as address:
        yield address


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


def start_orders(eventstore_addr: str, orders_db_url: str) -> Iterator[OrdersService]:
    """Run the order service's app under waitress against ``eventstore_addr``."""
    engine = make_engine(orders_db_url, pool_size=1)
    drop_schema(engine)
    create_schema(engine)
    engine.dispose()
    container = build(Settings(eventstore_addr=eventstore_addr, orders_db_url=orders_db_url,
                               eventstore_timeout=2.0))
    pool = urllib3.PoolManager(maxsize=16)
    try:
        with serve_wsgi(container.app(), threads=8) as base_url:
            yield OrdersService(container, base_url, pool)
    finally:
        pool.clear()
        close(container)


@pytest.fixture
def orders(eventstore: str, db_urls: tuple[str, str]) -> Iterator[OrdersService]:
    """The order service over the test's event store and orders database."""
    yield from start_orders(eventstore, db_urls[1])


@pytest.fixture
def orders_without_eventstore(db_urls: tuple[str, str]) -> Iterator[OrdersService]:
    """The order service pointed at an address where no event store listens."""
    yield from start_orders(f"127.0.0.1:{free_port()}", db_urls[1])


@pytest.fixture
def new_order() -> Callable[..., dict[str, object]]:
    """A valid create body, with fields replaced as given."""

    def make(**changes: object) -> dict[str, object]:
        return {"customer_id": "cust-1", "restaurant_id": "rest-1",
                "order_items": [{"code": "p-1", "name": "Pizza", "unit_price": "12.50", "quantity": 2},
                                {"code": "c-1", "name": "Cola", "unit_price": "0.10", "quantity": 3}],
                **changes}

    return make
