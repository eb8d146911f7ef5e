"""The storage port's contract, run against every adapter: memory, SQLite, PostgreSQL and the
cockroachdb:// dialect (on the PostgreSQL server: no CockroachDB server runs in the tests)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from eventstoresvc.domain import EventQuery, ExpectedVersion, Metadata
from eventstoresvc.repository import EventRepository
from eventstoresvc.testing import order_event
from kit.errors import Conflict

pytestmark = pytest.mark.integration


def test_appends_get_dense_versions_and_positions(repository: EventRepository) -> None:
    a1 = repository.append(order_event("a"), ExpectedVersion.any())
    b1 = repository.append(order_event("b"), ExpectedVersion.any())
    a2 = repository.append(order_event("a", "paid"), ExpectedVersion.any())
    assert [(e.aggregate_id, e.version, e.position) for e in (a1, b1, a2)] == [
        ("a", 1, 1), ("b", 1, 2), ("a", 2, 3)]
    assert repository.head() == 3
    assert a1.created_at.tzinfo is not None


def test_stored_event_round_trips_every_field(repository: EventRepository) -> None:
    meta = Metadata(correlation_id="corr-1", causation_id="cause-1", trace_id="a" * 32,
                    span_id="b" * 16, parent_span_id="c" * 16, sampled="1")
    sent = order_event("a", data={"amount": "12.50", "items": [1, 2]}, metadata=meta)
    stored = repository.append(sent, ExpectedVersion.no_stream())
    [read] = repository.read(EventQuery(event_id=sent.event_id))
    assert read == stored
    assert (read.event_id, read.event_type, read.aggregate_type, read.event_data, read.stream) == (
        sent.event_id, "ORDERS.created", "order", sent.event_data, "ORDERS")
    assert read.metadata == meta


def test_read_filters_and_orders_by_position(repository: EventRepository) -> None:
    stored = [
        repository.append(order_event(agg, name), ExpectedVersion.any())
        for agg, name in [("a", "created"), ("b", "created"), ("a", "paid"), ("b", "paid"), ("a", "shipped")]
    ]
    positions = [e.position for e in stored]
    assert [e.position for e in repository.read(EventQuery())] == positions
    assert [e.version for e in repository.read(EventQuery(aggregate_id="a"))] == [1, 2, 3]
    assert [e.position for e in repository.read(EventQuery(event_types=("ORDERS.paid",)))] == [3, 4]
    assert [e.position for e in repository.read(EventQuery(from_position=3))] == [3, 4, 5]
    assert [e.position for e in repository.read(EventQuery(from_position=2, limit=2))] == [2, 3]
    paid_b = EventQuery(aggregate_id="b", event_types=("ORDERS.paid",))
    assert [e.position for e in repository.read(paid_b)] == [4]
    assert repository.read(EventQuery(event_id=stored[1].event_id)) == [stored[1]]
    assert repository.read(EventQuery(aggregate_id="nobody")) == []


def test_same_event_id_and_content_is_an_idempotent_success(repository: EventRepository) -> None:
    event = order_event("a")
    first = repository.append(event, ExpectedVersion.no_stream())
    again = repository.append(event, ExpectedVersion.no_stream())  # a retry: the condition passed before
    assert again == first
    assert len(repository.read(EventQuery())) == 1
    assert repository.backlog() == 1


def test_same_event_id_with_other_content_conflicts(repository: EventRepository) -> None:
    event = order_event("a", data={"n": 1})
    repository.append(event, ExpectedVersion.any())
    with pytest.raises(Conflict, match="different content"):
        repository.append(order_event("a", data={"n": 2}, event_id=event.event_id), ExpectedVersion.any())
    assert len(repository.read(EventQuery())) == 1


def test_expected_version_conditions(repository: EventRepository) -> None:
    repository.append(order_event("a"), ExpectedVersion.no_stream())
    repository.append(order_event("a", "paid"), ExpectedVersion.exact(1))
    with pytest.raises(Conflict, match="at version 2") as no_stream:
        repository.append(order_event("a", "x"), ExpectedVersion.no_stream())
    with pytest.raises(Conflict, match="at version 2, but the append expected version 1"):
        repository.append(order_event("a", "x"), ExpectedVersion.exact(1))
    assert no_stream.value.code.name == "ABORTED"
    third = repository.append(order_event("a", "shipped"), ExpectedVersion.exact(2))
    assert third.version == 3
    assert repository.append(order_event("fresh"), ExpectedVersion.exact(0)).version == 1
    assert repository.head() == 4


def test_twenty_concurrent_appends_at_one_expected_version_one_wins(repository: EventRepository) -> None:
    repository.append(order_event("race"), ExpectedVersion.no_stream())
    barrier = threading.Barrier(20)

    def attempt(i: int) -> str:
        barrier.wait()
        try:
            repository.append(order_event("race", "paid", {"attempt": i}), ExpectedVersion.exact(1))
            return "won"
        except Conflict as exc:
            assert "at version 2" in exc.message
            return "conflict"

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    assert outcomes.count("won") == 1
    assert outcomes.count("conflict") == 19
    assert [e.version for e in repository.read(EventQuery(aggregate_id="race"))] == [1, 2]


def test_outbox_holds_every_append_until_marked_published(repository: EventRepository) -> None:
    stored = [repository.append(order_event(f"o{i}"), ExpectedVersion.any()) for i in range(5)]
    assert repository.backlog() == 5
    assert [e.position for e in repository.pending(3)] == [1, 2, 3]
    repository.mark_published([1, 2])
    assert repository.backlog() == 3
    assert repository.pending(10) == stored[2:]
    repository.mark_published([3, 4, 5])
    assert repository.pending(10) == []
    assert len(repository.read(EventQuery())) == 5  # publishing never removes events


def test_the_checkpoint_only_moves_over_a_consecutive_run_right_after_it(repository: EventRepository) -> None:
    stored = [repository.append(order_event(f"o{i}"), ExpectedVersion.any()) for i in range(6)]
    assert repository.published_through() == 0
    with pytest.raises(ValueError, match="skip"):
        repository.mark_published([2, 3])  # position 1 is not acknowledged: it would be lost
    with pytest.raises(ValueError, match="holes"):
        repository.mark_published([1, 3])
    assert repository.published_through() == 0
    repository.mark_published(range(1, 4))
    repository.mark_published([2, 3])  # a repeated mark changes nothing
    assert repository.published_through() == 3
    assert repository.backlog() == 3
    assert repository.pending(10) == stored[3:]
    assert repository.events_after(1, 2) == stored[1:3]


def test_recent_commits_agree_with_the_database(repository: EventRepository) -> None:
    stored = [repository.append(order_event(f"o{i}"), ExpectedVersion.any()) for i in range(4)]
    from_memory = repository.recent_after(1, 10)
    assert from_memory is None or from_memory == stored[1:]
    assert repository.recent_after(4, 10) in (None, [])
    assert repository.events_after(1, 10) == stored[1:]


def test_rejected_appends_leave_no_trace(repository: EventRepository) -> None:
    repository.append(order_event("a"), ExpectedVersion.any())
    with pytest.raises(Conflict):
        repository.append(order_event("a", "paid"), ExpectedVersion.exact(7))
    assert repository.head() == 1
    assert repository.backlog() == 1
    assert repository.append(order_event("b"), ExpectedVersion.any()).position == 2


def test_wait_for_append_returns_once_a_later_event_commits(repository: EventRepository) -> None:
    assert repository.wait_for_append(0, timeout=0.01) == 0
    timer = threading.Timer(0.05, lambda: repository.append(order_event("late"), ExpectedVersion.any()))
    timer.start()
    try:
        head = 0
        for _ in range(200):
            head = repository.wait_for_append(0, timeout=0.5)
            if head:
                break
        assert head == 1
    finally:
        timer.join()
