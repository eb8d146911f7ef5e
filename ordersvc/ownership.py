"""Who may see and change which order: a customer token its own orders, an operator token all.

With auth on, every order endpoint is wrapped (inside logging and metrics, so refusals are logged
and counted like any other answer) by ``owned``:

- create: a customer token (``sub`` = customer id) may create orders only for its own
  ``customer_id``; another one is 403 PERMISSION_DENIED and nothing is stored;
- get, cancel, history: an order of another customer answers exactly as an order that does not
  exist (404 NOT_FOUND, same message), so order ids cannot be probed; cancel checks before it acts;
- list: without ``customer_id`` the list is the caller's own orders; naming another customer is 403;
- a token with scope ``orders:admin`` may do all of the above for any customer.

The claims are those the transport verified (``kit.context``); a request without any (a transport
built without ``auth``) is refused as unauthenticated rather than let through.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kit import context
from kit.auth.claims import scopes_of
from kit.auth.settings import ADMIN_SCOPE
from kit.endpoint import Endpoint
from kit.errors import NotFound, PermissionDenied, Unauthenticated
from orders.aggregate import Order
from orders.ports import OrderPage, OrderQuery
from ordersvc.endpoints import (
    CancelOrderRequest,
    Endpoints,
    GetOrderRequest,
    OrderHistory,
    OrderHistoryRequest,
)
from ordersvc.service import CreateOrder, OrderService

Req = TypeVar("Req")
Resp = TypeVar("Resp")


@dataclasses.dataclass(frozen=True)
class Caller:
    """The verified identity of the request being handled."""

    customer_id: str
    admin: bool


def caller() -> Caller:
    """The current request's caller, from its verified claims; ``Unauthenticated`` without any."""
    claims: Mapping[str, Any] | None = context.current().claims
    if claims is None:
        raise Unauthenticated("authentication required")
    subject = claims.get("sub")
    admin = ADMIN_SCOPE in scopes_of(claims)
    if not isinstance(subject, str) or not subject:
        if admin:
            return Caller("", admin=True)
        raise PermissionDenied("token has no subject (sub): it names no customer")
    return Caller(subject, admin=admin)


def _not_found(order_id: str) -> NotFound:
    return NotFound(f"order {order_id} not found")  # the service's own words for a missing order


def owned(endpoints: Endpoints, service: OrderService) -> Endpoints:
    """``endpoints`` restricted to what the caller's token allows (see the module docstring)."""

    def check_owner(order_id: str) -> None:
        who = caller()
        if not who.admin and service.get_order(order_id).customer_id != who.customer_id:
            raise _not_found(order_id)

    def create_order(command: CreateOrder) -> Order:
        who = caller()
        if not who.admin and command.customer_id != who.customer_id:
            raise PermissionDenied("a customer token creates orders only for its own customer_id")
        return endpoints.create_order(command)

    def get_order(request: GetOrderRequest) -> Order:
        who = caller()
        order = endpoints.get_order(request)
        if not who.admin and order.customer_id != who.customer_id:
            raise _not_found(request.order_id)
        return order

    def list_orders(query: OrderQuery) -> OrderPage:
        who = caller()
        if who.admin:
            return endpoints.list_orders(query)
        if query.customer_id not in (None, who.customer_id):
            raise PermissionDenied("a customer token lists only its own orders")
        return endpoints.list_orders(dataclasses.replace(query, customer_id=who.customer_id))

    def guarded(endpoint: Callable[[Any], Resp], order_id: Callable[[Any], str]) -> Endpoint[Any, Resp]:
        def call(request: Any) -> Resp:
            check_owner(order_id(request))
            return endpoint(request)

        return call

    cancel: Endpoint[CancelOrderRequest, Order] = guarded(endpoints.cancel_order, lambda r: r.order_id)
    history: Endpoint[OrderHistoryRequest, OrderHistory] = guarded(endpoints.order_history,
                                                                   lambda r: r.order_id)
    return Endpoints(create_order=create_order, get_order=get_order, list_orders=list_orders,
                     cancel_order=cancel, order_history=history)
