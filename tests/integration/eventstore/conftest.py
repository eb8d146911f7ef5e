"""Fixtures of the event store's integration tests: real PostgreSQL, SQLite and nats-server.

The servers are session-scoped (started once, on free ports); each test gets an empty schema.
``running`` is a whole ``eventstoresvc`` (gRPC server and relay) per test module and SQL backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import Engine

from eventstoresvc.bootstrap import bootstrap_stream
from eventstoresvc.client import EventStoreClient
from eventstoresvc.container import build
from eventstoresvc.engine import make_engine
from eventstoresvc.memory import InMemoryEventRepository
from eventstoresvc.repository import EventRepository
from eventstoresvc.schema import create_schema, drop_schema
from eventstoresvc.server import EventStoreServer
from eventstoresvc.sqlstore import SqlEventRepository
from kit import grpc as kit_grpc
from kit.testing.nats import NatsServer, running_nats
from kit.testing.net import free_port
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


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def running(
    request: pytest.FixtureRequest, nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[EventStoreServer, str]]:
    """An event store serving gRPC on a free port, its relay publishing to the session's NATS."""
    nats_server.start()
    bootstrap_stream(nats_server.url)
    database = None
    if request.param == "sqlite":
        db_url = f"sqlite:///{Path(tmp_path_factory.mktemp('grpc')) / 'events.db'}"
    else:
        postgres: Postgres = request.getfixturevalue("postgres")[0]
        database = postgres.create_database()
        db_url = postgres.url(database)
    port = free_port()
    server = EventStoreServer(build(db_url=db_url, nats_url=nats_server.url, port=port),
                              host="127.0.0.1", port=port)
    server.start()
    yield server, f"127.0.0.1:{port}"
    server.stop(grace=2, flush_timeout=2)
    if database is not None:
        request.getfixturevalue("postgres")[0].drop_database(database)


@pytest.fixture
def channel(running: tuple[EventStoreServer, str]) -> Iterator[grpc.Channel]:
    """A channel to the running event store."""
    channel = kit_grpc.dial(running[1])
    yield channel
    channel.close()


@pytest.fixture
def client(channel: grpc.Channel) -> EventStoreClient:
    """The kit client of the running event store."""
    return EventStoreClient(channel)
