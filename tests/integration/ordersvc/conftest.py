"""Fixtures of the order service's integration tests: a real event store service, real databases.

Each test gets an in-process ``eventstoresvc`` (gRPC on a free port, relaying to a real
``nats-server``) over a fresh database of the backend under test, an empty orders database on the
same backend, and the order service's HTTP app under a real waitress server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ordersvc_servers import OrdersService, database_urls, running_eventstore, start_orders

from kit.testing.nats import NatsServer, running_nats
from kit.testing.net import free_port
from kit.testing.postgres import Postgres, running_postgres

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
