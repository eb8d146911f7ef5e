"""The pure decision of batches: order within a batch, all-or-nothing rollback, state between batches."""

from __future__ import annotations

from datetime import UTC, datetime

from eventstoresvc.decide import Batch, Decider
from eventstoresvc.domain import (
    Append,
    AppendConflict,
    ConflictReason,
    ExpectedVersion,
    NotApplied,
    RecordedEvent,
)
from eventstoresvc.testing import order_event

NOW = datetime(2026, 1, 2, tzinfo=UTC)


def test_a_rolled_back_batch_takes_no_position_and_later_batches_see_the_state_before_it() -> None:
    decider = Decider({}, {"a": 2}, head=10, now=NOW)
    failed = decider.decide(Batch([
        Append(order_event("a", "paid"), ExpectedVersion.exact(2)),
        Append(order_event("b"), ExpectedVersion.exact(4)),
    ], all_or_nothing=True))
    assert isinstance(failed[0], NotApplied) and failed[0].conflicting == (1,)
    assert isinstance(failed[1], AppendConflict) and failed[1].current_version == 0
    assert (decider.head, decider.accepted) == (10, [])
    [after] = decider.decide(Batch([Append(order_event("a", "paid"), ExpectedVersion.exact(2))]))
    assert isinstance(after, RecordedEvent)
    assert (after.version, after.position, after.created_at) == (3, 11, NOW)
    assert decider.accepted == [after]


def test_a_conflict_in_an_all_or_nothing_batch_is_judged_after_its_earlier_items() -> None:
    decider = Decider({}, {}, head=0, now=NOW)
    outcomes = decider.decide(Batch([
        Append(order_event("a"), ExpectedVersion.no_stream()),
        Append(order_event("a", "paid"), ExpectedVersion.no_stream()),
    ], all_or_nothing=True))
    conflict = outcomes[1]
    assert isinstance(conflict, AppendConflict)
    assert (conflict.reason, conflict.current_version) == (ConflictReason.WRONG_EXPECTED_VERSION, 1)
    assert decider.accepted == []


def test_an_id_stored_before_with_the_same_content_is_returned_whatever_the_expectation() -> None:
    event = order_event("a")
    decider = Decider({}, {}, head=0, now=NOW)
    [first] = decider.decide(Batch([Append(event, ExpectedVersion.no_stream())]))
    [again] = decider.decide(Batch([Append(event, ExpectedVersion.exact(9))], all_or_nothing=True))
    assert again == first
    assert decider.head == 1
