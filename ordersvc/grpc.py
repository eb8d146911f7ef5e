"""The gRPC transport: ``ordersvc.OrderService`` served from the same endpoints as the HTTP API.

Wire messages are validated through the same schemas as HTTP bodies (``requests``), so a field is
accepted or refused with the same message on both transports; errors leave as the matching gRPC
status (INVALID_ARGUMENT with field violations, NOT_FOUND, FAILED_PRECONDITION, UNAVAILABLE, ...).
Protobuf types stop here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from contracts import ordersvc_pb2 as pb
from contracts import ordersvc_pb2_grpc as pb_grpc
from kit import codec
from kit.auth.bearer import Authenticator
from kit.grpc import GRPCServer
from kit.tracing import NOOP_TRACER, Tracer
from orders import money
from orders.aggregate import Order
from orders.ports import OrderPage, OrderQuery
from ordersvc.endpoints import (
    CancelOrderRequest,
    Endpoints,
    GetOrderRequest,
    OrderHistory,
    OrderHistoryRequest,
)
from ordersvc.requests import CreateOrderInput, ListOrdersInput
from ordersvc.service import CreateOrder

SERVICE_NAME = "ordersvc.OrderService"


def decode_create(msg: pb.CreateOrderRequest) -> CreateOrder:
    """Wire request -> create command, validated like an HTTP body."""
    data = {
        "customer_id": msg.customer_id,
        "restaurant_id": msg.restaurant_id,
        "order_items": [{"code": i.code, "name": i.name, "unit_price": i.unit_price,
                         "quantity": i.quantity} for i in msg.order_items],
    }
    return codec.decode(CreateOrderInput, data).command(msg.idempotency_key or None)


def decode_list(msg: pb.ListOrdersRequest) -> OrderQuery:
    """Wire request -> list query (empty fields: no filter / default)."""
    data: dict[str, Any] = {"customer_id": msg.customer_id or None, "status": msg.status or None,
                            "cursor": msg.cursor or None}
    if msg.limit:
        data["limit"] = msg.limit
    return codec.decode(ListOrdersInput, data).query()


def decode_get(msg: pb.GetOrderRequest) -> GetOrderRequest:
    """Wire request -> endpoint request."""
    return GetOrderRequest(msg.order_id)


def decode_cancel(msg: pb.CancelOrderRequest) -> CancelOrderRequest:
    """Wire request -> endpoint request."""
    return CancelOrderRequest(msg.order_id, msg.reason)


def decode_history(msg: pb.GetOrderEventsRequest) -> OrderHistoryRequest:
    """Wire request -> endpoint request."""
    return OrderHistoryRequest(msg.order_id)


def order_to_pb(order: Order) -> pb.Order:
    """The wire form of an order."""
    msg = pb.Order(
        order_id=order.order_id, customer_id=order.customer_id, restaurant_id=order.restaurant_id,
        status=order.status.value, amount=money.format_amount(order.amount),
        order_items=[pb.OrderItem(code=i.code, name=i.name, unit_price=money.format_amount(i.unit_price),
                                  quantity=i.quantity) for i in order.items],
        payment_status=order.payment.value, rejection_reason=order.rejection_reason,
        cancellation_reason=order.cancellation_reason, version=order.version,
    )
    msg.created_on.FromDatetime(order.created_on)
    return msg


def page_to_pb(page: OrderPage) -> pb.ListOrdersResponse:
    """The wire form of a page of orders."""
    return pb.ListOrdersResponse(orders=[order_to_pb(o) for o in page.orders],
                                 next_cursor=page.next_cursor or "")


def history_to_pb(history: OrderHistory) -> pb.GetOrderEventsResponse:
    """The wire form of an order's history."""
    reply = pb.GetOrderEventsResponse(order_id=history.order_id)
    for event in history.events:
        item = reply.events.add(event_id=event.event_id, event_type=event.event_type,
                                version=event.version, position=event.position,
                                event_data=event.event_data)
        item.created_at.FromDatetime(event.created_at)
    return reply


class OrderServiceServicer(pb_grpc.OrderServiceServicer):
    """``ordersvc.OrderService`` over the order endpoints; with ``auth`` each call needs a token."""

    def __init__(self, endpoints: Endpoints, *, tracer: Tracer = NOOP_TRACER,
                 auth: Authenticator | None = None) -> None:
        def method(name: str) -> str:
            return f"/{SERVICE_NAME}/{name}"

        self._create = GRPCServer(endpoints.create_order, decode_create, order_to_pb,
                                  method=method("CreateOrder"), tracer=tracer, auth=auth)
        self._get = GRPCServer(endpoints.get_order, decode_get, order_to_pb,
                               method=method("GetOrder"), tracer=tracer, auth=auth)
        self._list = GRPCServer(endpoints.list_orders, decode_list, page_to_pb,
                                method=method("ListOrders"), tracer=tracer, auth=auth)
        self._cancel = GRPCServer(endpoints.cancel_order, decode_cancel, order_to_pb,
                                  method=method("CancelOrder"), tracer=tracer, auth=auth)
        self._history = GRPCServer(endpoints.order_history, decode_history, history_to_pb,
                                   method=method("GetOrderEvents"), tracer=tracer, auth=auth)

    def CreateOrder(self, request: pb.CreateOrderRequest,  # noqa: N802 (generated name)
                    context: grpc.ServicerContext) -> pb.Order:
        """Place an order."""
        return self._create(request, context)

    def GetOrder(self, request: pb.GetOrderRequest,  # noqa: N802 (generated name)
                 context: grpc.ServicerContext) -> pb.Order:
        """Read an order."""
        return self._get(request, context)

    def ListOrders(self, request: pb.ListOrdersRequest,  # noqa: N802 (generated name)
                   context: grpc.ServicerContext) -> pb.ListOrdersResponse:
        """List orders."""
        return self._list(request, context)

    def CancelOrder(self, request: pb.CancelOrderRequest,  # noqa: N802 (generated name)
                    context: grpc.ServicerContext) -> pb.Order:
        """Cancel an order."""
        return self._cancel(request, context)

    def GetOrderEvents(self, request: pb.GetOrderEventsRequest,  # noqa: N802 (generated name)
                       context: grpc.ServicerContext) -> pb.GetOrderEventsResponse:
        """Read an order's history."""
        return self._history(request, context)


def register(servicer: OrderServiceServicer) -> Callable[[grpc.Server], None]:
    """A ``kit.grpc`` registration adding ``servicer`` to a server."""

    def add(server: grpc.Server) -> None:
        pb_grpc.add_OrderServiceServicer_to_server(servicer, server)

    return add
