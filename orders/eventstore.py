"""The event store port over gRPC: the order domain's ``EventStore`` over ``EventStoreClient``.

The event store's own client (``eventstoresvc.client``) makes the calls, with its retries of
transient failures and its one converter of the wire events; this adapter only speaks the port:
an expected version as a number (0: the order has no events yet), an order's events in version
order, and one ``Unavailable`` message that names no internal address. Errors otherwise arrive as
the kit errors the store raised: ``Conflict`` (ABORTED) when the expected version does not hold,
``InvalidArgument``; the HTTP API answers ``Unavailable`` 503 with ``Retry-After``.
"""

from __future__ import annotations

import grpc

from contracts.events import Event, RecordedEvent
from eventstoresvc.client import EventStoreClient
from eventstoresvc.domain import EventQuery, ExpectedVersion
from kit.errors import Unavailable
from kit.tracing import NOOP_TRACER, Tracer


def expected(version: int) -> ExpectedVersion:
    """The store's append condition for an order at ``version`` (0: no events yet)."""
    return ExpectedVersion.exact(version) if version > 0 else ExpectedVersion.no_stream()


class ClientEventStore:
    """``EventStore`` over an ``EventStoreClient``."""

    def __init__(self, client: EventStoreClient) -> None:
        self._client = client

    def append(self, event: Event, expected_version: int) -> RecordedEvent:
        """Append ``event`` at ``expected_version``; see ``ports.EventStore``."""
        try:
            return self._client.create_event(event, expected(expected_version))
        except Unavailable as exc:
            raise _unavailable(exc) from exc

    def load(self, aggregate_id: str) -> list[RecordedEvent]:
        """Every event of ``aggregate_id``, in version order (the store sends position order)."""
        try:
            found = self._client.get_events(EventQuery(aggregate_id=aggregate_id))
        except Unavailable as exc:
            raise _unavailable(exc) from exc
        return sorted(found, key=lambda e: e.version)


class GRPCEventStore(ClientEventStore):
    """``EventStore`` calling the event store service over ``channel``."""

    def __init__(self, channel: grpc.Channel, *, timeout: float = 5.0, attempts: int = 3,
                 tracer: Tracer = NOOP_TRACER) -> None:
        super().__init__(EventStoreClient(channel, timeout=timeout, attempts=attempts, tracer=tracer))


def _unavailable(exc: Unavailable) -> Unavailable:
    # The channel's message names internal addresses; callers only need to know to retry.
    return Unavailable("the event store is unavailable", retry_after=exc.retry_after)
