"""The event store's SQL layer over mutual TLS to a real PostgreSQL, as deployments reach CockroachDB.

The server requires TLS and a client certificate on TCP (``hostssl ... cert``: the certificate's CN
is the user name). The product's engine connects with ``sslmode=verify-full`` and the URL's
``sslrootcert`` / ``sslcert`` / ``sslkey``, creates the schema, appends and reads back. A
connection without TLS, with a client certificate from another CA, with a certificate for another
user, or trusting another CA for the server is refused, and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import psycopg
import pytest
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy import exc as sa_exc

from eventstoresvc.domain import EventQuery, ExpectedVersion
from eventstoresvc.engine import make_engine
from eventstoresvc.schema import create_schema, events
from eventstoresvc.sqlstore import SqlEventRepository
from eventstoresvc.testing import order_event
from kit.certs import Issued, issue, make_ca
from kit.testing.postgres import EmbeddedPostgres, ServerTLSFiles

pytestmark = pytest.mark.integration

USER = "eventstream"


@dataclass(frozen=True)
class Pki:
    """The certificates of these tests."""

    ca: Issued
    server: Issued  # for 127.0.0.1 and localhost, signed by ``ca``
    client: Issued  # CN=eventstream, signed by ``ca``
    intruder: Issued  # CN=intruder, signed by ``ca``
    other_ca: Issued  # an unrelated CA
    other_client: Issued  # CN=eventstream, signed by ``other_ca``


@dataclass(frozen=True)
class Database:
    """The TLS server and a database owned by ``eventstream`` on it."""

    server: EmbeddedPostgres
    name: str
    pki: Pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA with a server certificate for this machine and client certificates, and a stranger CA."""
    good = tmp_path_factory.mktemp("pki")
    other = tmp_path_factory.mktemp("other-pki")
    ca = make_ca(good, "eventstream-ca")
    other_ca = make_ca(other, "other-ca")
    return Pki(
        ca=ca,
        server=issue(good, "server", ca, hosts=("127.0.0.1", "localhost")),
        client=issue(good, f"client.{USER}", ca, hosts=(), common_name=USER),
        intruder=issue(good, "client.intruder", ca, hosts=(), common_name="intruder"),
        other_ca=other_ca,
        other_client=issue(other, f"client.{USER}", other_ca, hosts=(), common_name=USER),
    )


@pytest.fixture(scope="module")
def database(pki: Pki) -> Iterator[Database]:
    """A PostgreSQL that admits TCP clients by certificate only, with ``eventstream``'s database."""
    server = EmbeddedPostgres(tls=ServerTLSFiles(cert=pki.server.cert, key=pki.server.key,
                                                 ca=pki.ca.cert))
    try:
        server.start()
        name = server.create_database("events_tls", owner=USER)
        yield Database(server, name, pki)
    finally:
        server.stop()


def tls_url(db: Database, *, sslmode: str = "verify-full", root: Issued | None = None,
            client: Issued | None = None) -> str:
    """The deployment's kind of URL for ``eventstream``: the TLS files in the query."""
    query: dict[str, str] = {"sslmode": sslmode}
    if sslmode != "disable":
        query["sslrootcert"] = str((root or db.pki.ca).cert)
        cert = client or db.pki.client
        query |= {"sslcert": str(cert.cert), "sslkey": str(cert.key)}
    return (f"postgresql+psycopg://{USER}@{db.server.host}:{db.server.port}/{db.name}?"
            + urlencode(query))


@pytest.fixture(scope="module")
def engine(database: Database) -> Iterator[Engine]:
    """The product's engine for the event store database, over verify-full mutual TLS."""
    engine = make_engine(tls_url(database), pool_size=2)
    create_schema(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def event_count(engine: Engine) -> int:
    """The number of stored events, read over the good connection."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def attempt_write(url: str) -> None:
    """Connect with ``url`` through the product's engine and insert an event row."""
    bad = make_engine(url, pool_size=1)
    try:
        with bad.begin() as conn:
            conn.execute(insert(events).values(
                position=10_000, event_id="smuggled", event_type="ORDERS.created",
                aggregate_id="smuggled", aggregate_type="order", stream="ORDERS", version=1,
                event_data="{}", created_at=datetime.now(UTC)))
    finally:
        bad.dispose()


def test_the_event_store_appends_and_reads_over_verify_full_mutual_tls(engine: Engine) -> None:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT ssl, client_dn, current_user FROM pg_stat_ssl"
                                " WHERE pid = pg_backend_pid()")).one()
    assert tuple(row) == (True, f"/CN={USER}", USER)

    repository = SqlEventRepository(engine)
    try:
        first = repository.append(order_event("tls-order", "created"), ExpectedVersion.no_stream())
        second = repository.append(order_event("tls-order", "paid"), ExpectedVersion.exact(1))
        stored = repository.read(EventQuery(aggregate_id="tls-order"))
    finally:
        repository.close()
    assert [(e.event_id, e.event_type, e.version) for e in stored] == [
        (first.event_id, "ORDERS.created", 1), (second.event_id, "ORDERS.paid", 2)]


@pytest.mark.parametrize("case", ["no-tls", "client-cert-of-another-ca", "cert-for-another-user",
                                  "server-not-trusted"])
def test_a_connection_the_server_or_client_must_not_accept_is_refused_and_writes_nothing(
        case: str, database: Database, engine: Engine) -> None:
    pki = database.pki
    url, message = {  # the message's parts that the server or libpq (over OpenSSL) give
        "no-tls": (tls_url(database, sslmode="disable"), ("no pg_hba.conf entry", "no encryption")),
        "client-cert-of-another-ca": (tls_url(database, client=pki.other_client),
                                      ("SSL error", "unknown ca")),
        "cert-for-another-user": (tls_url(database, client=pki.intruder),
                                  (f'certificate authentication failed for user "{USER}"',)),
        "server-not-trusted": (tls_url(database, root=pki.other_ca),
                               ("SSL error", "certificate verify failed")),
    }[case]
    before = event_count(engine)
    with pytest.raises((sa_exc.OperationalError, psycopg.OperationalError)) as refused:
        attempt_write(url)
    assert all(part in str(refused.value) for part in message), str(refused.value)
    assert event_count(engine) == before
