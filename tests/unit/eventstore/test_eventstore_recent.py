"""The window of recent commits: what it may answer for the relay, and when it must say "ask the database"."""

from __future__ import annotations

from datetime import UTC, datetime

from eventstoresvc.domain import RecordedEvent
from eventstoresvc.recent import RecentCommits


def _event(position: int) -> RecordedEvent:
    return RecordedEvent(event_id=f"e{position}", event_type="ORDERS.created", aggregate_id=f"a{position}",
                         aggregate_type="order", event_data="{}", stream="ORDERS", version=1,
                         position=position, created_at=datetime.now(UTC))


def _positions(events: list[RecordedEvent] | None) -> list[int] | None:
    return None if events is None else [e.position for e in events]


def test_a_consecutive_run_is_served_up_to_the_limit() -> None:
    window = RecentCommits()
    window.add([_event(p) for p in (1, 2, 3)])
    window.add([_event(4)])
    assert _positions(window.after(0, 10)) == [1, 2, 3, 4]
    assert _positions(window.after(1, 2)) == [2, 3]
    assert window.after(4, 10) == []  # caught up with everything this process committed


def test_a_gap_stops_the_run_and_an_unknown_start_asks_the_database() -> None:
    window = RecentCommits()
    window.add([_event(p) for p in (3, 4)])
    window.add([_event(p) for p in (7, 8)])  # 5 and 6 were committed by another process
    assert window.after(1, 10) is None  # position 2 is not here
    assert _positions(window.after(2, 10)) == [3, 4]  # the run ends at the gap
    assert window.after(4, 10) is None  # 5: ask the database, which has it
    assert _positions(window.after(6, 10)) == [7, 8]
    assert window.after(9, 10) is None  # beyond what this process knows


def test_evicted_events_are_read_from_the_database() -> None:
    window = RecentCommits(capacity=3)
    window.add([_event(p) for p in (1, 2, 3, 4, 5)])
    assert window.after(0, 10) is None
    assert _positions(window.after(2, 10)) == [3, 4, 5]


def test_listeners_and_waiters_hear_of_each_commit() -> None:
    window = RecentCommits()
    heard: list[int] = []
    unsubscribe = window.listen(lambda: heard.append(window.last_position()))
    seen = window.commits
    window.add([_event(1)])
    window.wait(seen, timeout=0)  # returns at once: a commit happened after `seen`
    assert window.commits == seen + 1
    unsubscribe()
    window.add([_event(2)])
    assert heard == [1]
