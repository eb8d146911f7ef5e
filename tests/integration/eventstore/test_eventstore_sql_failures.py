"""How the SQL adapter behaves when the database pushes back: retries, outages, driver errors."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine, text

from eventstoresvc import transactions
from eventstoresvc.domain import EventQuery, ExpectedVersion
from eventstoresvc.engine import make_engine
from eventstoresvc.sqlstore import SqlEventRepository
from eventstoresvc.testing import order_event
from kit.errors import Unavailable
from kit.testing.net import free_port

pytestmark = pytest.mark.integration


# cockroach-dialect-on-postgres: the cockroachdb:// dialect on the PostgreSQL server (no CockroachDB).
@pytest.mark.parametrize("sql_backend", ["postgresql", "cockroach-dialect-on-postgres"])
def test_serialization_failure_reruns_the_whole_transaction(engine: Engine) -> None:
    attempts: list[int] = []

    def work(conn: Connection) -> int:
        attempts.append(1)
        conn.execute(text("CREATE TEMP TABLE IF NOT EXISTS probe (n int)"))
        conn.execute(text("INSERT INTO probe VALUES (1)"))
        if len(attempts) < 3:  # what CockroachDB does to the loser of a conflict
            conn.execute(text("DO $$ BEGIN RAISE EXCEPTION 'restart' USING ERRCODE = '40001'; END $$"))
        return int(conn.execute(text("SELECT count(*) FROM probe")).scalar_one())

    assert transactions.run(engine, work) == 1  # the failed attempts were rolled back
    assert len(attempts) == 3


@pytest.mark.parametrize("sql_backend", ["postgresql"])
def test_exhausted_retries_surface_as_unavailable(engine: Engine) -> None:
    def work(conn: Connection) -> None:
        conn.execute(text("DO $$ BEGIN RAISE EXCEPTION 'restart' USING ERRCODE = '40001'; END $$"))

    with pytest.raises(Unavailable, match="too busy"):
        transactions.run(engine, work, attempts=2)


# Nothing listens on either port: the second is the cockroachdb:// dialect's errors, not a CockroachDB.
@pytest.mark.parametrize("url", [
    pytest.param(f"postgresql://postgres@127.0.0.1:{free_port()}/none?connect_timeout=2", id="postgresql"),
    pytest.param(f"cockroachdb://postgres@127.0.0.1:{free_port()}/none?connect_timeout=2",
                 id="cockroach-dialect"),
])
def test_unreachable_database_is_unavailable_for_appends_and_reads(url: str) -> None:
    repository = SqlEventRepository(make_engine(url))
    try:
        with pytest.raises(Unavailable):
            repository.append(order_event(), ExpectedVersion.any())
        with pytest.raises(Unavailable):
            repository.read(EventQuery())
    finally:
        repository.close()


@pytest.mark.parametrize("sql_backend", ["postgresql"])
def test_connections_the_server_dropped_are_replaced_without_an_error(engine: Engine) -> None:
    repository = SqlEventRepository(engine)
    try:
        first = repository.append(order_event(), ExpectedVersion.no_stream())
        assert repository.read(EventQuery(aggregate_id=first.aggregate_id)) == [first]
        admin = make_engine(engine.url.render_as_string(hide_password=False), pool_size=1)
        try:  # drop the repository's pooled connections, as a server restart does
            with admin.connect() as conn:
                dropped = conn.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
        finally:
            admin.dispose()
        assert dropped >= 1
        assert repository.read(EventQuery(aggregate_id=first.aggregate_id)) == [first]
        second = repository.append(order_event(name="paymentdebited"), ExpectedVersion.exact(1))
        assert second.version == 2
    finally:
        repository.close()
