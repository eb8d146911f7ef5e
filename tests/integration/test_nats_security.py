"""kit.nats connections against a real nats-server that requires credentials, permissions and TLS."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import nats
import nkeys
import pytest

from kit.errors import KitError
from kit.nats import JetStreamPublisher, NatsSecurity
from kit.nats.connection import connect_until_stopped
from kit.nats.streams import connection, ensure_stream_async, run_sync
from kit.testing.nats import NatsServer, handled_as, running_nats, stream_messages
from kit.testing.tls import TestPKI, make_pki

pytestmark = pytest.mark.integration

SEED = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
NKEY_PUBLIC = nkeys.from_seed(bytearray(SEED)).public_key.decode()

USERS = f"""
authorization {{
  users = [
    {{user: admin, password: admin-pw}}
    {{user: relay, password: relay-pw, permissions: {{
        publish: ["ORDERS.>", "$JS.API.STREAM.INFO.ORDERS"], subscribe: ["_INBOX.>"]}}}}
    {{user: worker, password: worker-pw, permissions: {{
        publish: {{allow: ["$JS.API.STREAM.INFO.ORDERS", "$JS.API.CONSUMER.*.ORDERS.>",
                          "$JS.API.CONSUMER.MSG.NEXT.ORDERS.>", "$JS.ACK.ORDERS.>",
                          "$JS.API.STREAM.*.DLQ", "DLQ.>"],
                  deny: ["ORDERS.>"]}},
        subscribe: ["_INBOX.>"]}}}}
    {{nkey: {NKEY_PUBLIC}}}
  ]
}}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with running_nats(USERS) as nats_server:
        admin = NatsSecurity(user="admin", password="admin-pw")
        run_sync(_ensure(nats_server.url, admin))
        yield nats_server


async def _ensure(url: str, security: NatsSecurity) -> None:
    async with connection(url, security=security, timeout=1.0) as client:
        await ensure_stream_async(client.jetstream(), "ORDERS", ["ORDERS.*"])


def count(server: NatsServer) -> int:
    return stream_messages(server.url, security=NatsSecurity(user="admin", password="admin-pw"))


def test_the_relay_user_publishes_into_the_stream_and_a_worker_user_is_refused(server: NatsServer) -> None:
    before = count(server)
    relay = JetStreamPublisher(nats_url=server.url, security=NatsSecurity(user="relay", password="relay-pw"),
                               timeout=2.0)
    worker = JetStreamPublisher(nats_url=server.url, timeout=2.0,
                                security=NatsSecurity(user="worker", password="worker-pw"))
    try:
        relay.publish("ORDERS.created", b"{}", msg_id="sec-1")
        assert count(server) == before + 1
        with pytest.raises(KitError):
            worker.publish("ORDERS.approved", b"{}", msg_id="sec-2")
    finally:
        relay.close()
        worker.close()
    assert count(server) == before + 1


def test_a_worker_user_consumes_its_durable_and_acks(server: NatsServer) -> None:
    handled_as(server.url, publish_as=NatsSecurity(user="admin", password="admin-pw"),
               consume_as=NatsSecurity(user="worker", password="worker-pw"), subject="ORDERS.paid",
               payload=b"for-the-worker", durable="payment")


@pytest.mark.parametrize("security", [
    NatsSecurity(user="relay", password="wrong"),
    NatsSecurity(),
], ids=["wrong password", "no credentials"])
def test_wrong_or_missing_credentials_are_refused(server: NatsServer, security: NatsSecurity) -> None:
    with pytest.raises(KitError):
        run_sync(_ensure(server.url, security))


def test_an_nkey_seed_authenticates(server: NatsServer, tmp_path: Path) -> None:
    seed = tmp_path / "user.nk"
    seed.write_bytes(SEED)
    run_sync(_connect_and_close(server.url, NatsSecurity(nkey_seed_file=seed)))


async def _connect_and_close(url: str, security: NatsSecurity) -> None:
    client = await connect_until_stopped(url, name="test", stopped=lambda: False, security=security)
    assert client is not None and client.is_connected
    await client.close()


def test_a_token_authenticates() -> None:
    with running_nats("authorization { token: s3cret-token }") as token_server:
        run_sync(_connect_and_close(token_server.url, NatsSecurity(token="s3cret-token")))
        with pytest.raises(KitError):
            run_sync(_ensure(token_server.url, NatsSecurity(token="another")))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_mutual_tls_needs_a_client_certificate_from_the_ca(pki: TestPKI) -> None:
    config = (f'tls {{ cert_file: "{pki.server.cert}", key_file: "{pki.server.key}", '
              f'ca_file: "{pki.ca.cert}", verify: true, timeout: 2 }}')
    with running_nats(config) as tls_server:
        good = NatsSecurity(tls_ca=pki.ca.cert, tls_cert=pki.client.cert, tls_key=pki.client.key)
        run_sync(_ensure(tls_server.url, good))
        for bad in (NatsSecurity(tls_ca=pki.ca.cert),
                    NatsSecurity(tls_ca=pki.ca.cert, tls_cert=pki.stranger.cert, tls_key=pki.stranger.key),
                    NatsSecurity(tls_ca=pki.other_ca.cert, tls_cert=pki.client.cert, tls_key=pki.client.key),
                    NatsSecurity()):
            with pytest.raises(KitError):
                run_sync(_ensure(tls_server.url, bad))


def test_plain_nats_py_without_tls_options_cannot_talk_to_the_tls_server(pki: TestPKI) -> None:
    config = f'tls {{ cert_file: "{pki.server.cert}", key_file: "{pki.server.key}", timeout: 2 }}'
    with running_nats(config) as tls_server:
        async def plain() -> None:
            client = await nats.connect(tls_server.url, connect_timeout=2, max_reconnect_attempts=0,
                                        allow_reconnect=False)
            await client.close()

        with pytest.raises(Exception):  # noqa: B017 (nats-py raises several kinds for this)
            asyncio.run(plain())
        run_sync(_ensure(tls_server.url, NatsSecurity(tls_ca=pki.ca.cert)))  # server TLS only
