"""An order's stored history, rebuilt in one place, and the log that reads and extends it.

Decisions about an order are taken from the order as the event store has it, never from a message
alone: the history ``OrderLog.load`` reads, or, to spare that read for a reader that sees every
event of an order (the saga), the one ``at`` gives: the history this process last read or
appended, followed by the event being handled when it is the next version. Such a history may miss
events stored since; deciding from it is safe all the same, because every decision is appended at
the history's version: a stale one gets ``Conflict`` (or, if the same decision was stored
meanwhile, is recognised as it), and the decider re-reads with ``load`` (see ``orders.decisions``).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from kit.errors import Internal
from orders import aggregate, events
from orders.aggregate import InvalidHistory, Order
from orders.events import DomainEvent
from orders.ports import EventStore, RecordedEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderHistory:
    """An order and the stored events it was rebuilt from, oldest first."""

    order: Order
    events: tuple[RecordedEvent, ...]

    def has(self, event_type: str) -> bool:
        """Whether an event of ``event_type`` is in the history."""
        return any(e.event_type == event_type for e in self.events)

    def last(self, event_type: str) -> RecordedEvent | None:
        """The latest event of ``event_type``, or None."""
        for event in reversed(self.events):
            if event.event_type == event_type:
                return event
        return None

    def then(self, recorded: RecordedEvent, event: DomainEvent | None) -> OrderHistory:
        """The history after ``recorded`` (the stored form of ``event``; None for an unknown type)."""
        return OrderHistory(self.order.apply(event), (*self.events, recorded))


def rebuild(recorded: Sequence[RecordedEvent]) -> OrderHistory | None:
    """The history of stored events, or None if there are none; an unreadable one is ``Internal``."""
    try:
        order = aggregate.rebuild(
            events.decode(e.event_type, e.event_data, e.aggregate_id) for e in recorded)
    except (InvalidHistory, ValueError) as exc:
        aggregate_id = recorded[0].aggregate_id if recorded else "?"
        log.error("cannot rebuild order %s from its events: %s", aggregate_id, exc)
        raise Internal(f"the history of order {aggregate_id} cannot be read") from exc
    return None if order is None else OrderHistory(order, tuple(recorded))


RECENT = 4096
"""How many orders' latest known histories an ``OrderLog`` keeps for ``at``."""


class OrderLog:
    """Reads orders from, and appends decisions to, an ``EventStore``.

    ``recent`` histories are kept for ``at``; 0 keeps none (a reader that never calls ``at``).
    """

    def __init__(self, store: EventStore, recent: int = RECENT) -> None:
        self._store = store
        self._recent: OrderedDict[str, OrderHistory] = OrderedDict()
        self._recent_size = recent
        self._lock = threading.Lock()

    def load(self, order_id: str) -> OrderHistory | None:
        """The order's history, or None if the store has no events for it."""
        history = rebuild(self._store.load(order_id))
        return None if history is None else self._remember(history)

    def at(self, event: RecordedEvent) -> OrderHistory | None:
        """A history of ``event``'s order up to ``event`` at least, read from the store if need be.

        It may miss events stored since (see the module docstring): decide from it, append at its
        version, and ``load`` on ``Conflict``.
        """
        with self._lock:
            known = self._recent.get(event.aggregate_id)
        if known is not None:
            if known.order.version >= event.version:
                return known
            if known.order.version == event.version - 1:
                try:
                    decoded = events.decode(event.event_type, event.event_data, event.aggregate_id)
                    return self._remember(known.then(event, decoded))
                except (InvalidHistory, ValueError):
                    pass  # read the stored history instead, which reports what is wrong with it
        return self.load(event.aggregate_id)

    def _remember(self, history: OrderHistory) -> OrderHistory:
        """Keep ``history`` as the order's latest known one, unless a later one is known."""
        if self._recent_size <= 0:
            return history
        order_id = history.order.order_id
        with self._lock:
            known = self._recent.get(order_id)
            if known is None or known.order.version <= history.order.version:
                self._recent[order_id] = history
                self._recent.move_to_end(order_id)
                if len(self._recent) > self._recent_size:
                    self._recent.popitem(last=False)
        return history

    def append(self, history: OrderHistory, event: DomainEvent, event_id: str) -> OrderHistory:
        """Append ``event`` under ``event_id`` at the order's current version; the history after it.

        Raises ``Conflict`` when the order changed since ``history`` was read (re-read and decide
        again). When the store already holds an event of this id (a retry), the order is re-read.
        """
        order_id = history.order.order_id
        recorded = self._store.append(events.new_event(event_id, event), history.order.version)
        if recorded.version == history.order.version + 1:
            return self._remember(history.then(recorded, event))
        reloaded = self.load(order_id)
        if reloaded is None:  # the store just returned an event of this order
            raise Internal(f"order {order_id} vanished from the event store")
        return reloaded
