"""The board's event feed: one ``GetEventsStream`` per process, fanned out to every open board.

Why the event store's stream rather than JetStream: its ids are the store's global positions, and
it sends every stored event once, in position order, from any position, so ``Last-Event-ID`` =
position resumes exactly where a client stopped; ordersvc already talks to the store, and a
JetStream subscription would add a NATS dependency and a second numbering (stream sequences).

The feed thread reads the stream from ``start`` (a little before the newest position the read
model has seen, so the board starts with recent orders), keeps the last ``ring`` events in memory
with the order each leaves behind (``RecentOrders``), and publishes each to a ``Broadcaster``; on
failure it reconnects after the last position it has, with backoff. ``events(after)`` is what one
SSE client gets: the events after position ``after`` (from the ring, or read from the store when
they are older than it), then the live ones, each exactly once and in position order. A client
that falls behind is cut off by the broadcaster, never waited for, and resumes on reconnect.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from eventstoresvc.client import EventStoreClient
from eventstoresvc.domain import EventQuery
from kit.http import Broadcaster
from kit.http.broadcast import Subscription
from orders.aggregate import Order
from orders.ports import RecordedEvent
from ordersvc.board.recent import RecentOrders

log = logging.getLogger(__name__)

PAGE = 500  # events per store read when a client resumes from before the ring


@dataclass(frozen=True)
class FeedItem:
    """A stored event and the order as of it (None if the feed did not see that order created)."""

    event: RecordedEvent
    order: Order | None


class EventFeed:
    """Follows the event store; ``events(after)`` streams positions after ``after`` to one client."""

    def __init__(self, client: EventStoreClient, *, start: Callable[[], int], ring: int = 2000,
                 queue_size: int = 1000, recent: RecentOrders | None = None) -> None:
        self._client = client
        self._start = start
        self._ring: deque[FeedItem] = deque(maxlen=ring)
        self._lock = threading.Lock()
        self._live: Broadcaster[FeedItem] = Broadcaster(queue_size)
        self.recent = recent or RecentOrders()
        self.head = 0
        """The last position the feed has (0: none yet)."""
        self._started = False
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def dropped(self) -> int:
        """Clients cut off so far for not keeping up."""
        return self._live.dropped

    def start(self) -> None:
        """Start following the store (once; later calls do nothing)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self.head = max(0, self._start())
        self._thread = threading.Thread(target=self._follow, name="board-feed", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop following and end every client's stream (closing the channel ends the read)."""
        self._stopped.set()
        self._live.close()

    def _follow(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            try:
                for event in self._client.stream_events(EventQuery(from_position=self.head + 1)):
                    failures = 0
                    self._add(event)
                    if self._stopped.is_set():
                        return
            except Exception as exc:  # the store restarting, or the channel closed on shutdown
                failures += 1
                log.debug("board feed interrupted: %r", exc)
            self._stopped.wait(min(5.0, 0.1 * 2 ** min(failures, 6)))

    def _add(self, event: RecordedEvent) -> None:
        with self._lock:
            if event.position <= self.head:
                return
            item = FeedItem(event, self.recent.apply(event))
            self._ring.append(item)
            self.head = event.position
            # Under the lock: a client subscribing sees either this item in the ring or live.
            self._live.publish(item)

    def events(self, after: int | None, *, wait: float = 1.0) -> Iterator[FeedItem | None]:
        """The items after position ``after`` (None: from now), then live ones; None while idle."""
        self.start()
        with self._lock:
            subscription = self._live.subscribe()
            ring = list(self._ring)
            start = self.head if after is None else after
        return self._replay(subscription, ring, start, wait)

    def _replay(self, subscription: Subscription[FeedItem], ring: list[FeedItem], sent: int,
                wait: float) -> Iterator[FeedItem | None]:
        try:
            first_in_ring = ring[0].event.position if ring else None
            if first_in_ring is None or sent + 1 < first_in_ring:
                # Orders created in what is read here get their rows; older ones do not.
                folded = RecentOrders(limit=PAGE)
                for event in self._older(sent, first_in_ring):
                    if event.position > sent:
                        sent = event.position
                        yield FeedItem(event, folded.apply(event))
            for item in ring:
                if item.event.position > sent:
                    sent = item.event.position
                    yield item
            for live in subscription.items(wait):
                if live is None:
                    yield None
                elif live.event.position > sent:
                    sent = live.event.position
                    yield live
        finally:
            subscription.close()

    def _older(self, after: int, until: int | None) -> Iterator[RecordedEvent]:
        """Stored events after ``after`` and before ``until`` (None: up to the newest), by pages."""
        position = after
        while until is None or position + 1 < until:
            page = self._client.get_events(EventQuery(from_position=position + 1, limit=PAGE))
            if not page:
                return
            for event in page:
                if until is not None and event.position >= until:
                    return
                position = event.position
                yield event
