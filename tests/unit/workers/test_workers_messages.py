"""The workers' decoder: JetStream messages of the ORDERS stream back into stored events."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from contracts.events import Metadata, RecordedEvent
from eventstoresvc.jetstream import headers
from kit.nats import Message
from kit.nats.message import lower_headers
from workers.messages import decode_event

HEADERS = {"Nats-Msg-Id": "e-1", "Event-Id": "e-1", "Event-Type": "ORDERS.created", "Aggregate-Id": "o-1",
           "Aggregate-Type": "order", "Event-Version": "1", "Event-Position": "42",
           "Created-At": "2024-05-01T12:00:00.5Z"}


def message(headers: dict[str, str], data: bytes = b'{"order_id": "o-1"}') -> Message:
    return Message("ORDERS.created", data, lower_headers(headers), stream_sequence=7)


def test_a_relayed_event_decodes_with_its_identity_from_the_headers() -> None:
    event = decode_event(message(HEADERS))
    assert (event.event_id, event.event_type, event.aggregate_id, event.version, event.position) == (
        "e-1", "ORDERS.created", "o-1", 1, 42)
    assert event.event_data == '{"order_id": "o-1"}'
    assert event.created_at == datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)


@pytest.mark.parametrize(("header", "value"), [
    ("Event-Id", ""), ("Aggregate-Id", ""), ("Event-Version", "0"), ("Event-Version", "x"),
    ("Event-Position", "-1"), ("Created-At", "yesterday"),
])
def test_a_message_that_is_no_stored_event_is_refused(header: str, value: str) -> None:
    with pytest.raises(ValueError):
        decode_event(message({**HEADERS, header: value}))


def test_a_body_that_is_not_text_is_refused() -> None:
    with pytest.raises(ValueError, match="UTF-8"):
        decode_event(message(HEADERS, b"\xff\xfe"))


def test_the_subject_stands_in_for_a_missing_event_type() -> None:
    headers = {k: v for k, v in HEADERS.items() if k != "Event-Type"}
    assert decode_event(message(headers)).event_type == "ORDERS.created"


def test_an_event_as_the_relay_publishes_it_decodes_to_the_stored_event() -> None:
    stored = RecordedEvent(
        event_id="e-1", event_type="ORDERS.paymentdebited", aggregate_id="o-1", aggregate_type="order",
        event_data='{"order_id": "o-1", "amount": 25.00}', stream="ORDERS", version=2, position=42,
        created_at=datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC),
        metadata=Metadata(correlation_id="o-1", causation_id="e-0", trace_id="a" * 32, span_id="b" * 16,
                          sampled="1"))
    relayed = Message(stored.event_type, stored.event_data.encode(), lower_headers(headers(stored)),
                      stream_sequence=42)
    # The trace context travels in the B3 headers, where the consumer continues the trace from.
    assert decode_event(relayed) == dataclasses.replace(
        stored, metadata=Metadata(correlation_id="o-1", causation_id="e-0"))
