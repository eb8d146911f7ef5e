"""deploy/'s TLS for the database and for traces, made real: with the files deploy/init-secrets.py
generates, each side using only its own role's files, a Zipkin server runs on the very options
docker-compose.yml gives it (https only, its key store's password read from the generated config
tree) and takes the spans of a process configured as the compose file configures the services;
and the services' own database URL (verify-full, the CockroachDB client certificate) logs in to a
PostgreSQL that admits TCP clients by certificate only, the server presenting the generated
CockroachDB node certificate."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml
from deploy_secrets import DEPLOY, init_secrets
from sqlalchemy import text

from eventstoresvc.engine import make_engine
from kit.testing.net import free_port
from kit.testing.postgres import EmbeddedPostgres, ServerTLSFiles
from kit.testing.requires import unavailable
from kit.testing.wait import eventually
from kit.testing.zipkin import ZipkinServer, zipkin_missing
from kit.tracing import SpanKind
from kit.zipkin import HTTPReporter, ZipkinTracer
from kit.zipkin import server as launcher
from kit.zipkin.config import ZIPKIN_CA_ENV, ZIPKIN_URL_ENV, tracer_from_env

pytestmark = pytest.mark.integration

COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
SERVICE_ENV = COMPOSE["services"]["ordersvc"]["environment"]


@dataclass(frozen=True)
class Generated:
    """The per-role files init-secrets wrote, and how to read a compose path (``/certs/...``) as
    the container of ``role`` sees it."""

    identities: Path

    def local(self, role: str, text: str) -> str:
        return text.replace("/certs/", f"{self.identities / role / 'certs'}/")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return Generated(init_secrets(tmp_path_factory.mktemp("deploy-tls")).identities)


@pytest.fixture(scope="module")
def zipkin(generated: Generated) -> Iterator[ZipkinServer]:
    """A Zipkin server on deploy's JAVA_OPTS (its port moved to a free one on 127.0.0.1)."""
    reason = zipkin_missing()
    if reason:
        unavailable(reason)
    port = free_port()
    java_opts = shlex.split(COMPOSE["services"]["zipkin"]["environment"]["JAVA_OPTS"])
    options = [generated.local("zipkin", option).replace("ports[0].port=9411", f"ports[0].port={port}")
               for option in java_opts]
    jar, java = launcher.find_jar(), launcher.find_java()
    assert jar is not None and java is not None
    command = [java, *launcher.JVM_OPTIONS, *options, "-Darmeria.ports[0].ip=127.0.0.1", "-jar", str(jar),
               "--zipkin.storage.type=mem", "--zipkin.self-tracing.enabled=false",
               "--spring.main.banner-mode=off"]
    ca = generated.identities / "ordersvc" / "certs" / "ca.crt"
    with ZipkinServer(port=port, ca_file=ca, command=command) as server:
        yield server


def test_spans_reach_zipkin_over_https_as_deploy_configures_both(generated: Generated,
                                                                 zipkin: ZipkinServer) -> None:
    ca = generated.local("ordersvc", SERVICE_ENV[ZIPKIN_CA_ENV])
    assert SERVICE_ENV[ZIPKIN_URL_ENV].startswith("https://") and zipkin.url.startswith("https://")
    tracer = tracer_from_env("deploy-svc", environ={ZIPKIN_URL_ENV: zipkin.url, ZIPKIN_CA_ENV: ca})
    assert isinstance(tracer, ZipkinTracer) and isinstance(tracer.reporter, HTTPReporter)
    with tracer.span("GET /orders", SpanKind.SERVER, headers={}) as span:
        span.tag("http.route", "/orders")
    assert tracer.reporter.close(timeout=5) and tracer.reporter.sent == 1
    trace = eventually(lambda: zipkin.trace(span.trace_id))
    assert [s["name"] for s in trace] == ["get /orders"]


@pytest.fixture(scope="module")
def database(generated: Generated) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL presenting deploy's CockroachDB node certificate, client certificates only."""
    roach = generated.identities / "roach" / "certs" / "cockroach"
    server = EmbeddedPostgres(tls=ServerTLSFiles(cert=roach / "node.crt", key=roach / "node.key",
                                                 ca=roach / "ca.crt"))
    try:
        server.start()
        server.create_database("eventstoredb", owner="eventstream")
        yield server
    finally:
        server.stop()


def test_the_services_database_url_logs_in_by_certificate_over_verified_tls(
        generated: Generated, database: EmbeddedPostgres) -> None:
    parts = urlsplit(generated.local("ordersvc", SERVICE_ENV["EVENTSTREAM_DB_URL"]))
    assert parts.scheme == "cockroachdb" and parts.path == "/eventstoredb"
    # The same user, database and TLS settings; this server speaks PostgreSQL at another address.
    url = urlunsplit(parts._replace(scheme="postgresql+psycopg",
                                    netloc=f"{parts.username}@{database.host}:{database.port}"))
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT ssl, client_dn, current_user FROM pg_stat_ssl"
                                    " WHERE pid = pg_backend_pid()")).one()
    finally:
        engine.dispose()
    assert tuple(row) == (True, "/CN=eventstream", "eventstream")
