"""The projection worker's service: every order event into the read model, exactly once in effect.

``ReadModel.apply`` commits an event's change together with the order's new version, so applying
an event twice changes nothing (``DUPLICATE``). Deliveries may come in any order (redeliveries,
several instances, a stream whose publishes were retried): when an event arrives before an earlier
one of its order (``GAP``), the order's events up to it are read from the event store and applied
in version order, so the read model never skips an event and every delivery order converges to the
same state. An event whose data cannot be read is refused as ``InvalidArgument`` (a poison message).
``handle_batch`` applies many events in one transaction (the worker's batch endpoint).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from kit.errors import InvalidArgument, Unavailable
from orders.ports import ApplyOutcome, EventStore, ReadModel, RecordedEvent


class ProjectionService:
    """Applies order events to a read model, catching up from the event store after a gap."""

    def __init__(self, read_model: ReadModel, store: EventStore) -> None:
        self._read_model = read_model
        self._store = store

    def _apply(self, event: RecordedEvent) -> ApplyOutcome:
        try:
            return self._read_model.apply(event)
        except ValueError as exc:
            raise InvalidArgument.for_field(
                "event_data", f"{event.event_type} {event.event_id}: {exc}") from exc

    def handle_batch(self, batch: Sequence[RecordedEvent]) -> list[ApplyOutcome]:
        """Apply ``batch`` in one transaction; then each event that came after a gap, as ``handle``."""
        try:
            outcomes = self._read_model.apply_many(batch)
        except ValueError as exc:  # the consumer retries the events one by one to find which
            raise InvalidArgument.for_field("event_data", f"unreadable event in a batch: {exc}") from exc
        return [self.handle(event) if outcome is ApplyOutcome.GAP else outcome
                for event, outcome in zip(batch, outcomes, strict=True)]

    def handle(self, event: RecordedEvent) -> ApplyOutcome:
        """Apply ``event``; after a gap, first apply the order's earlier events from the store."""
        outcome = self._apply(event)
        if outcome is not ApplyOutcome.GAP:
            return outcome
        for earlier in self._store.load(event.aggregate_id):
            if earlier.version > event.version:
                break
            self._apply(earlier)
        if self._apply(event) is ApplyOutcome.GAP:
            raise Unavailable(f"the event store has not got the events of order {event.aggregate_id} "
                              f"before version {event.version} (yet)")
        return ApplyOutcome.APPLIED


def rebuild(read_model: ReadModel, events: Iterable[RecordedEvent],
            progress: Callable[[RecordedEvent, ApplyOutcome], None] | None = None) -> dict[ApplyOutcome, int]:
    """Apply ``events`` (global position order) to ``read_model``; how many had each outcome.

    The replay of a whole store: in position order every order's events come in version order, so
    there are no gaps unless the store lost events (they are counted, not hidden).
    """
    counts = dict.fromkeys(ApplyOutcome, 0)
    for event in events:
        outcome = read_model.apply(event)
        counts[outcome] += 1
        if progress is not None:
            progress(event, outcome)
    return counts
