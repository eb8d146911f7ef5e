"""The event store's domain: events, where they come from, and the conditions of an append.

Plain frozen dataclasses; nothing here knows about gRPC, SQL or NATS. The events themselves
(``Event``, ``RecordedEvent``, ``Metadata``) are the shape every service shares, defined in
``contracts.events`` and re-exported here for the store's own modules.

A refused append is an ``AppendConflict`` (a ``kit.errors.Conflict``): raised by a single append,
returned as that item's outcome by a batch append (see ``decide``).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from contracts.events import Event, Metadata, RecordedEvent
from kit.errors import Conflict

__all__ = ["Append", "AppendConflict", "AppendOutcome", "ConflictReason", "Event", "EventQuery",
           "Expectation", "ExpectedVersion", "Metadata", "NotApplied", "RecordedEvent",
           "conflict_message"]


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


@dataclass(frozen=True)
class Append:
    """One append: store ``event`` if its aggregate's version satisfies ``expected``."""

    event: Event
    expected: ExpectedVersion = field(default_factory=ExpectedVersion.any)


class ConflictReason(enum.Enum):
    """Why an append was refused."""

    WRONG_EXPECTED_VERSION = "wrong-expected-version"
    EVENT_ID_REUSED = "event-id-reused"
    CONCURRENT_APPEND = "concurrent-append"


class AppendConflict(Conflict):
    """A refused append: why, and the aggregate's version when it was decided (0 if not known)."""

    def __init__(self, message: str, *, reason: ConflictReason, current_version: int = 0) -> None:
        super().__init__(message)
        self.reason = reason
        self.current_version = current_version


class NotApplied(Conflict):
    """An append of an all-or-nothing batch left out because other appends of it conflicted."""

    def __init__(self, conflicting: Sequence[int]) -> None:
        self.conflicting = tuple(conflicting)
        items = ", ".join(str(i) for i in self.conflicting)
        super().__init__(f"not applied: the batch is all-or-nothing and item(s) {items} conflicted")


AppendOutcome = RecordedEvent | AppendConflict | NotApplied
"""What became of one append of a batch: the stored event (new or an idempotent retry) or why not."""
