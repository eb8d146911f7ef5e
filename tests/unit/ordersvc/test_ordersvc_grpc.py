"""The gRPC transport in-process over a mocked service: messages, validation and status codes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from unittest.mock import create_autospec

import grpc
import pytest

from contracts import ordersvc_pb2 as pb
from contracts import ordersvc_pb2_grpc as pb_grpc
from kit.errors import FailedPrecondition, NotFound, Unavailable
from kit.testing.grpc import serve_grpc
from orders.aggregate import Order
from orders.domain import OrderItem, OrderStatus
from orders.ports import OrderPage, OrderQuery, RecordedEvent
from ordersvc.endpoints import make_endpoints
from ordersvc.grpc import OrderServiceServicer, register
from ordersvc.service import CreateOrder, OrderService

ORDER = Order(order_id="o-1", customer_id="cust-1", restaurant_id="rest-1",
              created_on=datetime(2024, 5, 1, 12, tzinfo=UTC), amount=Decimal("37.50"),
              items=(OrderItem("p-1", "Pizza", Decimal("12.50"), 3),))


@pytest.fixture
def service() -> OrderService:
    mock: OrderService = create_autospec(OrderService, instance=True)
    return mock


@pytest.fixture
def stub(service: OrderService) -> Iterator[pb_grpc.OrderServiceStub]:
    with serve_grpc(register(OrderServiceServicer(make_endpoints(service)))) as target, \
            grpc.insecure_channel(target) as channel:
        yield pb_grpc.OrderServiceStub(channel)


def test_create_order_round_trip(stub: pb_grpc.OrderServiceStub, service: OrderService) -> None:
    service.create_order.return_value = ORDER  # type: ignore[attr-defined]
    reply = stub.CreateOrder(pb.CreateOrderRequest(
        customer_id="cust-1", restaurant_id="rest-1", idempotency_key="k-1",
        order_items=[pb.OrderItem(code="p-1", name="Pizza", unit_price="12.5", quantity=3)]))
    assert (reply.order_id, reply.status, reply.amount) == ("o-1", "Pending", "37.50")
    assert reply.order_items[0].unit_price == "12.50"
    assert reply.created_on.ToDatetime(tzinfo=UTC) == ORDER.created_on
    service.create_order.assert_called_once_with(CreateOrder(  # type: ignore[attr-defined]
        "cust-1", "rest-1", (OrderItem("p-1", "Pizza", Decimal("12.5"), 3),), "k-1"))


def test_a_bad_price_is_invalid_argument_naming_the_field(stub: pb_grpc.OrderServiceStub,
                                                          service: OrderService) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stub.CreateOrder(pb.CreateOrderRequest(customer_id="c", restaurant_id="r", order_items=[
            pb.OrderItem(code="p", name="P", unit_price="twelve", quantity=1)]))
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "order_items.0.unit_price" in (raised.value.details() or "")
    service.create_order.assert_not_called()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("error", "code"), [
    (NotFound("order o-1 not found"), grpc.StatusCode.NOT_FOUND),
    (FailedPrecondition("order o-1 is Approved"), grpc.StatusCode.FAILED_PRECONDITION),
    (Unavailable("the event store is unavailable"), grpc.StatusCode.UNAVAILABLE),
])
def test_service_errors_become_status_codes(stub: pb_grpc.OrderServiceStub, service: OrderService,
                                            error: Exception, code: grpc.StatusCode) -> None:
    service.cancel_order.side_effect = error  # type: ignore[attr-defined]
    with pytest.raises(grpc.RpcError) as raised:
        stub.CancelOrder(pb.CancelOrderRequest(order_id="o-1", reason="late"))
    assert raised.value.code() is code
    service.cancel_order.assert_called_once_with("o-1", "late")  # type: ignore[attr-defined]


def test_get_and_list(stub: pb_grpc.OrderServiceStub, service: OrderService) -> None:
    service.get_order.return_value = ORDER  # type: ignore[attr-defined]
    service.list_orders.return_value = OrderPage([ORDER], None)  # type: ignore[attr-defined]
    assert stub.GetOrder(pb.GetOrderRequest(order_id="o-1")).customer_id == "cust-1"
    page = stub.ListOrders(pb.ListOrdersRequest(customer_id="cust-1", status="Pending"))
    assert [o.order_id for o in page.orders] == ["o-1"] and page.next_cursor == ""
    service.list_orders.assert_called_once_with(  # type: ignore[attr-defined]
        OrderQuery(customer_id="cust-1", status=OrderStatus.PENDING, limit=20, cursor=None))
    with pytest.raises(grpc.RpcError) as raised:
        stub.ListOrders(pb.ListOrdersRequest(status="Shipped"))
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_order_events(stub: pb_grpc.OrderServiceStub, service: OrderService) -> None:
    service.order_history.return_value = [RecordedEvent(  # type: ignore[attr-defined]
        event_id="e-1", event_type="ORDERS.created", aggregate_id="o-1", event_data='{"order_id":"o-1"}',
        version=1, position=4, created_at=datetime(2024, 5, 1, tzinfo=UTC))]
    reply = stub.GetOrderEvents(pb.GetOrderEventsRequest(order_id="o-1"))
    assert [(e.event_type, e.version, e.position) for e in reply.events] == [("ORDERS.created", 1, 4)]
    assert reply.events[0].event_data == '{"order_id":"o-1"}'
