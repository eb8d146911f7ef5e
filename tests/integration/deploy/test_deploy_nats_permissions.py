"""deploy/'s NATS permissions, made real: a nats-server reads deploy/nats/auth.conf itself (with the
passwords and certificates deploy/init-secrets.py generates, over mutual TLS as in deploy/), and each
role does what the system asks of it through the kit's own code paths, and no more. Every process,
the server included, uses only the files of its own role (what its container mounts)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from deploy_secrets import DEPLOY, Generated, init_secrets
from prometheus_client import CollectorRegistry

from eventstoresvc.bootstrap import bootstrap_stream
from eventstoresvc.domain import ExpectedVersion
from eventstoresvc.engine import make_engine
from eventstoresvc.relay import OutboxRelay
from eventstoresvc.schema import create_schema
from eventstoresvc.sqlstore import SqlEventRepository
from eventstoresvc.testing import order_event
from kit.errors import InvalidArgument, KitError
from kit.nats import JetStreamConsumer, JetStreamPublisher, NatsSecurity, dead_letters, replay_dead_letters
from kit.nats import security as nats_env
from kit.nats.streams import connection, ensure_stream
from kit.testing.nats import NatsServer, stream_messages
from kit.testing.wait import eventually
from ordersvc.board.figures import JetStreamFigures
from workers.runner import DUPLICATE_WINDOW, STREAM, STREAM_SUBJECTS, WORKERS

pytestmark = pytest.mark.integration



@dataclass(frozen=True)
class Deployed:
    server: NatsServer
    files: Generated  # what init-secrets wrote; each role uses its own copies in files.identities

    def certs_of(self, role: str) -> Path:
        return self.files.identities / role / "certs"

    def password_file(self, user: str) -> Path:
        return self.files.identities / user / "secrets" / f"nats_{user}"

    def as_user(self, user: str, identity: str = "worker", password: str | None = None) -> NatsSecurity:
        """How the process running as NATS ``user`` (TLS identity ``identity``) connects in deploy/."""
        secret = password if password is not None else self.password_file(user).read_text().strip()
        certs = self.certs_of(user)
        return NatsSecurity(user=user, password=secret, tls_ca=certs / "ca.crt",
                            tls_cert=certs / f"{identity}.crt", tls_key=certs / f"{identity}.key")

    def count(self, stream: str) -> int:
        return stream_messages(self.server.url, stream, security=self.as_user("bootstrap", "bootstrap"))


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    files = init_secrets(tmp_path_factory.mktemp("deploy"))
    server = NatsServer()
    nats_certs, nats_secrets = files.identities / "nats" / "certs", files.identities / "nats" / "secrets"

    def near(path: Path) -> str:  # nats-server includes relative to the configuration file only
        return os.path.relpath(path, server.root)

    server.config = "\n".join([
        f'include "{near(nats_secrets / "nats-auth.conf")}"',  # deploy/nats/auth.conf and the passwords
        f'tls {{ cert_file: "{nats_certs / "nats.crt"}", key_file: "{nats_certs / "nats.key"}", '
        f'ca_file: "{nats_certs / "ca.crt"}", verify: true, timeout: 2 }}',
    ])
    server.start()
    try:
        deployed = Deployed(server, files)
        bootstrap_stream(server.url, security=deployed.as_user("bootstrap", "bootstrap"))
        yield deployed
    finally:
        server.close()


def test_init_secrets_keeps_what_exists(deployed: Deployed) -> None:
    generated = deployed.files
    files = [path for path in (*generated.certs.rglob("*"), *generated.secrets.iterdir()) if path.is_file()]
    before = {path: path.read_bytes() for path in files}
    assert "nothing (all present)" in generated.run().stdout
    after = {path: path.read_bytes() for path in files}
    assert after == before
    assert not (generated.certs / "ca.key").exists(), "the CA key stays out of the services' volume"
    assert all(oct(path.stat().st_mode & 0o777) == "0o600" for path in generated.secrets.iterdir())


def test_only_the_event_store_publishes_orders(deployed: Deployed) -> None:
    before = deployed.count("ORDERS")
    relay = JetStreamPublisher(nats_url=deployed.server.url, timeout=2.0,
                               security=deployed.as_user("eventstoresvc", "eventstoresvc"))
    try:
        relay.publish("ORDERS.created", b"{}", msg_id="deploy-1")
    finally:
        relay.close()
    assert deployed.count("ORDERS") == before + 1
    for user, identity in (("payment", "worker"), ("saga", "worker"), ("ordersvc", "ordersvc"),
                           ("bootstrap", "bootstrap")):
        publisher = JetStreamPublisher(nats_url=deployed.server.url, timeout=1.0,
                                       security=deployed.as_user(user, identity))
        try:
            with pytest.raises(KitError):
                publisher.publish("ORDERS.approved", b"{}", msg_id=f"forged-by-{user}")
        finally:
            publisher.close()
    assert deployed.count("ORDERS") == before + 1


def relay_as(deployed: Deployed, user: str, identity: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             registry: CollectorRegistry) -> tuple[SqlEventRepository, OutboxRelay]:
    """The event store's own relay (its connection from EVENTSTREAM_NATS_*, as deploy/ sets them)
    logged in as ``user``, over an outbox holding two new events."""
    certs = deployed.certs_of(user)
    env = {nats_env.ENV_USER: user, nats_env.ENV_PASSWORD_FILE: str(deployed.password_file(user)),
           nats_env.ENV_TLS_CA: str(certs / "ca.crt"), nats_env.ENV_TLS_CERT: str(certs / f"{identity}.crt"),
           nats_env.ENV_TLS_KEY: str(certs / f"{identity}.key")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    engine = make_engine(f"sqlite:///{tmp_path / 'events.db'}")
    create_schema(engine)
    repository = SqlEventRepository(engine)
    for order in (f"{user}-1", f"{user}-2"):
        repository.append(order_event(order, "created"), ExpectedVersion.no_stream())
    relay = OutboxRelay(repository, deployed.server.url, registry=registry, ack_timeout=1.0,
                        max_backoff=0.3, idle_poll=0.1)
    relay.start()
    return repository, relay


def test_the_relay_publishes_as_the_event_store_and_no_one_else_can(
        deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = deployed.count("ORDERS")
    repository, relay = relay_as(deployed, "eventstoresvc", "eventstoresvc", tmp_path / "store", monkeypatch,
                                 CollectorRegistry())
    try:
        eventually(lambda: repository.backlog() == 0, 15)
    finally:
        relay.stop()
        repository.close()
    assert deployed.count("ORDERS") == before + 2

    registry = CollectorRegistry()
    repository, relay = relay_as(deployed, "payment", "worker", tmp_path / "forged", monkeypatch, registry)
    try:  # refused, and refused again
        eventually(lambda: (registry.get_sample_value("eventstore_relay_failures_total") or 0) >= 2, 15)
        assert repository.backlog() == 2, "nothing is marked published"
    finally:
        relay.stop(flush_timeout=0)
        repository.close()
    assert deployed.count("ORDERS") == before + 2


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_each_worker_consumes_its_durable_and_dead_letters(deployed: Deployed, worker: str) -> None:
    kind = WORKERS[worker]
    ensure_stream(deployed.server.url, STREAM, STREAM_SUBJECTS, duplicate_window=DUPLICATE_WINDOW,
                  security=deployed.as_user(worker))  # what each worker does at start
    handled: list[bytes] = []

    def endpoint(message: object) -> None:
        data = message.data  # type: ignore[attr-defined]
        if data == b"poison":
            raise InvalidArgument("poison")
        handled.append(data)

    consumer = JetStreamConsumer(endpoint, lambda m: m, nats_url=deployed.server.url, stream=STREAM,
                                 durable=kind.name, filter_subjects=kind.filter_subjects,
                                 registry=CollectorRegistry(), security=deployed.as_user(worker))
    subject = kind.filter_subjects[0] if kind.filter_subjects else "ORDERS.created"
    relay = JetStreamPublisher(nats_url=deployed.server.url,
                               security=deployed.as_user("eventstoresvc", "eventstoresvc"))
    consumer.start()
    try:
        relay.publish(subject, f"for-{worker}".encode(), msg_id=f"w-{worker}")
        relay.publish(subject, b"poison", msg_id=f"p-{worker}")
        eventually(lambda: f"for-{worker}".encode() in handled and consumer.dead_lettered >= 1, timeout=20)
    finally:
        consumer.stop()
        relay.close()
    letters = dead_letters(deployed.server.url, security=deployed.as_user("bootstrap", "bootstrap"))
    assert any(letter.consumer == kind.name and letter.data == b"poison" for letter in letters)


def test_a_worker_cannot_read_or_drive_another_workers_durable(deployed: Deployed) -> None:
    async def peek() -> None:
        async with connection(deployed.server.url, security=deployed.as_user("payment")) as client:
            await client.jetstream(timeout=1.0).consumer_info(STREAM, "saga")

    with pytest.raises(Exception):  # noqa: B017 (refused: no reply comes, nats-py times out)
        asyncio.run(peek())


def test_the_board_reads_its_figures_as_ordersvc(deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    security = deployed.as_user("ordersvc", "ordersvc")
    for variable, value in (("EVENTSTREAM_NATS_USER", "ordersvc"),
                            ("EVENTSTREAM_NATS_PASSWORD", security.password),
                            ("EVENTSTREAM_NATS_TLS_CA", str(security.tls_ca)),
                            ("EVENTSTREAM_NATS_TLS_CERT", str(security.tls_cert)),
                            ("EVENTSTREAM_NATS_TLS_KEY", str(security.tls_key))):
        monkeypatch.setenv(variable, value or "")
    figures = JetStreamFigures(deployed.server.url, timeout=2.0).get()
    assert (figures is not None and figures.published == deployed.count("ORDERS")) or figures.published > 0


def test_dead_letters_are_replayed_as_the_event_store(deployed: Deployed) -> None:
    waiting = dead_letters(deployed.server.url, security=deployed.as_user("bootstrap", "bootstrap"))
    assert waiting, "the worker tests above leave dead letters"
    done = replay_dead_letters(deployed.server.url, [waiting[0].id],
                               security=deployed.as_user("eventstoresvc", "eventstoresvc"))
    assert done == 1


def test_wrong_password_or_no_client_certificate_is_refused(deployed: Deployed) -> None:
    wrong = deployed.as_user("payment", password="not-the-password")
    no_cert = NatsSecurity(user="payment", password=deployed.password_file("payment").read_text().strip(),
                           tls_ca=deployed.certs_of("payment") / "ca.crt")
    for security in (wrong, no_cert):
        with pytest.raises(KitError):
            ensure_stream(deployed.server.url, "ANY", ["ANY.*"], security=security)


async def log_in(url: str, security: NatsSecurity) -> None:
    async with connection(url, security=security, timeout=2.0) as client:
        await client.flush(timeout=2)


@pytest.mark.parametrize("node", [1, 2, 3])
def test_each_deploy_node_configuration_starts_and_serves_its_users(deployed: Deployed, node: int) -> None:
    """The node's own file, with only what is host-specific moved: ports, paths of the volumes."""
    from kit.testing.net import free_port

    text = (DEPLOY / "nats" / f"nats-{node}.conf").read_text()
    server = NatsServer()
    (server.root / "secrets").symlink_to(deployed.files.identities / "nats" / "secrets")
    server.config = (text.replace("/etc/nats/certs/", f"{deployed.certs_of('nats')}/")
                     .replace("store_dir: /data/jetstream", "")  # the test store: -sd
                     .replace("http: 0.0.0.0:8222", f"http: 127.0.0.1:{free_port()}")
                     .replace("listen: 0.0.0.0:6222", f"listen: 127.0.0.1:{free_port()}"))
    assert server.config != text
    server.start()
    try:
        # Logging in over mutual TLS (JetStream itself waits for the cluster's other two nodes).
        asyncio.run(log_in(server.url, deployed.as_user("payment")))
        with pytest.raises(KitError):
            asyncio.run(log_in(server.url, deployed.as_user("payment", password="wrong")))
    finally:
        server.close()
