"""AppendEvents end to end: a real event store (SQLite, PostgreSQL) over gRPC, its relay, nats-server."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import replace

import grpc
import pytest

from contracts import eventstore_pb2 as pb
from contracts import eventstore_pb2_grpc as pb_grpc
from eventstoresvc import jetstream
from eventstoresvc.client import EventStoreClient
from eventstoresvc.domain import (
    Append,
    AppendConflict,
    ConflictReason,
    EventQuery,
    ExpectedVersion,
    NotApplied,
    RecordedEvent,
)
from eventstoresvc.testing import order_event
from kit.errors import InvalidArgument
from kit.testing.nats import NatsServer
from kit.testing.wait import eventually

from .test_eventstore_relay import messages

pytestmark = pytest.mark.integration

_ids = itertools.count()


def aggregate() -> str:
    return f"batch-{time.monotonic_ns()}-{next(_ids)}"


def stored(outcomes: Sequence[object]) -> list[RecordedEvent]:
    return [o for o in outcomes if isinstance(o, RecordedEvent)]


def published(url: str, prefix: str) -> list[dict[str, str]]:
    """The headers of the stream's messages whose aggregate id starts with ``prefix-``, in order."""
    return [headers for _, _, headers in messages(url)
            if headers.get("Aggregate-Id", "").startswith(f"{prefix}-")]


def test_one_conflicting_item_fails_alone_the_rest_are_stored_in_order(client: EventStoreClient) -> None:
    a, b, c = aggregate(), aggregate(), aggregate()
    client.create_event(order_event(a), ExpectedVersion.no_stream())
    outcomes = client.append_events([
        Append(order_event(b), ExpectedVersion.no_stream()),
        Append(order_event(a, "paid"), ExpectedVersion.no_stream()),  # a is at version 1
        Append(order_event(c), ExpectedVersion.no_stream()),
        Append(order_event(a, "paid"), ExpectedVersion.exact(1)),
    ])
    conflict = outcomes[1]
    assert isinstance(conflict, AppendConflict)
    assert (conflict.reason, conflict.current_version) == (ConflictReason.WRONG_EXPECTED_VERSION, 1)
    events = stored(outcomes)
    assert [(e.aggregate_id, e.version) for e in events] == [(b, 1), (c, 1), (a, 2)]
    first = events[0].position
    assert [e.position for e in events] == [first, first + 1, first + 2]  # gap-free, in item order
    assert client.get_events(EventQuery(from_position=first)) == events


def test_all_or_nothing_stores_nothing_when_an_item_conflicts(client: EventStoreClient) -> None:
    a, b = aggregate(), aggregate()
    before = client.create_event(order_event(a), ExpectedVersion.no_stream())
    outcomes = client.append_events([
        Append(order_event(b), ExpectedVersion.no_stream()),
        Append(order_event(a, "paid"), ExpectedVersion.exact(3)),
        Append(order_event(a, "approved")),
    ], all_or_nothing=True)
    assert isinstance(outcomes[1], AppendConflict)
    assert outcomes[1].current_version == 1
    assert [isinstance(o, NotApplied) and o.conflicting == (1,) for o in (outcomes[0], outcomes[2])] == [
        True, True]
    assert client.get_events(EventQuery(aggregate_id=b)) == []
    assert client.get_events(EventQuery(aggregate_id=a)) == [before]
    after = client.create_event(order_event(aggregate()))
    assert after.position == before.position + 1  # the failed batch took no position


def test_items_of_one_aggregate_follow_each_other_inside_a_batch(client: EventStoreClient) -> None:
    a = aggregate()
    outcomes = client.append_events([
        Append(order_event(a, "created"), ExpectedVersion.no_stream()),
        Append(order_event(a, "paid"), ExpectedVersion.exact(1)),
        Append(order_event(a, "approved"), ExpectedVersion.exact(2)),
    ], all_or_nothing=True)
    assert [(e.event_type, e.version) for e in stored(outcomes)] == [
        ("ORDERS.created", 1), ("ORDERS.paid", 2), ("ORDERS.approved", 3)]
    assert client.get_events(EventQuery(aggregate_id=a)) == outcomes


