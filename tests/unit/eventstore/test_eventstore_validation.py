"""Validation of appends and queries: which inputs are refused, and with which field paths."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from eventstoresvc.domain import EventQuery, ExpectedVersion, Metadata
from eventstoresvc.testing import order_event
from eventstoresvc.validation import Limits, validate_append, validate_query
from kit.errors import InvalidArgument

LIMITS = Limits()


def fields(exc: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [f.field for f in exc.value.fields]


def test_a_valid_event_is_accepted_and_its_stream_derived() -> None:
    event = replace(order_event(), stream="")
    assert validate_append(event, ExpectedVersion.any(), LIMITS).stream == "ORDERS"


@pytest.mark.parametrize(("change", "field"), [
    ({"event_id": ""}, "event.event_id"),
    ({"event_id": "has space"}, "event.event_id"),
    ({"event_id": "x" * 129}, "event.event_id"),
    ({"aggregate_id": ""}, "event.aggregate_id"),
    ({"aggregate_type": ""}, "event.aggregate_type"),
    ({"event_type": ""}, "event.event_type"),
    ({"event_type": "created"}, "event.event_type"),
    ({"event_type": "ORDERS."}, "event.event_type"),
    ({"event_type": "ORDERS.a.b"}, "event.event_type"),
    ({"event_type": "ORDERS.*"}, "event.event_type"),
    ({"event_type": "PAYMENTS.created"}, "event.event_type"),
    ({"stream": "PAYMENTS"}, "event.stream"),
    ({"event_data": ""}, "event.event_data"),
    ({"event_data": "not json"}, "event.event_data"),
    ({"event_data": "[1]"}, "event.event_data"),
    ({"event_data": '"text"'}, "event.event_data"),
    ({"metadata": Metadata(trace_id="XYZ", span_id="b" * 16)}, "event.metadata.trace_id"),
    ({"metadata": Metadata(trace_id="a" * 32)}, "event.metadata.span_id"),
    ({"metadata": Metadata(sampled="yes")}, "event.metadata.sampled"),
])
def test_invalid_fields_are_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_append(replace(order_event(), **change), ExpectedVersion.any(), LIMITS)  # type: ignore[arg-type]
    assert field in fields(caught)


def test_every_problem_is_reported_at_once() -> None:
    event = replace(order_event(), event_id="", aggregate_id="", event_data="[]")
    with pytest.raises(InvalidArgument) as caught:
        validate_append(event, ExpectedVersion.any(), LIMITS)
    assert fields(caught) == ["event.event_id", "event.aggregate_id", "event.event_data"]


def test_event_data_limit_is_configurable_and_counts_bytes() -> None:
    data = json.dumps({"name": "é" * 40})  # 80 bytes of UTF-8 for 40 characters
    small = Limits(max_data_bytes=60)
    with pytest.raises(InvalidArgument, match="bytes, over 60"):
        validate_append(replace(order_event(), event_data=data), ExpectedVersion.any(), small)
    assert validate_append(replace(order_event(), event_data=data), ExpectedVersion.any(), LIMITS)


def test_default_limit_is_64_kib() -> None:
    just_fits = json.dumps({"a": "x" * (64 * 1024 - 9)})
    assert len(just_fits) == 64 * 1024
    validate_append(replace(order_event(), event_data=just_fits), ExpectedVersion.any(), LIMITS)
    too_big = json.dumps({"a": "x" * (64 * 1024 - 8)})
    with pytest.raises(InvalidArgument):
        validate_append(replace(order_event(), event_data=too_big), ExpectedVersion.any(), LIMITS)


def test_other_known_streams_can_be_configured() -> None:
    event = replace(order_event(), event_type="PAYMENTS.debited", stream="")
    limits = Limits(streams=frozenset({"ORDERS", "PAYMENTS"}))
    assert validate_append(event, ExpectedVersion.any(), limits).stream == "PAYMENTS"


def test_negative_exact_version_is_refused() -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_append(order_event(), ExpectedVersion.exact(-1), LIMITS)
    assert fields(caught) == ["expected_version.version"]


@pytest.mark.parametrize(("query", "field"), [
    (EventQuery(from_position=-1), "from_position"),
    (EventQuery(limit=0), "limit"),
    (EventQuery(event_types=("",)), "event_types.0"),
    (EventQuery(aggregate_id="bad id"), "aggregate_id"),
])
def test_bad_queries_are_refused(query: EventQuery, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_query(query)
    assert fields(caught) == [field]
