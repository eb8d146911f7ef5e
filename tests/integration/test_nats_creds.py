"""kit.nats with ``.creds`` files against a real nats-server in decentralized (JWT) auth mode: the
operator trusts one account, whose users carry their permissions in their JWTs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kit.errors import KitError
from kit.nats import JetStreamPublisher, NatsSecurity
from kit.nats.streams import connection, ensure_stream_async, run_sync
from kit.testing.nats import NatsServer, handled_as, running_nats, stream_messages
from kit.testing.natsjwt import Operator

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Creds:
    server: NatsServer
    admin: NatsSecurity
    relay: NatsSecurity
    worker: NatsSecurity
    stranger: NatsSecurity  # a user of an account another operator signed

    def count(self) -> int:
        return stream_messages(self.server.url, security=self.admin)


@pytest.fixture(scope="module")
def creds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Creds]:
    directory = tmp_path_factory.mktemp("creds")
    operator = Operator()
    account = operator.account()
    inboxes = ["_INBOX.>"]

    def user(name: str, **permissions: list[str]) -> NatsSecurity:
        return NatsSecurity(creds_file=account.creds(directory, name, **permissions))

    with running_nats(operator.config(account)) as server:
        found = Creds(
            server, admin=user("admin"),
            relay=user("relay", allow_publish=["ORDERS.>", "$JS.API.STREAM.INFO.ORDERS"],
                       allow_subscribe=inboxes),
            worker=user("worker", allow_publish=["$JS.API.STREAM.INFO.ORDERS", "$JS.API.CONSUMER.*.ORDERS.>",
                                                 "$JS.API.CONSUMER.MSG.NEXT.ORDERS.>", "$JS.ACK.ORDERS.>"],
                        deny_publish=["ORDERS.>"], allow_subscribe=inboxes),
            stranger=NatsSecurity(creds_file=Operator().account().creds(directory, "stranger")))

        async def ensure() -> None:
            async with connection(server.url, security=found.admin, timeout=1.0) as client:
                await ensure_stream_async(client.jetstream(), "ORDERS", ["ORDERS.*"])

        run_sync(ensure())
        yield found


def test_the_relay_user_publishes_and_the_worker_user_may_not(creds: Creds) -> None:
    before = creds.count()
    relay = JetStreamPublisher(nats_url=creds.server.url, security=creds.relay, timeout=2.0)
    worker = JetStreamPublisher(nats_url=creds.server.url, security=creds.worker, timeout=1.0)
    try:
        relay.publish("ORDERS.created", b"{}", msg_id="creds-1")
        with pytest.raises(KitError):
            worker.publish("ORDERS.approved", b"{}", msg_id="creds-2")
    finally:
        relay.close()
        worker.close()
    assert creds.count() == before + 1
    assert 'Publish Violation - Subject "ORDERS.approved"' in creds.server.log()


def test_the_worker_user_consumes_and_acks_with_its_creds(creds: Creds) -> None:
    handled_as(creds.server.url, publish_as=creds.relay, consume_as=creds.worker, subject="ORDERS.paid",
               payload=b"for-the-creds-worker", durable="payment")


def test_a_user_of_an_untrusted_account_or_no_creds_is_refused(creds: Creds, tmp_path: Path) -> None:
    async def connect(security: NatsSecurity) -> None:
        async with connection(creds.server.url, security=security, timeout=1.0) as client:
            await client.flush(timeout=1)

    for security in (creds.stranger, NatsSecurity()):
        with pytest.raises(KitError):
            run_sync(connect(security))
    with pytest.raises(ValueError, match=r"absent\.creds"):
        NatsSecurity(creds_file=tmp_path / "absent.creds")
