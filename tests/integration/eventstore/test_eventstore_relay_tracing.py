"""The relay's publish of each event is a PRODUCER span in the trace of the append that stored it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from prometheus_client import CollectorRegistry

from eventstoresvc import jetstream
from eventstoresvc.domain import ExpectedVersion, Metadata
from eventstoresvc.engine import make_engine
from eventstoresvc.relay import OutboxRelay
from eventstoresvc.schema import create_schema
from eventstoresvc.sqlstore import SqlEventRepository
from eventstoresvc.testing import order_event
from kit.testing.tracing import RecordingTracer
from kit.testing.wait import eventually
from kit.tracing import SpanKind

pytestmark = pytest.mark.integration

APPEND = Metadata(trace_id="a" * 32, span_id="b" * 16, parent_span_id="c" * 16, sampled="1")


async def _reset_stream(url: str, *, create: bool) -> None:
    client = await nats.connect(url)
    js = client.jetstream()
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await js.delete_stream(jetstream.STREAM_NAME)
    if create:
        await jetstream.ensure_stream(js)
    await client.close()


async def _headers(url: str) -> list[dict[str, str]]:
    client = await nats.connect(url)
    js = client.jetstream()
    info = await js.stream_info(jetstream.STREAM_NAME)
    found = [dict((await js.get_msg(jetstream.STREAM_NAME, seq)).headers or {})
             for seq in range(info.state.first_seq, info.state.last_seq + 1)]
    await client.close()
    return found


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[SqlEventRepository]:
    engine = make_engine(f"sqlite:///{tmp_path / 'relay.db'}")
    create_schema(engine)
    repository = SqlEventRepository(engine)
    yield repository
    repository.close()
    engine.dispose()


@pytest.fixture
def tracer() -> RecordingTracer:
    return RecordingTracer("eventstoresvc")


def start_relay(repository: SqlEventRepository, url: str, tracer: RecordingTracer) -> OutboxRelay:
    relay = OutboxRelay(repository, url, registry=CollectorRegistry(), tracer=tracer, ack_timeout=1.0,
                        max_backoff=0.3, idle_poll=0.1)
    relay.start()
    return relay


def test_each_publish_is_a_producer_span_in_the_appends_trace_and_travels_in_the_headers(
        repository: SqlEventRepository, nats_url: str, tracer: RecordingTracer) -> None:
    asyncio.run(_reset_stream(nats_url, create=True))
    repository.append(order_event("o1", metadata=APPEND), ExpectedVersion.any())
    repository.append(order_event("o2"), ExpectedVersion.any())  # appended outside any trace
    relay = start_relay(repository, nats_url, tracer)
    try:
        eventually(lambda: repository.backlog() == 0 and len(tracer.spans) == 2,
                   describe=lambda: f"spans {tracer.spans}")
    finally:
        relay.stop(flush_timeout=0)
    traced, untraced = tracer.collector.by_kind(SpanKind.PRODUCER)
    assert (traced.trace_id, traced.parent_id) == (APPEND.trace_id, APPEND.span_id)
    assert traced.name == "ORDERS.created"
    assert traced.tags["messaging.system"] == "nats"
    assert traced.tags["messaging.stream_sequence"] == "1"
    assert "error" not in traced.tags
    assert untraced.parent_id is None and untraced.trace_id != APPEND.trace_id

    first, second = asyncio.run(_headers(nats_url))
    # The consumers continue from the PRODUCER span, not from the append's span.
    assert first["x-b3-traceid"] == APPEND.trace_id
    assert first["x-b3-spanid"] == traced.span_id
    assert first["x-b3-parentspanid"] == APPEND.span_id
    assert first["x-b3-sampled"] == "1"
    assert (second["x-b3-traceid"], second["x-b3-spanid"]) == (untraced.trace_id, untraced.span_id)


def test_a_refused_publish_is_a_producer_span_tagged_with_the_error(
        repository: SqlEventRepository, nats_url: str, tracer: RecordingTracer) -> None:
    asyncio.run(_reset_stream(nats_url, create=False))  # no stream: the server answers "no responders"
    repository.append(order_event("o1", metadata=APPEND), ExpectedVersion.any())
    relay = start_relay(repository, nats_url, tracer)
    try:
        spans = eventually(lambda: tracer.collector.by_kind(SpanKind.PRODUCER))
    finally:
        relay.stop(flush_timeout=0)
    assert "no responders" in spans[0].tags["error"]
    assert spans[0].trace_id == APPEND.trace_id
    assert repository.backlog() == 1  # still in the outbox, to be published once the stream exists
