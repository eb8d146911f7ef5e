"""In-process adapters of the order domain's ports, for tests and benchmarks.

They keep the contracts of the real adapters (versions and idempotent appends in the event store,
idempotent ``apply`` and cursor paging in the read model) without IO.
``InMemoryEventStore.unavailable = True`` plays an unreachable store.
"""

from __future__ import annotations

import builtins
import dataclasses
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from kit.errors import Conflict, InvalidArgument, Unavailable
from orders import events
from orders.aggregate import Order
from orders.ports import ApplyOutcome, Event, OrderPage, OrderQuery, RecordedEvent
from orders.readmodel import MAX_LIMIT, decode_cursor, encode_cursor


class InMemoryEventStore:
    """``EventStore`` in a dict, with the event store service's append semantics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._by_id: dict[str, RecordedEvent] = {}
        self.unavailable = False

    def append(self, event: Event, expected_version: int) -> RecordedEvent:
        """Append at ``expected_version``; an id stored with the same content is returned as is."""
        self._check()
        if not event.stream:  # as the store does: ``ORDERS.created`` belongs to ``ORDERS``
            event = dataclasses.replace(event, stream=event.event_type.partition(".")[0])
        with self._lock:
            prior = self._by_id.get(event.event_id)
            if prior is not None:
                if event.same_content(prior):
                    return prior
                raise Conflict(f"event {event.event_id} is stored with a different content")
            stream = self._streams.setdefault(event.aggregate_id, [])
            if len(stream) != expected_version:
                raise Conflict(f"aggregate {event.aggregate_id!r} is at version {len(stream)}, "
                               f"but the append expected version {expected_version}")
            recorded = RecordedEvent(
                event_id=event.event_id, event_type=event.event_type, aggregate_id=event.aggregate_id,
                aggregate_type=event.aggregate_type, event_data=event.event_data, stream=event.stream,
                version=len(stream) + 1, position=len(self._by_id) + 1, created_at=datetime.now(UTC),
                metadata=event.metadata)
            stream.append(recorded)
            self._by_id[event.event_id] = recorded
            return recorded

    def load(self, aggregate_id: str) -> list[RecordedEvent]:
        """The aggregate's events in version order."""
        self._check()
        with self._lock:
            return list(self._streams.get(aggregate_id, ()))

    def all_events(self) -> list[RecordedEvent]:
        """Every stored event in position order."""
        with self._lock:
            return sorted(self._by_id.values(), key=lambda e: e.position)

    def _check(self) -> None:
        if self.unavailable:
            raise Unavailable("the event store is unavailable")


class InMemoryReadModel:
    """``ReadModel`` in a dict, with the SQL read model's ``apply`` and paging semantics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[str, tuple[int, Order]] = {}  # order id -> (created position, order)

    def get(self, order_id: str) -> Order | None:
        """The projected order, or None."""
        with self._lock:
            found = self._orders.get(order_id)
        return None if found is None else found[1]

    def list(self, query: OrderQuery) -> OrderPage:
        """Orders newest first, filtered, a page at a time."""
        if not 1 <= query.limit <= MAX_LIMIT:
            raise InvalidArgument.for_field("limit", f"must be between 1 and {MAX_LIMIT}")
        before = decode_cursor(query.cursor) if query.cursor else None
        with self._lock:
            ranked = sorted(self._orders.values(), key=lambda pair: pair[0], reverse=True)
        matching = [
            (position, order) for position, order in ranked
            if (before is None or position < before)
            and (query.customer_id is None or order.customer_id == query.customer_id)
            and (query.status is None or order.status is query.status)
        ]
        page = matching[:query.limit]
        more = len(matching) > query.limit
        return OrderPage([order for _, order in page], encode_cursor(page[-1][0]) if more else None)

    def reset(self) -> None:
        """Forget every projected order."""
        with self._lock:
            self._orders.clear()

    def apply_many(self, batch: Sequence[RecordedEvent]) -> builtins.list[ApplyOutcome]:
        """``apply`` each event; every event is decoded first, so bad data changes nothing."""
        for event in batch:
            events.decode(event.event_type, event.event_data, event.aggregate_id)
        return [self.apply(event) for event in batch]

    def apply(self, event: RecordedEvent) -> ApplyOutcome:
        """Project ``event`` once, in version order."""
        decoded = events.decode(event.event_type, event.event_data, event.aggregate_id)
        with self._lock:
            found = self._orders.get(event.aggregate_id)
            if isinstance(decoded, events.OrderCreated):
                if found is not None:
                    return ApplyOutcome.DUPLICATE
                self._orders[event.aggregate_id] = (event.position, Order.created(decoded))
                return ApplyOutcome.APPLIED
            if found is None or event.version > found[1].version + 1:
                return ApplyOutcome.GAP
            if event.version <= found[1].version:
                return ApplyOutcome.DUPLICATE
            self._orders[event.aggregate_id] = (found[0], found[1].apply(decoded))
            return ApplyOutcome.APPLIED

    def __iter__(self) -> Iterator[Order]:
        with self._lock:
            return iter([order for _, order in self._orders.values()])
