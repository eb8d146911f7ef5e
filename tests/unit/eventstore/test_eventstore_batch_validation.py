"""Validation of batch appends: which batches are refused, and which item and field is named."""

from __future__ import annotations

from dataclasses import replace

import pytest

from eventstoresvc.domain import Append, ExpectedVersion
from eventstoresvc.testing import order_event
from eventstoresvc.validation import DEFAULT_MAX_BATCH_EVENTS, Limits, validate_batch
from kit.errors import InvalidArgument


def _fields(exc: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [f.field for f in exc.value.fields]


def test_a_valid_batch_is_accepted_and_each_stream_derived() -> None:
    items = [Append(replace(order_event(f"o{i}"), stream="")) for i in range(3)]
    assert [a.event.stream for a in validate_batch(items, Limits())] == ["ORDERS"] * 3


def test_an_empty_batch_is_invalid() -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_batch([], Limits())
    assert _fields(caught) == ["items"]


def test_a_batch_over_the_limit_is_invalid_and_the_limit_is_configurable() -> None:
    assert Limits().max_batch_events == DEFAULT_MAX_BATCH_EVENTS == 1000
    items = [Append(order_event(f"o{i}")) for i in range(4)]
    validate_batch(items, Limits(max_batch_events=4))
    with pytest.raises(InvalidArgument) as caught:
        validate_batch(items, Limits(max_batch_events=3))
    assert _fields(caught) == ["items"]
    assert "over the limit of 3" in caught.value.message


def test_violations_name_the_item_index_and_field() -> None:
    items = [
        Append(order_event("o0")),
        Append(replace(order_event("o1"), event_type="ORDERS", stream="")),
        Append(order_event("o2")),
        Append(replace(order_event("o3"), event_data="[]"), ExpectedVersion.exact(-1)),
    ]
    with pytest.raises(InvalidArgument) as caught:
        validate_batch(items, Limits())
    assert _fields(caught) == ["items.1.event.event_type", "items.3.event.event_data",
                               "items.3.expected_version.version"]


def test_an_event_id_repeated_inside_the_batch_is_invalid() -> None:
    event = order_event("o1")
    with pytest.raises(InvalidArgument) as caught:
        validate_batch([Append(event), Append(order_event("o2")), Append(event)], Limits())
    assert _fields(caught) == ["items.2.event.event_id"]
    assert "repeats items.0" in caught.value.message
