"""Protobuf <-> dataclass conversions of the gRPC transport, and the NATS message headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts import eventstore_pb2 as pb
from eventstoresvc import grpc as transport
from eventstoresvc import jetstream
from eventstoresvc.domain import EventQuery, Expectation, ExpectedVersion, Metadata, RecordedEvent
from kit.errors import InvalidArgument

RECORDED = RecordedEvent(
    event_id="e1", event_type="ORDERS.created", aggregate_id="o1", aggregate_type="order",
    event_data='{"order_id": "o1"}', stream="ORDERS", version=3, position=42,
    created_at=datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
    metadata=Metadata(correlation_id="c", causation_id="d", trace_id="a" * 32, span_id="b" * 16,
                      parent_span_id="", sampled="d"),
)


def test_a_go_original_request_decodes_to_an_append_with_expected_version_any() -> None:
    go = pb.Event(event_id="e1", event_type="ORDERS.created", aggregate_id="o1", aggregate_type="order",
                  event_data="{}", stream="ORDERS")
    request = transport.decode_create_event(pb.CreateEventRequest.FromString(
        pb.CreateEventRequest(event=go).SerializeToString()))
    assert request.expected == ExpectedVersion.any()
    event = request.event
    assert (event.event_id, event.stream, event.metadata) == ("e1", "ORDERS", Metadata())


@pytest.mark.parametrize("expected", [
    ExpectedVersion.any(), ExpectedVersion.no_stream(), ExpectedVersion.exact(7)])
def test_expected_version_round_trips(expected: ExpectedVersion) -> None:
    msg = pb.CreateEventRequest(expected_version=transport.expected_to_pb(expected))
    assert transport.expected_from_pb(msg) == expected


def test_an_unknown_expectation_kind_is_invalid() -> None:
    msg = pb.CreateEventRequest(expected_version=pb.ExpectedVersion(kind=99))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        transport.expected_from_pb(msg)
    assert Expectation.EXACT.value == "exact"


def test_a_recorded_event_round_trips_through_protobuf() -> None:
    msg = transport.recorded_to_pb(RECORDED)
    assert (msg.version, msg.position) == (3, 42)
    assert transport.recorded_from_pb(pb.Event.FromString(msg.SerializeToString())) == RECORDED


def test_create_response_is_a_success_for_go_clients() -> None:
    from eventstoresvc.endpoints import CreateEventResponse

    reply = transport.encode_create_event(CreateEventResponse(RECORDED))
    assert reply.is_success and reply.error == "" and reply.event.event_id == "e1"


def test_query_round_trips_and_zero_limit_means_none() -> None:
    query = EventQuery(event_id="e", aggregate_id="a", event_types=("ORDERS.x", "ORDERS.y"),
                       from_position=5, limit=9)
    assert transport.query_from_pb(transport.query_to_pb(query)) == query
    assert transport.query_from_pb(pb.GetEventsRequest()).limit is None
    with pytest.raises(InvalidArgument):
        transport.query_from_pb(pb.GetEventsRequest(limit=-1))


def test_message_headers_carry_ids_version_position_and_b3() -> None:
    headers = jetstream.headers(RECORDED)
    assert headers["Nats-Msg-Id"] == "e1"
    assert headers["Event-Version"] == "3"
    assert headers["Event-Position"] == "42"
    assert headers["Created-At"] == "2024-05-06T07:08:09.123456Z"
    assert headers["Correlation-Id"] == "c"
    assert headers["x-b3-traceid"] == "a" * 32
    assert headers["x-b3-flags"] == "1"  # debug
    assert "x-b3-parentspanid" not in headers


def test_headers_without_trace_or_correlation() -> None:
    plain = RecordedEvent(**{**RECORDED.__dict__, "metadata": Metadata()})
    headers = jetstream.headers(plain)
    assert not any(key.startswith("x-b3") for key in headers)
    assert "Correlation-Id" not in headers


def test_an_append_events_request_round_trips_and_a_bad_item_is_named() -> None:
    from eventstoresvc.domain import Append
    from eventstoresvc.testing import order_event

    items = [Append(order_event("o1"), ExpectedVersion.no_stream()),
             Append(order_event("o2"), ExpectedVersion.exact(3))]
    wire = pb.AppendEventsRequest.FromString(
        transport.encode_append_request((items, True)).SerializeToString())
    decoded = transport.decode_append_events(wire)
    assert (list(decoded.items), decoded.all_or_nothing) == (items, True)
    wire.items[1].expected_version.kind = 99  # type: ignore[assignment]
    with pytest.raises(InvalidArgument) as caught:
        transport.decode_append_events(wire)
    assert [f.field for f in caught.value.fields] == ["items.1.expected_version.kind"]


def test_append_results_round_trip_through_protobuf() -> None:
    from eventstoresvc.domain import AppendConflict, ConflictReason, NotApplied

    conflict = AppendConflict("at version 4", reason=ConflictReason.WRONG_EXPECTED_VERSION,
                              current_version=4)
    results = [transport.result_from_pb(pb.AppendResult.FromString(
        transport.result_to_pb(outcome).SerializeToString()))
        for outcome in (RECORDED, conflict, NotApplied([1]))]
    assert results[0] == RECORDED
    assert isinstance(results[1], AppendConflict)
    assert (results[1].reason, results[1].current_version, results[1].message) == (
        ConflictReason.WRONG_EXPECTED_VERSION, 4, "at version 4")
    assert isinstance(results[2], NotApplied) and results[2].conflicting == (1,)
    with pytest.raises(ValueError):
        transport.result_from_pb(pb.AppendResult())
