"""The gRPC transport of the event store: protobuf <-> dataclasses, the servicer, the client codecs.

Protobuf types stop here; everything inward speaks ``domain`` and ``endpoints`` dataclasses. These
are the only converters between the wire ``Event`` and the shared ``contracts.events`` shapes: the
servicer and ``eventstoresvc.client`` (which every other service calls the store with) use them. The
servicer's methods are ``kit.grpc`` adapters around the endpoints, so errors leave as the matching
status codes (INVALID_ARGUMENT with field violations, ABORTED for conflicts, UNAVAILABLE, ...).

A Go-original request (fields 1-6 of ``Event`` only) decodes to an append with expected version
ANY and empty metadata; ``stream`` is then derived from ``event_type``.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC

import grpc

from contracts import eventstore_pb2 as pb
from contracts import eventstore_pb2_grpc as pb_grpc
from eventstoresvc.domain import (
    Append,
    AppendConflict,
    AppendOutcome,
    ConflictReason,
    Event,
    EventQuery,
    Expectation,
    ExpectedVersion,
    Metadata,
    NotApplied,
    RecordedEvent,
)
from eventstoresvc.endpoints import (
    AppendEventsRequest,
    AppendEventsResponse,
    CreateEventRequest,
    CreateEventResponse,
    Endpoints,
    GetEventsRequest,
    GetEventsResponse,
    StreamEventsRequest,
)
from kit.errors import FieldViolation, InvalidArgument
from kit.grpc import GRPCServer, GRPCStreamServer
from kit.tracing import NOOP_TRACER, Tracer

SERVICE_NAME = "eventstore.EventStore"
CREATE_EVENT = f"/{SERVICE_NAME}/CreateEvent"
APPEND_EVENTS = f"/{SERVICE_NAME}/AppendEvents"
GET_EVENTS = f"/{SERVICE_NAME}/GetEvents"
GET_EVENTS_STREAM = f"/{SERVICE_NAME}/GetEventsStream"

_KINDS = {
    pb.ExpectedVersion.ANY: Expectation.ANY,
    pb.ExpectedVersion.NO_STREAM: Expectation.NO_STREAM,
    pb.ExpectedVersion.EXACT: Expectation.EXACT,
}
_PB_KINDS = {kind: value for value, kind in _KINDS.items()}
_REASONS = {
    pb.AppendConflict.WRONG_EXPECTED_VERSION: ConflictReason.WRONG_EXPECTED_VERSION,
    pb.AppendConflict.EVENT_ID_REUSED: ConflictReason.EVENT_ID_REUSED,
    pb.AppendConflict.CONCURRENT_APPEND: ConflictReason.CONCURRENT_APPEND,
}
_PB_REASONS = {reason: value for value, reason in _REASONS.items()}


def metadata_from_pb(msg: pb.Metadata) -> Metadata:
    """The domain metadata of a wire message."""
    return Metadata(correlation_id=msg.correlation_id, causation_id=msg.causation_id,
                    trace_id=msg.trace_id, span_id=msg.span_id, parent_span_id=msg.parent_span_id,
                    sampled=msg.sampled)


def metadata_to_pb(meta: Metadata) -> pb.Metadata:
    """The wire form of domain metadata."""
    return pb.Metadata(correlation_id=meta.correlation_id, causation_id=meta.causation_id,
                       trace_id=meta.trace_id, span_id=meta.span_id,
                       parent_span_id=meta.parent_span_id, sampled=meta.sampled)


def event_from_pb(msg: pb.Event) -> Event:
    """The event to append that a wire ``Event`` describes (store-assigned fields are ignored)."""
    return Event(event_id=msg.event_id, event_type=msg.event_type, aggregate_id=msg.aggregate_id,
                 aggregate_type=msg.aggregate_type, event_data=msg.event_data, stream=msg.stream,
                 metadata=metadata_from_pb(msg.metadata))


def event_to_pb(event: Event) -> pb.Event:
    """The wire form of an event to append."""
    return pb.Event(event_id=event.event_id, event_type=event.event_type, aggregate_id=event.aggregate_id,
                    aggregate_type=event.aggregate_type, event_data=event.event_data, stream=event.stream,
                    metadata=metadata_to_pb(event.metadata))


def recorded_to_pb(event: RecordedEvent) -> pb.Event:
    """The wire form of a stored event, with version, position and commit time."""
    msg = pb.Event(event_id=event.event_id, event_type=event.event_type, aggregate_id=event.aggregate_id,
                   aggregate_type=event.aggregate_type, event_data=event.event_data, stream=event.stream,
                   version=event.version, position=event.position, metadata=metadata_to_pb(event.metadata))
    msg.created_at.FromDatetime(event.created_at)
    return msg


def recorded_from_pb(msg: pb.Event) -> RecordedEvent:
    """A stored event received from the store."""
    return RecordedEvent(event_id=msg.event_id, event_type=msg.event_type, aggregate_id=msg.aggregate_id,
                         aggregate_type=msg.aggregate_type, event_data=msg.event_data, stream=msg.stream,
                         version=msg.version, position=msg.position,
                         created_at=msg.created_at.ToDatetime(tzinfo=UTC),
                         metadata=metadata_from_pb(msg.metadata))


def expected_from_pb(msg: pb.CreateEventRequest | pb.AppendItem) -> ExpectedVersion:
    """The append condition of a request; absent means ANY (what Go-original clients send)."""
    if not msg.HasField("expected_version"):
        return ExpectedVersion.any()
    kind = _KINDS.get(msg.expected_version.kind)
    if kind is None:
        raise InvalidArgument.for_field("expected_version.kind", "unknown kind")
    return ExpectedVersion(kind, msg.expected_version.version if kind is Expectation.EXACT else 0)


def expected_to_pb(expected: ExpectedVersion) -> pb.ExpectedVersion:
    """The wire form of an append condition."""
    return pb.ExpectedVersion(kind=_PB_KINDS[expected.kind], version=expected.version)


def encode_create_request(request: tuple[Event, ExpectedVersion]) -> pb.CreateEventRequest:
    """Client side: an append of ``event`` under ``expected`` -> wire request."""
    event, expected = request
    return pb.CreateEventRequest(event=event_to_pb(event), expected_version=expected_to_pb(expected))


def query_from_pb(msg: pb.GetEventsRequest) -> EventQuery:
    """The domain query of a GetEvents / GetEventsStream request (limit 0: no limit)."""
    if msg.limit < 0:
        raise InvalidArgument.for_field("limit", "must not be negative")
    return EventQuery(event_id=msg.event_id, aggregate_id=msg.aggregate_id,
                      event_types=tuple(msg.event_types), from_position=msg.from_position,
                      limit=msg.limit or None)


def query_to_pb(query: EventQuery) -> pb.GetEventsRequest:
    """The wire form of a query."""
    return pb.GetEventsRequest(event_id=query.event_id, aggregate_id=query.aggregate_id,
                               event_types=list(query.event_types), from_position=query.from_position,
                               limit=query.limit or 0)


def decode_create_event(msg: pb.CreateEventRequest) -> CreateEventRequest:
    """Server side: wire request -> endpoint request."""
    return CreateEventRequest(event_from_pb(msg.event), expected_from_pb(msg))


def encode_create_event(response: CreateEventResponse) -> pb.CreateEventResponse:
    """Server side: endpoint response -> wire reply (``is_success`` for Go-original clients)."""
    return pb.CreateEventResponse(is_success=True, event=recorded_to_pb(response.event))


def decode_append_events(msg: pb.AppendEventsRequest) -> AppendEventsRequest:
    """Server side: wire request -> endpoint request; field violations name the item."""
    items: list[Append] = []
    problems: list[FieldViolation] = []
    for i, item in enumerate(msg.items):
        try:
            items.append(Append(event_from_pb(item.event), expected_from_pb(item)))
        except InvalidArgument as exc:
            problems.extend(FieldViolation(f"items.{i}.{f.field}", f.message) for f in exc.fields)
    if problems:
        raise InvalidArgument(fields=problems)
    return AppendEventsRequest(items, msg.all_or_nothing)


def result_to_pb(outcome: AppendOutcome) -> pb.AppendResult:
    """The wire form of one item's outcome."""
    if isinstance(outcome, NotApplied):
        return pb.AppendResult(not_applied=pb.AppendNotApplied(conflicting_items=outcome.conflicting))
    if isinstance(outcome, AppendConflict):
        return pb.AppendResult(conflict=pb.AppendConflict(
            reason=_PB_REASONS[outcome.reason], current_version=outcome.current_version,
            message=outcome.message))
    return pb.AppendResult(event=recorded_to_pb(outcome))


