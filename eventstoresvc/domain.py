"""The event store's domain: events, where they come from, and the conditions of an append.

Plain frozen dataclasses; nothing here knows about gRPC, SQL or NATS.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Metadata:
    """Where an event comes from: correlation / causation ids and the B3 trace context."""

    correlation_id: str = ""
    causation_id: str = ""
    trace_id: str = ""
    span_id: str = ""
    parent_span_id: str = ""
    sampled: str = ""  # "1", "0", "d" (debug) or "" (undecided), as in B3


@dataclass(frozen=True)
class Event:
    """An event to append: what the client sends.

    ``event_id`` is chosen by the client (as the Go original's clients did, with a UUID), which is
    what makes a retried append idempotent. ``stream`` may be empty: it is derived from
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


@dataclass(frozen=True)
class RecordedEvent:
    """A stored event: the appended one plus its version, global position and commit time."""

    event_id: str
    event_type: str
    aggregate_id: str
    aggregate_type: str
    event_data: str
    stream: str
    version: int
    position: int
    created_at: datetime
    metadata: Metadata = field(default_factory=Metadata)


class Expectation(enum.Enum):
    """The kinds of optimistic-concurrency condition an append can carry."""

    ANY = "any"
    NO_STREAM = "no-stream"
    EXACT = "exact"


@dataclass(frozen=True)
class ExpectedVersion:
    """The condition on the aggregate's current version under which an append may happen."""

    kind: Expectation = Expectation.ANY
    version: int = 0

    @classmethod
    def any(cls) -> ExpectedVersion:
        """Append whatever the aggregate's current version is."""
        return cls(Expectation.ANY)

    @classmethod
    def no_stream(cls) -> ExpectedVersion:
        """Append only if the aggregate has no events yet."""
        return cls(Expectation.NO_STREAM)

    @classmethod
    def exact(cls, version: int) -> ExpectedVersion:
        """Append only if the aggregate's current version is ``version`` (0: no events yet)."""
        return cls(Expectation.EXACT, version)

    def allows(self, current: int) -> bool:
        """Whether an aggregate at version ``current`` satisfies this condition."""
        if self.kind is Expectation.ANY:
            return True
        if self.kind is Expectation.NO_STREAM:
            return current == 0
        return current == self.version

    def describe(self) -> str:
        """A short human-readable form, used in conflict messages."""
        if self.kind is Expectation.EXACT:
            return f"version {self.version}"
        return str(self.kind.value)


@dataclass(frozen=True)
class EventQuery:
    """A filter over stored events; every given condition must hold.

    Results come in ascending global position (so in version order within one aggregate).
    ``from_position`` is inclusive; ``limit`` None means no limit.
    """

    event_id: str = ""
    aggregate_id: str = ""
    event_types: tuple[str, ...] = ()
    from_position: int = 0
    limit: int | None = None

    def matches(self, event: RecordedEvent) -> bool:
        """Whether ``event`` passes this filter (ignoring ``limit``)."""
        return (
            (not self.event_id or event.event_id == self.event_id)
            and (not self.aggregate_id or event.aggregate_id == self.aggregate_id)
            and (not self.event_types or event.event_type in self.event_types)
            and event.position >= self.from_position
        )


def conflict_message(aggregate_id: str, current: int, expected: ExpectedVersion) -> str:
    """The message of a version conflict; it names the current version so a client can re-read."""
    return (
        f"aggregate {aggregate_id!r} is at version {current}, "
        f"but the append expected {expected.describe()}"
    )
