"""The event store's endpoints: one plain callable per use case, over request/response dataclasses.

Transports adapt these (``grpc``); middleware (logging, metrics, tracing) wraps them in the
composition root (``container``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from eventstoresvc.domain import Append, AppendOutcome, Event, EventQuery, ExpectedVersion, RecordedEvent
from eventstoresvc.service import NEVER, EventStoreService
from kit.endpoint import Endpoint


@dataclass(frozen=True)
class CreateEventRequest:
    """Append ``event`` if the aggregate's version satisfies ``expected``."""

    event: Event
    expected: ExpectedVersion = field(default_factory=ExpectedVersion.any)


@dataclass(frozen=True)
class CreateEventResponse:
    """The event as stored."""

    event: RecordedEvent


@dataclass(frozen=True)
class AppendEventsRequest:
    """Append ``items`` in order in one transaction; ``all_or_nothing``: all of them or none."""

    items: Sequence[Append]
    all_or_nothing: bool = False


@dataclass(frozen=True)
class AppendEventsResponse:
    """One outcome per item, in order: the stored event, an ``AppendConflict`` or ``NotApplied``."""

    results: list[AppendOutcome]


@dataclass(frozen=True)
class GetEventsRequest:
    """Read the events matching ``query``."""

    query: EventQuery


@dataclass(frozen=True)
class GetEventsResponse:
    """The matching events in global position order."""

    events: list[RecordedEvent]


@dataclass(frozen=True)
class StreamEventsRequest:
    """Follow the events matching ``query``; the stream ends when ``stop`` is set."""

    query: EventQuery
    stop: threading.Event = NEVER


@dataclass(frozen=True)
class Endpoints:
    """The endpoint set of the event store, as transports see it."""

    create_event: Endpoint[CreateEventRequest, CreateEventResponse]
    append_events: Endpoint[AppendEventsRequest, AppendEventsResponse]
    get_events: Endpoint[GetEventsRequest, GetEventsResponse]
    stream_events: Endpoint[StreamEventsRequest, Iterable[RecordedEvent]]


def make_create_event(service: EventStoreService) -> Endpoint[CreateEventRequest, CreateEventResponse]:
    """The CreateEvent endpoint."""

    def create_event(request: CreateEventRequest) -> CreateEventResponse:
        return CreateEventResponse(service.create_event(request.event, request.expected))

    return create_event


def make_append_events(service: EventStoreService) -> Endpoint[AppendEventsRequest, AppendEventsResponse]:
    """The AppendEvents endpoint."""

    def append_events(request: AppendEventsRequest) -> AppendEventsResponse:
        return AppendEventsResponse(
            service.append_events(request.items, all_or_nothing=request.all_or_nothing))

    return append_events


def make_get_events(service: EventStoreService) -> Endpoint[GetEventsRequest, GetEventsResponse]:
    """The GetEvents endpoint."""

    def get_events(request: GetEventsRequest) -> GetEventsResponse:
        return GetEventsResponse(service.get_events(request.query))

    return get_events


def make_stream_events(service: EventStoreService) -> Endpoint[StreamEventsRequest, Iterable[RecordedEvent]]:
    """The GetEventsStream endpoint; a bad query fails the call before the stream starts."""

    def stream_events(request: StreamEventsRequest) -> Iterable[RecordedEvent]:
        return service.follow(request.query, request.stop)

    return stream_events


def make_endpoints(service: EventStoreService) -> Endpoints:
    """The endpoint set over ``service``, without middleware (the composition root adds it)."""
    return Endpoints(
        create_event=make_create_event(service),
        append_events=make_append_events(service),
        get_events=make_get_events(service),
        stream_events=make_stream_events(service),
    )
