"""Fan-out of items to many subscribers, none of which can slow the publisher or each other.

``Broadcaster.publish`` never blocks: each subscriber has a bounded queue, and a subscriber whose
queue is full is cut off (its iteration ends, ``overflowed`` is set) rather than waited for. A
Server-Sent Events client cut off this way reconnects with ``Last-Event-ID`` and catches up from
wherever the items come from, so dropping it loses nothing. ``Subscription.items(wait)`` yields
``None`` whenever ``wait`` seconds pass without an item, which is when ``kit.http.sse`` sends its
heartbeats.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Subscription(Generic[T]):
    """One subscriber's bounded queue; iterate ``items`` and ``close`` when done.

    When cut off, the items already queued are still delivered, then the iteration ends: what the
    subscriber saw is a prefix of what was published, with no gap, so it can resume after its last.
    """

    def __init__(self, owner: Broadcaster[T], size: int) -> None:
        self._owner = owner
        self._size = size
        self._items: deque[T] = deque()
        self._ready = threading.Condition()
        self.overflowed = False
        self.closed = False

    def offer(self, item: T) -> bool:
        """Queue ``item`` without waiting; False (and cut off) when the queue is full."""
        with self._ready:
            if self.closed:
                return False
            if len(self._items) >= self._size:
                self.overflowed = True
                self.closed = True
                self._ready.notify_all()
                return False
            self._items.append(item)
            self._ready.notify()
            return True

    def _end(self) -> None:
        with self._ready:
            self.closed = True
            self._ready.notify_all()

    def items(self, wait: float) -> Iterator[T | None]:
        """The queued items in order, ``None`` after each ``wait`` seconds without one; ends when cut off."""
        while True:
            with self._ready:
                if not self._items and not self.closed:
                    self._ready.wait(wait)
                if self._items:
                    item: T | None = self._items.popleft()
                elif self.closed:
                    return
                else:
                    item = None
            yield item

    def close(self) -> None:
        """Unsubscribe; the iteration of ``items`` ends."""
        self._owner.unsubscribe(self)
        self._end()


class Broadcaster(Generic[T]):
    """Delivers every published item to every current subscriber, in publish order."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._subscribers: list[Subscription[T]] = []
        self.dropped = 0
        """Subscribers cut off so far because they did not keep up."""

    def subscribe(self) -> Subscription[T]:
        """A new subscription that receives every item published from now on."""
        subscription = Subscription(self, self._queue_size)
        with self._lock:
            self._subscribers.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription[T]) -> None:
        """Stop delivering to ``subscription`` (no error if it is already gone)."""
        with self._lock:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)

    @property
    def subscribers(self) -> int:
        """How many subscriptions are open."""
        with self._lock:
            return len(self._subscribers)

    def publish(self, item: T) -> None:
        """Offer ``item`` to every subscriber; cut off those whose queue is full. Never blocks."""
        with self._lock:
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            if not subscription.offer(item):
                self.dropped += 1
                self.unsubscribe(subscription)

    def close(self) -> None:
        """End every subscription."""
        with self._lock:
            subscribers, self._subscribers = self._subscribers, []
        for subscription in subscribers:
            subscription._end()
