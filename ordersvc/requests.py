"""Schemas that validate wire input (JSON bodies, query strings, protobuf fields) into requests.

Types and shape are checked here, with pydantic: missing, unknown (``extra="forbid"``) and
wrongly-typed fields are ``InvalidArgument`` naming each field (``order_items.0.quantity``). Ranges
and lengths are the domain's rules (``domain.check_new_order``), checked by the service before
anything is written. Money arrives as a JSON number or decimal text and is never a float: JSON
bodies are parsed with ``jsontext.loads``, which reads numbers as ``Decimal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pydantic
from pydantic import StrictInt, StrictStr

from kit import codec
from kit.errors import FieldViolation, InvalidArgument
from orders import jsontext
from orders.domain import OrderItem, OrderStatus
from orders.ports import OrderQuery
from ordersvc.service import CreateOrder


@pydantic.with_config(extra="forbid")
@dataclass(frozen=True)
class OrderItemInput:
    """An order line as sent by a client."""

    code: StrictStr
    name: StrictStr
    unit_price: Decimal
    quantity: StrictInt


@pydantic.with_config(extra="forbid")
@dataclass(frozen=True)
class CreateOrderInput:
    """The body of a create request; ``amount``, ``status`` and ids are the server's to decide."""

    customer_id: StrictStr
    restaurant_id: StrictStr
    order_items: list[OrderItemInput]

    def command(self, idempotency_key: str | None = None) -> CreateOrder:
        """The service command this input asks for."""
        return CreateOrder(
            customer_id=self.customer_id, restaurant_id=self.restaurant_id,
            items=tuple(OrderItem(i.code, i.name, i.unit_price, i.quantity) for i in self.order_items),
            idempotency_key=idempotency_key,
        )


@pydantic.with_config(extra="forbid")
@dataclass(frozen=True)
class ListOrdersInput:
    """The query of a list request."""

    customer_id: StrictStr | None = None
    status: OrderStatus | None = None
    limit: int = 20
    cursor: StrictStr | None = None

    def query(self) -> OrderQuery:
        """The read-model query this input asks for."""
        return OrderQuery(customer_id=self.customer_id, status=self.status, limit=self.limit,
                          cursor=self.cursor)


def parse_create_order(raw: bytes, idempotency_key: str | None = None) -> CreateOrder:
    """Validate a JSON create body (bytes) into the command; ``InvalidArgument`` names the fields."""
    try:
        data: Any = jsontext.loads(raw)
    except ValueError:
        raise InvalidArgument("body is not valid JSON",
                              fields=[FieldViolation("body", "not valid JSON")]) from None
    return codec.decode(CreateOrderInput, data).command(idempotency_key)
