"""Dead letters against a real nats-server: listing, replaying to the consumer that gave up."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from prometheus_client import CollectorRegistry

from kit.errors import FailedPrecondition, NotFound
from kit.nats import (
    JetStreamConsumer,
    JetStreamPublisher,
    Message,
    dead_letters,
    discard_after,
    ensure_stream,
    replay_dead_letters,
)
from kit.testing.nats import NatsServer, running_nats
from kit.testing.wait import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with running_nats() as nats_server:
        yield nats_server


class Gate:
    """An endpoint that refuses messages until opened, recording what it handled."""

    def __init__(self) -> None:
        self.open = False
        self.handled: list[bytes] = []
        self._lock = threading.Lock()

    def __call__(self, message: Message) -> None:
        if not self.open:
            raise FailedPrecondition("restaurant unknown")
        with self._lock:
            self.handled.append(message.data)


def consumer(server: NatsServer, endpoint: Callable[[Message], None], durable: str,
             registry: CollectorRegistry | None = None) -> JetStreamConsumer[Message]:
    return JetStreamConsumer(endpoint, lambda m: m, nats_url=server.url, stream="ORDERS", durable=durable,
                             dead_letter_stream="DEAD", registry=registry or CollectorRegistry())


def test_replay_goes_back_to_the_consumer_that_gave_up_only(server: NatsServer) -> None:
    ensure_stream(server.url, "ORDERS", ["ORDERS.*"], duplicate_window=3600.0)
    publisher = JetStreamPublisher(nats_url=server.url)
    payment = Gate()
    projection: list[bytes] = []
    projection_metrics = CollectorRegistry()
    payment_consumer = consumer(server, payment, "payment")
    projection_consumer = consumer(server, lambda m: projection.append(m.data), "projection",
                                   projection_metrics)

    def skipped_by_projection() -> float:
        return projection_metrics.get_sample_value("jetstream_consumer_messages_total", {
            "stream": "ORDERS", "consumer": "projection", "outcome": "skipped"}) or 0
    payment_consumer.start()
    projection_consumer.start()
    try:
        for i in range(3):
            publisher.publish("ORDERS.created", f"order-{i}".encode(), msg_id=f"e-{i}",
                              headers={"Event-Id": f"e-{i}"})
        eventually(lambda: payment_consumer.dead_lettered == 3 and projection_consumer.processed == 3,
                   timeout=10)
        letters = dead_letters(server.url, "DEAD")
        assert [(letter.consumer, letter.data, letter.reason) for letter in letters] == [
            ("payment", f"order-{i}".encode(), "FAILED_PRECONDITION: restaurant unknown") for i in range(3)]
        assert [letter.headers["Nats-Msg-Id"] for letter in letters] == ["e-0", "e-1", "e-2"]

        with pytest.raises(NotFound):
            replay_dead_letters(server.url, ids=[letters[0].id, 999], stream="DEAD")
        assert len(dead_letters(server.url, "DEAD")) == 3  # nothing was replayed

        payment.open = True  # the cause is fixed
        assert replay_dead_letters(server.url, ids=[letters[1].id], stream="DEAD") == 1
        eventually(lambda: payment_consumer.processed == 1, timeout=10)
        assert payment.handled == [b"order-1"]
        assert [letter.id for letter in dead_letters(server.url, "DEAD")] == [letters[0].id, letters[2].id]

        assert replay_dead_letters(server.url, stream="DEAD") == 2
        eventually(lambda: payment_consumer.processed == 3, timeout=10)
        assert sorted(payment.handled) == [b"order-0", b"order-1", b"order-2"]
        assert dead_letters(server.url, "DEAD") == []
        # The projection saw each event once: the three replays addressed to payment reached it
        # too, and it acked them unhandled (waited for, rather than hoped for after a pause).
        eventually(lambda: skipped_by_projection() == 3, timeout=10)
        assert sorted(projection) == [b"order-0", b"order-1", b"order-2"]
        assert projection_consumer.processed == 3
    finally:
        payment_consumer.stop()
        projection_consumer.stop()
        publisher.close()


def test_no_dead_letter_stream_means_no_dead_letters(server: NatsServer) -> None:
    assert dead_letters(server.url, "NOSUCHDLQ") == []
    assert replay_dead_letters(server.url, stream="NOSUCHDLQ") == 0


def test_a_discarding_policy_terminates_what_the_default_would_dead_letter(server: NatsServer) -> None:
    ensure_stream(server.url, "DISCARDS", ["DISCARDS.*"])
    publisher = JetStreamPublisher(nats_url=server.url)
    refused, retried = Gate(), []
    registry = CollectorRegistry()

    def flaky(message: Message) -> None:
        if message.data == b"flaky":
            retried.append(message.num_delivered)
            raise RuntimeError("connection reset")
        refused(message)

    discarding = JetStreamConsumer(flaky, lambda m: m, nats_url=server.url, stream="DISCARDS",
                                   durable="discarding", dead_letter_stream="DEAD", registry=registry,
                                   max_deliver=2, backoff=(0.05,), settlement=discard_after(2, (0.05,)))

    def discarded() -> float:
        return registry.get_sample_value("jetstream_consumer_messages_total", {
            "stream": "DISCARDS", "consumer": "discarding", "outcome": "discarded"}) or 0
    discarding.start()
    try:
        publisher.publish("DISCARDS.created", b"refused", msg_id="d-1")
        publisher.publish("DISCARDS.created", b"flaky", msg_id="d-2")
        eventually(lambda: discarded() == 2, timeout=10)
        assert retried == [1, 2]  # retried as the default would, then discarded instead of dead-lettered
        assert discarding.dead_lettered == 0 and discarding.retried == 1
        assert [letter for letter in dead_letters(server.url, "DEAD") if letter.stream == "DISCARDS"] == []
    finally:
        discarding.stop()
        publisher.close()
