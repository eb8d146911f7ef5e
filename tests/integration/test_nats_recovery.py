"""JetStreamConsumer and JetStreamPublisher across nats-server outages (stop, kill, late start)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from nats.js.errors import NotFoundError
from prometheus_client import CollectorRegistry

from kit.errors import Unavailable
from kit.nats import JetStreamConsumer, JetStreamPublisher, Message, ensure_stream
from kit.nats.streams import connection, run_sync
from kit.testing.logging import LogCapture, capture_logs
from kit.testing.nats import NatsServer, running_nats
from kit.testing.wait import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[NatsServer]:
    with running_nats() as nats_server:
        yield nats_server


def publish_retrying(publisher: JetStreamPublisher, subject: str, data: bytes, msg_id: str) -> None:
    """Publish as a relay does: retry while NATS is unavailable (the msg id drops copies)."""

    def published() -> bool:
        try:
            publisher.publish(subject, data, msg_id=msg_id)
        except Unavailable:
            return False
        return True

    eventually(published, timeout=15, interval=0.1, describe=lambda: "NATS did not come back")


def logged(logs: LogCapture, *words: str) -> int:
    """How many of the captured ``kit.nats`` lines contain every one of ``words``."""
    return sum(all(word in record.getMessage() for word in words) for record in logs.records)


def waiting_pulls(nats_url: str, stream: str, durable: str) -> int:
    """Pull requests of ``durable`` waiting on the server for messages (0 before it exists)."""

    async def info() -> int:
        async with connection(nats_url) as client:
            return (await client.jetstream().consumer_info(stream, durable)).num_waiting or 0

    try:
        return run_sync(info())
    except NotFoundError:
        return 0


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
    with capture_logs("kit.nats") as logs:
        try:
            for i in range(200):
                publisher.publish("ORDERS.created", f"m-{i}".encode(), msg_id=f"m-{i}")
            consumer.start()
            eventually(lambda: len(recorder.ids) >= 50, timeout=15)
            server.stop() if outage == "stop" else server.kill()
            # The outage must be one the consumer lived through, not one that ended before it looked.
            eventually(lambda: logged(logs, "projection", "disconnected"), timeout=15,
                       describe=lambda: "\n".join(logs.lines))
            server.start()
            for i in range(200, 300):
                publish_retrying(publisher, "ORDERS.created", f"m-{i}".encode(), f"m-{i}")
            eventually(lambda: recorder.ids >= wanted, timeout=30,
                       describe=lambda: f"missing {sorted(wanted - recorder.ids)[:10]}")
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
    with capture_logs("kit.nats") as logs:
        consumer.start()
        try:
            # Not dead and not consuming while NATS is away: checked once it has tried, and failed,
            # to connect twice (so it is retrying), not after a pause it may have spent starting up.
            eventually(lambda: logged(logs, "late", "connection error") >= 2, timeout=15,
                       describe=lambda: "\n".join(logs.lines))
            assert consumer.running and consumer.processed == 0
            server.start()
            eventually(lambda: consumer.processed == 1, timeout=15)
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
    # Killed once the consumer is in its fetch loop (a pull request waiting on the server), so the
    # stop below drains through a connection that died under it, not one that never was.
    eventually(lambda: waiting_pulls(server.url, "ORDERS", "d") >= 1, timeout=15)
    server.kill()
    consumer.stop(timeout=15)  # raises TimeoutError if the drain hangs on the dead connection
    assert not consumer.running
