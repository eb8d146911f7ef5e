"""The stored-event shape every service speaks: an event to append, and an event as stored.

The event store appends ``Event`` and answers ``RecordedEvent`` over gRPC; its relay publishes a
``RecordedEvent`` to JetStream, where the workers decode it back into one; the order domain reads
an order's history as ``RecordedEvent`` and appends its decisions as ``Event``. One shape, so no
service converts another's copy: the gRPC transport of the event store (``eventstoresvc.grpc``)
converts protobuf to these, and the workers' message decoder (``workers.messages``) converts a
JetStream message. Plain frozen dataclasses, keyword-only so that a construction names its fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, kw_only=True)
class Metadata:
    """Where an event comes from: correlation / causation ids and the B3 trace context."""

    correlation_id: str = ""
    causation_id: str = ""
    trace_id: str = ""
    span_id: str = ""
    parent_span_id: str = ""
    sampled: str = ""  # "1", "0", "d" (debug) or "" (undecided), as in B3


@dataclass(frozen=True, kw_only=True)
class Event:
    """An event to append: what a client sends.

    ``event_id`` is chosen by the client (as the Go original's clients did, with a UUID), which is
    what makes a retried append idempotent. ``stream`` may be empty: the store derives it from
    ``event_type`` (``ORDERS.created`` belongs to ``ORDERS``).
    """

    event_id: str
    event_type: str
    aggregate_id: str
    aggregate_type: str
    event_data: str
    stream: str = ""
    metadata: Metadata = field(default_factory=Metadata)

    def same_content(self, other: Event | RecordedEvent) -> bool:
        """Whether ``other`` carries the same event; metadata may differ between retries."""
        return (
            self.event_type == other.event_type
            and self.aggregate_id == other.aggregate_id
            and self.aggregate_type == other.aggregate_type
            and self.event_data == other.event_data
            and self.stream == other.stream
        )


@dataclass(frozen=True, kw_only=True)
class RecordedEvent:
    """A stored event: the appended one plus its version, global position and commit time.

    ``version`` counts the aggregate's events from 1; ``position`` is the event's place in the
    store's global, commit-ordered log. ``aggregate_type``, ``stream`` and ``metadata`` default to
    empty for readers that do not need them (a read model's tests, say).
    """

    event_id: str
    event_type: str
    aggregate_id: str
    event_data: str
    version: int
    position: int
    created_at: datetime
    aggregate_type: str = ""
    stream: str = ""
    metadata: Metadata = field(default_factory=Metadata)
