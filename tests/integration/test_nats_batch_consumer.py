"""Batch consumers against a real nats-server: one call per batch, a poison message isolated."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from prometheus_client import CollectorRegistry

from kit.errors import InvalidArgument
from kit.nats import JetStreamConsumer, JetStreamPublisher, dead_letters, ensure_stream
from kit.testing.nats import NatsServer, running_nats
from kit.testing.wait import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with running_nats() as nats_server:
        yield nats_server


class Ledger:
    """A batch endpoint committing a whole batch or nothing (as one SQL transaction would)."""

    def __init__(self) -> None:
        self.committed: list[str] = []
        self.batch_sizes: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, requests: Sequence[str]) -> None:
        time.sleep(0.005)  # a commit's round trip, so that messages pile up behind a running batch
        with self._lock:
            self.batch_sizes.append(len(requests))
            if "poison" in requests:
                raise InvalidArgument("poison is not an entry")
            self.committed.extend(requests)


def test_a_poison_message_is_dead_lettered_and_its_batch_mates_are_committed_and_acked_once(
        server: NatsServer) -> None:
    ensure_stream(server.url, "LEDGER", ["LEDGER.*"])
    ledger = Ledger()
    consumer = JetStreamConsumer.batched(
        ledger, lambda m: m.data.decode(), max_batch=50, nats_url=server.url, stream="LEDGER",
        durable="ledger", max_concurrency=1, batch=200, dead_letter_stream="LEDGERDEAD",
        registry=CollectorRegistry())
    publisher = JetStreamPublisher(nats_url=server.url)
    entries = [f"entry-{i}" for i in range(300)]
    entries.insert(150, "poison")
    for number, entry in enumerate(entries):
        publisher.publish("LEDGER.entry", entry.encode(), msg_id=f"m-{number}")
    consumer.start()
    try:
        eventually(lambda: consumer.processed == 300 and consumer.dead_lettered == 1, timeout=20)
    finally:
        consumer.stop()
    assert sorted(ledger.committed) == sorted(entries[:150] + entries[151:])
    assert len(ledger.committed) == 300  # nothing twice
    assert max(ledger.batch_sizes) > 1
    [letter] = dead_letters(server.url, "LEDGERDEAD")
    assert (letter.data, letter.reason) == (b"poison", "INVALID_ARGUMENT: poison is not an entry")
    assert consumer.retried == 0


def test_a_quiet_batch_consumer_handles_a_lone_message_at_once(server: NatsServer) -> None:
    ensure_stream(server.url, "LONE", ["LONE.*"])
    seen: list[list[bytes]] = []
    consumer = JetStreamConsumer.batched(
        lambda batch: seen.append([m.data for m in batch]), lambda m: m, max_batch=50,
        nats_url=server.url, stream="LONE", durable="lone", registry=CollectorRegistry())
    consumer.start()
    try:
        JetStreamPublisher(nats_url=server.url).publish("LONE.one", b"one", msg_id="one")
        eventually(lambda: consumer.processed == 1, timeout=10)
    finally:
        consumer.stop()
    assert seen == [[b"one"]]
