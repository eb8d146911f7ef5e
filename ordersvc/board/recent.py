"""The board's memory of recent orders: each order folded from its events, and the order rate.

``RecentOrders.apply(event)`` folds one stored event into the order it belongs to (with the
domain's own ``Order.apply``, so a status here is the status the service would compute) and
returns the order as of that event, or None for an order this process did not see created
(its row appears on the next page load, from the read model). At most ``limit`` orders are kept,
oldest forgotten first. Orders per second are counted from the commit times of
``ORDERS.created`` over the last minute.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from datetime import UTC, datetime, timedelta
from typing import Any

from orders import aggregate, events, jsontext, money
from orders.aggregate import Order
from orders.events import OrderCreated
from orders.ports import RecordedEvent

log = logging.getLogger(__name__)

WINDOW = 60  # seconds of the order rate and its chart


def row_view(order: Order) -> dict[str, Any]:
    """What the board shows of an order (money as exact text)."""
    return {
        "order_id": order.order_id,
        "customer_id": order.customer_id,
        "amount": str(money.quantize(order.amount)),
        "status": order.status.value,
        "created_on": jsontext.timestamp(order.created_on),
        "version": order.version,
    }


class RecentOrders:
    """The last ``limit`` orders created, folded from their events; thread-safe."""

    def __init__(self, limit: int = 100) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._orders: OrderedDict[str, Order] = OrderedDict()
        self._created: deque[datetime] = deque()

    def apply(self, event: RecordedEvent) -> Order | None:
        """Fold ``event``; the order as of it, or None when the order is unknown here."""
        try:
            decoded = events.decode(event.event_type, event.event_data, event.aggregate_id)
        except ValueError as exc:
            log.warning("board: event %s cannot be read: %s", event.event_id, exc)
            return None
        with self._lock:
            if isinstance(decoded, OrderCreated):
                if decoded.order_id in self._orders:
                    return None  # folded already
                order = aggregate.Order.created(decoded)
                self._orders[order.order_id] = order
                self._created.append(event.created_at)
                while len(self._orders) > self._limit:
                    self._orders.popitem(last=False)
                return order
            known = self._orders.get(event.aggregate_id)
            if known is None or event.version != known.version + 1:
                return None  # unknown here, or a version already folded
            order = known.apply(decoded)
            self._orders[order.order_id] = order
            return order

    def rows(self, count: int = 50) -> list[dict[str, Any]]:
        """The newest ``count`` orders, newest first."""
        with self._lock:
            newest = list(self._orders.values())[-count:]
        return [row_view(order) for order in reversed(newest)]

    def rate(self, now: datetime | None = None) -> tuple[float, list[int]]:
        """Orders per second over the last minute, and how many were created in each of its seconds."""
        now = now or datetime.now(UTC)
        start = now - timedelta(seconds=WINDOW)
        series = [0] * WINDOW
        with self._lock:
            while self._created and self._created[0] < start:
                self._created.popleft()
            stamps = list(self._created)
        for stamp in stamps:
            index = int((stamp - start).total_seconds())
            if 0 <= index < WINDOW:
                series[index] += 1
        return sum(series) / WINDOW, series
