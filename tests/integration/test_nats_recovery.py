"""JetStreamConsumer and JetStreamPublisher across nats-server outages (stop, kill, late start)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from prometheus_client import CollectorRegistry

from kit.errors import Unavailable
from kit.nats import JetStreamConsumer, JetStreamPublisher, Message, ensure_stream
from kit.testing.nats import NatsServer, running_nats

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[NatsServer]:
    with running_nats() as nats_server:
        yield nats_server


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.02)


def publish_retrying(publisher: JetStreamPublisher, subject: str, data: bytes, msg_id: str) -> None:
    """Publish as a relay does: retry while NATS is unavailable (the msg id drops copies)."""
    end = time.monotonic() + 15
    while True:
        try:
            publisher.publish(subject, data, msg_id=msg_id)
            return
        except Unavailable:
            assert time.monotonic() < end, "NATS did not come back"
            time.sleep(0.1)


class Recorder:
    """An endpoint that records message ids, a little slowly, so the outage lands mid-run."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, message: Message) -> None:
        time.sleep(0.002)
        with self._lock:
            self.ids.add(message.data.decode())


@pytest.mark.parametrize("outage", ["stop", "kill"])
def test_consumer_resumes_after_a_server_restart_and_handles_every_message(
        server: NatsServer, outage: str) -> None:
    ensure_stream(server.url, "ORDERS", ["ORDERS.*"])
    publisher = JetStreamPublisher(nats_url=server.url, timeout=1.0)
    recorder = Recorder()
    consumer: JetStreamConsumer[Message] = JetStreamConsumer(
        recorder, lambda m: m, nats_url=server.url, stream="ORDERS", durable="projection",
        registry=CollectorRegistry(), ack_wait=2.0, heartbeat=0.5, backoff=(0.1,))
    wanted = {f"m-{i}" for i in range(300)}
    try:
        for i in range(200):
            publisher.publish("ORDERS.created", f"m-{i}".encode(), msg_id=f"m-{i}")
        consumer.start()
        wait_until(lambda: len(recorder.ids) >= 50)
        server.stop() if outage == "stop" else server.kill()
        time.sleep(0.5)
        server.start()
        for i in range(200, 300):
            publish_retrying(publisher, "ORDERS.created", f"m-{i}".encode(), f"m-{i}")
        wait_until(lambda: recorder.ids >= wanted, timeout=30)
    finally:
        consumer.stop()
        publisher.close()
    assert recorder.ids == wanted


def test_consumer_started_before_nats_waits_for_it(server: NatsServer) -> None:
    ensure_stream(server.url, "ORDERS", ["ORDERS.*"])
    publisher = JetStreamPublisher(nats_url=server.url)
    publisher.publish("ORDERS.created", b"m-0", msg_id="m-0")
    publisher.close()
    server.stop()
    recorder = Recorder()
    consumer: JetStreamConsumer[Message] = JetStreamConsumer(
        recorder, lambda m: m, nats_url=server.url, stream="ORDERS", durable="late",
        registry=CollectorRegistry())
    consumer.start()
    try:
        time.sleep(0.5)
        assert consumer.running and consumer.processed == 0
        server.start()
        wait_until(lambda: consumer.processed == 1)
    finally:
        consumer.stop()
    assert recorder.ids == {"m-0"}


def test_publisher_reports_unavailable_while_nats_is_down_then_recovers(server: NatsServer) -> None:
    ensure_stream(server.url, "ORDERS", ["ORDERS.*"])
    publisher = JetStreamPublisher(nats_url=server.url, timeout=0.5)
    try:
        assert publisher.publish("ORDERS.created", b"1", msg_id="a") == 1
        server.stop()
        with pytest.raises(Unavailable):
            publisher.publish("ORDERS.created", b"2", msg_id="b")
        server.start()
        publish_retrying(publisher, "ORDERS.created", b"2", "b")
        assert publisher.publish("ORDERS.created", b"2", msg_id="b") == 2  # a duplicate: same sequence
    finally:
        publisher.close()


def test_stop_returns_promptly_while_nats_is_down(server: NatsServer) -> None:
    ensure_stream(server.url, "ORDERS", ["ORDERS.*"])
    consumer: JetStreamConsumer[Message] = JetStreamConsumer(
        lambda m: None, lambda m: m, nats_url=server.url, stream="ORDERS", durable="d",
        registry=CollectorRegistry())
    consumer.start()
    time.sleep(0.3)
    server.kill()
    consumer.stop(timeout=15)  # raises TimeoutError if the drain hangs on the dead connection
    assert not consumer.running
