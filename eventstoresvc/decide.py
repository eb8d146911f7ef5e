"""Deciding appends against the committed state: pure, shared by the SQL and the in-memory store.

A ``Batch`` is one caller's appends (one ``CreateEvent``: a batch of one; one ``AppendEvents``: its
items), decided in order. A ``Decider`` holds what the transaction knows (the stored events of the
ids involved, the aggregates' current versions, the head position) and decides batch after batch,
each against the state the batches before it left: an event id already stored with the same content
is an idempotent success (its stored record, whatever the expected version says), one stored with
another content or a version that does not satisfy the expected one is an ``AppendConflict``, and
anything else is accepted as the next version of its aggregate at the next position.

An all-or-nothing batch with a conflict is rolled back inside the decider before anything of it is
written: it takes no position, later batches see the state from before it, its conflicting items
keep their conflict and every other item becomes ``NotApplied``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from eventstoresvc.domain import (
    Append,
    AppendConflict,
    AppendOutcome,
    ConflictReason,
    NotApplied,
    RecordedEvent,
    conflict_message,
)


@dataclass(frozen=True)
class Batch:
    """One caller's appends, decided in order; ``all_or_nothing``: store all of them or none."""

    items: Sequence[Append]
    all_or_nothing: bool = False


def reused_id(event_id: str, prior: RecordedEvent, current_version: int) -> AppendConflict:
    """The conflict of an event id stored before with another content."""
    return AppendConflict(
        f"event {event_id!r} is already stored with a different content "
        f"(aggregate {prior.aggregate_id!r}, version {prior.version})",
        reason=ConflictReason.EVENT_ID_REUSED, current_version=current_version)


class Decider:
    """Decides batches against committed state; ``accepted`` collects what is to be written.

    ``stored`` (event id -> stored record) must hold at least the ids of the batches to decide,
    ``versions`` (aggregate id -> current version, absent: 0) at least their aggregates. Both are
    updated in place as batches are accepted, as is ``head``.
    """

    def __init__(self, stored: dict[str, RecordedEvent], versions: dict[str, int], head: int,
                 now: datetime) -> None:
        self._stored = stored
        self._versions = versions
        self._now = now
        self.head = head
        self.accepted: list[RecordedEvent] = []

    def decide(self, batch: Batch) -> list[AppendOutcome]:
        """Each item's outcome, in order; accepted items are added to ``accepted``."""
        stored: dict[str, RecordedEvent] = {}
        versions: dict[str, int] = {}
        head = self.head
        new: list[RecordedEvent] = []
        outcomes: list[AppendOutcome] = []
        for item in batch.items:
            event = item.event
            current = versions.get(event.aggregate_id, self._versions.get(event.aggregate_id, 0))
            prior = stored.get(event.event_id) or self._stored.get(event.event_id)
            if prior is not None:
                outcomes.append(prior if event.same_content(prior)
                                else reused_id(event.event_id, prior, current))
                continue
            if not item.expected.allows(current):
                outcomes.append(AppendConflict(
                    conflict_message(event.aggregate_id, current, item.expected),
                    reason=ConflictReason.WRONG_EXPECTED_VERSION, current_version=current))
                continue
            head += 1
            record = RecordedEvent(
                event_id=event.event_id, event_type=event.event_type, aggregate_id=event.aggregate_id,
                aggregate_type=event.aggregate_type, event_data=event.event_data, stream=event.stream,
                version=current + 1, position=head, created_at=self._now, metadata=event.metadata,
            )
            versions[event.aggregate_id] = record.version
            stored[event.event_id] = record
            new.append(record)
            outcomes.append(record)
        conflicting = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, AppendConflict)]
        if batch.all_or_nothing and conflicting:
            return [o if isinstance(o, AppendConflict) else NotApplied(conflicting) for o in outcomes]
        self._stored.update(stored)
        self._versions.update(versions)
        self.head = head
        self.accepted.extend(new)
        return outcomes