def test_retrying_a_whole_batch_is_idempotent(client: EventStoreClient) -> None:
    a, b = aggregate(), aggregate()
    items = [Append(order_event(a), ExpectedVersion.no_stream()),
             Append(order_event(a, "paid"), ExpectedVersion.exact(1)),
             Append(order_event(b), ExpectedVersion.no_stream())]
    first = client.append_events(items, all_or_nothing=True)
    assert len(stored(first)) == 3
    assert client.append_events(items, all_or_nothing=True) == first
    assert client.append_events(items) == first
    assert len(client.get_events(EventQuery(aggregate_id=a))) == 2
    reused = Append(replace(order_event(b, "paid"), event_id=items[2].event.event_id))
    [conflict] = client.append_events([reused])
    assert isinstance(conflict, AppendConflict) and conflict.reason is ConflictReason.EVENT_ID_REUSED


@pytest.mark.parametrize(("items", "field"), [
    ([], "items"),
    ([Append(order_event(f"too-many-{i}")) for i in range(1001)], "items"),
    ([Append(order_event("bad-0")), Append(order_event("bad-1")),
      Append(replace(order_event("bad-2"), event_type="ORDERS"))], "items.2.event.event_type"),
    ([Append(order_event("bad-3")), Append(replace(order_event("bad-4"), aggregate_id=""))],
     "items.1.event.aggregate_id"),
])
def test_a_bad_batch_is_invalid_and_stores_nothing(client: EventStoreClient, items: list[Append],
                                                   field: str) -> None:
    before = client.create_event(order_event(aggregate()))
    with pytest.raises(InvalidArgument) as caught:
        client.append_events(items)
    assert field in [f.field for f in caught.value.fields]
    for item in items[:3]:
        assert client.get_events(EventQuery(event_id=item.event.event_id)) == []
    assert client.create_event(order_event(aggregate())).position == before.position + 1


def test_raw_wire_results_and_a_repeated_id_and_an_unknown_expectation(channel: grpc.Channel) -> None:
    stub = pb_grpc.EventStoreStub(channel)
    a = aggregate()
    first = order_event(a)
    wire = pb.AppendEventsRequest(items=[
        pb.AppendItem(event=pb.Event(event_id=first.event_id, event_type="ORDERS.created", aggregate_id=a,
                                     aggregate_type="order", event_data="{}")),
        pb.AppendItem(event=pb.Event(event_id=f"{a}-2", event_type="ORDERS.paid", aggregate_id=a,
                                     aggregate_type="order", event_data="{}"),
                      expected_version=pb.ExpectedVersion(kind=pb.ExpectedVersion.NO_STREAM)),
    ])
    reply = stub.AppendEvents(wire, timeout=10)
    assert [r.WhichOneof("result") for r in reply.results] == ["event", "conflict"]
    assert (reply.results[0].event.version, reply.results[0].event.stream) == (1, "ORDERS")
    assert reply.results[1].conflict.reason == pb.AppendConflict.WRONG_EXPECTED_VERSION
    assert reply.results[1].conflict.current_version == 1
    repeated = pb.AppendEventsRequest(items=[wire.items[1], wire.items[1]])
    unknown = pb.AppendEventsRequest(items=[
        pb.AppendItem(event=wire.items[1].event,
                      expected_version=pb.ExpectedVersion(kind=7))])  # type: ignore[arg-type]
    for bad, field, why in ((repeated, "items.1.event.event_id", "repeats items.0"),
                            (unknown, "items.0.expected_version.kind", "unknown kind")):
        with pytest.raises(grpc.RpcError) as caught:
            stub.AppendEvents(bad, timeout=10)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert f"{field}: {why}" in str(caught.value.details())
    assert len(stub.GetEvents(pb.GetEventsRequest(aggregate_id=a), timeout=10).events) == 1


def test_the_events_of_a_batch_reach_jetstream_exactly_once_like_single_appends(
    client: EventStoreClient, nats_server: NatsServer
) -> None:
    prefix = aggregate()
    single = client.create_event(order_event(f"{prefix}-single"))
    items = [Append(order_event(f"{prefix}-{i % 7}", data={"i": i})) for i in range(60)]
    items[5] = Append(items[5].event, ExpectedVersion.exact(99))  # one conflict: not published
    outcomes = client.append_events(items)
    assert stored(client.append_events(items)) == stored(outcomes)  # a retry publishes nothing twice
    events = [single, *stored(outcomes)]
    assert len(events) == 60
    eventually(lambda: len(published(nats_server.url, prefix)) >= len(events), timeout=30, interval=0.05,
               describe=lambda: f"{len(published(nats_server.url, prefix))} of {len(events)} published")
    found = published(nats_server.url, prefix)
    assert [h["Nats-Msg-Id"] for h in found] == [e.event_id for e in events]  # once each, in order
    assert found == [jetstream.headers(e) for e in events]  # the same message as a single append's
