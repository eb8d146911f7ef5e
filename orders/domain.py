"""The order domain's vocabulary: statuses, items, limits and the invariants of a new order.

Plain Python: nothing here knows about Flask, gRPC, SQL or the event store. The aggregate that these
values make up lives in ``aggregate``; the events that change it in ``events``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from kit.errors import FieldViolation, InvalidArgument
from orders import money

MAX_ITEMS = 100
MAX_QUANTITY = 1000
MAX_ID_LENGTH = 64
MAX_CODE_LENGTH = 64
MAX_NAME_LENGTH = 200
MAX_REASON_LENGTH = 500

# Order ids are also event-store aggregate ids and NATS header values: printable, no spaces.
_ORDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class OrderStatus(enum.Enum):
    """Where an order is in its life; the values are the Go original's status strings."""

    PENDING = "Pending"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    CANCELLED = "Cancelled"


class PaymentStatus(enum.Enum):
    """What happened to the order's payment so far."""

    NONE = "none"
    DEBITED = "debited"
    FAILED = "failed"
    REFUNDED = "refunded"


@dataclass(frozen=True)
class OrderItem:
    """One line of an order: a product, its unit price (exact) and how many."""

    code: str
    name: str
    unit_price: Decimal
    quantity: int

    @property
    def line_total(self) -> Decimal:
        """``unit_price x quantity``, exact."""
        return money.line_total(self.unit_price, self.quantity)


def is_order_id(value: str) -> bool:
    """Whether ``value`` could be an order id (a malformed one names no order)."""
    return _ORDER_ID.fullmatch(value) is not None


def check_text(field: str, value: str, max_length: int, problems: list[FieldViolation],
               *, required: bool = True) -> None:
    """Append a violation if ``value`` is blank (when required), too long or has control characters."""
    if not value.strip():
        if required:
            problems.append(FieldViolation(field, "must not be empty"))
        elif value:
            problems.append(FieldViolation(field, "must not be blank"))
        return
    if len(value) > max_length:
        problems.append(FieldViolation(field, f"must be at most {max_length} characters"))
    elif _CONTROL.search(value):
        problems.append(FieldViolation(field, "must not contain control characters"))


def check_item(index: int, item: OrderItem, problems: list[FieldViolation]) -> None:
    """Append the violations of one order line, with field paths ``order_items.<index>.<field>``."""
    prefix = f"order_items.{index}"
    check_text(f"{prefix}.code", item.code, MAX_CODE_LENGTH, problems)
    check_text(f"{prefix}.name", item.name, MAX_NAME_LENGTH, problems)
    why = money.check_unit_price(item.unit_price)
    if why is not None:
        problems.append(FieldViolation(f"{prefix}.unit_price", why))
    if isinstance(item.quantity, bool) or not isinstance(item.quantity, int):
        problems.append(FieldViolation(f"{prefix}.quantity", "must be an integer"))
    elif not 1 <= item.quantity <= MAX_QUANTITY:
        problems.append(FieldViolation(f"{prefix}.quantity", f"must be between 1 and {MAX_QUANTITY}"))


def check_new_order(customer_id: str, restaurant_id: str, items: Sequence[OrderItem]) -> None:
    """Raise ``InvalidArgument`` naming every field at fault unless a new order is acceptable."""
    problems: list[FieldViolation] = []
    check_text("customer_id", customer_id, MAX_ID_LENGTH, problems)
    check_text("restaurant_id", restaurant_id, MAX_ID_LENGTH, problems)
    if not items:
        problems.append(FieldViolation("order_items", "must contain at least one item"))
    elif len(items) > MAX_ITEMS:
        problems.append(FieldViolation("order_items", f"must contain at most {MAX_ITEMS} items"))
    else:
        check_items(items, problems)
    if problems:
        raise InvalidArgument(fields=problems)


def check_items(items: Sequence[OrderItem], problems: list[FieldViolation]) -> None:
    """Append the violations of an order's lines: each line, a product listed twice, and a total of
    nothing (a free line is fine beside a paid one, but an order of 0.00 is no sale to pay for)."""
    before = len(problems)
    first_line: dict[str, int] = {}
    for index, item in enumerate(items):
        check_item(index, item, problems)
        if not item.code.strip():
            continue
        first = first_line.setdefault(item.code, index)
        if first != index:
            # One line per product: two lines of one code would be summed, replaced or shown twice
            # depending on who reads them; the client means one line with the summed quantity.
            problems.append(FieldViolation(f"order_items.{index}.code",
                                           f"duplicates order_items.{first}.code"))
    if len(problems) == before and money.total((i.unit_price, i.quantity) for i in items) <= 0:
        problems.append(FieldViolation("order_items", f"must add up to more than {money.ZERO}"))


def check_reason(reason: str) -> None:
    """Raise ``InvalidArgument`` unless ``reason`` (optional free text) is acceptable."""
    problems: list[FieldViolation] = []
    check_text("reason", reason, MAX_REASON_LENGTH, problems, required=False)
    if problems:
        raise InvalidArgument(fields=problems)
