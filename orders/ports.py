"""The ports of the order domain: the event store that holds orders, and the read model that shows them.

Each is a small ``Protocol`` over plain dataclasses (the events are the shared
``contracts.events`` shapes, re-exported here); adapters live in ``eventstore`` (gRPC),
``readmodel`` (SQL) and ``memory`` (in-process fakes for tests). Failures arrive
as ``kit.errors``: ``Conflict`` when an expected version does not hold, ``Unavailable`` when a
dependency cannot be reached.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from contracts.events import Event, RecordedEvent
from orders.aggregate import Order
from orders.domain import OrderStatus

__all__ = ["ApplyOutcome", "Event", "EventStore", "OrderPage", "OrderQuery", "ReadModel",
           "RecordedEvent"]


class EventStore(Protocol):
    """Append and read an order's events."""

    def append(self, event: Event, expected_version: int) -> RecordedEvent:
        """Append ``event`` if its aggregate is at ``expected_version`` (0: no events yet).

        Raises ``Conflict`` otherwise. Appending an event id already stored with the same content
        returns the stored event.
        """
        ...

    def load(self, aggregate_id: str) -> list[RecordedEvent]:
        """The aggregate's events in version order (empty if there are none)."""
        ...


@dataclass(frozen=True)
class OrderQuery:
    """A page of the order list: optional filters, a page size and where the last page ended."""

    customer_id: str | None = None
    status: OrderStatus | None = None
    limit: int = 20
    cursor: str | None = None


@dataclass(frozen=True)
class OrderPage:
    """Orders newest first, and the cursor of the next page (None on the last one)."""

    orders: Sequence[Order]
    next_cursor: str | None


class ApplyOutcome(enum.Enum):
    """What ``ReadModel.apply`` did with an event."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    """Already reflected (an event at or below the stored version): nothing changed."""
    GAP = "gap"
    """An earlier event of the order is missing: nothing changed; apply the missing ones first."""


class ReadModel(Protocol):
    """The queryable copy of the orders, kept up to date by applying events."""

    def get(self, order_id: str) -> Order | None:
        """The order as last projected, or None."""
        ...

    def list(self, query: OrderQuery) -> OrderPage:
        """A page of orders; an undecodable cursor raises ``InvalidArgument`` (field ``cursor``)."""
        ...

    def apply(self, event: RecordedEvent) -> ApplyOutcome:
        """Project one event, at most once: the order's version is committed with its effect."""
        ...

    def apply_many(self, batch: Sequence[RecordedEvent]) -> builtins.list[ApplyOutcome]:
        """``apply`` each event of ``batch`` in its order, all in one transaction; an outcome each.

        Raises ``ValueError`` before changing anything if any event's data cannot be read.
        """
        ...

    def reset(self) -> None:
        """Forget every projected order (a replay then applies every event again)."""
        ...
