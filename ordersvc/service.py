"""The order service: its port (``OrderService``) and the event-sourced implementation.

Writes go to the event store only: an order is created by appending ``ORDERS.created`` to a new
stream (expected version 0) and changed by appending to its stream at the version its decision was
based on. After a successful append the service projects the order's events into the read model
itself (the projection worker applies the same events later and finds them already there: ``apply``
is idempotent), so a GET right after a POST or a cancel reads its own write. A projection failure
never fails the write; reads then fall back to rebuilding the order from the event store.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from kit.errors import Conflict, FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from orders import aggregate, events, jsontext, money
from orders.aggregate import Order
from orders.decisions import Decision, decide
from orders.domain import OrderItem, is_order_id
from orders.history import OrderHistory, OrderLog
from orders.ports import Event, EventStore, OrderPage, OrderQuery, ReadModel, RecordedEvent
from ordersvc.ports import IdempotencyStore, Reservation

log = logging.getLogger(__name__)

MAX_IDEMPOTENCY_KEY_LENGTH = 255
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_DECISION_ATTEMPTS = 3


@dataclass(frozen=True)
class CreateOrder:
    """Place an order; with an ``idempotency_key``, repeating the same request places it once."""

    customer_id: str
    restaurant_id: str
    items: tuple[OrderItem, ...]
    idempotency_key: str | None = None


class IdempotencyKeyReused(FailedPrecondition):
    """The idempotency key was first used with a different request (HTTP 422)."""

    title = "Idempotency key reused"


class OrderService(Protocol):
    """What the order API offers, whatever the transport."""

    def create_order(self, command: CreateOrder) -> Order:
        """Place a new order (Pending); its amount is computed here, exactly."""
        ...

    def cancel_order(self, order_id: str, reason: str = "") -> Order:
        """Cancel a Pending order; ``FailedPrecondition`` in any other state."""
        ...

    def get_order(self, order_id: str) -> Order:
        """The order, including one created a moment ago; ``NotFound`` if there is none."""
        ...

    def list_orders(self, query: OrderQuery) -> OrderPage:
        """A page of orders from the read model, newest first."""
        ...

    def order_history(self, order_id: str) -> list[RecordedEvent]:
        """The order's events from the event store, oldest first; ``NotFound`` if there are none."""
        ...


def fingerprint(customer_id: str, restaurant_id: str, items: Sequence[OrderItem]) -> str:
    """A digest of what a create request asks for; equal requests (``12.5`` == ``12.50``) match."""
    canonical = jsontext.dumps([customer_id, restaurant_id, [
        [item.code, item.name, money.format_amount(item.unit_price), item.quantity] for item in items
    ]])
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_idempotency_key(key: str) -> None:
    """Raise ``InvalidArgument`` unless ``key`` is 1-255 printable ASCII characters without spaces."""
    if not _KEY.fullmatch(key):
        raise InvalidArgument(fields=[FieldViolation(
            "idempotency_key",
            f"must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters without spaces")])


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid.uuid4())


class EventSourcedOrderService:
    """``OrderService`` over an event store, a read model and an idempotency key store."""

    def __init__(self, event_store: EventStore, read_model: ReadModel, idempotency: IdempotencyStore,
                 *, clock: Callable[[], datetime] = _now, new_id: Callable[[], str] = _new_id) -> None:
        self._store = event_store
        self._orders = OrderLog(event_store, recent=0)  # every decision reads the store afresh
        self._read_model = read_model
        self._idempotency = idempotency
        self._clock = clock
        self._new_id = new_id

    def create_order(self, command: CreateOrder) -> Order:
        """Append ``ORDERS.created`` to a new stream; a repeated idempotent request re-appends the
        very same event, which the store accepts as already done."""
        order_id, event_id, created_on = self._new_id(), self._new_id(), self._clock()
        decided = aggregate.create(order_id, command.customer_id, command.restaurant_id,
                                   command.items, created_on)
        if command.idempotency_key is not None:
            check_idempotency_key(command.idempotency_key)
            digest = fingerprint(command.customer_id, command.restaurant_id, decided.items)
            bound = self._idempotency.reserve(Reservation(
                command.idempotency_key, digest, order_id, event_id, created_on))
            if bound.fingerprint != digest:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was used with a different request body")
            if bound.order_id != order_id:
                event_id = bound.event_id
                decided = aggregate.create(bound.order_id, command.customer_id, command.restaurant_id,
                                           command.items, bound.created_on)
        new_event = events.new_event(event_id, decided)
        try:
            recorded = self._store.append(new_event, expected_version=0)
        except Conflict:
            # Two requests with one key raced to append the same event; the loser may hear of a
            # conflict instead of the store's idempotent success. Either way the event is there.
            recorded = self._already_appended(new_event)
        self._project([recorded])
        return Order.created(decided)

    def _already_appended(self, event: Event) -> RecordedEvent:
        history = self._store.load(event.aggregate_id)
        if history and history[0].event_id == event.event_id:
            return history[0]
        raise Conflict(f"order {event.aggregate_id} exists already")

    def cancel_order(self, order_id: str, reason: str = "") -> Order:
        """Decide on the current history and append at its version; re-decide if a concurrent
        event (a worker's) got in first."""
        if not is_order_id(order_id):
            raise NotFound(f"order {order_id} not found")

        def cancel(history: OrderHistory) -> Decision[None]:
            return Decision(None, history.order.cancel(reason), self._new_id())

        decided = decide(self._orders, order_id, cancel, attempts=_DECISION_ATTEMPTS,
                         missing=lambda: NotFound(f"order {order_id} not found"))
        self._project(decided.history.events)
        return decided.history.order

    def get_order(self, order_id: str) -> Order:
        """The read model's copy, or, when it has none yet, the order rebuilt from its events."""
        if not is_order_id(order_id):
            raise NotFound(f"order {order_id} not found")
        try:
            found = self._read_model.get(order_id)
        except Exception:
            log.warning("read model unavailable; reading order %s from the event store", order_id,
                        exc_info=True)
            found = None
        if found is not None:
            return found
        history = self._orders.load(order_id)
        if history is None:
            raise NotFound(f"order {order_id} not found")
        self._project(history.events)
        return history.order

    def list_orders(self, query: OrderQuery) -> OrderPage:
        """A page of the read model."""
        return self._read_model.list(query)

    def order_history(self, order_id: str) -> list[RecordedEvent]:
        """The order's stored events."""
        history = self._load(order_id)
        if not history:
            raise NotFound(f"order {order_id} not found")
        return history

    def _load(self, order_id: str) -> list[RecordedEvent]:
        if not is_order_id(order_id):
            raise NotFound(f"order {order_id} not found")
        return self._store.load(order_id)

    def _project(self, recorded: Sequence[RecordedEvent]) -> None:
        try:
            self._read_model.apply_many(recorded)
        except Exception:
            # The write is committed in the event store; the projection worker will catch up.
            log.warning("could not project order events into the read model", exc_info=True)
