"""The outbox relay against a real nats-server: delivery, order, outages and crashes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import nats
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import ColumnElement

from eventstoresvc import jetstream
from eventstoresvc.domain import ExpectedVersion, Metadata
from eventstoresvc.engine import make_engine
from eventstoresvc.relay import OutboxRelay
from eventstoresvc.schema import create_schema
from eventstoresvc.sqlstore import SqlEventRepository
from eventstoresvc.testing import order_event
from kit.testing.nats import NatsServer
from kit.testing.wait import eventually

pytestmark = pytest.mark.integration


async def _fresh_stream(url: str) -> None:
    client = await nats.connect(url)
    js = client.jetstream()
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await js.delete_stream(jetstream.STREAM_NAME)
    await jetstream.ensure_stream(js)
    await client.close()


async def _messages(url: str) -> list[tuple[str, bytes, dict[str, str]]]:
    client = await nats.connect(url)
    js = client.jetstream()
    info = await js.stream_info(jetstream.STREAM_NAME)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1) if info.state.messages else ():
        msg = await js.get_msg(jetstream.STREAM_NAME, seq)
        found.append((msg.subject, msg.data or b"", dict(msg.headers or {})))
    await client.close()
    return found


def messages(url: str) -> list[tuple[str, bytes, dict[str, str]]]:
    """Every message in the ORDERS stream: subject, body, headers."""
    return asyncio.run(_messages(url))


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[SqlEventRepository]:
    engine = make_engine(f"sqlite:///{tmp_path / 'relay.db'}")
    create_schema(engine)
    repository = SqlEventRepository(engine)
    yield repository
    repository.close()
    engine.dispose()


@pytest.fixture
def stream(nats_url: str) -> str:
    asyncio.run(_fresh_stream(nats_url))
    return nats_url


@pytest.fixture
def relay_factory(repository: SqlEventRepository) -> Iterator[Callable[..., OutboxRelay]]:
    relays: list[OutboxRelay] = []

    def make(url: str, repo: object = None, **options: float) -> OutboxRelay:
        settings = {"ack_timeout": 1.0, "max_backoff": 0.3, "idle_poll": 0.1, **options}
        relay = OutboxRelay(repo or repository, url, registry=CollectorRegistry(), **settings)  # type: ignore[arg-type]
        relays.append(relay)
        relay.start()
        return relay

    yield make
    for relay in relays:
        relay.stop(flush_timeout=0)


def test_events_are_published_in_order_with_body_and_headers(
    repository: SqlEventRepository, stream: str, relay_factory: Callable[..., OutboxRelay]
) -> None:
    meta = Metadata(correlation_id="corr", causation_id="cause", trace_id="a" * 32, span_id="b" * 16,
                    parent_span_id="c" * 16, sampled="1")
    first = repository.append(order_event("o1", data={"order_id": "o1", "amount": "9.90"}, metadata=meta),
                              ExpectedVersion.any())
    second = repository.append(order_event("o1", "paymentdebited"), ExpectedVersion.exact(1))
    relay = relay_factory(stream)
    eventually(lambda: repository.backlog() == 0)
    found = messages(stream)
    assert [subject for subject, _, _ in found] == ["ORDERS.created", "ORDERS.paymentdebited"]
    _subject, body, headers = found[0]
    assert json.loads(body) == {"order_id": "o1", "amount": "9.90"}
    assert headers["Nats-Msg-Id"] == first.event_id
    assert headers["Event-Version"] == "1"
    assert headers["Event-Position"] == str(first.position)
    assert headers["Aggregate-Id"] == "o1"
    assert headers["Correlation-Id"] == "corr"
    assert headers["x-b3-traceid"] == "a" * 32
    assert headers["x-b3-spanid"] == "b" * 16
    assert headers["x-b3-parentspanid"] == "c" * 16
    assert headers["x-b3-sampled"] == "1"
    assert found[1][2]["Nats-Msg-Id"] == second.event_id
    eventually(lambda: relay.metrics.backlog._value.get() == 0)
    assert relay.metrics.published._value.get() == 2


def test_nats_killed_after_commit_before_publish_delivers_exactly_once(
    repository: SqlEventRepository, stream: str, nats_server: NatsServer,
    relay_factory: Callable[..., OutboxRelay],
) -> None:
    relay = relay_factory(stream)
    before = repository.append(order_event("o1"), ExpectedVersion.any())
    eventually(lambda: repository.backlog() == 0)

    nats_server.kill()
    # Appends keep working during the outage; their events wait in the outbox.
    during = [repository.append(order_event(f"o{i}"), ExpectedVersion.any()) for i in range(2, 6)]
    eventually(lambda: relay.metrics.failures._value.get() > 0)
    assert repository.backlog() == 4
    eventually(lambda: relay.metrics.backlog._value.get() == 4)

    nats_server.start()
    eventually(lambda: repository.backlog() == 0)
    ids = [headers["Nats-Msg-Id"] for _, _, headers in messages(stream)]
    assert ids == [e.event_id for e in [before, *during]]  # each once, in position order


class _CrashBeforeMarking(SqlEventRepository):
    """A repository whose first attempt to mark events published fails, like a crash right after the ack."""

    crashed = False

    def mark_published(self, positions_: Sequence[int], guard: ColumnElement[bool] | None = None) -> None:
        if not self.crashed:
            self.crashed = True
            raise ConnectionError("the process died before recording the ack")
        super().mark_published(positions_, guard)


def test_republish_after_an_unrecorded_ack_is_dropped_as_duplicate(
    repository: SqlEventRepository, stream: str, relay_factory: Callable[..., OutboxRelay]
) -> None:
    crashing = _CrashBeforeMarking(repository.engine)
    try:
        events = [crashing.append(order_event(f"o{i}"), ExpectedVersion.any()) for i in range(3)]
        relay_factory(stream, crashing)
        eventually(lambda: crashing.backlog() == 0)
        assert crashing.crashed
        ids = [headers["Nats-Msg-Id"] for _, _, headers in messages(stream)]
        assert ids == [e.event_id for e in events]
    finally:
        crashing.close()


def test_relay_started_while_nats_is_down_publishes_once_it_is_up(
    repository: SqlEventRepository, stream: str, nats_server: NatsServer,
    relay_factory: Callable[..., OutboxRelay],
) -> None:
    nats_server.stop()
    relay = relay_factory(stream)
    event = repository.append(order_event("late"), ExpectedVersion.any())
    eventually(lambda: relay.metrics.failures._value.get() > 0)
    nats_server.start()
    eventually(lambda: repository.backlog() == 0)
    assert [h["Nats-Msg-Id"] for _, _, h in messages(stream)] == [event.event_id]


def test_stop_flushes_the_backlog(
    repository: SqlEventRepository, stream: str, relay_factory: Callable[..., OutboxRelay]
) -> None:
    relay = relay_factory(stream)
    for i in range(20):
        repository.append(order_event(f"o{i}"), ExpectedVersion.any())
    relay.stop(flush_timeout=10)
    assert repository.backlog() == 0
    assert len(messages(stream)) == 20


class _DiesBeforeCheckpoint(SqlEventRepository):
    """A repository whose checkpoint never moves: the relay process dies after the acks, every time."""

    def mark_published(self, positions_: Sequence[int], guard: ColumnElement[bool] | None = None) -> None:
        raise ConnectionError("the process died between the acks and the checkpoint")


def test_a_relay_restarted_after_acks_without_checkpoint_leaves_each_event_once(
    repository: SqlEventRepository, stream: str, relay_factory: Callable[..., OutboxRelay]
) -> None:
    dying = _DiesBeforeCheckpoint(repository.engine)
    try:
        events = [dying.append(order_event(f"o{i}"), ExpectedVersion.any()) for i in range(5)]
        first = relay_factory(stream, dying)
        eventually(lambda: first.metrics.published._value.get() >= 5)  # acked by JetStream...
        first.stop(flush_timeout=0)
        assert repository.backlog() == 5  # ...but the checkpoint never moved
    finally:
        dying.close()
    relay_factory(stream)  # the restarted process publishes the backlog again
    eventually(lambda: repository.backlog() == 0)
    ids = [headers["Nats-Msg-Id"] for _, _, headers in messages(stream)]
    assert ids == [e.event_id for e in events]  # the copies were dropped as duplicates


def test_backlog_after_restart_is_published_in_position_order(
    repository: SqlEventRepository, stream: str, relay_factory: Callable[..., OutboxRelay]
) -> None:
    events = [repository.append(order_event(f"o{i % 4}", f"step{i}"), ExpectedVersion.any())
              for i in range(25)]
    relay_factory(stream, batch_size=7)  # several batches, read from the database
    eventually(lambda: repository.backlog() == 0)
    found = messages(stream)
    assert [h["Event-Position"] for _, _, h in found] == [str(e.position) for e in events]
    assert [h["Nats-Msg-Id"] for _, _, h in found] == [e.event_id for e in events]


def test_commits_of_another_process_are_published_in_order_with_ours(
    repository: SqlEventRepository, stream: str, relay_factory: Callable[..., OutboxRelay]
) -> None:
    other = SqlEventRepository(repository.engine)  # another process: its commits are not in our window
    try:
        relay_factory(stream, batch_size=5)
        stored = []
        for i in range(12):
            writer = other if i % 3 == 0 else repository
            stored.append(writer.append(order_event(f"o{i}"), ExpectedVersion.any()))
        eventually(lambda: repository.backlog() == 0)
        ids = [h["Nats-Msg-Id"] for _, _, h in messages(stream)]
        assert ids == [e.event_id for e in stored]
    finally:
        other.close()


def test_a_commit_wakes_the_idle_relay_long_before_its_poll(
    repository: SqlEventRepository, stream: str, relay_factory: Callable[..., OutboxRelay]
) -> None:
    relay = relay_factory(stream, idle_poll=60.0, checkpoint_interval=0.0)  # polling alone: a minute
    repository.append(order_event("o1"), ExpectedVersion.any())
    eventually(lambda: repository.backlog() == 0)
    time.sleep(0.5)  # the relay has saved its checkpoint and sleeps in its minute-long idle wait
    for i in range(3):
        woke = repository.append(order_event(f"o{i + 2}"), ExpectedVersion.any())
        eventually(lambda: repository.backlog() == 0, timeout=10.0)  # far below the poll
        assert messages(stream)[-1][2]["Nats-Msg-Id"] == woke.event_id
        time.sleep(0.2)
    assert relay.metrics.published._value.get() == 4
