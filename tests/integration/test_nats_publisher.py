"""JetStreamPublisher, ensure_stream and run_until_signal against a real nats-server."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import threading
import time
from collections.abc import Iterator

import nats
import pytest
from prometheus_client import CollectorRegistry

from kit.context import scope
from kit.errors import DeadlineExceeded, Unavailable
from kit.nats import JetStreamConsumer, JetStreamPublisher, Message, Outgoing, ensure_stream, run_until_signal
from kit.testing.nats import NatsServer, running_nats
from kit.testing.tracing import RecordingTracer
from kit.tracing import SpanKind
from kit.zipkin import b3

pytestmark = pytest.mark.integration

_names = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with running_nats() as nats_server:
        yield nats_server


@pytest.fixture
def stream(server: NatsServer) -> str:
    name = f"P{next(_names)}"
    ensure_stream(server.url, name, [f"{name}.*"])
    return name


def stored(url: str, stream: str, seq: int) -> tuple[str, bytes, dict[str, str]]:
    async def get() -> tuple[str, bytes, dict[str, str]]:
        client = await nats.connect(url)
        try:
            msg = await client.jetstream().get_msg(stream, seq)
            return msg.subject or "", msg.data or b"", dict(msg.headers or {})
        finally:
            await client.close()

    return asyncio.run(get())


def stream_subjects(url: str, stream: str) -> list[str]:
    async def get() -> list[str]:
        client = await nats.connect(url)
        try:
            return list((await client.jetstream().stream_info(stream)).config.subjects or [])
        finally:
            await client.close()

    return asyncio.run(get())


def test_publish_returns_the_sequence_and_drops_duplicates_by_msg_id(server: NatsServer, stream: str) -> None:
    publisher = JetStreamPublisher(nats_url=server.url)
    try:
        first = publisher.publish(f"{stream}.created", b'{"a":1}', headers={"Event-Id": "e-1"}, msg_id="e-1")
        second = publisher.publish(f"{stream}.created", b"{}", msg_id="e-2")
        again = publisher.publish(f"{stream}.created", b'{"a":1}', headers={"Event-Id": "e-1"}, msg_id="e-1")
    finally:
        publisher.close()
    assert (first, second, again) == (1, 2, 1)
    subject, data, headers = stored(server.url, stream, 1)
    assert (subject, data) == (f"{stream}.created", b'{"a":1}')
    assert headers["Event-Id"] == "e-1" and headers["Nats-Msg-Id"] == "e-1"


def test_publish_opens_a_producer_span_and_injects_b3(server: NatsServer, stream: str) -> None:
    tracer = RecordingTracer("orders")
    publisher = JetStreamPublisher(nats_url=server.url, tracer=tracer)
    try:
        with tracer.span("POST /orders", SpanKind.SERVER) as parent:
            seq = publisher.publish(f"{stream}.created", b"{}")
    finally:
        publisher.close()
    producer = tracer.collector.by_kind(SpanKind.PRODUCER)[0]
    assert producer.parent_id == parent.span_id and producer.name == f"{stream}.created"
    assert producer.tags["messaging.stream_sequence"] == str(seq)
    extracted = b3.extract(stored(server.url, stream, seq)[2])
    assert extracted.context is not None
    assert (extracted.context.trace_id, extracted.context.span_id) == (producer.trace_id, producer.span_id)


def test_publish_endpoint_and_errors(server: NatsServer, stream: str) -> None:
    publisher = JetStreamPublisher(nats_url=server.url, timeout=1.0)
    try:
        send = publisher.endpoint(lambda n: Outgoing(f"{stream}.created", str(n).encode(), msg_id=f"n-{n}"))
        assert send(7) == 1
        with pytest.raises(Unavailable):
            publisher.publish("NOSTREAM.created", b"{}")  # no stream listens on the subject
        with scope(timeout=-1.0), pytest.raises(DeadlineExceeded):
            publisher.publish(f"{stream}.created", b"{}")
    finally:
        publisher.close()
    with pytest.raises(Unavailable):
        publisher.publish(f"{stream}.created", b"{}")  # closed


def test_publisher_cannot_reach_nats_is_unavailable() -> None:
    publisher = JetStreamPublisher(nats_url="nats://127.0.0.1:1", timeout=0.5)
    try:
        with pytest.raises(Unavailable):
            publisher.publish("ORDERS.created", b"{}")
    finally:
        publisher.close()


def test_ensure_stream_is_idempotent_and_adds_subjects(server: NatsServer) -> None:
    name = f"E{next(_names)}"
    ensure_stream(server.url, name, [f"{name}.a"])
    ensure_stream(server.url, name, [f"{name}.a"])
    ensure_stream(server.url, name, [f"{name}.b"])
    assert sorted(stream_subjects(server.url, name)) == [f"{name}.a", f"{name}.b"]


def test_run_until_signal_drains_consumers_on_sigterm(server: NatsServer, stream: str) -> None:
    started = threading.Event()
    finished: list[bytes] = []

    def slow(message: Message) -> None:
        started.set()
        time.sleep(0.3)
        finished.append(message.data)

    consumers = [JetStreamConsumer(slow, lambda m: m, nats_url=server.url, stream=stream, durable=f"w{i}",
                                   registry=CollectorRegistry()) for i in range(2)]
    publisher = JetStreamPublisher(nats_url=server.url)
    publisher.publish(f"{stream}.created", b"x")
    publisher.close()

    def terminate() -> None:
        started.wait(10)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate).start()
    previous = signal.getsignal(signal.SIGTERM)
    run_until_signal(consumers)
    assert signal.getsignal(signal.SIGTERM) == previous  # restored
    assert sum(c.processed for c in consumers) == len(finished) >= 1
