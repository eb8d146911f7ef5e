"""Expected-version conditions and conflict messages."""

from __future__ import annotations

from dataclasses import replace

from eventstoresvc.domain import ExpectedVersion, conflict_message
from eventstoresvc.testing import order_event


def test_expected_version_conditions() -> None:
    assert all(ExpectedVersion.any().allows(v) for v in (0, 1, 9))
    assert ExpectedVersion.no_stream().allows(0)
    assert not ExpectedVersion.no_stream().allows(1)
    assert ExpectedVersion.exact(3).allows(3)
    assert not ExpectedVersion.exact(3).allows(2)
    assert ExpectedVersion.exact(0).allows(0)


def test_conflict_message_names_the_current_version() -> None:
    message = conflict_message("order-1", 4, ExpectedVersion.exact(2))
    assert message == "aggregate 'order-1' is at version 4, but the append expected version 2"
    assert "expected no-stream" in conflict_message("o", 1, ExpectedVersion.no_stream())


def test_same_content_ignores_metadata_but_not_data() -> None:
    event = order_event(data={"n": 1})
    assert event.same_content(replace(event, metadata=replace(event.metadata, correlation_id="other")))
    assert not event.same_content(replace(event, event_data='{"n": 2}'))
    assert not event.same_content(replace(event, aggregate_id="other"))