def result_from_pb(msg: pb.AppendResult) -> AppendOutcome:
    """Client side: one item's outcome (a reason this client does not know reads as "re-read")."""
    which = msg.WhichOneof("result")
    if which == "event":
        return recorded_from_pb(msg.event)
    if which == "not_applied":
        return NotApplied(list(msg.not_applied.conflicting_items))
    if which == "conflict":
        reason = _REASONS.get(msg.conflict.reason, ConflictReason.CONCURRENT_APPEND)
        return AppendConflict(msg.conflict.message, reason=reason,
                              current_version=msg.conflict.current_version)
    raise ValueError("an AppendResult without a result")


def encode_append_events(response: AppendEventsResponse) -> pb.AppendEventsResponse:
    """Server side: endpoint response -> wire reply."""
    return pb.AppendEventsResponse(results=[result_to_pb(r) for r in response.results])


def encode_append_request(request: tuple[Sequence[Append], bool]) -> pb.AppendEventsRequest:
    """Client side: a batch of appends (and whether all or nothing) -> wire request."""
    items, all_or_nothing = request
    return pb.AppendEventsRequest(
        items=[pb.AppendItem(event=event_to_pb(a.event), expected_version=expected_to_pb(a.expected))
               for a in items],
        all_or_nothing=all_or_nothing)


