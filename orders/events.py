"""The order's events and their JSON: what is appended to the event store and published on ``ORDERS.*``.

Each event's ``event_data`` is a JSON object. ``ORDERS.created`` carries the Go original's order JSON
(``order_id, customer_id, restaurant_id, status, created_on, amount, order_items[{code, name,
unit_price, quantity}]``), money as exact JSON numbers. The other events carry ``order_id`` plus:

==========================  =========================================================
``ORDERS.cancelled``        ``reason`` (may be empty)
``ORDERS.paymentdebited``   ``customer_id``, ``amount``
``ORDERS.paymentfailed``    ``customer_id``, ``amount``, ``reason``
``ORDERS.paymentrefunded``  ``customer_id``, ``amount``, ``reason``
``ORDERS.approved``         nothing else
``ORDERS.rejected``         ``reason``
``ORDERS.reviewrejected``   ``reason``
==========================  =========================================================

``ORDERS.reviewrejected`` is the review's decision to turn down a paid order; the order stays Pending
until the saga coordinator has refunded the payment and appended ``ORDERS.rejected``.

Readers are tolerant: unknown fields are ignored, a missing ``order_id`` is the aggregate id, and a
missing text field is empty. ``decode`` returns None for event types it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeAlias

from contracts.events import Event, Metadata
from orders import jsontext, money
from orders.domain import OrderItem, OrderStatus

STREAM = "ORDERS"
AGGREGATE_TYPE = "order"


@dataclass(frozen=True)
class OrderCreated:
    """A customer placed an order; it is Pending."""

    TYPE: ClassVar[str] = "ORDERS.created"
    order_id: str
    customer_id: str
    restaurant_id: str
    created_on: datetime
    amount: Decimal
    items: tuple[OrderItem, ...]


@dataclass(frozen=True)
class OrderCancelled:
    """The customer cancelled the order."""

    TYPE: ClassVar[str] = "ORDERS.cancelled"
    order_id: str
    reason: str = ""


@dataclass(frozen=True)
class PaymentDebited:
    """The payment worker debited the order's amount."""

    TYPE: ClassVar[str] = "ORDERS.paymentdebited"
    order_id: str
    customer_id: str
    amount: Decimal


@dataclass(frozen=True)
class PaymentFailed:
    """The payment could not be debited; the order is rejected."""

    TYPE: ClassVar[str] = "ORDERS.paymentfailed"
    order_id: str
    customer_id: str
    amount: Decimal
    reason: str = ""


@dataclass(frozen=True)
class PaymentRefunded:
    """A debited payment was given back (after a cancellation or a rejection)."""

    TYPE: ClassVar[str] = "ORDERS.paymentrefunded"
    order_id: str
    customer_id: str
    amount: Decimal
    reason: str = ""


@dataclass(frozen=True)
class OrderApproved:
    """The restaurant's review accepted the order."""

    TYPE: ClassVar[str] = "ORDERS.approved"
    order_id: str


@dataclass(frozen=True)
class OrderRejected:
    """The review turned the order down; ``reason`` says why."""

    TYPE: ClassVar[str] = "ORDERS.rejected"
    order_id: str
    reason: str = ""


@dataclass(frozen=True)
class ReviewRejected:
    """The review turned a paid order down; the saga refunds the payment, then rejects the order."""

    TYPE: ClassVar[str] = "ORDERS.reviewrejected"
    order_id: str
    reason: str = ""


DomainEvent: TypeAlias = (OrderCreated | OrderCancelled | PaymentDebited | PaymentFailed
                          | PaymentRefunded | OrderApproved | OrderRejected | ReviewRejected)

EVENT_TYPES: tuple[str, ...] = tuple(cls.TYPE for cls in (
    OrderCreated, OrderCancelled, PaymentDebited, PaymentFailed, PaymentRefunded, OrderApproved,
    OrderRejected, ReviewRejected,
))


def item_data(item: OrderItem) -> dict[str, Any]:
    """The Go original's JSON of an order line."""
    return {"code": item.code, "name": item.name, "unit_price": money.quantize(item.unit_price),
            "quantity": item.quantity}


