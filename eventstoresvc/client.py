"""The client of the event store's gRPC API for other services (and tests): plain methods, kit errors.

Each method is a ``kit.grpc`` client endpoint, so failures arrive as the kit error the server
raised (``Conflict`` for ABORTED, ``InvalidArgument`` with field violations, ``Unavailable``, ...),
and deadlines and trace context of the current request travel with the call; ``append_events``
returns its per-item conflicts as outcomes instead. Appends and reads are retried on transient
failures (``attempts`` in all): reads are safe to repeat, and an append carries client-chosen event
ids, so a repeated append (or batch) is recognised by the store and kept once.
A stream is not retried: its reader resumes from the last position it saw. The events are the
shared ``contracts.events`` shapes; protobuf stays in ``eventstoresvc.grpc``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import grpc

from contracts import eventstore_pb2 as pb
from eventstoresvc import grpc as transport
from eventstoresvc.domain import Append, AppendOutcome, Event, EventQuery, ExpectedVersion, RecordedEvent
from kit.auth.tokens import TokenSource
from kit.endpoint import Endpoint, Middleware
from kit.grpc import ClientTLS, GRPCClient, GRPCStreamClient, dial
from kit.grpc.auth import with_token
from kit.middleware.resilience import retry
from kit.tracing import NOOP_TRACER, Tracer

PEER = "eventstoresvc"


def _decode_create(reply: pb.CreateEventResponse) -> RecordedEvent:
    return transport.recorded_from_pb(reply.event)


def _decode_append(reply: pb.AppendEventsResponse) -> list[AppendOutcome]:
    return [transport.result_from_pb(r) for r in reply.results]


def _decode_events(reply: pb.GetEventsResponse) -> list[RecordedEvent]:
    return [transport.recorded_from_pb(e) for e in reply.events]


class EventStoreClient:
    """Calls ``eventstore.EventStore`` over ``channel`` (open it with ``kit.grpc.dial``)."""

    def __init__(self, channel: grpc.Channel, *, timeout: float | None = 10.0, attempts: int = 3,
                 tracer: Tracer = NOOP_TRACER) -> None:
        create: Endpoint[tuple[Event, ExpectedVersion], RecordedEvent] = GRPCClient(
            channel, transport.CREATE_EVENT, transport.encode_create_request, _decode_create,
            request_serializer=pb.CreateEventRequest.SerializeToString,
            response_deserializer=pb.CreateEventResponse.FromString,
            timeout=timeout, tracer=tracer, peer_service=PEER)
        append: Endpoint[tuple[Sequence[Append], bool], list[AppendOutcome]] = GRPCClient(
            channel, transport.APPEND_EVENTS, transport.encode_append_request, _decode_append,
            request_serializer=pb.AppendEventsRequest.SerializeToString,
            response_deserializer=pb.AppendEventsResponse.FromString,
            timeout=timeout, tracer=tracer, peer_service=PEER)
        get: Endpoint[EventQuery, list[RecordedEvent]] = GRPCClient(
            channel, transport.GET_EVENTS, transport.query_to_pb, _decode_events,
            request_serializer=pb.GetEventsRequest.SerializeToString,
            response_deserializer=pb.GetEventsResponse.FromString,
            timeout=timeout, tracer=tracer, peer_service=PEER)
        retry_create: Middleware[tuple[Event, ExpectedVersion], RecordedEvent] = retry(
            attempts, initial_backoff=0.05, max_backoff=0.5)
        retry_append: Middleware[tuple[Sequence[Append], bool], list[AppendOutcome]] = retry(
            attempts, initial_backoff=0.05, max_backoff=0.5)
        retry_get: Middleware[EventQuery, list[RecordedEvent]] = retry(
            attempts, initial_backoff=0.05, max_backoff=0.5)
        self._create = retry_create(create)
        self._append = retry_append(append)
        self._get = retry_get(get)
        self._stream = GRPCStreamClient(
            channel, transport.GET_EVENTS_STREAM, transport.query_to_pb, transport.recorded_from_pb,
            request_serializer=pb.GetEventsRequest.SerializeToString,
            response_deserializer=pb.Event.FromString,
            tracer=tracer, peer_service=PEER)

    def create_event(self, event: Event, expected: ExpectedVersion | None = None) -> RecordedEvent:
        """Append ``event`` (expected version ANY by default); return it as stored."""
        return self._create((event, expected or ExpectedVersion.any()))

    def append_events(self, items: Sequence[Append], *, all_or_nothing: bool = False) -> list[AppendOutcome]:
        """Append ``items`` in order in one transaction; one outcome per item, in order.

        An outcome is the stored event (new, or already stored: an idempotent retry), an
        ``AppendConflict`` (its ``reason`` and ``current_version``) or, when ``all_or_nothing`` and
        another item conflicted, ``NotApplied``. Conflicts are returned, not raised; a malformed
        batch raises ``InvalidArgument`` and nothing is stored.
        """
        return self._append((items, all_or_nothing))

    def get_events(self, query: EventQuery | None = None) -> list[RecordedEvent]:
        """Stored events matching ``query`` (all by default), in global position order."""
        return self._get(query or EventQuery())

    def stream_events(self, query: EventQuery | None = None) -> Iterator[RecordedEvent]:
        """Stored then live events matching ``query``; close the iterator to cancel the stream."""
        return self._stream(query or EventQuery())


def event_store_channel(addresses: str, token: TokenSource | None = None,
                        tls: ClientTLS | None = None) -> grpc.Channel:
    """A channel to the event store replicas at ``addresses`` (over ``tls`` when given), sending
    ``token`` on every call."""
    channel = dial(addresses, tls=tls)
    return channel if token is None else with_token(channel, token)
