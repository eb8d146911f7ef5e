"""The event store port over gRPC: ``eventstore.EventStore`` called through ``kit.grpc`` clients.

One channel (``kit.grpc.dial``) serves every call. Errors arrive as the kit errors the store raised:
``Conflict`` (ABORTED) when the expected version does not hold, ``InvalidArgument``, and
``Unavailable`` when the store cannot be reached, which the HTTP API answers 503 with
``Retry-After``. Both calls are retried on transient failures: reads are safe to repeat, and an
append carries a caller-chosen event id, so a repeated append is recognised by the store and kept
once. Protobuf types do not leave this module.
"""

from __future__ import annotations

from datetime import UTC

import grpc

from contracts import eventstore_pb2 as pb
from kit.endpoint import Endpoint, Middleware
from kit.errors import Unavailable
from kit.grpc import GRPCClient
from kit.middleware.resilience import retry
from kit.tracing import NOOP_TRACER, Tracer
from orders.events import AGGREGATE_TYPE, STREAM
from orders.ports import NewEvent, RecordedEvent

SERVICE = "/eventstore.EventStore"


def encode_append(request: tuple[NewEvent, int]) -> pb.CreateEventRequest:
    """The wire request of an append at an expected version (0: the order has no events yet)."""
    event, expected = request
    kind = pb.ExpectedVersion.EXACT if expected > 0 else pb.ExpectedVersion.NO_STREAM
    return pb.CreateEventRequest(
        event=pb.Event(event_id=event.event_id, event_type=event.event_type,
                       aggregate_id=event.aggregate_id, aggregate_type=AGGREGATE_TYPE,
                       event_data=event.event_data, stream=STREAM,
                       metadata=pb.Metadata(correlation_id=event.correlation_id)),
        expected_version=pb.ExpectedVersion(kind=kind, version=expected),
    )


def recorded_from_pb(msg: pb.Event) -> RecordedEvent:
    """A stored event as the order service sees it."""
    return RecordedEvent(event_id=msg.event_id, event_type=msg.event_type,
                         aggregate_id=msg.aggregate_id, event_data=msg.event_data,
                         version=msg.version, position=msg.position,
                         created_at=msg.created_at.ToDatetime(tzinfo=UTC))


def encode_load(aggregate_id: str) -> pb.GetEventsRequest:
    """The wire request for every event of one order."""
    return pb.GetEventsRequest(aggregate_id=aggregate_id)


def decode_load(reply: pb.GetEventsResponse) -> list[RecordedEvent]:
    """The order's events, sorted by version (the store sends them in position order)."""
    return sorted((recorded_from_pb(e) for e in reply.events), key=lambda e: e.version)


class GRPCEventStore:
    """``EventStore`` calling the event store service over ``channel``."""

    def __init__(self, channel: grpc.Channel, *, timeout: float = 5.0, attempts: int = 3,
                 tracer: Tracer = NOOP_TRACER) -> None:
        append: Endpoint[tuple[NewEvent, int], RecordedEvent] = GRPCClient(
            channel, f"{SERVICE}/CreateEvent", encode_append,
            lambda reply: recorded_from_pb(reply.event),
            request_serializer=pb.CreateEventRequest.SerializeToString,
            response_deserializer=pb.CreateEventResponse.FromString,
            timeout=timeout, tracer=tracer, peer_service="eventstoresvc")
        load: Endpoint[str, list[RecordedEvent]] = GRPCClient(
            channel, f"{SERVICE}/GetEvents", encode_load, decode_load,
            request_serializer=pb.GetEventsRequest.SerializeToString,
            response_deserializer=pb.GetEventsResponse.FromString,
            timeout=timeout, tracer=tracer, peer_service="eventstoresvc")
        retry_append: Middleware[tuple[NewEvent, int], RecordedEvent] = retry(
            attempts, initial_backoff=0.05, max_backoff=0.5)
        retry_load: Middleware[str, list[RecordedEvent]] = retry(
            attempts, initial_backoff=0.05, max_backoff=0.5)
        self._append = retry_append(append)
        self._load = retry_load(load)

    def append(self, event: NewEvent, expected_version: int) -> RecordedEvent:
        """Append ``event`` at ``expected_version``; see ``ports.EventStore``."""
        try:
            return self._append((event, expected_version))
        except Unavailable as exc:
            raise _unavailable(exc) from exc

    def load(self, aggregate_id: str) -> list[RecordedEvent]:
        """Every event of ``aggregate_id``, in version order."""
        try:
            return self._load(aggregate_id)
        except Unavailable as exc:
            raise _unavailable(exc) from exc


def _unavailable(exc: Unavailable) -> Unavailable:
    # The channel's message names internal addresses; callers only need to know to retry.
    return Unavailable("the event store is unavailable", retry_after=exc.retry_after)
