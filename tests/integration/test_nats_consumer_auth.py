"""A JetStream consumer with ``auth``: only messages carrying a valid bearer token reach the endpoint."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from kit.auth import BearerAuth, TokenVerifier, hs256_key, mint_token, subject
from kit.context import current
from kit.nats import JetStreamConsumer, JetStreamPublisher, Message, dead_letters, ensure_stream
from kit.testing.auth import OTHER_SECRET, SECRET
from kit.testing.nats import NatsServer, running_nats
from kit.testing.wait import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with running_nats() as nats_server:
        yield nats_server


def test_a_single_consumer_sees_the_claims_and_dead_letters_messages_without_a_valid_token(
        server: NatsServer) -> None:
    ensure_stream(server.url, "ORDERS", ["ORDERS.*"], duplicate_window=60.0)
    handled: list[tuple[bytes, str | None, bool]] = []
    lock = threading.Lock()

    def endpoint(message: Message) -> None:
        with lock:
            handled.append((message.data, subject(), "authorization" in current().metadata))

    auth = BearerAuth(TokenVerifier([hs256_key(SECRET)]))
    consumer = JetStreamConsumer(endpoint, lambda m: m, nats_url=server.url, stream="ORDERS",
                                 durable="secured", dead_letter_stream="DEAD", registry=CollectorRegistry(),
                                 auth=auth)
    valid = mint_token(SECRET, subject="relay", scopes=["service"])
    expired = mint_token(SECRET, subject="relay", ttl=60, now=time.time() - 3600)
    publish = {
        "good": {"Authorization": f"Bearer {valid}"},
        "none": {},
        "other-key": {"Authorization": f"Bearer {mint_token(OTHER_SECRET, subject='relay')}"},
        "expired": {"Authorization": f"Bearer {expired}"},
    }
    publisher = JetStreamPublisher(nats_url=server.url)
    consumer.start()
    try:
        for name, headers in publish.items():
            publisher.publish("ORDERS.created", name.encode(), msg_id=f"auth-{name}", headers=headers)
        eventually(lambda: consumer.processed == 1 and consumer.dead_lettered == 3, timeout=15)
    finally:
        consumer.stop()
        publisher.close()
    assert handled == [(b"good", "relay", False)]
    letters = {letter.data: letter.reason for letter in dead_letters(server.url, "DEAD")}
    assert set(letters) == {b"none", b"other-key", b"expired"}
    assert all(reason.startswith("UNAUTHENTICATED") for reason in letters.values())
