"""The event store over gRPC, end to end: a real server, SQL, nats-server, kit and raw clients."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import nats
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from contracts import eventstore_pb2 as pb
from contracts import eventstore_pb2_grpc as pb_grpc
from eventstoresvc import jetstream
from eventstoresvc.client import EventStoreClient
from eventstoresvc.domain import EventQuery, ExpectedVersion
from eventstoresvc.testing import order_event
from kit.errors import Conflict, InvalidArgument
from kit.testing.nats import NatsServer
from kit.testing.wait import eventually

pytestmark = pytest.mark.integration


async def _stream_ids(url: str) -> list[str]:
    client = await nats.connect(url)
    js = client.jetstream()
    info = await js.stream_info(jetstream.STREAM_NAME)
    ids = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1) if info.state.messages else ():
        msg = await js.get_msg(jetstream.STREAM_NAME, seq)
        ids.append((msg.headers or {})["Nats-Msg-Id"])
    await client.close()
    return ids


def published_ids(url: str) -> list[str]:
    return asyncio.run(_stream_ids(url))


_ids = itertools.count()


def aggregate() -> str:
    return f"order-{time.monotonic_ns()}-{next(_ids)}"


def test_a_go_original_shaped_call_is_stored_and_published(
    channel: grpc.Channel, nats_server: NatsServer
) -> None:
    stub = pb_grpc.EventStoreStub(channel)
    order = aggregate()
    go_event = pb.Event(event_id=f"go-{order}", event_type="ORDERS.created", aggregate_id=order,
                        aggregate_type="order", event_data=json.dumps({"order_id": order, "amount": 100}),
                        stream="ORDERS")
    # Only fields 1-6, serialised as the Go client would send them.
    wire = pb.CreateEventRequest(event=go_event).SerializeToString()
    reply = pb.CreateEventResponse.FromString(
        channel.unary_unary("/eventstore.EventStore/CreateEvent")(wire, timeout=10))
    assert reply.is_success is True
    assert reply.error == ""
    assert (reply.event.version, reply.event.event_id) == (1, go_event.event_id)
    fetched = stub.GetEvents(pb.GetEventsRequest(aggregate_id=order), timeout=10)
    assert [e.event_data for e in fetched.events] == [go_event.event_data]
    eventually(lambda: go_event.event_id in published_ids(nats_server.url), timeout=20, interval=0.05,
               describe=lambda: "not published")


def test_invalid_events_are_rejected_with_field_violations_and_not_stored(client: EventStoreClient) -> None:
    order = aggregate()
    bad = [
        order_event(order, data=None).__class__(event_id="", event_type="ORDERS.created", aggregate_id=order,
                                                aggregate_type="order", event_data="{}"),
        order_event(order).__class__(event_id="x1", event_type="PAYMENTS.created", aggregate_id=order,
                                     aggregate_type="order", event_data="{}"),
        order_event(order).__class__(event_id="x2", event_type="ORDERS", aggregate_id=order,
                                     aggregate_type="order", event_data="{}"),
        order_event(order).__class__(event_id="x3", event_type="ORDERS.created", aggregate_id=order,
                                     aggregate_type="order", event_data="[1, 2]"),
        order_event(order).__class__(event_id="x4", event_type="ORDERS.created", aggregate_id=order,
                                     aggregate_type="order", event_data="{" + '"a": "' + "x" * 70000 + '"}'),
    ]
    expected_fields = ["event.event_id", "event.event_type", "event.event_type", "event.event_data",
                       "event.event_data"]
    for event, field in zip(bad, expected_fields, strict=True):
        with pytest.raises(InvalidArgument) as caught:
            client.create_event(event)
        assert field in [f.field for f in caught.value.fields]
    assert client.get_events(EventQuery(aggregate_id=order)) == []


def test_twenty_concurrent_appends_one_wins_the_rest_are_aborted(client: EventStoreClient) -> None:
    order = aggregate()
    client.create_event(order_event(order), ExpectedVersion.no_stream())
    barrier = threading.Barrier(20)

    def attempt(i: int) -> str:
        barrier.wait()
        try:
            client.create_event(order_event(order, "paid", {"i": i}), ExpectedVersion.exact(1))
        except Conflict as exc:
            assert "at version 2" in exc.message
            return "aborted"
        return "won"

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    assert sorted(outcomes) == ["aborted"] * 19 + ["won"]
    assert [e.version for e in client.get_events(EventQuery(aggregate_id=order))] == [1, 2]


def test_retrying_an_append_returns_the_stored_event(client: EventStoreClient) -> None:
    event = order_event(aggregate())
    first = client.create_event(event, ExpectedVersion.no_stream())
    assert client.create_event(event, ExpectedVersion.no_stream()) == first


def test_get_events_filters(client: EventStoreClient) -> None:
    order = aggregate()
    created = client.create_event(order_event(order))
    paid = client.create_event(order_event(order, "paid"))
    assert client.get_events(EventQuery(aggregate_id=order)) == [created, paid]
    assert client.get_events(EventQuery(aggregate_id=order, event_types=("ORDERS.paid",))) == [paid]
    assert client.get_events(EventQuery(event_id=created.event_id)) == [created]
    assert client.get_events(EventQuery(from_position=created.position, limit=1)) == [created]


def test_stream_catches_up_then_follows_live_appends_exactly_once(client: EventStoreClient) -> None:
    order = aggregate()
    before = [client.create_event(order_event(order, "created"))]
    start = before[0].position
    writers_done = threading.Event()
    appended = list(before)
    lock = threading.Lock()

    def write(n: int) -> None:
        for i in range(15):
            recorded = client.create_event(order_event(f"{order}-{n}", "paid", {"i": i}))
            with lock:
                appended.append(recorded)

    stream = client.stream_events(EventQuery(from_position=start))
    received = []
    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for event in stream:
        received.append(event)
        if len(received) == 1 + 4 * 15:
            break
    for thread in threads:
        thread.join()
    writers_done.set()
    stream.close()  # type: ignore[attr-defined]
    ours = [e for e in received if e.aggregate_id.startswith(order)]
    assert [e.position for e in received] == sorted({e.position for e in received})  # in order, no repeats
    assert {e.event_id for e in ours} == {e.event_id for e in appended}
    assert len(ours) == len(appended)


def test_stream_rejects_a_bad_query(client: EventStoreClient) -> None:
    with pytest.raises(InvalidArgument):
        next(iter(client.stream_events(EventQuery(from_position=-1))))


def test_health_and_reflection(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    status = health.Check(health_pb2.HealthCheckRequest(service="eventstore.EventStore"), timeout=5)
    assert status.status == health_pb2.HealthCheckResponse.SERVING
    reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
    replies = reflect.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                           timeout=5)
    names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert "eventstore.EventStore" in names
