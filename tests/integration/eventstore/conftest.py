"""Fixtures of the event store's integration tests: real PostgreSQL, SQLite and nats-server.

The servers are session-scoped (started once, on free ports); each test gets an empty schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from eventstoresvc.engine import make_engine
from eventstoresvc.memory import InMemoryEventRepository
from eventstoresvc.repository import EventRepository
from eventstoresvc.schema import create_schema, drop_schema
from eventstoresvc.sqlstore import SqlEventRepository
from kit.testing.nats import NatsServer, running_nats
from kit.testing.postgres import Postgres, running_postgres

# The cockroachdb:// SQLAlchemy dialect over the real PostgreSQL server: it proves the dialect's SQL
# and retry handling work, not that CockroachDB does (no CockroachDB server runs in these tests).
COCKROACH_DIALECT = "cockroach-dialect-on-postgres"
SQL_BACKENDS = ["sqlite", "postgresql", COCKROACH_DIALECT]


@pytest.fixture(scope="session")
def postgres() -> Iterator[tuple[Postgres, str]]:
    """A real PostgreSQL server and a database created for this test run."""
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """A real ``nats-server -js`` on a free port for the whole run."""
    with running_nats() as server:
        yield server


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    """The URL of the session's nats-server, restarted if a test left it down."""
    nats_server.start()
    return nats_server.url


@pytest.fixture
def db_url_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[str], str]:
    """Build the URL of an empty event store database for a backend name."""

    def url_for(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / 'events.db'}"
        server, database = request.getfixturevalue("postgres")
        driver = "cockroachdb+psycopg" if backend == COCKROACH_DIALECT else "postgresql+psycopg"
        return str(server.url(database, driver=driver))

    return url_for


@pytest.fixture(params=SQL_BACKENDS)
def sql_backend(request: pytest.FixtureRequest) -> str:
    """Each SQL backend in turn."""
    return str(request.param)


@pytest.fixture
def db_url(sql_backend: str, db_url_factory: Callable[[str], str]) -> str:
    """The URL of an empty event store database of the current backend."""
    return db_url_factory(sql_backend)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a freshly created schema; the schema is dropped afterwards."""
    engine = make_engine(db_url)
    drop_schema(engine)
    create_schema(engine)
    yield engine
    drop_schema(engine)
    engine.dispose()


@pytest.fixture
def sql_repository(engine: Engine) -> Iterator[SqlEventRepository]:
    """A SQL repository on an empty schema of the current backend."""
    repository = SqlEventRepository(engine)
    yield repository
    repository.close()


@pytest.fixture(params=["memory", *SQL_BACKENDS])
def repository(request: pytest.FixtureRequest) -> Iterator[EventRepository]:
    """Every adapter of the storage port in turn: the contract suite runs against each."""
    if request.param == "memory":
        yield InMemoryEventRepository()
        return
    url = request.getfixturevalue("db_url_factory")(request.param)
    engine = make_engine(url)
    drop_schema(engine)
    create_schema(engine)
    repository = SqlEventRepository(engine)
    yield repository
    repository.close()
    drop_schema(engine)
    engine.dispose()
