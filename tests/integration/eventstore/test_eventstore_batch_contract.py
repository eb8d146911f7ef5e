"""Batch appends (``append_batch``) against every adapter: memory, SQLite, PostgreSQL and the
cockroachdb:// dialect; the same contract as single appends, item by item, in one transaction."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from eventstoresvc.domain import (
    Append,
    AppendConflict,
    ConflictReason,
    EventQuery,
    ExpectedVersion,
    NotApplied,
    RecordedEvent,
)
from eventstoresvc.repository import EventRepository
from eventstoresvc.testing import order_event

pytestmark = pytest.mark.integration


def _stored(outcomes: Sequence[object]) -> list[RecordedEvent]:
    return [o for o in outcomes if isinstance(o, RecordedEvent)]


def test_a_conflicting_item_fails_alone_and_the_others_get_consecutive_positions(
    repository: EventRepository,
) -> None:
    repository.append(order_event("a"), ExpectedVersion.any())  # a is at version 1
    items = [
        Append(order_event("b"), ExpectedVersion.no_stream()),
        Append(order_event("a", "paid"), ExpectedVersion.exact(5)),  # wrong: a is at 1
        Append(order_event("c"), ExpectedVersion.no_stream()),
        Append(order_event("a", "paid"), ExpectedVersion.exact(1)),
    ]
    outcomes = repository.append_batch(items)
    assert [type(o) for o in outcomes] == [RecordedEvent, AppendConflict, RecordedEvent, RecordedEvent]
    conflict = outcomes[1]
    assert isinstance(conflict, AppendConflict)
    assert (conflict.reason, conflict.current_version) == (ConflictReason.WRONG_EXPECTED_VERSION, 1)
    assert "at version 1" in conflict.message
    stored = _stored(outcomes)
    assert [(e.aggregate_id, e.version, e.position) for e in stored] == [
        ("b", 1, 2), ("c", 1, 3), ("a", 2, 4)]
    assert repository.read(EventQuery(from_position=2)) == stored
    assert repository.head() == 4


def test_all_or_nothing_stores_nothing_and_says_which_item_conflicted(repository: EventRepository) -> None:
    repository.append(order_event("a"), ExpectedVersion.any())
    items = [
        Append(order_event("b"), ExpectedVersion.no_stream()),
        Append(order_event("a", "paid"), ExpectedVersion.no_stream()),  # a exists
        Append(order_event("c")),
    ]
    outcomes = repository.append_batch(items, all_or_nothing=True)
    assert isinstance(outcomes[1], AppendConflict)
    assert outcomes[1].current_version == 1
    for i in (0, 2):
        not_applied = outcomes[i]
        assert isinstance(not_applied, NotApplied)
        assert not_applied.conflicting == (1,)
    assert repository.head() == 1
    assert repository.backlog() == 1
    assert [e.aggregate_id for e in repository.read(EventQuery())] == ["a"]
    # Positions are not burnt by the failed batch.
    assert repository.append(order_event("d"), ExpectedVersion.any()).position == 2


def test_all_or_nothing_without_conflicts_stores_everything(repository: EventRepository) -> None:
    items = [Append(order_event(f"o{i}"), ExpectedVersion.no_stream()) for i in range(5)]
    outcomes = repository.append_batch(items, all_or_nothing=True)
    assert [e.position for e in _stored(outcomes)] == [1, 2, 3, 4, 5]


def test_items_of_one_aggregate_are_applied_in_order(repository: EventRepository) -> None:
    items = [
        Append(order_event("a", "created"), ExpectedVersion.no_stream()),
        Append(order_event("a", "paid"), ExpectedVersion.exact(1)),  # the version item 0 creates
        Append(order_event("b", "created"), ExpectedVersion.no_stream()),
        Append(order_event("a", "approved"), ExpectedVersion.exact(2)),
        Append(order_event("a", "shipped"), ExpectedVersion.exact(2)),  # stale: item 3 made it 3
    ]
    outcomes = repository.append_batch(items)
    assert [(e.event_type, e.version) for e in _stored(outcomes)] == [
        ("ORDERS.created", 1), ("ORDERS.paid", 2), ("ORDERS.created", 1), ("ORDERS.approved", 3)]
    conflict = outcomes[4]
    assert isinstance(conflict, AppendConflict)
    assert conflict.current_version == 3
    assert [e.version for e in repository.read(EventQuery(aggregate_id="a"))] == [1, 2, 3]


def test_retrying_a_whole_batch_returns_the_stored_events_and_stores_nothing_new(
    repository: EventRepository,
) -> None:
    items = [
        Append(order_event("a"), ExpectedVersion.no_stream()),
        Append(order_event("a", "paid"), ExpectedVersion.exact(1)),
        Append(order_event("b"), ExpectedVersion.no_stream()),
    ]
    first = repository.append_batch(items, all_or_nothing=True)
    for all_or_nothing in (True, False):
        assert repository.append_batch(items, all_or_nothing=all_or_nothing) == first
    assert repository.head() == 3
    assert repository.backlog() == 3


def test_a_partly_applied_batch_can_be_retried_item_by_item_idempotently(repository: EventRepository) -> None:
    repository.append(order_event("a"), ExpectedVersion.any())
    items = [Append(order_event("b"), ExpectedVersion.no_stream()),
             Append(order_event("a", "paid"), ExpectedVersion.no_stream())]
    first = repository.append_batch(items)
    fixed = [items[0], Append(items[1].event, ExpectedVersion.exact(1))]
    second = repository.append_batch(fixed)
    assert second[0] == first[0]  # already stored: returned, not stored again
    assert isinstance(second[1], RecordedEvent)
    assert second[1].position == 3
    assert repository.head() == 3


def test_an_event_id_stored_with_other_content_is_a_per_item_conflict(repository: EventRepository) -> None:
    original = repository.append(order_event("a"), ExpectedVersion.any())
    reused = order_event("a", "paid", event_id=original.event_id)
    outcomes = repository.append_batch([Append(reused), Append(order_event("b"))])
    conflict = outcomes[0]
    assert isinstance(conflict, AppendConflict)
    assert conflict.reason is ConflictReason.EVENT_ID_REUSED
    assert isinstance(outcomes[1], RecordedEvent)
    assert repository.head() == 2


def test_concurrent_batches_and_single_appends_interleave_without_gaps(repository: EventRepository) -> None:
    barrier = threading.Barrier(8)

    def batch(n: int) -> list[object]:
        barrier.wait()
        if n % 2:
            return [repository.append(order_event(f"single-{n}"), ExpectedVersion.no_stream())]
        return list(repository.append_batch(
            [Append(order_event(f"batch-{n}", "created"), ExpectedVersion.no_stream()),
             Append(order_event(f"batch-{n}", "paid"), ExpectedVersion.exact(1))]))

    with ThreadPoolExecutor(8) as pool:
        results = [o for outcomes in pool.map(batch, range(8)) for o in outcomes]
    stored = _stored(results)
    assert len(stored) == 4 * 2 + 4
    assert sorted(e.position for e in stored) == list(range(1, 13))
    for n in range(0, 8, 2):  # each batch's events are consecutive, in item order
        created, paid = [e for e in stored if e.aggregate_id == f"batch-{n}"]
        assert (paid.position - created.position, created.version, paid.version) == (1, 1, 2)
    assert [e.position for e in repository.pending(100)] == list(range(1, 13))
