"""JetStreamConsumer against a real nats-server: acks, retries, dead letters, heartbeats, drain, spans."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerInfo
from prometheus_client import CollectorRegistry

from kit.context import current
from kit.errors import InvalidArgument, Unavailable
from kit.nats import JetStreamConsumer, JetStreamPublisher, Message, dead_letters, ensure_stream
from kit.testing.nats import NatsServer, running_nats
from kit.testing.tracing import RecordingTracer
from kit.testing.wait import eventually
from kit.tracing import SpanKind

pytestmark = pytest.mark.integration

_names = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with running_nats() as nats_server:
        yield nats_server


@pytest.fixture
def stream(server: NatsServer) -> str:
    """A fresh stream for each test (subjects ``<name>.*``)."""
    name = f"S{next(_names)}"
    ensure_stream(server.url, name, [f"{name}.*"])
    return name


@pytest.fixture
def publisher(server: NatsServer) -> Iterator[JetStreamPublisher]:
    pub = JetStreamPublisher(nats_url=server.url)
    yield pub
    pub.close()


def consumer_info(url: str, stream: str, durable: str) -> ConsumerInfo:
    async def info() -> ConsumerInfo:
        client = await nats.connect(url)
        try:
            return await client.jetstream().consumer_info(stream, durable)
        finally:
            await client.close()

    return asyncio.run(info())


def make(server: NatsServer, stream: str, endpoint: Callable[[Message], object], **kwargs: object
         ) -> JetStreamConsumer[Message]:
    settings: dict[str, object] = {"durable": "worker", "registry": CollectorRegistry(),
                                   "dead_letter_stream": f"DLQ{stream}", "backoff": (0.05,), **kwargs}
    return JetStreamConsumer(endpoint, lambda m: m, nats_url=server.url, stream=stream,
                             **settings)  # type: ignore[arg-type]


def test_every_message_is_handled_once_and_acked(server: NatsServer, stream: str,
                                                  publisher: JetStreamPublisher) -> None:
    for i in range(50):
        publisher.publish(f"{stream}.created", str(i).encode(), headers={"Event-Id": f"e-{i}"})
    seen: list[tuple[str, int]] = []
    lock = threading.Lock()

    def endpoint(message: Message) -> None:
        with lock:
            seen.append((message.headers["event-id"], message.num_delivered))

    consumer = make(server, stream, endpoint)
    consumer.start()
    eventually(lambda: consumer.processed == 50, timeout=10)
    consumer.stop()
    assert sorted(seen) == sorted((f"e-{i}", 1) for i in range(50))
    info = consumer_info(server.url, stream, "worker")
    assert (info.num_pending, info.num_ack_pending, info.num_redelivered) == (0, 0, 0)
    assert info.config.ack_policy == AckPolicy.EXPLICIT.value
    assert info.config.max_deliver == 6  # one spare delivery to dead-letter a handler crash loop


def test_consumer_creation_is_idempotent_and_instances_share_the_work(
        server: NatsServer, stream: str, publisher: JetStreamPublisher) -> None:
    handled: dict[str, list[bytes]] = {"a": [], "b": []}

    def endpoint_for(name: str) -> Callable[[Message], None]:
        def endpoint(message: Message) -> None:
            time.sleep(0.005)
            handled[name].append(message.data)
        return endpoint

    first = make(server, stream, endpoint_for("a"), batch=4, max_concurrency=2)
    second = make(server, stream, endpoint_for("b"), batch=4, max_concurrency=2)
    first.start()
    second.start()  # same durable, same configuration: no error
    for i in range(60):
        publisher.publish(f"{stream}.created", str(i).encode())
    eventually(lambda: first.processed + second.processed == 60, timeout=10)
    first.stop()
    second.stop()
    assert handled["a"] and handled["b"]
    assert sorted(handled["a"] + handled["b"]) == sorted(str(i).encode() for i in range(60))


def test_filter_subjects_limit_what_is_delivered(server: NatsServer, stream: str,
                                                 publisher: JetStreamPublisher) -> None:
    subjects: list[str] = []
    consumer = make(server, stream, lambda m: subjects.append(m.subject),
                    filter_subjects=[f"{stream}.created", f"{stream}.approved"])
    consumer.start()
    for kind in ("created", "paid", "approved", "paid"):
        publisher.publish(f"{stream}.{kind}", b"{}")
    eventually(lambda: consumer.processed == 2, timeout=10)
    consumer.stop()
    assert sorted(subjects) == [f"{stream}.approved", f"{stream}.created"]
    assert consumer_info(server.url, stream, "worker").num_pending == 0


def test_retryable_failures_are_redelivered_until_they_succeed(
        server: NatsServer, stream: str, publisher: JetStreamPublisher) -> None:
    deliveries: list[int] = []

    def endpoint(message: Message) -> None:
        deliveries.append(message.num_delivered)
        if message.num_delivered < 3:
            raise Unavailable("payment gateway down") if message.num_delivered == 1 else OSError("reset")

    consumer = make(server, stream, endpoint, max_deliver=5)
    consumer.start()
    publisher.publish(f"{stream}.created", b"{}")
    eventually(lambda: consumer.processed == 1, timeout=10)
    consumer.stop()
    assert deliveries == [1, 2, 3]
    assert consumer.retried == 2 and consumer.dead_lettered == 0
    assert dead_letters(server.url, f"DLQ{stream}") == []


def test_poison_messages_are_dead_lettered_while_the_rest_flow(
        server: NatsServer, stream: str, publisher: JetStreamPublisher) -> None:
    poison_deliveries: list[int] = []

    def endpoint(message: Message) -> None:
        if message.data == b"poison":
            poison_deliveries.append(message.num_delivered)
            raise RuntimeError("cannot handle this")
        if message.data == b"invalid":
            raise InvalidArgument("amount must be positive")

    def decode(message: Message) -> Message:
        if message.data == b"garbage":
            raise ValueError("not JSON")
        return message

    registry = CollectorRegistry()
    consumer = JetStreamConsumer(endpoint, decode, nats_url=server.url, stream=stream, durable="worker",
                                 max_deliver=3, backoff=(0.05, 0.1), dead_letter_stream=f"DLQ{stream}",
                                 registry=registry)
    consumer.start()
    publisher.publish(f"{stream}.created", b"poison", headers={"Event-Id": "p-1", "Nats-Msg-Id": "p-1"})
    publisher.publish(f"{stream}.created", b"invalid", headers={"Event-Id": "i-1"})
    publisher.publish(f"{stream}.created", b"garbage", headers={"Event-Id": "g-1"})
    for i in range(20):
        publisher.publish(f"{stream}.created", f"ok-{i}".encode())
    eventually(lambda: consumer.processed == 20 and consumer.dead_lettered == 3, timeout=10)
    consumer.stop()
    assert poison_deliveries == [1, 2, 3]
    letters = {letter.headers["Event-Id"]: letter for letter in dead_letters(server.url, f"DLQ{stream}")}
    assert set(letters) == {"p-1", "i-1", "g-1"}
    poison = letters["p-1"]
    assert (poison.subject, poison.stream, poison.consumer, poison.deliveries, poison.data) == (
        f"{stream}.created", stream, "worker", 3, b"poison")
    assert poison.reason == "failed 3 deliveries, last: RuntimeError: cannot handle this"
    assert poison.headers["Nats-Msg-Id"] == "p-1"
    assert poison.stream_sequence == 1
    invalid, garbage = letters["i-1"], letters["g-1"]
    assert (invalid.deliveries, invalid.reason) == (1, "INVALID_ARGUMENT: amount must be positive")
    assert (garbage.deliveries, garbage.reason) == (1, "undecodable message: ValueError: not JSON")
    info = consumer_info(server.url, stream, "worker")
    assert (info.num_pending, info.num_ack_pending) == (0, 0)
    labels = {"stream": stream, "consumer": "worker"}
    assert registry.get_sample_value("jetstream_consumer_dead_letters_total", labels) == 3
    assert registry.get_sample_value("jetstream_consumer_redeliveries_total", labels) == 2
    messages = "jetstream_consumer_messages_total"
    assert registry.get_sample_value(messages, {**labels, "outcome": "acked"}) == 20
    assert registry.get_sample_value(messages, {**labels, "outcome": "nakd"}) == 2
    assert registry.get_sample_value("jetstream_consumer_received_total", labels) == 25


def test_in_progress_heartbeats_keep_a_slow_handler_s_message(
        server: NatsServer, stream: str, publisher: JetStreamPublisher) -> None:
    deliveries: list[int] = []

    def endpoint(message: Message) -> None:
        deliveries.append(message.num_delivered)
        time.sleep(2.5)  # much longer than ack_wait

    consumer = make(server, stream, endpoint, ack_wait=1.0, heartbeat=0.2)
    consumer.start()
    publisher.publish(f"{stream}.created", b"{}")
    eventually(lambda: consumer.processed == 1, timeout=10)
    consumer.stop()
    assert deliveries == [1]
    assert consumer_info(server.url, stream, "worker").num_redelivered == 0


def test_stop_lets_running_handlers_finish_and_acks_them(
        server: NatsServer, stream: str, publisher: JetStreamPublisher) -> None:
    started = threading.Event()
    finished: list[bytes] = []

    def endpoint(message: Message) -> None:
        started.set()
        time.sleep(0.5)
        finished.append(message.data)

    consumer = make(server, stream, endpoint, max_concurrency=1, batch=8)
    consumer.start()
    for i in range(8):
        publisher.publish(f"{stream}.created", str(i).encode())
    assert started.wait(5)
    consumer.stop()
    assert finished and consumer.processed == len(finished)
    rest: list[bytes] = []
    successor = make(server, stream, lambda m: rest.append(m.data))
    successor.start()
    # The ones never started were given back at once, not left to sit out the 30 s ack wait.
    eventually(lambda: successor.processed == 8 - len(finished), timeout=5)
    successor.stop()
    assert sorted(finished + rest) == sorted(str(i).encode() for i in range(8))


def test_consumer_span_continues_the_publisher_s_trace(server: NatsServer, stream: str) -> None:
    tracer = RecordingTracer("orders")
    publisher = JetStreamPublisher(nats_url=server.url, tracer=tracer)
    seen: dict[str, object] = {}

    def endpoint(message: Message) -> None:
        seen["trace"] = current().trace
        seen["event-id"] = current().metadata.get("event-id")

    consumer = make(server, stream, endpoint, tracer=tracer)
    consumer.start()
    try:
        with tracer.span("POST /orders", SpanKind.SERVER):
            publisher.publish(f"{stream}.created", b"{}", headers={"Event-Id": "e-1"}, msg_id="e-1")
        eventually(lambda: consumer.processed == 1, timeout=10)
    finally:
        consumer.stop()
        publisher.close()
    producer = tracer.collector.by_kind(SpanKind.PRODUCER)[0]
    consumer_span = tracer.collector.by_kind(SpanKind.CONSUMER)[0]
    assert consumer_span.trace_id == producer.trace_id
    assert consumer_span.parent_id == producer.span_id
    assert consumer_span.name == f"{stream}.created"
    assert consumer_span.tags["messaging.stream"] == stream
    assert consumer_span.tags["messaging.delivery_count"] == "1"
    assert seen["event-id"] == "e-1"
    assert getattr(seen["trace"], "span_id", None) == consumer_span.span_id


def test_lag_gauge_reports_messages_waiting(server: NatsServer, stream: str,
                                            publisher: JetStreamPublisher) -> None:
    release = threading.Event()
    registry = CollectorRegistry()
    consumer = make(server, stream, lambda m: release.wait(10), batch=2, max_concurrency=1,
                    lag_interval=0.1, registry=registry)
    for i in range(10):
        publisher.publish(f"{stream}.created", str(i).encode())
    consumer.start()
    labels = {"stream": stream, "consumer": "worker"}
    try:
        eventually(lambda: (registry.get_sample_value("jetstream_consumer_lag", labels) or 0) >= 8,
                   timeout=10)
    finally:
        release.set()
        eventually(lambda: consumer.processed == 10, timeout=10)
        consumer.stop()
    eventually(lambda: consumer_info(server.url, stream, "worker").num_pending == 0, timeout=10)
