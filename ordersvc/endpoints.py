"""The order service's endpoints: one function per operation, shared by the HTTP and gRPC transports.

Requests are frozen dataclasses that transports fill from their wire formats (``requests`` holds the
schemas that validate wire input into them); responses are domain values that each transport
renders. ``instrumented`` wraps every endpoint in logging and metrics middleware.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, TypeVar

import pydantic

from kit.endpoint import Endpoint, Middleware
from kit.middleware.observed import observed
from orders.aggregate import Order
from orders.ports import OrderPage, OrderQuery, RecordedEvent
from ordersvc.service import CreateOrder, OrderService

Req = TypeVar("Req")
Resp = TypeVar("Resp")
METRICS_SERVICE = "ordersvc"
LOG = logging.getLogger("ordersvc")


@pydantic.with_config(extra="forbid")
@dataclass(frozen=True)
class GetOrderRequest:
    """Which order to read."""

    order_id: str


@pydantic.with_config(extra="forbid")
@dataclass(frozen=True)
class CancelOrderRequest:
    """Which order to cancel, and why (optional)."""

    order_id: str
    reason: str = ""


@pydantic.with_config(extra="forbid")
@dataclass(frozen=True)
class OrderHistoryRequest:
    """Which order's events to read."""

    order_id: str


@dataclass(frozen=True)
class OrderHistory:
    """An order's stored events, oldest first."""

    order_id: str
    events: list[RecordedEvent]


@dataclass(frozen=True)
class Endpoints:
    """Every operation of the order API as an endpoint."""

    create_order: Endpoint[CreateOrder, Order]
    get_order: Endpoint[GetOrderRequest, Order]
    list_orders: Endpoint[OrderQuery, OrderPage]
    cancel_order: Endpoint[CancelOrderRequest, Order]
    order_history: Endpoint[OrderHistoryRequest, OrderHistory]


def make_endpoints(service: OrderService) -> Endpoints:
    """The endpoints calling ``service``."""

    def get_order(request: GetOrderRequest) -> Order:
        return service.get_order(request.order_id)

    def cancel_order(request: CancelOrderRequest) -> Order:
        return service.cancel_order(request.order_id, request.reason)

    def order_history(request: OrderHistoryRequest) -> OrderHistory:
        return OrderHistory(request.order_id, service.order_history(request.order_id))

    return Endpoints(create_order=service.create_order, get_order=get_order,
                     list_orders=service.list_orders, cancel_order=cancel_order,
                     order_history=order_history)


METHOD_NAMES = {
    "create_order": "CreateOrder",
    "get_order": "GetOrder",
    "list_orders": "ListOrders",
    "cancel_order": "CancelOrder",
    "order_history": "GetOrderEvents",
}


def _wrap(method: str, endpoint: Endpoint[Any, Any]) -> Endpoint[Any, Any]:
    middleware: Middleware[Any, Any] = observed(LOG, METRICS_SERVICE, method)
    return middleware(endpoint)


def instrumented(endpoints: Endpoints) -> Endpoints:
    """The same endpoints, each wrapped (outermost first) in logging and Prometheus metrics."""
    return Endpoints(**{field: _wrap(method, getattr(endpoints, field))
                        for field, method in METHOD_NAMES.items()})
