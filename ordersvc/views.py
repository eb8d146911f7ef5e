"""JSON views of orders, pages and histories: the Go original's field names, exact money.

``order_view`` is the order JSON of ``ORDERS.created`` (``order_id, customer_id, restaurant_id,
status, created_on, amount, order_items``) plus what the order has become since
(``payment_status``, ``rejection_reason``, ``cancellation_reason``, ``version``). Values are plain
Python with ``Decimal`` money; ``jsontext.dumps`` writes them.
"""

from __future__ import annotations

from typing import Any

from orders import jsontext, money
from orders.aggregate import Order
from orders.events import item_data
from orders.ports import OrderPage, RecordedEvent
from ordersvc.endpoints import OrderHistory


def order_view(order: Order) -> dict[str, Any]:
    """The JSON object of an order."""
    return {
        "order_id": order.order_id,
        "customer_id": order.customer_id,
        "restaurant_id": order.restaurant_id,
        "status": order.status.value,
        "created_on": jsontext.timestamp(order.created_on),
        "amount": money.quantize(order.amount),
        "order_items": [item_data(item) for item in order.items],
        "payment_status": order.payment.value,
        "rejection_reason": order.rejection_reason,
        "cancellation_reason": order.cancellation_reason,
        "version": order.version,
    }


def page_view(page: OrderPage) -> dict[str, Any]:
    """The JSON object of a page of orders."""
    return {"orders": [order_view(order) for order in page.orders], "next_cursor": page.next_cursor}


def event_view(event: RecordedEvent) -> dict[str, Any]:
    """The JSON object of a stored event; ``data`` is its ``event_data`` parsed (money exact)."""
    try:
        data = jsontext.loads(event.event_data)
    except ValueError:
        data = event.event_data
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "version": event.version,
        "position": event.position,
        "created_at": jsontext.timestamp(event.created_at),
        "data": data,
    }


def history_view(history: OrderHistory) -> dict[str, Any]:
    """The JSON object of an order's history."""
    return {"order_id": history.order_id, "events": [event_view(e) for e in history.events]}