def decode_get_events(msg: pb.GetEventsRequest) -> GetEventsRequest:
    """Server side: wire request -> endpoint request."""
    return GetEventsRequest(query_from_pb(msg))


def encode_get_events(response: GetEventsResponse) -> pb.GetEventsResponse:
    """Server side: endpoint response -> wire reply."""
    return pb.GetEventsResponse(events=[recorded_to_pb(e) for e in response.events])


# The stop signal of the stream being handled: set by a before-hook from the gRPC context (which
# the endpoint never sees) and picked up by the request decoder in the same worker thread.
_stream_stop: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "eventstore_stream_stop", default=None)


def _watch_cancellation(context: grpc.ServicerContext, metadata: Mapping[str, str]) -> None:
    stop = threading.Event()
    context.add_callback(stop.set)  # runs when the call ends for any reason: cancel, deadline, stop
    _stream_stop.set(stop)


def decode_stream_events(msg: pb.GetEventsRequest) -> StreamEventsRequest:
    """Server side: wire request -> endpoint request, with the call's stop signal."""
    stop = _stream_stop.get() or threading.Event()
    return StreamEventsRequest(query_from_pb(msg), stop)


class EventStoreServicer(pb_grpc.EventStoreServicer):
    """The ``eventstore.EventStore`` gRPC service over the event store's endpoints."""

    def __init__(self, endpoints: Endpoints, *, tracer: Tracer = NOOP_TRACER) -> None:
        self._create = GRPCServer(endpoints.create_event, decode_create_event, encode_create_event,
                                  method=CREATE_EVENT, tracer=tracer)
        self._append = GRPCServer(endpoints.append_events, decode_append_events, encode_append_events,
                                  method=APPEND_EVENTS, tracer=tracer)
        self._get = GRPCServer(endpoints.get_events, decode_get_events, encode_get_events,
                               method=GET_EVENTS, tracer=tracer)
        self._stream = GRPCStreamServer(endpoints.stream_events, decode_stream_events, recorded_to_pb,
                                        method=GET_EVENTS_STREAM, tracer=tracer,
                                        before=[_watch_cancellation])

    def CreateEvent(  # noqa: N802 (generated name)
        self, request: pb.CreateEventRequest, context: grpc.ServicerContext
    ) -> pb.CreateEventResponse:
        """Append one event."""
        return self._create(request, context)

    def AppendEvents(  # noqa: N802 (generated name)
        self, request: pb.AppendEventsRequest, context: grpc.ServicerContext
    ) -> pb.AppendEventsResponse:
        """Append many events in one transaction."""
        return self._append(request, context)

    def GetEvents(  # noqa: N802 (generated name)
        self, request: pb.GetEventsRequest, context: grpc.ServicerContext
    ) -> pb.GetEventsResponse:
        """Read stored events."""
        return self._get(request, context)

    def GetEventsStream(  # noqa: N802 (generated name)
        self, request: pb.GetEventsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.Event]:
        """Follow stored and live events."""
        return self._stream(request, context)


def register(servicer: EventStoreServicer) -> Callable[[grpc.Server], None]:
    """A ``kit.grpc`` registration adding ``servicer`` to a server."""

    def add(server: grpc.Server) -> None:
        pb_grpc.add_EventStoreServicer_to_server(servicer, server)

    return add