def event_data(event: DomainEvent) -> dict[str, Any]:
    """The JSON object (as Python values, money as ``Decimal``) that an event stores."""
    if isinstance(event, OrderCreated):
        return {
            "order_id": event.order_id,
            "customer_id": event.customer_id,
            "restaurant_id": event.restaurant_id,
            "status": OrderStatus.PENDING.value,
            "created_on": jsontext.timestamp(event.created_on),
            "amount": money.quantize(event.amount),
            "order_items": [item_data(item) for item in event.items],
        }
    data: dict[str, Any] = {"order_id": event.order_id}
    if isinstance(event, (PaymentDebited, PaymentFailed, PaymentRefunded)):
        data["customer_id"] = event.customer_id
        data["amount"] = money.quantize(event.amount)
    if isinstance(event, (OrderCancelled, PaymentFailed, PaymentRefunded, OrderRejected, ReviewRejected)):
        data["reason"] = event.reason
    return data


def encode(event: DomainEvent) -> str:
    """The ``event_data`` text of an event."""
    return jsontext.dumps(event_data(event))


def new_event(event_id: str, event: DomainEvent) -> Event:
    """``event`` as an append to the order's stream, under ``event_id``, correlated by the order id."""
    return Event(event_id=event_id, event_type=event.TYPE, aggregate_id=event.order_id,
                 aggregate_type=AGGREGATE_TYPE, event_data=encode(event), stream=STREAM,
                 metadata=Metadata(correlation_id=event.order_id))


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _amount(data: Mapping[str, Any], key: str) -> Decimal:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise ValueError(f"{key} must be a number")
    return money.parse(str(value))


def _item(raw: Any) -> OrderItem:
    if not isinstance(raw, Mapping):
        raise ValueError("order_items must hold objects")
    quantity = raw.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValueError("quantity must be an integer")
    return OrderItem(code=_text(raw, "code"), name=_text(raw, "name"),
                     unit_price=_amount(raw, "unit_price"), quantity=quantity)


def _created(order_id: str, data: Mapping[str, Any]) -> OrderCreated:
    raw_items = data.get("order_items") or []
    if not isinstance(raw_items, list):
        raise ValueError("order_items must be a list")
    created_on = datetime.fromisoformat(_text(data, "created_on").replace("Z", "+00:00"))
    return OrderCreated(order_id=order_id, customer_id=_text(data, "customer_id"),
                        restaurant_id=_text(data, "restaurant_id"), created_on=created_on,
                        amount=_amount(data, "amount"), items=tuple(_item(i) for i in raw_items))


def decode(event_type: str, text: str, aggregate_id: str) -> DomainEvent | None:
    """The event that stored ``event_data`` text stands for; None for an unknown type.

    Raises ``ValueError`` when the text is not a JSON object or misses what the type needs.
    """
    data = jsontext.loads(text)
    if not isinstance(data, dict):
        raise ValueError("event_data must be a JSON object")
    order_id = _text(data, "order_id") or aggregate_id
    if event_type == OrderCreated.TYPE:
        return _created(order_id, data)
    if event_type == OrderCancelled.TYPE:
        return OrderCancelled(order_id, _text(data, "reason"))
    if event_type == PaymentDebited.TYPE:
        return PaymentDebited(order_id, _text(data, "customer_id"), _amount(data, "amount"))
    if event_type == PaymentFailed.TYPE:
        return PaymentFailed(order_id, _text(data, "customer_id"), _amount(data, "amount"),
                             _text(data, "reason"))
    if event_type == PaymentRefunded.TYPE:
        return PaymentRefunded(order_id, _text(data, "customer_id"), _amount(data, "amount"),
                               _text(data, "reason"))
    if event_type == OrderApproved.TYPE:
        return OrderApproved(order_id)
    if event_type == OrderRejected.TYPE:
        return OrderRejected(order_id, _text(data, "reason"))
    if event_type == ReviewRejected.TYPE:
        return ReviewRejected(order_id, _text(data, "reason"))
    return None
