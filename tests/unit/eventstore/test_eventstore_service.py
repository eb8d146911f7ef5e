"""The service layer over the in-memory repository: validation, trace capture, following the log."""

from __future__ import annotations

import itertools
import threading

import pytest

from eventstoresvc.domain import EventQuery, ExpectedVersion, Metadata
from eventstoresvc.memory import InMemoryEventRepository
from eventstoresvc.service import EventStoreService
from eventstoresvc.testing import order_event
from kit import context
from kit.context import TraceContext
from kit.errors import InvalidArgument


@pytest.fixture
def repository() -> InMemoryEventRepository:
    return InMemoryEventRepository()


@pytest.fixture
def service(repository: InMemoryEventRepository) -> EventStoreService:
    return EventStoreService(repository, poll_interval=0.01, page_size=3)


def test_invalid_event_is_refused_before_the_repository(service: EventStoreService,
                                                        repository: InMemoryEventRepository) -> None:
    with pytest.raises(InvalidArgument):
        service.create_event(order_event(data={"a": 1}).__class__(
            event_id="e", event_type="nope", aggregate_id="a", aggregate_type="t", event_data="{}"))
    assert repository.head() == 0


def test_create_event_records_the_request_trace_unless_one_is_given(service: EventStoreService) -> None:
    trace = TraceContext("a" * 32, "b" * 16, "c" * 16, sampled=True)
    with context.scope(trace=trace):
        implicit = service.create_event(order_event("o1"))
        given = Metadata(trace_id="d" * 32, span_id="e" * 16)
        explicit = service.create_event(order_event("o2", metadata=given))
    assert (implicit.metadata.trace_id, implicit.metadata.span_id, implicit.metadata.parent_span_id,
            implicit.metadata.sampled) == ("a" * 32, "b" * 16, "c" * 16, "1")
    assert explicit.metadata.trace_id == "d" * 32


def test_expected_version_defaults_to_any(service: EventStoreService) -> None:
    service.create_event(order_event("o1"))
    assert service.create_event(order_event("o1", "paid")).version == 2


def test_follow_catches_up_across_pages_then_follows_live_appends(
    service: EventStoreService, repository: InMemoryEventRepository
) -> None:
    for i in range(7):  # more than two pages of three
        repository.append(order_event(f"o{i}"), ExpectedVersion.any())
    stop = threading.Event()
    follower = service.follow(EventQuery(from_position=2), stop)
    first = list(itertools.islice(follower, 6))
    assert [e.position for e in first] == [2, 3, 4, 5, 6, 7]

    def append_later() -> None:
        for i in range(5):
            repository.append(order_event(f"live{i}"), ExpectedVersion.any())

    writer = threading.Thread(target=append_later)
    writer.start()
    live = list(itertools.islice(follower, 5))
    writer.join()
    assert [e.position for e in live] == [8, 9, 10, 11, 12]
    stop.set()
    assert list(follower) == []


def test_follow_applies_filters_and_skips_what_does_not_match(
    service: EventStoreService, repository: InMemoryEventRepository
) -> None:
    for i in range(10):
        repository.append(order_event("a" if i % 3 == 0 else "b", f"e{i}"), ExpectedVersion.any())
    stop = threading.Event()
    follower = service.follow(EventQuery(aggregate_id="a"), stop)
    assert [e.position for e in itertools.islice(follower, 4)] == [1, 4, 7, 10]
    stop.set()
    assert list(follower) == []


def test_follow_ends_at_the_deadline_and_on_close(service: EventStoreService) -> None:
    with context.scope(timeout=0.05):
        assert list(service.follow(EventQuery())) == []
    follower = service.follow(EventQuery())
    service.close()
    assert list(follower) == []


def test_follow_rejects_a_bad_query_when_called(service: EventStoreService) -> None:
    with pytest.raises(InvalidArgument):
        service.follow(EventQuery(from_position=-5))


def test_append_events_validates_every_item_before_storing_any(service: EventStoreService,
                                                               repository: InMemoryEventRepository) -> None:
    from dataclasses import replace

    from eventstoresvc.domain import Append

    good, bad = order_event("o1"), replace(order_event("o2"), event_data="nope")
    with pytest.raises(InvalidArgument) as caught:
        service.append_events([Append(good), Append(bad)])
    assert [f.field for f in caught.value.fields] == ["items.1.event.event_data"]
    assert repository.head() == 0


def test_append_events_records_the_request_trace_on_each_event(service: EventStoreService) -> None:
    from eventstoresvc.domain import Append, RecordedEvent

    trace = TraceContext("a" * 32, "b" * 16, None, sampled=False)
    with context.scope(trace=trace):
        outcomes = service.append_events([Append(order_event("o1")), Append(order_event("o2"))])
    assert [o.metadata.trace_id for o in outcomes if isinstance(o, RecordedEvent)] == ["a" * 32] * 2
    assert {o.metadata.sampled for o in outcomes if isinstance(o, RecordedEvent)} == {"0"}
